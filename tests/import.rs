//! Issue #5, import: a jump account built by hand (50 users created with a
//! plain AWS client in jumpgate's groups) is written back as a desired-state
//! file that validates and on which `plan` shows no changes; objects without
//! jumpgate's marker come out as explicit adoptions, after which the plan is
//! empty too.

mod support;

use std::collections::BTreeSet;

use aws_sdk_iam::Client as IamClient;
use serde_json::json;

use jumpgate::model::desired::DesiredState;
use support::by_hand;
use support::emulator::Emulator;
use support::{JUMP, Workspace, changes, iam, is_adopted, jumpgate};

/// What jumpgate deploys before anyone is added: the roles (one of them
/// not a default), the projects, the password policy.
const INFRASTRUCTURE: &str = r#"
jump-account id="123456789012" region="ap-northeast-1" {
    password-policy min-length=16 require-symbols=#true require-numbers=#true max-age-days=60
}
role "admin"     policy="arn:aws:iam::aws:policy/AdministratorAccess"
role "developer" policy="arn:aws:iam::aws:policy/PowerUserAccess" session-hours=4
role "operator"  policy="arn:aws:iam::aws:policy/ReadOnlyAccess"
role "auditor"   policy="arn:aws:iam::aws:policy/SecurityAudit" session-hours=2
project "payments" {
    account "payments-prod" id="210987654321"
    account "payments-stg"  id="210987654322"
}
project "analytics" {
    account "analytics-prod" id="310987654321"
}
account "shared-services" id="410987654321"
"#;

const ROLES: [&str; 4] = ["admin", "developer", "operator", "auditor"];
const PROJECTS: [&str; 2] = ["payments", "analytics"];
const PASSWORD: &str = "Initial-Passw0rd!-0123";

/// One hand-made user: name, console password, `(role, project)` access.
struct Person {
    name: String,
    console: bool,
    access: BTreeSet<(String, Option<String>)>,
}

/// 50 people in global and project groups, with the characters IAM allows
/// in names, most with a console password.
fn people() -> Vec<Person> {
    (0..50)
        .map(|i| {
            let name = match i % 4 {
                0 => format!("dev{i}.tanaka"),
                1 => format!("ops+{i}@example.com"),
                2 => format!("user_{i}-x"),
                _ => format!("robot={i},ci"),
            };
            let mut access = BTreeSet::new();
            if i % 3 != 0 {
                access.insert((ROLES[i % 4].to_owned(), None));
            }
            if i % 2 == 0 {
                access.insert((
                    ROLES[(i + 1) % 4].to_owned(),
                    Some(PROJECTS[(i / 2) % 2].to_owned()),
                ));
            }
            if i % 5 == 0 {
                access.insert(("operator".to_owned(), Some("analytics".to_owned())));
            }
            Person {
                name,
                console: i % 6 != 5,
                access,
            }
        })
        .collect()
}

fn group_of(role: &str, project: Option<&str>) -> String {
    match project {
        Some(project) => format!("group-{role}-{project}"),
        None => format!("group-{role}"),
    }
}

async fn create_person(iam: &IamClient, person: &Person, tagged: bool) {
    if tagged {
        by_hand::create_owned_user(iam, &person.name).await;
    } else {
        by_hand::create_user(iam, &person.name).await;
    }
    for (role, project) in &person.access {
        by_hand::add_user_to_group(iam, &person.name, &group_of(role, project.as_deref())).await;
    }
    if person.console {
        iam.create_login_profile()
            .user_name(&person.name)
            .password(PASSWORD)
            .password_reset_required(true)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateLoginProfile {}: {e:?}", person.name));
    }
}

