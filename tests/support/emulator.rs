//! A local AWS for integration tests: moto server, one per test.
//!
//! moto speaks the real AWS wire protocols, so jumpgate's aws-sdk-rust code
//! paths run unchanged against it. Each test starts its own server because
//! moto's state is per server and tests run in parallel.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_sts::config::{Credentials, Region, SharedCredentialsProvider};

/// The pinned emulator. scripts/emulator.sh installs the same one into the
/// same venv and writes the same marker, so either can reuse the other's.
pub const MOTO_REQUIREMENT: &str = "moto[server]==5.2.5";
/// Region every test client uses.
pub const REGION: &str = "ap-northeast-1";
/// The account that static test credentials land in.
pub const DEFAULT_ACCOUNT_ID: &str = "123456789012";
/// Variables that `configure` removes: they would point the SDK at a real
/// profile or add a session token to the dummy credentials.
pub const CLEARED_ENV_VARS: &[&str] = &["AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"];

const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// Written into the venv once pip has finished, so an interrupted install is
/// never mistaken for a usable one.
const MARKER_FILE: &str = "jumpgate-moto-requirement";
/// A port found free can be taken by another test before moto binds it.
const PORT_ATTEMPTS: usize = 5;

/// How to start the emulator: the strict test ground (on by default) and
/// the knobs of its rules (`JUMPGATE_STRICT_<NAME>`, see
/// `tests/support/strict/README.md`).
#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    pub strict: bool,
    /// Extra environment for the server, e.g. a rule's knob.
    pub env: Vec<(String, String)>,
}

impl Default for EmulatorOptions {
    fn default() -> EmulatorOptions {
        EmulatorOptions {
            strict: true,
            env: Vec::new(),
        }
    }
}

impl EmulatorOptions {
    /// Plain moto, for a test that shows what the strict layer changes.
    pub fn lax() -> EmulatorOptions {
        EmulatorOptions {
            strict: false,
            env: Vec::new(),
        }
    }

    /// Sets one strict-layer knob: `knob("STACKSET_RUNNING_POLLS", "0")`
    /// becomes `JUMPGATE_STRICT_STACKSET_RUNNING_POLLS=0`.
    pub fn knob(mut self, name: &str, value: &str) -> EmulatorOptions {
        self.env
            .push((format!("JUMPGATE_STRICT_{name}"), value.to_owned()));
        self
    }
}

/// Awaits one SDK request (`client.operation()…send()`), panicking with
/// `call` (the operation and what it names) and AWS's error if refused:
/// how the harness's own calls fail.
pub async fn sent<T, E: std::fmt::Debug>(
    request: impl std::future::Future<Output = Result<T, E>>,
    call: impl std::fmt::Display,
) -> T {
    request.await.unwrap_or_else(|e| panic!("{call}: {e:?}"))
}

/// A running moto server, killed on drop.
pub struct Emulator {
    server: Child,
    port: u16,
    /// Holds the server's log and recording; removed after the server is killed.
    dir: tempfile::TempDir,
}

impl Emulator {
    /// Starts a fresh moto server with the strict test ground, installing
    /// moto first if needed.
    ///
    /// Panics with the step that failed (venv creation, pip install, server
    /// start): a test that needs the emulator must fail without it, never skip.
    pub fn start() -> Emulator {
        Emulator::start_with(EmulatorOptions::default())
    }

    /// Starts the strict test ground with some of its knobs set, each
    /// `(NAME, value)` as `EmulatorOptions::knob` takes it.
    pub fn start_with_knobs(knobs: &[(&str, &str)]) -> Emulator {
        let options = knobs
            .iter()
            .fold(EmulatorOptions::default(), |options, (name, value)| {
                options.knob(name, value)
            });
        Emulator::start_with(options)
    }

