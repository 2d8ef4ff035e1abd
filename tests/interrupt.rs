//! Issue #8: an apply killed (SIGKILL) at 20 points of a large apply is
//! finished by the next one, after `jumpgate unlock`; nothing unmanaged is
//! ever changed, and no password is lost.
//!
//! Deterministic kill points: every request goes through a fault proxy
//! (injecting nothing) that counts the mutating requests reaching the
//! emulator and kills the binary right after the N-th took effect, before
//! its answer is passed on — the worst moment. N is spread over the apply
//! from a seed (`JUMPGATE_FAULT_SEED` overrides it). One emulator for all
//! rounds, which alternate between two estates far apart (a quarter of the
//! users replaced, memberships moved, login profiles added and removed).
//!
//! The figures are printed (`cargo test --test interrupt -- --nocapture`)
//! and written to `target/tmp/reliability-interrupt.txt`.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::big_estate::{
    Estate, command, differences, expected_contents, iam_contents, run, run_shared,
};
use support::emulator::Emulator;
use support::fault_proxy::{FaultProxy, FaultRates, Logged, Rng};

const ROUNDS: usize = 20;
const TIMEOUT: Duration = Duration::from_secs(120);
const DEFAULT_SEED: u64 = 0x6b69_6c6c_2d39;
const OUTSIDER: &str = "outsider";
const OUTSIDERS: &str = "outsiders";

fn seed() -> u64 {
    std::env::var("JUMPGATE_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED)
}

fn figure(text: &str) {
    println!("{text}");
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("reliability-interrupt.txt");
    use std::io::Write;
    if let Ok(mut out) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(out, "{text}");
    }
}

struct Round<'a> {
    emu: &'a Emulator,
    proxy: &'a FaultProxy,
    dir: &'a std::path::Path,
}

impl Round<'_> {
    fn state(&self) -> String {
        self.dir.join("estate.kdl").display().to_string()
    }

    fn secrets(&self) -> String {
        self.dir.join("secrets").display().to_string()
    }

    fn write(&self, estate: &Estate) {
        std::fs::write(self.dir.join("estate.kdl"), estate.kdl()).expect("estate.kdl");
    }

    fn jumpgate(&self, args: &[&str]) -> support::big_estate::Run {
        run(self.emu, &self.proxy.url(), args, TIMEOUT)
    }

    fn apply(&self) -> support::big_estate::Run {
        let (state, secrets) = (self.state(), self.secrets());
        self.jumpgate(&["apply", &state, "--yes", "--secrets-dir", &secrets])
    }

    /// Mutating requests an uninterrupted apply sends.
    fn measured_apply(&self) -> u64 {
        let before = self.proxy.report().mutating_forwarded;
        self.apply().expect_code(0);
        self.proxy.report().mutating_forwarded - before
    }
}

/// The last password each user's login profile was created with, as sent.
fn passwords_sent(log: &[Logged]) -> std::collections::BTreeMap<String, String> {
    log.iter()
        .filter(|r| r.action == "CreateLoginProfile")
        .filter_map(|r| {
            Some((
                r.param("UserName")?.to_owned(),
                r.param("Password")?.to_owned(),
            ))
        })
        .collect()
}

