//! `completions` and `man`: generated from the command definition itself,
//! so they never fall behind the flags.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use clap_complete::Shell;

use super::Failure;

pub fn completions(mut command: clap::Command, shell: Shell) -> Result<ExitCode, Failure> {
    let name = command.get_name().to_owned();
    clap_complete::generate(shell, &mut command, name, &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

/// The man page on stdout, or with `out` one page per command in that directory.
pub fn man(command: clap::Command, out: Option<&Path>) -> Result<ExitCode, Failure> {
    match out {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            clap_mangen::generate_to(command, dir)
                .map_err(|e| format!("cannot write the man pages to {}: {e}", dir.display()))?;
            eprintln!("Wrote the man pages to {}.", dir.display());
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command).render(&mut page)?;
            std::io::stdout().write_all(&page)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
