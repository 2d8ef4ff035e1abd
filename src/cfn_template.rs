//! CloudFormation template bodies as JSON values, whether they were written
//! in JSON or in YAML. Hand-built estates are usually YAML with the short
//! forms of the intrinsic functions (`!Sub`, `!Ref`, `!GetAtt`, …); they are
//! turned into the long forms CloudFormation documents as equivalent
//! ("Intrinsic function reference": `!Ref x` is `{"Ref": "x"}`, `!GetAtt
//! a.b` is `{"Fn::GetAtt": ["a", "b"]}`, `!Condition c` is
//! `{"Condition": "c"}`, and every other `!Name v` is `{"Fn::Name": v}`),
//! so that a template reads the same whichever way it was written.

use saphyr::{LoadableYamlNode, Scalar, Yaml};
use serde_json::{Map, Value};

/// The template as a JSON value; `None` when it is neither JSON nor YAML
/// with a mapping at the top.
pub fn parse(body: &str) -> Option<Value> {
    if let Ok(value) = serde_json::from_str::<Value>(body) {
        return Some(value);
    }
    let documents = Yaml::load_from_str(body).ok()?;
    let value = to_json(documents.first()?)?;
    value.is_object().then_some(value)
}

fn to_json(node: &Yaml) -> Option<Value> {
    Some(match node {
        Yaml::Value(scalar) => scalar_json(scalar),
        Yaml::Representation(text, _, _) => Value::String(text.to_string()),
        Yaml::Sequence(items) => Value::Array(items.iter().map(to_json).collect::<Option<_>>()?),
        Yaml::Mapping(entries) => {
            let mut object = Map::new();
            for (key, value) in entries {
                let key = match to_json(key)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                object.insert(key, to_json(value)?);
            }
            Value::Object(object)
        }
        Yaml::Tagged(tag, inner) => {
            let inner = to_json(inner)?;
            if tag.handle != "!" {
                // `!!str 3` and other core-schema tags: the value as written.
                return Some(inner);
            }
            intrinsic(&tag.suffix, inner)
        }
        Yaml::Alias(_) | Yaml::BadValue => return None,
    })
}

fn scalar_json(scalar: &Scalar) -> Value {
    match scalar {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::from(*i),
        Scalar::FloatingPoint(f) => {
            serde_json::Number::from_f64(f.into_inner()).map_or(Value::Null, Value::Number)
        }
        Scalar::String(s) => Value::String(s.to_string()),
    }
}

/// The long form of a short-form intrinsic function.
fn intrinsic(name: &str, argument: Value) -> Value {
    let long = match name {
        "Ref" | "Condition" => name.to_owned(),
        _ => format!("Fn::{name}"),
    };
    let argument = match (name, argument) {
        // `!GetAtt Resource.Attribute`: split at the first dot.
        ("GetAtt", Value::String(text)) => match text.split_once('.') {
            Some((resource, attribute)) => Value::Array(vec![resource.into(), attribute.into()]),
            None => Value::String(text),
        },
        (_, other) => other,
    };
    Value::Object([(long, argument)].into_iter().collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn short_forms_become_long_forms() {
        let yaml = r#"
AWSTemplateFormatVersion: '2010-09-09'
Parameters:
  AdminAccountId:
    Type: String
Resources:
  RoleAdmin:
    Type: AWS::IAM::Role
    Properties:
      RoleName: role-admin
      MaxSessionDuration: 3600
      AssumeRolePolicyDocument:
        Statement:
          - Effect: Allow
            Principal:
              AWS: !Sub arn:aws:iam::${AdminAccountId}:root
            Action: sts:AssumeRole
            Condition:
              Bool:
                aws:MultiFactorAuthPresent: true
      ManagedPolicyArns:
        - arn:aws:iam::aws:policy/AdministratorAccess
      Tags:
        - Key: ManagedResource
          Value: 'true'
Outputs:
  Arn:
    Value: !GetAtt RoleAdmin.Arn
  Name:
    Value: !Ref RoleAdmin
  Joined:
    Value: !Join [",", [!Ref AdminAccountId, !GetAtt [RoleAdmin, RoleId]]]
"#;
        let value = parse(yaml).expect("YAML parses");
        let role = &value["Resources"]["RoleAdmin"]["Properties"];
        assert_eq!(role["RoleName"], "role-admin");
        assert_eq!(role["MaxSessionDuration"], 3600);
        assert_eq!(
            role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"],
            json!({"Fn::Sub": "arn:aws:iam::${AdminAccountId}:root"})
        );
        assert_eq!(
            role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["Bool"]["aws:MultiFactorAuthPresent"],
            true
        );
        assert_eq!(role["Tags"][0]["Value"], "true");
        assert_eq!(value["AWSTemplateFormatVersion"], "2010-09-09");
        assert_eq!(
            value["Outputs"]["Arn"]["Value"],
            json!({"Fn::GetAtt": ["RoleAdmin", "Arn"]})
        );
        assert_eq!(
            value["Outputs"]["Name"]["Value"],
            json!({"Ref": "RoleAdmin"})
        );
        assert_eq!(
            value["Outputs"]["Joined"]["Value"],
            json!({"Fn::Join": [",", [{"Ref": "AdminAccountId"}, {"Fn::GetAtt": ["RoleAdmin", "RoleId"]}]]})
        );
    }

    #[test]
    fn json_is_read_as_json_and_junk_is_none() {
        assert_eq!(
            parse(r#"{"Resources": {}}"#),
            Some(json!({"Resources": {}}))
        );
        assert_eq!(parse("just a string"), None);
        assert_eq!(parse("[1, 2"), None);
        assert_eq!(parse(""), None);
    }
}
