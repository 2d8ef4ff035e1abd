//! How long `jumpgate validate` takes on a large estate: 10,000 users and
//! 1,000 accounts spread over 100 projects, each user with one to three
//! `access` lines. Run with `cargo bench --bench validate`; the target is
//! under one second per load in a release build.
//!
//! Std only (no benchmark framework): the file is generated once, then
//! `jumpgate::lang::load` is timed over several runs and the median and
//! fastest wall times are printed. `JUMPGATE_BENCH_RUNS` sets the run count.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const USERS: usize = 10_000;
const ACCOUNTS: usize = 1_000;
const PROJECTS: usize = 100;
const ROLES: [&str; 3] = ["admin", "developer", "operator"];

/// The generated desired state and how many KDL nodes it has.
fn estate() -> (String, usize) {
    let mut text = String::with_capacity(2 << 20);
    let mut nodes = 0;
    text.push_str("jump-account id=\"100000000000\" region=\"ap-northeast-1\" {\n");
    text.push_str("    password-policy min-length=14 require-symbols=#true max-age-days=90\n}\n");
    nodes += 2;
    for project in 0..PROJECTS {
        writeln!(text, "project \"project-{project:03}\" {{").unwrap();
        nodes += 1;
        for n in 0..ACCOUNTS / PROJECTS {
            let account = project * (ACCOUNTS / PROJECTS) + n;
            writeln!(
                text,
                "    account \"project-{project:03}-{n}\" id=\"{:012}\" env=\"prod\" color=\"d13212\"",
                200_000_000_000u64 + account as u64
            )
            .unwrap();
            nodes += 1;
        }
        text.push_str("}\n");
    }
    for user in 0..USERS {
        let console = if user % 10 == 9 {
            " console=#false"
        } else {
            ""
        };
        writeln!(text, "user \"user.{user:05}\"{console} {{").unwrap();
        nodes += 1;
        // One to three lines: a global role, then project roles.
        for line in 0..=user % 3 {
            let role = ROLES[(user + line) % ROLES.len()];
            if line == 0 && user % 7 == 0 {
                writeln!(text, "    access \"{role}\"").unwrap();
            } else {
                let project = (user * 31 + line * 17) % PROJECTS;
                writeln!(
                    text,
                    "    access \"{role}\" project=\"project-{project:03}\""
                )
                .unwrap();
            }
            nodes += 1;
        }
        text.push_str("}\n");
    }
    (text, nodes)
}

fn main() {
    let runs: usize = std::env::var("JUMPGATE_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7)
        .max(1);
    let (text, nodes) = estate();
    let path: PathBuf =
        std::env::temp_dir().join(format!("jumpgate-bench-{}.kdl", std::process::id()));
    std::fs::write(&path, &text).expect("write the generated estate");

    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let state = jumpgate::lang::load(&path);
        times.push(start.elapsed());
        match state {
            Ok(state) => assert_eq!((state.users.len(), state.accounts.len()), (USERS, ACCOUNTS)),
            Err(err) => {
                let _ = std::fs::remove_file(&path);
                panic!("the generated estate is invalid:\n{err}");
            }
        }
    }
    let _ = std::fs::remove_file(&path);

    times.sort();
    let median = times[times.len() / 2];
    let min = times[0];
    let per_second = |count: usize, time: Duration| count as f64 / time.as_secs_f64();
    println!(
        "validate: {USERS} users, {ACCOUNTS} accounts, {PROJECTS} projects; \
         1 file, {} bytes, {nodes} nodes; {runs} runs",
        text.len()
    );
    println!(
        "  median {:.3} s, min {:.3} s; {:.2} files/s, {:.0} nodes/s (median)",
        median.as_secs_f64(),
        min.as_secs_f64(),
        per_second(1, median),
        per_second(nodes, median),
    );
    if cfg!(debug_assertions) {
        println!("  (debug build: the target of 1 s applies to release builds)");
    }
}
