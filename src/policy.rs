//! IAM policy documents (`PolicyDocument`): the ones jumpgate writes, how
//! IAM's are read, and their normalised form for comparison. Pure.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::model::derive::{GroupSpec, role_name};
use crate::model::names::{AccountId, Partition, RoleArn};

/// The inline policy jumpgate puts on each managed group.
pub const GROUP_POLICY_NAME: &str = "assume-role";
/// The managed policy attached to every managed group.
pub const MFA_POLICY_NAME: &str = "policy-enforce-mfa";
/// AWS's limit on a group's inline policy, counted without whitespace.
pub const GROUP_INLINE_POLICY_MAX: usize = 5120;
/// AWS's limit on a managed policy document, counted without whitespace.
pub const MANAGED_POLICY_MAX: usize = 6144;

const MFA_POLICY: &str = include_str!("../templates/policy-enforce-mfa.json");

/// An IAM policy document: one jumpgate writes, or one IAM returned,
/// decoded. Serialised as the bare JSON (`transparent`), so saved plans,
/// live-state fingerprints and every JSON output read as the JSON itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PolicyDocument(Value);

impl PolicyDocument {
    /// Decodes a document as IAM returns it (URL-encoded) or as written.
    pub fn parse(text: &str) -> Result<PolicyDocument, serde_json::Error> {
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') {
            return serde_json::from_str(text);
        }
        let decoded = percent_encoding::percent_decode_str(text).decode_utf8_lossy();
        serde_json::from_str(&decoded)
    }

    /// The document's statements: IAM takes one statement object or a list.
    pub fn statements(&self) -> Vec<&Value> {
        match self.0.get("Statement") {
            Some(Value::Array(list)) => list.iter().collect(),
            Some(single @ Value::Object(_)) => vec![single],
            _ => Vec::new(),
        }
    }

    /// A canonical form in which documents that IAM treats as equal compare
    /// equal: statements as a sorted list, single-item lists as scalars,
    /// lists of strings sorted, and no dependence on key order or whitespace.
    pub fn normalised(&self) -> PolicyDocument {
        let mut statements: Vec<Value> =
            self.statements().into_iter().map(normalise_value).collect();
        statements.sort_by_cached_key(|s| s.to_string());
        let mut doc = self.0.clone();
        if let Some(obj) = doc.as_object_mut() {
            obj.insert("Statement".into(), Value::Array(statements));
        }
        PolicyDocument(sort_keys(&doc))
    }

    /// Whether two documents grant the same thing as far as IAM's equality goes.
    pub fn equivalent(&self, other: &PolicyDocument) -> bool {
        self.normalised() == other.normalised()
    }

    /// The size AWS counts against its limits: the document without
    /// whitespace outside strings.
    pub fn size(&self) -> usize {
        self.to_string().len()
    }

    /// The document as JSON, for renderers and for a change's display data.
    pub fn as_json(&self) -> &Value {
        &self.0
    }
}

impl From<Value> for PolicyDocument {
    fn from(json: Value) -> PolicyDocument {
        PolicyDocument(json)
    }
}

impl From<PolicyDocument> for Value {
    fn from(document: PolicyDocument) -> Value {
        document.0
    }
}

/// The compact JSON IAM is sent.
impl fmt::Display for PolicyDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

pub fn mfa_policy() -> PolicyDocument {
    PolicyDocument(serde_json::from_str(MFA_POLICY).expect("the embedded MFA policy is valid JSON"))
}

/// The assume-role policy of a group, or `None` for a project group whose
/// project has no account yet (IAM refuses a statement with no resource).
pub fn group_policy(group: &GroupSpec) -> Option<PolicyDocument> {
    let role = role_name(&group.role);
    let resource = match &group.project {
        // Global groups reach the role wherever it exists; only accounts that
        // trust the jump account have it, so adding an account changes nothing here.
        None => json!(RoleArn::in_every_account(Partition::Aws, role.as_str())),
        Some(_) if group.accounts.is_empty() => return None,
        Some(_) => Value::Array(
            group
                .accounts
                .iter()
                .map(|id| json!(role_arn(id, role.as_str())))
                .collect(),
        ),
    };
    Some(PolicyDocument(json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AssumeRoleWithMfa",
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Resource": resource,
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
        }]
    })))
}

