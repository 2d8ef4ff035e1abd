//! Driving the built binary as a user would, against one emulator per test,
//! and reading back what it did.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use aws_sdk_iam::Client as IamClient;
use serde_json::Value;

use crate::support::emulator::{Emulator, RecordedRequest};

/// No single jumpgate run in these tests comes near this; a hung one fails the test.
const RUN_TIMEOUT: Duration = Duration::from_secs(90);

/// The jump account every fixture declares: the emulator's default account.
pub const JUMP: &str = "123456789012";

/// What one run of the binary printed and how it exited.
pub struct Outcome {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    /// Panics with the whole output unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            code,
            "`jumpgate {}` exited with {} (wanted {code})\n--- stdout\n{}\n--- stderr\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        );
        self
    }

    /// stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "`jumpgate {}` did not print JSON ({e}):\n{}",
                self.args.join(" "),
                self.stdout
            )
        })
    }
}

/// Runs `jumpgate ARGS` against `emu` with stdin not a terminal, and waits
/// for it at most `RUN_TIMEOUT`.
pub fn jumpgate(emu: &Emulator, args: &[&str]) -> Outcome {
    jumpgate_with_env(emu, &[], args)
}

/// `jumpgate` with extra environment variables (such as another account's
/// credentials), which override the emulator's.
pub fn jumpgate_with_env(emu: &Emulator, env: &[(&str, &str)], args: &[&str]) -> Outcome {
    let mut command = emu.jumpgate();
    command
        .args(args)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .env_remove("JUMPGATE_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start jumpgate: {e}"));
    let reader = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = reader(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = reader(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for jumpgate") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`jumpgate {}` did not finish within {RUN_TIMEOUT:?}; emulator log:\n{}",
                args.join(" "),
                emu.log()
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    Outcome {
        args: args.iter().map(|a| a.to_string()).collect(),
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// A working directory with a desired-state directory and a secrets directory.
pub struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::Builder::new()
                .prefix("jumpgate-plan-apply-")
                .tempdir()
                .expect("a temporary directory"),
        }
    }

    /// A workspace whose state is a copy of the repository's `state/`.
    pub fn with_repo_state() -> Workspace {
        let workspace = Workspace::new();
        let repo_state = Path::new(env!("CARGO_MANIFEST_DIR")).join("state");
        fs::create_dir_all(workspace.state()).expect("state dir");
        for entry in fs::read_dir(&repo_state).expect("the repository's state/") {
            let entry = entry.expect("a state/ entry");
            fs::copy(entry.path(), workspace.state().join(entry.file_name()))
                .expect("copying state/");
        }
        workspace
    }

    /// A workspace whose state is the one file `estate.kdl` with `kdl`.
    pub fn with_state(kdl: &str) -> Workspace {
        let workspace = Workspace::new();
        workspace.write_state(kdl);
        workspace
    }

    /// Replaces the state with the one file `estate.kdl`.
    pub fn write_state(&self, kdl: &str) {
        let state = self.state();
        let _ = fs::remove_dir_all(&state);
        fs::create_dir_all(&state).expect("state dir");
        fs::write(state.join("estate.kdl"), kdl).expect("writing estate.kdl");
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn state_arg(&self) -> String {
        self.state().display().to_string()
    }

    pub fn secrets(&self) -> PathBuf {
        self.dir.path().join("secrets")
    }

    pub fn secrets_arg(&self) -> String {
        self.secrets().display().to_string()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `apply STATE --yes --secrets-dir SECRETS` plus `extra`.
    pub fn apply(&self, emu: &Emulator, extra: &[&str]) -> Outcome {
        let state = self.state_arg();
        let secrets = self.secrets_arg();
        let mut args = vec!["apply", &state, "--yes", "--secrets-dir", &secrets];
        args.extend_from_slice(extra);
        jumpgate(emu, &args)
    }

    /// Gives every account the state declares by id (the jump account
    /// aside) the StackSet execution role, as their owners would with
    /// `jumpgate bootstrap`.
    pub async fn bootstrap_members(&self, emu: &Emulator) {
        for entry in fs::read_dir(self.state()).expect("the state directory") {
            let text = fs::read_to_string(entry.expect("a state file").path()).expect("state");
            emu.bootstrap_declared(&text).await;
        }
    }

    /// `plan STATE --format json`, which must succeed and match the schema
    /// shipped for scripts.
    pub fn plan_json(&self, emu: &Emulator) -> Value {
        let state = self.state_arg();
        let plan = jumpgate(emu, &["plan", &state, "--format", "json"])
            .expect_code(0)
            .json();
        assert_matches_plan_schema(&plan);
        plan
    }
}

/// Fails unless `plan` validates against `schema/plan.schema.json`.
#[track_caller]
pub fn assert_matches_plan_schema(plan: &Value) {
    let schema: Value = serde_json::from_str(include_str!("../../schema/plan.schema.json"))
        .expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid");
    let errors: Vec<String> = validator
        .iter_errors(plan)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "the plan breaks its schema: {errors:#?}");
}

/// The mutating requests of the recording.
pub fn mutating(emu: &Emulator) -> Vec<RecordedRequest> {
    emu.recording()
        .into_iter()
        .filter(RecordedRequest::is_mutating)
        .collect()
}

/// A short description of requests, for failure messages.
pub fn describe(requests: &[RecordedRequest]) -> Vec<String> {
    requests
        .iter()
        .map(|r| {
            let subject = ["UserName", "GroupName", "PolicyName", "PolicyArn"]
                .iter()
                .find_map(|p| r.param(p))
                .unwrap_or("");
            format!("{} {subject}", r.action.as_deref().unwrap_or("?"))
        })
        .collect()
}

/// `(action, address)` of each change of a JSON plan, in order.
pub fn changes(plan: &Value) -> Vec<(String, String)> {
    plan["changes"]
        .as_array()
        .expect("changes is a list")
        .iter()
        .map(|c| {
            (
                c["action"].as_str().expect("action").to_owned(),
                c["address"].as_str().expect("address").to_owned(),
            )
        })
        .collect()
}

pub async fn iam(emu: &Emulator) -> IamClient {
    IamClient::new(&emu.sdk_config().await)
}

pub async fn iam_in(emu: &Emulator, account: &str) -> IamClient {
    IamClient::new(&emu.sdk_config_for_account(account).await)
}

/// Names of the roles in an account's IAM.
pub async fn role_names(iam: &IamClient) -> Vec<String> {
    let mut names: Vec<String> = iam
        .list_roles()
        .send()
        .await
        .expect("ListRoles")
        .roles
        .into_iter()
        .map(|r| r.role_name)
        .collect();
    names.sort();
    names
}

/// Whether a user exists, by GetUser.
pub async fn user_exists(iam: &IamClient, user: &str) -> bool {
    match iam.get_user().user_name(user).send().await {
        Ok(_) => true,
        Err(err) => {
            let service = err.into_service_error();
            assert!(
                service.is_no_such_entity_exception(),
                "GetUser {user}: {service:?}"
            );
            false
        }
    }
}

/// The group names a user is in.
pub async fn groups_of(iam: &IamClient, user: &str) -> Vec<String> {
    let mut names: Vec<String> = iam
        .list_groups_for_user()
        .user_name(user)
        .send()
        .await
        .expect("ListGroupsForUser")
        .groups
        .into_iter()
        .map(|g| g.group_name)
        .collect();
    names.sort();
    names
}

/// A policy document as IAM returns it: URL-encoded JSON.
pub fn decode_document(text: &str) -> Value {
    let decoded = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
    serde_json::from_str(&decoded).unwrap_or_else(|e| panic!("not a policy document ({e}): {text}"))
}
