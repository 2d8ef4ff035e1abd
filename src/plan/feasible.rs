//! Changes whose apply cannot succeed for a reason visible in the live
//! state, found at plan time so that `plan` refuses them rather than
//! `apply` stopping halfway.

use std::collections::BTreeSet;

use super::{Change, Operation};
use crate::live::LiveState;
use crate::live::simulate::Jump;
use crate::model::names::PolicyArn;

/// One sentence per change that would fail, naming the change and why.
pub fn blockers(live: &LiveState, changes: &[Change], jump: Jump) -> Vec<String> {
    let mut policies: BTreeSet<String> = live.policies.values().map(|p| p.arn.clone()).collect();
    let names: BTreeSet<String> = live
        .policies
        .values()
        .map(|p| p.name.to_ascii_lowercase())
        .collect();
    let stack_set_exists = live.live_stack_set().is_some();
    let mut found = Vec::new();
    for change in changes {
        for op in &change.operations {
            match op {
                Operation::CreatePolicy { name, path, .. } => {
                    // IAM policy names are unique in an account whatever their path.
                    if names.contains(&name.to_ascii_lowercase()) {
                        found.push(format!(
                            "{}: a policy named {name} already exists in the jump account (outside {path}); IAM policy names are unique whatever the path",
                            change.address
                        ));
                    }
                    let arn = PolicyArn::customer(jump.partition, jump.account, path, name);
                    policies.insert(arn.into());
                }
                Operation::AttachGroupPolicy { policy_arn, .. }
                    if !PolicyArn::is_aws_managed(policy_arn) && !policies.contains(policy_arn) =>
                {
                    found.push(format!(
                        "{}: policy {policy_arn} does not exist and this plan does not create it",
                        change.address
                    ));
                }
                Operation::CreateStackSet { stack_set, .. } if stack_set_exists => {
                    found.push(format!(
                        "{}: StackSet {stack_set} exists already; it is updated, never created twice",
                        change.address
                    ));
                }
                _ => {}
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::names::{AccountId, Partition};

    fn blockers_in_jump(live: &LiveState, changes: &[Change]) -> Vec<String> {
        let account = AccountId::new("111111111111").unwrap();
        let jump = Jump {
            account: &account,
            partition: Partition::Aws,
        };
        blockers(live, changes, jump)
    }
    use crate::live::LivePolicy;
    use crate::plan::tests::{converge, state};
    use crate::plan::{Action, Kind, Stage};

    fn change(op: Operation) -> Change {
        Change {
            action: Action::Create,
            address: crate::plan::Address::of_part(Kind::GroupPolicyAttachment, "g", "x"),
            account: crate::model::names::AccountId::new("111111111111").unwrap(),
            stage: Stage::GroupPolicies,
            before: None,
            after: None,
            reason: None,
            operations: vec![op],
        }
    }

    #[test]
    fn attachments_need_a_policy_and_names_must_be_free() {
        let desired = state(r#"jump-account id="111111111111" region="ap-northeast-1""#);
        let mut live = converge(&desired, LiveState::default());
        assert!(blockers_in_jump(&live, &[]).is_empty());
        let attach = |arn: &str| {
            change(Operation::AttachGroupPolicy {
                group: "g".parse().unwrap(),
                policy_arn: arn.into(),
            })
        };
        let missing = "arn:aws:iam::111111111111:policy/jumpgate/nope";
        assert_eq!(
            blockers_in_jump(&live, &[attach(missing)]),
            [
                "group-policy-attachment.g/x: policy arn:aws:iam::111111111111:policy/jumpgate/nope does not exist and this plan does not create it"
            ]
        );
        let create = change(Operation::CreatePolicy {
            name: "nope".into(),
            path: "/jumpgate/".into(),
            document: serde_json::json!({}).into(),
        });
        assert!(blockers_in_jump(&live, &[create.clone(), attach(missing)]).is_empty());
        assert!(
            blockers_in_jump(&live, &[attach("arn:aws:iam::aws:policy/ReadOnlyAccess")]).is_empty()
        );
        live.policies.insert(
            "NOPE".into(),
            LivePolicy {
                name: "NOPE".into(),
                arn: "arn:aws:iam::111111111111:policy/NOPE".into(),
                path: "/".into(),
                default_version: "v1".into(),
                versions: vec!["v1".into()],
                document: serde_json::json!({}).into(),
            },
        );
        assert_eq!(blockers_in_jump(&live, &[create]).len(), 1);
        let twice = change(Operation::CreateStackSet {
            stack_set: "iam-roles".into(),
            template: serde_json::json!({}),
            parameters: Default::default(),
        });
        assert_eq!(blockers_in_jump(&live, &[twice]).len(), 1);
    }
}
