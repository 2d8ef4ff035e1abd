//! Validation problems: each one a place in a file, a message, a label and
//! perhaps a hint; all of them reported together.

use std::fmt;
use std::sync::Arc;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan,
};

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
        let mut out = String::new();
        for problem in &self.problems {
            out.push_str(&format!(
                "{}: error: {}\n",
                self.position(problem),
                problem.message
            ));
            let file = &self.sources.files[problem.at.file];
            let report = ProblemReport {
                problem,
                source: excerpt_fits(&file.text, problem.at.span)
                    .then(|| NamedSource::new(&file.name, file.text.clone())),
            };
            // Rendering into a String cannot fail.
            let _ = handler.render_report(&mut out, &report);
            out.push('\n');
        }
        let count = self.problems.len();
        out.push_str(&format!(
            "{count} problem{} found; nothing was sent to AWS.\n",
            if count == 1 { "" } else { "s" }
        ));
        out
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::error::Error for Invalid {}

/// The longest line shown in an excerpt; a longer one (a runaway string, a
/// generated file) would flood the terminal, so the excerpt is left out.
const MAX_EXCERPT_LINE: usize = 400;

/// Whether the lines an excerpt of `span` shows (one line of context either
/// side) are short enough to print.
fn excerpt_fits(text: &str, span: SourceSpan) -> bool {
    let floor = |mut i: usize| {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = floor(span.offset());
    let end = floor(span.offset() + span.len());
    let first = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let first = text[..first.saturating_sub(1)]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let last = text[end..].find('\n').map_or(text.len(), |i| end + i);
    let last = text[(last + 1).min(text.len())..]
        .find('\n')
        .map_or(text.len(), |i| last + 1 + i);
    text[first..last]
        .split('\n')
        .all(|line| line.len() <= MAX_EXCERPT_LINE)
}

/// One problem with its file, in the shape miette renders; without source
/// when the excerpt would be unreadable.
struct ProblemReport<'a> {
    problem: &'a Problem,
    source: Option<NamedSource<String>>,
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

    #[test]
    fn long_lines_are_not_excerpted() {
        let text = format!("a\nb \"{}\"\nc\n", "x".repeat(10_000));
        assert!(!excerpt_fits(&text, SourceSpan::from((4, 1))));
        assert!(excerpt_fits("a\nb\nc\n", SourceSpan::from((2, 1))));
        // A long line two lines away is not shown, so it does not matter.
        let text = format!("a\nb\nc\n{}\n", "x".repeat(10_000));
        assert!(excerpt_fits(&text, SourceSpan::from((0, 1))));
        let mut sources = Sources::default();
        sources.push("f.kdl", text.clone());
        let problem = Problem::new("x", Location::new(0, (6, 1).into()), "message", "label");
        let rendered = Invalid::new(vec![problem], Arc::new(sources)).render(false);
        assert!(rendered.starts_with("f.kdl:4:1: error: message\n"));
        assert!(rendered.len() < 500, "{rendered}");
    }
}
