//! Validation problems: each one a place in a file, a message, a label and
//! perhaps a hint; all of them reported together.

use std::fmt;
use std::sync::Arc;

use miette::{Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, SourceSpan};
use sha2::{Digest, Sha256};

use super::source::Sources;

/// A place in one of the run's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub file: usize,
    pub span: SourceSpan,
}

impl Location {
    pub fn new(file: usize, span: SourceSpan) -> Self {
        Self { file, span }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// A stable, kebab-case identifier of the rule, shown as `jumpgate::<code>`.
    pub code: &'static str,
    pub at: Location,
    pub message: String,
    pub label: String,
    pub help: Option<String>,
}

impl Problem {
    pub fn new(
        code: &'static str,
        at: Location,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        Self {
            code,
            at,
            message: message.into(),
            label: label.into(),
            help: None,
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// The outcome of a failed validation: every problem found, in file order.
#[derive(Debug, Clone)]
pub struct Invalid {
    pub problems: Vec<Problem>,
    pub sources: Arc<Sources>,
}

impl Invalid {
    pub fn new(mut problems: Vec<Problem>, sources: Arc<Sources>) -> Self {
        problems.sort_by_key(|p| (p.at.file, p.at.span.offset()));
        problems.dedup();
        Self { problems, sources }
    }

    /// `file:line:column` of a problem.
    pub fn position(&self, problem: &Problem) -> String {
        let (line, column) = self
            .sources
            .line_col(problem.at.file, problem.at.span.offset());
        format!(
            "{}:{line}:{column}",
            self.sources.files[problem.at.file].name
        )
    }

    /// Every problem as a `file:line:column: message` line followed by an
    /// excerpt of the source, coloured only when `color` is set.
    pub fn render(&self, color: bool) -> String {
        let theme = if color {
            GraphicalTheme::unicode()
        } else {
            GraphicalTheme::unicode_nocolor()
        };
        let handler = GraphicalReportHandler::new_themed(theme).with_context_lines(1);
        // Line starts of each file, computed once: a run may have thousands
        // of problems in one large file.
        let mut lines: Vec<Option<LineIndex>> = vec![None; self.sources.files.len()];
        let mut out = String::new();
        for (shown, problem) in self.problems.iter().enumerate() {
            let file = &self.sources.files[problem.at.file];
            let index = lines[problem.at.file].get_or_insert_with(|| LineIndex::new(&file.text));
            let (line, column) = index.line_col(&file.text, problem.at.span.offset());
            out.push_str(&format!(
                "{}:{}:{}: error: {}\n",
                file.name,
                line + 1,
                column + 1,
                problem.message
            ));
            // Every problem gets its line; only the first ones an excerpt, so
            // a file with thousands of problems still gives a readable report.
            if shown >= EXCERPTS_SHOWN {
                continue;
            }
            let report = ProblemReport {
                problem,
                source: Excerpt::around(&file.name, &file.text, index, problem.at.span),
            };
            // Rendering into a String cannot fail.
            let _ = handler.render_report(&mut out, &report);
            out.push('\n');
        }
        let count = self.problems.len();
        if count > EXCERPTS_SHOWN {
            out.push_str(&format!(
                "(source excerpts shown for the first {EXCERPTS_SHOWN} problems only)\n"
            ));
        }
        out.push_str(&format!(
            "{count} problem{} found; nothing was sent to AWS.\n",
            if count == 1 { "" } else { "s" }
        ));
        out
    }
}

/// How `validate` reports problems.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProblemFormat {
    /// `file:line:column: error: message` with a source excerpt.
    #[default]
    Text,
    /// GitHub Actions workflow commands (`::error file=…,line=…`): each
    /// problem is an annotation on the pull request's line.
    Github,
    /// GitLab Code Quality JSON, for `artifacts:reports:codequality`.
    Gitlab,
}

impl Invalid {
    /// Each problem as its file, 1-based line and column.
    fn located(&self) -> impl Iterator<Item = (&Problem, &str, usize, usize)> {
        self.problems.iter().map(|problem| {
            let (line, column) = self
                .sources
                .line_col(problem.at.file, problem.at.span.offset());
            let name = self.sources.files[problem.at.file].name.as_str();
            (problem, name, line, column)
        })
    }

    /// One GitHub `::error` workflow command per problem.
    /// <https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands#setting-an-error-message>
    pub fn render_github(&self) -> String {
        self.located()
            .map(|(problem, file, line, column)| {
                let mut message = problem.message.clone();
                if let Some(help) = &problem.help {
                    message.push_str(&format!("\n\nhelp: {help}"));
                }
                format!(
                    "::error file={},line={line},col={column},title={}::{}\n",
                    github_property(file),
                    github_property(&format!("jumpgate::{}", problem.code)),
                    github_data(&message)
                )
            })
            .collect()
    }

    /// A GitLab Code Quality report: a JSON array of issues.
    /// <https://docs.gitlab.com/ci/testing/code_quality/#code-quality-report-format>
    pub fn render_gitlab(&self) -> String {
        let issues: Vec<serde_json::Value> = self
            .located()
            .map(|(problem, file, line, column)| {
                let mut description = problem.message.clone();
                if let Some(help) = &problem.help {
                    description.push_str(&format!(" (help: {help})"));
                }
                // Stable across runs and unique within one: GitLab compares
                // reports of two pipelines by fingerprint.
                let fingerprint = Sha256::digest(
                    format!(
                        "{}\0{file}\0{line}\0{column}\0{}",
                        problem.code, problem.message
                    )
                    .as_bytes(),
                );
                serde_json::json!({
                    "description": description,
                    "check_name": problem.code,
                    "fingerprint": hex::encode(fingerprint),
                    "severity": "major",
                    "location": {
                        "path": file,
                        "lines": { "begin": line },
                    },
                })
            })
            .collect();
        let mut out = serde_json::to_string_pretty(&issues).expect("JSON values serialise");
        out.push('\n');
        out
    }
}

/// A workflow command's message: `%`, CR and LF escaped.
fn github_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value: also `:` and `,`.
fn github_property(text: &str) -> String {
    github_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// How many problems are shown with a source excerpt; the rest get one line each.
const EXCERPTS_SHOWN: usize = 100;

/// Where each line of a text starts.
#[derive(Debug, Clone)]
struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self(starts)
    }

    /// The 0-based line of a byte offset.
    fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&start| start <= offset) - 1
    }

