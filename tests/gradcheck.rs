//! `gradc gradcheck`: every example's gradients agree with finite differences, the table for
//! one (a snapshot: the interpreter's f64 numbers are deterministic), dropout and batch norm
//! checked with the step's own mask and batch statistics, and a failure at a kink.

mod common;

use std::path::Path;

use common::{gradc, root, temp_dir};

/// Runs `gradc gradcheck` with arguments; returns whether it succeeded, stdout and stderr.
fn gradcheck(args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["gradcheck"];
    all.extend_from_slice(args);
    let out = gradc(&all);
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).expect("utf-8 output");
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

/// The convolutional examples take a third of a second (mnist_cnn) to a second (residual_cnn)
/// per loss in the interpreter, a few minutes at the default 64 entries per parameter: here
/// they check one entry of their first convolution, whose gradient flows back through every
/// layer (batch norm, relu, max pool, dropout, the residual sums).
fn sample_for(file: &str) -> &'static [&'static str] {
    if file.ends_with("mnist_cnn.grad") {
        &["--sample", "1", "--params", "c1.w"]
    } else if file.ends_with("residual_cnn.grad") {
        &["--sample", "1", "--params", "stem.w"]
    } else {
        &[]
    }
}

#[test]
fn every_example_passes() {
    let root = root();
    insta::glob!("../examples", "*.grad", |path| {
        let rel = path.strip_prefix(&root).expect("example inside the repository");
        let file = rel.to_str().expect("utf-8 path");
        let mut args = vec![file];
        args.extend_from_slice(sample_for(file));
        let (ok, out, err) = gradcheck(&args);
        assert!(ok, "{file}:\n{out}\n{err}");
        let params = out.lines().skip_while(|l| !l.starts_with("parameter")).skip(1).take_while(|l| !l.is_empty());
        let n = params.inspect(|l| assert!(l.ends_with(" pass"), "{file}: {l}")).count();
        assert!(n > 0, "{file}: no parameter checked\n{out}");
    });
}

#[test]
fn spiral_mlp_table() {
    let (ok, out, err) = gradcheck(&["examples/spiral_mlp.grad"]);
    assert!(ok, "{err}");
    insta::assert_snapshot!(out);
}

#[test]
fn all_checks_every_entry() {
    let (ok, out, err) = gradcheck(&["examples/spiral_mlp.grad", "--params", "h1.w,out.b", "--all"]);
    assert!(ok, "{err}");
    assert!(out.contains("\nh1.w       [2, 64]  128  "), "{out}");
    assert!(!out.contains("h2.w") && !out.contains("drawn"), "{out}");
}

/// Writes a program into a fresh directory; returns its path.
fn program(name: &str, text: &str) -> String {
    let path = temp_dir(name).join(format!("{name}.grad"));
    std::fs::write(&path, text).expect("write program");
    path.to_str().expect("utf-8 temp path").to_string()
}

#[test]
fn dropout_and_batch_norm_are_checked_with_the_steps_mask_and_statistics() {
    // Were the mask drawn anew per evaluation, or the statistics the running ones, the
    // differences would not be the derivative of the training step's loss.
    let file = program(
        "dropout",
        "use std.nn.{dense, relu, batch_norm, dropout}\n\
         use std.loss.cross_entropy\n\
         data spiral = spirals(n: 64, classes: 2, noise: 0.05, seed: 1)\n\
         model mlp(x: f32[B, 2]) -> f32[B, 2] {\n\
             h = dropout(relu(batch_norm(dense(x, 16))), 0.5)\n\
             dense(h, 2)\n\
         }\n\
         loss(x, y: i32[B]) = cross_entropy(mlp(x), y)\n\
         train { data = spiral, batch = 16, epochs = 1, seed = 3, optimizer = sgd(lr: 0.1) }\n",
    );
    let (ok, out, err) = gradcheck(&[&file, "--all"]);
    assert!(ok, "{out}\n{err}");
    for p in ["h.w", "h.b", "out.w", "out.b"] {
        assert!(out.lines().any(|l| l.starts_with(p) && l.ends_with(" pass")), "{p}:\n{out}");
    }
}

#[test]
fn a_kink_at_the_point_fails_with_a_diagnostic() {
    // relu's derivative at 0 is taken as 0 (as torch does); the central difference is 1/2 at
    // every step. gradcheck reports it and exits non-zero.
    let file = program(
        "kink",
        "use std.nn.relu\nparam theta: f32 = 0.0\nloss = relu(theta)\ntrain { steps = 1, optimizer = sgd(lr: 0.1) }\n",
    );
    let (ok, out, err) = gradcheck(&[&file]);
    assert!(!ok, "{out}");
    assert!(out.contains("theta      []     1        5.0e-1       1.0e0        0      FAIL"), "{out}");
    assert!(out.contains("worst entry theta: analytic 0e0, numeric 5"), "{out}");
    assert!(err.contains("1 of 1 gradients disagree with finite differences: `theta`"), "{err}");
}

#[test]
fn an_unknown_parameter_is_an_error() {
    let (ok, out, err) = gradcheck(&["examples/spiral_mlp.grad", "--params", "out.b,h3.w"]);
    assert!(!ok && out.is_empty(), "{out}");
    assert!(err.contains("no parameter `h3.w`") && err.contains("h1.w"), "{err}");
}

#[test]
fn init_checks_at_saved_weights() {
    let dir = temp_dir("gradcheck-init");
    let w = dir.join("w.safetensors");
    let w = w.to_str().expect("utf-8 temp path");
    let run = gradc(&["run", "examples/linear_regression.grad", "--steps", "5", "--save", w]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let (ok, at_init, err) = gradcheck(&["examples/linear_regression.grad"]);
    assert!(ok, "{err}");
    let (ok, at_saved, err) = gradcheck(&["examples/linear_regression.grad", "--init", w]);
    assert!(ok, "{err}");
    assert_ne!(at_init, at_saved, "the check ran at other weights");
    assert!(Path::new(w).is_file());
}