    /// Starts a fresh moto server as `options` say.
    pub fn start_with(options: EmulatorOptions) -> Emulator {
        let bin = moto_server_bin();
        let python = bin.with_file_name("python");
        let dir = tempfile::Builder::new()
            .prefix("jumpgate-moto-")
            .tempdir()
            .unwrap_or_else(|e| panic!("AWS emulator: cannot create a temporary directory: {e}"));
        let log_path = dir.path().join("moto_server.log");
        let recording = dir.path().join("recording.jsonl");
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            let log = File::create(&log_path).unwrap_or_else(|e| {
                panic!("AWS emulator: cannot create {}: {e}", log_path.display())
            });
            // moto answers a download with HTTP 500 until the file exists.
            File::create(&recording).unwrap_or_else(|e| {
                panic!("AWS emulator: cannot create {}: {e}", recording.display())
            });
            let stdout = log
                .try_clone()
                .unwrap_or_else(|e| panic!("AWS emulator: cannot share the log file: {e}"));
            let mut server = Command::new(&python)
                .arg(strict_launcher())
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env("JUMPGATE_STRICT", if options.strict { "1" } else { "0" })
                .envs(options.env.iter().map(|(k, v)| (k, v)))
                // Without it, attaching AWS-managed policies fails with NoSuchEntity.
                .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
                // Other accounts are reached by AssumeRole; the default must stay 123456789012.
                .env_remove("MOTO_ACCOUNT_ID")
                // The recording defaults to a file in moto's working directory,
                // which parallel servers would share.
                .env("MOTO_RECORDER_FILEPATH", &recording)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(stdout)
                .stderr(log)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "AWS emulator: cannot start server {}: {e}",
                        python.display()
                    )
                });
            match wait_until_ready(&mut server, port, &log_path) {
                Ok(()) => return Emulator { server, port, dir },
                Err(Startup::PortTaken) => continue,
                Err(Startup::Failed(why)) => {
                    let _ = server.kill();
                    let _ = server.wait();
                    panic!("AWS emulator: server start failed: {why}");
                }
            }
        }
        panic!(
            "AWS emulator: server start failed: {PORT_ATTEMPTS} free ports in a row were taken before moto_server could bind them"
        );
    }

    /// The one endpoint for every service, e.g. `http://127.0.0.1:40123`.
    pub fn endpoint_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port of `endpoint_url`, for a proxy to put before it.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Environment that points a process (such as the jumpgate binary) at
    /// this emulator; remove `CLEARED_ENV_VARS` too, or use `configure`.
    pub fn env_vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint_url()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_REGION", REGION.to_owned()),
            // Should credentials ever be missing, fail at once instead of
            // waiting on an instance metadata service that is not there.
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ]
    }

    /// Sets `env_vars` on the command and removes `CLEARED_ENV_VARS`.
    pub fn configure<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        for name in CLEARED_ENV_VARS {
            command.env_remove(name);
        }
        command.envs(self.env_vars())
    }

    /// SDK configuration for the default account (123456789012).
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(self.endpoint_url())
            .credentials_provider(Credentials::new(
                "testing", "testing", None, None, "emulator",
            ))
            .load()
            .await
    }

    /// SDK configuration whose calls land in `account_id`, through
    /// `sts:AssumeRole` into `arn:aws:iam::<account_id>:role/jumpgate-test`
    /// (moto needs no such role to exist). Keeps the emulator endpoint.
    pub async fn sdk_config_for_account(&self, account_id: &str) -> SdkConfig {
        let base = self.sdk_config().await;
        let role_arn = format!("arn:aws:iam::{account_id}:role/jumpgate-test");
        let assumed = aws_sdk_sts::Client::new(&base)
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name("jumpgate-test")
            .send()
            .await
            .unwrap_or_else(|e| panic!("AWS emulator: AssumeRole into {role_arn} failed: {e:?}"));
        let credentials = assumed.credentials.unwrap_or_else(|| {
            panic!("AWS emulator: AssumeRole into {role_arn} returned no credentials")
        });
        let credentials = Credentials::new(
            credentials.access_key_id,
            credentials.secret_access_key,
            Some(credentials.session_token),
            None,
            "emulator-assume-role",
        );
        base.into_builder()
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build()
    }

    /// Puts the StackSet execution role, trusting `jump`, into each of
    /// `accounts`, as each account's owner does with `jumpgate bootstrap`:
    /// without it, the strict test ground fails the account's stack
    /// instance, as AWS does. A role already there is kept.
    pub async fn bootstrap_accounts(&self, jump: &str, accounts: &[&str]) {
        let trust = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{jump}:root")},
                "Action": "sts:AssumeRole"
            }]
        })
        .to_string();
        for account in accounts {
            let created = aws_sdk_iam::Client::new(&self.sdk_config_for_account(account).await)
                .create_role()
                .role_name("AWSCloudFormationStackSetExecutionRole")
                .assume_role_policy_document(&trust)
                .send()
                .await;
            if let Err(err) = created {
                let exists = err
                    .as_service_error()
                    .is_some_and(|e| e.is_entity_already_exists_exception());
                assert!(
                    exists,
                    "AWS emulator: the execution role in {account}: {err:?}"
                );
            }
        }
    }

    /// `bootstrap_accounts` for the accounts a desired-state text declares
    /// by id, trusting the jump account it declares.
    pub async fn bootstrap_declared(&self, kdl: &str) {
        let mut jump = String::new();
        let mut members = Vec::new();
        for line in kdl.lines() {
            let Some((_, rest)) = line.split_once("id=\"") else {
                continue;
            };
            let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if line.trim_start().starts_with("jump-account") {
                jump = id;
            } else if id.len() == 12 {
                members.push(id);
            }
        }
        let members: Vec<&str> = members.iter().map(String::as_str).collect();
        self.bootstrap_accounts(&jump, &members).await;
    }

    /// Every stack instance of `stack_set` in the default account as
    /// (account, Region, status), sorted, following ListStackInstances'
    /// pages (the strict test ground pages as AWS does).
    pub async fn stack_instances(&self, stack_set: &str) -> Vec<(String, String, String)> {
        let cfn = aws_sdk_cloudformation::Client::new(&self.sdk_config().await);
        let mut instances = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = cfn
                .list_stack_instances()
                .stack_set_name(stack_set)
                .set_next_token(token.take())
                .send()
                .await
                .unwrap_or_else(|e| panic!("AWS emulator: ListStackInstances: {e:?}"));
            instances.extend(page.summaries().iter().map(|s| {
                (
                    s.account().unwrap_or_default().to_owned(),
                    s.region().unwrap_or_default().to_owned(),
                    s.status()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                )
            }));
            match page.next_token() {
                Some(next) => token = Some(next.to_owned()),
                None => break,
            }
        }
        instances.sort();
        instances
    }

    /// Forgets all AWS state (every account), as a new server would.
    pub fn reset(&self) {
        self.control("POST", "/moto-api/reset");
    }

    /// Records every request from now on, in the order moto receives them.
    pub fn start_recording(&self) {
        self.control("POST", "/moto-api/recorder/start-recording");
    }

    pub fn stop_recording(&self) {
        self.control("POST", "/moto-api/recorder/stop-recording");
    }

    /// Empties the recording; whether recording is on does not change.
    pub fn clear_recording(&self) {
        self.control("POST", "/moto-api/recorder/reset-recording");
    }

    /// The AWS requests recorded so far, oldest first. Requests to moto's own
    /// API (`/moto-api/...`, such as `reset`) are left out.
    pub fn recording(&self) -> Vec<RecordedRequest> {
        let recorded = self.control("GET", "/moto-api/recorder/download-recording");
        // Read while requests still arrive, the file can end in the middle
        // of the line being written: only whole lines count.
        let whole = match recorded.rfind('\n') {
            Some(end) => &recorded[..=end],
            None => "",
        };
        whole
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(RecordedRequest::parse)
            .filter(|request| !request.path.starts_with("/moto-api/"))
            .collect()
    }

    /// The action names of `recording()`, for asserting on order.
    pub fn recorded_actions(&self) -> Vec<String> {
        self.recording()
            .into_iter()
            .filter_map(|request| request.action)
            .collect()
    }

    /// The server's output so far (one line per request, Python tracebacks
    /// for HTTP 500s), for diagnosing a failing test.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("moto_server.log")).unwrap_or_default()
    }

    fn control(&self, method: &str, path: &str) -> String {
        match http(self.port, method, path) {
            Ok((200, body)) => body,
            Ok((status, body)) => panic!("AWS emulator: {method} {path} answered {status}: {body}"),
            Err(e) => panic!("AWS emulator: {method} {path} failed: {e}"),
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// One request from moto's recording.
///
/// moto writes one JSON object per line:
/// `{"headers": {..}, "method": "POST", "url": "http://127.0.0.1:PORT/",
/// "body": "<base64>", "body_encoded": true}`.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query string, e.g. `/`.
    pub path: String,
    /// The signing name from the Authorization header: `iam`, `sts`,
    /// `cloudformation`, `organizations`.
    pub service: Option<String>,
    /// The `Action` form field (query protocol: IAM, STS, CloudFormation) or
    /// the operation in `X-Amz-Target` (JSON protocol: Organizations).
    pub action: Option<String>,
    /// The decoded form fields in the order sent (query protocol only).
    pub params: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    /// The body as text: a form for query protocol, JSON for JSON protocol.
    pub body: String,
}

impl RecordedRequest {
    /// The first form field called `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        form_field(&self.params, name)
    }

    /// The header called `name`, case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Whether the call may change AWS state: anything but STS calls and
    /// reads (`Get*`, `List*`, `Describe*`, `Simulate*`, `Validate*`, `Estimate*`).
    pub fn is_mutating(&self) -> bool {
        is_mutating(self.service.as_deref(), self.action.as_deref())
    }

    fn parse(line: &str) -> RecordedRequest {
        let entry: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("AWS emulator: unreadable recording line {line:?}: {e}"));
        let text = |key: &str| entry[key].as_str().unwrap_or_default();
        let headers: Vec<(String, String)> = entry["headers"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, value)| (name.clone(), value.as_str().unwrap_or_default().to_owned()))
            .collect();
        let body = if entry["body_encoded"].as_bool() == Some(true) {
            let bytes = aws_smithy_types::base64::decode(text("body"))
                .unwrap_or_else(|e| panic!("AWS emulator: recorded body is not base64: {e}"));
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            text("body").to_owned()
        };
        // moto records the absolute URL; the scheme and host say nothing here.
        let url = text("url");
        let path = url
            .split_once("://")
            .and_then(|(_, rest)| rest.find('/').map(|slash| rest[slash..].to_owned()))
            .unwrap_or_else(|| url.to_owned());
        let mut request = RecordedRequest {
            method: text("method").to_owned(),
            path,
            service: None,
            action: None,
            params: Vec::new(),
            headers,
            body,
        };
        if request
            .header("Content-Type")
            .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"))
        {
            request.params = parse_form(&request.body);
        }
        request.service = request
            .header("Authorization")
            .and_then(|auth| auth.split_once("Credential=")?.1.split('/').nth(3))
            .map(str::to_owned);
        request.action = match request.header("X-Amz-Target") {
            Some(target) => target.rsplit('.').next().map(str::to_owned),
            None => request.param("Action").map(str::to_owned),
        };
        request
    }
}

