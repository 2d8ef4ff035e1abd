//! The contract between the in-memory AWS (`jumpgate::live::simulate`, which
//! the planner's unit tests and the access impact trust) and the real
//! adapters (`jumpgate::aws`): the same scenarios run through both, from
//! the same observed state, and must leave the same live state as far as
//! the planner reads it. Each step observes the emulator, plans, plays the
//! plan in memory, applies it to the emulator, observes again and compares;
//! both results must then plan nothing.
//!
//! Uses only `support::emulator::Emulator` (`start`, `sdk_config`,
//! `bootstrap_declared`) and `support::by_hand` (the changes made by hand
//! between steps) from the shared harness.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jumpgate::aws::Aws;
use jumpgate::live::LiveState;
use jumpgate::live::simulate::{self, Jump};
use jumpgate::model::desired::DesiredState;
use jumpgate::model::names::Partition;
use jumpgate::policy::PolicyDocument;
use serde_json::Value;
use support::by_hand;
use support::emulator::Emulator;

const ESTATE: &str = r#"
jump-account id="123456789012" region="ap-northeast-1" {
    password-policy min-length=16
}
project "payments" {
    account "payments-prod" id="210987654321"
    account "payments-stg" id="210987654322"
}
account "shared" id="310987654321"
user "yamada.taro" {
    access "admin"
}
user "suzuki.hanako" console=#false {
    access "operator"
    access "developer" project="payments"
}
"#;

/// What the planner reads of a live state, in a form both sides produce
/// alike: policy documents normalised (statement order, single-item
/// lists), versions and credential details left out.
#[derive(Debug)]
struct Planned {
    password_policy: Option<Value>,
    users: BTreeMap<String, Value>,
    groups: BTreeMap<String, Value>,
    policies: BTreeMap<String, Value>,
    stacks: BTreeMap<String, Value>,
    stack_set: Option<Value>,
    stack_instances: BTreeSet<(String, String, String)>,
}

impl Planned {
    /// Field by field, so a failure names what the two sides disagree on.
    #[track_caller]
    fn assert_same_as(&self, observed: &Planned) {
        let message = |what: &str| {
            format!("{what}: the in-memory AWS (left) and the emulator (right) disagree")
        };
        assert_eq!(
            self.password_policy,
            observed.password_policy,
            "{}",
            message("password policy")
        );
        assert_eq!(self.users, observed.users, "{}", message("users"));
        assert_eq!(self.groups, observed.groups, "{}", message("groups"));
        assert_eq!(self.policies, observed.policies, "{}", message("policies"));
        assert_eq!(self.stacks, observed.stacks, "{}", message("stacks"));
        assert_eq!(
            self.stack_set,
            observed.stack_set,
            "{}",
            message("StackSet")
        );
        assert_eq!(
            self.stack_instances,
            observed.stack_instances,
            "{}",
            message("stack instances")
        );
    }

    fn of(live: &LiveState) -> Planned {
        Planned {
            password_policy: live
                .password_policy
                .as_ref()
                .map(|p| serde_json::to_value(p).expect("serialises")),
            users: by_name(&live.users, |u| {
                serde_json::json!({
                    "path": u.path,
                    "tags": u.tags,
                    "groups": u.groups,
                    "inline_policies": u.inline_policies,
                    "attached_policies": u.attached_policies,
                    "login_profile": u.login_profile,
                })
            }),
            groups: by_name(&live.groups, |g| {
                let inline: BTreeMap<&String, PolicyDocument> = g
                    .inline_policies
                    .iter()
                    .map(|(n, d)| (n, d.normalised()))
                    .collect();
                serde_json::json!({
                    "path": g.path,
                    "inline_policies": inline,
                    "attached_policies": g.attached_policies,
                })
            }),
            policies: by_name(&live.policies, |p| {
                serde_json::json!({
                    "arn": p.arn,
                    "path": p.path,
                    "document": p.document.normalised(),
                })
            }),
            stacks: by_name(&live.stacks, |s| {
                serde_json::json!({
                    "status": s.status,
                    "template": s.template,
                    "parameters": s.parameters,
                })
            }),
            stack_set: live
                .live_stack_set()
                .map(|s| serde_json::json!({"template": s.template, "parameters": s.parameters})),
            stack_instances: live
                .stack_instances
                .iter()
                .map(|i| {
                    (
                        i.account.to_string(),
                        i.region.clone(),
                        i.status.to_string(),
                    )
                })
                .collect(),
        }
    }
}

/// Each named object of a live state as `value` shows it.
fn by_name<T>(
    objects: &BTreeMap<String, T>,
    value: impl Fn(&T) -> Value,
) -> BTreeMap<String, Value> {
    objects
        .iter()
        .map(|(name, object)| (name.clone(), value(object)))
        .collect()
}

