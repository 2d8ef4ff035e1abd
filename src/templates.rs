//! The CloudFormation templates jumpgate deploys, embedded at build time from
//! `templates/`. The `iam-roles` template gets one role resource per declared
//! role, built from `templates/iam-role.json`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::model::derive::{role_logical_id, role_name};
use crate::model::desired::RoleDef;
use crate::model::names::AccountId;

pub const ADMIN_ROLE_STACK: &str = "stackset-admin-role";
pub const EXECUTION_ROLE_STACK: &str = "stackset-execution-role";
pub const ROLES_STACK_SET: &str = "iam-roles";
pub const ADMINISTRATION_ROLE_NAME: &str = "AWSCloudFormationStackSetAdministrationRole";
pub const EXECUTION_ROLE_NAME: &str = "AWSCloudFormationStackSetExecutionRole";

const ADMIN_ROLE: &str = include_str!("../templates/stackset-admin-role.json");
const EXECUTION_ROLE: &str = include_str!("../templates/stackset-execution-role.json");
const IAM_ROLES: &str = include_str!("../templates/iam-roles.json");
const IAM_ROLE: &str = include_str!("../templates/iam-role.json");

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("embedded templates are valid JSON")
}

pub fn admin_role() -> Value {
    parse(ADMIN_ROLE)
}

pub fn execution_role() -> Value {
    parse(EXECUTION_ROLE)
}

/// The execution-role stack's parameters: the account whose
/// administration role may use it.
pub fn execution_role_parameters(jump: &AccountId) -> BTreeMap<String, String> {
    [("AdministratorAccountId".to_owned(), jump.to_string())].into()
}

/// The `iam-roles` StackSet template for these roles.
pub fn iam_roles<'a>(roles: impl IntoIterator<Item = &'a RoleDef>) -> Value {
    let mut template = parse(IAM_ROLES);
    for role in roles {
        let mut resource = parse(IAM_ROLE);
        let props = &mut resource["Properties"];
        props["RoleName"] = json!(role_name(&role.key).as_str());
        props["MaxSessionDuration"] = json!(u32::from(role.session_hours) * 3600);
        props["ManagedPolicyArns"] = json!([role.policy.as_str()]);
        template["Resources"][role_logical_id(&role.key)] = resource;
    }
    template
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_requires_mfa_and_the_user_name_as_session_name() {
        let roles = RoleDef::defaults();
        let template = iam_roles(roles.values());
        let resources = template["Resources"].as_object().unwrap();
        let ids: Vec<&String> = resources.keys().collect();
        assert_eq!(ids, ["RoleAdmin", "RoleDeveloper", "RoleOperator"]);
        for resource in resources.values() {
            let statement = &resource["Properties"]["AssumeRolePolicyDocument"]["Statement"][0];
            assert_eq!(
                statement["Condition"]["Bool"]["aws:MultiFactorAuthPresent"],
                "true"
            );
            // The session is named after the person who switched, so the
            // member account's CloudTrail says who it was.
            assert_eq!(
                statement["Condition"]["StringEquals"]["sts:RoleSessionName"],
                "${aws:username}"
            );
        }
        assert_eq!(
            resources["RoleAdmin"]["Properties"]["ManagedPolicyArns"][0],
            "arn:aws:iam::aws:policy/AdministratorAccess"
        );
    }

    /// IAM allows 2,048 characters of trust policy (IAM User Guide,
    /// reference_iam-quotas.html); the template's is fixed but for the account id.
    #[test]
    fn the_trust_policy_fits_iam_quota() {
        let template = iam_roles(RoleDef::defaults().values());
        for resource in template["Resources"].as_object().unwrap().values() {
            let trust = &resource["Properties"]["AssumeRolePolicyDocument"];
            let size = crate::policy::PolicyDocument::from(trust.clone()).size();
            assert!(size <= 2048, "{trust}");
        }
    }
}
