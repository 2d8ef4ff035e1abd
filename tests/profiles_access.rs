//! `jumpgate profiles` and `jumpgate access` against the repository's own
//! `state/`, applied to the emulator: the generated client configuration is
//! read back by the parsers the clients use (botocore, configparser, a URL
//! parser), and the access matrix is checked against a computation of our
//! own from the groups, memberships and policies the emulator holds.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;
use support::by_hand;
use support::emulator::{DEFAULT_ACCOUNT_ID, REGION};
use support::python::{botocore_profiles, python_json};
use support::{
    Emulator, Jumpgate, Outcome, Workspace, groups_of, stack_instance_accounts, user_names,
};

const STATE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/state");

/// (user, account id, role ARN, group): one way one user reaches one role.
type Grant = (String, String, String, String);

/// Runs the binary, which must succeed.
#[track_caller]
fn run(jumpgate: Jumpgate) -> Outcome {
    let outcome = jumpgate.run();
    outcome.expect_code(0);
    outcome
}

fn stdout(outcome: &Outcome) -> String {
    outcome.stdout.clone()
}

/// The binary, with no AWS config file from the environment.
fn jumpgate() -> Jumpgate<'static> {
    Jumpgate::local().env_remove("AWS_CONFIG_FILE")
}

/// Applies `state/` to the emulator, its member accounts bootstrapped as
/// their owners would.
async fn apply_state(emu: &Emulator) -> Workspace {
    let ws = Workspace::with_repo_state();
    ws.bootstrap_members(emu).await;
    ws.apply(emu, &[]).expect_code(0);
    ws
}

/// Our own reading of the emulator: each user's groups, each group's
/// `assume-role` policy, its Resources expanded over the accounts the
/// `iam-roles` StackSet reaches.
async fn grants_in_emulator(emu: &Emulator) -> BTreeSet<Grant> {
    let config = emu.sdk_config().await;
    let iam = aws_sdk_iam::Client::new(&config);
    let accounts: BTreeSet<String> = stack_instance_accounts(emu, "iam-roles")
        .await
        .into_iter()
        .collect();
    assert!(
        accounts.len() >= 2,
        "the StackSet reaches the targets: {accounts:?}"
    );
    let mut grants = BTreeSet::new();
    for name in user_names(&iam).await {
        for group in groups_of(&iam, &name).await {
            let Ok(policy) = iam
                .get_group_policy()
                .group_name(&group)
                .policy_name("assume-role")
                .send()
                .await
            else {
                continue;
            };
            let text = percent_encoding::percent_decode_str(policy.policy_document())
                .decode_utf8()
                .unwrap()
                .into_owned();
            let document: Value = serde_json::from_str(&text).unwrap();
            for statement in document["Statement"].as_array().unwrap() {
                assert_eq!(statement["Action"], "sts:AssumeRole");
                let resources = match &statement["Resource"] {
                    Value::Array(list) => list.clone(),
                    single => vec![single.clone()],
                };
                for resource in resources {
                    let resource = resource.as_str().unwrap();
                    let arns: Vec<String> = if resource.contains(":*:") {
                        accounts
                            .iter()
                            .map(|a| resource.replace(":*:", &format!(":{a}:")))
                            .collect()
                    } else {
                        vec![resource.to_owned()]
                    };
                    for arn in arns {
                        let account = arn.split(':').nth(4).unwrap().to_owned();
                        grants.insert((name.clone(), account, arn, group.clone()));
                    }
                }
            }
        }
    }
    grants
}

/// The grants of `access --format json` (optionally only those with a status).
fn access_grants(json: &Value, status: Option<&str>) -> BTreeSet<Grant> {
    json["grants"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| status.is_none_or(|s| g["status"] == s))
        .map(|g| {
            let field = |k: &str| g[k].as_str().unwrap().to_owned();
            (
                field("user"),
                field("account_id"),
                field("role_arn"),
                field("group"),
            )
        })
        .collect()
}

fn role_arns_of(grants: &BTreeSet<Grant>, user: &str) -> BTreeSet<String> {
    grants
        .iter()
        .filter(|g| g.0 == user)
        .map(|g| g.2.clone())
        .collect()
}

