//! `import`: the desired state that matches a live jump account, written as
//! KDL. Pure: a function of what `observe::observe_all` read.
//!
//! Where each part comes from:
//! - roles: the resources of the `iam-roles` StackSet template, JSON or
//!   YAML (`RoleName` `role-<key>`, `ManagedPolicyArns`,
//!   `MaxSessionDuration`); the three defaults when there is no StackSet;
//! - accounts: the StackSet's instances in the home region, named after the
//!   organization's account names when those could be read, else
//!   `account-<id>`;
//! - projects: the project groups `group-<role>-<project>` and the account
//!   ARNs in their assume-role policies, inline or customer-managed
//!   (`policy-assume-<role>-role-<project>` in hand-built estates); accounts
//!   in no project group are top-level accounts;
//! - users: every IAM user jumpgate owns, and every other one that follows
//!   the pattern, their `access` from memberships of the groups above,
//!   `console=#false` without a login profile. Users outside the pattern
//!   (policies of their own, access keys, no group of the pattern) are
//!   written commented out with the reason, and left alone;
//! - the password policy, when the account has one.
//!
//! Objects without jumpgate's marker are imported all the same: the plan on
//! the imported file adopts them with explicit updates.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde_json::Value;

use crate::live::{LiveGroup, LiveState};
use crate::model::derive::MAX_GROUPS_PER_USER;
use crate::model::desired::{PasswordPolicy, RoleDef};
use crate::model::names::{
    AccountId, AccountName, PolicyArn, ProjectName, Region, RoleKey, UserName,
};
use crate::policy::{one_or_many, statements};

/// What to import from.
pub struct ImportInput<'a> {
    /// The account the credentials belong to: the jump account.
    pub jump_account: &'a AccountId,
    /// The home region: where the StackSet and its instances live.
    pub region: &'a Region,
    pub live: &'a LiveState,
    /// When the import ran, as written in the file's header (RFC 3339).
    pub imported_at: &'a str,
}

/// The imported file and what a reviewer should know about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub text: String,
    /// Things that could not be expressed, or that the first plan changes.
    pub notes: Vec<String>,
    pub summary: ImportSummary,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub roles: usize,
    pub projects: usize,
    pub accounts: usize,
    pub users: usize,
    /// Users outside the pattern, written commented out and left alone.
    pub unmanaged: usize,
    /// Users and groups without jumpgate's marker, which the plan adopts.
    pub to_adopt: usize,
}

/// The name the file gives the jump account (the language's default).
const JUMP_NAME: &str = "jump";
const SECONDS_PER_HOUR: u64 = 3600;

