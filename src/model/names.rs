//! Newtypes whose constructors enforce AWS's rules, so a value of one of
//! these types is always something AWS will accept.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a value was rejected; the validator attaches a span to it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NameError(pub String);

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = NameError;
            fn try_from(value: String) -> Result<Self, NameError> {
                $name::new(&value)
            }
        }

        impl std::str::FromStr for $name {
            type Err = NameError;
            fn from_str(value: &str) -> Result<Self, NameError> {
                $name::new(value)
            }
        }
    };
}

/// A value as messages show it: control characters escaped, and cut short
/// when long so that a runaway string does not flood the terminal.
pub fn shown(value: &str) -> String {
    const MAX_SHOWN: usize = 80;
    let escaped = value.escape_debug().to_string();
    if escaped.chars().count() <= MAX_SHOWN {
        escaped
    } else {
        let head: String = escaped.chars().take(MAX_SHOWN).collect();
        format!("{head}…")
    }
}

/// Characters IAM allows in user, group, role and policy names.
fn is_iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "+=,.@_-".contains(c)
}

fn check_iam_name(what: &str, value: &str, max: usize) -> Result<(), NameError> {
    if value.is_empty() {
        return Err(NameError(format!("{what} must not be empty")));
    }
    if let Some(bad) = value.chars().find(|c| !is_iam_name_char(*c)) {
        return Err(NameError(format!(
            "{what} `{}` contains {bad:?}; IAM allows only letters, digits and + = , . @ _ -",
            shown(value)
        )));
    }
    if value.len() > max {
        return Err(NameError(format!(
            "{what} `{}` is {} characters long; IAM allows at most {max}",
            shown(value),
            value.len()
        )));
    }
    Ok(())
}

string_newtype!(
    /// A 12-digit AWS account id.
    AccountId
);

impl AccountId {
    pub fn new(value: &str) -> Result<Self, NameError> {
        if value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(value.to_owned()))
        } else {
            Err(NameError(format!(
                "account id `{}` must be exactly 12 digits",
                shown(value)
            )))
        }
    }
}

/// A name IAM checks alike for users, groups and roles, but for its
/// length: `$what` is what messages call it, `$max` the longest IAM allows.
macro_rules! iam_name_newtype {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:literal) => {
        string_newtype!($(#[$doc])* $name);

        impl $name {
            pub const MAX_LEN: usize = $max;
            pub fn new(value: &str) -> Result<Self, NameError> {
                check_iam_name($what, value, Self::MAX_LEN).map(|()| Self(value.to_owned()))
            }
        }
    };
}

iam_name_newtype!(
    /// An IAM user name (1–64 characters).
    UserName,
    "user name",
    64
);

iam_name_newtype!(
    /// An IAM group name (1–128 characters).
    GroupName,
    "group name",
    128
);

iam_name_newtype!(
    /// An IAM role name (1–64 characters).
    RoleName,
    "role name",
    64
);

/// Characters allowed in the short names jumpgate composes into IAM names
/// (role keys, project names): a subset of IAM's so that `group-<role>-<project>`
/// stays readable and unambiguous.
/// `why` says what the length limit protects.
fn check_short_name(what: &str, value: &str, max: usize, why: &str) -> Result<(), NameError> {
    if value.is_empty() {
        return Err(NameError(format!("{what} must not be empty")));
    }
    let first_ok = value.starts_with(|c: char| c.is_ascii_alphanumeric());
    if !first_ok
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(NameError(format!(
            "{what} `{}` must start with a letter or digit and contain only letters, digits, `.`, `_` and `-`",
            shown(value)
        )));
    }
    if value.len() > max {
        return Err(NameError(format!(
            "{what} `{}` is {} characters long; at most {max} allowed {why}",
            shown(value),
            value.len()
        )));
    }
    Ok(())
}

string_newtype!(
    /// The short name of a role (`admin`), deployed as `role-<key>`.
    RoleKey
);

