//! The commands that read and report: `plan`, `drift`, `access`.

use std::path::PathBuf;
use std::process::ExitCode;

use jumpgate::access;
use jumpgate::aws::{Aws, Connection, ReadEstate};
use jumpgate::drift::{self, StackSetDrift};
use jumpgate::observe::observe;
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

pub async fn drift(
    connection: &Connection,
    path: PathBuf,
    format: Format,
) -> Result<ExitCode, Failure> {
    let desired = load(&path)?;
    let aws = Aws::connect(&connection, desired.jump.region.as_str()).await;
    let live = observe(&aws, &desired).await?;
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
    let report = drift::detect(&desired, &live, &plan, stack_set_drift);
    print!("{}", render::render_drift(&report, format));
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

pub async fn access(
    connection: &Connection,
    path: PathBuf,
    format: access::Format,
    live: bool,
) -> Result<ExitCode, Failure> {
    let desired = load(&path)?;
    let report = if live {
        let aws = Aws::connect(&connection, desired.jump.region.as_str()).await;
        access::compare(&desired, &observe(&aws, &desired).await?)
    } else {
        access::from_desired(&desired)
    };
    print!("{}", access::render(&report, format));
    Ok(ExitCode::SUCCESS)
}
