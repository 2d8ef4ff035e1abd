//! The parts of a drift report that are not drift: what ends within a week
//! and credential hygiene, after the drift itself.

use std::fmt::Write;

use crate::drift::DriftReport;
use crate::plan::ending_soon;

pub(super) fn text(out: &mut String, report: &DriftReport) {
    if !report.expiring.is_empty() {
        let _ = writeln!(out, "\nEnding soon:");
        for end in &report.expiring {
            let _ = writeln!(out, "  ! {}", ending_soon(end));
        }
    }
    let Some(hygiene) = &report.hygiene else {
        let _ = writeln!(
            out,
            "\nCredential hygiene: not checked (IAM's credential report could not be read)."
        );
        return;
    };
    if hygiene.is_clean() {
        let _ = writeln!(
            out,
            "\nCredential hygiene: nothing to report (credential report of {}).",
            hygiene.report_generated
        );
    } else {
        let _ = writeln!(
            out,
            "\nCredential hygiene (credential report of {}):",
            hygiene.report_generated
        );
        for user in &hygiene.users {
            let _ = writeln!(out, "  user {}:", user.user);
            for finding in &user.findings {
                let _ = writeln!(out, "      {}", finding.describe());
            }
        }
    }
    if !hygiene.not_in_report.is_empty() {
        let _ = writeln!(
            out,
            "  Not in the report yet (created after it): {}",
            hygiene.not_in_report.join(", ")
        );
    }
}

pub(super) fn markdown(out: &mut String, report: &DriftReport) {
    if !report.expiring.is_empty() {
        out.push_str("\n> [!WARNING]\n> **Ending soon**\n");
        for end in &report.expiring {
            let _ = writeln!(out, "> - {}", ending_soon(end));
        }
    }
    let Some(hygiene) = &report.hygiene else {
        out.push_str(
            "\n**Credential hygiene:** not checked (IAM's credential report could not be read).\n",
        );
        return;
    };
    let _ = writeln!(
        out,
        "\n#### Credential hygiene (credential report of {})\n",
        hygiene.report_generated
    );
    if hygiene.is_clean() {
        out.push_str("Nothing to report.\n");
    } else {
        out.push_str("| user | finding |\n|---|---|\n");
        for user in &hygiene.users {
            for finding in &user.findings {
                let _ = writeln!(out, "| `{}` | {} |", user.user, finding.describe());
            }
        }
    }
    if !hygiene.not_in_report.is_empty() {
        let _ = writeln!(
            out,
            "\nNot in the report yet (created after it): {}",
            super::code_list(&hygiene.not_in_report)
        );
    }
}