fn desired(kdl: &str) -> DesiredState {
    let mut sources = jumpgate::lang::Sources::default();
    sources.push("estate.kdl", kdl);
    jumpgate::lang::validate(sources, Vec::new()).expect("a valid fixture")
}

/// One emulator, the library's clients to it, and a secrets directory.
struct Ground {
    emu: Emulator,
    aws: Aws,
    secrets: tempfile::TempDir,
}

impl Ground {
    async fn start() -> Ground {
        let emu = Emulator::start();
        let aws = Aws::with_config(emu.sdk_config().await, None, 4, Duration::from_millis(50));
        Ground {
            emu,
            aws,
            secrets: tempfile::tempdir().expect("a temporary directory"),
        }
    }

    /// A ground where `kdl` is already applied: most scenarios' first step.
    async fn applied(kdl: &str) -> Ground {
        let ground = Ground::start().await;
        ground.step(kdl).await;
        ground
    }

    async fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.emu.sdk_config().await)
    }

    async fn observe(&self, desired: &DesiredState) -> LiveState {
        jumpgate::observe::observe(&self.aws, desired)
            .await
            .expect("observed")
    }

    /// Plans `kdl` against the emulator, plays the plan in memory and
    /// applies it to the emulator, then compares what each left. Returns
    /// the number of changes, so scenarios can say a step did something.
    async fn step(&self, kdl: &str) -> usize {
        let desired = desired(kdl);
        self.emu.bootstrap_declared(kdl).await;
        let before = self.observe(&desired).await;
        let plan = jumpgate::plan::build(&desired, &before);
        assert!(plan.blockers.is_empty(), "blockers: {:?}", plan.blockers);

        let jump = Jump {
            account: &desired.jump.id,
            partition: Partition::of(desired.jump.region.as_str()),
        };
        let mut simulated = before.clone();
        for change in &plan.changes {
            for operation in &change.operations {
                if let Err(refusal) = simulate::apply(&mut simulated, operation, jump) {
                    panic!("the in-memory AWS refused {}: {refusal}", change.address);
                }
            }
        }

        let options = jumpgate::apply::ApplyOptions {
            secrets_dir: Some(self.secrets.path().join("secrets")),
            changes_at_once: 4,
        };
        let report = jumpgate::apply::apply(&self.aws, &plan, &options).await;
        assert!(report.succeeded(), "apply failed: {:?}", report.failed);
        let observed = self.observe(&desired).await;

        Planned::of(&simulated).assert_same_as(&Planned::of(&observed));
        for (side, live) in [("in memory", &simulated), ("on the emulator", &observed)] {
            let again = jumpgate::plan::build(&desired, live);
            assert!(
                again.is_empty(),
                "planning again {side} is not empty: {:?}",
                again.changes.iter().map(|c| &c.address).collect::<Vec<_>>()
            );
        }
        plan.changes.len()
    }
}

#[tokio::test]
async fn from_nothing_to_an_estate_with_a_project_accounts_users_and_a_password_policy() {
    let ground = Ground::start().await;
    assert!(ground.step(ESTATE).await > 0);
}

#[tokio::test]
async fn adopting_an_unowned_user() {
    let ground = Ground::applied(ESTATE).await;
    by_hand::create_user(&ground.iam().await, "tanaka.jiro").await;
    let adopted = format!(
        "{ESTATE}\nuser \"tanaka.jiro\" {{\n    access \"developer\" project=\"payments\"\n}}\n"
    );
    assert!(ground.step(&adopted).await > 0);
}

#[tokio::test]
async fn offboarding_a_user_with_dependents() {
    let ground = Ground::applied(ESTATE).await;
    let iam = ground.iam().await;
    by_hand::create_access_key(&iam, "suzuki.hanako").await;
    iam.put_user_policy()
        .user_name("suzuki.hanako")
        .policy_name("by-hand")
        .policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#,
        )
        .send()
        .await
        .expect("PutUserPolicy");
    iam.attach_user_policy()
        .user_name("suzuki.hanako")
        .policy_arn("arn:aws:iam::aws:policy/ReadOnlyAccess")
        .send()
        .await
        .expect("AttachUserPolicy");
    let start = ESTATE.find("user \"suzuki.hanako\"").expect("the leaver");
    let without = &ESTATE[..start];
    assert!(ground.step(without).await > 0);
}

#[tokio::test]
async fn removing_an_account_from_a_project() {
    let ground = Ground::applied(ESTATE).await;
    let smaller = ESTATE.replace("    account \"payments-stg\" id=\"210987654322\"\n", "");
    assert!(ground.step(&smaller).await > 0);
}

#[tokio::test]
async fn changing_the_password_policy() {
    let ground = Ground::applied(ESTATE).await;
    let stricter = ESTATE.replace(
        "password-policy min-length=16",
        "password-policy min-length=24 max-age-days=90",
    );
    assert!(ground.step(&stricter).await > 0);
}
