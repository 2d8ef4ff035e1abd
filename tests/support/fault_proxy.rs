//! A misbehaving AWS for tests: an HTTP/1.1 proxy on loopback between
//! jumpgate and the emulator that injects, per request, the failures AWS
//! can hand a client — throttling, a 5xx before the request reached the
//! service, a 5xx after it took effect, a delay, a connection dropped with no
//! answer (before or after the request took effect) — and, for interruption
//! tests, calls a hook once a given number of mutating requests took effect.
//!
//! Deterministic from a seed: the fate of a request is a hash of the seed,
//! the request's content (less the password of CreateLoginProfile, which is
//! random) and how many times that same content came before. So a retry
//! draws anew, and the faults do not depend on how threads were scheduled.
//!
//! One request per connection: the proxy reads one request, answers it with
//! `Connection: close` (as moto does) and closes.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::emulator::{form_field, is_mutating, parse_form};

/// How often each kind of fault is injected, as a probability per request.
/// The rates of the first four kinds add up to at most 1; `delay` applies to
/// what is left (requests that are forwarded normally).
#[derive(Debug, Clone, Copy, Default)]
pub struct FaultRates {
    /// HTTP 400 with an AWS `Throttling` error: the request never ran.
    pub throttle: f64,
    /// HTTP 503 `ServiceUnavailable`: the request never ran.
    pub error_before: f64,
    /// The request ran, then the answer was replaced by HTTP 500 `InternalFailure`.
    pub error_after: f64,
    /// The connection is closed without an answer; half of these after the
    /// request ran, half before.
    pub drop: f64,
    /// Forwarded after a pause of up to `max_delay`.
    pub delay: f64,
    pub max_delay: Duration,
    /// Every mutating request's first attempt takes effect and its answer
    /// is replaced by a 500, whatever the rates: each call is retried into
    /// the state its first attempt left.
    pub lose_first_answer: bool,
}

impl FaultRates {
    pub const NONE: FaultRates = FaultRates {
        throttle: 0.0,
        error_before: 0.0,
        error_after: 0.0,
        drop: 0.0,
        delay: 0.0,
        max_delay: Duration::ZERO,
        lose_first_answer: false,
    };
}

/// What the proxy decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    Throttled,
    ErrorBefore,
    ErrorAfter,
    DroppedBefore,
    DroppedAfter,
    Delayed,
    /// A mutating request refused (503) by a write outage (`fail_writes_after`).
    OutageRefused,
    /// Refused (connection closed) because the interruption hook has fired.
    AfterInterruption,
}

impl Fault {
    pub const ALL: [Fault; 8] = [
        Fault::Throttled,
        Fault::ErrorBefore,
        Fault::ErrorAfter,
        Fault::DroppedBefore,
        Fault::DroppedAfter,
        Fault::Delayed,
        Fault::OutageRefused,
        Fault::AfterInterruption,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Fault::Throttled => "throttling (400 Throttling)",
            Fault::ErrorBefore => "5xx before (503 ServiceUnavailable)",
            Fault::ErrorAfter => "5xx after it took effect (500 InternalFailure)",
            Fault::DroppedBefore => "connection dropped before",
            Fault::DroppedAfter => "connection dropped after it took effect",
            Fault::Delayed => "delayed",
            Fault::OutageRefused => "refused by the write outage",
            Fault::AfterInterruption => "refused after the kill",
        }
    }

    /// Whether the client must send the request again to get an answer.
    pub fn forces_retry(self) -> bool {
        !matches!(self, Fault::Delayed)
    }
}

/// Called once, on the proxy's thread, when the `n`-th mutating request has
/// taken effect in the emulator and before its answer is passed on.
pub type Hook = Box<dyn FnOnce() + Send>;

/// What follows a hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterHook {
    /// The sender never hears: its connection and every later request are
    /// refused (it was killed).
    Interrupt,
    /// The answer is passed on as usual (someone else acted meanwhile).
    Answer,
}

#[derive(Default)]
struct Counters {
    /// Requests the proxy received.
    received: u64,
    /// Requests passed on to the emulator.
    forwarded: u64,
    /// Mutating requests passed on to the emulator.
    mutating_forwarded: u64,
    faults: HashMap<Fault, u64>,
    /// Each mutating request that reached the emulator, in order.
    mutating_log: Vec<Logged>,
}

/// A mutating request that reached the emulator.
#[derive(Debug, Clone)]
pub struct Logged {
    pub action: String,
    /// The decoded form fields (query protocol), in the order sent.
    pub params: Vec<(String, String)>,
}

