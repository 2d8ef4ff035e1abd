//! Accounts, from the StackSet's instances and the project groups'
//! policies, and the names the file gives them.

use std::collections::{BTreeMap, BTreeSet};

use super::ImportInput;
use super::groups::{GroupRole, KnownGroup};
use crate::live::LiveState;
use crate::model::names::{AccountId, AccountName, ProjectName};

/// The name the file gives the jump account (the language's default).
const JUMP_NAME: &str = "jump";

/// The member accounts, by project.
pub(super) struct ImportedAccounts {
    /// Whether the StackSet (when there is one) reaches the jump account.
    pub(super) jump_is_target: bool,
    /// Each project's accounts, in name order.
    pub(super) projects: BTreeMap<ProjectName, Vec<(AccountName, AccountId)>>,
    /// Accounts in no project, in name order.
    pub(super) loose: Vec<(AccountName, AccountId)>,
    /// How many member accounts there are.
    pub(super) members: usize,
}

/// The StackSet's targets, and any account a project group names.
pub(super) fn from_instances_and_groups(
    input: &ImportInput,
    groups: &BTreeMap<String, KnownGroup>,
    notes: &mut Vec<String>,
) -> ImportedAccounts {
    let live = input.live;
    let jump = input.jump_account.as_str();
    let has_stack_set = live.live_stack_set().is_some();
    let instance_accounts = if has_stack_set {
        instance_accounts(input, notes)
    } else {
        BTreeSet::new()
    };
    let jump_is_target = !has_stack_set || instance_accounts.iter().any(|a| a.as_str() == jump);
    let ProjectMembers {
        project_of,
        projects,
    } = project_accounts(jump, groups, notes);
    let mut member_ids: BTreeSet<AccountId> = instance_accounts
        .iter()
        .filter(|a| a.as_str() != jump)
        .cloned()
        .collect();
    for id in project_of.keys() {
        if has_stack_set && !instance_accounts.contains(id) {
            notes.push(format!(
                "account {id} is named by a project group but has no stack instance of iam-roles; the plan creates one"
            ));
        }
        member_ids.insert(id.clone());
    }
    let names = account_names(live, &member_ids);
    ImportedAccounts {
        jump_is_target,
        projects: projects
            .iter()
            .map(|(project, ids)| (project.clone(), in_name_order(ids.iter(), &names)))
            .collect(),
        loose: in_name_order(
            member_ids.iter().filter(|id| !project_of.contains_key(*id)),
            &names,
        ),
        members: member_ids.len(),
    }
}

fn in_name_order<'a>(
    ids: impl Iterator<Item = &'a AccountId>,
    names: &BTreeMap<AccountId, AccountName>,
) -> Vec<(AccountName, AccountId)> {
    let mut accounts: Vec<(AccountName, AccountId)> =
        ids.map(|id| (names[id].clone(), id.clone())).collect();
    accounts.sort_by(|a, b| a.0.cmp(&b.0));
    accounts
}

/// The accounts of the StackSet's instances in the home region.
fn instance_accounts(input: &ImportInput, notes: &mut Vec<String>) -> BTreeSet<AccountId> {
    let region = input.region.as_str();
    let mut accounts = BTreeSet::new();
    for instance in &input.live.stack_instances {
        if instance.region != region {
            notes.push(format!(
                "StackSet iam-roles has an instance in account {} in {}, outside the home region {region}; the plan removes it",
                instance.account, instance.region
            ));
            continue;
        }
        accounts.insert(instance.account.clone());
    }
    accounts
}

/// The accounts the project groups name: each account's project, and each
/// project's accounts.
struct ProjectMembers {
    project_of: BTreeMap<AccountId, ProjectName>,
    projects: BTreeMap<ProjectName, BTreeSet<AccountId>>,
}

/// An account belongs to one project; the jump account to none.
fn project_accounts(
    jump: &str,
    groups: &BTreeMap<String, KnownGroup>,
    notes: &mut Vec<String>,
) -> ProjectMembers {
    let mut project_of: BTreeMap<AccountId, ProjectName> = BTreeMap::new();
    let mut projects: BTreeMap<ProjectName, BTreeSet<AccountId>> = BTreeMap::new();
    for group in groups.values() {
        let GroupRole::Project {
            project, accounts, ..
        } = &group.role
        else {
            continue;
        };
        let members = projects.entry(project.clone()).or_default();
        for account in accounts {
            if account.as_str() == jump {
                notes.push(format!(
                    "group {} names the jump account {jump}, which cannot be in a project; the plan takes it out of the group's policy",
                    group.name
                ));
                continue;
            }
            match project_of.get(account) {
                Some(first) if first != project => notes.push(format!(
                    "account {account} is in the groups of projects {first} and {project}; an account belongs to one project, so it is imported into {first} and the plan takes it out of {}",
                    group.name
                )),
                _ => {
                    project_of.insert(account.clone(), project.clone());
                    members.insert(account.clone());
                }
            }
        }
    }
    ProjectMembers {
        project_of,
        projects,
    }
}

/// A name per member account: the organization's name for it when known
/// and usable in the file, else `account-<id>`; unique without regard to
/// case, the jump account's name included.
fn account_names(live: &LiveState, ids: &BTreeSet<AccountId>) -> BTreeMap<AccountId, AccountName> {
    let mut taken: BTreeSet<String> = [JUMP_NAME.to_owned()].into();
    let mut names = BTreeMap::new();
    let fallback = |id: &AccountId| {
        AccountName::new(&format!("account-{id}")).expect("account-<12 digits> is a valid name")
    };
    for id in ids {
        let from_org = live
            .organization
            .as_ref()
            .and_then(|o| o.accounts.iter().find(|a| a.id == *id))
            .and_then(|a| usable_name(&a.name));
        let name = match from_org {
            Some(name) if !taken.contains(&name.as_str().to_lowercase()) => name,
            _ => fallback(id),
        };
        taken.insert(name.as_str().to_lowercase());
        names.insert(id.clone(), name);
    }
    names
}

/// An organization account name made fit for the file: characters the
/// language does not allow become `-`.
fn usable_name(raw: &str) -> Option<AccountName> {
    let mut name = String::new();
    for c in raw.trim().chars() {
        let c = if c.is_ascii_alphanumeric() || "._-".contains(c) {
            c
        } else {
            '-'
        };
        if !(c == '-' && name.ends_with('-')) {
            name.push(c);
        }
    }
    let name = name.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
    let name: String = name.chars().take(AccountName::MAX_LEN).collect();
    AccountName::new(name.trim_end_matches('-')).ok()
}
