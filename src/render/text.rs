//! The text plan: Terraform-like, for a terminal or a CI log. Reads the same
//! with or without colour; colour only marks what the symbols already say.

use std::fmt::Write;

use serde_json::{Map, Value};
use similar::TextDiff;

use super::{
    BLOCKERS, BOOTSTRAP_NEEDED, LOCKOUT_REFUSAL, NO_ACCESS_CHANGES, Style, UNMANAGED_USERS,
    access_lines, account_heading, by_account, summary_line,
};
use crate::plan::{Action, Change, Kind, Plan, Reason};
use crate::policy::{sort_keys, statement_diff};

/// Indentation of the details under a change line.
const DETAIL: &str = "      ";
/// Lines of unchanged template shown around each changed one.
const TEMPLATE_CONTEXT: usize = 2;

pub(super) fn render(plan: &Plan, style: Style) -> String {
    let paint = Paint(style);
    let mut out = String::new();
    // First: what a reviewer of an IAM change most needs to know.
    let access = access_lines(plan);
    if !access.is_empty() {
        out += &paint.heading("Access changes:");
        out += "\n";
        for (symbol, line) in access {
            let line = format!("  {symbol} {line}");
            out += &match symbol {
                '+' => paint.green(&line),
                '-' => paint.red(&line),
                _ => paint.yellow(&line),
            };
            out += "\n";
        }
        out += "\n";
    } else if !plan.is_empty() {
        out += NO_ACCESS_CHANGES;
        out += "\n\n";
    }
    if !plan.warnings.is_empty() {
        out += &paint.heading("Warnings:");
        out += "\n";
        for warning in &plan.warnings {
            out += &paint.yellow(&format!("  ! {warning}"));
            out += "\n";
        }
        out += "\n";
    }
    if !plan.bootstrap_needed.is_empty() {
        out += &paint.heading(BOOTSTRAP_NEEDED);
        out += "\n";
        for hint in &plan.bootstrap_needed {
            let _ = writeln!(
                out,
                "  {} ({}): {}",
                hint.account, hint.account_id, hint.command
            );
        }
        out += "\n";
    }
    if !plan.unmanaged_users.is_empty() {
        let _ = writeln!(
            out,
            "{UNMANAGED_USERS} {}\n",
            plan.unmanaged_users.join(", ")
        );
    }
    for (account, indices) in by_account(plan) {
        out += &paint.heading(&format!("{}:", account_heading(plan, account)));
        out += "\n";
        let changes: Vec<&Change> = indices.iter().map(|&i| &plan.changes[i]).collect();
        let width = changes
            .iter()
            .map(|c| c.kind.to_string().len())
            .max()
            .unwrap_or(0);
        for change in changes {
            change_lines(&mut out, change, width, paint);
        }
        out += "\n";
    }
    if !plan.lockouts.is_empty() {
        out += &paint
            .red(&paint.heading(
                "Lockout: after this plan nobody declared could assume an admin role in:",
            ));
        out += "\n";
        for lockout in &plan.lockouts {
            let line = format!(
                "  ! {} ({}): {}",
                lockout.account, lockout.account_id, lockout.role
            );
            out += &paint.red(&line);
            out += "\n";
        }
        out += &paint.red(LOCKOUT_REFUSAL);
        out += "\n\n";
    }
    if !plan.blockers.is_empty() {
        out += &paint.red(&paint.heading(BLOCKERS));
        out += "\n";
        for blocker in &plan.blockers {
            out += &paint.red(&format!("  ! {blocker}"));
            out += "\n";
        }
        out += "\n";
    }
    out += &paint.heading(&summary_line(plan));
    out += "\n";
    out
}

