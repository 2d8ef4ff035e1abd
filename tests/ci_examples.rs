//! Issue #5, the CI examples: the jumpgate commands that
//! `examples/ci/github-actions.yml` and `examples/ci/gitlab-ci.yml` run are
//! read out of the YAML and run as written (same flags, same files, from the
//! repository's root) against the emulator. The examples are thin users of
//! the building blocks (issue #17): the GitHub Action `action.yml` and the
//! GitLab template `ci/jumpgate.gitlab-ci.yml`, whose commands run here with
//! their default path, `state`. They run through the life of a state
//! repository: a pull request planned and applied from its saved plan, a
//! scheduled drift check, an offboarding, a saved plan gone stale. The IAM
//! policies for the CI roles must allow every call those runs made, and
//! every call in the AWS layer's source.

mod support;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use aws_sdk_iam::Client as IamClient;
use serde_json::{Value, json};

use support::by_hand;
use support::fixtures;
use support::python::try_yaml;
use support::{Emulator, Jumpgate, Outcome, Workspace};

const AGE: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn estate(users: &str) -> String {
    format!("{}{users}", fixtures::payments_head!())
}

// The users the pull requests of the scenario declare, each written once.
const YAMADA: &str = r#"user "yamada.taro" age-recipient="AGE" {
    access "admin"
}
"#;
const SATO: &str = r#"user "sato.kenji" age-recipient="AGE" {
    access "operator" project="payments"
}
"#;
const DEPLOY_BOT: &str = r#"user "deploy-bot" console=#false {
    access "operator"
}
"#;
const ITO: &str = r#"user "ito.mei" age-recipient="AGE" {
    access "developer" project="payments"
}
"#;

/// The shell scripts a pipeline runs: GitHub's `steps[].run` (of a workflow's
/// jobs or a composite action's `runs`), GitLab's `before_script` and `script`.
fn scripts(pipeline: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut text = |v: &Value| match v {
        Value::String(s) => found.push(s.clone()),
        Value::Array(items) => {
            found.extend(items.iter().filter_map(|i| i.as_str().map(String::from)))
        }
        _ => {}
    };
    let jobs: Vec<&Value> = match (pipeline.get("jobs"), pipeline.get("runs")) {
        (Some(jobs), _) => jobs.as_object().expect("jobs").values().collect(),
        (None, Some(runs)) => vec![runs],
        _ => pipeline.as_object().expect("a mapping").values().collect(),
    };
    for job in jobs {
        for step in job["steps"].as_array().into_iter().flatten() {
            text(&step["run"]);
        }
        text(&job["before_script"]);
        text(&job["script"]);
    }
    found
}

/// Each `jumpgate …` command line of the scripts, without what the shell
/// does with its output, split into arguments.
fn commands(scripts: &[String]) -> Vec<Vec<String>> {
    let mut commands: Vec<Vec<String>> = Vec::new();
    for line in scripts.iter().flat_map(|s| s.lines()) {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("jumpgate ") else {
            continue;
        };
        // The building blocks' path input, at its default.
        let rest = rest.replace("\"$JUMPGATE_PATH\"", "state");
        let command = rest
            .split(['|', '>', ';'])
            .next()
            .unwrap_or_default()
            .split("&&")
            .next()
            .unwrap_or_default();
        let args: Vec<String> = command.split_whitespace().map(String::from).collect();
        assert!(
            args.iter().all(|a| !a.contains(['$', '"', '\''])),
            "a jumpgate command line this test cannot run as written: {line}"
        );
        if !commands.contains(&args) {
            commands.push(args);
        }
    }
    commands
}

/// A YAML file of the repository, parsed; `None` without PyYAML.
fn parsed(path: &str) -> (String, Option<Value>) {
    let file = repo().join(path);
    let text = fs::read_to_string(&file).unwrap_or_else(|e| panic!("{path}: {e}"));
    (text, try_yaml(&file).ok())
}

