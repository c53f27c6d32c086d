//! `gradc plot` end to end: the curves of `run --log` files as SVG and PNG, and its errors.

mod common;

use common::{gradc, temp_dir};

#[test]
fn plots_a_run_s_log_with_validation_beside_training() {
    let dir = temp_dir("plot");
    let log = dir.join("glyphs.jsonl");
    let log_s = log.to_str().expect("utf-8 temp path");
    let out = gradc(&["run", "examples/glyphs_mlp.grad", "--steps", "30", "--log", log_s]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = gradc(&["plot", log_s]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("glyphs.svg") && stdout.contains("glyphs.png"), "{stdout}");
    let svg = std::fs::read_to_string(dir.join("glyphs.svg")).expect("SVG written");
    let texts: Vec<&str> = svg.split("</text>").filter_map(|t| t.rsplit_once('>').map(|(_, x)| x.trim())).collect();
    for text in ["loss", "accuracy", "glyphs", "glyphs (validation)"] {
        assert!(texts.contains(&text), "{text} in the SVG: {texts:?}");
    }
    assert_eq!(&std::fs::read(dir.join("glyphs.png")).expect("PNG written")[..4], b"\x89PNG");
}

#[test]
fn a_malformed_log_or_a_symlinked_output_is_a_diagnostic() {
    let dir = temp_dir("plot_bad");
    let log = dir.join("bad.jsonl");
    std::fs::write(&log, "{\"step\": 1, \"loss\": 0.5}\nnot json\n").expect("write log");
    let out = gradc(&["plot", log.to_str().expect("utf-8 temp path")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("line 2 is not a gradc log"), "{stderr}");

    std::fs::write(&log, "{\"step\": 1, \"loss\": 0.5}\n{\"step\": 2, \"loss\": 0.25}\n").expect("write log");
    let target = dir.join("elsewhere.svg");
    std::fs::write(&target, "keep").expect("write target");
    std::os::unix::fs::symlink(&target, dir.join("bad.svg")).expect("symlink");
    let out = gradc(&["plot", log.to_str().expect("utf-8 temp path")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&target).expect("target kept"), "keep");
}
