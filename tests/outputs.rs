//! Every file gradc writes follows one rule: a new path or a regular file is written; a
//! symbolic link (even to a regular file), a FIFO, a directory or a device is refused with a
//! diagnostic naming it, before any training, and left as it was.
//!
//! Each command is run once on fresh paths to learn what it writes; then each of those outputs in
//! turn is replaced by each refused kind of path, and the command is run again.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{root, temp_dir};

/// Runs gradc with `args`, killing it after a minute (an open of a FIFO without a reader blocks);
/// returns whether it succeeded, and its stdout and stderr.
fn gradc(args: &[String]) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gradc"))
        .args(args)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gradc");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            child.kill().expect("kill");
            let out = child.wait_with_output().expect("output");
            panic!("gradc {args:?} hung:\n{}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// A kind of path gradc must not write.
#[derive(Debug, Clone, Copy)]
enum Refused {
    /// A symbolic link to a regular file, whose contents must stay.
    Link,
    /// A symbolic link to nothing, whose target must not be created.
    Dangling,
    /// A symbolic link to `/dev/null`.
    LinkToDevice,
    Fifo,
    Directory,
}

const REFUSED: [Refused; 5] =
    [Refused::Link, Refused::Dangling, Refused::LinkToDevice, Refused::Fifo, Refused::Directory];

impl Refused {
    /// Puts this kind of path at `path`; `aside` is a directory for a link's target.
    fn plant(self, path: &Path, aside: &Path) {
        let _ = std::fs::remove_file(path);
        let _ = std::fs::remove_dir_all(path);
        match self {
            Refused::Link => {
                std::fs::write(aside.join("target"), b"mine").expect("write target");
                std::os::unix::fs::symlink(aside.join("target"), path).expect("symlink");
            }
            Refused::Dangling => std::os::unix::fs::symlink(aside.join("absent"), path).expect("symlink"),
            Refused::LinkToDevice => std::os::unix::fs::symlink("/dev/null", path).expect("symlink"),
            Refused::Fifo => assert!(Command::new("mkfifo").arg(path).status().expect("mkfifo").success()),
            Refused::Directory => std::fs::create_dir(path).expect("mkdir"),
        }
    }

    /// Asserts that `path` is as [`Refused::plant`] left it.
    fn assert_untouched(self, path: &Path, aside: &Path) {
        let meta =
            std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{self:?} {} is gone: {e}", path.display()));
        use std::os::unix::fs::FileTypeExt;
        match self {
            Refused::Link => {
                assert!(meta.file_type().is_symlink(), "{} is still a link", path.display());
                assert_eq!(
                    std::fs::read(aside.join("target")).expect("read target"),
                    b"mine",
                    "its target is untouched"
                );
            }
            Refused::Dangling => {
                assert!(meta.file_type().is_symlink());
                assert!(!aside.join("absent").exists(), "the dangling link's target was not created");
            }
            Refused::LinkToDevice => assert!(meta.file_type().is_symlink()),
            Refused::Fifo => assert!(meta.file_type().is_fifo(), "{} is still a FIFO", path.display()),
            Refused::Directory => assert!(meta.is_dir()),
        }
    }
}

/// A command and its outputs, with `{dir}` in `args` standing for a fresh directory.
struct Case {
    args: &'static [&'static str],
    /// Files the command writes, relative to `{dir}`.
    outputs: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        args: &["run", "examples/quadratic.grad", "--steps", "5", "--log", "{dir}/log.jsonl"],
        outputs: &["log.jsonl"],
    },
    Case { args: &["run", "examples/quadratic.grad", "--steps", "5", "--metrics", "{dir}/m.csv"], outputs: &["m.csv"] },
    Case {
        args: &["run", "examples/quadratic.grad", "--steps", "5", "--save", "{dir}/w.safetensors"],
        outputs: &["w.safetensors"],
    },
    Case {
        args: &["compare", "examples/rosenbrock.grad", "--steps", "5", "--out", "{dir}"],
        outputs: &[
            "sgd_lr_0.001.csv",
            "adam_lr_0.05.csv",
            "curves.svg",
            "curves.png",
            "trajectories.svg",
            "trajectories.png",
        ],
    },
    Case {
        args: &["lr-find", "examples/spiral_mlp.grad", "--steps", "10", "--out", "{dir}"],
        outputs: &["lr_find.csv", "lr_find.svg", "lr_find.png"],
    },
    Case { args: &["plot", "{dir}/../log.jsonl", "--out", "{dir}/p"], outputs: &["p.svg", "p.png"] },
    Case { args: &["grad", "examples/quadratic.grad", "--save", "{dir}/g.safetensors"], outputs: &["g.safetensors"] },
    Case { args: &["ir", "examples/quadratic.grad", "--check", "{dir}/q.ir", "--update"], outputs: &["q.ir"] },
    Case {
        args: &[
            "predict",
            "examples/blobs_softmax.grad",
            "--init",
            "{dir}/../w.safetensors",
            "--input",
            "examples/data/blobs.csv",
            "--output",
            "{dir}/y.npy",
        ],
        outputs: &["y.npy"],
    },
];

