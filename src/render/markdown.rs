//! The plan as a pull-request comment: the counts in the title, a table of
//! changes per account, lockouts and warnings as callouts, and the full text
//! plan folded away in a `diff` block so GitHub colours it.

use std::fmt::Write;

use super::{
    BLOCKERS, BOOTSTRAP_NEEDED, LOCKOUT_REFUSAL, NO_ACCESS_CHANGES, Style, UNMANAGED_USERS,
    access_lines, account_heading, by_account, mermaid, summary_line, text,
};
use crate::plan::{Plan, Reason};

pub(super) fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let title = if plan.is_empty() {
        "no changes".to_owned()
    } else {
        let s = plan.summary;
        format!(
            "{} to add, {} to change, {} to destroy",
            s.add, s.change, s.destroy
        )
    };
    let _ = writeln!(out, "### jumpgate plan: {title}\n");
    // First, where reviewers read: who gains and who loses what.
    let access = access_lines(plan);
    if !access.is_empty() {
        let body: String = access
            .iter()
            .map(|(symbol, line)| format!("{symbol} {line}\n"))
            .collect();
        let fence = fence_for(&body);
        let _ = writeln!(out, "#### Access changes\n\n{fence}diff\n{body}{fence}\n");
        if let Some(picture) = mermaid::access_picture(&plan.access_changes.users) {
            let _ = writeln!(out, "{picture}");
        }
    } else if !plan.is_empty() {
        let _ = writeln!(out, "{NO_ACCESS_CHANGES}\n");
    }
    if !plan.blockers.is_empty() {
        let _ = writeln!(out, "> [!CAUTION]\n> **{BLOCKERS}**");
        for blocker in &plan.blockers {
            let _ = writeln!(out, "> - {blocker}");
        }
        out += "\n";
    }
    if !plan.lockouts.is_empty() {
        out += "> [!CAUTION]\n";
        out += "> **Lockout:** after this plan nobody declared could assume an admin role in:\n";
        for lockout in &plan.lockouts {
            let _ = writeln!(
                out,
                "> - `{}` ({}): `{}`",
                lockout.account, lockout.account_id, lockout.role
            );
        }
        let _ = writeln!(out, ">\n> {LOCKOUT_REFUSAL}\n");
    }
    if !plan.warnings.is_empty() {
        out += "> [!WARNING]\n";
        for warning in &plan.warnings {
            let _ = writeln!(out, "> - {warning}");
        }
        out += "\n";
    }
    if !plan.bootstrap_needed.is_empty() {
        let _ = writeln!(out, "> [!IMPORTANT]\n> {BOOTSTRAP_NEEDED}");
        for hint in &plan.bootstrap_needed {
            let _ = writeln!(
                out,
                "> - {} ({}): `{}`",
                hint.account, hint.account_id, hint.command
            );
        }
        out += "\n";
    }
    if !plan.unmanaged_users.is_empty() {
        let users: Vec<String> = plan
            .unmanaged_users
            .iter()
            .map(|u| format!("`{u}`"))
            .collect();
        let _ = writeln!(out, "> [!NOTE]\n> {UNMANAGED_USERS} {}\n", users.join(", "));
    }
    if plan.is_empty() {
        let _ = writeln!(out, "{}", summary_line(plan));
        return out;
    }
    for (account, indices) in by_account(plan) {
        let _ = writeln!(out, "#### {}\n", account_heading(plan, account));
        out += "| | kind | address |\n| :-: | --- | --- |\n";
        for change in indices.iter().map(|&i| &plan.changes[i]) {
            let expired = if change.reason == Some(Reason::Expired) {
                " (expired)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | `{}`{expired} |",
                change.action.symbol(),
                change.kind,
                change.address
            );
        }
        out += "\n";
    }
    let full = text::render(plan, Style { color: false });
    let body: String = full.lines().map(|l| diff_line(l) + "\n").collect();
    let fence = fence_for(&body);
    let _ = write!(
        out,
        "<details><summary>Full plan</summary>\n\n{fence}diff\n{body}{fence}\n\n</details>\n"
    );
    out
}

/// Moves a line's change symbol to the first column, where GitHub's `diff`
/// highlighting looks for it; `~` becomes `!`, which it highlights as a change.
fn diff_line(line: &str) -> String {
    let rest = line.trim_start();
    let indent = &line[..line.len() - rest.len()];
    match rest.chars().next() {
        Some(symbol @ ('+' | '-' | '~' | '!')) => {
            let symbol = if symbol == '~' { '!' } else { symbol };
            format!("{symbol}{indent}{}", &rest[1..])
        }
        _ => line.to_owned(),
    }
}

/// A code fence longer than any run of backticks in the body.
fn fence_for(body: &str) -> String {
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    "`".repeat(longest.max(2) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_move_to_the_first_column() {
        assert_eq!(diff_line("  + user user.a"), "+   user user.a");
        assert_eq!(diff_line("  ~ user user.a"), "!   user user.a");
        assert_eq!(diff_line("      -}"), "-      }");
        assert_eq!(diff_line("Plan: 1 to add"), "Plan: 1 to add");
        assert_eq!(diff_line(""), "");
    }

    #[test]
    fn fences_outgrow_backticks_in_the_body() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("a ```` b"), "`````");
    }
}
