//! A change's address: what the plan prints (`membership.alice/group-admin`)
//! and what `--only` names, as typed parts so that code compares kinds and
//! names rather than substrings.

use std::fmt;

use super::Kind;

/// `<kind>.<name>[/<part>]`, unique within a plan. The name is the object's
/// own (a user, a group, a stack); the part, when there is one, says which
/// object of that kind hangs on it (a membership's group, a user's access
/// key, a stack instance's account and region).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    pub kind: Kind,
    /// Empty for an object an account has one of (its password policy).
    pub name: String,
    pub part: Option<String>,
}

impl Address {
    pub fn new(kind: Kind, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
            part: None,
        }
    }

    /// The address of something that belongs to `name`.
    pub fn of_part(kind: Kind, name: impl Into<String>, part: impl fmt::Display) -> Self {
        Self {
            kind,
            name: name.into(),
            part: Some(part.to_string()),
        }
    }

    /// The address of an object the account has exactly one of.
    pub fn account_wide(kind: Kind) -> Self {
        Self::new(kind, "")
    }

    /// Reads an address as `Display` writes it; `None` when it names no kind.
    pub fn parse(text: &str) -> Option<Self> {
        let (kind, rest) = text.split_once('.').unwrap_or((text, ""));
        let kind = Kind::parse(&kind.to_ascii_lowercase())?;
        Some(match rest.split_once('/') {
            Some((name, part)) => Self::of_part(kind, name, part),
            None => Self::new(kind, rest),
        })
    }

    /// The same object to IAM, which ignores case in names.
    pub fn same_as(&self, other: &Address) -> bool {
        let parts_match = match (&self.part, &other.part) {
            (None, None) => true,
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        };
        self.kind == other.kind && self.name.eq_ignore_ascii_case(&other.name) && parts_match
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.as_str())?;
        if !self.name.is_empty() {
            write!(f, ".{}", self.name)?;
        }
        if let Some(part) = &self.part {
            write!(f, "/{part}")?;
        }
        Ok(())
    }
}

/// An address equals the text the plan prints for it.
impl PartialEq<&str> for Address {
    fn eq(&self, text: &&str) -> bool {
        let Some(rest) = text.strip_prefix(self.kind.as_str()) else {
            return false;
        };
        let rest = if self.name.is_empty() {
            Some(rest)
        } else {
            rest.strip_prefix('.')
                .and_then(|r| r.strip_prefix(self.name.as_str()))
        };
        match (rest, &self.part) {
            (Some(rest), None) => rest.is_empty(),
            (Some(rest), Some(part)) => rest.strip_prefix('/') == Some(part.as_str()),
            (None, _) => false,
        }
    }
}

impl PartialEq<String> for Address {
    fn eq(&self, text: &String) -> bool {
        self == &text.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_back_as_they_are_written() {
        for text in [
            "password-policy",
            "user.yamada.taro",
            "membership.yamada.taro/group-admin",
            "group-policy.group-admin/policy-x",
            "stack-instance.iam-roles/222222222222/ap-northeast-1",
        ] {
            let address = Address::parse(text).unwrap();
            assert_eq!(address.to_string(), text);
            assert_eq!(address, text);
            assert_ne!(address, &text[..text.len() - 1]);
            assert_ne!(address, format!("{text}x"));
        }
        let membership = Address::parse("membership.yamada.taro/group-admin").unwrap();
        assert_eq!(membership.kind, Kind::Membership);
        assert_eq!(membership.name, "yamada.taro");
        assert_eq!(membership.part.as_deref(), Some("group-admin"));
        assert_eq!(Address::parse("nothing.x"), None);
    }

    #[test]
    fn names_compare_ignoring_case_kinds_and_parts_do_not_blur() {
        let address = |text| Address::parse(text).unwrap();
        assert!(address("USER.Bob").same_as(&address("user.bob")));
        assert!(!address("user.bob").same_as(&address("login-profile.bob")));
        assert!(!address("membership.bob/g").same_as(&address("membership.bob")));
    }

    #[test]
    fn kinds_are_spelt_as_the_json_plan_spells_them() {
        for kind in Kind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
    }
}
