//! The command line itself: every command's `--help` ends with examples that parse, shell
//! completions are generated, and the installed binary needs no repository beside it.

mod common;

use std::process::Command;

use clap::CommandFactory;
use common::{gradc, temp_dir};
use gradc::cli::Cli;

#[test]
fn every_command_s_help_ends_with_examples_that_parse() {
    let cli = Cli::command();
    let names: Vec<String> = cli.get_subcommands().map(|c| c.get_name().to_string()).collect();
    assert!(names.len() >= 12, "{names:?}");
    for name in &names {
        let out = gradc(&[name, "--help"]);
        assert!(out.status.success(), "gradc {name} --help");
        let help = String::from_utf8_lossy(&out.stdout).to_string();
        let (_, examples) = help.split_once("\nExamples:\n").unwrap_or_else(|| panic!("{name}: no Examples:\n{help}"));
        let lines: Vec<&str> = examples.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!((2..=3).contains(&lines.len()), "{name}: two or three examples, at the end:\n{examples}");
        for line in lines {
            // A shell redirection is not part of the command line.
            let words: Vec<&str> = line.split(" >").next().unwrap_or(line).split_whitespace().collect();
            assert_eq!(words.get(1), Some(&name.as_str()), "{name}'s example runs {name}: {line}");
            if let Err(e) = Cli::command().try_get_matches_from(&words) {
                panic!("{name}'s example `{line}` does not parse:\n{e}");
            }
        }
    }
}

#[test]
fn completions_name_every_command() {
    let names: Vec<String> = Cli::command().get_subcommands().map(|c| c.get_name().to_string()).collect();
    for shell in ["bash", "zsh", "fish"] {
        let out = gradc(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout).to_string();
        for name in &names {
            assert!(script.contains(name.as_str()), "{shell}'s script names `{name}`");
        }
        // (fish names a flag `-l epochs`, the others `--epochs`.)
        assert!(script.contains("epochs") && script.contains("log-every"), "{shell}'s script names the flags");
    }
    // Bash sources its script and registers the completion (bash is on every machine the suite
    // runs on; a missing one fails here rather than skipping the check).
    let dir = temp_dir("completions");
    let path = dir.join("gradc.bash");
    std::fs::write(&path, gradc(&["completions", "bash"]).stdout).expect("write the script");
    let check = format!("source '{}' && complete -p gradc", path.display());
    let out = Command::new("bash").args(["--norc", "-c", &check]).output().expect("run bash");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.contains("gradc"), "{said}{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn the_binary_works_alone_from_any_directory() {
    // A copy of the binary and of one example in an empty directory, run from there: the
    // standard library it uses is embedded in the binary.
    let dir = temp_dir("alone");
    let bin = dir.join("gradc");
    std::fs::copy(env!("CARGO_BIN_EXE_gradc"), &bin).expect("copy the binary");
    std::fs::copy(common::root().join("examples/spiral_mlp.grad"), dir.join("m.grad")).expect("copy an example");
    let text = std::fs::read_to_string(dir.join("m.grad")).expect("read");
    assert!(text.contains("use std."), "the example uses the standard library");
    for args in [&["check", "m.grad"][..], &["run", "m.grad", "--steps", "2", "--quiet"]] {
        let out = run_fresh(Command::new(&bin).args(args).current_dir(&dir));
        assert!(out.status.success(), "{args:?}:\n{}", String::from_utf8_lossy(&out.stderr));
    }
}

/// Runs a just-written executable. Until every process forked while it was open for writing
/// has reached its own exec (another test thread starting `bash`, say), exec fails with "text
/// file busy": that is retried for up to a second, and any other error fails the test.
fn run_fresh(cmd: &mut Command) -> std::process::Output {
    for _ in 0..50 {
        match cmd.output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            other => return other.expect("run"),
        }
    }
    panic!("the copied binary stayed busy for a second")
}
