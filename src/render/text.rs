//! The text plan: Terraform-like, for a terminal or a CI log. Reads the same
//! with or without colour; colour only marks what the symbols already say.
//! Its rows are also the folded full plan of the Markdown format.

use serde_json::Value;

use super::diff::{Difference, Line, Tag, differences};
use super::{
    BLOCKERS, BOOTSTRAP_NEEDED, LOCKOUT_REFUSAL, NO_ACCESS_CHANGES, Style, UNMANAGED_USERS,
    access_lines, account_heading, bootstrap_command, by_account, summary_line,
};
use crate::plan::{Change, Plan, Reason};

/// Indentation of the details under a change line.
const DETAIL: usize = 6;
/// Indentation of a template's lines under its `~ template:` line.
const TEMPLATE: usize = DETAIL + 4;

/// One line of the text plan: indentation, then a change symbol when the
/// line has one, then the rest.
pub(super) struct Row {
    pub indent: usize,
    pub mark: Option<char>,
    pub text: String,
    ink: Ink,
}

/// What colour touches on a row.
#[derive(Clone, Copy)]
enum Ink {
    Plain,
    Heading,
    /// A heading that says something is wrong.
    Alarm,
    /// The whole row in one colour.
    Whole(Colour),
    /// Only the symbol, coloured by what it says.
    Mark,
    /// The symbol and the rest (a diff line), coloured by the symbol.
    Diff,
}

#[derive(Clone, Copy)]
enum Colour {
    Red,
    Green,
    Yellow,
}

impl Row {
    fn new(indent: usize, mark: Option<char>, text: impl Into<String>, ink: Ink) -> Self {
        Self {
            indent,
            mark,
            text: text.into(),
            ink,
        }
    }

    fn blank() -> Self {
        Self::new(0, None, "", Ink::Plain)
    }

    fn plain(indent: usize, text: impl Into<String>) -> Self {
        Self::new(indent, None, text, Ink::Plain)
    }

    fn heading(text: impl Into<String>) -> Self {
        Self::new(0, None, text, Ink::Heading)
    }
}

pub(super) fn render(plan: &Plan, style: Style) -> String {
    let paint = Paint(style);
    rows(plan).iter().map(|row| paint.row(row) + "\n").collect()
}

/// The text plan, row by row.
pub(super) fn rows(plan: &Plan) -> Vec<Row> {
    let mut out = Vec::new();
    // First: what a reviewer of an IAM change most needs to know.
    let access = access_lines(plan);
    if !access.is_empty() {
        out.push(Row::heading("Access changes:"));
        for (symbol, line) in access {
            let colour = match symbol {
                '+' => Colour::Green,
                '-' => Colour::Red,
                _ => Colour::Yellow,
            };
            out.push(Row::new(
                2,
                Some(symbol),
                format!(" {line}"),
                Ink::Whole(colour),
            ));
        }
        out.push(Row::blank());
    } else if !plan.is_empty() {
        out.push(Row::plain(0, NO_ACCESS_CHANGES));
        out.push(Row::blank());
    }
    if !plan.warnings.is_empty() {
        out.push(Row::heading("Warnings:"));
        for warning in &plan.warnings {
            let text = format!(" {warning}");
            out.push(Row::new(2, Some('!'), text, Ink::Whole(Colour::Yellow)));
        }
        out.push(Row::blank());
    }
    if !plan.bootstrap_needed.is_empty() {
        out.push(Row::heading(BOOTSTRAP_NEEDED));
        for hint in &plan.bootstrap_needed {
            let command = bootstrap_command(hint);
            let text = format!("{} ({}): {command}", hint.account, hint.account_id);
            out.push(Row::plain(2, text));
        }
        out.push(Row::blank());
    }
    if !plan.unmanaged_users.is_empty() {
        let users = plan.unmanaged_users.join(", ");
        out.push(Row::plain(0, format!("{UNMANAGED_USERS} {users}")));
        out.push(Row::blank());
    }
    for (account, changes) in by_account(plan) {
        out.push(Row::heading(format!("{}:", account_heading(plan, account))));
        let width = changes
            .iter()
            .map(|c| c.kind().as_str().len())
            .max()
            .unwrap_or(0);
        for change in changes {
            change_rows(&mut out, change, width);
        }
        out.push(Row::blank());
    }
    if !plan.lockouts.is_empty() {
        out.push(Row::new(
            0,
            None,
            "Lockout: after this plan nobody declared could assume an admin role in:",
            Ink::Alarm,
        ));
        for lockout in &plan.lockouts {
            let text = format!(
                " {} ({}): {}",
                lockout.account, lockout.account_id, lockout.role
            );
            out.push(Row::new(2, Some('!'), text, Ink::Whole(Colour::Red)));
        }
        out.push(Row::new(0, None, LOCKOUT_REFUSAL, Ink::Whole(Colour::Red)));
        out.push(Row::blank());
    }
    if !plan.blockers.is_empty() {
        out.push(Row::new(0, None, BLOCKERS, Ink::Alarm));
        for blocker in &plan.blockers {
            let text = format!(" {blocker}");
            out.push(Row::new(2, Some('!'), text, Ink::Whole(Colour::Red)));
        }
        out.push(Row::blank());
    }
    out.push(Row::heading(summary_line(plan)));
    out
}

