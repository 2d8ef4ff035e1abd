//! The JSON plan: what `plan --format json` prints for scripts and what
//! `apply --plan` reads back, documented by `schema/plan.schema.json`.
//!
//! These types are the wire, kept apart from the domain `plan::Plan` on
//! purpose (as ripgrep's printer keeps its JSON messages apart from its
//! matches): scripts depend on this shape, so it changes only deliberately,
//! with `FORMAT_VERSION`, while the domain types change whenever the code
//! needs them to. The conversion is the one place where the two meet:
//! addresses become text and bootstrap hints the commands users run. The
//! small enums (`Action`, `Kind`, `Stage`, `Reason`) and the operations are
//! shared: their spellings are the vocabulary itself, pinned by the schema.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::bootstrap_command;
use super::diff::{self, Line};
use crate::access::AccessChanges;
use crate::model::expiry;
use crate::model::names::{AccountId, NameError, Region};
use crate::plan::{self, Action, Kind, Lockout, Operation, Reason, Stage};

/// The plan as JSON, pretty-printed.
pub(super) fn render(plan: &plan::Plan) -> String {
    let mut text = serde_json::to_string_pretty(&Plan::from(plan)).expect("plans serialise");
    text.push('\n');
    text
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// `plan::FORMAT_VERSION` when written; a reader refuses any other.
    pub format_version: u32,
    pub jump_account: AccountId,
    pub region: Region,
    pub fingerprint: String,
    #[serde(default)]
    pub jumpgate_version: String,
    #[serde(default)]
    pub inputs_digest: String,
    pub changes: Vec<Change>,
    #[serde(default)]
    pub access_changes: AccessChanges,
    pub unmanaged_users: Vec<String>,
    pub lockouts: Vec<Lockout>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blockers: Vec<String>,
    pub warnings: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bootstrap_needed: Vec<BootstrapHint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expiring: Vec<End>,
    pub summary: Summary,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub action: Action,
    pub kind: Kind,
    /// As the text plan prints it and `--only` takes it.
    pub address: String,
    pub account: AccountId,
    pub stage: Stage,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub operations: Vec<Operation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// What an update changes, as the text plan shows it; absent otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differences: Vec<Difference>,
}

/// One difference of an update (`render::diff`). Values absent on one side
/// are `null`; line diffs are unified-diff lines (`+`, `-` or a space, then
/// the line), template hunks separated by `...`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Difference {
    Field {
        name: String,
        before: Value,
        after: Value,
    },
    Value {
        before: Value,
        after: Value,
    },
    Statements {
        lines: Vec<String>,
    },
    Template {
        lines: Vec<String>,
    },
}

impl From<diff::Difference> for Difference {
    fn from(difference: diff::Difference) -> Self {
        let line = |line: &Line| format!("{}{}", line.tag.symbol(), line.text);
        match difference {
            diff::Difference::Field {
                name,
                before,
                after,
            } => Difference::Field {
                name,
                before: before.unwrap_or_default(),
                after: after.unwrap_or_default(),
            },
            diff::Difference::Value { before, after } => Difference::Value {
                before: before.unwrap_or_default(),
                after: after.unwrap_or_default(),
            },
            diff::Difference::Statements(lines) => Difference::Statements {
                lines: lines.iter().map(line).collect(),
            },
            diff::Difference::Template(lines) => Difference::Template {
                lines: lines
                    .iter()
                    .map(|l| l.as_ref().map_or_else(|| "...".to_owned(), line))
                    .collect(),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootstrapHint {
    pub account: String,
    pub account_id: AccountId,
    /// The command the account's owner runs.
    pub command: String,
}

/// A user's or a grant's end within a week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct End {
    pub user: String,
    /// The grant's role and project; absent when the whole user ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The last valid day, `YYYY-MM-DD`.
    pub until: String,
    pub days_left: i64,
}

impl From<&expiry::End> for End {
    fn from(end: &expiry::End) -> Self {
        Self {
            user: end.user.clone(),
            role: end.role.clone(),
            project: end.project.clone(),
            until: end.until.clone(),
            days_left: end.days_left,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
}

impl Plan {
    /// Checks every name the operations carry as the file's names are
    /// checked, so a tampered saved plan cannot smuggle in a path
    /// (`../../x`) or a name AWS would never hold.
    pub fn check_names(&self) -> Result<(), NameError> {
        self.changes
            .iter()
            .flat_map(|c| &c.operations)
            .try_for_each(Operation::check_names)
    }
}

impl From<&plan::Plan> for Plan {
    fn from(plan: &plan::Plan) -> Self {
        Self {
            format_version: plan::FORMAT_VERSION,
            jump_account: plan.jump_account.clone(),
            region: plan.region.clone(),
            fingerprint: plan.fingerprint.clone(),
            jumpgate_version: plan.jumpgate_version.clone(),
            inputs_digest: plan.inputs_digest.clone(),
            changes: plan.changes.iter().map(Change::from).collect(),
            access_changes: plan.access_changes.clone(),
            unmanaged_users: plan.unmanaged_users.clone(),
            lockouts: plan.lockouts.clone(),
            blockers: plan.blockers.clone(),
            warnings: plan.warnings.clone(),
            bootstrap_needed: plan
                .bootstrap_needed
                .iter()
                .map(|hint| BootstrapHint {
                    account: hint.account.clone(),
                    account_id: hint.account_id.clone(),
                    command: bootstrap_command(hint),
                })
                .collect(),
            expiring: plan.expiring.iter().map(End::from).collect(),
            summary: Summary {
                add: plan.summary.add,
                change: plan.summary.change,
                destroy: plan.summary.destroy,
            },
        }
    }
}

impl From<&plan::Change> for Change {
    fn from(change: &plan::Change) -> Self {
        Self {
            action: change.action,
            kind: change.kind(),
            address: change.address.to_string(),
            account: change.account.clone(),
            stage: change.stage,
            before: change.before.clone(),
            after: change.after.clone(),
            operations: change.operations.clone(),
            reason: change.reason,
            differences: diff::differences(change)
                .into_iter()
                .map(Difference::from)
                .collect(),
        }
    }
}