    /// The 0-based line and column (in characters) of a byte offset.
    fn line_col(&self, text: &str, offset: usize) -> (usize, usize) {
        let offset = floor_char_boundary(text, offset);
        let line = self.line(offset);
        (line, text[self.0[line]..offset].chars().count())
    }

    /// The byte range of lines `first..=last`, without the final newline.
    fn range(&self, text: &str, first: usize, last: usize) -> std::ops::Range<usize> {
        let end = self
            .0
            .get(last + 1)
            .map_or(text.len(), |&next| next - 1)
            .max(self.0[first]);
        self.0[first]..end
    }
}

fn floor_char_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The longest line shown in an excerpt; a longer one (a runaway string, a
/// generated file) would flood the terminal, so the excerpt is left out.
const MAX_EXCERPT_LINE: usize = 400;
/// Lines of context the excerpt holds either side of the problem's lines;
/// at least the handler's context lines.
const EXCERPT_CONTEXT: usize = 1;

/// The lines of a file around a problem, made safe to print, standing in for
/// the whole file: rendering costs the size of the excerpt, not of the file.
struct Excerpt {
    name: String,
    text: String,
    /// Byte offset of `text` in the file.
    offset: usize,
    /// 0-based line of the file where `text` starts.
    first_line: usize,
}

impl Excerpt {
    /// The excerpt around `span`, or `None` when one of its lines is too
    /// long to print.
    fn around(name: &str, text: &str, index: &LineIndex, span: SourceSpan) -> Option<Self> {
        let start = floor_char_boundary(text, span.offset());
        let end = floor_char_boundary(text, span.offset() + span.len());
        let first_line = index.line(start).saturating_sub(EXCERPT_CONTEXT);
        let last_line = (index.line(end) + EXCERPT_CONTEXT).min(index.0.len() - 1);
        let range = index.range(text, first_line, last_line);
        let window = &text[range.clone()];
        if window.split('\n').any(|line| line.len() > MAX_EXCERPT_LINE) {
            return None;
        }
        Some(Self {
            name: name.to_owned(),
            text: printable(window),
            offset: range.start,
            first_line,
        })
    }
}

/// `text` with every character that could act on a terminal (control
/// characters, bidirectional overrides) replaced by `?`, byte for byte, so
/// that offsets still match. Tabs, newlines and CRLF line ends stay.
fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let keep = match c {
            '\n' | '\t' => true,
            '\r' => chars.peek() == Some(&'\n'),
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => false,
            c => !c.is_control(),
        };
        if keep {
            out.push(c);
        } else {
            out.extend(std::iter::repeat_n('?', c.len_utf8()));
        }
    }
    out
}