fn load(path: &std::path::Path) -> DesiredState {
    jumpgate::lang::load(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn access_of(state: &DesiredState, user: &str) -> BTreeSet<(String, Option<String>)> {
    let user = state
        .users
        .iter()
        .find(|(name, _)| name.as_str() == user)
        .unwrap_or_else(|| panic!("user {user} was not imported"))
        .1;
    user.access
        .iter()
        .map(|a| {
            (
                a.role.to_string(),
                a.project.as_ref().map(ToString::to_string),
            )
        })
        .collect()
}

/// The ids of each project's accounts, and of the accounts in none.
fn accounts_by_project(state: &DesiredState) -> BTreeSet<(Option<String>, String)> {
    state
        .accounts
        .iter()
        .map(|a| {
            (
                a.project.as_ref().map(ToString::to_string),
                a.id.as_ref().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_hand_built_jump_account_of_50_users_imports_to_a_file_that_plans_nothing() {
    let emu = Emulator::start();
    let ws = Workspace::bootstrapped(&emu, INFRASTRUCTURE).await;
    // Nobody is declared yet, so nobody could reach the admin role.
    ws.apply(&emu, &["--allow-lockout"]).expect_code(0);
    let iam = iam(&emu).await;
    let people = people();
    futures::future::join_all(people.iter().map(|p| create_person(&iam, p, true))).await;

    // The file is gone: all there is, is the live account.
    let imported = ws.path("imported.kdl");
    let imported_arg = imported.display().to_string();
    let run = jumpgate(&emu, &["import", "--out", &imported_arg]);
    run.expect_code(0);
    run.assert_stderr_has(&format!( "Imported jump account {JUMP} (ap-northeast-1) to {imported_arg}: 5 accounts, 2 projects, 4 roles, 50 users." ));
    let text = std::fs::read_to_string(&imported).expect("the imported file");
    assert!(
        text.starts_with(&format!(
            "// Imported by `jumpgate import` from jump account {JUMP} (ap-northeast-1) at "
        )),
        "{text}"
    );

    jumpgate(&emu, &["validate", &imported_arg]).expect_code(0);
    // Already in `fmt`'s canonical layout.
    jumpgate(&emu, &["fmt", "--check", &imported_arg]).expect_code(0);
    let plan = jumpgate(&emu, &["plan", &imported_arg, "--detailed-exitcode"]);
    plan.expect_code(0);
    plan.assert_stdout_has("No changes.");

    // The file says what was built: people, access, console, roles, accounts.
    let original = load(&ws.state());
    let back = load(&imported);
    assert_eq!(back.users.len(), people.len());
    for person in &people {
        assert_eq!(
            access_of(&back, &person.name),
            person.access,
            "{}",
            person.name
        );
        let user = back
            .users
            .iter()
            .find(|(n, _)| n.as_str() == person.name)
            .unwrap()
            .1;
        assert_eq!(user.console, person.console, "{}", person.name);
    }
    assert_eq!(back.roles, original.roles);
    assert_eq!(back.jump.password_policy, original.jump.password_policy);
    assert_eq!(accounts_by_project(&back), accounts_by_project(&original));
    assert!(text.contains("    account \"account-210987654321\" id=\"210987654321\"\n"));
    assert!(
        text.contains("user \"robot=11,ci\" console=#false {\n"),
        "{text}"
    );

    // Deterministic: a second import differs only in its timestamp.
    let again = ws.path("again.kdl");
    jumpgate(&emu, &["import", "--out", &again.display().to_string()]).expect_code(0);
    let body = |t: &str| t.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&std::fs::read_to_string(&again).unwrap()), body(&text));
    // Without --out it prints the same file; an existing file is never overwritten.
    let printed = jumpgate(&emu, &["import"]).expect_code(0).stdout.clone();
    assert_eq!(body(&printed), body(&text));
    let refused = jumpgate(&emu, &["import", "--out", &imported_arg]);
    refused.expect_code(1);
    refused.assert_stderr_has("exists");
}

/// The `assume-role` policy jumpgate gives a project group.
fn project_policy(role: &str, accounts: &[&str]) -> String {
    let resources: Vec<String> = accounts
        .iter()
        .map(|a| format!("arn:aws:iam::{a}:role/role-{role}"))
        .collect();
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AssumeRoleWithMfa",
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": resources,
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
        }]
    })
    .to_string()
}

