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

use std::time::{Duration, Instant};

use support::big_estate::{
    Estate, assert_passwords_delivered, differences, expected_contents, iam_contents,
    passwords_sent,
};
use support::by_hand;
use support::fault_proxy::{FaultProxy, FaultRates, Logged, Rng, seed_or};
use support::{Emulator, Jumpgate, Outcome, Workspace};

const ROUNDS: usize = 20;
const TIMEOUT: Duration = Duration::from_secs(120);
const DEFAULT_SEED: u64 = 0x6b69_6c6c_2d39;
const OUTSIDER: &str = "outsider";
const OUTSIDERS: &str = "outsiders";

fn seed() -> u64 {
    seed_or(DEFAULT_SEED)
}

fn figure(text: &str) {
    support::figure("reliability-interrupt.txt", text);
}

/// The one workspace all rounds share, and everything between it and the
/// emulator.
struct Round<'a> {
    emu: &'a Emulator,
    proxy: &'a FaultProxy,
    ws: Workspace,
}

impl Round<'_> {
    /// `jumpgate SUBCOMMAND STATE` through the proxy.
    fn command(&self, subcommand: &str) -> Jumpgate<'_> {
        self.ws
            .command(self.emu, subcommand)
            .endpoint(&self.proxy.url())
            .timeout(TIMEOUT)
    }

    fn apply_command(&self) -> Jumpgate<'_> {
        self.ws
            .apply_command(self.emu)
            .endpoint(&self.proxy.url())
            .timeout(TIMEOUT)
    }

    fn apply(&self) -> Outcome {
        self.apply_command().run()
    }

    /// Mutating requests an uninterrupted apply sends.
    fn measured_apply(&self) -> u64 {
        let before = self.proxy.report().mutating_forwarded;
        self.apply().expect_code(0);
        self.proxy.report().mutating_forwarded - before
    }
}

#[tokio::test]
async fn applies_killed_at_20_points_are_finished_by_the_next_apply() {
    let started = Instant::now();
    let emu = Emulator::start();
    let seed = seed();

    // Objects jumpgate does not own, made by hand before it ever ran.
    let iam = aws_sdk_iam::Client::new(&emu.sdk_config().await);
    by_hand::create_user(&iam, OUTSIDER).await;
    by_hand::create_group(&iam, OUTSIDERS).await;
    by_hand::add_user_to_group(&iam, OUTSIDER, OUTSIDERS).await;
    by_hand::create_login_profile(&iam, OUTSIDER, "Outsider-Pa55word!").await;

    let estates = [0, 1].map(|variant| Estate {
        projects: 2,
        users: 32,
        variant,
    });
    for estate in &estates {
        emu.bootstrap_declared(&estate.kdl()).await;
    }
    let proxy = FaultProxy::start(emu.port(), seed, FaultRates::NONE);
    let round = Round {
        emu: &emu,
        proxy: &proxy,
        ws: Workspace::new(),
    };

    // Build the first estate, then measure each direction once.
    round.ws.write_state(&estates[0].kdl());
    round.apply().expect_code(0);
    let mut sizes = [0u64; 2];
    round.ws.write_state(&estates[1].kdl());
    sizes[1] = round.measured_apply();
    round.ws.write_state(&estates[0].kdl());
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
        round.ws.write_state(&estate.kdl());
        // Spread over the apply: the index-th twentieth, at a random place in it.
        let size = sizes[target];
        let point =
            (1 + ((index as f64 + rng.unit()) * size as f64 / ROUNDS as f64) as u64).min(size);

        let apply = round.apply_command().spawn();
        let before = proxy.report().mutating_forwarded;
        proxy.interrupt_after(point, Box::new(apply.killer()));
        let killed = apply.wait();
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

        let unlock = Jumpgate::against(&emu)
            .args(["unlock", "--yes"])
            .endpoint(&proxy.url())
            .timeout(TIMEOUT)
            .run();
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
        let replan = round.command("plan").arg("--detailed-exitcode").run();
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
        assert_passwords_delivered(
            estate,
            &round.ws.secrets(),
            &passwords_sent(&proxy.report().mutating_log),
            &format!("round {index}: "),
        );
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