impl RoleKey {
    /// `role-` plus the key must fit IAM's 64-character role names.
    pub const MAX_LEN: usize = RoleName::MAX_LEN - "role-".len();
    pub fn new(value: &str) -> Result<Self, NameError> {
        check_short_name(
            "role name",
            value,
            Self::MAX_LEN,
            "(`role-<name>` must fit IAM's 64-character role names)",
        )
        .map(|()| Self(value.to_owned()))
    }
}

string_newtype!(
    /// A project name, used in group names `group-<role>-<project>`.
    ProjectName
);

impl ProjectName {
    /// Keeps `group-<role>-<project>` within IAM's 128-character group names.
    pub const MAX_LEN: usize = GroupName::MAX_LEN - "group--".len() - RoleKey::MAX_LEN;
    pub fn new(value: &str) -> Result<Self, NameError> {
        check_short_name(
            "project name",
            value,
            Self::MAX_LEN,
            "(`group-<role>-<project>` must fit IAM's 128-character group names)",
        )
        .map(|()| Self(value.to_owned()))
    }
}

string_newtype!(
    /// An account's name in the file, used in profile names; AWS allows 50
    /// characters for an account name.
    AccountName
);

impl AccountName {
    pub const MAX_LEN: usize = 50;
    pub fn new(value: &str) -> Result<Self, NameError> {
        check_short_name(
            "account name",
            value,
            Self::MAX_LEN,
            "(AWS's limit for account names)",
        )
        .map(|()| Self(value.to_owned()))
    }
}

string_newtype!(
    /// An AWS region code such as `ap-northeast-1`.
    Region
);

impl Region {
    pub fn new(value: &str) -> Result<Self, NameError> {
        // <area>-<direction>-<number>, e.g. ap-northeast-1, eu-central-2.
        let parts: Vec<&str> = value.split('-').collect();
        let valid = parts.len() >= 3
            && parts.iter().all(|p| !p.is_empty())
            && parts[..parts.len() - 1]
                .iter()
                .all(|p| p.bytes().all(|b| b.is_ascii_lowercase()))
            && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit());
        if !valid {
            return Err(NameError(format!(
                "`{}` is not an AWS region code (like `ap-northeast-1`)",
                shown(value)
            )));
        }
        // jumpgate writes `arn:aws:` ARNs; a region of another partition
        // would get ARNs IAM there never matches.
        let other_partition = OTHER_PARTITIONS
            .iter()
            .find(|(prefix, _)| value.starts_with(prefix));
        if let Some((_, partition)) = other_partition {
            return Err(NameError(format!(
                "`{value}` is in the `{partition}` partition; jumpgate supports the standard \
                 `aws` partition only (its ARNs start `arn:aws:`)"
            )));
        }
        Ok(Self(value.to_owned()))
    }
}

/// Region prefixes of the partitions other than `aws`, with the partition.
const OTHER_PARTITIONS: &[(&str, &str)] = &[
    ("cn-", "aws-cn"),
    ("us-gov-", "aws-us-gov"),
    ("us-isob-", "aws-iso-b"),
    ("us-isof-", "aws-iso-f"),
    ("us-iso-", "aws-iso"),
    ("eu-isoe-", "aws-iso-e"),
];

string_newtype!(
    /// A console colour: six hexadecimal digits, no `#`.
    Color
);

impl Color {
    pub fn new(value: &str) -> Result<Self, NameError> {
        if value.len() == 6 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(value.to_ascii_lowercase()))
        } else {
            Err(NameError(format!(
                "colour `{}` must be 6 hexadecimal digits, like `d13212`",
                shown(value)
            )))
        }
    }
}

string_newtype!(
    /// An e-mail address, as Organizations accepts for CreateAccount.
    Email
);

impl Email {
    pub const MAX_LEN: usize = 64;
    pub fn new(value: &str) -> Result<Self, NameError> {
        let invalid = || NameError(format!("`{}` is not an e-mail address", shown(value)));
        let (local, domain) = value.split_once('@').ok_or_else(invalid)?;
        let local_ok = !local.is_empty()
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let domain_ok = domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !local_ok || !domain_ok {
            return Err(invalid());
        }
        if value.len() > Self::MAX_LEN {
            return Err(NameError(format!(
                "e-mail `{}` is {} characters long; Organizations allows at most {}",
                shown(value),
                value.len(),
                Self::MAX_LEN
            )));
        }
        Ok(Self(value.to_owned()))
    }
}

