//! The commands that read and report: `plan`, `drift`, `access`.

use std::path::PathBuf;
use std::process::ExitCode;

use jumpgate::access;
use jumpgate::aws::{Aws, Connection, ReadEstate};
use jumpgate::drift::{self, StackSetDrift};
use jumpgate::hygiene::{self, Thresholds};
use jumpgate::observe::{LoginReads, observe, observe_with};
use jumpgate::plan;
use jumpgate::render::{self, Format, Style};
use jumpgate::templates::ROLES_STACK_SET;

use super::{Failure, color_enabled, load, load_with_digest};

pub async fn plan(
    connection: &Connection,
    path: PathBuf,
    out: Option<PathBuf>,
    format: Format,
    detailed_exitcode: bool,
    only: &[String],
) -> Result<ExitCode, Failure> {
    let (desired, inputs_digest) = load_with_digest(&path)?;
    let aws = Aws::connect(connection, desired.jump.region.as_str()).await;
    let live = observe(&aws, &desired).await?;
    let mut built = plan::build(&desired, &live);
    built.inputs_digest = inputs_digest;
    let (mut plan, pending) = super::select_only(built, only)?;
    for hint in &mut plan.bootstrap_needed {
        hint.read_state_at(&path);
    }
    if let Some(out) = out {
        let json = render::render(&plan, Format::Json, Style::default());
        std::fs::write(&out, json).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
        eprintln!(
            "Saved the plan to {}; apply it with `jumpgate apply --plan {}`.",
            out.display(),
            out.display()
        );
    }
    print!(
        "{}",
        render::render(
            &plan,
            format,
            Style {
                color: color_enabled()
            }
        )
    );
    // Not data: stdout stays the plan in the format asked for.
    super::print_pending(&pending, &mut std::io::stderr())?;
    if !plan.blockers.is_empty() {
        return Err(Failure(format!(
            "plan refused: {} change(s) would fail on apply (listed above)",
            plan.blockers.len()
        )));
    }
    Ok(if detailed_exitcode && !plan.is_empty() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// How `drift` reads login profiles and judges credentials.
#[derive(Debug, Clone, clap::Args)]
pub struct DriftOptions {
    /// Read every user's login profile (one request per user) instead of
    /// trusting IAM's credential report, which may be up to four hours old.
    #[arg(long)]
    exact: bool,
    /// Exit 3 when credential hygiene finds something and there is no drift
    /// (drift still exits 2).
    #[arg(long)]
    fail_on_hygiene: bool,
    /// Report console users who have not signed in this many days after
    /// their password was issued (default: the file's `hygiene` node, else 14).
    #[arg(long, value_name = "DAYS", value_parser = days())]
    never_signed_in_days: Option<u32>,
    /// Report active access keys older than this (default 90).
    #[arg(long, value_name = "DAYS", value_parser = days())]
    key_max_age_days: Option<u32>,
    /// Report active access keys unused this long (default 90).
    #[arg(long, value_name = "DAYS", value_parser = days())]
    key_unused_days: Option<u32>,
    /// Report console passwords unused this long (default 90).
    #[arg(long, value_name = "DAYS", value_parser = days())]
    password_unused_days: Option<u32>,
}

fn days() -> clap::builder::RangedI64ValueParser<u32> {
    clap::value_parser!(u32).range(1..=i64::from(Thresholds::MAX_DAYS))
}

impl DriftOptions {
    /// The file's thresholds, with the command line's on top.
    fn thresholds(&self, file: Thresholds) -> Thresholds {
        let mut thresholds = file;
        let given = [
            self.never_signed_in_days,
            self.key_max_age_days,
            self.key_unused_days,
            self.password_unused_days,
        ];
        for (setting, days) in Thresholds::SETTINGS.into_iter().zip(given) {
            if let Some(days) = days {
                thresholds.set(setting, days);
            }
        }
        thresholds
    }
}

pub async fn drift(
    connection: &Connection,
    path: PathBuf,
    format: Format,
    options: &DriftOptions,
) -> Result<ExitCode, Failure> {
    let desired = load(&path)?;
    let aws = Aws::connect(connection, desired.jump.region.as_str()).await;
    let logins = if options.exact {
        LoginReads::Exact
    } else {
        LoginReads::Report
    };
    let live = observe_with(&aws, &desired, logins).await?;
    let plan = plan::build(&desired, &live);
    let stack_set_drift = if live.stack_set.is_none() {
        StackSetDrift::NoStackSet
    } else {
        match aws.stack_set_drift(ROLES_STACK_SET).await {
            Ok(drifted_accounts) => StackSetDrift::Checked { drifted_accounts },
            Err(err) => StackSetDrift::Unavailable {
                reason: err.to_string(),
            },
        }
    };
    let mut report = drift::detect(&desired, &live, &plan, stack_set_drift);
    report.hygiene = live.credential_report.as_ref().map(|credentials| {
        hygiene::check(
            &desired,
            credentials,
            options.thresholds(desired.jump.hygiene),
            |user| live.users.contains_key(user),
        )
    });
    print!("{}", render::render_drift(&report, format));
    let findings = report.hygiene.as_ref().is_some_and(|h| !h.is_clean());
    Ok(if !report.is_clean() {
        ExitCode::from(2)
    } else if findings && options.fail_on_hygiene {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}

pub async fn access(
    connection: &Connection,
    path: PathBuf,
    format: render::access::Format,
    live: bool,
) -> Result<ExitCode, Failure> {
    let desired = super::with_organization_ids(connection, load(&path)?).await;
    let report = if live {
        let aws = Aws::connect(connection, desired.jump.region.as_str()).await;
        access::compare(&desired, &observe(&aws, &desired).await?)
    } else {
        access::from_desired(&desired)
    };
    print!("{}", render::access::render(&report, format));
    Ok(ExitCode::SUCCESS)
}