#[tokio::test]
async fn aws_config_profiles_are_exactly_each_users_roles_and_the_roles_exist() {
    let emu = Emulator::start();
    let _applied = apply_state(&emu).await;
    let allowed = grants_in_emulator(&emu).await;
    let dir = tempfile::tempdir().unwrap();
    let users = [
        "yamada.taro",
        "tanaka.hanako",
        "sato.kenji",
        "deploy-bot",
        "ito.mei",
    ];
    for user in users {
        let fragment = stdout(&run(jumpgate().args(["profiles", STATE, "--user", user])));
        let path = dir.path().join(format!("{user}.config"));
        std::fs::write(&path, &fragment).unwrap();
        let profiles = botocore_profiles(&path);

        let source = &profiles["jump"];
        assert_eq!(source.get("region").map(String::as_str), Some(REGION));
        assert!(source.get("role_arn").is_none());
        let roles: BTreeMap<&String, &BTreeMap<String, String>> = profiles
            .iter()
            .filter(|(name, _)| name.as_str() != "jump")
            .collect();
        let arns: BTreeSet<String> = roles.values().map(|p| p["role_arn"].clone()).collect();
        assert_eq!(arns, role_arns_of(&allowed, user), "{user}:\n{fragment}");
        assert!(!arns.is_empty(), "every sample user reaches something");

        for (name, profile) in roles {
            assert_eq!(profile["source_profile"], "jump");
            assert_eq!(
                profile["mfa_serial"],
                format!("arn:aws:iam::{DEFAULT_ACCOUNT_ID}:mfa/{user}")
            );
            assert_eq!(profile["region"], REGION);
            assert_eq!(profile["role_session_name"], user);
            let arn = &profile["role_arn"];
            let (account, role) = arn
                .strip_prefix("arn:aws:iam::")
                .and_then(|rest| rest.split_once(":role/"))
                .unwrap();
            let account_name = &accounts()[account].0;
            assert_eq!(*name, format!("{account_name}-{}", &role["role-".len()..]));
            // The role is there in its account, and its session length is the profile's.
            let iam = aws_sdk_iam::Client::new(&emu.sdk_config_for_account(account).await);
            let found = iam.get_role().role_name(role).send().await;
            let found = found.unwrap_or_else(|e| panic!("{arn} missing after apply: {e:?}"));
            let max = found.role().and_then(|r| r.max_session_duration()).unwrap();
            assert_eq!(profile["duration_seconds"], max.to_string(), "{arn}");
        }
    }

    // Without --user, the aws-config format refuses: mfa_serial is personal.
    let output = jumpgate().args(["profiles", STATE]).run();
    output.expect_code(1);
    assert!(output.stderr.contains("--user"));
    let output = jumpgate()
        .args(["profiles", STATE, "--user", "nobody"])
        .run();
    output.expect_code(1);
    assert!(output.stderr.contains("no user `nobody`"));
}

/// The accounts of state/ by id: (name, colour).
fn accounts() -> BTreeMap<String, (String, Option<String>)> {
    let state = jumpgate::lang::load(Path::new(STATE)).expect("state/ is valid");
    let jump = (
        state.jump.id.to_string(),
        (state.jump.name.to_string(), None),
    );
    let members = state.accounts.iter().filter_map(|a| {
        let colour = a.color.as_ref().map(|c| c.to_string());
        Some((a.id.as_ref()?.to_string(), (a.name.to_string(), colour)))
    });
    std::iter::once(jump).chain(members).collect()
}

const CONFIGPARSER_SECTIONS: &str = r#"
import configparser, json, sys
parser = configparser.ConfigParser(interpolation=None)
parser.read_string(sys.stdin.read())
print(json.dumps({s: dict(parser[s]) for s in parser.sections()}))
"#;

const PARSE_LINKS: &str = r#"
import json, sys
from urllib.parse import urlsplit, parse_qs
links = []
for line in sys.stdin.read().splitlines():
    name, url = line.split()
    parts = urlsplit(url)
    query = parse_qs(parts.query, strict_parsing=True)
    assert all(len(v) == 1 for v in query.values()), url
    links.append({"name": name, "scheme": parts.scheme, "host": parts.netloc,
                  "path": parts.path, "fragment": parts.fragment,
                  "query": {k: v[0] for k, v in query.items()}})
print(json.dumps(links))
"#;

fn python_stdin_json(script: &str, input: &str) -> Value {
    python_json::<&str>(script, &[], input)
}

