//! The commands behind the command line: each takes its parsed arguments,
//! does its I/O, and returns an exit code or a `Failure` for `main` to print.

pub mod accounts;
pub mod apply;
pub mod import;
pub mod inspect;
pub mod profiles;

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use jumpgate::lang::{self, LoadStateError, Sources};
use jumpgate::model::desired::DesiredState;

/// A failed command: what to tell the user.
#[derive(Debug)]
pub struct Failure(pub String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(err: E) -> Self {
        Failure(err.to_string())
    }
}

pub(crate) fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

pub(crate) fn load(path: &Path) -> Result<DesiredState, Failure> {
    load_with_digest(path).map(|(desired, _)| desired)
}

/// The desired state and the digest of the files it was read from, which
/// binds a saved plan to them.
pub(crate) fn load_with_digest(path: &Path) -> Result<(DesiredState, String), Failure> {
    let loaded =
        Sources::load(path)
            .map_err(LoadStateError::from)
            .and_then(|(sources, problems)| {
                let digest = sources.digest();
                Ok((lang::validate(sources, problems)?, digest))
            });
    loaded.map_err(|err| match err {
        LoadStateError::Invalid(invalid) => {
            let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stderr().is_terminal();
            Failure(format!(
                "the desired state is invalid:\n\n{}",
                invalid.render(color)
            ))
        }
        other => Failure(other.to_string()),
    })
}

/// Asks on the terminal; anything but "yes" is a no.
pub(crate) fn confirm(question: &str) -> Result<bool, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure(
            "refusing to go on without confirmation: not on a terminal; pass --yes".into(),
        ));
    }
    eprint!("{question} Only 'yes' is accepted: ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}
