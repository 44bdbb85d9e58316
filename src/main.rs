//! The `claimwatch` binary: parse the command line, hand over to [`claimwatch::cmd::run`], exit
//! with its code. Everything else lives in the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = claimwatch::cmd::Cli::parse();
    claimwatch::cmd::run(cli)
}
