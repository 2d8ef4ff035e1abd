//! Issue #8: jumpgate against a misbehaving AWS. A fault proxy between the
//! binary and the emulator throttles, fails before and after requests took
//! effect, delays and drops connections, deterministically from a seed
//! (`JUMPGATE_FAULT_SEED` overrides it). A large apply must converge in one
//! run with no object lost or duplicated; a total or write outage must stop
//! it with a clear error, and the next apply must finish the job.
//!
//! The figures are printed (`cargo test --test faults -- --nocapture`) and
//! written to `target/tmp/reliability-faults.txt`.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use support::big_estate::{
    Estate, assert_passwords_delivered, differences, expected_contents, iam_contents,
    passwords_sent,
};
use support::fault_proxy::{Fault, FaultProxy, FaultRates, seed_or};
use support::runner::line_starting;
use support::{Emulator, JUMP, Outcome, Workspace, figure};

const TIMEOUT: Duration = Duration::from_secs(240);
const DEFAULT_SEED: u64 = 0x6a75_6d70_6761_7465;

fn seed() -> u64 {
    seed_or(DEFAULT_SEED)
}

/// `apply` through `endpoint` (the fault proxy, or the emulator itself).
fn apply(ws: &Workspace, emu: &Emulator, endpoint: &str) -> Outcome {
    ws.apply_command(emu)
        .endpoint(endpoint)
        .timeout(TIMEOUT)
        .run()
}

/// `plan --format json` straight against the emulator.
fn plan(ws: &Workspace, emu: &Emulator) -> serde_json::Value {
    ws.command(emu, "plan")
        .args(["--format", "json"])
        .timeout(TIMEOUT)
        .run()
        .expect_code(0)
        .json()
}

/// The CloudFormation objects: StackSets named `iam-roles` that are not
/// deleted, stacks by name, and the StackSet's instances.
async fn cloudformation_counts(emu: &Emulator) -> (usize, BTreeMap<String, usize>, Vec<String>) {
    let cfn = aws_sdk_cloudformation::Client::new(&emu.sdk_config().await);
    let sets = cfn
        .list_stack_sets()
        .send()
        .await
        .expect("ListStackSets")
        .summaries()
        .iter()
        .filter(|s| {
            s.stack_set_name() == Some("iam-roles")
                && s.status().is_some_and(|st| st.as_str() == "ACTIVE")
        })
        .count();
    let mut stacks = BTreeMap::new();
    for stack in cfn
        .describe_stacks()
        .send()
        .await
        .expect("DescribeStacks")
        .stacks()
    {
        if stack
            .stack_status()
            .is_some_and(|s| s.as_str() != "DELETE_COMPLETE")
        {
            *stacks
                .entry(stack.stack_name().unwrap_or_default().to_owned())
                .or_default() += 1;
        }
    }
    let instances: Vec<String> = emu
        .stack_instances("iam-roles")
        .await
        .into_iter()
        .map(|(account, _, _)| account)
        .collect();
    (sets, stacks, instances)
}

/// Checks the emulator holds exactly `estate`: IAM contents, one StackSet
/// with one instance per target, the two role stacks once each, and every
/// console user's password file holding the password AWS last got.
async fn assert_converged(emu: &Emulator, estate: &Estate) -> usize {
    let live = iam_contents(emu).await;
    let expected = expected_contents(estate);
    let (lost, extra) = differences(&expected, &live);
    assert!(lost.is_empty(), "objects lost: {lost:?}");
    assert!(
        extra.is_empty(),
        "objects duplicated or left over: {extra:?}"
    );
    let (sets, stacks, instances) = cloudformation_counts(emu).await;
    assert_eq!(sets, 1, "one iam-roles StackSet");
    assert!(
        stacks.values().all(|n| *n == 1)
            && stacks.contains_key("stackset-admin-role")
            && stacks.contains_key("stackset-execution-role"),
        "the role stacks (and the StackSet's own stack in the jump account), once each: {stacks:?}"
    );
    let mut targets = estate.account_ids();
    targets.push(JUMP.to_owned());
    targets.sort();
    assert_eq!(instances, targets, "one stack instance per target");
    // Users, groups, memberships and login profiles checked.
    expected.users.len()
        + expected.groups.len()
        + expected
            .users
            .values()
            .map(|(g, p)| g.len() + usize::from(*p))
            .sum::<usize>()
}

