//! The `gitops-bridge` command line: parse, set up logging, call into the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "gitops-bridge", version, about)]
struct Cli {
    #[command(subcommand)]
    verb: Verb,
}

#[derive(Debug, Subcommand)]
enum Verb {
    /// Validate a Home Assistant configuration directory.
    Check(gitops_bridge::validate::CheckArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.verb {
        Verb::Check(args) => gitops_bridge::validate::run(&args),
    }
}
