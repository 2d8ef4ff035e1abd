//! Issue #17: urgent offboarding with `--only`. With three changes pending
//! (a leaver, a newcomer, more access for someone), `apply --only
//! user.sato.kenji` removes the leaver and what AWS needs gone first, and
//! nothing else; the other two stay pending until the next full apply.

use crate::support::fixtures;
use crate::support::{Emulator, Workspace, addresses, groups_of, iam, mutating, user_exists};

const BEFORE: &str = concat!(
    fixtures::small_estate!(),
    r#"user "suzuki.ichiro" {
    access "admin"
}
user "sato.kenji" {
    access "operator" project="payments"
}
"#
);

/// sato.kenji leaves, ito.mei joins, suzuki.ichiro gains read-only everywhere.
const AFTER: &str = concat!(
    fixtures::small_estate!(),
    r#"user "suzuki.ichiro" {
    access "admin"
    access "operator"
}
user "ito.mei" console=#false {
    access "developer" project="payments"
}
"#
);

#[tokio::test]
async fn offboarding_one_user_leaves_the_other_changes_pending() {
    let emu = Emulator::start();
    let ws = Workspace::applied(&emu, BEFORE).await;
    let iam = iam(&emu).await;
    assert!(user_exists(&iam, "sato.kenji").await);

    ws.write_state(AFTER);
    let full = ws.plan_json(&emu);
    let all = addresses(&full);
    assert!(all.contains(&"user.ito.mei".to_owned()), "{all:?}");
    assert!(
        all.contains(&"membership.suzuki.ichiro/group-operator".to_owned()),
        "{all:?}"
    );

    // An address the plan does not hold is refused before anything changes.
    emu.start_recording();
    let refused = ws.apply(&emu, &["--only", "user.sato.kenj"]);
    emu.stop_recording();
    refused.expect_code(1);
    refused.assert_stderr_has("user.sato.kenj is not in the plan; did you mean user.sato.kenji");
    assert!(
        mutating(&emu).is_empty(),
        "a refused --only changes nothing"
    );

    // `plan --only` shows the subset, and says what stays pending.
    let preview = ws.plan(&emu, &["--only", "user.sato.kenji", "--format", "json"]);
    preview.expect_code(0);
    let subset = addresses(&preview.json());
    assert_eq!(
        subset,
        [
            "login-profile.sato.kenji",
            "membership.sato.kenji/group-operator-payments",
            "user.sato.kenji"
        ]
    );
    preview.assert_stderr_has("Left pending");
    preview.assert_stderr_has("+ user.ito.mei");

    let applied = ws.apply(&emu, &["--only", "user.sato.kenji"]);
    applied.expect_code(0);
    applied.assert_stdout_has("Apply complete: 0 added, 0 changed, 3 destroyed.");
    applied.assert_stdout_has("Left pending");
    assert!(!user_exists(&iam, "sato.kenji").await, "cut off now");
    assert!(
        !user_exists(&iam, "ito.mei").await,
        "still waiting for review"
    );
    assert_eq!(groups_of(&iam, "suzuki.ichiro").await, ["group-admin"]);

    // Exactly the rest is pending; the next full apply makes it.
    let pending = addresses(&ws.plan_json(&emu));
    let rest: Vec<String> = all.into_iter().filter(|a| !subset.contains(a)).collect();
    assert_eq!(pending, rest);
    ws.apply(&emu, &[]).expect_code(0);
    assert!(user_exists(&iam, "ito.mei").await);
    assert_eq!(
        groups_of(&iam, "suzuki.ichiro").await,
        ["group-admin", "group-operator"]
    );
    ws.assert_converged(&emu);
}
