//! The `claimwatch` binary: parse the command line, hand over to [`claimwatch::cli::run`], exit
//! with its code. Everything else lives in the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = claimwatch::cli::Cli::parse();
    claimwatch::cli::run(cli)
}