/// After an apply: the next plan is empty, the emulator holds exactly
/// `estate` and each console user's password file holds the password AWS
/// last got. The number of objects checked.
async fn assert_finished(emu: &Emulator, estate: &Estate, ws: &Workspace) -> usize {
    let replanned = plan(ws, emu);
    assert_eq!(
        replanned["changes"].as_array().map(Vec::len),
        Some(0),
        "the next plan is empty: {replanned}"
    );
    let objects = assert_converged(emu, estate).await;
    assert_passwords_delivered(estate, &ws.secrets(), &passwords_sent(&emu.recording()), "");
    objects
}

/// A fresh emulator, with an estate of `projects` projects and `users`
/// users in a workspace whose member accounts are bootstrapped.
async fn start(projects: usize, users: usize) -> (Emulator, Estate, Workspace) {
    let emu = Emulator::start();
    let estate = Estate::new(projects, users);
    let ws = Workspace::bootstrapped(&emu, &estate.kdl()).await;
    (emu, estate, ws)
}

#[tokio::test]
async fn a_large_apply_through_faults_converges_in_one_run() {
    let (emu, estate, ws) = start(6, 80).await;
    let planned = plan(&ws, &emu);
    let changes = planned["changes"].as_array().expect("changes").len();
    assert!(changes >= 300, "a plan of 300+ changes, got {changes}");

    let seed = seed();
    let rates = FaultRates {
        throttle: 0.15,
        error_before: 0.05,
        error_after: 0.03,
        drop: 0.02,
        delay: 0.05,
        max_delay: Duration::from_millis(50),
        lose_first_answer: false,
    };
    let proxy = FaultProxy::start(emu.port(), seed, rates);
    emu.start_recording();
    let started = Instant::now();
    let applied = apply(&ws, &emu, &proxy.url());
    let elapsed = started.elapsed();
    applied.expect_code(0);
    let report = proxy.report();
    emu.stop_recording();

    let objects = assert_finished(&emu, &estate, &ws).await;
    for kind in [Fault::Throttled, Fault::ErrorBefore, Fault::ErrorAfter] {
        assert!(report.count(kind) > 0, "no {} was injected", kind.label());
    }
    assert!(
        report.count(Fault::DroppedBefore) + report.count(Fault::DroppedAfter) > 0,
        "no connection was dropped"
    );

    let file = "reliability-faults.txt";
    figure(
        file,
        &format!(
            "faults: seed {seed}, {changes} changes applied in one run in {:.1} s (rates: 15% throttling, 5% 5xx before, 3% 5xx after, 2% dropped, 5% delayed)",
            elapsed.as_secs_f64()
        ),
    );
    figure(
        file,
        &format!("faults: {}", report.describe().replace('\n', "\nfaults: ")),
    );
    figure(
        file,
        &format!(
            "faults: objects checked: {objects}, objects lost: 0, duplicated: 0; next plan: no changes"
        ),
    );
}

