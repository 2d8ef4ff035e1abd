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

/// Writes `contents` to `dir/file_name`, creating `dir` owner-only (0700)
/// and the file owner-readable only (0600), replacing an older file.
pub fn write_private(dir: &Path, file_name: &str, contents: &str) -> Result<PathBuf, SecretError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let write_err = |path: &Path| {
        let path = path.to_owned();
        move |source| SecretError::Write { path, source }
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(write_err(dir))?;
    let path = dir.join(file_name);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .map_err(write_err(&path))?;
    // An existing file keeps its mode on open: tighten it explicitly.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(write_err(&path))?;
    file.write_all(contents.as_bytes())
        .map_err(write_err(&path))?;
    Ok(path)
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
}
