//! Issue #5, drift: each out-of-band change, made with a plain AWS client, is
//! reported by `jumpgate drift` (exit 2) in text, JSON and Markdown, each
//! under its own address; the next `apply` repairs every declared one, and
//! what nobody declared stays reported, never deleted. A clean estate exits 0.

mod support;

use serde_json::{Value, json};

use support::by_hand;
use support::emulator::REGION;
use support::fixtures;
use support::{Emulator, JUMP, Outcome, Workspace, cfn, iam, stack_set, user_exists};

const ESTATE: &str = concat!(
    fixtures::payments_head!(),
    r#"account "shared" id="410987654321"
user "alice" {
    access "admin"
}
user "bob" {
    access "operator" project="payments"
}
user "carol" {
    access "developer"
}
user "dave" {
    access "operator"
}
"#
);

/// `(address, repair)` of every drift item the changes below must produce;
/// `None`: reported only.
const EXPECTED: &[(&str, Option<&str>)] = &[
    ("membership.alice/group-operator", Some("delete")),
    ("membership.bob/group-operator-payments", Some("create")),
    ("group-policy.group-developer/assume-role", Some("update")),
    ("group-policy.group-operator/extra", Some("delete")),
    (
        "group-policy-attachment.group-admin-payments/ReadOnlyAccess",
        Some("delete"),
    ),
    ("user.carol", Some("create")),
    ("login-profile.dave", Some("create")),
    ("user.backdoor", None),
    ("group.shadow-admins", None),
    ("stack-set.iam-roles", Some("update")),
    (
        "stack-instance.iam-roles/410987654321/ap-northeast-1",
        Some("create"),
    ),
];

const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

/// How an item with this repair is shown: its sign in the text report, its
/// action in the Markdown table.
fn shown(repair: Option<&str>) -> (char, &'static str) {
    match repair {
        Some("create") => ('+', "apply creates"),
        Some("update") => ('~', "apply updates"),
        Some("delete") => ('-', "apply removes"),
        _ => ('!', "reported only"),
    }
}

fn drift(emu: &Emulator, ws: &Workspace, format: &str) -> Outcome {
    ws.command(emu, "drift").args(["--format", format]).run()
}

/// Every change of the list, made by hand as someone with console or CLI
/// access would.
async fn change_out_of_band(emu: &Emulator) {
    let iam = iam(emu).await;
    let cfn = cfn(emu).await;

    // Membership added and removed.
    by_hand::add_user_to_group(&iam, "alice", "group-operator").await;
    by_hand::remove_user_from_group(&iam, "bob", "group-operator-payments").await;
    // A group's policy edited: the role reachable without MFA.
    let edited = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "arn:aws:iam::*:role/role-developer"}]});
    by_hand::put_group_policy(&iam, "group-developer", "assume-role", &edited.to_string()).await;
    // An inline policy added to a group, a managed policy attached to another.
    let extra = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:*", "Resource": "*"}]});
    by_hand::put_group_policy(&iam, "group-operator", "extra", &extra.to_string()).await;
    by_hand::attach_group_policy(&iam, "group-admin-payments", READ_ONLY).await;
    // A user deleted the way AWS requires: dependents first.
    by_hand::delete_login_profile(&iam, "carol").await;
    by_hand::remove_user_from_group(&iam, "carol", "group-developer").await;
    by_hand::delete_user(&iam, "carol").await;
    // A console password deleted.
    by_hand::delete_login_profile(&iam, "dave").await;
    // A back door: a user and a group nobody declared.
    by_hand::create_user(&iam, "backdoor").await;
    by_hand::create_group(&iam, "shadow-admins").await;
    by_hand::attach_group_policy(&iam, "shadow-admins", ADMIN).await;
    by_hand::add_user_to_group(&iam, "backdoor", "shadow-admins").await;
    // The StackSet's template changed: sessions of 12 hours for the admin role.
    let set = stack_set(emu, "iam-roles").await;
    let mut template: Value =
        serde_json::from_str(set.template_body().expect("a template")).expect("JSON template");
    template["Resources"]["RoleAdmin"]["Properties"]["MaxSessionDuration"] = json!(43200);
    let parameters = [("AdminAccountId", JUMP)];
    by_hand::update_stack_set(&cfn, "iam-roles", &template.to_string(), &parameters).await;
    // A stack instance gone.
    by_hand::delete_stack_instance(&cfn, "iam-roles", "410987654321", REGION).await;
}

