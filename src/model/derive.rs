//! Names and relations derived from the desired state: role names, group
//! names, each user's groups, the accounts that receive the roles. Pure.

use std::collections::{BTreeMap, BTreeSet};

use super::desired::{Access, DesiredState, User};
use super::names::{AccountId, AccountName, GroupName, ProjectName, RoleKey, RoleName};

/// IAM object quotas (IAM User Guide, "IAM and AWS STS quotas",
/// reference_iam-quotas.html): groups per user (not adjustable), groups and
/// users per account.
pub const MAX_GROUPS_PER_USER: usize = 10;
pub const MAX_GROUPS_PER_ACCOUNT: usize = 300;
pub const MAX_USERS_PER_ACCOUNT: usize = 5000;

pub fn role_name(role: &RoleKey) -> RoleName {
    RoleName::new(&format!("role-{role}")).expect("RoleKey length keeps role names valid")
}

/// The CloudFormation logical id of a role's resource in the `iam-roles`
/// template. Logical ids are alphanumeric, so `operator-2` → `RoleOperator2`
/// (and `admin` and `admin_` give the same id: the validator checks).
pub fn role_logical_id(role: &RoleKey) -> String {
    let mut id = String::from("Role");
    for part in role.as_str().split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            id.push(first.to_ascii_uppercase());
            id.extend(chars);
        }
    }
    id
}

/// The group an `access` line puts its user in: `group-<role>` or
/// `group-<role>-<project>`.
pub fn group_name(access: &Access) -> GroupName {
    let name = match &access.project {
        None => format!("group-{}", access.role),
        Some(project) => format!("group-{}-{project}", access.role),
    };
    GroupName::new(&name).expect("RoleKey and ProjectName lengths keep group names valid")
}

/// The groups a user belongs to, without duplicates, sorted.
pub fn user_groups(user: &User) -> BTreeSet<GroupName> {
    user.access.iter().map(group_name).collect()
}

/// An account that receives the `role-<role>` roles through the StackSet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: AccountName,
    pub id: AccountId,
    pub project: Option<ProjectName>,
}

/// Every account with a known id that receives the roles: the jump account
/// (unless told otherwise) and each member account, in declaration order.
/// Accounts still to be created by Organizations have no id yet and are left out.
pub fn targets(state: &DesiredState) -> Vec<Target> {
    let jump = state.jump.is_target.then(|| Target {
        name: state.jump.name.clone(),
        id: state.jump.id.clone(),
        project: None,
    });
    let members = state.accounts.iter().filter_map(|account| {
        Some(Target {
            name: account.name.clone(),
            id: account.id.clone()?,
            project: account.project.clone(),
        })
    });
    jump.into_iter().chain(members).collect()
}

/// What a managed group grants: one role, everywhere or in some accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    pub name: GroupName,
    pub role: RoleKey,
    /// `None` for a global group (every account that trusts the jump account).
    pub project: Option<ProjectName>,
    /// The project's account ids, sorted; empty for global groups.
    pub accounts: Vec<AccountId>,
}

