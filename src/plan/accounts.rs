//! Accounts: in Organizations mode, creating the accounts the file gives only
//! by e-mail, matching the others, and bootstrapping the StackSet execution
//! role through the organization's access role; without Organizations,
//! naming the accounts that still need `jumpgate bootstrap`. Pure.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::{Action, Address, Change, Kind, Operation, Stage};
use crate::live::{AccountStatus, LiveState, Membership};
use crate::model::derive::targets;
use crate::model::desired::DesiredState;
use crate::model::names::AccountId;
use crate::templates::{EXECUTION_ROLE_STACK, execution_role, execution_role_parameters};

/// An account that needs the StackSet execution role before its stack
/// instance can be created: its owner runs `jumpgate bootstrap` for it
/// (the renderers write the command).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapHint {
    pub account: String,
    pub account_id: AccountId,
    /// The desired state the command should read; `None` for the default
    /// `state`, which the command reads without being told.
    pub state: Option<PathBuf>,
}

impl BootstrapHint {
    /// Makes the command read the desired state at `path`, the one planned.
    pub fn read_state_at(&mut self, path: &Path) {
        self.state = (path != Path::new("state")).then(|| path.to_owned());
    }
}

/// The desired state with account ids filled in from the organization,
/// matched by e-mail, for accounts the file gives without an id.
pub fn resolve_account_ids(desired: &DesiredState, live: &LiveState) -> DesiredState {
    let mut resolved = desired.clone();
    let Some(org) = &live.organization else {
        return resolved;
    };
    for account in resolved.accounts.iter_mut().filter(|a| a.id.is_none()) {
        let Some(email) = &account.email else {
            continue;
        };
        let found = org.accounts.iter().find(|o| {
            o.email.eq_ignore_ascii_case(email.as_str()) && o.status != AccountStatus::Suspended
        });
        account.id = found.map(|o| o.id.clone());
    }
    resolved
}

/// Changes and notes about accounts: creation, bootstrap, unmanaged ones.
pub struct AccountPlan {
    pub changes: Vec<Change>,
    pub warnings: Vec<String>,
    pub bootstrap_needed: Vec<BootstrapHint>,
}

/// `resolved` is the desired state after `resolve_account_ids`.
pub fn plan_accounts(resolved: &DesiredState, live: &LiveState) -> AccountPlan {
    let jump = resolved.jump.id.clone();
    let mut plan = AccountPlan {
        changes: Vec::new(),
        warnings: Vec::new(),
        bootstrap_needed: Vec::new(),
    };
    let working_instance = |id: &AccountId| {
        live.stack_instances
            .iter()
            .any(|i| i.is_current_in(id, resolved.jump.region.as_str()))
    };
    match (&resolved.organization, &live.organization) {
        (Some(organization), Some(org)) => {
            for account in resolved.accounts.iter().filter(|a| a.id.is_none()) {
                let Some(email) = &account.email else {
                    continue;
                };
                plan.changes.push(Change {
                    action: Action::Create,
                    address: Address::new(Kind::Account, account.name.as_str()),
                    account: jump.clone(),
                    stage: Stage::CreateAccounts,
                    reason: None,
                    before: None,
                    after: Some(json!({
                        "name": account.name,
                        "email": email,
                        "id": "(known after apply)",
                        "then": "bootstrap through the access role, stack instance, group policies",
                    })),
                    operations: vec![Operation::CreateAccount {
                        name: account.name.to_string(),
                        email: email.to_string(),
                    }],
                });
            }
            // An account outside the organization has no access role to
            // assume: like any account without Organizations, only its owner
            // can put the execution role there.
            let outside = |id: &AccountId| org.membership(id) == Membership::Outside;
            for account in &resolved.accounts {
                let Some(id) = &account.id else { continue };
                if outside(id) {
                    plan.warnings.push(format!(
                        "account {} ({id}) is not in the organization, so jumpgate cannot reach it through the access role",
                        account.name
                    ));
                }
            }
            // An invited member has no access role unless its owner made
            // one: like an outside account, only its owner can bootstrap it.
            let unreachable = |id: &AccountId| live.unreachable_accounts.contains(id);
            for target in targets(resolved).iter().filter(|t| unreachable(&t.id)) {
                plan.warnings.push(format!(
                    "account {} ({}) is in the organization, but its access role {} cannot be assumed with these credentials (an account invited into the organization has none); bootstrap it with its own credentials",
                    target.name, target.id, organization.access_role
                ));
            }
            for target in targets(resolved).iter().filter(|t| {
                t.id != jump && (outside(&t.id) || unreachable(&t.id)) && !working_instance(&t.id)
            }) {
                plan.bootstrap_needed
                    .push(bootstrap_hint(target.name.as_str(), &target.id));
            }
            for org_account in &org.accounts {
                let declared = org_account.id == jump
                    || resolved
                        .accounts
                        .iter()
                        .any(|a| a.id.as_ref() == Some(&org_account.id));
                if !declared && org_account.status != AccountStatus::Suspended {
                    plan.warnings.push(format!(
                        "account {} ({}) is in the organization but not in the file; jumpgate never closes accounts",
                        org_account.name, org_account.id
                    ));
                }
            }
            let parameters = execution_role_parameters(&jump);
            for target in targets(resolved)
                .iter()
                .filter(|t| t.id != jump && !outside(&t.id))
            {
                if live.execution_role_stacks.get(&target.id) != Some(&false) {
                    continue;
                }
                plan.changes.push(Change {
                    action: Action::Create,
                    address: Address::of_part(Kind::Stack, EXECUTION_ROLE_STACK, &target.id),
                    account: target.id.clone(),
                    stage: Stage::BootstrapAccounts,
                    reason: None,
                    before: None,
                    after: Some(json!({
                        "account": target.id,
                        "name": target.name,
                        "through": organization.access_role,
                        "parameters": parameters,
                    })),
                    operations: vec![Operation::BootstrapAccount {
                        account: target.id.clone(),
                        access_role: organization.access_role.to_string(),
                        template: execution_role(),
                        parameters: parameters.clone(),
                    }],
                });
            }
        }
        // Without Organizations jumpgate has no credentials in member
        // accounts: an account without a working stack instance may lack
        // the execution role, and only its owner can put it there.
        _ => {
            for target in targets(resolved)
                .iter()
                .filter(|t| t.id != jump && !working_instance(&t.id))
            {
                plan.bootstrap_needed
                    .push(bootstrap_hint(target.name.as_str(), &target.id));
            }
        }
    }
    plan
}

fn bootstrap_hint(account: &str, id: &AccountId) -> BootstrapHint {
    BootstrapHint {
        account: account.to_owned(),
        account_id: id.clone(),
        state: None,
    }
}