#[test]
fn switch_roles_is_ini_and_links_are_switch_role_urls() {
    let json: Value = serde_json::from_str(&stdout(&run(
        jumpgate().args(["access", STATE, "--format", "json"])
    )))
    .unwrap();
    let grants = access_grants(&json, None);
    let everyone: BTreeSet<String> = grants.iter().map(|g| g.2.clone()).collect();
    let colours: BTreeMap<String, String> = accounts()
        .into_iter()
        .filter_map(|(id, (_, colour))| Some((id, colour?)))
        .collect();
    assert!(!colours.is_empty(), "state/ gives some accounts a colour");

    // Without --user: every role anyone can reach, one section each.
    let ini = stdout(&run(jumpgate().args([
        "profiles",
        STATE,
        "--format",
        "switch-roles",
    ])));
    let sections: BTreeMap<String, BTreeMap<String, String>> =
        serde_json::from_value(python_stdin_json(CONFIGPARSER_SECTIONS, &ini)).unwrap();
    let mut arns = BTreeSet::new();
    for (section, fields) in &sections {
        assert!(section.starts_with("profile "), "{section}");
        let account = &fields["aws_account_id"];
        assert!(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(fields.get("color"), colours.get(account), "{section}");
        arns.insert(format!(
            "arn:aws:iam::{account}:role/{}",
            fields["role_name"]
        ));
    }
    assert_eq!(arns, everyone);

    // One user's links: the console's switch-role page, filled in.
    for user in ["tanaka.hanako", "yamada.taro"] {
        let text =
            stdout(&run(jumpgate().args([
                "profiles", STATE, "--user", user, "--format", "links",
            ])));
        let links = python_stdin_json(PARSE_LINKS, &text);
        let mut arns = BTreeSet::new();
        for link in links.as_array().unwrap() {
            assert_eq!(link["scheme"], "https");
            assert_eq!(link["host"], "signin.aws.amazon.com");
            assert_eq!(link["path"], "/switchrole");
            assert_eq!(link["fragment"], "");
            let query = link["query"].as_object().unwrap();
            let keys: BTreeSet<&str> = query.keys().map(String::as_str).collect();
            let account = query["account"].as_str().unwrap();
            let mut expected = BTreeSet::from(["account", "displayName", "roleName"]);
            if let Some(colour) = colours.get(account) {
                expected.insert("color");
                assert_eq!(query["color"], colour.as_str());
            }
            assert_eq!(keys, expected, "{link}");
            assert_eq!(query["displayName"], link["name"]);
            arns.insert(format!(
                "arn:aws:iam::{account}:role/{}",
                query["roleName"].as_str().unwrap()
            ));
        }
        assert_eq!(arns, role_arns_of(&grants, user), "{user}");
    }
}

#[tokio::test]
async fn access_matches_the_emulator_and_live_flags_a_membership_added_by_hand() {
    let emu = Emulator::start();
    let _applied = apply_state(&emu).await;
    let access_json = |live: bool| -> Value {
        let command = Jumpgate::against(&emu).args(["access", STATE, "--format", "json"]);
        let command = if live { command.arg("--live") } else { command };
        run(command).json()
    };

    let in_emulator = grants_in_emulator(&emu).await;
    let from_file = access_json(false);
    assert_eq!(from_file["compared_with_live"], false);
    assert_eq!(access_grants(&from_file, None), in_emulator);
    let live = access_json(true);
    assert_eq!(access_grants(&live, Some("both")), in_emulator);
    assert_eq!(live["summary"]["live_only"], 0);
    assert_eq!(live["summary"]["file_only"], 0);

    // Someone puts sato.kenji into group-admin by hand.
    let iam = aws_sdk_iam::Client::new(&emu.sdk_config().await);
    by_hand::add_user_to_group(&iam, "sato.kenji", "group-admin").await;
    let now = grants_in_emulator(&emu).await;
    let added: BTreeSet<Grant> = now.difference(&in_emulator).cloned().collect();
    assert!(!added.is_empty());
    assert!(
        added
            .iter()
            .all(|g| g.0 == "sato.kenji" && g.3 == "group-admin")
    );

    let live = access_json(true);
    assert_eq!(access_grants(&live, Some("live-only")), added);
    assert_eq!(access_grants(&live, Some("both")), in_emulator);
    assert_eq!(access_grants(&live, None), now);
    // The file alone does not see it.
    assert_eq!(access_grants(&access_json(false), None), in_emulator);

    let text = stdout(&run(
        Jumpgate::against(&emu).args(["access", STATE, "--live"])
    ));
    let sato = text.lines().find(|l| l.starts_with("sato.kenji")).unwrap();
    assert!(sato.contains("!admin"), "{text}");
    assert!(
        text.contains(&format!(
            "{} differences: {} live only, 0 file only.",
            added.len(),
            added.len()
        )),
        "{text}"
    );
    let csv = stdout(&run(
        Jumpgate::against(&emu).args(["access", STATE, "--live", "--format", "csv"])
    ));
    assert_eq!(
        csv.lines().next(),
        Some("user,account,account_id,role,role_arn,group,status")
    );
    assert_eq!(
        csv.lines().filter(|l| l.ends_with(",live-only")).count(),
        added.len()
    );
    let markdown = stdout(&run(
        Jumpgate::against(&emu).args(["access", STATE, "--live", "--format", "markdown"])
    ));
    assert!(markdown.contains("`!admin"), "{markdown}");
}

#[test]
fn write_merges_a_marked_block_and_keeps_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let mine = "[default]\nregion = eu-west-1\n\n[profile personal]\noutput = json\n";
    std::fs::write(&config, mine).unwrap();
    let backup = dir.path().join("config.bak");

    // First run: the block is appended; the rest stays byte for byte.
    let write_to = format!("--write={}", config.display());
    run(jumpgate().args(["profiles", STATE, "--user", "yamada.taro", &write_to]));
    let first = std::fs::read_to_string(&config).unwrap();
    assert!(first.starts_with(mine), "{first}");
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), mine);
    let profiles = botocore_profiles(&config);
    assert_eq!(profiles["default"]["region"], "eu-west-1");
    assert_eq!(profiles["personal"]["output"], "json");
    assert!(profiles.contains_key("payments-prod-admin"));

    // The user edits around the block; the second run (for another user,
    // through AWS_CONFIG_FILE) replaces only the block.
    let edited = format!("# mine\n{first}\n[profile after]\nregion = us-east-2\n");
    std::fs::write(&config, &edited).unwrap();
    run(jumpgate()
        .args(["profiles", STATE, "--user", "tanaka.hanako", "--write"])
        .env("AWS_CONFIG_FILE", &config));
    let second = std::fs::read_to_string(&config).unwrap();
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), edited);
    let block_start = first.find("# >>> jumpgate").unwrap();
    let fragment = stdout(&run(jumpgate().args([
        "profiles",
        STATE,
        "--user",
        "tanaka.hanako",
    ])));
    assert_eq!(
        second,
        format!(
            "# mine\n{}{fragment}\n[profile after]\nregion = us-east-2\n",
            &first[..block_start]
        )
    );
    let profiles = botocore_profiles(&config);
    assert!(!profiles.contains_key("payments-prod-admin"));
    assert!(profiles.contains_key("payments-prod-developer"));
    assert_eq!(profiles["after"]["region"], "us-east-2");
    assert_eq!(profiles["personal"]["output"], "json");

    // Nothing to change: nothing written, the backup left as it was.
    std::fs::remove_file(&backup).unwrap();
    let output = run(jumpgate().args(["profiles", STATE, "--user", "tanaka.hanako", &write_to]));
    assert!(output.stderr.contains("nothing written"));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), second);
    assert!(!backup.exists());

    // A profile of the same name outside the block: refused, file untouched.
    let clash = format!("{second}[profile payments-stg-developer]\nregion = x\n");
    std::fs::write(&config, &clash).unwrap();
    let output = jumpgate()
        .args(["profiles", STATE, "--user", "tanaka.hanako", &write_to])
        .run();
    output.expect_code(1);
    assert!(output.stderr.contains("[profile payments-stg-developer]"));
    assert_eq!(std::fs::read_to_string(&config).unwrap(), clash);

    // A new file is created, readable by its owner only.
    let fresh = dir.path().join("new/.aws/config");
    run(jumpgate()
        .args(["profiles", STATE, "--user", "ito.mei"])
        .arg(format!("--write={}", fresh.display())));
    assert!(botocore_profiles(&fresh).contains_key("analytics-prod-developer"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
