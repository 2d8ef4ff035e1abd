//! The commands behind the command line: each takes its parsed arguments,
//! does its I/O, and returns an exit code or a `Failure` for `main` to print.

pub mod accounts;
pub mod apply;
pub mod fmt;
pub mod formats;
pub mod import;
pub mod inspect;
pub mod profiles;
pub mod shell;
pub mod validate;

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;

use jumpgate::aws::{Aws, Connection, ReadEstate};
use jumpgate::lang::{self, LoadStateError, Sources};
use jumpgate::live::LiveState;
use jumpgate::model::desired::DesiredState;
use jumpgate::model::expiry;
use jumpgate::plan;

/// A failed command: what to tell the user.
#[derive(Debug)]
pub struct Failure(pub String);

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure(message)
    }
}

/// Errors whose own wording is what the user reads. Listed one by one, not
/// for anything printable: a new error type is worded here on purpose.
macro_rules! worded_as_displayed {
    ($($error:ty),* $(,)?) => {$(
        impl From<$error> for Failure {
            fn from(err: $error) -> Self {
                Failure(err.to_string())
            }
        }
    )*};
}

worded_as_displayed!(
    std::io::Error,
    jumpgate::aws::AwsError,
    jumpgate::apply::ApplyError,
    jumpgate::lang::LoadError,
    jumpgate::lang::LoadStateError,
    jumpgate::lock::LockError,
    jumpgate::model::names::NameError,
    jumpgate::observe::ObserveError,
    jumpgate::plan::OnlyError,
    jumpgate::profiles::ProfilesError,
    jumpgate::profiles::MergeError,
    jumpgate::secrets::SecretError,
);

pub(crate) fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

/// Whether messages on stderr may be coloured.
pub(crate) fn stderr_color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}

/// The desired state as of today: users and grants past their `until`
/// day are left out (and the plan removes them).
pub(crate) fn load(path: &Path) -> Result<DesiredState, Failure> {
    load_with_digest(path).map(|(desired, _)| desired)
}

/// `load`, with the digest of the files the state was read from, which
/// binds a saved plan to them.
pub(crate) fn load_with_digest(path: &Path) -> Result<(DesiredState, String), Failure> {
    let loaded =
        Sources::load(path)
            .map_err(LoadStateError::from)
            .and_then(|(sources, problems)| {
                let digest = sources.digest();
                Ok((lang::validate(sources, problems)?, digest))
            });
    let (desired, digest) = loaded.map_err(|err| match err {
        LoadStateError::Invalid(invalid) => Failure(format!(
            "the desired state is invalid:\n\n{}",
            invalid.render(stderr_color())
        )),
        other => Failure(other.to_string()),
    })?;
    Ok((expiry::resolve(desired, today()?), digest))
}

/// In Organizations mode, the ids of accounts the file declares by e-mail
/// only, from the organization's account list (when the credentials may
/// read it), so that `profiles` and `access` cover accounts `apply` created.
/// Accounts still without an id are left out, and stderr says why.
pub(crate) async fn with_organization_ids(
    connection: &Connection,
    desired: DesiredState,
) -> DesiredState {
    let unresolved = |state: &DesiredState| -> Vec<String> {
        state
            .accounts
            .iter()
            .filter(|a| a.id.is_none())
            .map(|a| a.name.to_string())
            .collect()
    };
    if desired.organization.is_none() || unresolved(&desired).is_empty() {
        return desired;
    }
    let aws = Aws::connect(connection, desired.jump.region.as_str()).await;
    let (resolved, why) = match aws.organization().await {
        Ok(Some(organization)) => {
            let live = LiveState {
                organization: Some(organization),
                ..LiveState::default()
            };
            (
                plan::resolve_account_ids(&desired, &live),
                "no active account of the organization has its e-mail (not created yet? `jumpgate apply` creates it)".to_owned(),
            )
        }
        Ok(None) => (
            desired.clone(),
            "the credentials' account is in no organization".to_owned(),
        ),
        Err(err) => (
            desired.clone(),
            format!("the organization's accounts could not be listed ({err})"),
        ),
    };
    for name in unresolved(&resolved) {
        eprintln!("Left out account {name}: declared by e-mail only, and {why}.");
    }
    resolved
}

/// Today in UTC, or the day `JUMPGATE_TODAY` names (`YYYY-MM-DD`): to see
/// what a plan will do on a later day, and for tests, which never depend on
/// the system clock.
fn today() -> Result<time::Date, Failure> {
    match std::env::var("JUMPGATE_TODAY") {
        Ok(text) => expiry::parse_date(&text).map_err(|e| Failure(format!("JUMPGATE_TODAY: {e}"))),
        Err(_) => Ok(time::OffsetDateTime::now_utc().date()),
    }
}

/// With `--only` addresses, the part of `plan` they need and the changes
/// left pending; without, the whole plan.
pub(crate) fn select_only(
    plan: plan::Plan,
    only: &[String],
) -> Result<(plan::Plan, Vec<plan::Change>), Failure> {
    if only.is_empty() {
        return Ok((plan, Vec::new()));
    }
    let subset = plan::only(&plan, only)?;
    Ok((subset.plan, subset.pending))
}

/// Says which changes `--only` left for a later apply.
pub(crate) fn print_pending(pending: &[plan::Change], out: &mut impl Write) -> std::io::Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "\nLeft pending ({} change{}, not selected by --only nor needed by it):",
        pending.len(),
        if pending.len() == 1 { "" } else { "s" }
    )?;
    for change in pending {
        writeln!(out, "  {} {}", change.action.symbol(), change.address)?;
    }
    writeln!(out, "A later `jumpgate apply` without --only makes them.")
}

/// Asks on the terminal; anything but "yes" is a no.
pub(crate) fn confirm(question: &str) -> Result<bool, Failure> {
    if !std::io::stdin().is_terminal() {
        return Err(Failure(
            "refusing to go on without confirmation: not on a terminal; pass --yes".into(),
        ));
    }
    eprint!("{question} Only 'yes' is accepted: ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(answer.trim() == "yes")
}
