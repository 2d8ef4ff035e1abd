//! What users see: the three renderings of one representative plan, pinned
//! as snapshots, and the properties scripts rely on.

use serde_json::Value;

use super::{Format, Style, render};
use crate::live::{LiveState, LiveUser, UserDependents};
use crate::plan::tests::{AGE_RECIPIENT, converge, state, with_password_policy};
use crate::plan::{Plan, build};

/// Yesterday: a project with two accounts, and carol as the global admin.
const BEFORE: &str = r#"
    jump-account id="111111111111" region="ap-northeast-1"
    project "p" {
        account "p-prod" id="222222222222"
        account "p-stg" id="444444444444"
    }
    account "shared" id="333333333333"
    user "alice" { access "admin" project="p"; }
    user "carol" { access "admin"; }
"#;

/// Today: p-stg is gone, operators get longer sessions, bob joins, carol
/// leaves, and with her the last global admin.
fn after() -> String {
    format!(
        r#"
    jump-account id="111111111111" region="ap-northeast-1"
    role "admin" policy="arn:aws:iam::aws:policy/AdministratorAccess"
    role "developer" policy="arn:aws:iam::aws:policy/PowerUserAccess"
    role "operator" policy="arn:aws:iam::aws:policy/ReadOnlyAccess" session-hours=2
    project "p" {{
        account "p-prod" id="222222222222"
    }}
    account "shared" id="333333333333"
    user "alice" {{ access "admin" project="p"; }}
    user "bob" age-recipient="{AGE_RECIPIENT}" {{ access "developer" project="p"; }}
"#
    )
}

/// Creates, updates with policy and template diffs, deletes, an unmanaged
/// user, a warning and a lockout.
fn representative() -> Plan {
    let mut live = converge(&state(BEFORE), LiveState::default());
    let carol = live.users.get_mut("carol").unwrap();
    carol.dependents = Some(UserDependents {
        access_keys: vec!["AKIAIOSFODNN7EXAMPLE".into()],
        mfa_devices: vec!["arn:aws:iam::111111111111:mfa/carol".into()],
        ..UserDependents::default()
    });
    live.users.insert(
        "ci-legacy".into(),
        LiveUser {
            name: "ci-legacy".into(),
            path: "/".into(),
            ..LiveUser::default()
        },
    );
    let shared = live
        .stack_instances
        .iter_mut()
        .find(|i| i.account.as_str() == "333333333333")
        .unwrap();
    shared.status = "OUTDATED".into();
    shared.status_reason = Some(
        "Account 333333333333 should have 'AWSCloudFormationStackSetExecutionRole' role".into(),
    );
    let mut plan = build(&state(&after()), &live);
    // The digest of the fixture would change with every new live-state field.
    plan.fingerprint = "0".repeat(64);
    plan
}

const PLAIN: Style = Style { color: false };

#[test]
fn text() {
    insta::assert_snapshot!(render(&representative(), Format::Text, PLAIN));
}

#[test]
fn json() {
    insta::assert_snapshot!(render(&representative(), Format::Json, PLAIN));
}

#[test]
fn markdown() {
    insta::assert_snapshot!(render(&representative(), Format::Markdown, PLAIN));
}

#[test]
fn colour_only_when_asked() {
    let plan = representative();
    let plain = render(&plan, Format::Text, PLAIN);
    assert!(!plain.contains('\x1b'));
    let coloured = render(&plan, Format::Text, Style { color: true });
    assert!(coloured.contains("\x1b[32m+\x1b[0m"));
    let stripped = strip_ansi(&coloured);
    assert_eq!(stripped, plain, "colour adds nothing but colour");
    for format in [Format::Json, Format::Markdown] {
        assert!(!render(&plan, format, Style { color: true }).contains('\x1b'));
    }
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('\x1b') {
        out += &rest[..start];
        let end = rest[start..].find('m').expect("codes end in m");
        rest = &rest[start + end + 1..];
    }
    out + rest
}

#[test]
fn an_empty_plan_says_so() {
    let desired = state(BEFORE);
    let live = converge(&desired, LiveState::default());
    let plan = build(&desired, &live);
    assert_eq!(
        render(&plan, Format::Text, PLAIN),
        "No changes. Live state matches the desired state.\n"
    );
    let markdown = render(&plan, Format::Markdown, PLAIN);
    assert!(
        markdown.starts_with("### jumpgate plan: no changes\n"),
        "{markdown}"
    );
    assert!(!markdown.contains("<details>"));
}

