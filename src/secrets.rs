//! Initial console passwords: generated to meet the password policy, then
//! delivered encrypted to the user's age key or into a file only its owner
//! can read. They never reach logs, plans or reports.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::Rng;
use rand::seq::SliceRandom;

/// The symbols IAM's password policy counts as symbols.
const SYMBOLS: &[u8] = b"!@#$%^&*()_+-=[]{}|'";
const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
const DIGITS: &[u8] = b"23456789";
/// A password of `length` characters (at least four) with at least one of
/// every character class, so it satisfies any password policy whose
/// minimum length is at most `length`.
pub fn generate_password(length: u8) -> String {
    let length = usize::from(length).max(4);
    let mut rng = rand::rng();
    let classes = [UPPER, LOWER, DIGITS, SYMBOLS];
    let mut chars: Vec<u8> = classes
        .iter()
        .map(|class| class[rng.random_range(0..class.len())])
        .collect();
    let all: Vec<u8> = classes.concat();
    while chars.len() < length {
        chars.push(all[rng.random_range(0..all.len())]);
    }
    chars.shuffle(&mut rng);
    String::from_utf8(chars).expect("ASCII")
}

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("refusing the secrets directory {path}: {problem}. {fix}")]
    UnsafeDir {
        path: PathBuf,
        problem: String,
        fix: String,
    },
    #[error("invalid age recipient for {user}: {reason}")]
    Recipient { user: String, reason: String },
    #[error("cannot encrypt the password of {user}: {reason}")]
    Encrypt { user: String, reason: String },
}

/// Where a delivered password is, for the apply report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// An age-encrypted file.
    AgeFile(PathBuf),
    /// Age-encrypted, ASCII-armoured, printed in the report.
    AgeArmored(String),
    /// A plain file readable only by its owner.
    PlainFile(PathBuf),
}

impl Delivered {
    /// The file to remove if creating the login profile then fails.
    pub fn file(&self) -> Option<&Path> {
        match self {
            Delivered::AgeFile(p) | Delivered::PlainFile(p) => Some(p),
            Delivered::AgeArmored(_) => None,
        }
    }
}

/// Encrypts `password` to an age X25519 recipient, ASCII-armoured.
pub fn encrypt_to(user: &str, recipient: &str, password: &str) -> Result<String, SecretError> {
    let recipient: age::x25519::Recipient =
        recipient
            .parse()
            .map_err(|reason: &str| SecretError::Recipient {
                user: user.to_owned(),
                reason: reason.to_owned(),
            })?;
    let fail = |reason: String| SecretError::Encrypt {
        user: user.to_owned(),
        reason,
    };
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .map_err(|e| fail(e.to_string()))?;
    let mut armored = Vec::new();
    let armor =
        age::armor::ArmoredWriter::wrap_output(&mut armored, age::armor::Format::AsciiArmor)
            .map_err(|e| fail(e.to_string()))?;
    let mut writer = encryptor
        .wrap_output(armor)
        .map_err(|e| fail(e.to_string()))?;
    writer
        .write_all(password.as_bytes())
        .map_err(|e| fail(e.to_string()))?;
    writer
        .finish()
        .and_then(|armor| armor.finish())
        .map_err(|e| fail(e.to_string()))?;
    Ok(String::from_utf8(armored).expect("armour is ASCII"))
}

/// Refuses a secrets directory that someone else owns or that group or
/// others may enter: they could read the passwords, or swap a file for a
/// link. A directory that does not exist yet is created owner-only later.
pub fn check_private_dir(dir: &Path) -> Result<(), SecretError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let metadata = match std::fs::symlink_metadata(dir) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(SecretError::Write {
                path: dir.to_owned(),
                source,
            });
        }
    };
    let unsafe_dir = |problem: String, fix: String| SecretError::UnsafeDir {
        path: dir.to_owned(),
        problem,
        fix,
    };
    if !metadata.is_dir() {
        return Err(unsafe_dir(
            "it is not a directory (a symbolic link is not followed)".into(),
            "pass the directory itself".into(),
        ));
    }
    let me = rustix::process::geteuid().as_raw();
    if metadata.uid() != me {
        return Err(unsafe_dir(
            format!(
                "it is owned by uid {}, not by you (uid {me})",
                metadata.uid()
            ),
            "use a directory of your own".into(),
        ));
    }
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(unsafe_dir(
            format!("group or others have access to it (mode {mode:03o})"),
            format!("chmod 700 {}", dir.display()),
        ));
    }
    Ok(())
}

