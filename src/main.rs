use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use jumpgate::lang::{self, LoadStateError};
use jumpgate::model::derive::managed_groups;

#[derive(Parser)]
#[command(
    name = "jumpgate",
    version,
    about = "Keep the IAM of a multi-account AWS estate in Git"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and check the desired state; no AWS call.
    Validate {
        /// A .kdl file or a directory of them.
        #[arg(default_value = "state")]
        path: PathBuf,
    },
}

fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Validate { path } => match lang::load(&path) {
            Ok(state) => {
                let groups = managed_groups(&state).len();
                println!(
                    "{} is valid: {} accounts, {} projects, {} users, {} groups",
                    path.display(),
                    state.accounts.len() + 1,
                    state.projects.len(),
                    state.users.len(),
                    groups
                );
                ExitCode::SUCCESS
            }
            Err(LoadStateError::Invalid(invalid)) => {
                eprint!("{}", invalid.render(color_enabled()));
                ExitCode::from(1)
            }
            Err(err) => {
                eprintln!("error: {err}");
                ExitCode::from(1)
            }
        },
    }
}