string_newtype!(
    /// The ARN of an IAM managed policy.
    PolicyArn
);

impl PolicyArn {
    pub fn new(value: &str) -> Result<Self, NameError> {
        // arn:<partition>:iam::<account id or "aws">:policy/<path and name>
        let invalid = || {
            NameError(format!(
                "`{}` is not an IAM policy ARN (like `arn:aws:iam::aws:policy/ReadOnlyAccess`)",
                shown(value)
            ))
        };
        let parts: Vec<&str> = value.splitn(6, ':').collect();
        let [arn, partition, service, region, account, resource] = parts[..] else {
            return Err(invalid());
        };
        let account_ok = account == "aws" || AccountId::new(account).is_ok();
        let name = resource.strip_prefix("policy/").ok_or_else(invalid)?;
        let name_ok = !name.is_empty()
            && name
                .split('/')
                .all(|seg| !seg.is_empty() && seg.chars().all(is_iam_name_char));
        if arn != "arn"
            || !partition.starts_with("aws")
            || service != "iam"
            || !region.is_empty()
            || !account_ok
            || !name_ok
        {
            return Err(invalid());
        }
        if partition != "aws" {
            return Err(NameError(format!(
                "`{}` is in the `{partition}` partition; jumpgate supports the standard `aws` partition only",
                shown(value)
            )));
        }
        Ok(Self(value.to_owned()))
    }
}

/// An AWS partition: the first field of every ARN. Derived from the
/// region, so that ARNs jumpgate writes match the ones IAM holds there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Partition {
    Aws,
    AwsCn,
    AwsUsGov,
}

impl Partition {
    /// The partition of a region (`cn-…` is `aws-cn`, `us-gov-…` is
    /// `aws-us-gov`, everything else `aws`).
    pub fn of(region: &str) -> Partition {
        if region.starts_with("cn-") {
            Partition::AwsCn
        } else if region.starts_with("us-gov-") {
            Partition::AwsUsGov
        } else {
            Partition::Aws
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Partition::Aws => "aws",
            Partition::AwsCn => "aws-cn",
            Partition::AwsUsGov => "aws-us-gov",
        }
    }

    fn parse(text: &str) -> Option<Partition> {
        [Partition::Aws, Partition::AwsCn, Partition::AwsUsGov]
            .into_iter()
            .find(|p| p.as_str() == text)
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The ARN of an IAM role: `arn:<partition>:iam::<account>:role/<path>name`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleArn {
    pub partition: Partition,
    pub account: AccountId,
    /// The role's path and name, as after `role/`.
    pub path_and_name: String,
}

impl RoleArn {
    /// The role `name` (no path) in `account`.
    pub fn new(partition: Partition, account: &AccountId, name: &str) -> RoleArn {
        RoleArn {
            partition,
            account: account.clone(),
            path_and_name: name.to_owned(),
        }
    }

    /// A role ARN with a 12-digit account and a name, or `None`; the name
    /// may hold wildcards (policies name roles by pattern).
    pub fn parse(text: &str) -> Option<RoleArn> {
        let (partition, account, path_and_name) = split_role_arn(text)?;
        Some(RoleArn {
            partition,
            account: AccountId::new(account).ok()?,
            path_and_name: path_and_name.to_owned(),
        })
    }

    /// The account and the role name (without its path) of a role ARN as a
    /// policy's `Resource` names it, where the account may be a pattern:
    /// `arn:aws:iam::*:role/role-x` is the role in every account, and its
    /// account is `None`.
    pub fn parse_pattern(text: &str) -> Option<(Option<AccountId>, &str)> {
        let (_, account, path_and_name) = split_role_arn(text)?;
        Some((AccountId::new(account).ok(), name_in(path_and_name)))
    }

    /// The role `name` in every account, as a policy's `Resource` names it
    /// (`arn:<partition>:iam::*:role/<name>`): the text `parse_pattern` reads.
    pub fn in_every_account(partition: Partition, name: &str) -> String {
        format!("arn:{partition}:iam::*:role/{name}")
    }

    /// The role's name, without its path.
    pub fn name(&self) -> &str {
        name_in(&self.path_and_name)
    }
}

/// The partition, the account as written and the path and name of
/// `arn:<partition>:iam::<account>:role/<path>name`, or `None` when the text
/// is not a role ARN in a known partition or names no role.
fn split_role_arn(text: &str) -> Option<(Partition, &str, &str)> {
    let rest = text.strip_prefix("arn:")?;
    let (partition, rest) = rest.split_once(":iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let path_and_name = resource.strip_prefix("role/")?;
    let partition = Partition::parse(partition)?;
    (!name_in(path_and_name).is_empty()).then_some((partition, account, path_and_name))
}

/// The name at the end of a role's path.
fn name_in(path_and_name: &str) -> &str {
    path_and_name.rsplit('/').next().unwrap_or(path_and_name)
}

impl fmt::Display for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:iam::{}:role/{}",
            self.partition, self.account, self.path_and_name
        )
    }
}

