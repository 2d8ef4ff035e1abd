//! The no-lockout guarantee, by reachability: after a plan, every account
//! that has the switch roles must still have someone who can actually reach
//! an administrator-equivalent role there, and every account whose roles
//! the plan removes is a lockout too.
//!
//! Who reaches what comes from [`crate::access`]: the file's grants for
//! after the plan, the live memberships and group policies for before.
//! A role counts as administrator-equivalent by what its policy grants
//! (`*` on `*`, i.e. AWS's `AdministratorAccess`), never by its key. A user
//! counts only when they can meet the roles' MFA condition: a console user
//! (they sign in and register a device) or a user with an MFA device.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::access;
use crate::live::LiveState;
use crate::model::derive::targets;
use crate::model::desired::{Account, DesiredState, RoleDef};
use crate::model::names::{AccountId, AccountName, PolicyArn, ProjectName, RoleKey};

/// The one AWS managed policy that grants every action on every resource.
/// A customer-managed policy's document is not read, so it never counts.
const ADMINISTRATOR_POLICY: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lockout {
    pub account: String,
    pub account_id: String,
    /// What nobody can reach: the administrator-equivalent role, or why
    /// there is none.
    pub role: String,
    /// Who could reach an administrator-equivalent role there before the
    /// plan (from the live jump account).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reachable_before: Vec<String>,
}

/// Why an account is locked out, as the plan says it.
const NO_ADMIN_ROLE: &str = "no role grants *:* (AdministratorAccess)";
const ROLES_REMOVED: &str = "its switch roles are deleted by this plan";
/// The name shown for an account the file no longer declares.
const UNDECLARED_ACCOUNT: &str = "an account no longer declared";

fn is_administrator_policy(arn: &str) -> bool {
    arn == ADMINISTRATOR_POLICY
}

/// The declared roles whose policy grants `*:*`, whatever their key.
pub fn administrator_roles(state: &DesiredState) -> Vec<&RoleKey> {
    state
        .roles
        .values()
        .filter(|r| is_administrator_policy(r.policy.as_str()))
        .map(|r| &r.key)
        .collect()
}

/// Declared users without a console who have administrator access: whether
/// they have an MFA device decides whether they count, so `observe` reads
/// their devices.
pub fn users_whose_mfa_devices_matter(state: &DesiredState) -> BTreeSet<String> {
    let admins = administrator_roles(state);
    state
        .users
        .values()
        .filter(|u| !u.console && u.access.iter().any(|a| admins.contains(&&a.role)))
        .map(|u| u.name.to_string())
        .collect()
}

fn has_mfa_device(live: &LiveState, user: &str) -> bool {
    live.users
        .get(user)
        .and_then(|u| u.dependents.as_ref())
        .is_some_and(|d| !d.mfa_devices.is_empty())
}

