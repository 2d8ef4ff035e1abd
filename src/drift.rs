//! Drift: every difference between the live estate and the file, named the
//! way a reviewer thinks of it ("added to group-admin by hand"), including
//! what jumpgate never touches (undeclared users and groups). Pure: built
//! from the desired state, the live state and the plan that would repair it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::hygiene::Hygiene;
use crate::live::{LiveState, StackInstanceStatus};
use crate::model::derive::managed_groups;
use crate::model::desired::DesiredState;
use crate::model::expiry::End;
use crate::model::names::AccountId;
use crate::plan::{Action, Address, Change, Kind, Plan, Reason, Stage};
use crate::templates::ROLES_STACK_SET;

pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftReport {
    pub format_version: u32,
    pub jump_account: AccountId,
    pub items: Vec<DriftItem>,
    pub stack_set_drift: StackSetDrift,
    pub summary: DriftSummary,
    /// Users and grants whose `until` day comes within a week.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expiring: Vec<End>,
    /// Credential hygiene from IAM's credential report; `None` when the
    /// report could not be read. Findings are not drift: see
    /// `Hygiene::is_clean` for their exit status.
    #[serde(default)]
    pub hygiene: Option<Hygiene>,
}

impl DriftReport {
    pub fn is_clean(&self) -> bool {
        self.items.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftItem {
    pub kind: Kind,
    pub address: String,
    /// The account the object lives in.
    pub account: AccountId,
    /// What differs, as a sentence.
    pub description: String,
    /// What is live (absent when the object is missing).
    pub live: Option<Value>,
    /// What the file says (absent when the file does not declare it).
    pub declared: Option<Value>,
    /// What the next `apply` does about it; `None`: reported only, since
    /// jumpgate leaves objects it does not own alone.
    pub repair: Option<Action>,
}

/// CloudFormation's own drift detection of the StackSet's resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum StackSetDrift {
    /// Detection ran; accounts whose roles differ from the template.
    Checked { drifted_accounts: Vec<String> },
    /// There is no StackSet to check yet.
    NoStackSet,
    /// The endpoint does not offer drift detection, or it failed.
    Unavailable { reason: String },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftSummary {
    pub total: usize,
    pub repaired_by_apply: usize,
    pub reported_only: usize,
}

pub fn detect(
    desired: &DesiredState,
    live: &LiveState,
    plan: &Plan,
    stack_set_drift: StackSetDrift,
) -> DriftReport {
    let jump = desired.jump.id.clone();
    // What an offboarding removes first is part of the user's own item.
    let mut items: Vec<DriftItem> = plan
        .changes
        .iter()
        .filter(|c| c.stage != Stage::UserDependents)
        .map(item_for_change)
        .collect();
    for user in &plan.unmanaged_users {
        let groups = live
            .users
            .get(user)
            .map(|u| u.groups.iter().cloned().collect::<Vec<_>>());
        items.push(DriftItem {
            kind: Kind::User,
            address: Address::new(Kind::User, user).to_string(),
            account: jump.clone(),
            description: format!(
                "user {user} exists in the jump account but is not declared (a possible back door; jumpgate leaves it alone)"
            ),
            live: Some(serde_json::json!({"name": user, "groups": groups})),
            declared: None,
            repair: None,
        });
    }
    let wanted_groups = managed_groups(desired);
    for group in live.groups.values() {
        let declared = wanted_groups.keys().any(|g| g.as_str() == group.name);
        if !group.is_owned() && !declared {
            items.push(DriftItem {
                kind: Kind::Group,
                address: Address::new(Kind::Group, &group.name).to_string(),
                account: jump.clone(),
                description: format!(
                    "group {} exists in the jump account but is not declared (a possible back door; jumpgate leaves it alone)",
                    group.name
                ),
                live: Some(serde_json::json!({
                    "name": group.name,
                    "path": group.path,
                    "inline_policies": group.inline_policies.keys().collect::<Vec<_>>(),
                    "attached_policies": group.attached_policies,
                })),
                declared: None,
                repair: None,
            });
        }
    }
    for instance in &live.stack_instances {
        let planned = plan
            .changes
            .iter()
            .any(|c| c.kind() == Kind::StackInstance && c.account == instance.account);
        if instance.status != StackInstanceStatus::Current && !planned {
            let account = instance.account.clone();
            items.push(DriftItem {
                kind: Kind::StackInstance,
                address: Address::of_part(
                    Kind::StackInstance,
                    ROLES_STACK_SET,
                    format!("{}/{}", instance.account, instance.region),
                )
                .to_string(),
                account,
                description: format!(
                    "the roles in account {} ({}) are {}: {}",
                    instance.account,
                    instance.region,
                    instance.status,
                    instance
                        .status_reason
                        .as_deref()
                        .unwrap_or("no reason given")
                ),
                live: Some(serde_json::json!(instance)),
                declared: None,
                repair: None,
            });
        }
    }
    if let StackSetDrift::Checked { drifted_accounts } = &stack_set_drift {
        for account in drifted_accounts {
            let Ok(id) = AccountId::new(account) else {
                continue;
            };
            items.push(DriftItem {
                kind: Kind::StackInstance,
                address: Address::of_part(Kind::StackInstance, ROLES_STACK_SET, account)
                    .to_string(),
                account: id,
                description: format!(
                    "CloudFormation drift detection: the roles in account {account} were changed outside the StackSet"
                ),
                live: None,
                declared: None,
                repair: None,
            });
        }
    }
    let repaired_by_apply = items.iter().filter(|i| i.repair.is_some()).count();
    DriftReport {
        format_version: FORMAT_VERSION,
        jump_account: jump,
        summary: DriftSummary {
            total: items.len(),
            repaired_by_apply,
            reported_only: items.len() - repaired_by_apply,
        },
        items,
        stack_set_drift,
        expiring: desired.expiry.soon.clone(),
        hygiene: None,
    }
}

fn field<'a>(value: Option<&'a Value>, key: &str) -> &'a str {
    value
        .and_then(|v| v.get(key))
        .and_then(Value::as_str)
        .unwrap_or("?")
}