/// GitLab's `extends`, resolved as GitLab merges: mappings deeply, the rest
/// (lists, scalars) replaced by the extending job's.
fn resolve_extends(pipeline: &Value, job: &Value) -> Value {
    let Some(parent) = job.get("extends").and_then(Value::as_str) else {
        return job.clone();
    };
    let mut merged = resolve_extends(pipeline, &pipeline[parent]);
    fn merge(base: &mut Value, over: &Value) {
        match (base, over) {
            (Value::Object(base), Value::Object(over)) => {
                for (key, value) in over {
                    merge(base.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
            (base, over) => *base = over.clone(),
        }
    }
    merge(&mut merged, job);
    merged.as_object_mut().expect("a job").remove("extends");
    merged
}

/// The commands a pipeline runs: the example's own scripts and those of
/// the building block it uses (for GitLab, its jobs with `extends` resolved
/// against the included template).
fn pipeline_commands(name: &str) -> (Value, Vec<Vec<String>>) {
    let (text, example) = parsed(&format!("examples/ci/{name}"));
    let block = if name.starts_with("github") {
        "action.yml"
    } else {
        "ci/jumpgate.gitlab-ci.yml"
    };
    let (block_text, block_yaml) = parsed(block);
    match (example, block_yaml) {
        (Some(example), Some(block)) if block.get("runs").is_some() => {
            let mut found = scripts(&example);
            found.extend(scripts(&block));
            (
                json!({"workflow": example, "action": block}),
                commands(&found),
            )
        }
        (Some(example), Some(template)) => {
            let mut all = template.as_object().expect("a mapping").clone();
            all.extend(example.as_object().expect("a mapping").clone());
            let all = Value::Object(all);
            let jobs: serde_json::Map<String, Value> = all
                .as_object()
                .unwrap()
                .iter()
                .filter(|(name, job)| !name.starts_with('.') && job.get("extends").is_some())
                .map(|(name, job)| (name.clone(), resolve_extends(&all, job)))
                .collect();
            let jobs = Value::Object(jobs);
            let found = commands(&scripts(&jobs));
            (
                json!({"pipeline": example, "template": template, "jobs": jobs}),
                found,
            )
        }
        // Without PyYAML: the command lines of the raw text.
        _ => (Value::Null, commands(&[text, block_text])),
    }
}

/// A command with `validate`'s annotation format left out: each platform
/// has its own, the rest is the same.
fn without_annotation_format(command: &[String]) -> Vec<String> {
    let mut command = command.to_vec();
    if command[0] == "validate"
        && let Some(at) = command.iter().position(|a| a == "--format")
    {
        command.drain(at..(at + 2).min(command.len()));
    }
    command
}

/// The command of `commands` whose subcommand is `sub` and whose arguments
/// include `with` but none of `without`.
fn find<'a>(
    commands: &'a [Vec<String>],
    sub: &str,
    with: &[&str],
    without: &[&str],
) -> &'a [String] {
    commands
        .iter()
        .find(|c| {
            c[0] == sub
                && with.iter().all(|w| c.iter().any(|a| a == w))
                && without.iter().all(|w| !c.iter().any(|a| a == w))
        })
        .unwrap_or_else(|| panic!("no `jumpgate {sub}` with {with:?} in {commands:?}"))
}

/// One jumpgate run in the pipeline's working directory, which must end
/// with the code the pipeline expects, and the AWS calls it made
/// (`service:Action`).
fn run(emu: &Emulator, dir: &Path, args: &[String], code: i32) -> (Outcome, BTreeSet<String>) {
    emu.clear_recording();
    let outcome = Jumpgate::against(emu).current_dir(dir).args(args).run();
    outcome.expect_code(code);
    let calls = emu
        .recording()
        .into_iter()
        .filter_map(|r| Some(format!("{}:{}", r.service?, r.action?)))
        .collect();
    (outcome, calls)
}

/// The actions a policy allows, lower-cased (IAM compares them so).
fn allowed(policy: &Value) -> BTreeSet<String> {
    assert_eq!(policy["Version"], "2012-10-17");
    let statements = policy["Statement"].as_array().expect("Statement list");
    let mut sids = BTreeSet::new();
    let mut actions = BTreeSet::new();
    for statement in statements {
        assert_eq!(statement["Effect"], "Allow", "{statement}");
        assert!(
            statement.get("Resource").is_some(),
            "no Resource: {statement}"
        );
        let sid = statement["Sid"]
            .as_str()
            .expect("every statement has a Sid");
        assert!(sids.insert(sid.to_owned()), "Sid {sid} twice");
        match &statement["Action"] {
            Value::String(one) => {
                actions.insert(one.to_lowercase());
            }
            Value::Array(list) => actions.extend(
                list.iter()
                    .map(|a| a.as_str().expect("action").to_lowercase()),
            ),
            other => panic!("Action {other}"),
        }
    }
    assert!(
        actions.iter().all(|a| !a.contains('*')),
        "least privilege: no wildcard actions"
    );
    actions
}

fn policy(name: &str) -> BTreeSet<String> {
    let text = fs::read_to_string(repo().join("examples/ci").join(name)).expect("policy file");
    allowed(&serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}")))
}

/// Calls that need no permission: any credentials may ask who they are.
fn needs_permission(call: &str) -> bool {
    !call.eq_ignore_ascii_case("sts:GetCallerIdentity")
}

fn is_read(call: &str) -> bool {
    let action = call.split(':').nth(1).unwrap_or_default();
    // GenerateCredentialReport builds IAM's credential report from what IAM
    // holds; it changes no IAM object.
    ["get", "list", "describe"]
        .iter()
        .any(|p| action.starts_with(p))
        || call == "iam:generatecredentialreport"
}

/// Every AWS call in the source of the AWS layer, as `service:Action`: the
/// name each call passes on to its error, the first string among the
/// arguments of the layer's calling helpers (`from_sdk("X", ..)`,
/// `request("X", ..)`, `write_stack(stack, "X", ..)`, the macros that take
/// it first).
fn calls_in_source() -> BTreeSet<String> {
    let mut calls = BTreeSet::new();
    for entry in fs::read_dir(repo().join("src/aws")).expect("src/aws") {
        let path: PathBuf = entry.expect("entry").path();
        let service = match path.file_stem().and_then(|s| s.to_str()) {
            Some("iam" | "report") => "iam",
            Some("cfn") => "cloudformation",
            Some("org") => "organizations",
            _ => continue,
        };
        let text = fs::read_to_string(&path).expect("source");
        for marker in [
            "from_sdk(",
            "request(",
            "write_stack(",
            "create_settled(",
            "propagating(",
            "unless_gone(",
            "send!(",
            "once!(",
            "ids!(",
            "all_pages!(",
            "instance_operation!(",
            "stack_set_operation!(",
            "answered(",
            "exists(",
        ] {
            for (at, _) in text.match_indices(marker) {
                // The arguments up to the first nested call or the end.
                let arguments = &text[at + marker.len()..];
                let arguments = &arguments[..arguments.find(['(', ')', ';', '{']).unwrap_or(0)];
                let Some(name) = arguments.split('"').nth(1) else {
                    continue;
                };
                if name.is_empty()
                    || !name.starts_with(|c: char| c.is_ascii_uppercase())
                    || !name.chars().all(|c| c.is_ascii_alphanumeric())
                {
                    continue;
                }
                let service = if name == "GetCallerIdentity" || name == "AssumeRole" {
                    "sts"
                } else {
                    service
                };
                calls.insert(format!("{service}:{name}").to_lowercase());
            }
        }
    }
    calls
}

#[tokio::test]
async fn the_pipelines_commands_run_as_written_and_the_policies_allow_their_calls() {
    let emu = Emulator::start();
    let (github, github_commands) = pipeline_commands("github-actions.yml");
    let (gitlab, gitlab_commands) = pipeline_commands("gitlab-ci.yml");
    // Both pipelines run the same jumpgate commands, but for the format of
    // validation's annotations.
    let sorted = |c: &[Vec<String>]| {
        c.iter()
            .map(|c| without_annotation_format(c))
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(sorted(&github_commands), sorted(&gitlab_commands));
    let commands = github_commands;
    let validate = find(&commands, "validate", &["state", "--format", "github"], &[]).to_vec();
    find(
        &gitlab_commands,
        "validate",
        &["state", "--format", "gitlab"],
        &[],
    );
    let plan = find(
        &commands,
        "plan",
        &["--out", "plan.json", "--format", "markdown"],
        &[],
    )
    .to_vec();
    let apply_saved = find(&commands, "apply", &["--plan", "plan.json", "--yes"], &[]).to_vec();
    let apply_again = find(&commands, "apply", &["--yes"], &["--plan"]).to_vec();
    let drift = find(&commands, "drift", &["state"], &[]).to_vec();
    assert_eq!(commands.len(), 5, "{commands:?}");

    // The pipelines' structure, where the YAML could be read.
    if !github.is_null() {
        let workflow = &github["workflow"];
        let on = workflow.get("on").or(workflow.get("true")).expect("on:");
        assert!(on.get("pull_request").is_some());
        assert_eq!(on["push"]["branches"], json!(["main"]));
        assert!(on["schedule"][0]["cron"].is_string());
        let jobs = &workflow["jobs"];
        for job in ["plan", "apply", "drift"] {
            assert!(jobs[job]["if"].is_string(), "job {job}");
            // Each job is the action at a release, with its command.
            let steps = jobs[job]["steps"].as_array().unwrap();
            let uses = steps
                .iter()
                .find(|s| s["uses"].as_str().is_some_and(|u| u.contains("/jumpgate@")))
                .unwrap_or_else(|| panic!("job {job} uses the jumpgate action"));
            assert_eq!(uses["with"]["command"], job);
            assert!(uses["with"]["version"].is_string());
        }
        let action = &github["action"];
        assert_eq!(action["runs"]["using"], "composite");
        let steps = action["runs"]["steps"].as_array().unwrap();
        let install = steps[0]["run"].as_str().unwrap();
        assert!(install.contains("sha256sum -c"), "{install}");
        let step_for = |command: &str, what: &dyn Fn(&Value) -> bool| {
            steps.iter().any(|s| {
                s["if"]
                    .as_str()
                    .is_some_and(|c| c.contains(&format!("inputs.command == '{command}'")))
                    && what(s)
            })
        };
        assert!(step_for("plan", &|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/upload-artifact"))
                && s["with"]["path"] == "plan.json"
        }));
        assert!(step_for("plan", &|s| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/github-script"))
                && s["with"]["script"].as_str().unwrap().contains("plan.md")
        }));
        assert!(step_for("apply", &|s| {
            s["run"]
                .as_str()
                .is_some_and(|r| r.contains("gh run download"))
        }));
        // GitHub runs `shell: bash` with pipefail: the tee keeps exit 2.
        assert!(step_for("drift", &|s| {
            s["run"]
                .as_str()
                .is_some_and(|r| r.contains("jumpgate drift"))
                && s["shell"] == "bash"
        }));
    }
    if !gitlab.is_null() {
        let include = &gitlab["pipeline"]["include"][0];
        assert_eq!(include["file"], "/ci/jumpgate.gitlab-ci.yml");
        let jobs = &gitlab["jobs"];
        for job in ["jumpgate-plan", "jumpgate-apply", "jumpgate-drift"] {
            assert!(jobs[job]["rules"].is_array(), "job {job} has rules");
            assert!(jobs[job]["before_script"].is_array(), "job {job} installs");
        }
        let plan_job = &jobs["jumpgate-plan"];
        assert!(
            plan_job["artifacts"]["paths"]
                .as_array()
                .unwrap()
                .contains(&Value::from("plan.json"))
        );
        assert_eq!(
            plan_job["artifacts"]["reports"]["codequality"],
            "gl-code-quality-report.json"
        );
        assert!(
            jobs["jumpgate-drift"]["rules"][0]["if"]
                .as_str()
                .unwrap()
                .contains("schedule")
        );
        let before = plan_job["before_script"].as_array().unwrap();
        assert!(before.contains(&Value::from("set -o pipefail")));
        assert!(
            before
                .iter()
                .any(|s| s.as_str().is_some_and(|s| s.contains("sha256sum -c")))
        );
    }

    // The state repository, checked out.
    let checkout = Workspace::new();
    let dir = checkout.root();
    let write_state =
        |users: &[&str]| checkout.write_state(&estate(&users.concat().replace("AGE", AGE)));
    emu.bootstrap_declared(&estate("")).await;
    emu.start_recording();
    let mut read_calls = BTreeSet::new();
    let mut all_calls = BTreeSet::new();
    let mut step = |args: &[String], code: i32| -> Outcome {
        let (done, calls) = run(&emu, dir, args, code);
        if matches!(args[0].as_str(), "validate" | "plan" | "drift") {
            read_calls.extend(calls.iter().cloned());
        }
        all_calls.extend(calls);
        done
    };

    // Pull request 1: the estate from nothing. The plan job validates, plans
    // (Markdown for the comment, plan.json for the artifact).
    write_state(&[YAMADA, SATO, DEPLOY_BOT]);
    step(&validate, 0);
    let planned = step(&plan, 0);
    assert!(
        planned.stdout.starts_with("### "),
        "Markdown: {}",
        planned.stdout
    );
    assert!(
        planned
            .stdout
            .contains("membership.yamada.taro/group-admin")
    );
    let saved: Value =
        serde_json::from_str(&fs::read_to_string(dir.join("plan.json")).unwrap()).unwrap();
    assert_eq!(saved["format_version"], 3);
    // Merged: the apply job applies the saved plan.
    let applied = step(&apply_saved, 0);
    applied.assert_stdout_has("Apply complete");
    applied.assert_stdout_has("encrypted to their age key");
    // The schedule: no drift.
    let clean = step(&drift, 0);
    clean.assert_stdout_has("No drift");

    // Someone adds themselves to the admins by hand: the drift job fails.
    let iam = IamClient::new(&emu.sdk_config().await);
    by_hand::add_user_to_group(&iam, "sato.kenji", "group-admin").await;
    let drifted = step(&drift, 2);
    drifted.assert_stdout_has("| `-` | `membership.sato.kenji/group-admin` |");

    // Pull request 2: the robot leaves, someone joins. Its saved plan also
    // takes the hand-made membership away.
    write_state(&[YAMADA, SATO, ITO]);
    step(&validate, 0);
    let offboarding = step(&plan, 0);
    offboarding.assert_stdout_has("user.deploy-bot");
    step(&apply_saved, 0);
    step(&drift, 0);

    // Pull request 3, planned; then a change by hand before the merge: the
    // saved plan is stale and refused, nothing changes; a maintainer plans
    // again and applies.
    write_state(&[YAMADA, ITO]);
    step(&plan, 0);
    by_hand::delete_login_profile(&iam, "yamada.taro").await;
    let stale = step(&apply_saved, 1);
    stale.assert_stderr_has("stale");
    let again = step(&apply_again, 0);
    again.assert_stdout_has("Apply complete");
    step(&drift, 0);

    // The policies allow what those runs called: the plan role what plan,
    // validate and drift read, the apply role everything.
    let plan_policy = policy("iam-policy-plan.json");
    let apply_policy = policy("iam-policy-apply.json");
    let lower = |calls: &BTreeSet<String>| -> BTreeSet<String> {
        calls
            .iter()
            .filter(|c| needs_permission(c))
            .map(|c| c.to_lowercase())
            .collect()
    };
    let (read_calls, all_calls) = (lower(&read_calls), lower(&all_calls));
    assert!(
        all_calls.contains("cloudformation:createstackset"),
        "{all_calls:?}"
    );
    assert!(all_calls.contains("iam:deleteuser"), "{all_calls:?}");
    assert!(
        read_calls.contains("cloudformation:detectstacksetdrift"),
        "{read_calls:?}"
    );
    let missing: Vec<&String> = read_calls.difference(&plan_policy).collect();
    assert!(missing.is_empty(), "the plan policy lacks {missing:?}");
    let missing: Vec<&String> = all_calls.difference(&apply_policy).collect();
    assert!(missing.is_empty(), "the apply policy lacks {missing:?}");

    // And every call in the source, whether these runs made it or not.
    let source = calls_in_source();
    assert!(source.len() > 40, "{source:?}");
    let missing: Vec<&String> = source
        .iter()
        .filter(|c| needs_permission(c) && !apply_policy.contains(*c))
        .collect();
    assert!(missing.is_empty(), "the apply policy lacks {missing:?}");
    let missing: Vec<&String> = source
        .iter()
        .filter(|c| is_read(c) && needs_permission(c) && !plan_policy.contains(*c))
        .collect();
    assert!(missing.is_empty(), "the plan policy lacks {missing:?}");
    // The plan role reads, and only reads (drift detection included).
    let writes: Vec<&String> = plan_policy
        .iter()
        .filter(|a| !is_read(a) && *a != "cloudformation:detectstacksetdrift")
        .collect();
    assert!(
        writes.is_empty(),
        "the plan policy may change things: {writes:?}"
    );
    assert!(plan_policy.is_subset(&apply_policy));
    assert!(apply_policy.contains("iam:passrole"));
    // Nothing in the apply policy that jumpgate never calls, save what
    // CloudFormation does with the caller's rights.
    let by_cloudformation =
        |a: &str| a.contains("role") && a.starts_with("iam:") || a == "cloudformation:tagresource";
    let unused: Vec<&String> = apply_policy
        .iter()
        .filter(|a| !source.contains(*a) && !by_cloudformation(a) && *a != "sts:assumerole")
        .collect();
    assert!(
        unused.is_empty(),
        "the apply policy allows more than jumpgate calls: {unused:?}"
    );
}

