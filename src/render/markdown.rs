//! The plan as a pull-request comment: the counts in the title, a table of
//! changes per account, lockouts and warnings as callouts, and the text
//! plan's rows folded away in a `diff` block so GitHub colours it.

use std::fmt::Write;

use super::text::{Row, rows};
use super::{
    BLOCKERS, BOOTSTRAP_NEEDED, LOCKOUT_REFUSAL, NO_ACCESS_CHANGES, UNMANAGED_USERS, access_lines,
    account_heading, bootstrap_command, by_account, code_list, counts, mermaid, summary_line,
};
use crate::plan::{Plan, Reason};

pub(super) fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let title = if plan.is_empty() {
        "no changes".to_owned()
    } else {
        counts(plan)
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
                hint.account,
                hint.account_id,
                bootstrap_command(hint)
            );
        }
        out += "\n";
    }
    if !plan.unmanaged_users.is_empty() {
        let users = code_list(&plan.unmanaged_users);
        let _ = writeln!(out, "> [!NOTE]\n> {UNMANAGED_USERS} {users}\n");
    }
    if plan.is_empty() {
        let _ = writeln!(out, "{}", summary_line(plan));
        return out;
    }
    for (account, changes) in by_account(plan) {
        let _ = writeln!(out, "#### {}\n", account_heading(plan, account));
        out += "| | kind | address |\n| :-: | --- | --- |\n";
        for change in changes {
            let expired = if change.reason == Some(Reason::Expired) {
                " (expired)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | `{}`{expired} |",
                change.action.symbol(),
                change.kind(),
                change.address
            );
        }
        out += "\n";
    }
    let body: String = rows(plan).iter().map(|row| diff_line(row) + "\n").collect();
    let fence = fence_for(&body);
    let _ = write!(
        out,
        "<details><summary>Full plan</summary>\n\n{fence}diff\n{body}{fence}\n\n</details>\n"
    );
    out
}

/// A text row with its change symbol in the first column, where GitHub's
/// `diff` highlighting looks for it; `~` becomes `!`, which it highlights as
/// a change.
fn diff_line(row: &Row) -> String {
    let indent = " ".repeat(row.indent);
    match row.mark {
        Some(mark) => {
            let mark = if mark == '~' { '!' } else { mark };
            format!("{mark}{indent}{}", row.text)
        }
        None => format!("{indent}{}", row.text),
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
    fn fences_outgrow_backticks_in_the_body() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("a ```` b"), "`````");
    }
}
