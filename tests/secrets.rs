//! Issue #8: secrets and least privilege. An apply logged at every level
//! (`-vv`, `JUMPGATE_LOG=trace`, the AWS SDK included) never shows an
//! initial password, nor do plan files and the JSON, Markdown and text
//! renderings of plan and drift; password files are owner-only; every
//! switch role in every target account requires MFA; every managed group
//! has the MFA policy; and the StackSet administration and execution roles
//! grant only what deploying the switch roles needs.

mod support;

use std::collections::BTreeSet;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value;
use support::{
    Emulator, JUMP, Jumpgate, Outcome, Workspace, attached_group_policies, decode_document,
    statements,
};

const TARGETS: [&str; 3] = ["210000000001", "210000000002", "310000000001"];
/// The secret access key jumpgate signs with here (the emulator takes any):
/// it must never be logged either.
const SECRET_KEY: &str = "canary-secret-access-key-0f4c2a";

fn estate(age_recipient: &str) -> String {
    format!(
        r#"jump-account id="{JUMP}" region="ap-northeast-1" {{
    password-policy min-length=20
}}
project "payments" {{
    account "payments-prod" id="{}"
    account "payments-stg" id="{}"
}}
account "shared" id="{}"
user "yamada.taro" {{
    access "admin"
}}
user "tanaka.hanako" {{
    access "developer" project="payments"
}}
user "sato.kenji" age-recipient="{age_recipient}" {{
    access "operator"
}}
user "deploy-bot" console=#false {{
    access "operator" project="payments"
}}
"#,
        TARGETS[0], TARGETS[1], TARGETS[2]
    )
}

/// Runs jumpgate logging everything it can.
fn jumpgate(emu: &Emulator, args: &[&str]) -> Outcome {
    jumpgate_at(emu, args, &["-vv"], Some("trace"))
}

/// Runs jumpgate at one log level: `-v` flags and `JUMPGATE_LOG`.
fn jumpgate_at(emu: &Emulator, args: &[&str], verbose: &[&str], log: Option<&str>) -> Outcome {
    let run = Jumpgate::against(emu)
        .args(args)
        .args(verbose)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
    match log {
        Some(log) => run.env("JUMPGATE_LOG", log),
        None => run,
    }
    .run()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Array(list) => list.iter().flat_map(strings).collect(),
        Value::String(one) => vec![one.clone()],
        other => vec![other.to_string()],
    }
}

/// Every form a secret could take in an output: raw, percent-encoded as a
/// form body carries it (upper- and lower-case hex, space as `%20` or
/// `+`), and JSON-escaped.
fn forms(secret: &str) -> Vec<String> {
    const UNRESERVED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let encoded = percent_encoding::utf8_percent_encode(secret, UNRESERVED).to_string();
    let lower = {
        let mut out = String::new();
        let mut rest = encoded.as_str();
        while let Some(at) = rest.find('%') {
            out.push_str(&rest[..at]);
            out.push('%');
            out.push_str(&rest[at + 1..at + 3].to_ascii_lowercase());
            rest = &rest[at + 3..];
        }
        out + rest
    };
    let json = serde_json::to_string(secret).expect("a JSON string");
    let mut forms = vec![
        secret.to_owned(),
        encoded.replace("%20", "+"),
        lower,
        json[1..json.len() - 1].to_owned(),
        encoded,
    ];
    forms.sort();
    forms.dedup();
    forms
}

/// Asserts that no output holds `secret` in any form.
#[track_caller]
fn assert_never_shown(whose: &str, secret: &str, outputs: &[(String, String)]) {
    for form in forms(secret) {
        for (what, output) in outputs {
            assert!(
                !output.contains(&form),
                "{whose}'s password appears in {what} as `{form}`"
            );
        }
    }
}

