//! The figures the reliability suites measure: printed (seen with
//! `--nocapture`) and kept in a file under `target/tmp/`.

use std::io::Write;
use std::path::PathBuf;

fn path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(file)
}

/// Prints a figure line and appends it to `target/tmp/FILE`.
pub fn figure(file: &str, text: &str) {
    println!("{text}");
    if let Ok(mut out) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path(file))
    {
        let _ = writeln!(out, "{text}");
    }
}

/// Empties `target/tmp/FILE`, for a suite whose file holds one run's figures.
pub fn start(file: &str) {
    let _ = std::fs::write(path(file), "");
}
