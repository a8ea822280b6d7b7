//! `kubeskippy crds`: the CustomResourceDefinitions, generated from the
//! operator's types, for `kubectl apply -f -` or the `crds/` folder.

use super::{CliError, SUCCESS};
use crate::operator::crd;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  kubeskippy crds | kubectl apply -f -      install or update the CRDs
  kubeskippy crds --out crds/               write one file per CRD")]
pub struct CrdsArgs {
    /// Write one YAML file per CRD into this folder instead of printing them
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

pub fn run(args: &CrdsArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    super::exit_status(write(args, out), err)
}

fn write(args: &CrdsArgs, out: &mut dyn Write) -> Result<u8, CliError> {
    let manifests = crd::manifests();
    let Some(dir) = &args.out else {
        for (_, yaml) in &manifests {
            let _ = out.write_all(yaml.as_bytes());
        }
        return Ok(SUCCESS);
    };
    let failed = |path: PathBuf| move |source| CliError::Write { path, source };
    std::fs::create_dir_all(dir).map_err(failed(dir.clone()))?;
    for (file, yaml) in &manifests {
        let path = dir.join(file);
        std::fs::write(&path, yaml).map_err(failed(path.clone()))?;
        let _ = writeln!(out, "wrote {}", path.display());
    }
    Ok(SUCCESS)
}