impl Logged {
    /// The first form field called `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        form_field(&self.params, name)
    }

    /// `Action subject`, the subject being the first naming parameter.
    pub fn describe(&self) -> String {
        let subject = [
            "UserName",
            "GroupName",
            "PolicyName",
            "PolicyArn",
            "StackName",
            "StackSetName",
        ]
        .iter()
        .find_map(|p| self.param(p))
        .unwrap_or_default();
        format!("{} {subject}", self.action)
    }
}

struct Shared {
    upstream: u16,
    seed: u64,
    rates: Mutex<FaultRates>,
    /// Occurrences of each request content so far.
    seen: Mutex<HashMap<u64, u64>>,
    counters: Mutex<Counters>,
    /// After this many mutating requests, every further mutating request
    /// (but the apply lock's) is refused: a write outage.
    fail_writes_after: Mutex<Option<u64>>,
    /// Fires after the given mutating request took effect.
    hook: Mutex<Option<(u64, Hook, AfterHook)>>,
    interrupted: AtomicBool,
    stopped: AtomicBool,
    request_ids: AtomicU64,
}

/// The running proxy; stops accepting when dropped.
pub struct FaultProxy {
    port: u16,
    shared: Arc<Shared>,
}

/// A snapshot of what the proxy did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub received: u64,
    pub forwarded: u64,
    pub mutating_forwarded: u64,
    pub faults: Vec<(Fault, u64)>,
    pub mutating_log: Vec<Logged>,
}

impl Report {
    pub fn count(&self, fault: Fault) -> u64 {
        self.faults
            .iter()
            .find(|(f, _)| *f == fault)
            .map_or(0, |(_, n)| *n)
    }

    /// Requests the client had to send again: every injected fault but a delay.
    pub fn retries(&self) -> u64 {
        self.faults
            .iter()
            .filter(|(f, _)| f.forces_retry())
            .map(|(_, n)| n)
            .sum()
    }

