//! Unit tests of the comparison: steps to target, the table and its order, file names, the CSV
//! and the runs' line styles.

use std::time::Duration;

use super::*;
use crate::runtime::train::StopReason;

fn point(step: usize, loss: f64, metrics: &[(&str, f64)]) -> LogPoint {
    let metrics = metrics.iter().map(|(n, v)| (n.to_string(), *v)).collect();
    LogPoint { step, loss, lr: 0.1, hypers: vec![], metrics, params: vec![("w".into(), vec![step as f32])] }
}

fn trained(label: &str, history: Vec<LogPoint>, final_loss: f64) -> Run {
    let summary = Summary {
        steps: history.last().map_or(0, |p| p.step),
        resumed: 0,
        final_loss,
        metrics: vec![("accuracy".into(), 0.875)],
        test: vec![],
        params: vec![],
        history,
        stats: vec![],
        warnings: vec![],
        stopped: StopReason::Completed,
        wall: Duration::from_millis(1500),
        compile: Duration::ZERO,
        ranks: 1,
        summing: Duration::ZERO,
    };
    Run { label: label.into(), style: (0, 0), steps_per_epoch: None, outcome: Outcome::Trained(summary), csv: None }
}

fn report() -> Report {
    let fast = trained("adam(lr: 0.01)", vec![point(10, 0.9, &[]), point(20, 0.2, &[]), point(30, 0.1, &[])], 0.1);
    // The whole-set loss, when logged, counts rather than the batch's.
    let noisy = trained("sgd(lr: 0.1)", vec![point(10, 0.05, &[("loss", 0.8)]), point(20, 0.3, &[("loss", 0.4)])], 0.4);
    let mut diverged = trained("sgd(lr: 10)", vec![point(2, 40.0, &[]), point(3, f64::INFINITY, &[])], f64::NAN);
    if let Outcome::Trained(s) = diverged.outcome {
        let stop = StopReason::Diverged { step: 3, loss: f64::INFINITY, lr: 10.0 };
        diverged.outcome = Outcome::Diverged(stop.diagnostic().expect("a divergence"), Summary { stopped: stop, ..s });
    }
    Report { runs: vec![fast, noisy, diverged], target: 0.11, curves: None, trajectories: None }
}

#[test]
fn steps_to_target_uses_the_first_logged_step_at_or_below_it() {
    let mut r = report();
    assert_eq!(r.steps_to_target(&r.runs[0]), Some(30));
    assert_eq!(r.steps_to_target(&r.runs[1]), None, "a low batch loss alone does not count");
    assert_eq!(r.steps_to_target(&r.runs[2]), None);
    r.set_target(0.4);
    assert_eq!(r.steps_to_target(&r.runs[1]), Some(20));
    r.set_target(0.15);
    let finished_there = trained("x", vec![point(10, 0.9, &[])], 0.12);
    assert_eq!(r.steps_to_target(&finished_there), Some(10), "the final loss counts at the last step");
}

#[test]
fn the_table_aligns_columns_and_spells_out_divergence() {
    let table = report().to_string();
    // The line naming the order, then the header and a row per run.
    let lines: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].starts_with("run ") && lines[0].contains("accuracy") && lines[0].contains("≤ 0.110000"));
    assert!(lines[1].starts_with("adam(lr: 0.01)  ") && lines[1].ends_with("1.50 s"), "{table}");
    assert!(lines[1].contains("0.8750") && lines[1].contains(" 30 "), "{table}");
    assert_eq!(lines[0].chars().count(), lines[1].chars().count(), "aligned:\n{table}");
    assert_eq!(lines[3], "sgd(lr: 10)     diverged: the loss became inf at step 3");
}

/// `report()` with the runs' final metrics replaced.
fn with_metrics(metrics: [&[(&str, f64)]; 3]) -> Report {
    let mut r = report();
    for (run, m) in r.runs.iter_mut().zip(metrics) {
        let (Outcome::Trained(s) | Outcome::Diverged(_, s)) = &mut run.outcome;
        s.metrics = m.iter().map(|(n, v)| (n.to_string(), *v)).collect();
    }
    r
}

fn order(r: &Report) -> Vec<&str> {
    r.ranked().iter().map(|run| run.label.as_str()).collect()
}