/// The IAM role names the live StackSet template gives `AdministratorAccess`.
fn live_administrator_roles(live: &LiveState) -> BTreeSet<String> {
    let Some(set) = live.stack_set.as_ref() else {
        return BTreeSet::new();
    };
    let resources = set.template.get("Resources").and_then(Value::as_object);
    resources
        .into_iter()
        .flat_map(|r| r.values())
        .filter(|r| r.get("Type").and_then(Value::as_str) == Some("AWS::IAM::Role"))
        .filter_map(|r| r.get("Properties"))
        .filter(|p| {
            p.get("ManagedPolicyArns")
                .and_then(Value::as_array)
                .is_some_and(|arns| {
                    arns.iter()
                        .filter_map(Value::as_str)
                        .any(is_administrator_policy)
                })
        })
        .filter_map(|p| p.get("RoleName").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// Who could reach an administrator-equivalent role before the plan in the
/// accounts `locked` (ids), from the access engine's live grants to the
/// roles the live template makes administrators, for users who could meet
/// the MFA condition. Read only for a plan that locks out, and only for
/// those accounts and roles, since the engine expands wildcard resources
/// against every account and role it is given.
fn reachable_before(
    state: &DesiredState,
    live: &LiveState,
    locked: &BTreeSet<&str>,
) -> BTreeMap<String, BTreeSet<String>> {
    let admin_roles = live_administrator_roles(live);
    let capable = |user: &str| {
        live.users
            .get(user)
            .is_some_and(|u| u.login_profile == Some(true))
            || has_mfa_device(live, user)
    };
    // The catalogue the engine expands against: the locked accounts (those
    // the file no longer declares included) and the live administrator roles.
    let mut accounts: Vec<Account> = state
        .accounts
        .iter()
        .filter(|a| a.id.as_ref().is_some_and(|id| locked.contains(id.as_str())))
        .cloned()
        .collect();
    for id in locked {
        let declared = *id == state.jump.id.as_str()
            || accounts
                .iter()
                .any(|a| a.id.as_ref().is_some_and(|a| a.as_str() == *id));
        let (Ok(name), Ok(account_id)) = (
            AccountName::new(&format!("account-{id}")),
            AccountId::new(id),
        ) else {
            continue;
        };
        if !declared {
            accounts.push(Account {
                name,
                id: Some(account_id),
                email: None,
                project: None,
                env: None,
                color: None,
            });
        }
    }
    let policy = PolicyArn::new(ADMINISTRATOR_POLICY).expect("a valid policy ARN");
    let roles = admin_roles
        .iter()
        .filter_map(|name| RoleKey::new(name.strip_prefix("role-")?).ok())
        .map(|key| {
            let role = RoleDef {
                key: key.clone(),
                policy: policy.clone(),
                session_hours: RoleDef::DEFAULT_SESSION_HOURS,
            };
            (key, role)
        })
        .collect();
    let mut jump = state.jump.clone();
    jump.is_target = locked.contains(state.jump.id.as_str());
    let catalogue = DesiredState {
        jump,
        organization: None,
        roles,
        projects: BTreeMap::new(),
        accounts,
        users: BTreeMap::new(),
        expiry: Default::default(),
    };
    let mut before: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for grant in access::from_live_only(&catalogue, live).grants() {
        let role_name = grant.role_arn.rsplit('/').next().unwrap_or_default();
        if admin_roles.contains(role_name)
            && locked.contains(grant.account_id.as_str())
            && capable(&grant.user)
        {
            before
                .entry(grant.account_id.clone())
                .or_default()
                .insert(grant.user.clone());
        }
    }
    before
}

/// Where an administrator-equivalent role is reachable after the plan:
/// everywhere, or in these projects' accounts. The file's `access` lines
/// through their groups, as `access::from_desired` reads them, but without
/// materialising a grant per user and account (100,000 users by 1,000
/// accounts would be 10^8 of them).
struct Reach<'a> {
    everywhere: bool,
    projects: BTreeSet<&'a ProjectName>,
}

fn reachable_after<'a>(state: &'a DesiredState, live: &LiveState) -> Reach<'a> {
    let admins = administrator_roles(state);
    let mut reach = Reach {
        everywhere: false,
        projects: BTreeSet::new(),
    };
    let capable = state
        .users
        .values()
        .filter(|u| u.console || has_mfa_device(live, u.name.as_str()));
    for access in capable.flat_map(|u| &u.access) {
        if admins.contains(&&access.role) {
            match &access.project {
                None => reach.everywhere = true,
                Some(project) => {
                    reach.projects.insert(project);
                }
            }
        }
    }
    reach
}