#[tokio::test]
async fn secrets_stay_secret_and_every_role_requires_mfa() {
    let emu = Emulator::start();
    let identity = age::x25519::Identity::generate();
    let ws = Workspace::bootstrapped(&emu, &estate(&identity.to_public().to_string())).await;
    let state = ws.state_arg();
    let secrets = ws.secrets();
    let secrets_arg = ws.secrets_arg();

    emu.start_recording();
    let applied = jumpgate(
        &emu,
        &["apply", &state, "--yes", "--secrets-dir", &secrets_arg],
    );
    applied.expect_code(0);
    emu.stop_recording();
    let applied_text = applied.text();
    assert!(
        applied_text.contains("TRACE") && applied_text.contains("aws_smithy"),
        "trace logging, the AWS SDK's included, was on"
    );

    // The passwords, from where they were delivered.
    let mut passwords: Vec<(String, String)> = Vec::new();
    for user in ["yamada.taro", "tanaka.hanako"] {
        let file = secrets.join(format!("{user}.password"));
        assert_eq!(mode(&file), 0o600, "{}", file.display());
        passwords.push((
            user.to_owned(),
            std::fs::read_to_string(&file).expect("a password file"),
        ));
    }
    let age_file = secrets.join("sato.kenji.password.age");
    assert_eq!(mode(&age_file), 0o600);
    let armored = std::fs::read(&age_file).expect("the age file");
    let decryptor =
        age::Decryptor::new(age::armor::ArmoredReader::new(&armored[..])).expect("an age file");
    let mut plain = String::new();
    decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .expect("decrypts with the user's key")
        .read_to_string(&mut plain)
        .expect("UTF-8");
    passwords.push(("sato.kenji".to_owned(), plain));
    assert_eq!(mode(&secrets), 0o700, "the secrets directory");
    assert!(
        !secrets.join("deploy-bot.password").exists(),
        "console=#false: no password"
    );
    // One more user per log level, each applied at that level.
    let mut at_levels: Vec<(String, String)> = Vec::new();
    let mut kdl = estate(&identity.to_public().to_string());
    for (index, (verbose, log)) in [
        (&[][..], None),
        (&["-v"][..], None),
        (&["-vv"][..], None),
        (&[][..], Some("debug")),
    ]
    .into_iter()
    .enumerate()
    {
        let user = format!("level{index}.user");
        kdl.push_str(&format!(
            "user \"{user}\" {{\n    access \"operator\"\n}}\n"
        ));
        ws.write_state(&kdl);
        emu.start_recording();
        let output = jumpgate_at(
            &emu,
            &["apply", &state, "--yes", "--secrets-dir", &secrets_arg],
            verbose,
            log,
        );
        emu.stop_recording();
        output.expect_code(0);
        let file = secrets.join(format!("{user}.password"));
        let password = std::fs::read_to_string(&file).expect("a password file");
        passwords.push((user, password));
        at_levels.push((
            format!("apply {verbose:?} JUMPGATE_LOG={log:?}"),
            output.text(),
        ));
    }
    // They are the passwords AWS got (so the checks below are not vacuous).
    let recording = emu.recording();
    for (user, password) in &passwords {
        assert!(password.len() >= 20, "{user}: policy length");
        assert!(
            recording
                .iter()
                .any(|r| r.action.as_deref() == Some("CreateLoginProfile")
                    && r.param("UserName") == Some(user.as_str())
                    && r.param("Password") == Some(password.as_str())),
            "{user}: the delivered password is the one AWS got"
        );
    }

    // Every rendering a user or a CI log sees.
    let plan_file = ws.path("plan.json");
    let plan_arg = plan_file.display().to_string();
    let mut seen: Vec<(String, String)> = vec![("apply -vv, trace".into(), applied_text)];
    seen.extend(at_levels);
    for args in [
        vec!["plan", &state, "--out", &plan_arg],
        vec!["plan", &state, "--format", "json"],
        vec!["plan", &state, "--format", "markdown"],
        vec!["drift", &state, "--format", "json"],
        vec!["drift", &state, "--format", "markdown"],
        vec!["drift", &state],
        vec!["apply", &state, "--yes", "--secrets-dir", &secrets_arg],
        vec!["access", &state, "--live", "--format", "json"],
    ] {
        let output = jumpgate(&emu, &args);
        assert!(
            matches!(output.code, Some(0) | Some(2)),
            "{args:?}: {}",
            output.text()
        );
        seen.push((args.join(" "), output.text()));
    }
    seen.push((
        "the saved plan".into(),
        std::fs::read_to_string(&plan_file).expect("the saved plan"),
    ));
    // And a plan that replaces everything: offboarding renders the users' state.
    let offboard = ws.path("offboard.kdl");
    std::fs::write(
        &offboard,
        format!("jump-account id=\"{JUMP}\" region=\"ap-northeast-1\"\n"),
    )
    .expect("offboard.kdl");
    for format in ["json", "markdown", "text"] {
        let offboard_arg = offboard.display().to_string();
        let output = jumpgate(&emu, &["plan", &offboard_arg, "--format", format]);
        output.expect_code(0);
        seen.push((format!("offboarding plan ({format})"), output.text()));
    }
    for (what, output) in &seen {
        assert!(
            !output.contains(SECRET_KEY),
            "the secret access key appears in {what}"
        );
    }
    for (user, password) in &passwords {
        assert_never_shown(user, password, &seen);
    }

    // Every switch role in every target requires MFA to be assumed.
    let mut targets: Vec<&str> = TARGETS.to_vec();
    targets.push(JUMP);
    let mut roles_checked = 0;
    for account in targets {
        let iam = aws_sdk_iam::Client::new(&emu.sdk_config_for_account(account).await);
        let roles = iam.list_roles().send().await.expect("ListRoles").roles;
        let switch: Vec<_> = roles
            .iter()
            .filter(|r| r.role_name.starts_with("role-"))
            .collect();
        let names: BTreeSet<&str> = switch.iter().map(|r| r.role_name.as_str()).collect();
        assert_eq!(
            names,
            BTreeSet::from(["role-admin", "role-developer", "role-operator"]),
            "{account}"
        );
        for role in switch {
            let trust =
                decode_document(role.assume_role_policy_document().expect("a trust policy"));
            for statement in statements(&trust) {
                if statement["Effect"] == "Allow" {
                    assert_eq!(
                        statement["Condition"]["Bool"]["aws:MultiFactorAuthPresent"], "true",
                        "{} in {account}: {trust}",
                        role.role_name
                    );
                    assert_eq!(
                        statement["Condition"]["StringEquals"]["sts:RoleSessionName"],
                        "${aws:username}",
                        "{} in {account}: the session carries who switched",
                        role.role_name
                    );
                    assert_eq!(
                        strings(&statement["Principal"]["AWS"]),
                        [format!("arn:aws:iam::{JUMP}:root")],
                        "{} in {account} trusts only the jump account",
                        role.role_name
                    );
                }
            }
            roles_checked += 1;
        }
    }

    // Every managed group has the MFA policy.
    let iam = aws_sdk_iam::Client::new(&emu.sdk_config().await);
    let groups = iam
        .list_groups()
        .path_prefix("/jumpgate/")
        .send()
        .await
        .expect("ListGroups")
        .groups;
    assert_eq!(groups.len(), 3 * 2, "3 global and 3 project groups");
    for group in &groups {
        assert!(
            attached_group_policies(&iam, &group.group_name)
                .await
                .contains(&format!(
                    "arn:aws:iam::{JUMP}:policy/jumpgate/policy-enforce-mfa"
                )),
            "{} has the MFA policy",
            group.group_name
        );
    }
    println!(
        "secrets: {} passwords and the AWS secret key checked against {} outputs (apply -vv with JUMPGATE_LOG=trace, saved plan, plan and drift as text/JSON/Markdown); files 0600 in a 0700 dir; {roles_checked} switch roles require MFA; {} groups have the MFA policy",
        passwords.len(),
        seen.len(),
        groups.len()
    );
}