/// Whether a call of `action` on `service` may change AWS state: anything
/// but STS calls and reads (`Get*`, `List*`, `Describe*`, `Simulate*`,
/// `Validate*`, `Estimate*`).
pub fn is_mutating(service: Option<&str>, action: Option<&str>) -> bool {
    const READS: &[&str] = &[
        "Get", "List", "Describe", "Simulate", "Validate", "Estimate",
    ];
    // Builds IAM's credential report from what IAM holds; it changes
    // no IAM object.
    const ALSO_READS: &[&str] = &["GenerateCredentialReport"];
    match action {
        Some(action) => {
            service != Some("sts")
                && !READS.iter().any(|prefix| action.starts_with(prefix))
                && !ALSO_READS.contains(&action)
        }
        None => false,
    }
}

/// The first of `fields` (as `parse_form` reads them) called `name`.
pub fn form_field<'f>(fields: &'f [(String, String)], name: &str) -> Option<&'f str> {
    fields
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The fields of a form body (query protocol), decoded, in order.
pub fn parse_form(body: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

enum Startup {
    PortTaken,
    Failed(String),
}

fn wait_until_ready(server: &mut Child, port: u16, log_path: &Path) -> Result<(), Startup> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    // Werkzeug prints this once it has bound the port. Until then, an answer
    // on the port may come from another test's server.
    let bound = format!("Running on http://127.0.0.1:{port}");
    loop {
        let log = fs::read_to_string(log_path).unwrap_or_default();
        match server.try_wait() {
            Ok(Some(_)) if log.contains("Address already in use") => {
                return Err(Startup::PortTaken);
            }
            Ok(Some(status)) => {
                return Err(Startup::Failed(format!(
                    "moto_server exited with {status}; its output:\n{log}"
                )));
            }
            Ok(None) => {}
            Err(e) => return Err(Startup::Failed(format!("cannot watch moto_server: {e}"))),
        }
        if log.contains(&bound) && matches!(http(port, "GET", "/moto-api/"), Ok((200, _))) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Startup::Failed(format!(
                "moto_server did not answer GET /moto-api/ on port {port} within {STARTUP_TIMEOUT:?}; its output:\n{log}"
            )));
        }
        thread::sleep(Duration::from_millis(100));
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or_else(|e| panic!("AWS emulator: cannot find a free port: {e}"))
}

