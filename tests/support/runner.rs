//! Running the built binary: the one way every suite starts `jumpgate`,
//! waits for it (never longer than a timeout) and checks how it ended.

use std::ffi::OsStr;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::emulator::Emulator;

/// No single jumpgate run of the small suites comes near this; a hung one
/// fails the test. The large-estate suites set their own.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(90);

/// One `jumpgate` invocation being put together: arguments, environment,
/// working directory, timeout. Output is always captured, stdin is empty
/// (never a terminal), colour is off and `JUMPGATE_LOG` is unset unless
/// the test sets it.
pub struct Jumpgate<'e> {
    command: Command,
    args: Vec<String>,
    timeout: Duration,
    /// The emulator whose log a timeout shows, when there is one.
    emulator: Option<&'e Emulator>,
}

impl<'e> Jumpgate<'e> {
    /// The binary with the environment the test runs in: for commands that
    /// call no AWS (validate, fmt, completions…).
    pub fn local() -> Jumpgate<'e> {
        let mut command = Command::new(env!("CARGO_BIN_EXE_jumpgate"));
        command
            .env("NO_COLOR", "1")
            .env_remove("JUMPGATE_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        Jumpgate {
            command,
            args: Vec::new(),
            timeout: RUN_TIMEOUT,
            emulator: None,
        }
    }

    /// The binary pointed at `emu` with the default account's credentials.
    pub fn against(emu: &'e Emulator) -> Jumpgate<'e> {
        let mut jumpgate = Jumpgate::local();
        emu.configure(&mut jumpgate.command);
        jumpgate.emulator = Some(emu);
        jumpgate
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_string_lossy().into_owned());
        self.command.arg(arg);
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(self, args: I) -> Self {
        args.into_iter()
            .fold(self, |jumpgate, arg| jumpgate.arg(arg))
    }

    pub fn env(mut self, name: &str, value: impl AsRef<OsStr>) -> Self {
        self.command.env(name, value);
        self
    }

    pub fn envs<'a>(self, vars: impl IntoIterator<Item = &'a (&'a str, &'a str)>) -> Self {
        vars.into_iter()
            .fold(self, |jumpgate, (name, value)| jumpgate.env(name, value))
    }

    pub fn env_remove(mut self, name: &str) -> Self {
        self.command.env_remove(name);
        self
    }

    /// Sends AWS calls to `url` (a fault proxy before the emulator) instead.
    pub fn endpoint(self, url: &str) -> Self {
        self.env("AWS_ENDPOINT_URL", url)
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.command.current_dir(dir);
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Starts the binary; `Running::wait` collects its outcome.
    pub fn spawn(mut self) -> Running<'e> {
        let mut child = self
            .command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start jumpgate: {e}"));
        let stdout = read_all(Box::new(child.stdout.take().expect("piped stdout")));
        let stderr = read_all(Box::new(child.stderr.take().expect("piped stderr")));
        Running {
            child: Arc::new(Mutex::new(child)),
            stdout,
            stderr,
            started: Instant::now(),
            args: self.args,
            timeout: self.timeout,
            emulator: self.emulator,
        }
    }

    /// Runs the binary to its end.
    pub fn run(self) -> Outcome {
        self.spawn().wait()
    }
}

/// A started run whose output is being read.
pub struct Running<'e> {
    child: Arc<Mutex<Child>>,
    stdout: thread::JoinHandle<String>,
    stderr: thread::JoinHandle<String>,
    started: Instant,
    args: Vec<String>,
    timeout: Duration,
    emulator: Option<&'e Emulator>,
}

