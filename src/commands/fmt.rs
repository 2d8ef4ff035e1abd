//! `fmt`: rewrites the KDL files in their canonical layout, or with
//! `--check` lists those that are not, for CI.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use jumpgate::lang::{self, Invalid, Sources};

use super::Failure;

pub fn fmt(path: &Path, check: bool) -> Result<ExitCode, Failure> {
    let (sources, mut problems) = Sources::load(path)?;
    let mut changed = Vec::new();
    for (index, file) in sources.files.iter().enumerate() {
        if problems.iter().any(|p| p.at.file == index) {
            continue;
        }
        match lang::fmt::format(index, &file.text) {
            Ok(formatted) if formatted != file.text => changed.push((index, formatted)),
            Ok(_) => {}
            Err(found) => problems.extend(found),
        }
    }
    if !problems.is_empty() {
        let invalid = Invalid::new(problems, Arc::new(sources));
        return Err(Failure(format!(
            "cannot format files that do not parse:\n\n{}",
            invalid.render(super::stderr_color())
        )));
    }
    for (index, formatted) in &changed {
        let name = &sources.files[*index].name;
        if !check {
            std::fs::write(name, formatted).map_err(|e| format!("cannot write {name}: {e}"))?;
        }
        println!("{name}");
    }
    if check && !changed.is_empty() {
        eprintln!(
            "\n{} file{} not in canonical format; run `jumpgate fmt {}`.",
            changed.len(),
            if changed.len() == 1 { " is" } else { "s are" },
            path.display()
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