/// The groups jumpgate keeps in the jump account: a global group per role and
/// a group per (role, project), whether or not anyone is in it yet, so that
/// adding a member never has to create a group.
pub fn managed_groups(state: &DesiredState) -> BTreeMap<GroupName, GroupSpec> {
    let mut groups = BTreeMap::new();
    for role in state.roles.keys() {
        let global = Access {
            role: role.clone(),
            project: None,
        };
        let name = group_name(&global);
        groups.insert(
            name.clone(),
            GroupSpec {
                name,
                role: role.clone(),
                project: None,
                accounts: Vec::new(),
            },
        );
        for project in state.projects.keys() {
            let access = Access {
                role: role.clone(),
                project: Some(project.clone()),
            };
            let mut accounts: Vec<AccountId> = state
                .accounts
                .iter()
                .filter(|a| a.project.as_ref() == Some(project))
                .filter_map(|a| a.id.clone())
                .collect();
            accounts.sort();
            let name = group_name(&access);
            groups.insert(
                name.clone(),
                GroupSpec {
                    name,
                    role: role.clone(),
                    project: Some(project.clone()),
                    accounts,
                },
            );
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::desired::{Account, JumpAccount, Project, RoleDef};
    use crate::model::names::{Region, UserName};

    fn access(role: &str, project: Option<&str>) -> Access {
        Access {
            role: RoleKey::new(role).unwrap(),
            project: project.map(|p| ProjectName::new(p).unwrap()),
        }
    }

    fn state() -> DesiredState {
        let project = ProjectName::new("project-a").unwrap();
        let account = |name: &str, id: Option<&str>, project: Option<&ProjectName>| Account {
            name: AccountName::new(name).unwrap(),
            id: id.map(|id| AccountId::new(id).unwrap()),
            email: None,
            project: project.cloned(),
            env: None,
            color: None,
        };
        DesiredState {
            jump: JumpAccount {
                name: AccountName::new("jump").unwrap(),
                id: AccountId::new("111111111111").unwrap(),
                region: Region::new("ap-northeast-1").unwrap(),
                is_target: true,
                password_policy: None,
                hygiene: Default::default(),
            },
            organization: None,
            roles: RoleDef::defaults(),
            projects: [(
                project.clone(),
                Project {
                    name: project.clone(),
                    accounts: vec![],
                },
            )]
            .into(),
            accounts: vec![
                account("prod", Some("333333333333"), Some(&project)),
                account("stg", Some("222222222222"), Some(&project)),
                account("shared", Some("444444444444"), None),
                account("new", None, Some(&project)),
            ],
            users: BTreeMap::new(),
            expiry: Default::default(),
        }
    }

    #[test]
    fn group_names_follow_the_pattern() {
        assert_eq!(group_name(&access("admin", None)).as_str(), "group-admin");
        assert_eq!(
            group_name(&access("operator", Some("project-a"))).as_str(),
            "group-operator-project-a"
        );
        assert_eq!(
            role_name(&RoleKey::new("admin").unwrap()).as_str(),
            "role-admin"
        );
        assert_eq!(
            role_logical_id(&RoleKey::new("read-only_2").unwrap()),
            "RoleReadOnly2"
        );
    }

    #[test]
    fn a_user_is_in_one_group_per_distinct_access() {
        let user = User {
            name: UserName::new("u").unwrap(),
            console: true,
            age_recipient: None,
            access: vec![
                access("admin", None),
                access("operator", Some("project-a")),
                access("admin", None),
            ],
            access_keys: true,
            until: Default::default(),
        };
        let groups: Vec<String> = user_groups(&user).iter().map(|g| g.to_string()).collect();
        assert_eq!(groups, ["group-admin", "group-operator-project-a"]);
    }

    #[test]
    fn targets_are_the_jump_account_and_members_with_ids() {
        let mut state = state();
        let ids: Vec<String> = targets(&state).iter().map(|t| t.id.to_string()).collect();
        assert_eq!(
            ids,
            [
                "111111111111",
                "333333333333",
                "222222222222",
                "444444444444"
            ]
        );
        state.jump.is_target = false;
        assert_eq!(targets(&state).len(), 3);
    }

    #[test]
    fn every_role_gets_a_global_and_a_per_project_group() {
        let groups = managed_groups(&state());
        assert_eq!(groups.len(), 6);
        let project_group = &groups[&GroupName::new("group-admin-project-a").unwrap()];
        let ids: Vec<&str> = project_group.accounts.iter().map(|a| a.as_str()).collect();
        assert_eq!(ids, ["222222222222", "333333333333"]);
        assert!(
            groups[&GroupName::new("group-admin").unwrap()]
                .accounts
                .is_empty()
        );
    }
}