impl Running<'_> {
    /// Whether the binary has ended.
    pub fn has_ended(&self) -> bool {
        self.child
            .lock()
            .unwrap()
            .try_wait()
            .expect("waiting for jumpgate")
            .is_some()
    }

    /// Kills the binary (SIGKILL); `wait` then gives its outcome.
    pub fn kill(&self) {
        let _ = self.child.lock().unwrap().kill();
    }

    /// Something that kills the binary from anywhere (a proxy hook).
    pub fn killer(&self) -> impl Fn() + Send + 'static {
        let child = Arc::clone(&self.child);
        move || {
            let _ = child.lock().unwrap().kill();
        }
    }

    /// Waits for the end (at most the timeout, then panics).
    pub fn wait(self) -> Outcome {
        let status = loop {
            if let Some(status) = self
                .child
                .lock()
                .unwrap()
                .try_wait()
                .expect("waiting for jumpgate")
            {
                break status;
            }
            if self.started.elapsed() > self.timeout {
                let mut child = self.child.lock().unwrap();
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "`jumpgate {}` did not finish within {:?}{}",
                    self.args.join(" "),
                    self.timeout,
                    self.emulator
                        .map(|emu| format!("; emulator log:\n{}", emu.log()))
                        .unwrap_or_default()
                );
            }
            thread::sleep(Duration::from_millis(5));
        };
        Outcome {
            args: self.args,
            code: status.code(),
            stdout: self.stdout.join().expect("stdout reader"),
            stderr: self.stderr.join().expect("stderr reader"),
            elapsed: self.started.elapsed(),
        }
    }
}

fn read_all(mut pipe: Box<dyn Read + Send>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// What one run of the binary printed and how it ended.
#[derive(Debug)]
pub struct Outcome {
    pub args: Vec<String>,
    /// `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Outcome {
    /// Panics with the output unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "`jumpgate {}` ended with {:?} (wanted {code})\n--- failures\n{}\n--- stdout\n{}\n--- stderr\n{}",
            self.args.join(" "),
            self.code,
            self.failures(),
            tail(&self.stdout),
            tail(&self.stderr)
        );
        self
    }

    /// `expect_code(0)`.
    #[track_caller]
    pub fn expect_success(&self) -> &Self {
        self.expect_code(0)
    }

    /// Asserts that stdout contains `text`, showing stdout if not.
    #[track_caller]
    pub fn assert_stdout_has(&self, text: &str) -> &Self {
        self.assert_has("stdout", &self.stdout, text)
    }

    /// Asserts that stderr contains `text`, showing stderr if not.
    #[track_caller]
    pub fn assert_stderr_has(&self, text: &str) -> &Self {
        self.assert_has("stderr", &self.stderr, text)
    }

    #[track_caller]
    fn assert_has(&self, stream: &str, output: &str, text: &str) -> &Self {
        assert!(
            output.contains(text),
            "`jumpgate {}` printed no {text:?} on {stream}:\n{output}",
            self.args.join(" ")
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

    /// stdout and stderr, one after the other.
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// The lines of the output that report a failure: in a long output,
    /// what the tail shown may have cut.
    pub fn failures(&self) -> String {
        self.stdout
            .lines()
            .chain(self.stderr.lines())
            .filter(|l| l.contains("FAILED") || l.contains("failed") || l.starts_with("error"))
            .take(40)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The first line of `output` (an `Outcome`'s stdout or stderr) that starts
/// with `prefix`; panics showing `output` if there is none.
#[track_caller]
pub fn line_starting<'o>(output: &'o str, prefix: &str) -> &'o str {
    output
        .lines()
        .find(|line| line.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starts with {prefix:?} in:\n{output}"))
}

/// The end of a long output, for failure messages.
pub fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(6000);
    let start = (start..=text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    &text[start..]
}

/// Runs `jumpgate ARGS` against `emu`.
pub fn jumpgate(emu: &Emulator, args: &[&str]) -> Outcome {
    Jumpgate::against(emu).args(args).run()
}

/// `jumpgate` with extra environment variables (such as another account's
/// credentials), which override the emulator's.
pub fn jumpgate_with_env(emu: &Emulator, env: &[(&str, &str)], args: &[&str]) -> Outcome {
    Jumpgate::against(emu).envs(env).args(args).run()
}
