//! The install paths of a release, run here as far as this machine allows:
//! the release workflow's packaging step (.github/workflows/release.yml)
//! packs this build's binary; the GitHub Action's install step (action.yml)
//! and the GitLab template's (ci/jumpgate.gitlab-ci.yml) install it from
//! those files (served as file:// URLs) after checking its SHA-256, and
//! refuse an archive whose checksum does not match; the layout is the one
//! Cargo.toml's cargo-binstall metadata names.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const VERSION: &str = "v0.1.0";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A YAML file of the repository as JSON.
fn yaml(path: &str) -> Value {
    support::python::yaml(&repo().join(path))
}

/// The release target of this machine's Linux architecture.
fn target() -> String {
    format!("{}-unknown-linux-musl", std::env::consts::ARCH)
}

/// GitHub's `${{ matrix.target }}` in a script, filled in.
fn with_target(script: &str) -> String {
    script.replace("${{ matrix.target }}", &target())
}

fn run(program: &str, script: &str, dir: &Path, env: &[(&str, String)]) -> Output {
    Command::new(program)
        .args(["-c", script])
        .current_dir(dir)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("the shell runs")
}

#[track_caller]
fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs the release workflow's Package step on this build's binary, as if it
/// were the target's: returns the directory holding `VERSION/<assets>`.
fn package(work: &Path) -> PathBuf {
    let release = yaml(".github/workflows/release.yml");
    let steps = release["jobs"]["build"]["steps"].as_array().unwrap();
    let script = steps
        .iter()
        .find(|s| s["name"] == "Package")
        .and_then(|s| s["run"].as_str())
        .expect("a Package step");
    let built = work.join(format!("target/{}/release", target()));
    fs::create_dir_all(&built).unwrap();
    fs::copy(env!("CARGO_BIN_EXE_jumpgate"), built.join("jumpgate")).unwrap();
    fs::copy(repo().join("README.md"), work.join("README.md")).unwrap();
    let env = [("GITHUB_REF_NAME", VERSION.to_owned())];
    ok(run("bash", &with_target(script), work, &env));
    let releases = work.join("releases");
    fs::create_dir_all(releases.join(VERSION)).unwrap();
    for entry in fs::read_dir(work.join("dist")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            fs::copy(
                &path,
                releases.join(VERSION).join(path.file_name().unwrap()),
            )
            .unwrap();
        }
    }
    releases
}

/// The action's install step with these inputs; the PATH entry it adds.
fn action_install(work: &Path, releases: &Path, sha256: &str) -> (Output, String) {
    let action = yaml("action.yml");
    let script = action["runs"]["steps"][0]["run"].as_str().unwrap();
    let runner_temp = work.join("runner-temp");
    fs::create_dir_all(&runner_temp).unwrap();
    let github_path = work.join("github-path");
    fs::write(&github_path, "").unwrap();
    let arch = if std::env::consts::ARCH == "aarch64" {
        "ARM64"
    } else {
        "X64"
    };
    let env = [
        ("INPUT_VERSION", VERSION.to_owned()),
        ("INPUT_SHA256", sha256.to_owned()),
        ("INPUT_REPOSITORY", "your-org/jumpgate".to_owned()),
        (
            "INPUT_RELEASES_URL",
            format!("file://{}", releases.display()),
        ),
        ("RUNNER_OS", "Linux".to_owned()),
        ("RUNNER_ARCH", arch.to_owned()),
        ("RUNNER_TEMP", runner_temp.display().to_string()),
        ("GITHUB_PATH", github_path.display().to_string()),
    ];
    // GitHub runs `shell: bash` as `bash -e {0}`, with pipefail.
    let script = format!("set -eo pipefail\n{script}");
    let out = run("bash", &script, work, &env);
    (out, fs::read_to_string(&github_path).unwrap())
}

#[test]
fn a_packaged_release_installs_through_the_action_and_the_gitlab_template() {
    let work = tempfile::tempdir().unwrap();
    let work = work.path();
    let releases = package(work);
    let name = format!("jumpgate-{VERSION}-{}", target());
    let archive = releases.join(VERSION).join(format!("{name}.tar.gz"));
    assert!(archive.exists(), "{}", archive.display());
    let listing = ok(Command::new("tar")
        .arg("-tzf")
        .arg(&archive)
        .output()
        .unwrap());
    let listing = String::from_utf8(listing.stdout).unwrap();
    for file in [
        "jumpgate",
        "completions/jumpgate.bash",
        "man/jumpgate.1",
        "man/jumpgate-fmt.1",
    ] {
        assert!(
            listing.contains(&format!("{name}/{file}\n")),
            "{file} in {listing}"
        );
    }

    // cargo-binstall's templates (Cargo.toml) name this archive and binary.
    let manifest = fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    let setting = |key: &str| {
        manifest
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key} = \"")))
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or_else(|| panic!("{key} in Cargo.toml"))
            .replace("{ name }", "jumpgate")
            .replace("{ version }", VERSION.trim_start_matches('v'))
            .replace("{ target }", &target())
            .replace("{ bin }", "jumpgate")
            .replace("{ binary-ext }", "")
    };
    assert_eq!(
        setting("pkg-url"),
        format!("{{ repo }}/releases/download/{VERSION}/{name}.tar.gz")
    );
    assert!(listing.contains(&format!("{}\n", setting("bin-dir"))));

    // The action: verified against the published checksum, installed on PATH.
    let (out, path_entry) = action_install(work, &releases, "");
    ok(out);
    let installed = Path::new(path_entry.trim()).join("jumpgate");
    let version = ok(Command::new(&installed).arg("--version").output().unwrap());
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("jumpgate "));
    let valid = ok(Command::new(&installed)
        .args(["validate", "state"])
        .current_dir(repo())
        .output()
        .unwrap());
    assert!(String::from_utf8_lossy(&valid.stdout).contains("is valid"));

    // A pinned checksum that does not match: refused, nothing on PATH.
    let (out, path_entry) = action_install(work, &releases, &"0".repeat(64));
    assert!(
        !out.status.success(),
        "a wrong checksum must fail the install"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("FAILED"),
        "{out:?}"
    );
    assert_eq!(path_entry, "");

    // The GitLab template's install, without its `apk add` (curl is here).
    let template = yaml("ci/jumpgate.gitlab-ci.yml");
    let install: Vec<&str> = template[".jumpgate"]["before_script"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|s| !s.starts_with("apk "))
        .take_while(|s| !s.contains("AWS_OIDC_TOKEN"))
        .collect();
    let project = work.join("project");
    fs::create_dir_all(&project).unwrap();
    let env = [
        ("JUMPGATE_VERSION", VERSION.to_owned()),
        ("JUMPGATE_SHA256", String::new()),
        (
            "JUMPGATE_RELEASES",
            format!("file://{}", releases.display()),
        ),
        ("CI_PROJECT_DIR", project.display().to_string()),
    ];
    let script = format!("set -e\n{}\njumpgate --version", install.join("\n"));
    // alpine's sh (busybox ash) has pipefail; dash, the sh here, has not.
    let out = ok(run("bash", &script, work, &env));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("jumpgate 0.1.0"),
        "{out:?}"
    );
    let tampered = [
        ("JUMPGATE_SHA256", "f".repeat(64)),
        ("JUMPGATE_VERSION", VERSION.to_owned()),
        (
            "JUMPGATE_RELEASES",
            format!("file://{}", releases.display()),
        ),
        ("CI_PROJECT_DIR", project.display().to_string()),
    ];
    let out = run("bash", &script, work, &tampered);
    assert!(!out.status.success(), "a wrong checksum must fail the job");
}
