//! The no-lockout guarantee: after a plan, every account that receives the
//! roles must still have someone who can reach its admin role.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::model::derive::targets;
use crate::model::desired::DesiredState;
use crate::model::names::{ProjectName, RoleKey};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lockout {
    pub account: String,
    pub account_id: String,
    pub role: String,
}

/// The roles that administer an account: `admin`, or any role given
/// AdministratorAccess.
fn admin_roles(state: &DesiredState) -> Vec<&RoleKey> {
    state
        .roles
        .values()
        .filter(|r| {
            r.key.as_str() == "admin" || r.policy.as_str().ends_with(":policy/AdministratorAccess")
        })
        .map(|r| &r.key)
        .collect()
}

/// Accounts where no declared user could assume an admin role.
pub fn lockouts(state: &DesiredState) -> Vec<Lockout> {
    let admins = admin_roles(state);
    let Some(shown_role) = admins.first() else {
        return Vec::new();
    };
    // Who can administer what, in one pass over the users rather than one
    // per account: `None` stands for every account.
    let covered: BTreeSet<Option<&ProjectName>> = state
        .users
        .values()
        .flat_map(|u| &u.access)
        .filter(|access| admins.contains(&&access.role))
        .map(|access| access.project.as_ref())
        .collect();
    let everywhere = covered.contains(&None);
    targets(state)
        .into_iter()
        .filter(|target| {
            !everywhere
                && !target
                    .project
                    .as_ref()
                    .is_some_and(|p| covered.contains(&Some(p)))
        })
        .map(|target| Lockout {
            account: target.name.to_string(),
            account_id: target.id.to_string(),
            role: format!("role-{shown_role}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lang;
    use crate::lang::Sources;

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

    #[test]
    fn a_global_admin_covers_every_account() {
        let s = state(&format!("{ACCOUNTS}\nuser \"a\" {{ access \"admin\" }}"));
        assert!(lockouts(&s).is_empty());
    }

    #[test]
    fn a_project_admin_covers_only_that_project() {
        let s = state(&format!(
            "{ACCOUNTS}\nuser \"a\" {{ access \"admin\" project=\"p\" }}"
        ));
        let names: Vec<String> = lockouts(&s).into_iter().map(|l| l.account).collect();
        assert_eq!(names, ["jump", "shared"]);
    }

    #[test]
    fn no_admin_at_all_locks_out_every_account() {
        let s = state(&format!("{ACCOUNTS}\nuser \"a\" {{ access \"operator\" }}"));
        assert_eq!(lockouts(&s).len(), 3);
    }
}
