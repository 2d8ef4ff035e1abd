//! From text to a KDL document: the guards of `limits`, then the parser, its
//! diagnostics turned into problems with hints for KDL v1 habits.

use kdl::{KdlDiagnostic, KdlDocument};
use miette::SourceSpan;

use super::diagnostic::{Location, Problem};
use super::limits;

/// The stack given to the parser's thread: the parser recurses, and the
/// guards keep its depth far below what this holds.
const PARSER_STACK: usize = 64 * 1024 * 1024;

/// Parses every text on one thread with a large stack; `None` marks a text
/// that must not be parsed (it was not valid UTF-8).
pub fn parse_all(texts: &[Option<&str>]) -> Vec<Result<KdlDocument, Vec<Problem>>> {
    let work = || {
        texts
            .iter()
            .enumerate()
            .map(|(file, text)| match text {
                Some(text) => parse(file, text),
                None => Err(Vec::new()),
            })
            .collect()
    };
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("kdl-parser".to_owned())
            .stack_size(PARSER_STACK)
            .spawn_scoped(scope, work)
            .ok()
            .map(|handle| handle.join())
    })
    .map(|joined| joined.unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    // No thread could be started: parse here, still behind the guards.
    .unwrap_or_else(work)
}

/// Files larger than this are refused before parsing: the KDL parser takes
/// about a second per few megabytes, and an estate of 10,000 users and 1,000
/// accounts is about 1 MiB.
pub const MAX_FILE_BYTES: usize = 8 * 1024 * 1024;

/// Parses one file; its problems when it is not valid KDL.
pub fn parse(file: usize, text: &str) -> Result<KdlDocument, Vec<Problem>> {
    if text.len() > MAX_FILE_BYTES {
        let problem = Problem::new(
            "file-too-large",
            Location::new(file, (0, 0).into()),
            format!(
                "the file is {:.1} MiB; jumpgate reads files of up to {} MiB",
                text.len() as f64 / (1024.0 * 1024.0),
                MAX_FILE_BYTES / (1024 * 1024)
            ),
            "in this file",
        )
        .with_help("split the desired state across several .kdl files in one directory");
        return Err(vec![problem]);
    }
    if let Some(problem) = limits::check(file, text) {
        return Err(vec![problem]);
    }
    text.parse::<KdlDocument>().map_err(|err| {
        let mut problems: Vec<Problem> = Vec::new();
        for d in &err.diagnostics {
            if is_echo(d, &err.diagnostics) {
                continue;
            }
            problems.push(problem(file, text, d));
        }
        problems
    })
}

/// The parser reports an unclosed child block twice: at its `{` and over
/// the nodes after it. The second adds nothing.
fn is_echo(d: &KdlDiagnostic, all: &[KdlDiagnostic]) -> bool {
    d.message.as_deref() == Some("Closing '}' was not found after nodes")
        && all.iter().any(|other| {
            other.message.as_deref() == Some("No closing '}' for child block")
                && other.span.offset() + other.span.len() == d.span.offset()
        })
}

fn problem(file: usize, text: &str, d: &KdlDiagnostic) -> Problem {
    let message = d
        .message
        .clone()
        .unwrap_or_else(|| "invalid KDL".to_owned());
    let mut span = d.span;
    // Some errors span the whole document up to where parsing stopped; the
    // place to look at is the end.
    if span.offset() == 0 && text[..span.len().min(text.len())].contains('\n') {
        let end = span.len().min(text.len());
        let start = text[..end]
            .trim_end()
            .char_indices()
            .last()
            .map_or(0, |(i, _)| i);
        span = SourceSpan::from((start, end.saturating_sub(start).max(1)));
    }
    match v1_syntax(text, span.offset()) {
        Some((what, help)) => Problem::new(
            "syntax",
            Location::new(file, span),
            format!("syntax error: {what} is KDL v1; jumpgate reads KDL v2"),
            "KDL v1",
        )
        .with_help(help),
        None => {
            let mut problem = Problem::new(
                "syntax",
                Location::new(file, span),
                format!("syntax error: {message}"),
                d.label.clone().unwrap_or_else(|| "here".to_owned()),
            );
            problem.help = control_character(text, span.offset()).or_else(|| d.help.clone());
            problem
        }
    }
}