/// What the text formats say after a change's address about its reason.
/// Rename, repair and replace show in the change's own differences.
pub(super) fn reason_note(reason: Option<Reason>) -> &'static str {
    match reason {
        Some(Reason::Adopt) => "  (adopt: jumpgate takes it over)",
        Some(Reason::Expired) => "  (expired)",
        Some(Reason::Rename | Reason::Repair | Reason::Replace) | None => "",
    }
}

fn change_rows(out: &mut Vec<Row>, change: &Change, width: usize) {
    let kind = change.kind().as_str();
    let note = reason_note(change.reason);
    out.push(Row::new(
        2,
        Some(change.action.symbol()),
        format!(" {kind:<width$} {}{note}", change.address),
        Ink::Mark,
    ));
    for difference in differences(change) {
        match difference {
            Difference::Field {
                name,
                before,
                after,
            } => {
                let text = format!(" {name}: {} → {}", compact(&before), compact(&after));
                out.push(Row::new(DETAIL, Some('~'), text, Ink::Mark));
            }
            Difference::Value { before, after } => {
                let text = format!(" {} → {}", compact(&before), compact(&after));
                out.push(Row::new(DETAIL, Some('~'), text, Ink::Mark));
            }
            Difference::Statements(lines) => {
                out.extend(lines.iter().map(|line| diff_row(DETAIL, line)));
            }
            Difference::Template(lines) => {
                out.push(Row::new(DETAIL, Some('~'), " template:", Ink::Mark));
                out.extend(lines.iter().map(|line| match line {
                    Some(line) => diff_row(TEMPLATE, line),
                    None => Row::plain(TEMPLATE, "..."),
                }));
            }
        }
    }
}

fn diff_row(indent: usize, line: &Line) -> Row {
    match line.tag {
        Tag::Added | Tag::Removed => Row::new(
            indent,
            Some(line.tag.symbol()),
            line.text.clone(),
            Ink::Diff,
        ),
        Tag::Kept => Row::plain(indent, format!(" {}", line.text)),
    }
}

fn compact(value: &Option<Value>) -> String {
    match value {
        None | Some(Value::Null) => "(none)".to_owned(),
        Some(v) => v.to_string(),
    }
}

/// ANSI colours when asked for, the plain text otherwise.
#[derive(Clone, Copy)]
struct Paint(Style);

impl Paint {
    fn wrap(self, code: &str, text: &str) -> String {
        if self.0.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn colour(self, colour: Colour, text: &str) -> String {
        let code = match colour {
            Colour::Red => "31",
            Colour::Green => "32",
            Colour::Yellow => "33",
        };
        self.wrap(code, text)
    }

    fn of_mark(mark: Option<char>) -> Option<Colour> {
        match mark {
            Some('+') => Some(Colour::Green),
            Some('-') => Some(Colour::Red),
            Some('~' | '!') => Some(Colour::Yellow),
            _ => None,
        }
    }

    fn row(self, row: &Row) -> String {
        let indent = " ".repeat(row.indent);
        let mark = row.mark.map(String::from).unwrap_or_default();
        let marked = |text: &str| match Self::of_mark(row.mark) {
            Some(colour) => self.colour(colour, text),
            None => text.to_owned(),
        };
        match row.ink {
            Ink::Plain => format!("{indent}{mark}{}", row.text),
            Ink::Heading => self.wrap("1", &format!("{indent}{mark}{}", row.text)),
            Ink::Alarm => self.colour(
                Colour::Red,
                &self.wrap("1", &format!("{indent}{mark}{}", row.text)),
            ),
            Ink::Whole(colour) => self.colour(colour, &format!("{indent}{mark}{}", row.text)),
            Ink::Mark => format!("{indent}{}{}", marked(&mark), row.text),
            Ink::Diff => format!("{indent}{}", marked(&format!("{mark}{}", row.text))),
        }
    }
}
