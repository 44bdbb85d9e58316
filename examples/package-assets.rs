//! Writes the man page and the shell completions of the `claimwatch` command line into a
//! directory (default `target/package-assets`), generated from the clap definition so they never
//! drift from it: `claimwatch.1` (clap_mangen) and `claimwatch.bash`, `_claimwatch`,
//! `claimwatch.fish` (clap_complete). `cargo deb` packs them (see `[package.metadata.deb]`);
//! `.ci/run` runs this first.
//!
//! `cargo run --example package-assets [DIR]`

use std::path::PathBuf;

use clap::CommandFactory;
use clap_complete::Shell;

fn main() -> std::io::Result<()> {
    let dir =
        std::env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("target/package-assets"));
    std::fs::create_dir_all(&dir)?;
    let command = claimwatch::cmd::Cli::command();
    let mut page = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut page)?;
    std::fs::write(dir.join("claimwatch.1"), page)?;
    for (shell, file) in
        [(Shell::Bash, "claimwatch.bash"), (Shell::Zsh, "_claimwatch"), (Shell::Fish, "claimwatch.fish")]
    {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut command.clone(), "claimwatch", &mut out);
        std::fs::write(dir.join(file), out)?;
    }
    println!("{}", dir.display());
    Ok(())
}