#[tokio::test]
async fn an_outage_stops_the_apply_with_a_clear_error_and_the_next_apply_finishes() {
    let (emu, estate, ws) = start(2, 24).await;
    let planned = plan(&ws, &emu);
    let changes = planned["changes"].as_array().expect("changes").len();
    let file = "reliability-faults.txt";

    // 1. Every request fails: nothing can even be read, nothing is changed.
    let proxy = FaultProxy::start(
        emu.port(),
        seed(),
        FaultRates {
            error_before: 1.0,
            ..FaultRates::NONE
        },
    );
    let down = apply(&ws, &emu, &proxy.url());
    down.expect_code(1);
    let first_line = line_starting(&down.stderr, "error: ");
    assert!(
        first_line.contains("failed: ServiceUnavailable"),
        "a clear error naming the call and AWS's code:\n{}",
        down.stderr
    );
    assert!(!down.stderr.contains("panicked"), "{}", down.stderr);
    let report = proxy.report();
    assert_eq!(report.forwarded, 0, "nothing reached AWS");
    figure(
        file,
        &format!(
            "faults: 100% failure: exit 1 after {} requests in {:.1} s, `{first_line}`",
            report.received,
            down.elapsed.as_secs_f64()
        ),
    );

    // 2. A write outage mid-apply: reads work, every change after the 40th
    //    mutating request is refused.
    proxy.set_rates(FaultRates::NONE);
    proxy.reset_counters();
    proxy.fail_writes_after(Some(40));
    emu.start_recording();
    let outage = apply(&ws, &emu, &proxy.url());
    outage.expect_code(1);
    let summary = line_starting(&outage.stdout, "Apply failed:");
    assert!(
        outage.stdout.contains("ServiceUnavailable"),
        "each failed change says why:\n{}",
        outage.stdout
    );
    // The lock was released: the next apply needs no unlock.
    let iam = aws_sdk_iam::Client::new(&emu.sdk_config().await);
    let lock = iam
        .get_policy()
        .policy_arn(format!(
            "arn:aws:iam::{JUMP}:policy/jumpgate/jumpgate-apply-lock"
        ))
        .send()
        .await;
    assert!(lock.is_err(), "the lock is released after a failed apply");
    let partial = iam_contents(&emu).await;
    let (lost, _) = differences(&expected_contents(&estate), &partial);
    assert!(!lost.is_empty(), "the outage left work undone");
    let report = proxy.report();
    figure(
        file,
        &format!(
            "faults: write outage after 40 changes took effect: exit 1, `{summary}`, {} writes refused",
            report.count(Fault::OutageRefused)
        ),
    );

    // 3. The next apply, without faults, finishes the job.
    let again = apply(&ws, &emu, &emu.endpoint_url());
    again.expect_code(0);
    emu.stop_recording();
    assert_finished(&emu, &estate, &ws).await;
    let finished = line_starting(&again.stdout, "Apply complete");
    figure(
        file,
        &format!(
            "faults: the next apply finished the job ({changes} planned at first): `{finished}`; objects lost: 0"
        ),
    );
}

#[tokio::test]
async fn every_change_whose_first_answer_is_lost_is_retried_into_one_object() {
    let (emu, estate, ws) = start(2, 12).await;
    let proxy = FaultProxy::start(
        emu.port(),
        seed(),
        FaultRates {
            lose_first_answer: true,
            ..FaultRates::NONE
        },
    );
    emu.start_recording();
    let applied = apply(&ws, &emu, &proxy.url());
    applied.expect_code(0);
    emu.stop_recording();
    assert_finished(&emu, &estate, &ws).await;

    // And on the way to another estate: users, memberships and login
    // profiles removed, others added.
    let estate = Estate {
        variant: 1,
        ..estate
    };
    ws.write_state(&estate.kdl());
    emu.start_recording();
    let moved = apply(&ws, &emu, &proxy.url());
    moved.expect_code(0);
    emu.stop_recording();
    assert_finished(&emu, &estate, &ws).await;
    let report = proxy.report();
    let mut actions: Vec<String> = report
        .mutating_log
        .iter()
        .map(|r| r.action.clone())
        .collect();
    actions.sort();
    actions.dedup();
    figure(
        "reliability-faults.txt",
        &format!(
            "faults: first answer of every mutating request lost (500 after it took effect): {} lost answers over {} actions ({}), converged in one run, no duplicate",
            report.count(Fault::ErrorAfter),
            actions.len(),
            actions.join(", ")
        ),
    );
}