#[tokio::test]
async fn applies_killed_at_20_points_are_finished_by_the_next_apply() {
    let started = Instant::now();
    let emu = Emulator::start();
    let seed = seed();

    // Objects jumpgate does not own, made by hand before it ever ran.
    let iam = aws_sdk_iam::Client::new(&emu.sdk_config().await);
    iam.create_user()
        .user_name(OUTSIDER)
        .send()
        .await
        .expect("CreateUser");
    iam.create_group()
        .group_name(OUTSIDERS)
        .send()
        .await
        .expect("CreateGroup");
    iam.add_user_to_group()
        .user_name(OUTSIDER)
        .group_name(OUTSIDERS)
        .send()
        .await
        .expect("AddUserToGroup");
    iam.create_login_profile()
        .user_name(OUTSIDER)
        .password("Outsider-Pa55word!")
        .send()
        .await
        .expect("CreateLoginProfile");

    let estates = [0, 1].map(|variant| Estate {
        projects: 2,
        users: 32,
        variant,
    });
    for estate in &estates {
        emu.bootstrap_declared(&estate.kdl()).await;
    }
    let proxy = FaultProxy::start(
        emu.endpoint_url()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("the emulator's port"),
        seed,
        FaultRates::NONE,
    );
    let dir = tempfile::Builder::new()
        .prefix("jumpgate-interrupt-")
        .tempdir()
        .expect("a temporary directory");
    let round = Round {
        emu: &emu,
        proxy: &proxy,
        dir: dir.path(),
    };

    // Build the first estate, then measure each direction once.
    round.write(&estates[0]);
    round.apply().expect_code(0);
    let mut sizes = [0u64; 2];
    round.write(&estates[1]);
    sizes[1] = round.measured_apply();
    round.write(&estates[0]);
    sizes[0] = round.measured_apply();
    figure(&format!(
        "interrupt: seed {seed}; estates of {} users, {} and {} mutating requests per apply between them; setup took {:.1} s",
        estates[0].users,
        sizes[1],
        sizes[0],
        started.elapsed().as_secs_f64()
    ));

    let mut rng = Rng::new(seed);
    let mut points = Vec::new();
    let mut locks_broken = 0;
    for index in 0..ROUNDS {
        let target = (index + 1) % 2;
        let estate = &estates[target];
        round.write(estate);
        // Spread over the apply: the index-th twentieth, at a random place in it.
        let size = sizes[target];
        let point =
            (1 + ((index as f64 + rng.unit()) * size as f64 / ROUNDS as f64) as u64).min(size);

        let (state, secrets) = (round.state(), round.secrets());
        let args = [
            "apply",
            state.as_str(),
            "--yes",
            "--secrets-dir",
            secrets.as_str(),
        ];
        let child = command(&emu, &proxy.url(), &args)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start jumpgate: {e}"));
        let child = Arc::new(Mutex::new(child));
        let killer = Arc::clone(&child);
        let before = proxy.report().mutating_forwarded;
        proxy.interrupt_after(
            point,
            Box::new(move || {
                let _ = killer.lock().unwrap().kill();
            }),
        );
        let killed = run_shared(child, &args, TIMEOUT);
        let log = proxy.report().mutating_log;
        let at = log
            .get((before + point - 1) as usize)
            .map(Logged::describe)
            .unwrap_or_default();
        assert_eq!(
            killed.code, None,
            "round {index}: the apply was killed after mutating request {point} of {size}\n{}",
            killed.stderr
        );
        proxy.clear_interruption();

        let unlock = round.jumpgate(&["unlock", "--yes"]);
        unlock.expect_code(0);
        let held = unlock.stdout.contains("The lock is held by");
        locks_broken += usize::from(held);
        let finish = round.apply();
        finish.expect_code(0);
        let finished = finish
            .stdout
            .lines()
            .find(|l| l.starts_with("Apply complete") || l.starts_with("No changes"))
            .unwrap_or("?")
            .to_owned();
        let replan = round.jumpgate(&["plan", &state, "--detailed-exitcode"]);
        replan.expect_code(0);

        // The estate is exactly the target, and every password file holds
        // the password its login profile was last created with.
        let live = iam_contents(&emu).await;
        let mut expected = expected_contents(estate);
        let (outsider_groups, outsider_profile) = live
            .users
            .get(OUTSIDER)
            .cloned()
            .unwrap_or_else(|| panic!("round {index}: {OUTSIDER} is gone"));
        assert_eq!(
            (
                outsider_groups.iter().cloned().collect::<Vec<_>>(),
                outsider_profile
            ),
            (vec![OUTSIDERS.to_owned()], true),
            "round {index}: {OUTSIDER} unchanged"
        );
        expected
            .users
            .insert(OUTSIDER.to_owned(), (outsider_groups, true));
        expected
            .groups
            .insert(OUTSIDERS.to_owned(), Default::default());
        let (lost, extra) = differences(&expected, &live);
        assert!(
            lost.is_empty() && extra.is_empty(),
            "round {index}: lost {lost:?}, extra {extra:?}"
        );
        let sent = passwords_sent(&proxy.report().mutating_log);
        for user in estate.declared_users().iter().filter(|u| u.console) {
            let file = dir
                .path()
                .join("secrets")
                .join(format!("{}.password", user.name));
            let delivered = std::fs::read_to_string(&file).unwrap_or_default();
            assert_eq!(
                sent.get(&user.name),
                Some(&delivered),
                "round {index}: {}'s password file holds the password AWS got",
                user.name
            );
        }
        figure(&format!(
            "interrupt: round {index:2}: to estate {target}, killed after mutating request {point:3}/{size} ({at}); lock held: {}; unlock, then apply: {finished}; plan: no changes",
            if held { "yes" } else { "no" }
        ));
        points.push(point);
    }

    // Nothing unmanaged was ever named by a request that changes something.
    let log = proxy.report().mutating_log;
    let touching: Vec<String> = log
        .iter()
        .filter(|r| {
            r.params.iter().any(|(k, v)| {
                (k == "UserName" && v == OUTSIDER) || (k == "GroupName" && v == OUTSIDERS)
            })
        })
        .map(Logged::describe)
        .collect();
    assert!(
        touching.is_empty(),
        "unmanaged objects were changed: {touching:?}"
    );
    figure(&format!(
        "interrupt: {ROUNDS} kills at mutating requests {points:?}; {locks_broken} held locks broken by `unlock --yes`; every next apply converged; {} mutating requests in all, none naming the unmanaged user or group; objects lost: 0; {:.1} s",
        log.len(),
        started.elapsed().as_secs_f64()
    ));
}