/// What an IAM request carries for policy evaluation: the action, the
/// resource ARN and the condition context (multi-valued keys as lists).
struct Request<'a> {
    action: &'a str,
    resource: String,
    context: Vec<(&'a str, Vec<&'a str>)>,
}

/// IAM's wildcard matching: `*` any run of characters, `?` any one.
fn glob(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => {
            pattern.len() == value.len()
                && pattern
                    .chars()
                    .zip(value.chars())
                    .all(|(p, v)| p == '?' || p == v)
        }
        Some((head, tail)) => {
            value.len() >= head.len()
                && glob(head, &value[..head.len()])
                && (head.len()..=value.len()).any(|at| glob(tail, &value[at..]))
        }
    }
}

fn texts(value: &Value) -> Vec<&str> {
    match value {
        Value::String(one) => vec![one.as_str()],
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        other => panic!("a string or a list of strings: {other}"),
    }
}

/// One condition operator against the context, as IAM's policy evaluation
/// logic documents it; an operator this test cannot judge fails the test
/// rather than being taken as met.
fn condition_met(operator: &str, key: &str, wanted: &[&str], request: &Request) -> bool {
    let found: Option<&Vec<&str>> = request
        .context
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v);
    let equals = |a: &str, b: &str| a == b;
    match operator {
        "StringEquals" | "Bool" => found.is_some_and(|v| v.len() == 1 && wanted.contains(&v[0])),
        "StringLike" | "ArnLike" => {
            found.is_some_and(|v| v.len() == 1 && wanted.iter().any(|w| glob(w, v[0])))
        }
        // Every value in the request is among the wanted ones; true when
        // the key is absent (IAM's documented behaviour).
        "ForAllValues:StringEquals" => found.is_none_or(|v| {
            v.iter()
                .all(|value| wanted.iter().any(|w| equals(w, value)))
        }),
        "ForAnyValue:StringEquals" => {
            found.is_some_and(|v| v.iter().any(|value| wanted.contains(value)))
        }
        other => panic!("the test cannot evaluate condition operator {other}"),
    }
}

