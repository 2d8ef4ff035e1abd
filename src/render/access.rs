//! `jumpgate access`: the report of who can reach which role in which
//! account, as a grid (text, Markdown), long-form CSV or JSON. Each reads an
//! `AccessReport` and nothing else.

use std::fmt::Write as _;

use serde_json::json;

use crate::access::{AccessReport, Status};

/// The version of the JSON rendering; raised when a field changes meaning.
pub const FORMAT_VERSION: u32 = 1;

/// `access --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Csv,
    Json,
    Markdown,
}

pub fn render(report: &AccessReport, format: Format) -> String {
    match format {
        Format::Text => render_text(report),
        Format::Csv => render_csv(report),
        Format::Json => render_json(report),
        Format::Markdown => render_markdown(report),
    }
}

/// The roles a user reaches in an account, as one grid cell.
fn cell(report: &AccessReport, user: &str, account_id: &str) -> String {
    let mut roles: Vec<(String, Status)> = Vec::new();
    for entry in &report.entries {
        let g = &entry.grant;
        if g.user != user || g.account_id != account_id {
            continue;
        }
        let status = entry.status.unwrap_or(Status::Both);
        match roles.iter_mut().find(|(r, _)| *r == g.role) {
            // Reached through several groups: the role is live if any of them is.
            Some((_, seen)) => *seen = merge_status(*seen, status),
            None => roles.push((g.role.clone(), status)),
        }
    }
    if roles.is_empty() {
        return "-".into();
    }
    roles
        .iter()
        .map(|(role, status)| format!("{}{role}", status.mark()))
        .collect::<Vec<_>>()
        .join(",")
}

/// One role through several groups: reached on both sides if each side has one path.
fn merge_status(a: Status, b: Status) -> Status {
    if a == b { a } else { Status::Both }
}

/// How many grants the comparison marked `status`, for the text summary and
/// the JSON one.
fn count(report: &AccessReport, status: Status) -> usize {
    report
        .entries
        .iter()
        .filter(|e| e.status == Some(status))
        .count()
}

fn summary(report: &AccessReport) -> String {
    let count = |s| count(report, s);
    let (live_only, file_only) = (count(Status::LiveOnly), count(Status::FileOnly));
    if live_only + file_only == 0 {
        "The live jump account grants exactly what the file grants.".into()
    } else {
        format!(
            "{} difference{}: {live_only} live only, {file_only} file only.",
            live_only + file_only,
            if live_only + file_only == 1 { "" } else { "s" }
        )
    }
}

/// The differences, grouped by side: a heading that explains the grid's
/// mark, then one line per grant
/// (`user -> account (id) role via group`).
fn difference_sections(report: &AccessReport) -> Vec<(String, Vec<String>)> {
    [Status::LiveOnly, Status::FileOnly]
        .into_iter()
        .filter_map(|status| {
            let lines: Vec<String> = report
                .entries
                .iter()
                .filter(|e| e.status == Some(status))
                .map(|e| {
                    let g = &e.grant;
                    format!(
                        "{} -> {} ({}) {} via {}",
                        g.user, g.account, g.account_id, g.role, g.group
                    )
                })
                .collect();
            let heading = format!("{}role  {}", status.mark(), status.describe());
            (!lines.is_empty()).then_some((heading, lines))
        })
        .collect()
}

pub fn render_text(report: &AccessReport) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut header = vec!["USER".to_owned()];
    header.extend(report.accounts.iter().map(|a| a.name.clone()));
    rows.push(header);
    let mut ids = vec![String::new()];
    ids.extend(report.accounts.iter().map(|a| a.id.clone()));
    rows.push(ids);
    for user in &report.users {
        let mut row = vec![user.clone()];
        row.extend(report.accounts.iter().map(|a| cell(report, user, &a.id)));
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(value, width)| format!("{value:<width$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    if report.users.is_empty() {
        out.push_str("(no users)\n");
    }
    write_sections(&mut out, report, "Ending:", str::to_owned, |line| {
        format!("  {line}")
    });
    out
}

