//! The command line: parses arguments, runs one command, and turns its
//! outcome into output and an exit code (0 ok, 1 error, 2 changes or drift).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use jumpgate::apply::{self, ApplyOptions, ApplyReport};
use jumpgate::drift::{self, StackSetDrift};
use jumpgate::templates::ROLES_STACK_SET;
use jumpgate::aws::{Aws, Connection, LockStore, ReadEstate};
use jumpgate::lang::{self, LoadStateError};
use jumpgate::lock::{self, Holder};
use jumpgate::model::derive::managed_groups;
use jumpgate::model::desired::DesiredState;
use jumpgate::observe::observe;
use jumpgate::plan::{self, Plan};
use jumpgate::render::{self, Format, Style};
use jumpgate::secrets::Delivered;

#[derive(Parser)]
#[command(
    name = "jumpgate",
    version,
    about = "Keep the IAM of a multi-account AWS estate in Git"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    aws: AwsArgs,
    /// More logging on stderr (-v: info, -vv: debug); JUMPGATE_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
}

#[derive(Args)]
struct AwsArgs {
    /// AWS profile (default: the SDK's chain, AWS_PROFILE).
    #[arg(long, global = true)]
    profile: Option<String>,
    /// AWS region (default: AWS_REGION, then the jump account's region).
    #[arg(long, global = true)]
    region: Option<String>,
    /// AWS endpoint, e.g. a local emulator (default: AWS_ENDPOINT_URL).
    #[arg(long, global = true)]
    endpoint_url: Option<String>,
    /// AWS requests in flight at once.
    #[arg(long, global = true, default_value_t = 16)]
    concurrency: usize,
}

#[derive(Subcommand)]
enum Command {
    /// Parse and check the desired state; no AWS call.
    Validate {
        /// A .kdl file or a directory of them.
        #[arg(default_value = "state")]
        path: PathBuf,
    },
    /// Read live state and print the ordered changes.
    Plan {
        #[arg(default_value = "state")]
        path: PathBuf,
        /// Save the plan (JSON) for `apply --plan`.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Exit 0 when there is nothing to change, 2 when there is.
        #[arg(long)]
        detailed_exitcode: bool,
    },
    /// Make the changes.
    Apply {
        #[arg(default_value = "state")]
        path: PathBuf,
        /// Apply this saved plan, if live state has not changed since it was made.
        #[arg(long)]
        plan: Option<PathBuf>,
        /// Do not ask for confirmation (required when not on a terminal).
        #[arg(long)]
        yes: bool,
        /// Where initial passwords of users without age-recipient are written.
        #[arg(long)]
        secrets_dir: Option<PathBuf>,
        /// Apply even if some account would be left without anyone able to reach its admin role.
        #[arg(long)]
        allow_lockout: bool,
    },
    /// Report out-of-band changes, including users and groups nobody declared.
    /// Exit 0 when clean, 2 when drift is found.
    Drift {
        #[arg(default_value = "state")]
        path: PathBuf,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Break the lock of an interrupted apply, after showing who held it.
    Unlock {
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
        /// The jump account's region, when no other setting gives one.
        #[arg(long, default_value = "us-east-1", hide = true)]
        fallback_region: String,
    },
}

/// A failed command: what to tell the user.
#[derive(Debug)]
struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(err: E) -> Self {
        Failure(err.to_string())
    }
}

fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("JUMPGATE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("jumpgate={default},warn")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal())
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(Failure(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let connection = Connection {
        profile: cli.aws.profile,
        region: cli.aws.region,
        endpoint_url: cli.aws.endpoint_url,
        concurrency: cli.aws.concurrency,
    };
    match cli.command {
        Command::Validate { path } => {
            let state = load(&path)?;
            println!(
                "{} is valid: {} accounts, {} projects, {} users, {} groups",
                path.display(),
                state.accounts.len() + 1,
                state.projects.len(),
                state.users.len(),
                managed_groups(&state).len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan {
            path,
            out,
            format,
            detailed_exitcode,
        } => {
            let desired = load(&path)?;
            let aws = Aws::connect(&connection, desired.jump.region.as_str()).await;
            let live = observe(&aws, &desired).await?;
            let plan = plan::build(&desired, &live);
            if let Some(out) = out {
                let json = render::render(&plan, Format::Json, Style::default());
                std::fs::write(&out, json)
                    .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
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
            Ok(if detailed_exitcode && !plan.is_empty() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Apply {
            path,
            plan,
            yes,
            secrets_dir,
            allow_lockout,
        } => {
            let desired = load(&path)?;
            let saved = plan.as_deref().map(read_saved_plan).transpose()?;
            let aws = Aws::connect(&connection, desired.jump.region.as_str()).await;
            let options = ApplyOptions {
                secrets_dir,
                changes_at_once: connection.concurrency,
            };
            run_apply(&aws, &desired, saved, &options, yes, allow_lockout).await
        }
        Command::Drift { path, format } => {
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
        Command::Unlock {
            yes,
            fallback_region,
        } => {
            let aws = Aws::connect(&connection, &fallback_region).await;
            let Some(description) = aws.read_lock().await? else {
                println!("No apply holds the lock.");
                return Ok(ExitCode::SUCCESS);
            };
            println!("The lock is held by {}.", Holder::describe(&description));
            if !yes && !confirm("Break it? Only do so if that apply is no longer running.")? {
                return Err(Failure("not unlocked".into()));
            }
            lock::release(&aws).await?;
            println!("Lock broken. The next apply finishes whatever the interrupted one left.");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn load(path: &Path) -> Result<DesiredState, Failure> {
    lang::load(path).map_err(|err| match err {
        LoadStateError::Invalid(invalid) => {
            let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stderr().is_terminal();
            Failure(format!(
                "the desired state is invalid:\n\n{}",
                invalid.render(color)
            ))
        }
        other => Failure(other.to_string()),
    })
}

fn read_saved_plan(path: &Path) -> Result<Plan, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let plan: Plan = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not a jumpgate plan: {e}", path.display()))?;
    if plan.format_version != plan::FORMAT_VERSION {
        return Err(Failure(format!(
            "{} has plan format {}, this jumpgate reads format {}",
            path.display(),
            plan.format_version,
            plan::FORMAT_VERSION
        )));
    }
    Ok(plan)
}

/// Asks on the terminal; anything but "yes" is a no.
fn confirm(question: &str) -> Result<bool, Failure> {
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

async fn run_apply(
    aws: &Aws,
    desired: &DesiredState,
    saved: Option<Plan>,
    options: &ApplyOptions,
    yes: bool,
    allow_lockout: bool,
) -> Result<ExitCode, Failure> {
    // Plan without the lock first: an apply with nothing to do changes nothing, not even the lock.
    let live = observe(aws, desired).await?;
    let fresh = plan::build(desired, &live);
    let plan = match saved {
        Some(saved) => {
            if saved.jump_account != desired.jump.id {
                return Err(Failure(format!(
                    "the saved plan is for jump account {}, the file declares {}",
                    saved.jump_account, desired.jump.id
                )));
            }
            if saved.fingerprint != fresh.fingerprint {
                return Err(stale_plan());
            }
            saved
        }
        None => fresh,
    };
    if plan.is_empty() {
        println!("No changes. Live state matches the desired state.");
        return Ok(ExitCode::SUCCESS);
    }
    if !plan.lockouts.is_empty() && !allow_lockout {
        let accounts: Vec<String> = plan
            .lockouts
            .iter()
            .map(|l| format!("{} ({})", l.account, l.account_id))
            .collect();
        return Err(Failure(format!(
            "refusing to apply: nobody could reach the admin role in {}.\n\
             Give someone admin access there, or pass --allow-lockout if that is really intended.",
            accounts.join(", ")
        )));
    }
    apply::check_secrets(&plan, options)?;
    if !yes {
        eprint!(
            "{}",
            render::render(
                &plan,
                Format::Text,
                Style {
                    color: color_enabled()
                }
            )
        );
        if !confirm("Apply these changes?")? {
            return Err(Failure("apply cancelled".into()));
        }
    }
    let caller = aws.caller().await?;
    lock::acquire(aws, &Holder::this_process(&caller.arn)).await?;
    let outcome = apply_locked(aws, desired, &plan, options).await;
    let released = lock::release(aws).await;
    let report = outcome?;
    released.map_err(|e| {
        format!("the apply finished but releasing the lock failed ({e}); run `jumpgate unlock`")
    })?;
    print_report(&report, desired);
    Ok(if report.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn stale_plan() -> Failure {
    Failure(
        "the saved plan is stale: live state changed since it was made. Nothing was changed; run `jumpgate plan` again."
            .into(),
    )
}

/// Under the lock, checks that nothing moved since planning, then applies.
async fn apply_locked(
    aws: &Aws,
    desired: &DesiredState,
    plan: &Plan,
    options: &ApplyOptions,
) -> Result<ApplyReport, Failure> {
    let live = observe(aws, desired).await?;
    if live.fingerprint() != plan.fingerprint {
        return Err(stale_plan());
    }
    Ok(apply::apply(aws, plan, options).await)
}

fn print_report(report: &ApplyReport, desired: &DesiredState) {
    let summary = plan::Summary::of(&report.applied);
    if report.succeeded() {
        println!(
            "Apply complete: {} added, {} changed, {} destroyed.",
            summary.add, summary.change, summary.destroy
        );
    } else {
        println!(
            "Apply failed: {} changes made, {} failed, {} not attempted. Run apply again once the cause is fixed; it finishes the job.",
            report.applied.len(),
            report.failed.len(),
            report.not_attempted
        );
        for (change, reason) in &report.failed {
            println!("  {} {}: {reason}", change.action.symbol(), change.address);
        }
    }
    if !report.secrets.is_empty() {
        println!();
        println!(
            "Initial passwords (changed at first sign-in at https://{}.signin.aws.amazon.com/console):",
            desired.jump.id
        );
        for (user, delivered) in &report.secrets {
            match delivered {
                Delivered::AgeFile(path) => {
                    println!("  {user}: encrypted to their age key in {}", path.display())
                }
                Delivered::PlainFile(path) => {
                    println!("  {user}: in {} (readable only by you)", path.display())
                }
                Delivered::AgeArmored(armored) => {
                    println!("  {user}: encrypted to their age key (decrypt with `age -d`):");
                    println!("{armored}");
                }
            }
        }
    }
}
