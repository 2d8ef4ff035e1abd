//! The command line: parses arguments, runs one command, and turns its
//! outcome into output and an exit code (0 ok, 1 error, 2 changes or drift).

mod commands;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};

use jumpgate::aws::Connection;

use commands::formats::{AccessFormat, PlanFormat, ProblemFormat, ProfilesFormat};
use commands::{Failure, load};

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
        /// text for people; github or gitlab to annotate the pull request's lines.
        #[arg(long, value_enum, default_value_t = ProblemFormat::Text)]
        format: ProblemFormat,
    },
    /// Read live state and print the ordered changes.
    Plan {
        #[arg(default_value = "state")]
        path: PathBuf,
        /// Save the plan (JSON) for `apply --plan`.
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
        /// Exit 0 when there is nothing to change, 2 when there is.
        #[arg(long)]
        detailed_exitcode: bool,
        #[command(flatten)]
        only: Only,
    },
    /// Make the changes.
    Apply(commands::apply::ApplyArgs),
    /// Report out-of-band changes, including users and groups nobody declared.
    /// Exit 0 when clean, 2 when drift is found.
    Drift {
        #[arg(default_value = "state")]
        path: PathBuf,
        #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
        format: PlanFormat,
        #[command(flatten)]
        options: commands::inspect::DriftOptions,
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
        #[arg(long, value_enum, default_value_t = ProfilesFormat::AwsConfig)]
        format: ProfilesFormat,
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
        #[arg(long, value_enum, default_value_t = AccessFormat::Text)]
        format: AccessFormat,
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
    /// Rewrite the KDL files in their canonical layout, comments kept.
    Fmt {
        #[arg(default_value = "state")]
        path: PathBuf,
        /// Change nothing; list the files that are not canonical and exit 1 if any.
        #[arg(long)]
        check: bool,
    },
    /// Print the shell completion script for SHELL.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command to a directory.
    Man {
        /// Write jumpgate.1 and jumpgate-<command>.1 here instead of printing.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Args)]
struct Only {
    /// Only these changes (addresses as the plan prints them, e.g.
    /// user.sato.kenji) and what they need done first; the rest stays pending.
    #[arg(long, value_name = "ADDRESS", num_args = 1..)]
    only: Vec<String>,
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
        Command::Validate { path, format } => commands::validate::validate(&path, format.into()),
        Command::Plan {
            path,
            out,
            format,
            detailed_exitcode,
            only,
        } => {
            commands::inspect::plan(
                &connection,
                path,
                out,
                format.into(),
                detailed_exitcode,
                &only.only,
            )
            .await
        }
        Command::Apply(args) => commands::apply::apply(&connection, args).await,
        Command::Drift {
            path,
            format,
            options,
        } => commands::inspect::drift(&connection, path, format.into(), &options).await,
        Command::Import { out } => commands::import::import(&connection, out.as_deref()).await,
        Command::Profiles {
            path,
            user,
            format,
            write,
        } => {
            let desired = commands::with_organization_ids(&connection, load(&path)?).await;
            commands::profiles::profiles(&desired, user.as_deref(), format.into(), write)
        }
        Command::Access { path, format, live } => {
            commands::inspect::access(&connection, path, format.into(), live).await
        }
        Command::Bootstrap { path, account } => {
            commands::accounts::bootstrap(&connection, path, account).await
        }
        Command::Templates { path, out } => commands::accounts::templates(path, out),
        Command::Unlock {
            yes,
            fallback_region,
        } => commands::apply::unlock(&connection, yes, fallback_region).await,
        Command::Fmt { path, check } => commands::fmt::fmt(&path, check),
        Command::Completions { shell } => commands::shell::completions(Cli::command(), shell),
        Command::Man { out } => commands::shell::man(Cli::command(), out.as_deref()),
    }
}