/// What follows the table in both the text and the Markdown report, each
/// worded by the format: the grants that end, then, when compared with live,
/// each difference and the summary.
fn write_sections(
    out: &mut String,
    report: &AccessReport,
    ending_heading: &str,
    heading: fn(&str) -> String,
    item: fn(&str) -> String,
) {
    let ending = ending_lines(report);
    if !ending.is_empty() {
        let _ = writeln!(out, "\n{ending_heading}");
        for line in ending {
            let _ = writeln!(out, "{}", item(&line));
        }
    }
    if report.compared_with_live {
        for (section, lines) in difference_sections(report) {
            let _ = writeln!(out, "\n{}", heading(&section));
            for line in lines {
                let _ = writeln!(out, "{}", item(&line));
            }
        }
        let _ = writeln!(out, "\n{}", summary(report));
    }
}

/// `user -> account (id) role until DAY`, for each grant with an end.
fn ending_lines(report: &AccessReport) -> Vec<String> {
    report
        .grants()
        .filter_map(|g| {
            let until = g.until.as_ref()?;
            Some(format!(
                "{} -> {} ({}) {} until {until}",
                g.user, g.account, g.account_id, g.role
            ))
        })
        .collect()
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

/// Long form: one record per user, account, role and group; with `--live`
/// a `status` column (`both`, `file-only`, `live-only`).
pub fn render_csv(report: &AccessReport) -> String {
    let mut header = vec!["user", "account", "account_id", "role", "role_arn", "group"];
    let with_until = report.grants().any(|g| g.until.is_some());
    if with_until {
        header.push("until");
    }
    if report.compared_with_live {
        header.push("status");
    }
    let mut out = header.join(",") + "\n";
    for entry in &report.entries {
        let g = &entry.grant;
        let mut fields = vec![
            csv_field(&g.user),
            csv_field(&g.account),
            csv_field(&g.account_id),
            csv_field(&g.role),
            csv_field(&g.role_arn),
            csv_field(&g.group),
        ];
        if with_until {
            fields.push(g.until.clone().unwrap_or_default());
        }
        if let Some(status) = entry.status {
            fields.push(status_name(status).to_owned());
        }
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    out
}

pub(crate) fn status_name(status: Status) -> &'static str {
    match status {
        Status::Both => "both",
        Status::FileOnly => "file-only",
        Status::LiveOnly => "live-only",
    }
}

pub fn render_json(report: &AccessReport) -> String {
    let mut doc = json!({
        "format_version": FORMAT_VERSION,
        "compared_with_live": report.compared_with_live,
        "accounts": report.accounts,
        "roles": report.roles,
        "users": report.users,
        "grants": report.entries,
    });
    if report.compared_with_live {
        let count = |s| count(report, s);
        doc["summary"] = json!({
            "both": count(Status::Both),
            "file_only": count(Status::FileOnly),
            "live_only": count(Status::LiveOnly),
        });
    }
    serde_json::to_string_pretty(&doc).expect("the access report serialises") + "\n"
}

fn md_escape(value: &str) -> String {
    value.replace('|', "\\|")
}

pub fn render_markdown(report: &AccessReport) -> String {
    let mut out = String::from("| user |");
    for account in &report.accounts {
        let _ = write!(
            out,
            " {} (`{}`) |",
            md_escape(&account.name),
            md_escape(&account.id)
        );
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(report.accounts.len()));
    out.push('\n');
    for user in &report.users {
        let _ = write!(out, "| {} |", md_escape(user));
        for account in &report.accounts {
            let value = cell(report, user, &account.id);
            let shown = if value == "-" {
                " ".to_owned()
            } else {
                format!("`{value}`")
            };
            let _ = write!(out, " {shown} |");
        }
        out.push('\n');
    }
    write_sections(
        &mut out,
        report,
        "**Ending:**\n",
        |heading| {
            let (mark, text) = heading.split_once("  ").unwrap_or(("", heading));
            format!("`{mark}` **{text}**\n")
        },
        |line| format!("- `{line}`"),
    );
    out
}