#[tokio::test]
async fn objects_without_jumpgates_marker_import_as_explicit_adoptions() {
    let emu = Emulator::start();
    // jumpgate built the roles and the global groups; a project's groups
    // and the people were made by hand, without jumpgate's marker.
    let ws = Workspace::bootstrapped(
        &emu,
        r#"
jump-account id="123456789012" region="ap-northeast-1"
account "web-prod" id="210987654321"
account "shared" id="410987654321"
"#,
    )
    .await;
    // Nobody is declared yet, so nobody could reach the admin role.
    ws.apply(&emu, &["--allow-lockout"]).expect_code(0);
    let iam = iam(&emu).await;
    let mfa = format!("arn:aws:iam::{JUMP}:policy/jumpgate/policy-enforce-mfa");
    for role in ["admin", "developer", "operator"] {
        let group = format!("group-{role}-web");
        by_hand::create_group(&iam, &group).await;
        let policy = project_policy(role, &["210987654321"]);
        by_hand::put_group_policy(&iam, &group, "assume-role", &policy).await;
        by_hand::attach_group_policy(&iam, &group, &mfa).await;
    }
    let person = |name: &str, console: bool, access: &[(&str, Option<&str>)]| Person {
        name: name.to_owned(),
        console,
        access: access
            .iter()
            .map(|(r, p)| (r.to_string(), p.map(str::to_owned)))
            .collect(),
    };
    let hand_made = [
        person("hand.admin", true, &[("admin", None)]),
        person("hand.dev", true, &[("developer", Some("web"))]),
        person(
            "hand.bot",
            false,
            &[("operator", Some("web")), ("operator", None)],
        ),
        // In no group of the pattern: listed as unmanaged, not adopted.
        person("hand.nobody", true, &[]),
    ];
    for p in &hand_made {
        create_person(&iam, p, false).await;
    }

    let imported = ws.path("imported.kdl");
    let imported_arg = imported.display().to_string();
    let run = jumpgate(&emu, &["import", "--out", &imported_arg]);
    run.expect_code(0);
    run.assert_stderr_has("6 users and groups lack jumpgate's marker");
    jumpgate(&emu, &["validate", &imported_arg]).expect_code(0);
    run.assert_stderr_has("1 user outside the jump-account pattern left unmanaged");
    let back = load(&imported);
    for p in hand_made.iter().filter(|p| !p.access.is_empty()) {
        assert_eq!(access_of(&back, &p.name), p.access, "{}", p.name);
    }
    assert!(!back.users.keys().any(|u| u.as_str() == "hand.nobody"));
    assert_eq!(
        accounts_by_project(&back),
        [
            (Some("web".to_owned()), "210987654321".to_owned()),
            (None, "410987654321".to_owned())
        ]
        .into()
    );

    // The plan adopts, and does nothing else.
    let plan = jumpgate(&emu, &["plan", &imported_arg, "--format", "json"])
        .expect_code(0)
        .json();
    let mut got = changes(&plan);
    got.sort();
    let mut wanted: Vec<(String, String)> = [
        "group.group-admin-web",
        "group.group-developer-web",
        "group.group-operator-web",
        "user.hand.admin",
        "user.hand.dev",
        "user.hand.bot",
    ]
    .iter()
    .map(|a| ("update".to_owned(), a.to_string()))
    .collect();
    wanted.sort();
    assert_eq!(got, wanted, "{plan:#}");
    for change in plan["changes"].as_array().unwrap() {
        assert_eq!(change["reason"], "adopt", "{change:#}");
    }
    jumpgate(&emu, &["plan", &imported_arg, "--detailed-exitcode"]).expect_code(2);

    // Once adopted, the file and the account agree: the users carry the tag.
    let secrets = ws.secrets_arg();
    emu.start_recording();
    jumpgate(
        &emu,
        &["apply", &imported_arg, "--yes", "--secrets-dir", &secrets],
    )
    .expect_code(0);
    emu.stop_recording();
    assert!(is_adopted(&iam, "hand.dev").await);
    // The groups were moved onto jumpgate's path (UpdateGroup NewPath).
    let mut moved: Vec<String> = emu
        .recording()
        .into_iter()
        .filter(|r| r.action.as_deref() == Some("UpdateGroup"))
        .inspect(|r| assert_eq!(r.param("NewPath"), Some("/jumpgate/")))
        .map(|r| r.param("GroupName").unwrap_or_default().to_owned())
        .collect();
    moved.sort();
    assert_eq!(
        moved,
        [
            "group-admin-web",
            "group-developer-web",
            "group-operator-web"
        ]
    );
    let after = jumpgate(&emu, &["plan", &imported_arg, "--format", "json"])
        .expect_code(0)
        .json();
    assert_eq!(changes(&after), [], "{after:#}");
}