impl PolicyArn {
    /// The customer-managed policy `name` under `path` in `account`.
    pub fn customer(
        partition: Partition,
        account: &AccountId,
        path: &str,
        name: &str,
    ) -> PolicyArn {
        PolicyArn(format!("arn:{partition}:iam::{account}:policy{path}{name}"))
    }

    /// The AWS-managed policy `name` (`arn:<partition>:iam::aws:policy/<name>`).
    pub fn aws_managed(partition: Partition, name: &str) -> PolicyArn {
        PolicyArn(format!("arn:{partition}:iam::aws:policy/{name}"))
    }

    /// Whether an ARN names an AWS-managed policy
    /// (`arn:<partition>:iam::aws:policy/…`), which always exists.
    pub fn is_aws_managed(arn: &str) -> bool {
        arn.split(':').nth(4) == Some("aws")
    }
}

/// The ARN of a user's virtual MFA device named after the user, as the
/// console and `aws iam create-virtual-mfa-device` name it.
pub fn mfa_device_arn(partition: Partition, account: &str, user: &str) -> String {
    format!("arn:{partition}:iam::{account}:mfa/{user}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_parse_and_format_in_every_partition() {
        let account = AccountId::new("123456789012").unwrap();
        for (region, partition) in [
            ("ap-northeast-1", "aws"),
            ("cn-north-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
        ] {
            let arn = RoleArn::new(Partition::of(region), &account, "role-admin");
            let text = format!("arn:{partition}:iam::123456789012:role/role-admin");
            assert_eq!(arn.to_string(), text);
            assert_eq!(RoleArn::parse(&text), Some(arn));
        }
        let pathed = RoleArn::parse("arn:aws:iam::123456789012:role/team/ops/role-x").unwrap();
        assert_eq!(pathed.name(), "role-x");
        assert_eq!(
            pathed.to_string(),
            "arn:aws:iam::123456789012:role/team/ops/role-x"
        );
        for bad in [
            "arn:aws:iam::*:role/role-admin",
            "arn:aws:iam::123456789012:user/alice",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::123456789012:role/",
            "arn:aws-xx:iam::123456789012:role/r",
        ] {
            assert_eq!(RoleArn::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn role_arns_in_policies_may_name_every_account() {
        let account = AccountId::new("123456789012").unwrap();
        for partition in ["aws", "aws-cn", "aws-us-gov"] {
            let every = format!("arn:{partition}:iam::*:role/role-admin");
            assert_eq!(RoleArn::parse_pattern(&every), Some((None, "role-admin")));
            let one = format!("arn:{partition}:iam::123456789012:role/team/role-x");
            assert_eq!(
                RoleArn::parse_pattern(&one),
                Some((Some(account.clone()), "role-x"))
            );
        }
        for bad in [
            "arn:aws:iam::*:user/alice",
            "arn:aws:iam::*:role/",
            "arn:aws-xx:iam::*:role/role-x",
            "*",
        ] {
            assert_eq!(RoleArn::parse_pattern(bad), None, "{bad}");
        }
    }

    #[test]
    fn customer_policy_arns_carry_their_path() {
        let account = AccountId::new("123456789012").unwrap();
        let arn = PolicyArn::customer(Partition::Aws, &account, "/jumpgate/", "p");
        assert_eq!(arn.as_str(), "arn:aws:iam::123456789012:policy/jumpgate/p");
        assert!(PolicyArn::new(arn.as_str()).is_ok());
        assert!(PolicyArn::is_aws_managed(
            "arn:aws:iam::aws:policy/ReadOnlyAccess"
        ));
        assert!(!PolicyArn::is_aws_managed(arn.as_str()));
    }

    #[test]
    fn account_ids_are_twelve_digits() {
        assert!(AccountId::new("123456789012").is_ok());
        for bad in ["12345678901", "1234567890123", "12345678901a", ""] {
            assert!(AccountId::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn iam_names_follow_aws_rules() {
        assert!(UserName::new("yamada.taro+ops@corp_x=1,2-3").is_ok());
        assert!(UserName::new("bad name!").is_err());
        assert!(UserName::new(&"a".repeat(64)).is_ok());
        assert!(UserName::new(&"a".repeat(65)).is_err());
        assert!(GroupName::new(&"g".repeat(128)).is_ok());
        assert!(GroupName::new(&"g".repeat(129)).is_err());
    }

    #[test]
    fn short_names_fit_their_composed_iam_names() {
        assert!(RoleKey::new(&"r".repeat(59)).is_ok());
        assert!(RoleKey::new(&"r".repeat(60)).is_err());
        assert!(ProjectName::new("-leading-dash").is_err());
    }

    #[test]
    fn long_values_are_cut_short_in_messages() {
        let err = UserName::new(&"x".repeat(10_000)).unwrap_err();
        assert!(err.0.len() < 200, "{err}");
        assert!(err.0.contains("is 10000 characters long"));
        assert_eq!(shown("a\tb"), "a\\tb");
    }

    #[test]
    fn other_partitions_are_refused_naming_the_partition() {
        assert!(Region::new("us-east-1").is_ok());
        let err = PolicyArn::new("arn:aws-cn:iam::aws:policy/ReadOnlyAccess").expect_err("aws-cn");
        assert!(err.0.contains("`aws-cn` partition"), "{}", err.0);
        for (region, partition) in [
            ("us-gov-west-1", "aws-us-gov"),
            ("cn-north-1", "aws-cn"),
            ("cn-northwest-1", "aws-cn"),
            ("us-iso-east-1", "aws-iso"),
        ] {
            let err = Region::new(region).expect_err("another partition");
            assert!(
                err.0.contains(partition) && err.0.contains("arn:aws:"),
                "{}",
                err.0
            );
        }
    }

    #[test]
    fn values_are_checked_for_format() {
        assert!(Region::new("ap-northeast-1").is_ok());
        assert!(Region::new("tokyo").is_err());
        assert!(Region::new("ap-northeast-x").is_err());
        assert_eq!(Color::new("D13212").unwrap().as_str(), "d13212");
        assert!(Color::new("#d13212").is_err());
        assert!(Email::new("me+sandbox@example.com").is_ok());
        for bad in [
            "me",
            "me@",
            "@example.com",
            "me@example",
            "me@-x.com",
            "a b@x.com",
        ] {
            assert!(Email::new(bad).is_err(), "{bad}");
        }
        assert!(PolicyArn::new("arn:aws:iam::aws:policy/ReadOnlyAccess").is_ok());
        assert!(PolicyArn::new("arn:aws:iam::123456789012:policy/team/Custom").is_ok());
        assert!(PolicyArn::new("arn:aws:s3:::bucket").is_err());
        assert!(PolicyArn::new("ReadOnlyAccess").is_err());
    }
}