/// Accounts where, after the plan, nobody able to meet the MFA condition
/// can reach an administrator-equivalent role: every target account the
/// file's grants leave without one, and every account whose stack instance
/// of the roles the plan deletes (an account line removed, the jump
/// account made `target=#false`). `state` has its account ids resolved.
pub fn lockouts(state: &DesiredState, live: &LiveState) -> Vec<Lockout> {
    let after = reachable_after(state, live);
    let shown_role = administrator_roles(state)
        .first()
        .map_or_else(|| NO_ADMIN_ROLE.to_owned(), |k| format!("role-{k}"));
    let lockout = |name: String, id: String, role: String| Lockout {
        reachable_before: Vec::new(),
        account: name,
        account_id: id,
        role,
    };
    let targets = targets(state);
    let mut found: Vec<Lockout> = targets
        .iter()
        .filter(|t| {
            !after.everywhere
                && !t
                    .project
                    .as_ref()
                    .is_some_and(|p| after.projects.contains(p))
        })
        .map(|t| lockout(t.name.to_string(), t.id.to_string(), shown_role.clone()))
        .collect();
    // Mirrors the planner: with the StackSet live, an instance outside the
    // targets (in the home region) is deleted, and the roles with it.
    if live.stack_set.is_some() {
        let kept: BTreeSet<&str> = targets.iter().map(|t| t.id.as_str()).collect();
        let removed: BTreeSet<&str> = live
            .stack_instances
            .iter()
            .map(|i| i.account.as_str())
            .filter(|id| !kept.contains(id))
            .collect();
        for id in removed {
            let from_organization = || {
                let accounts = live.organization.iter().flat_map(|o| &o.accounts);
                accounts
                    .clone()
                    .find(|a| a.id.as_str() == id)
                    .map(|a| a.name.clone())
            };
            let name = if id == state.jump.id.as_str() {
                state.jump.name.to_string()
            } else {
                from_organization().unwrap_or_else(|| UNDECLARED_ACCOUNT.to_owned())
            };
            found.push(lockout(name, id.to_owned(), ROLES_REMOVED.to_owned()));
        }
    }
    // Who is about to lose access, read only when someone may be.
    if !found.is_empty() {
        let locked: BTreeSet<&str> = found.iter().map(|l| l.account_id.as_str()).collect();
        let before = reachable_before(state, live, &locked);
        for lockout in &mut found {
            lockout.reachable_before = before
                .get(&lockout.account_id)
                .into_iter()
                .flatten()
                .cloned()
                .collect();
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang;
    use crate::lang::Sources;
    use crate::live::{LiveUser, UserDependents};
    use crate::plan::build;

    fn state(text: &str) -> DesiredState {
        let mut sources = Sources::default();
        sources.push("test.kdl", text);
        lang::validate(sources, Vec::new()).expect("valid")
    }

    const ACCOUNTS: &str = r#"
        jump-account id="111111111111" region="ap-northeast-1"
        project "p" { account "p-prod" id="222222222222" }
        account "shared" id="333333333333"
    "#;

    /// The live state after applying `text` (everything converged), with
    /// `yamada` holding an MFA device when `mfa` says so.
    fn converged(text: &str) -> LiveState {
        let desired = state(text);
        let live = crate::plan::tests::converge(&desired, LiveState::default());
        assert!(build(&desired, &live).is_empty(), "converged");
        live
    }

    fn with_mfa(mut live: LiveState, user: &str) -> LiveState {
        let entry = live
            .users
            .entry(user.to_owned())
            .or_insert_with(|| LiveUser {
                name: user.to_owned(),
                ..LiveUser::default()
            });
        entry.dependents = Some(UserDependents {
            mfa_devices: vec![format!("arn:aws:iam::111111111111:mfa/{user}")],
            ..UserDependents::default()
        });
        live
    }

    fn locked(text: &str, live: &LiveState) -> Vec<(String, String)> {
        let desired = state(text);
        build(&desired, live)
            .lockouts
            .into_iter()
            .map(|l| (l.account, l.role))
            .collect()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, r)| ((*a).to_owned(), (*r).to_owned()))
            .collect()
    }

    const ADMIN_EVERYWHERE: &str = r#"user "yamada" { access "admin" }"#;

    #[test]
    fn lockouts_by_reachability() {
        let start = format!("{ACCOUNTS}\n{ADMIN_EVERYWHERE}");
        let live = converged(&start);
        let all_three = |role: &str| pairs(&[("jump", role), ("p-prod", role), ("shared", role)]);
        // (what, the file after, the lockouts expected)
        type Case = (&'static str, String, Vec<(String, String)>);
        let cases: Vec<Case> = vec![
            ("a global admin covers every account", start.clone(), vec![]),
            (
                "a project admin covers only that project",
                format!("{ACCOUNTS}\nuser \"yamada\" {{ access \"admin\" project=\"p\" }}"),
                pairs(&[("jump", "role-admin"), ("shared", "role-admin")]),
            ),
            (
                "nobody with admin access",
                format!("{ACCOUNTS}\nuser \"yamada\" {{ access \"operator\" }}"),
                all_three("role-admin"),
            ),
            (
                // The issue's reproduction: only an auditor role is declared.
                "no administrator-equivalent role at all",
                format!(
                    "{ACCOUNTS}\nrole \"auditor\" policy=\"arn:aws:iam::aws:policy/ReadOnlyAccess\"\nuser \"yamada\" {{ access \"auditor\" }}"
                ),
                all_three(NO_ADMIN_ROLE),
            ),
            (
                "a role keyed admin with a read-only policy is no administrator",
                format!(
                    "{ACCOUNTS}\nrole \"admin\" policy=\"arn:aws:iam::aws:policy/ReadOnlyAccess\"\n{ADMIN_EVERYWHERE}"
                ),
                all_three(NO_ADMIN_ROLE),
            ),
            (
                "an administrator role under another key counts",
                format!(
                    "{ACCOUNTS}\nrole \"root\" policy=\"arn:aws:iam::aws:policy/AdministratorAccess\"\nuser \"yamada\" {{ access \"root\" }}"
                ),
                vec![],
            ),
            (
                "a console-less user without an MFA device cannot meet the condition",
                format!("{ACCOUNTS}\nuser \"yamada\" console=#false {{ access \"admin\" }}"),
                all_three("role-admin"),
            ),
            (
                "the jump account no longer a target deletes its roles",
                format!("{ACCOUNTS}\n{ADMIN_EVERYWHERE}").replace(
                    "region=\"ap-northeast-1\"",
                    "region=\"ap-northeast-1\" target=#false",
                ),
                pairs(&[("jump", ROLES_REMOVED)]),
            ),
            (
                "an account line removed deletes its roles",
                format!("{ACCOUNTS}\n{ADMIN_EVERYWHERE}")
                    .replace("account \"shared\" id=\"333333333333\"", ""),
                pairs(&[(UNDECLARED_ACCOUNT, ROLES_REMOVED)]),
            ),
        ];
        for (what, text, expected) in cases {
            assert_eq!(locked(&text, &live), expected, "{what}");
        }
    }

    #[test]
    fn a_console_less_user_with_an_mfa_device_counts() {
        let text = format!("{ACCOUNTS}\nuser \"yamada\" console=#false {{ access \"admin\" }}");
        let live = with_mfa(converged(&text), "yamada");
        assert_eq!(locked(&text, &live), []);
        assert_eq!(
            users_whose_mfa_devices_matter(&state(&text)),
            BTreeSet::from(["yamada".to_owned()])
        );
    }

    #[test]
    fn a_lockout_names_who_could_reach_an_administrator_role_before() {
        let live = converged(&format!("{ACCOUNTS}\n{ADMIN_EVERYWHERE}"));
        let after = state(&format!(
            "{ACCOUNTS}\nrole \"auditor\" policy=\"arn:aws:iam::aws:policy/ReadOnlyAccess\"\nuser \"yamada\" {{ access \"auditor\" }}"
        ));
        let plan = build(&after, &live);
        assert_eq!(plan.lockouts.len(), 3);
        for lockout in &plan.lockouts {
            assert_eq!(lockout.reachable_before, ["yamada"], "{lockout:?}");
        }
    }
}
