//! `kubeskippy explain`: the compiled IR of a file in readable form.

use super::{read, safety_config, FAILURE, PROBLEMS, SUCCESS};
use crate::check::compile;
use crate::diagnostic::render;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Example:
  kubeskippy explain policies/memory-leak.skippy

Shows, for each policy: what it selects, its mode, limit, cooldown and
worst-case disruption budget; for each rule: the typed condition with values
in their units, how long it must hold, the action, what it acts on and its
safety class; and for each metric: its unit, its source and the PromQL it
runs. A file with errors is not explained: its diagnostics are shown instead.")]
pub struct ExplainArgs {
    /// The policy file to explain
    pub file: PathBuf,
    /// A safety configuration (YAML) overriding the built-in defaults
    #[arg(long, value_name = "FILE")]
    pub safety: Option<PathBuf>,
    /// Print the IR as JSON instead of text
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &ExplainArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let (source, config) =
        match read(&args.file).and_then(|s| Ok((s, safety_config(args.safety.as_deref())?))) {
            Ok(loaded) => loaded,
            Err(e) => {
                let _ = writeln!(err, "error: {e}");
                return FAILURE;
            }
        };
    let compiled = compile(&source, &config);
    if compiled.has_errors() {
        let name = args.file.display().to_string();
        let _ = err.write_all(render(&compiled.diagnostics, &name, &source, false).as_bytes());
        let _ = writeln!(
            err,
            "error: {name} has errors; fix them to see its explanation"
        );
        return PROBLEMS;
    }
    let text = if args.json {
        match serde_json::to_string_pretty(&compiled.program) {
            Ok(json) => json + "\n",
            Err(e) => {
                let _ = writeln!(err, "error: {e}");
                return FAILURE;
            }
        }
    } else {
        crate::explain::explain(&compiled.program, &config)
    };
    match out.write_all(text.as_bytes()) {
        Ok(()) => SUCCESS,
        Err(_) => FAILURE,
    }
}