fn expand(args: &[&str], dir: &Path) -> Vec<String> {
    args.iter().map(|a| a.replace("{dir}", dir.to_str().expect("utf-8 temp path"))).collect()
}

/// What `predict` and `plot` read: a checkpoint and a log beside each case's directory.
fn inputs(base: &Path) {
    let s = |p: PathBuf| p.to_str().expect("utf-8").to_string();
    let args = ["run", "examples/blobs_softmax.grad", "--steps", "3"].map(String::from);
    let mut args = args.to_vec();
    args.extend(["--save".into(), s(base.join("w.safetensors")), "--log".into(), s(base.join("log.jsonl"))]);
    let (ok, _, err) = gradc(&args);
    assert!(ok, "{err}");
}

#[test]
fn every_output_refuses_links_fifos_directories_and_devices_before_working() {
    let base = temp_dir("outputs");
    inputs(&base);
    for (i, case) in CASES.iter().enumerate() {
        let dir = base.join(format!("case{i}"));
        std::fs::create_dir(&dir).expect("mkdir");
        let args = expand(case.args, &dir);
        let (ok, _, err) = gradc(&args);
        assert!(ok, "{args:?} on fresh paths:\n{err}");
        for output in case.outputs {
            assert!(dir.join(output).is_file(), "{args:?} writes {output}");
        }
        for output in case.outputs {
            for kind in REFUSED {
                let path = dir.join(output);
                let aside = base.join(format!("aside{i}"));
                let _ = std::fs::remove_dir_all(&aside);
                std::fs::create_dir(&aside).expect("mkdir");
                kind.plant(&path, &aside);
                let (ok, stdout, err) = gradc(&args);
                assert!(!ok, "{args:?} with {output} a {kind:?} failed");
                assert!(err.contains(output), "the diagnostic names {output}:\n{err}");
                assert!(err.contains("help:") || err.contains("help"), "with a help line:\n{err}");
                assert!(!err.contains("panicked"), "{err}");
                // No training happened: no progress line and no summary.
                assert!(!err.contains("step ") && !err.contains("... "), "refused before training:\n{err}");
                assert!(stdout.is_empty() || args[0] == "ir" || args[0] == "grad", "{stdout}");
                kind.assert_untouched(&path, &aside);
                let _ = std::fs::remove_file(&path);
                let _ = std::fs::remove_dir_all(&path);
            }
        }
        // The case's directory holds nothing but its outputs: no temporary file was left behind.
        let left: Vec<String> = std::fs::read_dir(&dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into())
            .collect();
        assert!(left.iter().all(|f| !f.ends_with(".tmp")), "{left:?}");
    }
}

#[test]
fn a_device_named_as_an_output_is_refused() {
    // (`predict --output` names its format by the extension, so `/dev/null` is refused by that.)
    let null = |flag: &str| {
        let mut args = vec!["run".to_string(), "examples/quadratic.grad".into(), "--steps".into(), "5".into()];
        args.extend([flag.to_string(), "/dev/null".into()]);
        args
    };
    let commands = [
        null("--log"),
        null("--metrics"),
        null("--save"),
        ["grad", "examples/quadratic.grad", "--save", "/dev/null"].map(String::from).to_vec(),
        ["ir", "examples/quadratic.grad", "--check", "/dev/null", "--update"].map(String::from).to_vec(),
    ];
    for args in commands {
        let (ok, _, err) = gradc(&args);
        assert!(!ok, "{args:?} is refused");
        assert!(err.contains("/dev/null") && err.contains("not a regular file"), "{args:?}:\n{err}");
        assert!(!err.contains("step "), "refused before training:\n{err}");
    }
}
