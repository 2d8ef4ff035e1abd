//! A test's working directory: the desired-state files, the secrets
//! directory, saved plans; and the commands users run on it.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::emulator::Emulator;
use super::runner::{Jumpgate, Outcome};

/// A temporary directory holding `state/` (the desired-state files) and
/// `secrets/` (where apply writes passwords), removed on drop.
pub struct Workspace {
    dir: tempfile::TempDir,
}

impl Default for Workspace {
    fn default() -> Workspace {
        Workspace::new()
    }
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::Builder::new()
                .prefix("jumpgate-test-")
                .tempdir()
                .expect("a temporary directory"),
        }
    }

    /// A workspace whose state is a copy of the repository's `state/`.
    pub fn with_repo_state() -> Workspace {
        let workspace = Workspace::new();
        let repo_state = Path::new(env!("CARGO_MANIFEST_DIR")).join("state");
        fs::create_dir_all(workspace.state()).expect("state dir");
        for entry in fs::read_dir(&repo_state).expect("the repository's state/") {
            let entry = entry.expect("a state/ entry");
            fs::copy(entry.path(), workspace.state().join(entry.file_name()))
                .expect("copying state/");
        }
        workspace
    }

    /// A workspace whose state is the one file `estate.kdl` with `kdl`.
    pub fn with_state(kdl: &str) -> Workspace {
        let workspace = Workspace::new();
        workspace.write_state(kdl);
        workspace
    }

    /// A workspace whose state is the given files (name, bytes), which may
    /// be anything, valid or not.
    pub fn with_files<N: AsRef<Path>, B: AsRef<[u8]>>(files: &[(N, B)]) -> Workspace {
        let workspace = Workspace::new();
        fs::create_dir_all(workspace.state()).expect("state dir");
        for (name, bytes) in files {
            fs::write(workspace.state().join(name), bytes).expect("a state file");
        }
        workspace
    }

    /// `with_state(kdl)` whose member accounts have been bootstrapped.
    pub async fn bootstrapped(emu: &Emulator, kdl: &str) -> Workspace {
        let workspace = Workspace::with_state(kdl);
        workspace.bootstrap_members(emu).await;
        workspace
    }

    /// `bootstrapped(kdl)`, applied: the estate as jumpgate first builds it.
    pub async fn applied(emu: &Emulator, kdl: &str) -> Workspace {
        let workspace = Workspace::bootstrapped(emu, kdl).await;
        workspace.apply(emu, &[]).expect_code(0);
        workspace
    }

    /// Replaces the state with the one file `estate.kdl`.
    pub fn write_state(&self, kdl: &str) {
        let state = self.state();
        let _ = fs::remove_dir_all(&state);
        fs::create_dir_all(&state).expect("state dir");
        fs::write(state.join("estate.kdl"), kdl).expect("writing estate.kdl");
    }

    /// The workspace itself, to run commands in.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    pub fn state_arg(&self) -> String {
        self.state().display().to_string()
    }

    pub fn secrets(&self) -> PathBuf {
        self.dir.path().join("secrets")
    }

    pub fn secrets_arg(&self) -> String {
        self.secrets().display().to_string()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `path(name)` as an argument.
    pub fn path_arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    /// Gives every account the state declares by id (the jump account
    /// aside) the StackSet execution role, as their owners would with
    /// `jumpgate bootstrap`.
    pub async fn bootstrap_members(&self, emu: &Emulator) {
        for entry in fs::read_dir(self.state()).expect("the state directory") {
            let text = fs::read_to_string(entry.expect("a state file").path()).expect("state");
            emu.bootstrap_declared(&text).await;
        }
    }

    /// `jumpgate SUBCOMMAND STATE` against `emu`, to add to and run.
    pub fn command<'e>(&self, emu: &'e Emulator, subcommand: &str) -> Jumpgate<'e> {
        Jumpgate::against(emu).arg(subcommand).arg(self.state())
    }

    /// `apply STATE --yes --secrets-dir SECRETS`, to add to and run.
    pub fn apply_command<'e>(&self, emu: &'e Emulator) -> Jumpgate<'e> {
        self.command(emu, "apply")
            .arg("--yes")
            .arg("--secrets-dir")
            .arg(self.secrets())
    }

    /// `apply STATE --yes --secrets-dir SECRETS` plus `extra`.
    pub fn apply(&self, emu: &Emulator, extra: &[&str]) -> Outcome {
        self.apply_command(emu).args(extra).run()
    }

    /// `apply STATE --plan SAVED --yes --secrets-dir SECRETS`.
    pub fn apply_saved(&self, emu: &Emulator, saved: &Path) -> Outcome {
        self.apply(emu, &["--plan", &saved.display().to_string()])
    }

    /// `jumpgate SUBCOMMAND STATE` plus `extra`.
    pub fn run(&self, emu: &Emulator, subcommand: &str, extra: &[&str]) -> Outcome {
        self.command(emu, subcommand).args(extra).run()
    }

    /// `plan STATE` plus `extra`.
    pub fn plan(&self, emu: &Emulator, extra: &[&str]) -> Outcome {
        self.run(emu, "plan", extra)
    }

    /// `plan STATE --out PATH`, which must succeed: the saved plan's path.
    pub fn save_plan(&self, emu: &Emulator, name: &str) -> PathBuf {
        let saved = self.path(name);
        self.plan(emu, &["--out", &saved.display().to_string()])
            .expect_code(0);
        saved
    }

    /// `plan STATE --format json`, which must succeed and match the schema
    /// shipped for scripts.
    pub fn plan_json(&self, emu: &Emulator) -> Value {
        let plan = self.plan(emu, &["--format", "json"]).expect_code(0).json();
        super::live::assert_matches_plan_schema(&plan);
        plan
    }

    /// Asserts that `plan --detailed-exitcode` finds nothing to do.
    #[track_caller]
    pub fn assert_converged(&self, emu: &Emulator) {
        self.plan(emu, &["--detailed-exitcode"]).expect_code(0);
    }
}
