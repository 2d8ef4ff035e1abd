//! Renderers: a `Plan` in, text for people, JSON for scripts and saved plans,
//! Markdown for pull-request comments; and the drift, access and profiles
//! reports. They only read what they are given; adding a format never
//! touches the planner.

pub mod access;
mod diff;
mod drift;
mod hygiene;
pub mod kdl;
mod markdown;
mod mermaid;
pub mod profiles;
mod text;
pub mod wire;

#[cfg(test)]
mod tests;

use std::path::Path;

use crate::access::Direction;
use crate::plan::{BootstrapHint, Change, Plan};

pub use drift::render_drift;

/// How a plan is written out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Format {
    /// Terraform-like, for a terminal or a log.
    #[default]
    Text,
    /// The plan as data; also the saved-plan file format of `apply --plan`.
    Json,
    /// A pull-request comment.
    Markdown,
}

/// Presentation choices that do not change what is said.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    /// ANSI colours; only the text format uses them, and it reads the same without.
    pub color: bool,
}

pub fn render(plan: &Plan, format: Format, style: Style) -> String {
    match format {
        Format::Text => text::render(plan, style),
        Format::Json => wire::render(plan),
        Format::Markdown => markdown::render(plan),
    }
}

/// Introduces the accounts that may still need the StackSet execution role.
const BOOTSTRAP_NEEDED: &str = "Accounts without a working stack instance need the StackSet execution role first; if not done yet, run:";

/// The summary as a sentence, shared by the text and Markdown formats.
fn summary_line(plan: &Plan) -> String {
    if plan.is_empty() {
        "No changes. Live state matches the desired state.".to_owned()
    } else {
        format!("Plan: {}.", counts(plan))
    }
}

/// Names as Markdown code spans, comma-separated: how the Markdown reports
/// list users.
fn code_list(names: &[String]) -> String {
    let spans: Vec<String> = names.iter().map(|name| format!("`{name}`")).collect();
    spans.join(", ")
}

/// The plan's counts, worded once for the summary line and the Markdown title.
fn counts(plan: &Plan) -> String {
    let s = plan.summary;
    format!(
        "{} to add, {} to change, {} to destroy",
        s.add, s.change, s.destroy
    )
}

/// The accounts the changes are in, in order of first appearance, each with
/// its changes in plan order.
fn by_account(plan: &Plan) -> Vec<(&str, Vec<&Change>)> {
    let mut groups: Vec<(&str, Vec<&Change>)> = Vec::new();
    for change in &plan.changes {
        let account = change.account.as_str();
        match groups.iter_mut().find(|(a, _)| *a == account) {
            Some((_, changes)) => changes.push(change),
            None => groups.push((account, vec![change])),
        }
    }
    groups
}

/// A heading for an account: its id, and its name when the plan knows it
/// (a declared account, or one a lockout names).
fn account_heading(plan: &Plan, account: &str) -> String {
    if account == plan.jump_account.as_str() {
        return format!("Account {account} (jump account)");
    }
    let declared = plan
        .account_names
        .iter()
        .find(|(id, _)| id.as_str() == account)
        .map(|(_, name)| name);
    let locked_out = || {
        plan.lockouts
            .iter()
            .find(|l| l.account_id == account)
            .map(|l| &l.account)
    };
    match locked_out().or(declared) {
        Some(name) => format!("Account {account} ({name})"),
        None => format!("Account {account}"),
    }
}

/// The command that puts the StackSet execution role into a hint's account,
/// reading the desired state the plan was made from.
fn bootstrap_command(hint: &BootstrapHint) -> String {
    let state = hint
        .state
        .as_deref()
        .map(|path| format!("{} ", shell_word(path)))
        .unwrap_or_default();
    format!(
        "jumpgate bootstrap {state}--account {} --profile <a profile with credentials for {}>",
        hint.account, hint.account_id
    )
}

/// A path as one word of a POSIX shell command line.
fn shell_word(path: &Path) -> String {
    let path = path.display().to_string();
    let safe = |c: char| c.is_ascii_alphanumeric() || "_./+:=,@%-".contains(c);
    if !path.is_empty() && path.chars().all(safe) {
        path
    } else {
        format!("'{}'", path.replace('\'', "'\\''"))
    }
}

/// What `apply` will say about a lockout, shared by the text and Markdown formats.
const LOCKOUT_REFUSAL: &str = "apply will refuse unless --allow-lockout is given.";

const UNMANAGED_USERS: &str =
    "Users in the jump account that jumpgate does not manage (left alone):";

/// The access changes as lines, each with its symbol (`+` gain, `-` loss,
/// `!` a moment without access during apply), shared by the text and
/// Markdown formats. Empty when the plan changes nobody's access.
fn access_lines(plan: &Plan) -> Vec<(char, String)> {
    let changes = &plan.access_changes;
    let mut lines: Vec<(char, String)> = changes
        .users
        .iter()
        .map(|c| {
            let (symbol, verb, via) = match c.change {
                Direction::Gain => ('+', "gains", "via"),
                Direction::Loss => ('-', "loses", "had via"),
            };
            let via = if c.via.is_empty() {
                String::new()
            } else {
                format!(", {via} {}", c.via.join(", "))
            };
            let place = if c.account == c.account_id {
                c.account.clone()
            } else {
                format!("{} ({})", c.account, c.account_id)
            };
            (
                symbol,
                format!("{} {verb} {} in {place}{via}", c.user, c.role),
            )
        })
        .collect();
    lines.extend(changes.mfa_enforcement.iter().map(|m| match m.change {
        Direction::Gain => ('+', format!("group {} gains MFA enforcement", m.group)),
        Direction::Loss => ('-', format!("group {} loses MFA enforcement", m.group)),
    }));
    lines.extend(
        changes
            .interruptions
            .iter()
            .map(|i| ('!', format!("during apply: {i}"))),
    );
    lines
}

/// Said when a plan with changes changes nobody's access.
const NO_ACCESS_CHANGES: &str =
    "Access changes: none (nobody gains or loses a role; MFA enforcement unchanged).";

/// Introduces the changes `plan` refuses, shared by the text and Markdown formats.
const BLOCKERS: &str = "Cannot apply: these changes would fail, for reasons in the live state:";