/// A minimal HTTP/1.1 client for moto's own API. moto closes every
/// connection after one response, so reading to EOF gives the whole of it.
fn http(port: u16, method: &str, path: &str) -> io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(STARTUP_TIMEOUT))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let response = String::from_utf8_lossy(&response);
    let malformed = || io::Error::other(format!("malformed HTTP response: {response:?}"));
    let (head, body) = response.split_once("\r\n\r\n").ok_or_else(malformed)?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(malformed)?;
    Ok((status, body.to_owned()))
}

/// The launcher that installs the strict test ground, then runs moto's server.
fn strict_launcher() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/strict/launch.py")
}

/// The emulator venv's Python (installed on first use), which has PyYAML:
/// tests read the repository's YAML files through it.
pub fn venv_python() -> PathBuf {
    moto_server_bin().with_file_name("python")
}

/// The venv's moto_server, installed once per test binary.
fn moto_server_bin() -> &'static Path {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BIN.get_or_init(provision) {
        Ok(bin) => bin,
        Err(why) => panic!("AWS emulator ({MOTO_REQUIREMENT}) unavailable: {why}"),
    }
}

/// Installs the pinned moto into `<target dir>/emulator-venv` unless a
/// finished install of that version is there already.
fn provision() -> Result<PathBuf, String> {
    // Cargo sets CARGO_TARGET_TMPDIR to `<target dir>/tmp` for integration
    // tests, honouring CARGO_TARGET_DIR.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .ok_or("CARGO_TARGET_TMPDIR has no parent")?;
    fs::create_dir_all(target).map_err(|e| format!("cannot create {}: {e}", target.display()))?;
    let lock_path = target.join("emulator-venv.lock");
    let lock = File::create(&lock_path)
        .map_err(|e| format!("cannot create {}: {e}", lock_path.display()))?;
    // Test binaries start in parallel, and scripts/emulator.sh takes the same
    // lock with flock(1): one installs, the others wait and then reuse it.
    // The lock is released when `lock` is dropped, or when the process dies.
    lock.lock()
        .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;

    let venv = target.join("emulator-venv");
    let bin = venv.join("bin").join("moto_server");
    let marker = venv.join(MARKER_FILE);
    if fs::read_to_string(&marker).is_ok_and(|m| m.trim() == MOTO_REQUIREMENT) && bin.is_file() {
        return Ok(bin);
    }
    // Without the marker this is an interrupted install or another version.
    if venv.exists() {
        fs::remove_dir_all(&venv)
            .map_err(|e| format!("cannot remove stale {}: {e}", venv.display()))?;
    }
    run(
        Command::new("python3").arg("-m").arg("venv").arg(&venv),
        "venv creation failed (on Debian or Ubuntu: apt-get install python3-venv)",
    )?;
    run(
        Command::new(venv.join("bin").join("python")).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            MOTO_REQUIREMENT,
        ]),
        "pip install failed",
    )?;
    fs::write(&marker, MOTO_REQUIREMENT)
        .map_err(|e| format!("cannot write {}: {e}", marker.display()))?;
    Ok(bin)
}

fn run(command: &mut Command, failure: &str) -> Result<(), String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{failure}: cannot run {command:?}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{failure}: {command:?} exited with {}:\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    ))
}
