//! Validation of Home Assistant configuration directories (`gitops-bridge check`).

use std::process::ExitCode;

pub mod codes;
pub mod diagnostic;
pub mod source;
pub mod yaml;

/// Arguments of `gitops-bridge check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The Home Assistant configuration directory (the one holding `configuration.yaml`).
    #[arg(default_value = ".")]
    pub dir: std::path::PathBuf,
}

/// Runs `check` and returns the process exit code (0 clean, 1 findings, 2 usage or I/O error).
pub fn run(args: &CheckArgs) -> ExitCode {
    eprintln!("check {}: not available yet", args.dir.display());
    ExitCode::from(2)
}