impl miette::SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let local = SourceSpan::from((
            span.offset()
                .checked_sub(self.offset)
                .ok_or(miette::MietteError::OutOfBounds)?,
            span.len(),
        ));
        let inner =
            self.text
                .as_str()
                .read_span(&local, context_lines_before, context_lines_after)?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            SourceSpan::from((inner.span().offset() + self.offset, inner.span().len())),
            inner.line() + self.first_line,
            inner.column(),
            inner.line_count(),
        )))
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::error::Error for Invalid {}

/// One problem with its file, in the shape miette renders; without source
/// when the excerpt would be unreadable.
struct ProblemReport<'a> {
    problem: &'a Problem,
    source: Option<Excerpt>,
}

impl fmt::Debug for ProblemReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problem.message)
    }
}

impl fmt::Display for ProblemReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problem.message)
    }
}

impl std::error::Error for ProblemReport<'_> {}

impl Diagnostic for ProblemReport<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!("jumpgate::{}", self.problem.code)))
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.problem
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.source.as_ref()?;
        let label =
            LabeledSpan::new_with_span(Some(self.problem.label.clone()), self.problem.at.span);
        Some(Box::new(std::iter::once(label)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::source::Sources;

    fn render(text: &str, span: (usize, usize)) -> String {
        let mut sources = Sources::default();
        sources.push("f.kdl", text);
        let problem = Problem::new("x", Location::new(0, span.into()), "message", "label");
        Invalid::new(vec![problem], Arc::new(sources)).render(false)
    }

    #[test]
    fn the_excerpt_shows_the_lines_around_the_problem() {
        let text = "one\ntwo\nthree \"x\"\nfour\nfive\n";
        let rendered = render(text, (14, 3));
        assert!(
            rendered.starts_with("f.kdl:3:7: error: message\n"),
            "{rendered}"
        );
        assert!(rendered.contains("[f.kdl:3:7]"), "{rendered}");
        for shown in ["2 │ two", "3 │ three \"x\"", "4 │ four", "╰── label"] {
            assert!(rendered.contains(shown), "{shown} in {rendered}");
        }
        assert!(
            !rendered.contains("one") && !rendered.contains("five"),
            "{rendered}"
        );
    }

    #[test]
    fn long_lines_are_not_excerpted() {
        let text = format!("a\nb \"{}\"\nc\n", "x".repeat(10_000));
        let rendered = render(&text, (4, 1));
        assert!(
            rendered.starts_with("f.kdl:2:3: error: message\n"),
            "{rendered}"
        );
        assert!(rendered.len() < 300, "{rendered}");
        // A long line beyond the context does not matter.
        let text = format!("a\nb\nc\n{}\n", "x".repeat(10_000));
        assert!(render(&text, (0, 1)).contains("1 │ a"));
    }

    #[test]
    fn control_characters_are_not_printed() {
        let text = "user \"a\u{1b}[31mb\u{7}\u{202e}\"\r\nnext\n";
        let rendered = render(text, (5, 4));
        assert!(
            !rendered.chars().any(|c| c.is_control() && c != '\n'),
            "{rendered:?}"
        );
        assert!(rendered.contains("user \"a?[31mb????\""), "{rendered}");
    }

    #[test]
    fn many_problems_in_a_large_file_render_quickly() {
        let text: String = (0..5_000)
            .map(|i| format!("user \"bad name {i}\"\n"))
            .collect();
        let mut sources = Sources::default();
        sources.push("f.kdl", text.clone());
        let problems = (0..5_000)
            .map(|i| {
                let offset = text.find(&format!("\"bad name {i}\"")).unwrap();
                Problem::new("x", Location::new(0, (offset, 5).into()), "m", "l")
            })
            .collect();
        let started = std::time::Instant::now();
        let rendered = Invalid::new(problems, Arc::new(sources)).render(false);
        assert!(rendered.contains("f.kdl:5000:6: error: m"));
        assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    }

    #[test]
    fn every_problem_gets_a_line_but_only_the_first_ones_an_excerpt() {
        let mut text = String::from("jump-account id=\"111111111111\" region=\"ap-northeast-1\"\n");
        for i in 0..150 {
            text.push_str(&format!("user \"bad name {i}\"\n"));
        }
        let mut sources = Sources::default();
        sources.push("f.kdl", text);
        let invalid = crate::lang::validate(sources, Vec::new()).expect_err("invalid names");
        let rendered = invalid.render(false);
        assert_eq!(rendered.matches(": error: ").count(), 150);
        assert_eq!(rendered.matches("╭─[").count(), EXCERPTS_SHOWN);
        assert!(rendered.contains("f.kdl:151:6: error: user name `bad name 149`"));
        assert!(rendered.ends_with("150 problems found; nothing was sent to AWS.\n"));
    }
}