/// Names a planned repair as the drift it repairs.
fn item_for_change(change: &Change) -> DriftItem {
    let (before, after) = (change.before.as_ref(), change.after.as_ref());
    // The address without its kind: `group-admin/assume-role`.
    let subject = match &change.address.part {
        Some(part) => format!("{}/{part}", change.address.name),
        None => change.address.name.clone(),
    };
    let adopted = change.reason == Some(Reason::Adopt);
    use Action::{Create, Delete, Update};
    let description = match (change.kind(), change.action) {
        (Kind::Membership, Create) => format!(
            "user {} is not in group {}, which the file grants (removed by hand?)",
            field(after, "user"),
            field(after, "group")
        ),
        (Kind::Membership, Delete) => format!(
            "user {} is in group {}, which the file does not grant (added by hand?)",
            field(before, "user"),
            field(before, "group")
        ),
        (Kind::GroupPolicy, Update) => format!("the policy {subject} was edited"),
        (Kind::GroupPolicy, Create) => format!("the policy {subject} is missing"),
        (Kind::GroupPolicy, Delete) => {
            format!("the inline policy {subject} is not declared (added by hand?)")
        }
        (Kind::GroupPolicyAttachment, Create) => format!("{subject} is not attached"),
        (Kind::GroupPolicyAttachment, Delete) => {
            format!("{subject} is attached but not declared (added by hand?)")
        }
        (Kind::UserPolicy | Kind::UserPolicyAttachment, Delete) => {
            format!("{subject} gives a user permissions outside the groups (added by hand?)")
        }
        (Kind::User, Create) => {
            format!("user {subject} is declared but missing (deleted by hand?)")
        }
        (Kind::User, Update) if adopted => {
            format!("user {subject} exists without jumpgate's marker")
        }
        (Kind::User, Delete) => {
            format!("user {subject} is managed by jumpgate but no longer declared")
        }
        (Kind::Group, Create) => format!("group {subject} is missing"),
        (Kind::Group, Update) if adopted => {
            format!("group {subject} exists without jumpgate's marker")
        }
        (Kind::Group, Delete) => {
            format!("group {subject} is managed by jumpgate but no longer declared")
        }
        (Kind::LoginProfile, Create) => {
            format!("user {subject} has no console password (deleted by hand?)")
        }
        (Kind::LoginProfile, Delete) => {
            format!("user {subject} has a console password, which the file does not grant")
        }
        (Kind::StackSet, Create) => "the StackSet iam-roles is missing".to_owned(),
        (Kind::StackSet, Update) => {
            "the template or parameters of StackSet iam-roles changed".to_owned()
        }
        (Kind::StackInstance, Create) => format!(
            "the roles are missing in account {} (no stack instance)",
            change.account
        ),
        (Kind::StackInstance, Update) => format!(
            "the roles in account {} are {} since a StackSet operation failed there: {}",
            change.account,
            field(before, "status"),
            field(before, "reason")
        ),
        (Kind::StackInstance, Delete) => format!(
            "the roles are deployed in account {}, which the file does not declare",
            change.account
        ),
        (Kind::Stack, Create) => format!("the stack {subject} is missing"),
        (Kind::Stack, Update) => format!("the template or parameters of stack {subject} changed"),
        (Kind::ManagedPolicy, Create) => format!("the policy {subject} is missing"),
        (Kind::ManagedPolicy, Update) => format!("the policy {subject} was edited"),
        (Kind::PasswordPolicy, Create) => "the account has no password policy".to_owned(),
        (Kind::PasswordPolicy, Update) => "the password policy differs from the file".to_owned(),
        (_, action) => format!("{} needs {}", change.address, action_word(action)),
    };
    DriftItem {
        kind: change.kind(),
        address: change.address.to_string(),
        account: change.account.clone(),
        description,
        live: change.before.clone(),
        declared: change.after.clone(),
        repair: Some(change.action),
    }
}

fn action_word(action: Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Update => "updating",
        Action::Delete => "deleting",
    }
}
