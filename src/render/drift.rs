//! Renderings of a `DriftReport`: text for logs, JSON for scripts, Markdown
//! for an issue or a chat message.

use std::fmt::Write;

use crate::drift::{DriftItem, DriftReport, StackSetDrift};
use crate::plan::Action;

use super::Format;

pub fn render_drift(report: &DriftReport, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(report).expect("reports serialise") + "\n",
        Format::Text => text(report),
        Format::Markdown => markdown(report),
    }
}

fn repair_word(item: &DriftItem) -> &'static str {
    match item.repair {
        Some(Action::Create) => "apply creates",
        Some(Action::Update) => "apply updates",
        Some(Action::Delete) => "apply removes",
        None => "reported only",
    }
}

fn symbol(item: &DriftItem) -> char {
    item.repair.map_or('!', Action::symbol)
}

fn stack_set_line(report: &DriftReport) -> String {
    match &report.stack_set_drift {
        StackSetDrift::Checked { drifted_accounts } if drifted_accounts.is_empty() => {
            "StackSet drift detection: no drift in any stack instance.".to_owned()
        }
        StackSetDrift::Checked { drifted_accounts } => format!(
            "StackSet drift detection: drift in {}.",
            drifted_accounts.join(", ")
        ),
        StackSetDrift::NoStackSet => "StackSet drift detection: no StackSet to check.".to_owned(),
        StackSetDrift::Unavailable { reason } => {
            format!(
                "StackSet drift detection: not available here ({reason}); the checks above do not depend on it."
            )
        }
    }
}

fn summary_line(report: &DriftReport) -> String {
    if report.is_clean() {
        "No drift: the live estate matches the file.".to_owned()
    } else {
        format!(
            "Drift: {} found, {} repaired by the next apply, {} reported only.",
            report.summary.total, report.summary.repaired_by_apply, report.summary.reported_only
        )
    }
}

fn text(report: &DriftReport) -> String {
    let mut out = String::new();
    let mut accounts: Vec<&str> = Vec::new();
    for item in &report.items {
        if !accounts.contains(&item.account.as_str()) {
            accounts.push(item.account.as_str());
        }
    }
    for account in accounts {
        let _ = writeln!(out, "Account {account}:");
        for item in report
            .items
            .iter()
            .filter(|i| i.account.as_str() == account)
        {
            let _ = writeln!(out, "  {} {}", symbol(item), item.address);
            let _ = writeln!(out, "      {} [{}]", item.description, repair_word(item));
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{}", stack_set_line(report));
    let _ = writeln!(out, "{}", summary_line(report));
    super::hygiene::text(&mut out, report);
    out
}

fn markdown(report: &DriftReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### jumpgate: {}\n", summary_line(report));
    if !report.is_clean() {
        out.push_str("| | object | account | what differs | next apply |\n|---|---|---|---|---|\n");
        for item in &report.items {
            let _ = writeln!(
                out,
                "| `{}` | `{}` | {} | {} | {} |",
                symbol(item),
                item.address,
                item.account,
                item.description.replace('|', "\\|"),
                repair_word(item)
            );
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{}", stack_set_line(report));
    super::hygiene::markdown(&mut out, report);
    out
}
