//! Python snippets in the emulator's venv, which has what the suites read
//! the repository's files with: PyYAML and botocore (moto depends on both).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use super::emulator::venv_python;

const YAML_AS_JSON: &str =
    "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))";

const BOTOCORE_PROFILES: &str = r#"
import json, sys
from botocore.configloader import load_config
print(json.dumps(load_config(sys.argv[1])["profiles"]))
"#;

/// Runs `script` with `args`, `stdin` on its standard input: the JSON it
/// prints, or why there is none.
pub fn try_python_json<S: AsRef<OsStr>>(
    script: &str,
    args: &[S],
    stdin: &str,
) -> Result<Value, String> {
    let mut child = Command::new(venv_python())
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("python does not start: {e}"))?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin.as_bytes())
        .map_err(|e| format!("writing to python: {e}"))?;
    let output = child
        .wait_with_output()
        .map_err(|e| format!("waiting for python: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "python failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("python printed no JSON: {e}"))
}

/// `try_python_json`, which must succeed.
#[track_caller]
pub fn python_json<S: AsRef<OsStr>>(script: &str, args: &[S], stdin: &str) -> Value {
    try_python_json(script, args, stdin).unwrap_or_else(|why| panic!("{why}\non input:\n{stdin}"))
}

/// A YAML file as JSON, through PyYAML.
pub fn try_yaml(path: &Path) -> Result<Value, String> {
    try_python_json(YAML_AS_JSON, &[path], "")
}

/// A YAML file as JSON, which must parse.
#[track_caller]
pub fn yaml(path: &Path) -> Value {
    try_yaml(path).unwrap_or_else(|why| panic!("{}: {why}", path.display()))
}

/// The profiles of an AWS config file, as botocore (and so the AWS CLI)
/// reads them.
#[track_caller]
pub fn botocore_profiles(path: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    serde_json::from_value(python_json(BOTOCORE_PROFILES, &[path], ""))
        .expect("profiles are string maps")
}
