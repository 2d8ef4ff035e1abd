//! The fuzz target's body, shared by the cargo-fuzz target
//! (`fuzz_targets/validate.rs`) and the stable-Rust run of the same body in
//! the main crate's tests (`tests/fuzz_validate.rs`, which includes this
//! file by path). It depends on nothing the main crate's tests lack.

use jumpgate::lang::{Sources, validate};
use jumpgate::live::LiveState;
use jumpgate::render::{Format, Style};

/// Separates files in one fuzz input (ASCII record separator).
pub const FILE_SEPARATOR: u8 = 0x1e;

/// Feeds `data` to the validator as `Sources::load` would (up to four files,
/// split at `FILE_SEPARATOR`; bytes that are not UTF-8 become a problem),
/// renders the report, and for a valid state plans it against an empty
/// estate and renders the plan. Must never panic, whatever `data` is.
pub fn validate_bytes(data: &[u8]) {
    let mut sources = Sources::default();
    let mut problems = Vec::new();
    for (index, chunk) in data.split(|b| *b == FILE_SEPARATOR).take(4).enumerate() {
        let name = format!("state/fuzz-{index}.kdl");
        problems.extend(sources.push_bytes(name, chunk.to_vec()));
    }
    match validate(sources, problems) {
        Ok(state) => {
            let plan = jumpgate::plan::build(&state, &LiveState::default());
            let text = jumpgate::render::render(&plan, Format::Text, Style::default());
            let json = jumpgate::render::render(&plan, Format::Json, Style::default());
            assert!(!text.is_empty() && !json.is_empty());
        }
        Err(invalid) => {
            let report = invalid.render(false);
            assert!(!report.is_empty(), "an invalid state has a report");
        }
    }
}
