//! How long the pure planner (`jumpgate::plan::build`) takes on a large
//! estate: 100,000 users and 1,000 accounts over 100 projects, each user with
//! one to three `access` lines. Run with
//! `cargo bench --bench plan` (or `--profile bench-fast`); the target is
//! under one second per plan in an optimised build.
//!
//! Std only (no benchmark framework). The desired state is generated as KDL
//! and loaded once; the live state that matches it (everything in place) is
//! built in memory. Timed: a plan with no changes (which must come out
//! empty), and a plan after one user was removed from the file (one
//! offboarding). `JUMPGATE_BENCH_RUNS` sets the run count,
//! `JUMPGATE_BENCH_USERS` / `JUMPGATE_BENCH_ACCOUNTS` the size.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use jumpgate::live::{
    LiveGroup, LivePolicy, LiveStack, LiveStackInstance, LiveStackSet, LiveState, LiveUser,
    OWNED_PATH, OWNER_TAG_KEY, OWNER_TAG_VALUE,
};
use jumpgate::model::derive::{managed_groups, targets, user_groups};
use jumpgate::model::desired::DesiredState;
use jumpgate::policy::{GROUP_POLICY_NAME, MFA_POLICY_NAME, group_policy, mfa_policy};
use jumpgate::templates::{
    ADMIN_ROLE_STACK, EXECUTION_ROLE_STACK, ROLES_STACK_SET, admin_role, execution_role, iam_roles,
};

const ACCOUNTS_PER_PROJECT: usize = 10;
const ROLES: [&str; 3] = ["admin", "developer", "operator"];

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
        .max(1)
}

fn estate(users: usize, accounts: usize) -> String {
    let projects = (accounts / ACCOUNTS_PER_PROJECT).max(1);
    let mut text = String::with_capacity(users * 100 + accounts * 80);
    text.push_str("jump-account id=\"100000000000\" region=\"ap-northeast-1\"\n");
    for project in 0..projects {
        writeln!(text, "project \"project-{project:03}\" {{").unwrap();
        for account in (0..accounts).filter(|a| a % projects == project) {
            writeln!(
                text,
                "    account \"account-{account:04}\" id=\"{:012}\"",
                200_000_000_000u64 + account as u64
            )
            .unwrap();
        }
        text.push_str("}\n");
    }
    for user in 0..users {
        let console = if user % 10 == 9 {
            " console=#false"
        } else {
            ""
        };
        writeln!(text, "user \"user.{user:06}\"{console} {{").unwrap();
        for line in 0..=user % 3 {
            let role = ROLES[(user + line) % ROLES.len()];
            if line == 0 && user % 7 == 0 {
                writeln!(text, "    access \"{role}\"").unwrap();
            } else {
                let project = (user * 31 + line * 17) % projects;
                writeln!(
                    text,
                    "    access \"{role}\" project=\"project-{project:03}\""
                )
                .unwrap();
            }
        }
        text.push_str("}\n");
    }
    text
}

