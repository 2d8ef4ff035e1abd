//! `profiles`: client configuration for switching roles, printed or merged
//! into an AWS config file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use jumpgate::model::desired::DesiredState;

use super::Failure;

/// `profiles`: prints the chosen format, or merges the aws-config profiles
/// into a config file, keeping a backup.
pub fn profiles(
    desired: &DesiredState,
    user: Option<&str>,
    format: jumpgate::render::profiles::Format,
    write: Option<Option<PathBuf>>,
) -> Result<ExitCode, Failure> {
    use jumpgate::profiles;
    let set = profiles::profiles(desired, user)?;
    let Some(target) = write else {
        print!("{}", jumpgate::render::profiles::render(&set, format)?);
        return Ok(ExitCode::SUCCESS);
    };
    if format != jumpgate::render::profiles::Format::AwsConfig {
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

/// Writes through a fresh temporary file and a rename, so a crash never
/// leaves a half-written config and nobody can plant the temporary file; a
/// new file is readable by its owner only, an existing one keeps its mode.
fn write_file_atomically(path: &Path, text: &str, keep_permissions: bool) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mode = if keep_permissions {
        std::fs::metadata(path)?.permissions().mode() & 0o7777
    } else {
        0o600
    };
    jumpgate::secrets::replace_file(path, text, mode)
}