/// Writes `contents` to `dir/file_name`, creating `dir` owner-only (0700)
/// and the file owner-readable only (0600), replacing an older file. The
/// directory is checked first, and the file is never opened by its name:
/// a link planted there is replaced, not followed.
pub fn write_private(dir: &Path, file_name: &str, contents: &str) -> Result<PathBuf, SecretError> {
    use std::os::unix::fs::DirBuilderExt;
    check_private_dir(dir)?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| SecretError::Write {
            path: dir.to_owned(),
            source,
        })?;
    let path = dir.join(file_name);
    replace_file(&path, contents, 0o600).map_err(|source| SecretError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// Replaces `path` with a file holding `contents` and permissions `mode`:
/// written to a new file of an unpredictable name in the same directory,
/// created exclusively (it cannot be a link someone planted), then renamed
/// over `path` (rename replaces a link at `path` rather than following it).
/// A crash leaves the old file or the new one, never half of one.
pub fn replace_file(path: &Path, contents: &str, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".{:016x}.tmp", rand::rng().random::<u64>()));
    let temporary = path.with_file_name(name);
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            // O_CREAT|O_EXCL: fails on any existing name, a link included.
            .create_new(true)
            .mode(mode)
            .open(&temporary)?;
        // The umask may have narrowed `mode` at creation; never widened it.
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_have_every_class_and_the_asked_length() {
        for _ in 0..50 {
            let password = generate_password(32);
            assert_eq!(password.len(), 32);
            for class in [UPPER, LOWER, DIGITS, SYMBOLS] {
                assert!(password.bytes().any(|b| class.contains(&b)), "{password}");
            }
        }
        assert_eq!(generate_password(1).len(), 4);
    }

    #[test]
    fn age_encryption_round_trips() {
        let identity = age::x25519::Identity::generate();
        let recipient = identity.to_public().to_string();
        let armored = encrypt_to("u", &recipient, "s3cret!").unwrap();
        assert!(armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
        assert!(!armored.contains("s3cret!"));
        let reader = age::armor::ArmoredReader::new(armored.as_bytes());
        let decryptor = age::Decryptor::new(reader).unwrap();
        let mut plain = String::new();
        use std::io::Read;
        decryptor
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .unwrap()
            .read_to_string(&mut plain)
            .unwrap();
        assert_eq!(plain, "s3cret!");
    }

    #[test]
    fn private_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let secrets = dir.path().join("secrets");
        let path = write_private(&secrets, "u.password", "x").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&secrets), 0o700);
    }

    #[test]
    fn a_link_planted_at_the_password_file_is_replaced_not_followed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let secrets = dir.path().join("secrets");
        std::fs::DirBuilder::new().create(&secrets).unwrap();
        std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o700)).unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "keep me").unwrap();
        std::os::unix::fs::symlink(&victim, secrets.join("u.password")).unwrap();
        let path = write_private(&secrets, "u.password", "s3cret").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
        let metadata = std::fs::symlink_metadata(&path).unwrap();
        assert!(metadata.is_file(), "the link was replaced by a file");
        assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "s3cret");
        let left: Vec<_> = std::fs::read_dir(&secrets).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn a_secrets_dir_open_to_others_or_not_ours_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let secrets = dir.path().join("secrets");
        std::fs::create_dir(&secrets).unwrap();
        for mode in [0o750, 0o705, 0o777] {
            std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = write_private(&secrets, "u.password", "x").expect_err("refused");
            let text = err.to_string();
            assert!(text.contains("chmod 700"), "{mode:o}: {text}");
            assert!(!secrets.join("u.password").exists());
        }
        std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o700)).unwrap();
        // A link to a directory is not taken for the directory.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&secrets, &link).unwrap();
        let err = write_private(&link, "u.password", "x").expect_err("a link");
        assert!(err.to_string().contains("not a directory"), "{err}");
        // Someone else's directory (only root can give one away to test it).
        if rustix::process::geteuid().is_root() {
            std::os::unix::fs::chown(&secrets, Some(4242), None).unwrap();
            let err = write_private(&secrets, "u.password", "x").expect_err("not ours");
            assert!(err.to_string().contains("uid 4242"), "{err}");
        }
    }
}
