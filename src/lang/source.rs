//! Reading the desired-state files: one `.kdl` file, or every `*.kdl` file of
//! a directory, sorted by name so that results never depend on the file system.

use std::path::{Path, PathBuf};

use miette::SourceSpan;

use super::diagnostic::{Location, Problem};

#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as the user will recognise it in messages.
    pub name: String,
    pub text: String,
}

/// Every file of one run; problems refer to files by index.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub files: Vec<SourceFile>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} contains no .kdl file")]
    Empty(PathBuf),
}

impl Sources {
    /// Reads `path`; files that are not valid UTF-8 become problems rather
    /// than errors so they are reported with the rest.
    pub fn load(path: &Path) -> Result<(Sources, Vec<Problem>), LoadError> {
        let io = |source| LoadError::Io {
            path: path.to_owned(),
            source,
        };
        let paths = if path.is_dir() {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(io)?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|ext| ext == "kdl"))
                .collect();
            paths.sort();
            if paths.is_empty() {
                return Err(LoadError::Empty(path.to_owned()));
            }
            paths
        } else {
            vec![path.to_owned()]
        };
        let mut sources = Sources::default();
        let mut problems = Vec::new();
        for file_path in paths {
            let bytes = std::fs::read(&file_path).map_err(|source| LoadError::Io {
                path: file_path.clone(),
                source,
            })?;
            let name = file_path.display().to_string();
            problems.extend(sources.push_bytes(name, bytes));
        }
        Ok((sources, problems))
    }

    /// Adds a file read as bytes, as `load` does (the fuzz target feeds its
    /// input through here too). Bytes that are not UTF-8 are kept, lossily,
    /// so the file is still there for the returned problem to point into.
    pub fn push_bytes(&mut self, name: impl Into<String>, bytes: Vec<u8>) -> Option<Problem> {
        match String::from_utf8(bytes) {
            Ok(text) => {
                self.push(name, text);
                None
            }
            Err(err) => {
                let valid_up_to = err.utf8_error().valid_up_to();
                let text = String::from_utf8_lossy(err.as_bytes()).into_owned();
                let file = self.push(name, text);
                Some(Problem::new(
                    "invalid-utf8",
                    Location::new(file, SourceSpan::from((valid_up_to, 1))),
                    "the file is not valid UTF-8",
                    "invalid byte here",
                ))
            }
        }
    }

    /// Adds a file, returning its index.
    /// A digest of every file's base name and text, in order: what binds a
    /// saved plan to the files it was made from (wherever they are checked out).
    pub fn digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        for file in &self.files {
            let name = Path::new(&file.name)
                .file_name()
                .map_or(file.name.clone(), |n| n.to_string_lossy().into_owned());
            for part in [name.as_bytes(), file.text.as_bytes()] {
                hasher.update((part.len() as u64).to_be_bytes());
                hasher.update(part);
            }
        }
        hex::encode(hasher.finalize())
    }

    pub fn push(&mut self, name: impl Into<String>, text: impl Into<String>) -> usize {
        self.files.push(SourceFile {
            name: name.into(),
            text: text.into(),
        });
        self.files.len() - 1
    }

    /// The 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, file: usize, offset: usize) -> (usize, usize) {
        let text = &self.files[file].text;
        let offset = offset.min(text.len());
        let before = &text[..floor_char_boundary(text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}