/// A role's ARN as the file's policies name it: desired states are in the
/// `aws` partition (`Region` refuses the others).
pub fn role_arn(account: &AccountId, role: &str) -> String {
    RoleArn::new(Partition::Aws, account, role).to_string()
}

/// The values of a field IAM takes as one value or a list (a statement's
/// `Action`, `Resource`, a condition's values), and CloudFormation alike.
pub fn one_or_many(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(other) => vec![other],
        None => Vec::new(),
    }
}

fn normalise_value(value: &Value) -> Value {
    match value {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(normalise_value).collect();
            if items.len() == 1 {
                return items.remove(0);
            }
            items.sort_by_cached_key(|v| v.to_string());
            Value::Array(items)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), normalise_value(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A copy with object keys sorted at every depth, so that key order never
/// shows as a difference.
pub fn sort_keys(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let sorted: Map<String, Value> = keys
                .into_iter()
                .map(|k| (k.clone(), sort_keys(&map[k])))
                .collect();
            Value::Object(sorted)
        }
        Value::Array(items) => Value::Array(items.iter().map(sort_keys).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(json: Value) -> PolicyDocument {
        PolicyDocument::from(json)
    }

    #[test]
    fn equal_documents_in_other_shapes_are_equivalent() {
        let a = document(
            json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
            "Action": ["sts:AssumeRole"], "Resource": ["b", "a"]}}),
        );
        let b = document(
            json!({"Statement": [{"Resource": ["a", "b"], "Action": "sts:AssumeRole",
            "Effect": "Allow"}], "Version": "2012-10-17"}),
        );
        assert!(a.equivalent(&b));
        let c = document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny",
            "Action": "sts:AssumeRole", "Resource": ["a", "b"]}]}),
        );
        assert!(!a.equivalent(&c));
    }

    #[test]
    fn statement_order_does_not_matter() {
        let s1 = json!({"Effect": "Allow", "Action": "a:A", "Resource": "*"});
        let s2 = json!({"Effect": "Allow", "Action": "b:B", "Resource": "*"});
        let a = document(json!({"Version": "2012-10-17", "Statement": [s1.clone(), s2.clone()]}));
        let b = document(json!({"Version": "2012-10-17", "Statement": [s2, s1]}));
        assert!(a.equivalent(&b));
    }

    #[test]
    fn url_encoded_documents_decode() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(
            PolicyDocument::parse(encoded).unwrap(),
            document(json!({"Version": "2012-10-17", "Statement": []}))
        );
        assert_eq!(
            PolicyDocument::parse(" {\"Statement\": []}").unwrap(),
            document(json!({"Statement": []}))
        );
    }

    #[test]
    fn one_statement_or_a_list() {
        let statement = json!({"Effect": "Allow", "Action": "a:A", "Resource": "*"});
        let single = document(json!({"Statement": statement}));
        let listed = document(json!({"Statement": [statement]}));
        assert_eq!(single.statements(), [&statement]);
        assert_eq!(listed.statements(), [&statement]);
        assert!(
            document(json!({"Version": "2012-10-17"}))
                .statements()
                .is_empty()
        );
    }

    #[test]
    fn documents_serialise_as_their_json() {
        let json = json!({"Version": "2012-10-17", "Statement": []});
        let text = serde_json::to_string(&document(json.clone())).unwrap();
        assert_eq!(text, json.to_string());
        assert_eq!(document(json).size(), text.len());
    }

    #[test]
    fn the_mfa_policy_fits_a_managed_policy() {
        assert!(mfa_policy().size() <= MANAGED_POLICY_MAX);
    }
}
