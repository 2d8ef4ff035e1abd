//! What users see: the three renderings of one representative plan, pinned
//! as snapshots, and the properties scripts rely on.

use serde_json::Value;

use super::{Format, Style, render};
use crate::live::{LiveState, LiveUser, UserDependents};
use crate::plan::tests::{AGE_RECIPIENT, converge, state};
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
    let read: Plan = serde_json::from_str(&text).expect("a rendered plan reads back");
    assert_eq!(read, plan);
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
            "operations"
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
        .filter(|c| c.kind == crate::plan::Kind::LoginProfile)
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
fn formats_parse_from_the_command_line() {
    use clap::ValueEnum;
    assert_eq!(Format::from_str("markdown", false), Ok(Format::Markdown));
    let names: Vec<String> = Format::value_variants()
        .iter()
        .map(|f| f.to_possible_value().unwrap().get_name().to_owned())
        .collect();
    assert_eq!(names, ["text", "json", "markdown"]);
}

#[test]
fn other_updates_show_changed_fields_only() {
    let text = BEFORE.replace(
        r#"region="ap-northeast-1""#,
        r#"region="ap-northeast-1" { password-policy min-length=14; }"#,
    );
    let desired = state(&text);
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
         \x20     ~ adopted: (none) → true\n\
         \n\
         Plan: 0 to add, 2 to change, 0 to destroy.\n"
    );
}
