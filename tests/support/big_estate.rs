//! Large generated estates for the reliability suites, and running the
//! binary against any endpoint (the emulator, or a fault proxy before it).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::emulator::Emulator;

/// The emulator's default account, declared as the jump account.
pub const JUMP: &str = "123456789012";
pub const ROLES: [&str; 3] = ["admin", "developer", "operator"];

/// An estate of `projects` projects of two accounts each, two accounts in
/// no project, and `users` users. `variant` shifts who gets what, so two
/// variants differ in many memberships, users and login profiles.
pub struct Estate {
    pub projects: usize,
    pub users: usize,
    pub variant: usize,
}

/// One user as the estate declares them.
#[derive(Debug, Clone)]
pub struct DeclaredUser {
    pub name: String,
    pub console: bool,
    pub groups: BTreeSet<String>,
}

impl Estate {
    pub fn account_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = (0..self.projects * 2)
            .map(|i| format!("{:012}", 200_000_000_000u64 + i as u64))
            .collect();
        ids.push("300000000001".into());
        ids.push("300000000002".into());
        ids
    }

    pub fn declared_users(&self) -> Vec<DeclaredUser> {
        // In variant v, users [v*users/4, v*users/4 + users) of a longer list.
        let offset = self.variant * self.users / 4;
        (offset..offset + self.users)
            .map(|i| {
                let mut groups = BTreeSet::new();
                let shifted = i + self.variant;
                if i % 10 == 0 {
                    groups.insert("group-admin".to_owned());
                } else {
                    let role = ROLES[1 + shifted % 2];
                    groups.insert(format!("group-{role}-p{}", shifted % self.projects));
                    if i % 3 == 0 {
                        groups.insert(format!("group-operator-p{}", (shifted + 1) % self.projects));
                    }
                    if i % 7 == 0 {
                        groups.insert("group-operator".to_owned());
                    }
                }
                DeclaredUser {
                    name: format!("user-{i:03}"),
                    console: (i + self.variant) % 5 != 4,
                    groups,
                }
            })
            .collect()
    }

    /// Every managed group: one per role, globally and per project.
    pub fn groups(&self) -> BTreeSet<String> {
        let mut groups = BTreeSet::new();
        for role in ROLES {
            groups.insert(format!("group-{role}"));
            for p in 0..self.projects {
                groups.insert(format!("group-{role}-p{p}"));
            }
        }
        groups
    }

    pub fn kdl(&self) -> String {
        let mut kdl = format!(
            "jump-account id=\"{JUMP}\" region=\"ap-northeast-1\" {{\n    password-policy min-length=16\n}}\n"
        );
        let ids = self.account_ids();
        for p in 0..self.projects {
            kdl += &format!(
                "project \"p{p}\" {{\n    account \"p{p}-prod\" id=\"{}\"\n    account \"p{p}-stg\" id=\"{}\"\n}}\n",
                ids[2 * p],
                ids[2 * p + 1]
            );
        }
        kdl += &format!("account \"shared\" id=\"{}\"\n", ids[self.projects * 2]);
        kdl += &format!(
            "account \"sandbox\" id=\"{}\"\n",
            ids[self.projects * 2 + 1]
        );
        for user in self.declared_users() {
            let console = if user.console { "" } else { " console=#false" };
            kdl += &format!("user \"{}\"{console} {{\n", user.name);
            for group in &user.groups {
                let rest = group.trim_start_matches("group-");
                match rest.split_once('-') {
                    Some((role, project)) => {
                        kdl += &format!("    access \"{role}\" project=\"{project}\"\n")
                    }
                    None => kdl += &format!("    access \"{rest}\"\n"),
                }
            }
            kdl += "}\n";
        }
        kdl
    }
}

/// What one run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub args: Vec<String>,
    /// `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(code),
            "`jumpgate {}` ended with {:?} (wanted {code})\n--- failures\n{}\n--- stdout\n{}\n--- stderr\n{}",
            self.args.join(" "),
            self.code,
            self.failures(),
            tail(&self.stdout),
            tail(&self.stderr)
        );
        self
    }
}

