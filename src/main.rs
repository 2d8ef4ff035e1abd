//! The command line: parses arguments, runs one command, and turns its
//! outcome into output and an exit code (0 ok, 1 error, 2 changes or drift).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use jumpgate::access;
use jumpgate::apply::{self, ApplyOptions, ApplyReport};
use jumpgate::aws::{Aws, ChangeEstate, Connection, LockStore, ReadEstate};
use jumpgate::drift::{self, StackSetDrift};
use jumpgate::lang::{self, LoadStateError};
use jumpgate::lock::{self, Holder};
use jumpgate::model::derive::managed_groups;
use jumpgate::model::desired::DesiredState;
use jumpgate::observe::observe;
use jumpgate::plan::{self, Plan};
use jumpgate::render::{self, Format, Style};
use jumpgate::secrets::Delivered;
use jumpgate::templates::{EXECUTION_ROLE_STACK, ROLES_STACK_SET};

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
    /// Write the desired state that matches the live jump account the
    /// credentials belong to, in the region given by --region or AWS_REGION
    /// (the jump account's home region).
    Import {
        /// Write the file here (refused if it exists) instead of to stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Client configuration for switching roles, from the file alone (no AWS call).
    Profiles {
        #[arg(default_value = "state")]
        path: PathBuf,
        /// Only the roles this user can reach; required for aws-config
        /// (its mfa_serial is one person's MFA device).
        #[arg(long)]
        user: Option<String>,
        #[arg(long, value_enum, default_value_t = jumpgate::profiles::Format::AwsConfig)]
        format: jumpgate::profiles::Format,
        /// Merge the aws-config profiles into FILE (default: $AWS_CONFIG_FILE,
        /// then ~/.aws/config): jumpgate's marked block is replaced, the rest
        /// kept, and the previous file kept as FILE.bak.
        #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true)]
        write: Option<Option<PathBuf>>,
    },
    /// Who can reach which role in which account, and through which group.
    Access {
        #[arg(default_value = "state")]
        path: PathBuf,
        #[arg(long, value_enum, default_value_t = access::Format::Text)]
        format: access::Format,
        /// Compute it from the live jump account too, and mark where the two differ.
        #[arg(long)]
        live: bool,
    },
    /// Put the StackSet execution role into a member account, with that
    /// account's own credentials (--profile or the SDK chain).
    Bootstrap {
        #[arg(default_value = "state")]
        path: PathBuf,
        /// The account's name in the file.
        #[arg(long)]
        account: String,
    },
    /// Write the CloudFormation templates jumpgate deploys for this file, for
    /// review or linting.
    Templates {
        #[arg(default_value = "state")]
        path: PathBuf,
        /// Directory to write them to.
        #[arg(long)]
        out: PathBuf,
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
            let mut plan = plan::build(&desired, &live);
            for hint in &mut plan.bootstrap_needed {
                hint.read_state_at(&path);
            }
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
        Command::Import { out } => run_import(&connection, out.as_deref()).await,
        Command::Profiles {
            path,
            user,
            format,
            write,
        } => run_profiles(&load(&path)?, user.as_deref(), format, write),
        Command::Access { path, format, live } => {
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
        Command::Bootstrap { path, account } => {
            let desired = load(&path)?;
            let Some(declared) = desired.accounts.iter().find(|a| a.name.as_str() == account)
            else {
                let names: Vec<&str> = desired.accounts.iter().map(|a| a.name.as_str()).collect();
                return Err(Failure(format!(
                    "no account named {account} in the file (accounts: {})",
                    names.join(", ")
                )));
            };
            let Some(id) = &declared.id else {
                return Err(Failure(format!(
                    "account {account} has no id yet; in Organizations mode `apply` creates and bootstraps it"
                )));
            };
            let aws = Aws::connect(&connection, desired.jump.region.as_str()).await;
            let caller = aws.caller().await?;
            if caller.account != id.as_str() {
                return Err(Failure(format!(
                    "the credentials are for account {} ({}), not {account} ({id}); pass --profile with credentials for {account}",
                    caller.account, caller.arn
                )));
            }
            let template = jumpgate::templates::execution_role();
            let parameters: std::collections::BTreeMap<String, String> = [(
                "AdministratorAccountId".to_owned(),
                desired.jump.id.to_string(),
            )]
            .into();
            let operation = match aws.stack(EXECUTION_ROLE_STACK).await? {
                Some(live) if live.template == template && live.parameters == parameters => {
                    println!(
                        "{account} ({id}) already has the StackSet execution role; nothing to do."
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                Some(_) => plan::Operation::UpdateStack {
                    stack: EXECUTION_ROLE_STACK.to_owned(),
                    template,
                    parameters,
                },
                None => plan::Operation::CreateStack {
                    stack: EXECUTION_ROLE_STACK.to_owned(),
                    template,
                    parameters,
                },
            };
            eprintln!(
                "{} stack {EXECUTION_ROLE_STACK} in {account} ({id})",
                operation.name()
            );
            aws.call(&operation).await?;
            println!(
                "{account} ({id}) has the StackSet execution role, trusting jump account {}. `jumpgate apply` can now deploy the roles there.",
                desired.jump.id
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Templates { path, out } => {
            let desired = load(&path)?;
            std::fs::create_dir_all(&out)
                .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
            let templates = [
                (
                    jumpgate::templates::ADMIN_ROLE_STACK,
                    jumpgate::templates::admin_role(),
                ),
                (EXECUTION_ROLE_STACK, jumpgate::templates::execution_role()),
                (
                    ROLES_STACK_SET,
                    jumpgate::templates::iam_roles(desired.roles.values()),
                ),
            ];
            for (name, template) in templates {
                let file = out.join(format!("{name}.json"));
                let text =
                    serde_json::to_string_pretty(&template).expect("templates serialise") + "\n";
                std::fs::write(&file, text)
                    .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
                println!("{}", file.display());
            }
            Ok(ExitCode::SUCCESS)
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

/// `import`: reads the whole jump account and writes the matching file.
async fn run_import(connection: &Connection, out: Option<&Path>) -> Result<ExitCode, Failure> {
    use jumpgate::import::{ImportInput, import};
    use jumpgate::model::names::{AccountId, Region};
    if let Some(out) = out
        && out.exists()
    {
        return Err(Failure(format!(
            "{} exists; import writes a new file (remove it or choose another path)",
            out.display()
        )));
    }
    let Some(aws) = Aws::connect_in_configured_region(connection).await else {
        return Err(Failure(
            "no region: pass --region (or set AWS_REGION) to the jump account's home region, where the StackSet iam-roles lives".into(),
        ));
    };
    let region = Region::new(aws.region().unwrap_or_default())?;
    let live = jumpgate::observe::observe_all(&aws).await?;
    let jump: AccountId = live
        .caller_account
        .clone()
        .ok_or_else(|| Failure("the caller's account is unknown".into()))?;
    let imported_at = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    let imported = import(&ImportInput {
        jump_account: &jump,
        region: &region,
        live: &live,
        imported_at: &imported_at,
    });
    match out {
        Some(out) => {
            std::fs::write(out, &imported.text)
                .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
        }
        None => print!("{}", imported.text),
    }
    for note in &imported.notes {
        eprintln!("note: {note}");
    }
    let s = imported.summary;
    let written = out.map_or("stdout".to_owned(), |o| o.display().to_string());
    eprintln!(
        "Imported jump account {jump} ({region}) to {written}: {} accounts, {} projects, {} roles, {} users.",
        s.accounts, s.projects, s.roles, s.users
    );
    if s.to_adopt > 0 {
        let what = if s.to_adopt == 1 {
            "user or group lacks"
        } else {
            "users and groups lack"
        };
        eprintln!(
            "{} {what} jumpgate's marker: `jumpgate plan` shows adopting them as updates; apply to take ownership.",
            s.to_adopt
        );
    } else if let Some(out) = out {
        eprintln!(
            "Next: `jumpgate plan {}` should show no changes.",
            out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `profiles`: prints the chosen format, or merges the aws-config profiles
/// into a config file, keeping a backup.
fn run_profiles(
    desired: &DesiredState,
    user: Option<&str>,
    format: jumpgate::profiles::Format,
    write: Option<Option<PathBuf>>,
) -> Result<ExitCode, Failure> {
    use jumpgate::profiles;
    let set = profiles::profiles(desired, user)?;
    let Some(target) = write else {
        print!("{}", profiles::render(&set, format)?);
        return Ok(ExitCode::SUCCESS);
    };
    if format != profiles::Format::AwsConfig {
        return Err(Failure(
            "--write merges aws-config profiles; drop --format".into(),
        ));
    }
    let home = || std::env::var_os("HOME").map(PathBuf::from);
    let path = match target {
        Some(path) => match (path.strip_prefix("~"), home()) {
            (Ok(rest), Some(home)) => home.join(rest),
            _ => path,
        },
        None => match (std::env::var_os("AWS_CONFIG_FILE"), home()) {
            (Some(file), _) if !file.is_empty() => PathBuf::from(file),
            (_, Some(home)) => home.join(".aws").join("config"),
            _ => {
                return Err(Failure(
                    "no HOME to find ~/.aws/config in; use --write=FILE".into(),
                ));
            }
        },
    };
    // A symlinked config (dotfile managers) stays a link: write where it points.
    let path = std::fs::canonicalize(&path).unwrap_or(path);
    let shown = path.display();
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Failure(format!("cannot read {shown}: {e}"))),
    };
    let merged = profiles::merge(existing.as_deref().unwrap_or(""), &set)
        .map_err(|e| format!("{shown}: {e}"))?;
    let count = set.profiles.len();
    let first = set.profiles.first().map(|p| p.name.as_str());
    if existing.as_deref() == Some(merged.text.as_str()) {
        eprintln!("{shown} already has these {count} profiles; nothing written.");
        return Ok(ExitCode::SUCCESS);
    }
    let mut backup = None;
    if existing.is_some() {
        let mut name = path.file_name().unwrap_or_default().to_owned();
        name.push(".bak");
        let copy = path.with_file_name(name);
        std::fs::copy(&path, &copy)
            .map_err(|e| format!("cannot back {shown} up to {}: {e}", copy.display()))?;
        backup = Some(copy);
    }
    write_file_atomically(&path, &merged.text, existing.is_some())
        .map_err(|e| format!("cannot write {shown}: {e}"))?;
    let what = if merged.replaced {
        "replaced jumpgate's block in"
    } else {
        "added jumpgate's block to"
    };
    eprintln!("Wrote {count} profiles: {what} {shown}.");
    if let Some(backup) = backup {
        eprintln!("The previous version is in {}.", backup.display());
    }
    if merged.kept_source_profile {
        eprintln!(
            "Kept your own [profile {}] as the source profile.",
            set.source_profile
        );
    }
    if let Some(first) = first {
        eprintln!(
            "\nNext: the access key of your jump-account user goes under [{}] in ~/.aws/credentials; then try `aws sts get-caller-identity --profile {first}`.",
            set.source_profile
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes through a temporary file and a rename, so a crash never leaves a
/// half-written config; a new file is readable by its owner only.
fn write_file_atomically(path: &Path, text: &str, keep_permissions: bool) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(".jumpgate-tmp");
    let temporary = path.with_file_name(name);
    std::fs::write(&temporary, text)?;
    let permissions = if keep_permissions {
        std::fs::metadata(path)?.permissions()
    } else {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::Permissions::from_mode(0o600)
        }
        #[cfg(not(unix))]
        std::fs::metadata(&temporary)?.permissions()
    };
    std::fs::set_permissions(&temporary, permissions)?;
    std::fs::rename(&temporary, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temporary);
    })
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
    let mut report = apply::apply(aws, plan, options).await;
    let created_accounts = report.applied.iter().any(|c| c.kind == plan::Kind::Account);
    if created_accounts && report.succeeded() {
        // What depends on the new accounts' ids could not be planned before
        // they existed: plan it now, under the same lock, and finish.
        let live = observe(aws, desired).await?;
        let follow_up = plan::build(desired, &live);
        if !follow_up.is_empty() {
            eprintln!("\nThe new accounts exist; what depends on them:\n");
            eprint!(
                "{}",
                render::render(&follow_up, Format::Text, Style { color: false })
            );
            let more = apply::apply(aws, &follow_up, options).await;
            report.merge(more);
        }
        for (name, id, email) in created_account_ids(desired, &live) {
            println!(
                "Account {name} is {id}: jumpgate finds it by its e-mail ({email}); you may also write id=\"{id}\" on its line."
            );
        }
    }
    Ok(report)
}

/// Accounts the file gives only by e-mail, with the ids the organization
/// now has for them.
fn created_account_ids(
    desired: &DesiredState,
    live: &jumpgate::live::LiveState,
) -> Vec<(String, String, String)> {
    let resolved = plan::resolve_account_ids(desired, live);
    desired
        .accounts
        .iter()
        .zip(&resolved.accounts)
        .filter(|(declared, _)| declared.id.is_none())
        .filter_map(|(declared, resolved)| {
            Some((
                declared.name.to_string(),
                resolved.id.as_ref()?.to_string(),
                declared.email.as_ref()?.to_string(),
            ))
        })
        .collect()
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