#[test]
fn json_round_trips_as_the_saved_plan() {
    let plan = representative();
    let text = render(&plan, Format::Json, PLAIN);
    let read: super::wire::Plan = serde_json::from_str(&text).expect("a rendered plan reads back");
    assert_eq!(read, super::wire::Plan::from(&plan));
    let value: Value = serde_json::from_str(&text).unwrap();
    let keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "format_version",
            "jump_account",
            "region",
            "fingerprint",
            "jumpgate_version",
            "inputs_digest",
            "changes",
            "access_changes",
            "unmanaged_users",
            "lockouts",
            "warnings",
            "bootstrap_needed",
            "summary"
        ]
    );
    let change = value["changes"][0].as_object().unwrap();
    let keys: Vec<&str> = change.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "action",
            "kind",
            "address",
            "account",
            "stage",
            "before",
            "after",
            "operations",
            "differences"
        ]
    );
    assert_eq!(
        value["summary"],
        serde_json::json!({"add": 3, "change": 4, "destroy": 6})
    );
}

/// Every object key anywhere in `value` that mentions a password or secret,
/// with the value under it.
fn secret_like<'a>(value: &'a Value, found: &mut Vec<(&'a str, &'a Value)>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let lower = key.to_ascii_lowercase();
                if ["password", "secret", "credential"]
                    .iter()
                    .any(|w| lower.contains(w))
                {
                    found.push((key, inner));
                }
                secret_like(inner, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| secret_like(i, found)),
        _ => {}
    }
}

#[test]
fn plans_carry_no_passwords() {
    let text = after().replace(
        r#"user "alice""#,
        r#"user "dora" { access "operator"; }
    user "alice""#,
    );
    let plan = build(&state(&text), &LiveState::default());
    let value: Value = serde_json::from_str(&render(&plan, Format::Json, PLAIN)).unwrap();
    let mut found = Vec::new();
    secret_like(&value, &mut found);
    let profiles = plan
        .changes
        .iter()
        .filter(|c| c.kind() == crate::plan::Kind::LoginProfile)
        .count();
    assert_eq!(profiles, 3);
    for (key, inner) in &found {
        match *key {
            // Where the password will go, never the password.
            "password" => assert!(
                serde_json::from_value::<crate::plan::SecretDelivery>((*inner).clone()).is_ok(),
                "{inner}"
            ),
            "password_reset_required" => assert_eq!(**inner, Value::Bool(true)),
            "password_length" => assert!(inner.is_u64(), "{inner}"),
            other => panic!("unexpected secret-like field {other}: {inner}"),
        }
    }
    assert_eq!(
        found.iter().filter(|(k, _)| *k == "password").count(),
        profiles
    );
}

#[test]
fn other_updates_show_changed_fields_only() {
    let desired = state(&with_password_policy(BEFORE, "min-length=14"));
    let mut live = converge(&desired, LiveState::default());
    live.password_policy.as_mut().unwrap().min_length = 8;
    let alice = live.users.get_mut("alice").unwrap();
    alice.tags = [("team".to_owned(), "platform".to_owned())].into();
    let plan = build(&desired, &live);
    let out = render(&plan, Format::Text, PLAIN);
    assert_eq!(
        out,
        "Access changes: none (nobody gains or loses a role; MFA enforcement unchanged).\n\
         \n\
         Account 111111111111 (jump account):\n\
         \x20 ~ password-policy password-policy\n\
         \x20     ~ min_length: 8 → 14\n\
         \x20 ~ user            user.alice  (adopt: jumpgate takes it over)\n\
         \x20     ~ tags: {\"team\":\"platform\"} → {\"managed-by\":\"jumpgate\",\"team\":\"platform\"}\n\
         \n\
         Plan: 0 to add, 2 to change, 0 to destroy.\n"
    );
}