#[test]
fn the_table_is_sorted_by_the_headline_metric_and_says_so() {
    // Validation accuracy before training accuracy; a diverged run stays last.
    let r =
        with_metrics([&[("accuracy", 0.99), ("val_accuracy", 0.8)], &[("accuracy", 0.9), ("val_accuracy", 0.85)], &[]]);
    assert_eq!(r.headline(), Some(("val_accuracy", true)));
    assert_eq!(order(&r), ["sgd(lr: 0.1)", "adam(lr: 0.01)", "sgd(lr: 10)"]);
    let table = r.to_string();
    assert!(table.starts_with("runs by val_accuracy, highest first\nrun "), "{table}");
    assert!(table.lines().nth(2).is_some_and(|l| l.starts_with("sgd(lr: 0.1) ")), "{table}");
    // Without accuracy, the lowest loss first.
    let r = with_metrics([&[], &[], &[]]);
    assert_eq!(r.headline(), Some(("loss", false)));
    assert_eq!(order(&r), ["adam(lr: 0.01)", "sgd(lr: 0.1)", "sgd(lr: 10)"]);
    assert!(r.to_string().starts_with("runs by final loss, lowest first\n"));
    let r = with_metrics([&[("val_loss", 0.5)], &[("val_loss", 0.25)], &[]]);
    assert_eq!(order(&r), ["sgd(lr: 0.1)", "adam(lr: 0.01)", "sgd(lr: 10)"], "validation loss before training loss");
}

fn label(model: Option<&str>, setting: &str) -> Label {
    Label { text: String::new(), model: model.map(str::to_string), setting: setting.into() }
}

#[test]
fn models_get_line_styles_and_settings_colours() {
    let (mlp, cnn) = (Some("mlp"), Some("cnn"));
    let crossed = [label(mlp, "sgd"), label(mlp, "adam"), label(cnn, "sgd"), label(cnn, "adam")];
    assert_eq!(styles(&crossed.iter().collect::<Vec<_>>()), [(0, 0), (1, 0), (0, 1), (1, 1)]);
    // One thing varies: colours in order, dashed once the palette is used up.
    let many: Vec<Label> = (0..12).map(|i| label(None, &format!("sgd(lr: {i})"))).collect();
    let s = styles(&many.iter().collect::<Vec<_>>());
    assert_eq!((s[0], s[9], s[10], s[11]), ((0, 0), (9, 0), (0, 1), (1, 1)));
    let models = [label(mlp, ""), label(cnn, "")];
    assert_eq!(styles(&models.iter().collect::<Vec<_>>()), [(0, 0), (1, 0)], "only the model varies");
}

#[test]
fn file_stems_are_readable_and_distinct() {
    let mut taken = vec!["curves".to_string()];
    assert_eq!(file_stem("momentum(lr: 0.1, momentum: 0.9)", &mut taken), "momentum_lr_0.1_momentum_0.9");
    assert_eq!(file_stem("momentum(lr: 0.1, momentum: 0.9)", &mut taken), "momentum_lr_0.1_momentum_0.9_2");
    assert_eq!(file_stem("adam(lr: 1e-3) + exponential(gamma: 0.9)", &mut taken), "adam_lr_1e-3_exponential_gamma_0.9");
    assert_eq!(file_stem("curves", &mut taken), "curves_2");
    assert_eq!(file_stem("(( ))", &mut taken), "run");
    assert_eq!(file_stem("../..", &mut taken), "run_2", "no path can escape the output directory");
    assert_eq!(file_stem(".hidden", &mut taken), "hidden");
}

#[test]
fn the_csv_has_a_row_per_logged_step_with_scalar_parameters() {
    let dir = std::env::temp_dir().join(format!("gradc-compare-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("run.csv");
    let run = trained("r", vec![point(1, 0.5, &[("loss", 0.25), ("accuracy", 0.5)]), point(2, 0.4, &[])], 0.1);
    write_csv(&path, run.summary().expect("trained")).expect("CSV written");
    let text = std::fs::read_to_string(&path).expect("read back");
    assert_eq!(text, "step,loss,lr,train_loss,accuracy,w\n1,0.5,0.1,0.25,0.5,1\n2,0.4,0.1,,,2\n");
}

#[test]
fn comparing_nothing_is_a_diagnostic() {
    let err = compare(&mut [], &RunConfig::default(), Path::new("unused"), ProgressTo::Hidden).expect_err("no runs");
    assert_eq!(err.code, errors::COMPARE_EMPTY);
}