fn change_lines(out: &mut String, change: &Change, width: usize, paint: Paint) {
    let symbol = paint.action(change.action, &change.action.symbol().to_string());
    let adopted = change
        .after
        .as_ref()
        .and_then(|a| a.get("adopted"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let note = if adopted {
        "  (adopt: jumpgate takes it over)"
    } else if change.reason == Some(Reason::Expired) {
        "  (expired)"
    } else {
        ""
    };
    let kind = change.kind.to_string();
    let _ = writeln!(out, "  {symbol} {kind:<width$} {}{note}", change.address);
    if change.action != Action::Update {
        return;
    }
    let (before, after) = (change.before.as_ref(), change.after.as_ref());
    match change.kind {
        Kind::GroupPolicy | Kind::ManagedPolicy => {
            for line in statement_diff(before, after).lines() {
                let _ = writeln!(out, "{DETAIL}{}", paint.diff_line(line));
            }
        }
        Kind::Stack | Kind::StackSet => {
            field_lines(out, before, after, &["template"], paint);
            let template = |v: Option<&Value>| v.and_then(|v| v.get("template")).cloned();
            let (old, new) = (template(before), template(after));
            if old != new {
                let _ = writeln!(out, "{DETAIL}{} template:", paint.yellow("~"));
                for line in json_diff(old.as_ref(), new.as_ref()) {
                    let _ = writeln!(out, "{DETAIL}    {}", paint.diff_line(&line));
                }
            }
        }
        _ => field_lines(out, before, after, &[], paint),
    }
}

/// `~ field: before → after` for each top-level field that differs.
fn field_lines(
    out: &mut String,
    before: Option<&Value>,
    after: Option<&Value>,
    skip: &[&str],
    paint: Paint,
) {
    let empty = Map::new();
    let (Some(old), Some(new)) = (
        before.map(|v| v.as_object().unwrap_or(&empty)),
        after.map(|v| v.as_object().unwrap_or(&empty)),
    ) else {
        return;
    };
    if old.is_empty() && new.is_empty() {
        // Not objects: show the values whole.
        let _ = writeln!(
            out,
            "{DETAIL}{} {} → {}",
            paint.yellow("~"),
            compact(before),
            compact(after)
        );
        return;
    }
    let keys = old
        .keys()
        .chain(new.keys().filter(|k| !old.contains_key(*k)));
    for key in keys.filter(|k| !skip.contains(&k.as_str())) {
        let (b, a) = (old.get(key), new.get(key));
        if b != a {
            let _ = writeln!(
                out,
                "{DETAIL}{} {key}: {} → {}",
                paint.yellow("~"),
                compact(b),
                compact(a)
            );
        }
    }
}

fn compact(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "(none)".to_owned(),
        Some(v) => v.to_string(),
    }
}

/// The changed lines of two JSON documents pretty-printed with sorted keys,
/// with a little context, hunks separated by `...`.
fn json_diff(before: Option<&Value>, after: Option<&Value>) -> Vec<String> {
    let pretty = |v: Option<&Value>| {
        v.map(|v| serde_json::to_string_pretty(&sort_keys(v)).unwrap_or_default() + "\n")
            .unwrap_or_default()
    };
    let (old, new) = (pretty(before), pretty(after));
    let diff = TextDiff::from_lines(&old, &new);
    let mut lines = Vec::new();
    for (index, group) in diff.grouped_ops(TEMPLATE_CONTEXT).iter().enumerate() {
        if index > 0 {
            lines.push("...".to_owned());
        }
        for op in group {
            for change in diff.iter_changes(op) {
                let text = change.value().trim_end_matches('\n');
                lines.push(format!("{}{text}", change.tag()));
            }
        }
    }
    lines
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

    fn heading(self, text: &str) -> String {
        self.wrap("1", text)
    }

    fn red(self, text: &str) -> String {
        self.wrap("31", text)
    }

    fn green(self, text: &str) -> String {
        self.wrap("32", text)
    }

    fn yellow(self, text: &str) -> String {
        self.wrap("33", text)
    }

    fn action(self, action: Action, text: &str) -> String {
        match action {
            Action::Create => self.green(text),
            Action::Update => self.yellow(text),
            Action::Delete => self.red(text),
        }
    }

    /// A line of a unified diff, coloured by its tag.
    fn diff_line(self, line: &str) -> String {
        match line.chars().next() {
            Some('+') => self.green(line),
            Some('-') => self.red(line),
            _ => line.to_owned(),
        }
    }
}