pub fn import(input: &ImportInput) -> Imported {
    let mut notes = Vec::new();
    let live = input.live;
    let (roles, roles_from_stack_set) = roles(live, &mut notes);
    let groups = classify_groups(live, &roles, &mut notes);
    let jump = input.jump_account.as_str();
    let region = input.region.as_str();

    // Accounts: the StackSet's targets, and any account a project group names.
    let stack_set = live.live_stack_set();
    let mut instance_accounts = BTreeSet::new();
    if stack_set.is_some() {
        for instance in &live.stack_instances {
            if instance.region != region {
                notes.push(format!(
                    "StackSet iam-roles has an instance in account {} in {}, outside the home region {region}; the plan removes it",
                    instance.account, instance.region
                ));
                continue;
            }
            instance_accounts.insert(instance.account.clone());
        }
    }
    let jump_is_target =
        stack_set.is_none() || instance_accounts.iter().any(|a| a.as_str() == jump);
    let mut project_of: BTreeMap<AccountId, ProjectName> = BTreeMap::new();
    let mut projects: BTreeMap<ProjectName, BTreeSet<AccountId>> = BTreeMap::new();
    for group in groups.values() {
        if let GroupRole::Project {
            project, accounts, ..
        } = &group.role
        {
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
    }
    let mut member_ids: BTreeSet<AccountId> = instance_accounts
        .iter()
        .filter(|a| a.as_str() != jump)
        .cloned()
        .collect();
    for id in project_of.keys() {
        if stack_set.is_some() && !instance_accounts.contains(id) {
            notes.push(format!(
                "account {id} is named by a project group but has no stack instance of iam-roles; the plan creates one"
            ));
        }
        member_ids.insert(id.clone());
    }
    let names = account_names(live, &member_ids);

    let mut to_adopt = 0;
    let mut text = String::new();
    let _ = writeln!(
        text,
        "// Imported by `jumpgate import` from jump account {jump} ({region}) at {}.",
        input.imported_at
    );
    text.push_str(
        "// Review it, then run `jumpgate plan`: it shows no changes where the live objects\n\
         // carry jumpgate's marker, and an explicit adoption (`update`) where they do not.\n",
    );
    if !notes.is_empty() {
        text.push_str(
            "// See the notes `jumpgate import` printed for what the plan would change.\n",
        );
    }
    text.push('\n');

    // The jump account.
    let target = if jump_is_target { "" } else { " target=#false" };
    match &live.password_policy {
        Some(policy) => {
            let _ = writeln!(
                text,
                "jump-account id={} region={}{target} {{",
                quote(jump),
                quote(region)
            );
            text.push_str(&password_policy_line(policy));
            text.push_str("}\n");
        }
        None => {
            let _ = writeln!(
                text,
                "jump-account id={} region={}{target}",
                quote(jump),
                quote(region)
            );
        }
    }
    if !jump_is_target {
        text.push_str(
            "// The StackSet has no instance in the jump account, so it receives no roles.\n",
        );
    }

    if let Some(org) = &live.organization
        && org.management_account.as_str() == jump
    {
        text.push_str(
            "\n// The jump account manages an AWS organization: accounts can be created from\n\
             // the file, and bootstrapped through the organization's access role.\n\
             organization\n",
        );
    }

    // Roles.
    text.push('\n');
    if roles_from_stack_set {
        text.push_str("// Roles, from the template of StackSet iam-roles.\n");
        let width = |of: &dyn Fn(&RoleDef) -> &str| {
            roles
                .values()
                .map(|r| quote(of(r)).len())
                .max()
                .unwrap_or(0)
        };
        let key_width = width(&|r| r.key.as_str());
        let policy_width = width(&|r| r.policy.as_str());
        for role in roles.values() {
            let _ = writeln!(
                text,
                "role {:<key_width$} policy={:<policy_width$} session-hours={}",
                quote(role.key.as_str()),
                quote(role.policy.as_str()),
                role.session_hours
            );
        }
    } else {
        text.push_str(
            "// No StackSet iam-roles was found: the three default roles apply\n\
             // (admin, developer, operator). Declare `role` nodes to change them.\n",
        );
    }

    // Projects and their accounts.
    let account_line = |out: &mut String, indent: &str, id: &AccountId, width: usize| {
        let name = quote(names[id].as_str());
        let _ = writeln!(
            out,
            "{indent}account {name:<width$} id={}",
            quote(id.as_str())
        );
    };
    if !projects.is_empty() {
        text.push_str("\n// Projects, from the assume-role policies of the project groups.\n");
    }
    for (project, accounts) in &projects {
        if accounts.is_empty() {
            let _ = writeln!(text, "project {}", quote(project.as_str()));
            continue;
        }
        let _ = writeln!(text, "project {} {{", quote(project.as_str()));
        let mut sorted: Vec<&AccountId> = accounts.iter().collect();
        sorted.sort_by(|a, b| names[*a].cmp(&names[*b]));
        let width = sorted
            .iter()
            .map(|a| quote(names[*a].as_str()).len())
            .max()
            .unwrap_or(0);
        for id in sorted {
            account_line(&mut text, "    ", id, width);
        }
        text.push_str("}\n");
    }
    let mut loose: Vec<&AccountId> = member_ids
        .iter()
        .filter(|id| !project_of.contains_key(*id))
        .collect();
    if !loose.is_empty() {
        text.push_str("\n// Accounts that receive the roles, in no project.\n");
        loose.sort_by(|a, b| names[*a].cmp(&names[*b]));
        let width = loose
            .iter()
            .map(|a| quote(names[*a].as_str()).len())
            .max()
            .unwrap_or(0);
        for id in loose {
            account_line(&mut text, "", id, width);
        }
    }

    // Users.
    let mut users = 0;
    let mut unmanaged = 0;
    let mut user_blocks = String::new();
    for user in live.users.values() {
        let name = match UserName::new(&user.name) {
            Ok(name) => name,
            Err(err) => {
                notes.push(format!("user skipped: {err}"));
                continue;
            }
        };
        let mut access: Vec<(bool, &RoleKey, Option<&ProjectName>)> = Vec::new();
        let mut foreign: Vec<&str> = Vec::new();
        for group in &user.groups {
            match groups.get(group.as_str()).map(|g| &g.role) {
                Some(GroupRole::Global(role)) => access.push((false, role, None)),
                Some(GroupRole::Project { role, project, .. }) => {
                    access.push((true, role, Some(project)))
                }
                None => foreign.push(group),
            }
        }
        access.sort();
        let own: Vec<&str> = user
            .inline_policies
            .iter()
            .map(String::as_str)
            .chain(
                user.attached_policies
                    .iter()
                    .map(|a| a.rsplit('/').next().unwrap_or(a)),
            )
            .collect();
        let reasons = outside_the_pattern(user, &access, &own);
        if !reasons.is_empty() {
            unmanaged += 1;
            let console = if user.login_profile == Some(false) {
                " console=#false"
            } else {
                ""
            };
            let _ = writeln!(
                user_blocks,
                "\n// Not adopted: {} {}. jumpgate leaves it alone.\n\
                 // To adopt it, uncomment the line below and add its `access` lines; the plan then\n\
                 // tags it, and removes its policies of its own (access comes from groups only).\n\
                 // user {}{console}",
                name,
                reasons.join(", "),
                quote(name.as_str())
            );
            notes.push(format!(
                "user {name} is left unmanaged: it {} (uncomment its block to adopt it)",
                reasons.join(", ")
            ));
            continue;
        }
        users += 1;
        // A user with remarks stands apart; the others follow one another.
        if !user.is_owned() || !foreign.is_empty() || !own.is_empty() {
            user_blocks.push('\n');
        }
        if !user.is_owned() {
            to_adopt += 1;
            user_blocks
                .push_str("// Not tagged managed-by=jumpgate: the first apply adopts this user.\n");
        }
        if !foreign.is_empty() {
            let _ = writeln!(
                user_blocks,
                "// Also in {}, which jumpgate does not manage{}.",
                foreign.join(", "),
                if foreign
                    .iter()
                    .any(|g| live.groups.get(*g).is_some_and(LiveGroup::is_owned))
                {
                    " (on jumpgate's path: the plan removes such groups)"
                } else {
                    " (left alone)"
                }
            );
        }
        if !own.is_empty() {
            let _ = writeln!(
                user_blocks,
                "// Has policies of its own ({}): jumpgate grants access through groups only,\n\
                 // so the plan removes them. Delete this block to leave the user alone instead.",
                own.join(", ")
            );
            notes.push(format!(
                "user {name} has policies of its own ({}); the plan removes them (access comes from groups only)",
                own.join(", ")
            ));
        }
        let console = if user.login_profile == Some(false) {
            " console=#false"
        } else {
            ""
        };
        let _ = write!(user_blocks, "user {}{console}", quote(name.as_str()));
        if access.is_empty() {
            user_blocks.push('\n');
            continue;
        }
        user_blocks.push_str(" {\n");
        if access.len() > MAX_GROUPS_PER_USER {
            notes.push(format!(
                "user {name} is in {} of jumpgate's groups, more than AWS's limit of {MAX_GROUPS_PER_USER}; the rest are commented out",
                access.len()
            ));
        }
        for (index, (_, role, project)) in access.iter().enumerate() {
            let comment = if index >= MAX_GROUPS_PER_USER {
                "// over AWS's limit of 10 groups: "
            } else {
                ""
            };
            match project {
                None => {
                    let _ = writeln!(user_blocks, "    {comment}access {}", quote(role.as_str()));
                }
                Some(project) => {
                    let _ = writeln!(
                        user_blocks,
                        "    {comment}access {} project={}",
                        quote(role.as_str()),
                        quote(project.as_str())
                    );
                }
            }
        }
        user_blocks.push_str("}\n");
    }
    if users + unmanaged > 0 {
        text.push_str("\n// Users, with their access from their group memberships.\n");
        text.push_str(&user_blocks);
    }
    to_adopt += groups.values().filter(|g| !g.owned).count();

    Imported {
        text,
        notes,
        summary: ImportSummary {
            roles: roles.len(),
            projects: projects.len(),
            accounts: member_ids.len() + 1,
            users,
            unmanaged,
            to_adopt,
        },
    }
}

/// Why a user jumpgate does not own is outside the jump-account pattern,
/// and so not adopted by default: a CI user with keys and a policy of its
/// own would break if jumpgate took it over. Empty for users to adopt.
fn outside_the_pattern(
    user: &crate::live::LiveUser,
    access: &[(bool, &RoleKey, Option<&ProjectName>)],
    own: &[&str],
) -> Vec<String> {
    if user.is_owned() {
        return Vec::new();
    }
    let mut reasons = Vec::new();
    if !own.is_empty() {
        reasons.push(format!("has policies of its own ({})", own.join(", ")));
    }
    let keys = user.dependents.as_ref().map_or(0, |d| d.access_keys.len());
    if keys > 0 {
        reasons.push(format!(
            "has {keys} access key{}",
            if keys == 1 { "" } else { "s" }
        ));
    }
    if access.is_empty() {
        reasons.push("is in no group of the jump-account pattern".to_owned());
    }
    reasons
}

/// The roles of the StackSet template, or the defaults (and `false`) when
/// there is no StackSet or its template declares none.
fn roles(live: &LiveState, notes: &mut Vec<String>) -> (BTreeMap<RoleKey, RoleDef>, bool) {
    let Some(set) = live.live_stack_set() else {
        return (RoleDef::defaults(), false);
    };
    let mut roles = BTreeMap::new();
    let resources = set.template["Resources"].as_object();
    for (logical_id, resource) in resources.into_iter().flatten() {
        if resource["Type"] != "AWS::IAM::Role" {
            continue;
        }
        let props = &resource["Properties"];
        let Some(key) = props["RoleName"]
            .as_str()
            .and_then(|n| n.strip_prefix("role-"))
            .and_then(|k| RoleKey::new(k).ok())
        else {
            notes.push(format!(
                "StackSet resource {logical_id} is not a role named role-<name>; not imported (the plan removes it from the template)"
            ));
            continue;
        };
        let arns: Vec<&str> = match &props["ManagedPolicyArns"] {
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            Value::String(one) => vec![one.as_str()],
            _ => Vec::new(),
        };
        let Some(policy) = arns.first().and_then(|a| PolicyArn::new(a).ok()) else {
            notes.push(format!(
                "role role-{key} in the StackSet has no managed policy ARN jumpgate can read; not imported"
            ));
            continue;
        };
        if arns.len() > 1 {
            notes.push(format!(
                "role role-{key} has {} managed policies; a role has one in the file, so it is imported with {policy} and the plan changes the template",
                arns.len()
            ));
        }
        let seconds = props["MaxSessionDuration"]
            .as_u64()
            .unwrap_or(SECONDS_PER_HOUR);
        let hours = (seconds / SECONDS_PER_HOUR).clamp(1, 12);
        if seconds != hours * SECONDS_PER_HOUR {
            notes.push(format!(
                "role role-{key} allows sessions of {seconds} seconds; the file counts whole hours from 1 to 12, so it is imported with {hours} and the plan changes the template"
            ));
        }
        roles.insert(
            key.clone(),
            RoleDef {
                key,
                policy,
                session_hours: hours as u8,
            },
        );
    }
    if roles.is_empty() {
        notes.push(
            "the template of StackSet iam-roles declares no role jumpgate can read; the default roles are imported".into(),
        );
        return (RoleDef::defaults(), false);
    }
    (roles, true)
}

/// What one of jumpgate's groups grants.
#[derive(Debug, Clone, PartialEq, Eq)]
enum GroupRole {
    /// `group-<role>`: the role everywhere.
    Global(RoleKey),
    /// `group-<role>-<project>`: the role in the accounts its policy names.
    Project {
        role: RoleKey,
        project: ProjectName,
        accounts: BTreeSet<AccountId>,
    },
}

struct KnownGroup {
    name: String,
    role: GroupRole,
    owned: bool,
}

/// The live groups that follow jumpgate's naming, with or without its
/// marker, by name.
fn classify_groups(
    live: &LiveState,
    roles: &BTreeMap<RoleKey, RoleDef>,
    notes: &mut Vec<String>,
) -> BTreeMap<String, KnownGroup> {
    let mut known = BTreeMap::new();
    for group in live.groups.values() {
        let role = match classify(group, &group_documents(group, live), roles) {
            Some(role) => role,
            None => {
                let members = live
                    .users
                    .values()
                    .filter(|u| u.groups.contains(&group.name))
                    .count();
                if group.is_owned() {
                    notes.push(format!(
                        "group {} is on jumpgate's path but matches no declared role or project; the plan deletes it",
                        group.name
                    ));
                } else if members > 0 {
                    notes.push(format!(
                        "group {} ({members} members) is not one of jumpgate's; its memberships are not imported and `drift` reports it",
                        group.name
                    ));
                }
                continue;
            }
        };
        known.insert(
            group.name.clone(),
            KnownGroup {
                name: group.name.clone(),
                role,
                owned: group.is_owned(),
            },
        );
    }
    known
}

fn classify(
    group: &LiveGroup,
    documents: &[&Value],
    roles: &BTreeMap<RoleKey, RoleDef>,
) -> Option<GroupRole> {
    let rest = group.name.strip_prefix("group-")?;
    if let Some(role) = roles.keys().find(|k| k.as_str() == rest) {
        return Some(GroupRole::Global(role.clone()));
    }
    let targets: Vec<(String, String)> =
        documents.iter().flat_map(|d| assumable_roles(d)).collect();
    // With roles `admin` and `admin-x`, `group-admin-x-y` is told apart by
    // the role its policy assumes; without a policy, the longest role wins.
    let mut candidates: Vec<(&RoleKey, ProjectName)> = roles
        .keys()
        .filter_map(|role| {
            let project = rest.strip_prefix(role.as_str())?.strip_prefix('-')?;
            Some((role, ProjectName::new(project).ok()?))
        })
        .collect();
    candidates.sort_by_key(|(role, _)| std::cmp::Reverse(role.as_str().len()));
    let (role, project) = candidates
        .iter()
        .find(|(role, _)| targets.iter().any(|(_, r)| r == role.as_str()))
        .or(candidates.first())
        .cloned()?;
    let accounts = targets
        .into_iter()
        .filter(|(_, r)| r == role.as_str())
        .filter_map(|(account, _)| AccountId::new(&account).ok())
        .collect();
    Some(GroupRole::Project {
        role: role.clone(),
        project,
        accounts,
    })
}

/// Every policy document of a group: inline ones (jumpgate's and hand-made),
/// and the customer-managed ones attached to it (hand-built estates grant
/// through those: `policy-assume-admin-role-<project>`).
fn group_documents<'a>(group: &'a LiveGroup, live: &'a LiveState) -> Vec<&'a Value> {
    let attached = group.attached_policies.iter().filter_map(|arn| {
        live.policies
            .values()
            .find(|p| p.arn == *arn)
            .map(|p| &p.document)
    });
    group.inline_policies.values().chain(attached).collect()
}

/// `(account, role key)` of each `arn:aws:iam::<account>:role/role-<key>`
/// an assume-role policy allows.
fn assumable_roles(document: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for statement in statements(document) {
        if statement["Effect"] != "Allow" {
            continue;
        }
        let resources = one_or_many(statement.get("Resource"));
        for resource in resources.into_iter().filter_map(Value::as_str) {
            let Some(rest) = resource
                .strip_prefix("arn:")
                .and_then(|r| r.split_once(":iam::"))
                .map(|(_, r)| r)
            else {
                continue;
            };
            let Some((account, role)) = rest.split_once(":role/") else {
                continue;
            };
            let role = role.rsplit('/').next().unwrap_or(role);
            if let Some(key) = role.strip_prefix("role-") {
                found.push((account.to_owned(), key.to_owned()));
            }
        }
    }
    found
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

fn password_policy_line(policy: &PasswordPolicy) -> String {
    let flag = |on: bool| if on { "#true" } else { "#false" };
    let mut properties = vec![
        format!("min-length={}", policy.min_length),
        format!("require-symbols={}", flag(policy.require_symbols)),
        format!("require-numbers={}", flag(policy.require_numbers)),
        format!("require-uppercase={}", flag(policy.require_uppercase)),
        format!("require-lowercase={}", flag(policy.require_lowercase)),
    ];
    if !policy.allow_users_to_change {
        properties.push("allow-users-to-change=#false".into());
    }
    if let Some(days) = policy.max_age_days {
        properties.push(format!("max-age-days={days}"));
    }
    if let Some(count) = policy.reuse_prevention {
        properties.push(format!("reuse-prevention={count}"));
    }
    if policy.hard_expiry {
        properties.push("hard-expiry=#true".into());
    }
    // Wrapped the way a person would, with KDL's line continuation.
    let mut out = String::from("    password-policy");
    let mut line_length = out.len();
    for property in properties {
        if line_length + 1 + property.len() > 96 {
            out.push_str(" \\\n       ");
            line_length = 7;
        }
        out.push(' ');
        out.push_str(&property);
        line_length += 1 + property.len();
    }
    out.push('\n');
    out
}

/// A KDL string.
fn quote(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang::{self, Sources};
    use crate::live::{LiveOrganization, OWNED_PATH, OrgAccount};
    use crate::plan::tests::{converge, state};
    use crate::plan::{self, Action, Kind};
    use crate::policy::GROUP_POLICY_NAME;

    const TIME: &str = "2025-01-02T03:04:05Z";

    fn parse(text: &str) -> crate::model::desired::DesiredState {
        let mut sources = Sources::default();
        sources.push("imported.kdl", text);
        match lang::validate(sources, Vec::new()) {
            Ok(state) => state,
            Err(invalid) => panic!(
                "the imported file is invalid:\n{}\n{text}",
                invalid.render(false)
            ),
        }
    }

    fn run(live: &LiveState) -> Imported {
        import(&ImportInput {
            jump_account: &AccountId::new("111111111111").unwrap(),
            region: &Region::new("ap-northeast-1").unwrap(),
            live,
            imported_at: TIME,
        })
    }

    const ESTATE: &str = r#"
jump-account id="111111111111" region="ap-northeast-1" {
    password-policy min-length=14 require-symbols=#true max-age-days=90 reuse-prevention=24
}
role "admin" policy="arn:aws:iam::aws:policy/AdministratorAccess"
role "auditor" policy="arn:aws:iam::aws:policy/SecurityAudit" session-hours=4
role "auditor-x" policy="arn:aws:iam::aws:policy/ReadOnlyAccess"
project "pay" {
    account "pay-prod" id="222222222222"
    account "pay-stg" id="333333333333"
}
project "x-data" {
    account "data" id="444444444444"
}
project "empty"
account "shared" id="555555555555"
user "alice" {
    access "admin"
    access "auditor" project="x-data"
}
user "bot" console=#false {
    access "auditor-x" project="pay"
}
user "carol"
"#;

    #[test]
    fn an_import_of_a_converged_estate_plans_nothing() {
        let desired = state(ESTATE);
        let live = converge(&desired, LiveState::default());
        let imported = run(&live);
        let back = parse(&imported.text);
        let plan = plan::build(&back, &live);
        assert!(plan.is_empty(), "{}\n{:#?}", imported.text, plan.changes);
        assert_eq!(back.roles, desired.roles);
        assert_eq!(back.users.len(), 3);
        for (name, user) in &desired.users {
            let got = &back.users[name];
            assert_eq!(got.console, user.console, "{name}");
            let mut want = user.access.clone();
            want.sort();
            let mut have = got.access.clone();
            have.sort();
            assert_eq!(have, want, "{name}");
        }
        let ids = |s: &crate::model::desired::DesiredState, p: &str| -> Vec<String> {
            let mut ids: Vec<String> = s
                .accounts
                .iter()
                .filter(|a| a.project.as_ref().map(|p| p.as_str()) == Some(p))
                .map(|a| a.id.as_ref().unwrap().to_string())
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(ids(&back, "pay"), ids(&desired, "pay"));
        assert_eq!(ids(&back, "x-data"), ids(&desired, "x-data"));
        assert_eq!(back.jump.password_policy, desired.jump.password_policy);
        assert!(imported.notes.is_empty(), "{:?}", imported.notes);
        assert_eq!(imported.summary.to_adopt, 0);
    }

    #[test]
    fn the_output_is_deterministic_and_readable() {
        let live = converge(&state(ESTATE), LiveState::default());
        let first = run(&live);
        assert_eq!(first, run(&live));
        let text = &first.text;
        assert!(text.starts_with("// Imported by `jumpgate import` from jump account 111111111111 (ap-northeast-1) at 2025-01-02T03:04:05Z."), "{text}");
        assert!(text.contains("role \"admin\"     policy=\"arn:aws:iam::aws:policy/AdministratorAccess\" session-hours=1\n"), "{text}");
        assert!(text.contains("role \"auditor\"   policy=\"arn:aws:iam::aws:policy/SecurityAudit\"       session-hours=4\n"), "{text}");
        assert!(
            text.contains("    account \"account-222222222222\" id=\"222222222222\"\n"),
            "{text}"
        );
        assert!(
            text.contains("\naccount \"account-555555555555\" id=\"555555555555\"\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "user \"bot\" console=#false {\n    access \"auditor-x\" project=\"pay\"\n}\n"
            ),
            "{text}"
        );
        assert!(text.contains("user \"alice\" {\n    access \"admin\"\n    access \"auditor\" project=\"x-data\"\n}\n"), "{text}");
        assert!(text.contains("\nuser \"carol\"\n"), "{text}");
        assert!(
            text.contains("password-policy min-length=14 require-symbols=#true"),
            "{text}"
        );
    }

    #[test]
    fn objects_without_the_marker_are_imported_and_adopted() {
        let desired = state(ESTATE);
        let mut live = converge(&desired, LiveState::default());
        live.users.get_mut("alice").unwrap().tags.clear();
        live.groups.get_mut("group-auditor-x-pay").unwrap().path = "/".into();
        let imported = run(&live);
        assert_eq!(imported.summary.to_adopt, 2);
        assert!(imported.text.contains("// Not tagged managed-by=jumpgate"));
        let plan = plan::build(&parse(&imported.text), &live);
        let adoptions: Vec<(Action, Kind, &str)> = plan
            .changes
            .iter()
            .map(|c| (c.action, c.kind, c.address.as_str()))
            .collect();
        assert_eq!(
            adoptions,
            [
                (Action::Update, Kind::Group, "group.group-auditor-x-pay"),
                (Action::Update, Kind::User, "user.alice"),
            ]
        );
    }

    #[test]
    fn organization_names_the_accounts_and_turns_organizations_mode_on() {
        let desired = state(ESTATE);
        let mut live = converge(&desired, LiveState::default());
        let account = |id: &str, name: &str| OrgAccount {
            id: AccountId::new(id).unwrap(),
            name: name.into(),
            email: format!("{id}@example.com"),
            status: "ACTIVE".into(),
        };
        live.organization = Some(LiveOrganization {
            management_account: AccountId::new("111111111111").unwrap(),
            accounts: vec![
                account("111111111111", "Management"),
                account("222222222222", "Payments Prod"),
                account("333333333333", "payments-prod"),
                account("444444444444", "JUMP"),
                account("555555555555", "@@@"),
            ],
        });
        let text = run(&live).text;
        parse(&text);
        assert!(text.contains("\norganization\n"), "{text}");
        assert!(text.contains("account \"Payments-Prod\""), "{text}");
        assert!(text.contains("account \"account-333333333333\""), "{text}");
        assert!(text.contains("account \"account-444444444444\""), "{text}");
        assert!(text.contains("account \"account-555555555555\""), "{text}");
    }

    #[test]
    fn without_a_stack_set_the_default_roles_apply() {
        let live = LiveState {
            users: [(
                "dave".to_owned(),
                crate::live::LiveUser {
                    name: "dave".into(),
                    path: "/".into(),
                    tags: [(
                        crate::live::OWNER_TAG_KEY.to_owned(),
                        crate::live::OWNER_TAG_VALUE.to_owned(),
                    )]
                    .into(),
                    login_profile: Some(true),
                    inline_policies: ["mine".to_owned()].into(),
                    groups: ["group-admin".to_owned(), "ops".to_owned()].into(),
                    ..Default::default()
                },
            )]
            .into(),
            groups: [
                (
                    "group-admin".to_owned(),
                    LiveGroup {
                        name: "group-admin".into(),
                        path: "/".into(),
                        ..Default::default()
                    },
                ),
                (
                    "ops".to_owned(),
                    LiveGroup {
                        name: "ops".into(),
                        path: "/".into(),
                        ..Default::default()
                    },
                ),
            ]
            .into(),
            ..Default::default()
        };
        let imported = run(&live);
        let back = parse(&imported.text);
        assert_eq!(back.roles, RoleDef::defaults());
        assert!(back.jump.is_target);
        assert!(
            imported
                .text
                .contains("user \"dave\" {\n    access \"admin\"\n}"),
            "{}",
            imported.text
        );
        assert!(
            imported
                .text
                .contains("// Also in ops, which jumpgate does not manage (left alone).")
        );
        assert!(
            imported
                .notes
                .iter()
                .any(|n| n.contains("user dave has policies of its own (mine)")),
            "{:?}",
            imported.notes
        );
        assert!(
            imported
                .notes
                .iter()
                .any(|n| n.contains("group ops (1 members)")),
            "{:?}",
            imported.notes
        );
    }

    #[test]
    fn group_names_resolve_roles_and_projects() {
        let roles = state(ESTATE).roles;
        let classify = |group: &LiveGroup, roles: &BTreeMap<RoleKey, RoleDef>| {
            let documents: Vec<&Value> = group.inline_policies.values().collect();
            super::classify(group, &documents, roles)
        };
        let group = |name: &str, policy: Option<Value>| LiveGroup {
            name: name.into(),
            path: OWNED_PATH.into(),
            inline_policies: policy
                .map(|p| (GROUP_POLICY_NAME.to_owned(), p))
                .into_iter()
                .collect(),
            attached_policies: BTreeSet::new(),
        };
        let policy = |arns: &[&str]| serde_json::json!({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": arns}]});
        assert_eq!(
            classify(&group("group-auditor", None), &roles),
            Some(GroupRole::Global(RoleKey::new("auditor").unwrap()))
        );
        let project = |g: GroupRole| match g {
            GroupRole::Project {
                role,
                project,
                accounts,
            } => (role.to_string(), project.to_string(), accounts.len()),
            other => panic!("{other:?}"),
        };
        // The policy tells `auditor` + `x-pay` from `auditor-x` + `pay`.
        let by_policy = classify(
            &group(
                "group-auditor-x-pay",
                Some(policy(&["arn:aws:iam::222222222222:role/role-auditor"])),
            ),
            &roles,
        )
        .unwrap();
        assert_eq!(project(by_policy), ("auditor".into(), "x-pay".into(), 1));
        let longest = classify(&group("group-auditor-x-pay", None), &roles).unwrap();
        assert_eq!(project(longest), ("auditor-x".into(), "pay".into(), 0));
        assert_eq!(classify(&group("admins", None), &roles), None);
        assert_eq!(classify(&group("group-unknown", None), &roles), None);
    }

    #[test]
    fn users_outside_the_pattern_are_listed_not_adopted() {
        let live = LiveState {
            users: [
                (
                    "ci-deploy".to_owned(),
                    crate::live::LiveUser {
                        name: "ci-deploy".into(),
                        path: "/".into(),
                        login_profile: Some(false),
                        attached_policies:
                            ["arn:aws:iam::111111111111:policy/ci-deploy".to_owned()].into(),
                        dependents: Some(crate::live::UserDependents {
                            access_keys: vec!["AKIAEXAMPLE".into()],
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                ),
                (
                    "lonely".to_owned(),
                    crate::live::LiveUser {
                        name: "lonely".into(),
                        path: "/".into(),
                        login_profile: Some(true),
                        ..Default::default()
                    },
                ),
            ]
            .into(),
            ..Default::default()
        };
        let imported = run(&live);
        let back = parse(&imported.text);
        assert!(back.users.is_empty(), "{}", imported.text);
        assert!(
            imported.text.contains(
                "// Not adopted: ci-deploy has policies of its own (ci-deploy), has 1 access key, \
                 is in no group of the jump-account pattern. jumpgate leaves it alone.\n\
                 // To adopt it, uncomment the line below and add its `access` lines; the plan then\n\
                 // tags it, and removes its policies of its own (access comes from groups only).\n\
                 // user \"ci-deploy\" console=#false\n"
            ),
            "{}",
            imported.text
        );
        assert!(
            imported.text.contains("// user \"lonely\"\n"),
            "{}",
            imported.text
        );
        assert_eq!(imported.summary.unmanaged, 2);
        assert_eq!(imported.summary.users, 0);
        assert!(
            imported
                .notes
                .iter()
                .any(|n| n.starts_with("user lonely is left unmanaged: it is in no group")),
            "{:?}",
            imported.notes
        );
        // Uncommented, the block parses.
        let adopted = parse(
            &imported
                .text
                .replace("// user \"lonely\"", "user \"lonely\""),
        );
        assert_eq!(adopted.users.len(), 1);
    }

    #[test]
    fn updates_of_hand_built_templates_keep_logical_ids_references_and_tags() {
        let desired = state(ESTATE);
        let mut live = converge(&desired, LiveState::default());
        // Hand-built: other logical ids, a tag of their own, a Ref to the role.
        let set = live.stack_set.as_mut().unwrap();
        let resources = set.template["Resources"].as_object_mut().unwrap();
        let admin = resources.shift_remove("RoleAdmin").unwrap();
        let mut admin = admin;
        admin["Properties"]["Tags"] =
            serde_json::json!([{"Key": "ManagedResource", "Value": "true"}]);
        resources.insert("AdminRole".into(), admin);
        let stack = live
            .stacks
            .get_mut(crate::templates::EXECUTION_ROLE_STACK)
            .unwrap();
        let resources = stack.template["Resources"].as_object_mut().unwrap();
        let role = resources.shift_remove("ExecutionRole").unwrap();
        resources.insert("StackSetExecutionRole".into(), role);
        let plan = plan::build(&desired, &live);
        let template_of = |address: &str| -> Value {
            let change = plan.changes.iter().find(|c| c.address == address).unwrap();
            change.after.as_ref().unwrap()["template"].clone()
        };
        let set = template_of("stack-set.iam-roles");
        let admin = &set["Resources"]["AdminRole"];
        assert_eq!(admin["Properties"]["RoleName"], "role-admin");
        assert_eq!(
            admin["Properties"]["Tags"],
            serde_json::json!([
                {"Key": "managed-by", "Value": "jumpgate"},
                {"Key": "ManagedResource", "Value": "true"}
            ])
        );
        assert!(set["Resources"].get("RoleAdmin").is_none());
        let stack = template_of("stack.stackset-execution-role");
        assert!(stack["Resources"].get("StackSetExecutionRole").is_some());
        assert_eq!(
            stack["Resources"]["ManageSwitchRoles"]["Properties"]["Roles"],
            serde_json::json!([{"Ref": "StackSetExecutionRole"}])
        );
        // Applied, the next plan is empty: the kept ids are stable.
        let live = converge(&desired, live);
        assert!(plan::build(&desired, &live).is_empty());
    }

    #[test]
    fn a_hand_made_mfa_policy_is_adopted_where_it_is() {
        let desired = state(ESTATE);
        let mut live = converge(&desired, LiveState::default());
        // Built by hand: the MFA policy at `/`, attached to every group.
        let mut policy = live
            .policies
            .remove(crate::policy::MFA_POLICY_NAME)
            .unwrap();
        let old_arn = policy.arn.clone();
        policy.path = "/".into();
        policy.arn = "arn:aws:iam::111111111111:policy/policy-enforce-mfa".into();
        let new_arn = policy.arn.clone();
        live.policies.insert(policy.name.clone(), policy);
        for group in live.groups.values_mut() {
            if group.attached_policies.remove(&old_arn) {
                group.attached_policies.insert(new_arn.clone());
            }
        }
        let plan = plan::build(&desired, &live);
        assert!(plan.is_empty(), "{:#?}", plan.changes);
        assert!(plan.blockers.is_empty(), "{:?}", plan.blockers);
        // A group that lacks it gets the adopted one, not a second policy.
        live.groups
            .get_mut("group-admin")
            .unwrap()
            .attached_policies
            .clear();
        let plan = plan::build(&desired, &live);
        let calls: Vec<String> = plan
            .changes
            .iter()
            .flat_map(|c| &c.operations)
            .map(|op| serde_json::to_string(op).unwrap())
            .collect();
        assert_eq!(
            calls,
            [format!(
                r#"{{"call":"AttachGroupPolicy","group":"group-admin","policy_arn":"{new_arn}"}}"#
            )]
        );
        assert_eq!(
            plan.access_changes.mfa_enforcement,
            [crate::access::MfaChange {
                change: crate::access::Direction::Gain,
                group: "group-admin".into()
            }]
        );
    }

    #[test]
    fn a_stackset_role_made_without_its_stack_is_used_as_it_is() {
        let desired = state(ESTATE);
        let mut live = converge(&desired, LiveState::default());
        live.stacks.clear();
        live.foreign_stack_set_roles
            .insert(crate::templates::ADMINISTRATION_ROLE_NAME.into());
        let plan = plan::build(&desired, &live);
        let addresses: Vec<&str> = plan.changes.iter().map(|c| c.address.as_str()).collect();
        // Only the execution-role stack, whose role does not exist, is created.
        assert_eq!(addresses, ["stack.stackset-execution-role"]);
        assert!(
            plan.warnings.iter().any(|w| w.starts_with(
                "role AWSCloudFormationStackSetAdministrationRole already exists in the jump account, made outside jumpgate"
            )),
            "{:?}",
            plan.warnings
        );
    }
}
