//! `jumpgate completions` and `jumpgate man`: the bash script loads in a bash
//! subshell and completes subcommands and flags; every shell gets a script;
//! the man page covers every command.

mod support;

use std::process::Command;

use support::{Jumpgate, Outcome};

fn jumpgate(args: &[&str]) -> Outcome {
    Jumpgate::local().args(args).run()
}

fn stdout_of(args: &[&str]) -> String {
    jumpgate(args).expect_code(0).stdout.clone()
}

/// Asserts that each of `expected` is one of `found`, naming those missing.
#[track_caller]
fn assert_includes(found: &[String], expected: &[&str], what: &str) {
    let missing: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|e| !found.iter().any(|f| f == e))
        .collect();
    assert!(missing.is_empty(), "{what} lack {missing:?}: {found:?}");
}

/// What bash completion offers for `line` (the words typed so far, the last
/// one being completed), with the generated script loaded.
fn bash_complete(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let line = words.join(" ");
    let program = format!(
        "source '{}' || exit 3\n\
         COMP_WORDS=({})\n\
         COMP_CWORD={}\n\
         COMP_LINE='{line}'\n\
         COMP_POINT={}\n\
         _jumpgate jumpgate '{}' '{}' || exit 4\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        quoted.join(" "),
        words.len() - 1,
        line.len(),
        words[words.len() - 1],
        words.get(words.len().wrapping_sub(2)).unwrap_or(&""),
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "bash failed: {out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.trim().to_owned())
        .collect()
}

#[test]
fn bash_completions_load_and_complete_subcommands_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("jumpgate.bash");
    std::fs::write(&script, stdout_of(&["completions", "bash"])).unwrap();

    let commands = bash_complete(&script, &["jumpgate", ""]);
    let expected = [
        "validate",
        "plan",
        "apply",
        "drift",
        "fmt",
        "completions",
        "man",
    ];
    assert_includes(&commands, &expected, "the subcommands completed");
    assert_eq!(bash_complete(&script, &["jumpgate", "dr"]), ["drift"]);
    let flags = bash_complete(&script, &["jumpgate", "apply", "--o"]);
    assert_eq!(flags, ["--only"]);
    let formats = bash_complete(&script, &["jumpgate", "validate", "--format", ""]);
    assert_eq!(formats, ["text", "github", "gitlab"]);
}

#[test]
fn every_shell_gets_a_script_naming_the_commands() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = stdout_of(&["completions", shell]);
        for command in ["validate", "plan", "apply", "fmt"] {
            assert!(script.contains(command), "{shell} script lacks {command}");
        }
    }
    let refused = jumpgate(&["completions", "tcsh"]);
    assert_eq!(refused.code, Some(2), "clap refuses an unknown shell");
}

#[test]
fn the_man_page_covers_every_command() {
    let page = stdout_of(&["man"]);
    assert!(
        page.starts_with(".ie \\n(.g .ds Aq"),
        "roff: {}",
        &page[..80]
    );
    assert!(page.contains(".TH jumpgate 1"), "{page}");
    for command in ["validate", "plan", "apply", "fmt", "completions"] {
        assert!(page.contains(command), "{command}");
    }

    let dir = tempfile::tempdir().unwrap();
    jumpgate(&["man", "--out", &dir.path().display().to_string()]).expect_code(0);
    let mut pages: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    pages.sort();
    let expected = [
        "jumpgate.1",
        "jumpgate-apply.1",
        "jumpgate-fmt.1",
        "jumpgate-plan.1",
    ];
    assert_includes(&pages, &expected, "the pages written");
    let apply = std::fs::read_to_string(dir.path().join("jumpgate-apply.1")).unwrap();
    assert!(apply.contains("only"), "{apply}");
}