    /// One line per kind of fault, for the test's printed figures.
    pub fn describe(&self) -> String {
        let mut lines = vec![format!(
            "requests through the proxy: {}, reaching the emulator: {} ({} mutating), answered by the proxy alone: {}",
            self.received,
            self.forwarded,
            self.mutating_forwarded,
            self.received - self.forwarded
        )];
        for (fault, n) in &self.faults {
            lines.push(format!("  {}: {n}", fault.label()));
        }
        lines.push(format!(
            "retries observed (faults that forced a resend): {}",
            self.retries()
        ));
        lines.join("\n")
    }
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `127.0.0.1:upstream`.
    pub fn start(upstream: u16, seed: u64, rates: FaultRates) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("fault proxy: bind 127.0.0.1:0");
        let port = listener
            .local_addr()
            .expect("fault proxy: local address")
            .port();
        let shared = Arc::new(Shared {
            upstream,
            seed,
            rates: Mutex::new(rates),
            seen: Mutex::new(HashMap::new()),
            counters: Mutex::new(Counters::default()),
            fail_writes_after: Mutex::new(None),
            hook: Mutex::new(None),
            interrupted: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            request_ids: AtomicU64::new(0),
        });
        let accepting = Arc::clone(&shared);
        thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = Arc::clone(&accepting);
                thread::spawn(move || {
                    let _ = handle(&shared, stream);
                });
            }
        });
        FaultProxy { port, shared }
    }

    /// The endpoint to give jumpgate as `AWS_ENDPOINT_URL`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn set_rates(&self, rates: FaultRates) {
        *self.shared.rates.lock().unwrap() = rates;
    }

    /// From now on, once `n` more mutating requests took effect, every
    /// further mutating request other than the apply lock's is refused with
    /// a 503; `None` ends the outage.
    pub fn fail_writes_after(&self, n: Option<u64>) {
        let base = self.shared.counters.lock().unwrap().mutating_forwarded;
        *self.shared.fail_writes_after.lock().unwrap() = n.map(|n| base + n);
    }

    /// Calls `hook` once the `n`-th mutating request from now took effect
    /// in the emulator, before its answer is passed on; from then on every
    /// request is refused (connection closed) until `clear_interruption`.
    pub fn interrupt_after(&self, n: u64, hook: Hook) {
        self.hook_after(n, hook, AfterHook::Interrupt);
    }

    /// Calls `hook` once the `n`-th mutating request from now took effect
    /// in the emulator, then passes its answer on: what someone else does
    /// at that very moment.
    pub fn meanwhile_after(&self, n: u64, hook: Hook) {
        self.hook_after(n, hook, AfterHook::Answer);
    }

    fn hook_after(&self, n: u64, hook: Hook, then: AfterHook) {
        let base = self.shared.counters.lock().unwrap().mutating_forwarded;
        *self.shared.hook.lock().unwrap() = Some((base + n, hook, then));
    }

    /// Forgets a pending or fired interruption.
    pub fn clear_interruption(&self) {
        *self.shared.hook.lock().unwrap() = None;
        self.shared.interrupted.store(false, Ordering::SeqCst);
    }

    pub fn report(&self) -> Report {
        let counters = self.shared.counters.lock().unwrap();
        let mut faults: Vec<(Fault, u64)> = Fault::ALL
            .iter()
            .filter_map(|f| counters.faults.get(f).map(|n| (*f, *n)))
            .collect();
        faults.sort();
        Report {
            received: counters.received,
            forwarded: counters.forwarded,
            mutating_forwarded: counters.mutating_forwarded,
            faults,
            mutating_log: counters.mutating_log.clone(),
        }
    }

    /// Zeroes the counters (the seed's draws go on where they were).
    pub fn reset_counters(&self) {
        *self.shared.counters.lock().unwrap() = Counters::default();
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees `stopped`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// splitmix64: a small, well-mixed PRNG step.
/// The seed of a run: `JUMPGATE_FAULT_SEED` if set, else the suite's default.
pub fn seed_or(default: u64) -> u64 {
    std::env::var("JUMPGATE_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

pub fn splitmix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A deterministic generator for tests (splitmix64 over a counter).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(1);
        splitmix64(self.0)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// One HTTP request as read off the socket.
struct Request {
    /// The request line and headers, as received.
    head: Vec<u8>,
    body: Vec<u8>,
    /// The JSON protocol (Organizations) names its operation in a header.
    json_target: Option<String>,
    service: Option<String>,
    action: Option<String>,
}

impl Request {
    fn form(&self) -> Vec<(String, String)> {
        if self.json_target.is_some() {
            return Vec::new();
        }
        parse_form(&String::from_utf8_lossy(&self.body))
    }

    fn form_value(&self, name: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find_map(|(key, value)| (key == name).then_some(value))
    }

    fn is_mutating(&self) -> bool {
        is_mutating(self.service.as_deref(), self.action.as_deref())
    }

    /// The content that decides the request's fate: the body less any
    /// password (random per apply), plus the action.
    fn key(&self) -> u64 {
        let body = String::from_utf8_lossy(&self.body);
        let stable: Vec<&str> = body
            .split('&')
            .filter(|pair| !pair.starts_with("Password="))
            .collect();
        fnv1a(format!("{:?}|{}", self.action, stable.join("&")).as_bytes())
    }
}

fn read_request(stream: &mut TcpStream) -> io::Result<Option<Request>> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(at) = find(&buffer, b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = buffer[..head_end].to_vec();
    let head_text = String::from_utf8_lossy(&head).into_owned();
    let header = |name: &str| {
        head_text.lines().find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    if header("transfer-encoding").is_some() {
        return Err(io::Error::other(
            "fault proxy: chunked request bodies are not supported",
        ));
    }
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let json_target = header("x-amz-target");
    let service = header("authorization").and_then(|auth| {
        auth.split_once("Credential=")?
            .1
            .split('/')
            .nth(3)
            .map(str::to_owned)
    });
    let mut request = Request {
        head,
        body,
        json_target: json_target.clone(),
        service,
        action: None,
    };
    request.action = match json_target {
        Some(target) => target.rsplit('.').next().map(str::to_owned),
        None => request.form_value("Action"),
    };
    Ok(Some(request))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Sends the request to the emulator and reads its whole answer (moto
/// closes the connection after it).
fn forward(shared: &Shared, request: &Request) -> io::Result<Vec<u8>> {
    let mut upstream = TcpStream::connect(("127.0.0.1", shared.upstream))?;
    upstream.set_read_timeout(Some(Duration::from_secs(120)))?;
    upstream.write_all(&request.head)?;
    upstream.write_all(&request.body)?;
    let mut answer = Vec::new();
    upstream.read_to_end(&mut answer)?;
    Ok(answer)
}

/// An AWS error answer in the request's protocol.
/// A 503 as AWS sends one when a service is down.
fn unavailable(shared: &Shared, request: &Request) -> Vec<u8> {
    error_answer(
        shared,
        request,
        503,
        "ServiceUnavailable",
        "Service is unavailable",
    )
}

fn error_answer(
    shared: &Shared,
    request: &Request,
    status: u16,
    code: &str,
    message: &str,
) -> Vec<u8> {
    let id = shared.request_ids.fetch_add(1, Ordering::SeqCst);
    let request_id = format!("fa017000-0000-4000-8000-{id:012x}");
    let reason = match status {
        400 => "Bad Request",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let (content_type, body) = if request.json_target.is_some() {
        (
            "application/x-amz-json-1.1",
            format!(r#"{{"__type":"{code}","message":"{message}"}}"#),
        )
    } else {
        let kind = if status < 500 { "Sender" } else { "Receiver" };
        (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
            ),
        )
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-amzn-RequestId: {request_id}\r\nx-amzn-ErrorType: {code}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn count(shared: &Shared, fault: Fault) {
    *shared
        .counters
        .lock()
        .unwrap()
        .faults
        .entry(fault)
        .or_default() += 1;
}

fn handle(shared: &Shared, mut client: TcpStream) -> io::Result<()> {
    let Some(request) = read_request(&mut client)? else {
        return Ok(());
    };
    shared.counters.lock().unwrap().received += 1;
    if shared.interrupted.load(Ordering::SeqCst) {
        count(shared, Fault::AfterInterruption);
        return client.shutdown(Shutdown::Both);
    }
    let mutating = request.is_mutating();
    let is_lock = String::from_utf8_lossy(&request.body).contains("jumpgate-apply-lock");
    if mutating && !is_lock {
        let outage = *shared.fail_writes_after.lock().unwrap();
        let done = shared.counters.lock().unwrap().mutating_forwarded;
        if outage.is_some_and(|after| done >= after) {
            count(shared, Fault::OutageRefused);
            let answer = unavailable(shared, &request);
            return client.write_all(&answer);
        }
    }

    // The request's fate: a hash of seed, content and occurrence.
    let key = request.key();
    let occurrence = {
        let mut seen = shared.seen.lock().unwrap();
        let n = seen.entry(key).or_default();
        *n += 1;
        *n
    };
    let mut rng = Rng::new(splitmix64(shared.seed ^ key) ^ splitmix64(occurrence));
    let draw = rng.unit();
    let rates = *shared.rates.lock().unwrap();
    let mut bound = rates.throttle;
    let fault = if rates.lose_first_answer && mutating && occurrence == 1 {
        Some(Fault::ErrorAfter)
    } else if draw < bound {
        Some(Fault::Throttled)
    } else if draw < {
        bound += rates.error_before;
        bound
    } {
        Some(Fault::ErrorBefore)
    } else if draw < {
        bound += rates.error_after;
        bound
    } {
        Some(Fault::ErrorAfter)
    } else if draw < {
        bound += rates.drop;
        bound
    } {
        Some(if rng.below(2) == 0 {
            Fault::DroppedBefore
        } else {
            Fault::DroppedAfter
        })
    } else if rng.unit() < rates.delay {
        Some(Fault::Delayed)
    } else {
        None
    };
    if let Some(fault) = fault {
        count(shared, fault);
    }
    match fault {
        Some(Fault::Throttled) => {
            let answer = error_answer(shared, &request, 400, "Throttling", "Rate exceeded");
            return client.write_all(&answer);
        }
        Some(Fault::ErrorBefore) => {
            let answer = unavailable(shared, &request);
            return client.write_all(&answer);
        }
        Some(Fault::DroppedBefore) => return client.shutdown(Shutdown::Both),
        Some(Fault::Delayed) => {
            let nanos = rates.max_delay.as_nanos().max(1) as u64;
            thread::sleep(Duration::from_nanos(rng.below(nanos)));
        }
        _ => {}
    }

    let answer = forward(shared, &request)?;
    let hook = {
        let mut counters = shared.counters.lock().unwrap();
        counters.forwarded += 1;
        if mutating {
            counters.mutating_forwarded += 1;
            counters.mutating_log.push(Logged {
                action: request.action.clone().unwrap_or_default(),
                params: request.form(),
            });
            let done = counters.mutating_forwarded;
            drop(counters);
            let mut hook = shared.hook.lock().unwrap();
            if hook.as_ref().is_some_and(|(at, _, _)| done >= *at) {
                hook.take().map(|(_, hook, then)| {
                    // Before any other request is let through.
                    if then == AfterHook::Interrupt {
                        shared.interrupted.store(true, Ordering::SeqCst);
                    }
                    (hook, then)
                })
            } else {
                None
            }
        } else {
            None
        }
    };
    match hook {
        Some((hook, AfterHook::Interrupt)) => {
            // The request took effect; its sender dies before hearing so.
            hook();
            return client.shutdown(Shutdown::Both);
        }
        Some((hook, AfterHook::Answer)) => hook(),
        None => {}
    }
    match fault {
        Some(Fault::ErrorAfter) => {
            let answer = error_answer(
                shared,
                &request,
                500,
                "InternalFailure",
                "An internal error occurred",
            );
            client.write_all(&answer)
        }
        Some(Fault::DroppedAfter) => client.shutdown(Shutdown::Both),
        _ => client.write_all(&answer),
    }
}