/// The IAM policies of a template: (resource name, statements).
fn template_policies(template: &Value) -> Vec<(String, Vec<Value>)> {
    template["Resources"]
        .as_object()
        .expect("resources")
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::IAM::Policy")
        .map(|(name, r)| (name.clone(), statements(&r["Properties"]["PolicyDocument"])))
        .collect()
}

#[test]
fn the_stackset_roles_are_least_privilege() {
    use jumpgate::templates::{admin_role, execution_role};

    // The administration role: CloudFormation may assume it, and it may only
    // assume the execution role.
    let admin = admin_role();
    let role = &admin["Resources"]["AdministrationRole"]["Properties"];
    let trust = statements(&role["AssumeRolePolicyDocument"]);
    assert_eq!(trust.len(), 1);
    assert_eq!(
        strings(&trust[0]["Principal"]["Service"]),
        ["cloudformation.amazonaws.com"]
    );
    assert!(role.get("ManagedPolicyArns").is_none(), "no managed policy");
    let policies = template_policies(&admin);
    assert_eq!(policies.len(), 1, "one inline policy");
    for statement in &policies[0].1 {
        assert_eq!(statement["Effect"], "Allow");
        assert_eq!(strings(&statement["Action"]), ["sts:AssumeRole"]);
        assert_eq!(
            strings(&statement["Resource"]),
            ["arn:*:iam::*:role/AWSCloudFormationStackSetExecutionRole"]
        );
    }

    // The execution role: only the jump account's administration role may
    // assume it; beyond AWS's documented minimum for every execution role
    // (cloudformation:* and s3:*: "Grant self-managed permissions" in the
    // CloudFormation User Guide), it manages only the switch roles.
    let execution = execution_role();
    let role = &execution["Resources"]["ExecutionRole"]["Properties"];
    let trust = statements(&role["AssumeRolePolicyDocument"]);
    assert_eq!(trust.len(), 1);
    assert_eq!(
        trust[0]["Principal"]["AWS"]["Fn::Sub"],
        "arn:${AWS::Partition}:iam::${AdministratorAccountId}:role/AWSCloudFormationStackSetAdministrationRole"
    );
    assert!(role.get("ManagedPolicyArns").is_none(), "no managed policy");
    let policies = template_policies(&execution);
    assert_eq!(policies.len(), 1, "one inline policy");
    let mut actions = Vec::new();
    for statement in &policies[0].1 {
        assert_eq!(statement["Effect"], "Allow");
        let statement_actions = strings(&statement["Action"]);
        if statement["Resource"] == "*" {
            assert_eq!(
                statement_actions,
                ["cloudformation:*", "s3:*"],
                "on every resource, only AWS's documented minimum"
            );
            actions.extend(statement_actions);
            continue;
        }
        let resource = statement["Resource"]["Fn::Sub"]
            .as_str()
            .expect("one resource, scoped to this account");
        assert_eq!(
            resource, "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/role-*",
            "IAM actions only on the switch roles"
        );
        for action in statement_actions {
            assert!(
                action.starts_with("iam:") && !action.contains('*'),
                "{action}"
            );
            assert!(
                ![
                    "iam:PassRole",
                    "iam:PutRolePolicy",
                    "iam:CreateUser",
                    "iam:CreateAccessKey"
                ]
                .contains(&action.as_str()),
                "{action} is not needed"
            );
            actions.push(action);
        }
    }
    println!(
        "least privilege: administration role: sts:AssumeRole on the execution role only; execution role: {} (cloudformation and s3 as AWS documents; IAM on role/role-* of its own account)",
        actions.join(", ")
    );
}

