//! A small convolutional network end to end: it trains and its loss falls, and it compiles with
//! every stdlib optimizer and with clipping and accumulation — so no path differentiates a
//! gradient op (the max-pool gradient has no VJP of its own).

mod common;

use common::{num, run_logged, temp_dir};
use gradc::driver;

const FILE: &str = "tests/fixtures/cnn/blobs_cnn.grad";

#[test]
fn cnn_trains_and_its_loss_falls() {
    let (lines, _) = run_logged(FILE, &[]);
    let steps: Vec<(f64, f64)> =
        lines.iter().filter(|l| l.get("final").is_none()).map(|l| (num(l, "step"), num(l, "loss"))).collect();
    assert_eq!(steps.last().map(|s| s.0), Some(120.0), "15 batches of 16 for 8 epochs");
    let third = steps.len() / 3;
    let mean = |s: &[(f64, f64)]| s.iter().map(|x| x.1).sum::<f64>() / s.len() as f64;
    let (first, last) = (mean(&steps[..third]), mean(&steps[steps.len() - third..]));
    assert!(last < 0.7 * first, "mean logged loss of the first third {first}, of the last {last}");
    let summary = lines.iter().find(|l| l.get("final").is_some()).expect("a final line");
    assert!(num(summary, "accuracy") > 0.7, "{summary}");
}

#[test]
fn cnn_compiles_with_every_optimizer_clipping_and_accumulation() {
    let source = std::fs::read_to_string(common::root().join(FILE)).expect("read the fixture");
    let dir = temp_dir("cnn_optimizers");
    let optimizers = [
        "sgd(lr: 0.1)",
        "momentum(lr: 0.1)",
        "nesterov(lr: 0.1)",
        "adagrad",
        "rmsprop",
        "adam",
        "adamw",
        "adamax",
        "nadam",
        "radam",
        "adadelta",
        "ftrl",
        "lion",
        "adam, clip = global_norm(1.0), accumulate = 2",
    ];
    for (i, opt) in optimizers.iter().enumerate() {
        let text = source.replace("optimizer = adam(lr: 0.01)", &format!("optimizer = {opt}"));
        assert_ne!(text, source, "the fixture names its optimizer as this test expects");
        let path = dir.join(format!("cnn{i}.grad"));
        std::fs::write(&path, text).expect("write the variant");
        let mut front = driver::parse(&path).unwrap_or_else(|(d, s)| panic!("{}", d.with_sources(&s).render_plain()));
        if let Err(d) = driver::compile(&mut front) {
            panic!("{opt}: {}", d.with_sources(&front.sources).render_plain());
        }
    }
}
