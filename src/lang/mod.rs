//! The desired-state language: KDL files in, validated `DesiredState` out,
//! or every problem found, each with its place in a file.

mod build;
mod diagnostic;
pub mod fmt;
mod limits;
mod reader;
mod source;
mod suggest;
mod syntax;

use std::path::Path;
use std::sync::Arc;

pub use diagnostic::{Invalid, Location, Problem, ProblemFormat};
pub use source::{LoadError, SourceFile, Sources};
pub use suggest::did_you_mean;

use crate::model::desired::DesiredState;

#[derive(Debug, thiserror::Error)]
pub enum LoadStateError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{0}")]
    Invalid(#[from] Invalid),
}

/// Reads and validates the file or directory at `path`.
pub fn load(path: &Path) -> Result<DesiredState, LoadStateError> {
    let (sources, problems) = Sources::load(path)?;
    Ok(validate(sources, problems)?)
}

/// Validates already-read sources; `problems` are those found while reading.
pub fn validate(sources: Sources, mut problems: Vec<Problem>) -> Result<DesiredState, Invalid> {
    // A file that is not UTF-8 was read lossily; parsing it would only
    // report the replacement characters again.
    let texts: Vec<Option<&str>> = sources
        .files
        .iter()
        .enumerate()
        .map(|(index, file)| {
            let unreadable = problems
                .iter()
                .any(|p| p.at.file == index && p.code == "invalid-utf8");
            (!unreadable).then_some(file.text.as_str())
        })
        .collect();
    let mut documents = Vec::new();
    for (index, parsed) in syntax::parse_all(&texts).into_iter().enumerate() {
        match parsed {
            Ok(document) => documents.push((index, document)),
            Err(found) => problems.extend(found),
        }
    }
    let syntax_ok = problems.is_empty();
    let (state, more) = build::build(&sources, &documents, syntax_ok);
    problems.extend(more);
    match state {
        // A file with a syntax error was not read at all, so a state built
        // from the others would be missing it.
        Some(state) if syntax_ok && problems.is_empty() => Ok(state),
        _ => Err(Invalid::new(problems, Arc::new(sources))),
    }
}