/// A password with the characters that change under percent-encoding and
/// JSON escaping: quote, backslash, percent, ampersand, plus, equals,
/// slash, space.
const KNOWN_PASSWORD: &str = r#"Kn0wn "pa$$\w0rd" %2B&=+/?#~!"#;

/// Log lines collected in memory, as the binary would print them.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends `KNOWN_PASSWORD` in place of the generated one, so the test knows
/// exactly what to look for; every other call goes through unchanged.
struct WithKnownPassword<'a>(&'a jumpgate::aws::Aws);

impl jumpgate::aws::ChangeEstate for WithKnownPassword<'_> {
    async fn call(
        &self,
        operation: &jumpgate::plan::Operation,
    ) -> Result<(), jumpgate::aws::AwsError> {
        self.0.call(operation).await
    }
    async fn create_login_profile(
        &self,
        user: &str,
        _generated: &str,
    ) -> Result<(), jumpgate::aws::AwsError> {
        self.0.create_login_profile(user, KNOWN_PASSWORD).await
    }
}

/// The library driven directly, so the password is one the test chose:
/// logged at TRACE for every target (the AWS SDK's included), it appears
/// in no log line, report, plan or drift rendering, raw, percent-encoded
/// or JSON-escaped, although the request body carried it encoded.
#[tokio::test]
async fn a_known_password_with_symbols_appears_in_no_output_in_any_form() {
    use jumpgate::render::{Format, Style};

    let emu = Emulator::start();
    let mut sources = jumpgate::lang::Sources::default();
    sources.push(
        "estate.kdl",
        format!(
            "jump-account id=\"{JUMP}\" region=\"ap-northeast-1\"\nuser \"yamada.taro\" {{\n    access \"admin\"\n}}\n"
        ),
    );
    let desired = jumpgate::lang::validate(sources, Vec::new()).expect("valid");
    let aws = jumpgate::aws::Aws::with_config(
        emu.sdk_config().await,
        None,
        4,
        std::time::Duration::from_millis(50),
    );
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().expect("a temporary directory");
    let options = jumpgate::apply::ApplyOptions {
        secrets_dir: Some(dir.path().join("secrets")),
        changes_at_once: 4,
    };
    let live = jumpgate::observe::observe(&aws, &desired)
        .await
        .expect("observed");
    let plan = jumpgate::plan::build(&desired, &live);
    emu.start_recording();
    let report = jumpgate::apply::apply(&WithKnownPassword(&aws), &plan, &options).await;
    emu.stop_recording();
    assert!(report.succeeded(), "{:?}", report.failed);
    tracing::trace!("apply finished");

    // AWS got the password, percent-encoded in the body.
    let recording = emu.recording();
    let sent = recording
        .iter()
        .find(|r| r.action.as_deref() == Some("CreateLoginProfile"))
        .expect("a CreateLoginProfile request");
    assert_eq!(sent.param("Password"), Some(KNOWN_PASSWORD));
    assert!(!sent.body.contains(KNOWN_PASSWORD), "the body is encoded");
    assert!(
        forms(KNOWN_PASSWORD)
            .iter()
            .any(|f| sent.body.contains(f.as_str())),
        "one of the forms checked below is the one the request carried: {}",
        sent.body
    );

    let live = jumpgate::observe::observe(&aws, &desired)
        .await
        .expect("observed");
    let after = jumpgate::plan::build(&desired, &live);
    let log_text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        log_text.contains("TRACE") && log_text.contains("aws_smithy"),
        "the SDK logged at TRACE"
    );
    let mut outputs = vec![
        ("the logs at TRACE".to_owned(), log_text),
        ("the apply report".to_owned(), format!("{report:?}")),
        ("the live state".to_owned(), format!("{live:?}")),
    ];
    for format in [Format::Text, Format::Json, Format::Markdown] {
        for (which, plan) in [("before", &plan), ("after", &after)] {
            outputs.push((
                format!("the plan {which} as {format:?}"),
                jumpgate::render::render(plan, format, Style::default()),
            ));
        }
    }
    assert_never_shown("the known", KNOWN_PASSWORD, &outputs);
    println!(
        "known password: {} forms checked in {} outputs ({} bytes of TRACE logs)",
        forms(KNOWN_PASSWORD).len(),
        outputs.len(),
        outputs[0].1.len()
    );
}

