//! The cargo-fuzz target's body (`fuzz/src/lib.rs`) on stable Rust: a
//! deterministic, time-bounded mutation run over the seed corpus, and a
//! replay of every input kept in `tests/fixtures/fuzz-regressions/`
//! (crashes found by cargo-fuzz or by this run, kept as regressions).
//!
//! `JUMPGATE_FUZZ_SEED` and `JUMPGATE_FUZZ_INPUTS` change the seed and the
//! number of inputs. A crashing input is written to
//! `target/tmp/fuzz-crashes/`; move it to `tests/fixtures/fuzz-regressions/`
//! once fixed. The figures are printed (`-- --nocapture`) and written to
//! `target/tmp/reliability-fuzz.txt`.

mod support;

#[path = "../fuzz/src/lib.rs"]
mod fuzz_target;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::fault_proxy::Rng;

const DEFAULT_INPUTS: usize = 3_000;
/// The run stops early past this, whatever the count.
const TIME_BUDGET: Duration = Duration::from_secs(30);
/// Mutated inputs are cut to this length (as `-max_len` for libFuzzer).
const MAX_INPUT: usize = 64 * 1024;
/// One input slower than this is reported as a finding.
const SLOW: Duration = Duration::from_secs(2);

const TOKENS: &[&[u8]] = &[
    b"{",
    b"}",
    b"\"",
    b"\"\"\"",
    b"#\"",
    b"\"#",
    b"#true",
    b"#false",
    b"#null",
    b"#inf",
    b"#nan",
    b"/-",
    b"/*",
    b"*/",
    b"//",
    b"\\",
    b"\\u{",
    b"\\u{1b}",
    b"(",
    b")",
    b"=",
    b";",
    b"\n",
    b"\r\n",
    b" ",
    b"\t",
    b"\xef\xbb\xbf",
    b"\xff",
    b"\xc0\xaf",
    b"\xe2\x80\xae",
    b"\x00",
    b"\x1b",
    b"\x1e",
    b"user",
    b"access",
    b"project",
    b"account",
    b"jump-account",
    b"role",
    b"organization",
    b"password-policy",
    b"id=",
    b"region=",
    b"email=",
    b"console=",
    b"age-recipient=",
    b"policy=",
    b"session-hours=",
    b"color=",
    b"env=",
    b"min-length=",
    b"\"111111111111\"",
    b"\"222222222222\"",
    b"\"admin\"",
    b"\"us-east-1\"",
    b"1e999",
    b"-0",
    b"0x",
    b"99999999999999999999",
    b"true",
    b"null",
    b"r\"",
    b"r#\"",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The seeds: the shipped states and examples, the validator's fixtures,
/// the fuzz corpus kept in Git, and the regressions.
fn seeds() -> Vec<Vec<u8>> {
    let mut paths = Vec::new();
    for dir in [
        "state",
        "examples",
        "tests/fixtures/invalid",
        "fuzz/corpus/validate",
        "tests/fixtures/fuzz-regressions",
    ] {
        paths.extend(files_in(&root().join(dir)));
    }
    paths.retain(|p| {
        p.file_name()
            .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
    });
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], input: &mut Vec<u8>) {
    let pick = |rng: &mut Rng, len: usize| {
        if len == 0 {
            0
        } else {
            rng.below(len as u64) as usize
        }
    };
    for _ in 0..1 + rng.below(4) {
        let at = pick(rng, input.len() + 1);
        match rng.below(9) {
            0 if !input.is_empty() => {
                let i = pick(rng, input.len());
                input[i] ^= 1 << rng.below(8);
            }
            1 => input.insert(at, rng.below(256) as u8),
            2 if !input.is_empty() => {
                let end = (at + 1 + pick(rng, 64)).min(input.len());
                input.drain(at.min(end)..end);
            }
            3 if !input.is_empty() => {
                let start = pick(rng, input.len());
                let end = (start + 1 + pick(rng, 256)).min(input.len());
                let copy = input[start..end].to_vec();
                let most = if rng.below(8) == 0 { 2000 } else { 3 };
                let times = 1 + rng.below(most) as usize;
                let at = pick(rng, input.len() + 1);
                input.splice(at..at, copy.repeat(times));
            }
            4..=6 => {
                let token = TOKENS[pick(rng, TOKENS.len())];
                input.splice(at..at, token.iter().copied());
            }
            7 => {
                let other = &seeds[pick(rng, seeds.len())];
                let start = pick(rng, other.len());
                let end = (start + pick(rng, 512)).min(other.len());
                input.splice(at..at, other[start..end].iter().copied());
            }
            _ => input.truncate(at),
        }
    }
}

