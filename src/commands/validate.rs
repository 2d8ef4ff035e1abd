//! `validate`: parse and check, no AWS call; problems as text, or as
//! annotations for GitHub and GitLab.

use std::path::Path;
use std::process::ExitCode;

use jumpgate::lang::{self, LoadStateError, ProblemFormat};
use jumpgate::model::derive::managed_groups;

use super::{Failure, stderr_color};

pub fn validate(path: &Path, format: ProblemFormat) -> Result<ExitCode, Failure> {
    let invalid = match lang::load(path) {
        Ok(state) => {
            if format == ProblemFormat::Gitlab {
                // An empty report: the pipeline's artifact always exists.
                println!("[]");
            }
            let summary = format!(
                "{} is valid: {} accounts, {} projects, {} users, {} groups",
                path.display(),
                state.accounts.len() + 1,
                state.projects.len(),
                state.users.len(),
                managed_groups(&state).len()
            );
            match format {
                ProblemFormat::Gitlab => eprintln!("{summary}"),
                _ => println!("{summary}"),
            }
            return Ok(ExitCode::SUCCESS);
        }
        Err(LoadStateError::Invalid(invalid)) => invalid,
        Err(other) => return Err(other.into()),
    };
    match format {
        ProblemFormat::Text => {}
        ProblemFormat::Github => print!("{}", invalid.render_github()),
        ProblemFormat::Gitlab => print!("{}", invalid.render_gitlab()),
    }
    // The readable report always goes to the log.
    Err(Failure(format!(
        "the desired state is invalid:\n\n{}",
        invalid.render(stderr_color())
    )))
}
