//! Issue #12's acceptance tests: jumpgate against IAM as AWS runs it (the
//! strict layer's `rules_iam.py`): the account's password policy, names that
//! differ only in case, and a large estate read in pages of two while new
//! objects stay unseen for a while.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use support::big_estate::{Estate, differences, expected_contents, iam_contents};
use support::by_hand;
use support::emulator::RecordedRequest;
use support::{Emulator, Workspace, iam, is_adopted, login_profile, user_names};

const TIMEOUT: Duration = Duration::from_secs(300);

fn apply(emu: &Emulator, ws: &Workspace) {
    let done = ws.apply_command(emu).timeout(TIMEOUT).run();
    done.expect_code(0);
    eprintln!("apply took {:?}", done.elapsed);
}

/// `plan --detailed-exitcode` must find nothing to do.
fn converged(emu: &Emulator, ws: &Workspace) {
    let done = ws
        .command(emu, "plan")
        .arg("--detailed-exitcode")
        .timeout(TIMEOUT)
        .run();
    done.expect_code(0);
    eprintln!("plan took {:?}", done.elapsed);
}

/// Applies `estate` from empty, checks that a plan then finds nothing to do
/// and that IAM holds exactly the estate; returns the workspace.
async fn onboard(emu: &Emulator, estate: &Estate) -> Workspace {
    // The strict StackSet rules fail instances in accounts without the
    // execution role, as AWS does: their owners bootstrap them first.
    let ws = Workspace::bootstrapped(emu, &estate.kdl()).await;
    emu.start_recording();
    apply(emu, &ws);
    converged(emu, &ws);
    let (lost, extra) = differences(&expected_contents(estate), &iam_contents(emu).await);
    assert!(
        lost.is_empty() && extra.is_empty(),
        "lost {lost:?}, extra {extra:?}"
    );
    ws
}

/// The account demands 40 characters and every class; the file says nothing
/// about passwords. CreateLoginProfile must still succeed at once.
#[tokio::test]
async fn an_account_policy_of_40_characters_is_met_without_one_in_the_file() {
    let emu = Emulator::start();
    let iam = iam(&emu).await;
    iam.update_account_password_policy()
        .minimum_password_length(40)
        .require_symbols(true)
        .require_numbers(true)
        .require_uppercase_characters(true)
        .require_lowercase_characters(true)
        .send()
        .await
        .expect("UpdateAccountPasswordPolicy");
    let ws = Workspace::with_state(
        "jump-account id=\"123456789012\" region=\"ap-northeast-1\"\nuser \"alice\" {\n    access \"admin\"\n}\n",
    );
    apply(&emu, &ws);
    let password = std::fs::read_to_string(ws.secrets().join("alice.password"))
        .expect("alice's password file");
    assert!(password.trim().len() >= 40, "{} characters", password.len());
    let profile = login_profile(&iam, "alice").await;
    assert!(
        profile
            .expect("alice has a login profile")
            .password_reset_required(),
        "the new password must be changed at first sign-in"
    );
    converged(&emu, &ws);
}