/// The suite's one figure, printed and kept in `target/tmp/`.
fn figure(text: &str) {
    const FIGURES: &str = "reliability-fuzz.txt";
    support::figures::start(FIGURES);
    support::figures::figure(FIGURES, text);
}

/// Runs the target on one input; the panic message if it panicked.
fn run_one(input: &[u8]) -> Option<String> {
    catch_unwind(AssertUnwindSafe(|| fuzz_target::validate_bytes(input)))
        .err()
        .map(|panic| {
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic".to_owned())
        })
}

#[test]
fn every_kept_regression_input_is_handled() {
    let dir = root().join("tests/fixtures/fuzz-regressions");
    let files: Vec<PathBuf> = files_in(&dir)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    for file in &files {
        let input = std::fs::read(file).expect("a regression input");
        if let Some(panic) = run_one(&input) {
            panic!("{} panics again: {panic}", file.display());
        }
    }
    println!(
        "fuzz: {} regression inputs replayed, none panics",
        files.len()
    );
}

#[test]
fn the_fuzz_target_survives_thousands_of_mutated_inputs() {
    let seed = std::env::var("JUMPGATE_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x6675_7a7a);
    let wanted = std::env::var("JUMPGATE_FUZZ_INPUTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_INPUTS);
    let seeds = seeds();
    assert!(seeds.len() >= 8, "the seed corpus is there");
    // Quiet: the panics are collected, not printed one by one.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let mut tried = 0;
    let mut crashes: Vec<(Vec<u8>, String)> = Vec::new();
    let mut slow: Vec<(usize, Duration)> = Vec::new();
    let mut bytes = 0usize;
    for seed_input in &seeds {
        tried += 1;
        if let Some(panic) = run_one(seed_input) {
            crashes.push((seed_input.clone(), panic));
        }
    }
    while tried < wanted && started.elapsed() < TIME_BUDGET {
        let mut input = seeds[rng.below(seeds.len() as u64) as usize].clone();
        mutate(&mut rng, &seeds, &mut input);
        // Huge inputs are the bad-input suite's; here, many small ones.
        input.truncate(MAX_INPUT);
        bytes += input.len();
        let one = Instant::now();
        if let Some(panic) = run_one(&input) {
            crashes.push((input.clone(), panic));
        }
        if one.elapsed() > SLOW {
            slow.push((input.len(), one.elapsed()));
        }
        tried += 1;
    }
    std::panic::set_hook(hook);

    let crash_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-crashes");
    for (input, _) in &crashes {
        let _ = std::fs::create_dir_all(&crash_dir);
        let name = format!(
            "crash-{:016x}.kdl",
            support::fault_proxy::splitmix64(
                input.len() as u64
                    ^ input
                        .iter()
                        .fold(0u64, |h, b| h.rotate_left(5) ^ u64::from(*b))
            )
        );
        let _ = std::fs::write(crash_dir.join(name), input);
    }
    assert!(
        crashes.is_empty(),
        "{} of {tried} inputs panicked (kept in {}): {:?}",
        crashes.len(),
        crash_dir.display(),
        crashes
            .iter()
            .map(|(_, p)| p.as_str())
            .take(5)
            .collect::<Vec<_>>()
    );
    assert!(
        slow.is_empty(),
        "inputs slower than {SLOW:?} (bytes, time): {slow:?}"
    );
    assert!(
        tried >= 1_000 || wanted < 1_000,
        "only {tried} inputs within {TIME_BUDGET:?}"
    );
    figure(&format!(
        "fuzz (stable): seed {seed}, {tried} inputs tried ({} seeds, {} mutated, {} KiB in all) in {:.1} s; 0 crashes, 0 slower than {SLOW:?}",
        seeds.len(),
        tried - seeds.len(),
        bytes / 1024,
        started.elapsed().as_secs_f64()
    ));
}