impl Run {
    /// The lines of the output that report a failure.
    pub fn failures(&self) -> String {
        self.stdout
            .lines()
            .chain(self.stderr.lines())
            .filter(|l| l.contains("FAILED") || l.contains("failed") || l.starts_with("error"))
            .take(40)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The end of a long output, for failure messages.
pub fn tail(text: &str) -> &str {
    let start = text.len().saturating_sub(6000);
    let start = (start..=text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    &text[start..]
}

/// The binary, configured for `emu` but talking to `endpoint`.
pub fn command(emu: &Emulator, endpoint: &str, args: &[&str]) -> Command {
    let mut command = emu.jumpgate();
    command
        .args(args)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("NO_COLOR", "1")
        .env_remove("JUMPGATE_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs the binary to its end (at most `timeout`), or until something else
/// kills it: the child is shared so that a proxy hook can.
pub fn run_shared(child: Arc<Mutex<Child>>, args: &[&str], timeout: Duration) -> Run {
    let started = Instant::now();
    let (stdout, stderr) = {
        let mut locked = child.lock().unwrap();
        (
            locked.stdout.take().expect("piped stdout"),
            locked.stderr.take().expect("piped stderr"),
        )
    };
    let reader = |mut pipe: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = reader(Box::new(stdout));
    let stderr = reader(Box::new(stderr));
    let status: ExitStatus = loop {
        if let Some(status) = child
            .lock()
            .unwrap()
            .try_wait()
            .expect("waiting for jumpgate")
        {
            break status;
        }
        if started.elapsed() > timeout {
            let mut locked = child.lock().unwrap();
            let _ = locked.kill();
            let _ = locked.wait();
            panic!(
                "`jumpgate {}` did not finish within {timeout:?}",
                args.join(" ")
            );
        }
        thread::sleep(Duration::from_millis(5));
    };
    Run {
        args: args.iter().map(|a| a.to_string()).collect(),
        code: status.code(),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
        elapsed: started.elapsed(),
    }
}

/// Runs `jumpgate ARGS` against `endpoint` to its end.
pub fn run(emu: &Emulator, endpoint: &str, args: &[&str], timeout: Duration) -> Run {
    let child = command(emu, endpoint, args)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start jumpgate: {e}"));
    run_shared(Arc::new(Mutex::new(child)), args, timeout)
}

/// The users, groups, memberships and login profiles live in the jump account.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct IamContents {
    /// User name → (groups, has a login profile).
    pub users: BTreeMap<String, (BTreeSet<String>, bool)>,
    /// Group name → attached policy ARNs.
    pub groups: BTreeMap<String, BTreeSet<String>>,
    /// Customer-managed policy names (with duplicates, if any).
    pub policies: Vec<String>,
}

/// Reads the jump account's users, groups and policies from the emulator.
pub async fn iam_contents(emu: &Emulator) -> IamContents {
    let iam = aws_sdk_iam::Client::new(&emu.sdk_config().await);
    let details = iam
        .get_account_authorization_details()
        .send()
        .await
        .expect("GetAccountAuthorizationDetails");
    let mut contents = IamContents::default();
    for user in details.user_detail_list() {
        let name = user.user_name().unwrap_or_default().to_owned();
        let profile = iam
            .get_login_profile()
            .user_name(&name)
            .send()
            .await
            .is_ok();
        let groups = user.group_list().iter().cloned().collect();
        let previous = contents.users.insert(name.clone(), (groups, profile));
        assert!(previous.is_none(), "user {name} is listed twice");
    }
    for group in details.group_detail_list() {
        let name = group.group_name().unwrap_or_default().to_owned();
        let attached = group
            .attached_managed_policies()
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_owned))
            .collect();
        let previous = contents.groups.insert(name.clone(), attached);
        assert!(previous.is_none(), "group {name} is listed twice");
    }
    let policies = iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .send()
        .await
        .expect("ListPolicies");
    contents.policies = policies
        .policies()
        .iter()
        .filter_map(|p| p.policy_name().map(str::to_owned))
        .collect();
    contents.policies.sort();
    contents
}

/// What `iam_contents` must be for `estate` (plus `extra_users`, unmanaged).
pub fn expected_contents(estate: &Estate) -> IamContents {
    let mfa = format!("arn:aws:iam::{JUMP}:policy/jumpgate/policy-enforce-mfa");
    IamContents {
        users: estate
            .declared_users()
            .into_iter()
            .map(|u| (u.name, (u.groups, u.console)))
            .collect(),
        groups: estate
            .groups()
            .into_iter()
            .map(|g| (g, BTreeSet::from([mfa.clone()])))
            .collect(),
        policies: vec!["policy-enforce-mfa".to_owned()],
    }
}

/// Named differences between two contents, for failure messages and the
/// "objects lost / duplicated" figures.
pub fn differences(expected: &IamContents, live: &IamContents) -> (Vec<String>, Vec<String>) {
    let mut lost = Vec::new();
    let mut extra = Vec::new();
    for (name, (groups, profile)) in &expected.users {
        match live.users.get(name) {
            None => lost.push(format!("user {name}")),
            Some((live_groups, live_profile)) => {
                for g in groups.difference(live_groups) {
                    lost.push(format!("membership {name} in {g}"));
                }
                for g in live_groups.difference(groups) {
                    extra.push(format!("membership {name} in {g}"));
                }
                if profile & !live_profile {
                    lost.push(format!("login profile of {name}"));
                }
                if !profile & live_profile {
                    extra.push(format!("login profile of {name}"));
                }
            }
        }
    }
    for name in live
        .users
        .keys()
        .filter(|n| !expected.users.contains_key(*n))
    {
        extra.push(format!("user {name}"));
    }
    for (name, attached) in &expected.groups {
        match live.groups.get(name) {
            None => lost.push(format!("group {name}")),
            Some(live_attached) if live_attached != attached => {
                lost.push(format!("attachments of {name}: {live_attached:?}"))
            }
            _ => {}
        }
    }
    for name in live
        .groups
        .keys()
        .filter(|n| !expected.groups.contains_key(*n))
    {
        extra.push(format!("group {name}"));
    }
    if live.policies != expected.policies {
        extra.push(format!("policies {:?}", live.policies));
    }
    (lost, extra)
}