/// A hint when a character KDL forbids in a file (a control character, a
/// bidirectional override) is where the error is or later on its line.
fn control_character(text: &str, offset: usize) -> Option<String> {
    let rest = text.get(offset..)?;
    let line = rest.split('\n').next().unwrap_or_default();
    let bad = line.chars().find(|c| {
        (c.is_control() && !matches!(c, '\t' | '\r'))
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    })?;
    Some(format!(
        "the line contains the character U+{:04X}, which KDL does not allow in a file; \
         remove it, or write it as the escape \\u{{{:x}}} inside a string",
        bad as u32, bad as u32
    ))
}

/// What the error is at, and how v2 spells it, when it is KDL v1 syntax.
fn v1_syntax(text: &str, offset: usize) -> Option<(String, String)> {
    let rest = text.get(offset..)?;
    let word: String = rest
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    match word.as_str() {
        "true" | "false" | "null" | "inf" | "nan" => Some((
            format!("a bare `{word}`"),
            format!("KDL v2 writes `{word}` as `#{word}`"),
        )),
        _ if rest.starts_with("r\"") || rest.starts_with("r#") => Some((
            "a raw string `r\"...\"`".to_owned(),
            "KDL v2 writes raw strings as #\"...\"#, without the `r`".to_owned(),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<Problem> {
        parse(0, text).expect_err("invalid")
    }

    #[test]
    fn bare_booleans_get_a_v2_hint() {
        let found = problems("user \"a\" console=true\n");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].at.span.offset(), 17);
        assert!(found[0].message.contains("a bare `true` is KDL v1"));
        assert!(found[0].help.as_deref().unwrap().contains("`#true`"));
    }

    #[test]
    fn literal_control_characters_get_a_hint() {
        let found = problems("user \"a\u{7}b\"\n");
        assert!(
            found[0].help.as_deref().unwrap().contains("U+0007"),
            "{found:?}"
        );
    }

    #[test]
    fn v1_raw_strings_get_a_v2_hint() {
        let found = problems("user r\"a\"\n");
        assert!(found[0].help.as_deref().unwrap().contains("#\"...\"#"));
    }

    #[test]
    fn an_unclosed_block_is_one_problem() {
        let found = problems("user \"a\" {\n  access \"admin\"\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].at.span.offset(), 9);
    }

    #[test]
    fn a_missing_value_points_at_the_end() {
        let text = "a id=\"1\"\nb id=\n";
        let found = problems(text);
        assert_eq!(found.len(), 1);
        assert!(found[0].at.span.offset() >= text.find("b id").unwrap());
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let found = problems(&"a {".repeat(100_000));
        assert_eq!(found[0].code, "too-complex");
    }

    #[test]
    fn the_parser_thread_returns_every_file() {
        let results = parse_all(&[Some("a 1\n"), None, Some("b {")]);
        assert!(results[0].is_ok());
        assert!(results[1].as_ref().is_err_and(|p| p.is_empty()));
        assert!(results[2].is_err());
    }

    #[test]
    fn files_over_the_size_limit_are_refused_before_parsing() {
        let text = format!("// {}\n", "x".repeat(MAX_FILE_BYTES));
        let started = std::time::Instant::now();
        let problems = parse(0, &text).expect_err("too large");
        assert_eq!(problems[0].code, "file-too-large");
        assert!(
            problems[0].message.contains("up to 8 MiB"),
            "{}",
            problems[0].message
        );
        assert!(started.elapsed().as_secs() < 1);
    }
}