#[tokio::test]
async fn every_out_of_band_change_is_reported_in_every_format_and_repaired_by_apply() {
    // The hand-made changes below follow each other at once: StackSet
    // operations end as soon as they start, or the second one would meet
    // the first still running (OperationInProgressException), as on AWS.
    let emu = Emulator::start_with_knobs(&[("STACKSET_OPERATION_SECONDS", "0")]);
    let ws = Workspace::applied(&emu, ESTATE).await;

    // Clean: exit 0 in every format.
    let clean = drift(&emu, &ws, "text");
    clean.expect_code(0);
    clean.assert_stdout_has("No drift: the live estate matches the file.");
    clean.assert_stdout_has("StackSet drift detection: not available here");
    let clean_json = drift(&emu, &ws, "json").expect_code(0).json();
    assert_eq!(clean_json["items"], json!([]));
    assert_eq!(clean_json["summary"]["total"], 0);
    let clean_md = drift(&emu, &ws, "markdown");
    clean_md.expect_code(0);
    assert!(clean_md.stdout.starts_with("### jumpgate: No drift"));

    change_out_of_band(&emu).await;

    // JSON: exactly the expected items, each with its repair.
    let report = drift(&emu, &ws, "json").expect_code(2).json();
    let items: Vec<(String, Option<String>)> = report["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["address"].as_str().expect("address").to_owned(),
                i["repair"].as_str().map(str::to_owned),
            )
        })
        .collect();
    for (address, repair) in EXPECTED {
        assert!(
            items
                .iter()
                .any(|(a, r)| a == address && r.as_deref() == *repair),
            "{address} ({repair:?}) missing from the JSON report:\n{items:#?}"
        );
    }
    // A deleted user brings back its membership and password too; nothing
    // else is reported.
    let implied = [
        "membership.carol/group-developer",
        "login-profile.carol",
        "stack-instance.iam-roles/410987654321",
    ];
    for (address, _) in &items {
        assert!(
            EXPECTED.iter().any(|(a, _)| a == address)
                || implied.iter().any(|i| address.starts_with(i)),
            "unexpected drift item {address}:\n{items:#?}"
        );
    }
    assert_eq!(report["summary"]["total"], items.len());
    assert_eq!(report["summary"]["reported_only"], 2);
    assert_eq!(report["format_version"], 1);
    let backdoor = report["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["address"] == "user.backdoor")
        .unwrap();
    assert_eq!(backdoor["live"]["groups"], json!(["shadow-admins"]));
    assert_eq!(
        report["stack_set_drift"]["status"], "unavailable",
        "{report:#}"
    );

    // Text: one line per item, with its sign, and a sentence naming it.
    let text = drift(&emu, &ws, "text");
    text.expect_code(2);
    for (address, repair) in EXPECTED {
        let (sign, _) = shown(*repair);
        let line = format!("  {sign} {address}\n");
        assert!(
            text.stdout.contains(&line),
            "text drift lacks {line:?}:\n{}",
            text.stdout
        );
    }
    for sentence in [
        "user alice is in group group-operator, which the file does not grant (added by hand?) [apply removes]",
        "user bob is not in group group-operator-payments, which the file grants (removed by hand?) [apply creates]",
        "the policy group-developer/assume-role was edited [apply updates]",
        "the inline policy group-operator/extra is not declared (added by hand?) [apply removes]",
        "group-admin-payments/ReadOnlyAccess is attached but not declared (added by hand?) [apply removes]",
        "user carol is declared but missing (deleted by hand?) [apply creates]",
        "user dave has no console password (deleted by hand?) [apply creates]",
        "user backdoor exists in the jump account but is not declared (a possible back door; jumpgate leaves it alone) [reported only]",
        "group shadow-admins exists in the jump account but is not declared",
        "the template or parameters of StackSet iam-roles changed [apply updates]",
        "the roles are missing in account 410987654321 (no stack instance) [apply creates]",
    ] {
        assert!(
            text.stdout.contains(sentence),
            "text drift lacks {sentence:?}:\n{}",
            text.stdout
        );
    }
    text.assert_stdout_has("Account 410987654321:");
    text.assert_stdout_has(&format!(
        "Drift: {} found, {} repaired by the next apply, 2 reported only.",
        items.len(),
        items.len() - 2
    ));

    // Markdown: a table row per item.
    let markdown = drift(&emu, &ws, "markdown");
    markdown.expect_code(2);
    assert!(
        markdown
            .stdout
            .starts_with(&format!("### jumpgate: Drift: {} found", items.len())),
        "{}",
        markdown.stdout
    );
    for (address, repair) in EXPECTED {
        let (_, action) = shown(*repair);
        let row = markdown
            .stdout
            .lines()
            .find(|l| l.contains(&format!("| `{address}` |")))
            .unwrap_or_else(|| panic!("no Markdown row for {address}:\n{}", markdown.stdout));
        assert!(row.ends_with(&format!("| {action} |")), "{row}");
    }

    // The next apply repairs everything declared, and nothing else.
    ws.apply(&emu, &[]).expect_code(0);
    let iam = iam(&emu).await;
    assert!(user_exists(&iam, "carol").await);
    assert!(
        user_exists(&iam, "backdoor").await,
        "undeclared users are never deleted"
    );
    let after = drift(&emu, &ws, "json").expect_code(2).json();
    let left: Vec<(&str, &Value)> = after["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["address"].as_str().unwrap(), &i["repair"]))
        .collect();
    assert_eq!(
        left,
        [
            ("user.backdoor", &Value::Null),
            ("group.shadow-admins", &Value::Null)
        ],
        "{after:#}"
    );
    ws.assert_converged(&emu);
}

#[tokio::test]
async fn drift_fails_with_exit_1_when_it_cannot_look() {
    let emu = Emulator::start();
    let ws = Workspace::with_state(&ESTATE.replace(JUMP, "999999999999"));
    let out = drift(&emu, &ws, "text");
    out.expect_code(1);
    out.assert_stderr_has("the credentials are for account 123456789012");
}
