//! `gradc grad`: every example's gradients as maths (snapshots), LaTeX that is well formed,
//! `--param`, and the values `--values` prints and `--save` writes.

mod common;

use std::path::Path;

use common::{gradc, root, temp_dir};

fn stdout_of(args: &[&str]) -> String {
    let out = gradc(args);
    assert!(out.status.success(), "gradc {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[test]
fn every_example_as_text_and_latex() {
    let root = root();
    insta::glob!("../examples", "*.grad", |path| {
        let rel = path.strip_prefix(&root).expect("example inside the repository");
        let file = rel.to_str().expect("utf-8 path");
        insta::assert_snapshot!("text", stdout_of(&["grad", file]));
        check_latex(&stdout_of(&["grad", file, "--latex"]));
    });
}

/// What compiling needs of the LaTeX when no TeX is installed: braces and `\left`/`\right`
/// balanced, only the commands the document uses, and every line of the aligned block ended.
fn check_latex(doc: &str) {
    let mut depth = 0i64;
    for c in doc.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        assert!(depth >= 0, "a `}}` closes nothing:\n{doc}");
    }
    assert_eq!(depth, 0, "unbalanced braces:\n{doc}");
    let count = |s: &str| doc.matches(s).count();
    assert_eq!(count("\\left"), count("\\right"), "unbalanced \\left and \\right:\n{doc}");
    assert!(doc.starts_with("\\documentclass{article}\n") && doc.ends_with("\\end{document}\n"), "{doc}");
    assert_eq!(count("\\begin{align*}"), 1);
    const KNOWN: [&str; 30] = [
        "documentclass",
        "usepackage",
        "allowdisplaybreaks",
        "begin",
        "end",
        "text",
        "frac",
        "partial",
        "mathrm",
        "delta",
        "cdot",
        "odot",
        "top",
        "sum",
        "max",
        "min",
        "exp",
        "log",
        "tanh",
        "sin",
        "cos",
        "operatorname",
        "left",
        "right",
        "le",
        "neq",
        "lvert",
        "rvert",
        "times",
        "ldots",
    ];
    let mut rest = doc;
    while let Some(at) = rest.find('\\') {
        rest = &rest[at + 1..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
        if name.is_empty() {
            // `\\`, `\_`, `\{`, `\}`, `\%`, `\&`, `\#`, `\$`: a line end or an escaped character.
            let next = rest.chars().next().expect("nothing after a backslash");
            assert!("\\_{}%&#$".contains(next), "unknown escape `\\{next}`:\n{doc}");
            rest = &rest[next.len_utf8()..];
        } else {
            assert!(KNOWN.contains(&name.as_str()), "unknown command `\\{name}`:\n{doc}");
        }
    }
    assert!(doc.is_ascii(), "LaTeX without packages for Unicode must be ASCII:\n{doc}");
}

#[test]
fn the_quadratic_is_written_as_a_reader_would() {
    let text = stdout_of(&["grad", "examples/quadratic.grad"]);
    assert_eq!(text, "∂loss/∂theta = 2·(theta − 3)\n");
}

#[test]
fn the_spiral_mlp_in_latex() {
    insta::assert_snapshot!(stdout_of(&["grad", "examples/spiral_mlp.grad", "--latex"]));
}

#[test]
fn one_parameter_with_the_lines_it_reads() {
    let text = stdout_of(&["grad", "examples/spiral_mlp.grad", "--param", "h2.w"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "let δ_out = (softmax(mlp(x)) − onehot(y)) / B", "{text}");
    assert_eq!(lines[1], "let δ_h2 = [h2 > 0] ⊙ (δ_out · out.wᵀ)", "{text}");
    assert_eq!(lines[2], "∂loss/∂h2.w = h1ᵀ · δ_h2", "{text}");
    assert_eq!(lines.len(), 4, "{text}");
}

#[test]
fn an_unknown_parameter_is_a_diagnostic_with_a_suggestion() {
    let out = gradc(&["grad", "examples/spiral_mlp.grad", "--param", "outw"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no parameter `outw`") && err.contains("did you mean `out.w`?"), "{err}");
}

#[test]
fn values_of_the_quadratic_at_initialisation() {
    let text = stdout_of(&["grad", "examples/quadratic.grad", "--values"]);
    // θ starts at 0, where 2·(θ − 3) = −6.
    assert_eq!(text, "∂loss/∂theta = 2·(theta − 3)\n    value: -6.000000\n");
}

/// The f32 tensors of a safetensors file, by name.
fn read_tensors(path: &Path) -> Vec<(String, Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).expect("read saved gradients");
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("a safetensors file");
    let mut out: Vec<(String, Vec<usize>, Vec<f32>)> = st
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let data = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            (name, view.shape().to_vec(), data)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn save_writes_the_printed_values_and_init_moves_them() {
    let dir = temp_dir("grad-save");
    let save = dir.join("g.safetensors");
    let save_s = save.to_str().expect("utf-8 path");
    stdout_of(&["grad", "examples/linear_regression.grad", "--save", save_s]);
    let tensors = read_tensors(&save);
    let names: Vec<&str> = tensors.iter().map(|t| t.0.as_str()).collect();
    assert_eq!(names, ["b", "w"]);
    assert_eq!(tensors[1].1, [3, 1]);
    // Every weight starts at 0, so the prediction is 0 and ∂loss/∂b = mean(2·(0 − y)) = −2·mean(y).
    assert!(tensors.iter().all(|t| t.2.iter().all(|x| x.is_finite() && *x != 0.0)), "{tensors:?}");

    // From the gradient's own file as weights (same names and shapes), the gradient changes.
    let again = dir.join("g2.safetensors");
    stdout_of(&["grad", "examples/linear_regression.grad", "--init", save_s, "--save", again.to_str().unwrap()]);
    assert_ne!(read_tensors(&again), tensors);
}

#[cfg(unix)]
#[test]
fn save_refuses_to_replace_what_is_not_a_regular_file() {
    let dir = temp_dir("grad-save-link");
    let target = dir.join("target.txt");
    std::fs::write(&target, "keep").expect("write target");
    let link = dir.join("g.safetensors");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let out = gradc(&["grad", "examples/quadratic.grad", "--save", link.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("symbolic link"));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
}