/// Plans of every shape the JSON format has: creations from nothing,
/// updates with diffs, an offboarding with credentials, adoptions and a
/// rename, expired grants and users, and plans warned of ends to come.
fn plans_of_every_shape() -> Vec<(&'static str, Plan)> {
    use crate::model::expiry::{parse_date, resolve};
    let from_empty = build(&state(&after()), &LiveState::default());
    let mut offboarding_live = converge(&state(BEFORE), LiveState::default());
    offboarding_live.users.get_mut("carol").unwrap().dependents = Some(UserDependents {
        access_keys: vec!["AKIAIOSFODNN7EXAMPLE".into()],
        signing_certificates: vec!["CERT1".into()],
        ssh_public_keys: vec!["APKAEXAMPLE".into()],
        service_specific_credentials: vec!["ACCAEXAMPLE".into()],
        mfa_devices: vec![
            "arn:aws:iam::111111111111:mfa/carol".into(),
            "GAHT12345678".into(),
        ],
        ..UserDependents::default()
    });
    let everyone_leaves = BEFORE
        .replace(r#"user "alice" { access "admin" project="p"; }"#, "")
        .replace(r#"user "carol" { access "admin"; }"#, "");
    let offboarding = build(&state(&everyone_leaves), &offboarding_live);
    let mut adopted_live = converge(&state(BEFORE), LiveState::default());
    let mut carol = adopted_live.users.remove("carol").unwrap();
    carol.name = "Carol".into();
    carol.tags.clear();
    adopted_live.users.insert("Carol".into(), carol);
    adopted_live.users.get_mut("alice").unwrap().tags.clear();
    for group in adopted_live.groups.values_mut() {
        group.path = "/".into();
    }
    let adoptions = build(&state(BEFORE), &adopted_live);
    let with_policy = state(&with_password_policy(
        BEFORE,
        "min-length=14 max-age-days=90",
    ));
    let mut policy_live = converge(&with_policy, LiveState::default());
    policy_live.password_policy.as_mut().unwrap().max_age_days = None;
    let password_policy = build(&with_policy, &policy_live);
    let ending = r#"
        jump-account id="111111111111" region="ap-northeast-1"
        user "alice" { access "admin"; }
        user "kato" until="2027-03-31" {
            access "operator"
            access "developer" until="2027-01-31"
        }
    "#;
    let on = |day: &str| resolve(state(ending), parse_date(day).unwrap());
    let ending_live = converge(&on("2027-01-01"), LiveState::default());
    vec![
        ("representative", representative()),
        ("from empty", from_empty),
        ("offboarding", offboarding),
        ("adoptions", adoptions),
        ("password policy", password_policy),
        ("ending soon", build(&on("2027-01-25"), &ending_live)),
        ("grant expired", build(&on("2027-02-01"), &ending_live)),
        ("user expired", build(&on("2027-04-01"), &ending_live)),
    ]
}

#[test]
fn every_json_plan_validates_against_the_shipped_schema() {
    let schema: Value = serde_json::from_str(include_str!("../../schema/plan.schema.json"))
        .expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema is a valid schema");
    for (name, plan) in plans_of_every_shape() {
        assert!(
            !plan.is_empty() || name == "ending soon",
            "{name} plans nothing"
        );
        let value: Value = serde_json::from_str(&render(&plan, Format::Json, PLAIN)).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
        let read: super::wire::Plan = serde_json::from_value(value).unwrap();
        assert_eq!(read, super::wire::Plan::from(&plan), "{name} reads back");
    }
}

#[test]
fn the_schema_refuses_what_the_format_does_not_allow() {
    let schema: Value =
        serde_json::from_str(include_str!("../../schema/plan.schema.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut value: Value =
        serde_json::from_str(&render(&representative(), Format::Json, PLAIN)).unwrap();
    assert!(validator.is_valid(&value));
    value["changes"][0]["reason"] = "because".into();
    assert!(!validator.is_valid(&value));
    value["changes"][0]["reason"] = "adopt".into();
    value["format_version"] = 2.into();
    assert!(!validator.is_valid(&value));
}

#[test]
fn reasons_show_in_every_format() {
    let plans = plans_of_every_shape();
    let plan_named = |wanted: &str| &plans.iter().find(|(name, _)| *name == wanted).unwrap().1;
    let adoptions = plan_named("adoptions");
    let text = render(adoptions, Format::Text, PLAIN);
    assert!(
        text.contains("user.alice  (adopt: jumpgate takes it over)"),
        "{text}"
    );
    assert!(!text.contains("adopted"), "{text}");
    let json: Value = serde_json::from_str(&render(adoptions, Format::Json, PLAIN)).unwrap();
    let reasons: Vec<(&str, &str)> = json["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| Some((c["address"].as_str()?, c["reason"].as_str()?)))
        .filter(|(address, _)| address.starts_with("user."))
        .collect();
    assert_eq!(reasons, [("user.alice", "adopt"), ("user.carol", "adopt")]);
    let expired = plan_named("grant expired");
    assert!(render(expired, Format::Markdown, PLAIN).contains("(expired)"));
}

#[test]
fn the_bootstrap_command_names_the_state_planned_unless_it_is_the_default() {
    use crate::model::names::AccountId;
    use crate::plan::BootstrapHint;
    let at = |path: &str| {
        let mut hint = BootstrapHint {
            account: "sandbox".into(),
            account_id: AccountId::new("210987654321").unwrap(),
            state: None,
        };
        hint.read_state_at(std::path::Path::new(path));
        super::bootstrap_command(&hint)
    };
    let tail = "--account sandbox --profile <a profile with credentials for 210987654321>";
    assert_eq!(at("state"), format!("jumpgate bootstrap {tail}"));
    assert_eq!(at("state/"), format!("jumpgate bootstrap {tail}"));
    assert_eq!(
        at("examples/org.kdl"),
        format!("jumpgate bootstrap examples/org.kdl {tail}")
    );
    assert_eq!(
        at("my estate/it's.kdl"),
        format!("jumpgate bootstrap 'my estate/it'\\''s.kdl' {tail}")
    );
}
