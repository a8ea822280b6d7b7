//! `kubeskippy lsp`: the language server, over stdin and stdout, for editors.

use super::{safety_config, FAILURE, PROBLEMS, SUCCESS};
use crate::ide::Ide;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
#[command(
    after_help = "Editors start this themselves (the VS Code extension runs
`kubeskippy lsp`); it speaks the Language Server Protocol on stdin and stdout
and logs to stderr. It serves `.skippy` files and the `spec.policy` of
HealingPolicy manifests in YAML files."
)]
pub struct LspArgs {
    /// A safety configuration (YAML) overriding the built-in defaults, as for `check`
    #[arg(long)]
    pub safety: Option<PathBuf>,
}

pub fn run(args: &LspArgs, err: &mut dyn Write) -> u8 {
    let config = match safety_config(args.safety.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return FAILURE;
        }
    };
    let ide = Ide { config };
    let server = kubeskippy_lsp::Config {
        name: "kubeskippy".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    };
    match kubeskippy_lsp::run_stdio(&ide, server) {
        Ok(()) => SUCCESS,
        // `exit` (or the end of stdin) without `shutdown`: 1, as the protocol asks.
        Err(e) if e.is::<kubeskippy_lsp::EndedWithoutShutdown>() => {
            let _ = writeln!(err, "error: {e}");
            PROBLEMS
        }
        Err(e) => {
            let _ = writeln!(err, "error: the language server stopped: {e}");
            FAILURE
        }
    }
}