/// Whether an identity policy of Allow statements allows the request.
fn allows(policy: &Value, request: &Request) -> bool {
    policy["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .any(|statement| {
            let action = texts(&statement["Action"])
                .iter()
                .any(|a| glob(&a.to_lowercase(), &request.action.to_lowercase()));
            let resource = texts(&statement["Resource"])
                .iter()
                .any(|r| glob(r, &request.resource));
            let conditions = statement
                .get("Condition")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .all(|(operator, keys)| {
                    keys.as_object()
                        .expect("condition keys")
                        .iter()
                        .all(|(key, wanted)| condition_met(operator, key, &texts(wanted), request))
                });
            action && resource && conditions
        })
}

#[test]
fn the_apply_policy_reaches_only_what_jumpgate_owns() {
    let text = fs::read_to_string(repo().join("examples/ci/iam-policy-apply.json"))
        .expect("the apply policy");
    let policy: Value = serde_json::from_str(&text).expect("JSON");
    let jump = "123456789012";
    let user = |name: &str| format!("arn:aws:iam::{jump}:user/{name}");
    let owned = vec![("aws:ResourceTag/managed-by", vec!["jumpgate"])];
    let request = |action, resource, context| Request {
        action,
        resource,
        context,
    };
    // (what, the request, whether the policy allows it)
    let cases = [
        (
            "offboarding a user jumpgate owns",
            request("iam:DeleteUser", user("leaver"), owned.clone()),
            true,
        ),
        (
            "deleting an unowned break-glass user",
            request("iam:DeleteUser", user("breakglass"), vec![]),
            false,
        ),
        (
            "a login profile for an unowned user",
            request("iam:CreateLoginProfile", user("breakglass"), vec![]),
            false,
        ),
        (
            "deleting an unowned user's access key",
            request("iam:DeleteAccessKey", user("breakglass"), vec![]),
            false,
        ),
        (
            "a user tagged otherwise",
            request(
                "iam:DeleteLoginProfile",
                user("breakglass"),
                vec![("aws:ResourceTag/managed-by", vec!["someone-else"])],
            ),
            false,
        ),
        (
            "creating a user with jumpgate's tag",
            request(
                "iam:CreateUser",
                user("newcomer"),
                vec![
                    ("aws:RequestTag/managed-by", vec!["jumpgate"]),
                    ("aws:TagKeys", vec!["managed-by"]),
                ],
            ),
            true,
        ),
        (
            "creating a user without jumpgate's tag",
            request("iam:CreateUser", user("newcomer"), vec![]),
            false,
        ),
        (
            "tagging with more than jumpgate's tag",
            request(
                "iam:TagUser",
                user("breakglass"),
                vec![
                    ("aws:RequestTag/managed-by", vec!["jumpgate"]),
                    ("aws:TagKeys", vec!["managed-by", "owner"]),
                ],
            ),
            false,
        ),
        (
            "a policy on a group under /jumpgate/",
            request(
                "iam:PutGroupPolicy",
                format!("arn:aws:iam::{jump}:group/jumpgate/group-admin"),
                vec![],
            ),
            true,
        ),
        (
            "a policy on a group outside /jumpgate/",
            request(
                "iam:PutGroupPolicy",
                format!("arn:aws:iam::{jump}:group/Admins"),
                vec![],
            ),
            false,
        ),
        (
            "adding someone to a group outside /jumpgate/",
            request(
                "iam:AddUserToGroup",
                format!("arn:aws:iam::{jump}:group/Admins"),
                vec![],
            ),
            false,
        ),
        (
            "attaching AdministratorAccess to a jumpgate group",
            request(
                "iam:AttachGroupPolicy",
                format!("arn:aws:iam::{jump}:group/jumpgate/group-admin"),
                vec![(
                    "iam:PolicyARN",
                    vec!["arn:aws:iam::aws:policy/AdministratorAccess"],
                )],
            ),
            false,
        ),
        (
            "a StackSet role's policy written directly",
            request(
                "iam:PutRolePolicy",
                format!("arn:aws:iam::{jump}:role/AWSCloudFormationStackSetAdministrationRole"),
                vec![],
            ),
            false,
        ),
        (
            "a StackSet role's policy written by CloudFormation",
            request(
                "iam:PutRolePolicy",
                format!("arn:aws:iam::{jump}:role/AWSCloudFormationStackSetAdministrationRole"),
                vec![("aws:CalledVia", vec!["cloudformation.amazonaws.com"])],
            ),
            true,
        ),
    ];
    for (what, request, expected) in &cases {
        assert_eq!(allows(&policy, request), *expected, "{what}");
    }
    println!(
        "apply policy: {} requests evaluated with their conditions",
        cases.len()
    );
}