/// `Alice` in the file and `alice` in IAM are one user to IAM: the plan
/// renames (and adopts, when not owned); it never creates one and deletes
/// the other. Alice signs in to the console (and so can meet the roles' MFA
/// condition): the lockout guard counts no administrator who cannot.
#[tokio::test]
async fn a_case_variant_of_a_live_user_is_renamed_not_created_and_deleted() {
    let emu = Emulator::start();
    let iam = iam(&emu).await;
    by_hand::create_owned_user(&iam, "alice").await;
    by_hand::create_user(&iam, "BOB").await;
    let ws = Workspace::with_state(
        "jump-account id=\"123456789012\" region=\"ap-northeast-1\"\n\
         user \"Alice\" {\n    access \"admin\"\n}\n\
         user \"bob\" console=#false {\n    access \"operator\"\n}\n",
    );
    let plan = ws.plan_json(&emu);
    let users: BTreeMap<String, String> = plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["kind"] == "user")
        .map(|c| {
            (
                c["address"].as_str().unwrap().to_owned(),
                c["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        users,
        BTreeMap::from([
            ("user.Alice".to_owned(), "update".to_owned()),
            ("user.bob".to_owned(), "update".to_owned()),
        ]),
        "{plan:#}"
    );
    apply(&emu, &ws);
    assert_eq!(user_names(&iam).await, ["Alice", "bob"]);
    assert!(is_adopted(&iam, "bob").await, "bob is adopted");
    converged(&emu, &ws);
}

fn login_profile_passwords(recording: &[RecordedRequest]) -> BTreeMap<String, Vec<String>> {
    let mut passwords: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for request in recording {
        if request.action.as_deref() == Some("CreateLoginProfile") {
            passwords
                .entry(request.param("UserName").unwrap_or_default().to_owned())
                .or_default()
                .push(request.param("Password").unwrap_or_default().to_owned());
        }
    }
    passwords
}

/// 120 users onboarded then offboarded, jumpgate reading every list in
/// pages of two and every new object unseen for a quarter second: each
/// apply converges, and no user ever gets a second CreateLoginProfile.
#[tokio::test(flavor = "multi_thread")]
async fn an_estate_of_120_users_converges_in_pages_of_two_within_the_consistency_window() {
    let emu = Emulator::start_with_knobs(&[
        ("IAM_PAGE_SIZE", "2"),
        ("IAM_CONSISTENCY_SECONDS", "0.25"),
        // Refusals are resent, so CreateLoginProfile could then appear
        // twice in the log (with the same password): tested apart.
        ("IAM_CONCURRENT_MODIFICATION", "0"),
    ]);
    let estate = Estate::new(5, 120);
    let ws = onboard(&emu, &estate).await;

    // Everyone but the first ten leaves (user-000 keeps the admin role).
    let offboarded = Estate {
        users: 10,
        ..estate
    };
    ws.write_state(&offboarded.kdl());
    apply(&emu, &ws);
    converged(&emu, &ws);
    let (lost, extra) = differences(&expected_contents(&offboarded), &iam_contents(&emu).await);
    assert!(
        lost.is_empty() && extra.is_empty(),
        "lost {lost:?}, extra {extra:?}"
    );

    let recording = emu.recording();
    let passwords = login_profile_passwords(&recording);
    let console_users = estate.declared_users().iter().filter(|u| u.console).count();
    assert_eq!(
        passwords.len(),
        console_users,
        "one login profile per console user"
    );
    let twice: Vec<&String> = passwords
        .iter()
        .filter(|(_, sent)| sent.len() != 1)
        .map(|(user, _)| user)
        .collect();
    assert!(
        twice.is_empty(),
        "CreateLoginProfile sent more than once for {twice:?}"
    );
    let next_pages = recording
        .iter()
        .filter(|r| {
            r.action.as_deref() == Some("GetAccountAuthorizationDetails")
                && r.param("Marker").is_some()
        })
        .count();
    // The first two reads alone see 120 users and 18 groups, 69 pages each.
    assert!(
        next_pages > 2 * 60,
        "GetAccountAuthorizationDetails read only {next_pages} further pages: markers were not followed"
    );
}

/// IAM refuses now and then a write with ConcurrentModification: jumpgate
/// resends it, converges, and a resent CreateLoginProfile carries the same
/// password (so the delivered one is the user's).
#[tokio::test]
async fn concurrent_modification_refusals_are_resent_and_converge() {
    let emu =
        Emulator::start_with_knobs(&[("IAM_CONCURRENT_MODIFICATION", "0.3"), ("IAM_SEED", "12")]);
    let estate = Estate::new(2, 12);
    let ws = onboard(&emu, &estate).await;
    let recording = emu.recording();
    let writes = recording.iter().filter(|r| r.is_mutating()).count();
    let distinct: std::collections::BTreeSet<&str> = recording
        .iter()
        .filter(|r| r.is_mutating())
        .map(|r| r.body.as_str())
        .collect();
    assert!(
        distinct.len() < writes,
        "no write was refused and resent ({writes} writes): the knob had no effect"
    );
    for (user, sent) in login_profile_passwords(&recording) {
        let passwords: std::collections::BTreeSet<&String> = sent.iter().collect();
        assert_eq!(passwords.len(), 1, "{user} was sent different passwords");
        let delivered = std::fs::read_to_string(ws.secrets().join(format!("{user}.password")))
            .expect("the password file");
        assert_eq!(
            delivered.trim(),
            sent[0].as_str(),
            "{user}'s delivered password"
        );
    }
}

/// IAM pages every list: 100 items unless MaxItems asks for another number,
/// never more than 1,000 (API_ListUsers, API_GetAccountAuthorizationDetails).
/// jumpgate asks for the largest page, so a large estate is read in few
/// round trips.
#[tokio::test]
async fn lists_are_paged_as_iam_pages_them_and_jumpgate_asks_for_the_largest_page() {
    let emu =
        Emulator::start_with_knobs(&[("IAM_EVERY_CLIENT", "1"), ("IAM_CONSISTENCY_SECONDS", "0")]);
    let iam = iam(&emu).await;
    for n in 0..120 {
        by_hand::create_user(&iam, &format!("by-hand-{n:03}")).await;
    }
    let first = iam.list_users().send().await.expect("ListUsers");
    assert_eq!(
        (first.users().len(), first.is_truncated()),
        (100, true),
        "a page holds 100 users when MaxItems is not given"
    );
    let too_many = iam
        .list_users()
        .max_items(1001)
        .send()
        .await
        .expect_err("MaxItems over 1,000");
    assert_eq!(
        too_many.as_service_error().and_then(|e| e.meta().code()),
        Some("ValidationError")
    );

    let ws = Workspace::bootstrapped(&emu, &Estate::new(1, 3).kdl()).await;
    emu.start_recording();
    ws.plan(&emu, &[]).expect_code(0);
    let reads: Vec<Option<String>> = emu
        .recording()
        .iter()
        .filter(|r| r.action.as_deref() == Some("GetAccountAuthorizationDetails"))
        .map(|r| r.param("MaxItems").map(str::to_owned))
        .collect();
    assert!(
        !reads.is_empty() && reads.iter().all(|m| m.as_deref() == Some("1000")),
        "every GetAccountAuthorizationDetails asks for 1,000 items: {reads:?}"
    );
}