/// The live state after a complete apply of `desired`.
fn matching_live(desired: &DesiredState) -> LiveState {
    let jump = desired.jump.id.to_string();
    let region = desired.jump.region.to_string();
    let mfa_arn = format!("arn:aws:iam::{jump}:policy{OWNED_PATH}{MFA_POLICY_NAME}");
    let mut live = LiveState {
        caller_account: Some(desired.jump.id.clone()),
        password_policy: desired.jump.password_policy.clone(),
        ..LiveState::default()
    };
    let stack = |name: &str, template, parameters| LiveStack {
        name: name.into(),
        status: "CREATE_COMPLETE".into(),
        template,
        parameters,
    };
    live.stacks.insert(
        ADMIN_ROLE_STACK.into(),
        stack(ADMIN_ROLE_STACK, admin_role(), BTreeMap::new()),
    );
    live.stacks.insert(
        EXECUTION_ROLE_STACK.into(),
        stack(
            EXECUTION_ROLE_STACK,
            execution_role(),
            [("AdministratorAccountId".into(), jump.clone())].into(),
        ),
    );
    live.stack_set = Some(LiveStackSet {
        name: ROLES_STACK_SET.into(),
        status: "ACTIVE".into(),
        template: iam_roles(desired.roles.values()),
        parameters: [("AdminAccountId".into(), jump.clone())].into(),
    });
    live.stack_instances = targets(desired)
        .into_iter()
        .map(|t| LiveStackInstance {
            account: t.id,
            region: region.clone(),
            status: "CURRENT".into(),
            status_reason: None,
        })
        .collect();
    live.policies.insert(
        MFA_POLICY_NAME.into(),
        LivePolicy {
            name: MFA_POLICY_NAME.into(),
            arn: mfa_arn.clone(),
            path: OWNED_PATH.into(),
            default_version: "v1".into(),
            versions: vec!["v1".into()],
            document: mfa_policy(),
        },
    );
    for (name, spec) in managed_groups(desired) {
        let name = name.to_string();
        let group = LiveGroup {
            name: name.clone(),
            path: OWNED_PATH.into(),
            inline_policies: group_policy(&spec)
                .map(|d| (GROUP_POLICY_NAME.to_owned(), d))
                .into_iter()
                .collect(),
            attached_policies: [mfa_arn.clone()].into(),
        };
        live.groups.insert(name, group);
    }
    for user in desired.users.values() {
        let name = user.name.to_string();
        let live_user = LiveUser {
            name: name.clone(),
            path: "/".into(),
            tags: [(OWNER_TAG_KEY.to_owned(), OWNER_TAG_VALUE.to_owned())].into(),
            groups: user_groups(user).iter().map(|g| g.to_string()).collect(),
            login_profile: Some(user.console),
            dependents: None,
            ..LiveUser::default()
        };
        live.users.insert(name, live_user);
    }
    live
}

fn time_runs(runs: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    (times[times.len() / 2], times[0])
}

fn main() {
    let runs = setting("JUMPGATE_BENCH_RUNS", 5);
    let users = setting("JUMPGATE_BENCH_USERS", 100_000);
    let accounts = setting("JUMPGATE_BENCH_ACCOUNTS", 1_000);

    let path = std::env::temp_dir().join(format!("jumpgate-plan-bench-{}.kdl", std::process::id()));
    std::fs::write(&path, estate(users, accounts)).expect("write the generated estate");
    let loaded = jumpgate::lang::load(&path);
    let _ = std::fs::remove_file(&path);
    let desired = match loaded {
        Ok(state) => state,
        Err(err) => panic!("the generated estate is invalid:\n{err}"),
    };
    let live = matching_live(&desired);

    let plan = jumpgate::plan::build(&desired, &live);
    assert!(
        plan.is_empty(),
        "the matching live state should need no change, got {} changes, first {:?}",
        plan.changes.len(),
        plan.changes.first().map(|c| &c.address)
    );
    let mut minus_one = desired.clone();
    let leaving = minus_one.users.keys().nth(users / 2).cloned().unwrap();
    minus_one.users.remove(&leaving);
    let offboarding = jumpgate::plan::build(&minus_one, &live);
    assert!(
        offboarding
            .changes
            .iter()
            .any(|c| c.address == format!("user.{leaving}")),
        "removing {leaving} from the file offboards them"
    );

    println!(
        "plan::build: {users} users, {accounts} accounts, {} groups; {runs} runs",
        live.groups.len()
    );
    let (median, min) = time_runs(runs, || {
        std::hint::black_box(jumpgate::plan::build(&desired, &live));
    });
    println!(
        "  no changes:       median {:.3} s, min {:.3} s",
        median.as_secs_f64(),
        min.as_secs_f64()
    );
    let (median, min) = time_runs(runs, || {
        std::hint::black_box(jumpgate::plan::build(&minus_one, &live));
    });
    println!(
        "  one user removed: median {:.3} s, min {:.3} s ({} changes)",
        median.as_secs_f64(),
        min.as_secs_f64(),
        offboarding.changes.len()
    );
    if cfg!(debug_assertions) {
        println!("  (debug build: the target of 1 s applies to optimised builds)");
    }
}