/// `profiles --write` never writes through a file someone planted beside
/// the config: its temporary file has a fresh name and is created
/// exclusively, and the config ends up a private regular file.
#[test]
fn profiles_write_does_not_follow_a_planted_link() {
    let ws = Workspace::with_state(&format!(
        "jump-account id=\"{JUMP}\" region=\"ap-northeast-1\"\nuser \"yamada.taro\" {{\n    access \"admin\"\n}}\n"
    ));
    let config = ws.path("config");
    let victim = ws.path("victim");
    std::fs::write(&victim, "keep me").expect("victim");
    // The temporary name the previous version used, and a few guesses.
    for name in [".config.jumpgate-tmp", ".config.tmp", "config.tmp"] {
        std::os::unix::fs::symlink(&victim, ws.path(name)).expect("a planted link");
    }
    let output = Jumpgate::local()
        .arg("profiles")
        .arg(ws.state())
        .args(["--user", "yamada.taro"])
        .arg(format!("--write={}", config.display()))
        .run();
    output.expect_code(0);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    let metadata = std::fs::symlink_metadata(&config).expect("the config");
    assert!(metadata.is_file(), "a regular file, not a link");
    assert_eq!(mode(&config), 0o600);
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(
        written.contains("role_session_name = yamada.taro"),
        "the profiles name the session after the user: {written}"
    );
}
