//! Schedules that set hyper-parameters besides the learning rate, end to end: what reaches the
//! optimizer, and how `then` and `*` combine what two schedules set.

mod common;

use std::path::Path;

use gradc::driver;
use gradc::driver::train;
use gradc::runtime::log::ProgressTo;
use gradc::runtime::train::{RunConfig, Summary};

/// Trains `(w - 3)^2 + (v + 1)^2` for `steps` steps under `optimizer` and `schedule`, with the
/// extra declarations `decls`, logging every step.
fn run(name: &str, decls: &str, optimizer: &str, schedule: &str, steps: usize) -> Summary {
    let schedule = if schedule.is_empty() { String::new() } else { format!(", schedule = {schedule}") };
    let src = format!(
        "param w: f32 = 0\nparam v: f32 = 2\nloss = (w - 3)^2 + (v + 1)^2\n{decls}\n\
         train {{ optimizer = {optimizer}{schedule}, steps = {steps}, log_every = 1 }}\n"
    );
    let path = common::temp_dir(name).join("p.grad");
    std::fs::write(&path, src).expect("write program");
    let mut front =
        driver::parse(Path::new(&path)).unwrap_or_else(|(d, s)| panic!("{}", d.with_sources(&s).render_plain()));
    let c = driver::compile(&mut front).unwrap_or_else(|d| panic!("{}", d.with_sources(&front.sources).render_plain()));
    train(&c, &RunConfig::default(), ProgressTo::Hidden).unwrap_or_else(|d| panic!("{}", d.render_plain()))
}

/// The logged value of hyper-parameter `name` at each step.
fn hyper(s: &Summary, name: &str) -> Vec<f64> {
    let value = |p: &gradc::runtime::train::LogPoint| {
        p.hypers.iter().find(|h| h.0 == name).unwrap_or_else(|| panic!("step {}: no `{name}`", p.step)).1
    };
    s.history.iter().map(value).collect()
}

/// The parameters after each step.
fn trajectory(s: &Summary) -> Vec<Vec<f32>> {
    s.history.iter().map(|p| p.params.iter().flat_map(|(_, v)| v.clone()).collect()).collect()
}

/// Each value within `rel` of the other's, relative.
fn close(a: &[Vec<f32>], b: &[Vec<f32>], rel: f32) -> bool {
    a.len() == b.len()
        && a.iter().flatten().zip(b.iter().flatten()).all(|(x, y)| (x - y).abs() <= rel * y.abs().max(1e-3))
}

/// Each value equal to the expected one within f32 rounding.
fn assert_values(got: &[f64], want: &[f64], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-6, "{what}: {got:?}, expected {want:?}");
    }
}

/// A momentum a schedule sets is the optimizer's momentum: a record holding it constant trains
/// as the optimizer given that momentum does, for sgd (whose momentum buffer then exists although
/// its own momentum is 0) and, as `beta1`, for adam.
#[test]
fn a_scheduled_momentum_is_the_optimizers() {
    let decls = "schedule held() = {momentum: 0.7}";
    for (optimizer, given) in
        [("sgd(lr: 0.05)", "sgd(lr: 0.05, momentum: 0.7)"), ("adam(lr: 0.1)", "adam(lr: 0.1, beta1: 0.7)")]
    {
        let scheduled = run("held", decls, optimizer, "held", 12);
        let fixed = run("fixed", "", given, "", 12);
        let name = if optimizer.starts_with("adam") { "beta1" } else { "momentum" };
        assert_values(&hyper(&scheduled, name), &[0.7; 12], optimizer);
        assert!(scheduled.history.iter().all(|p| p.lr == fixed.history[0].lr), "{optimizer}: the lr stays the base");
        assert!(close(&trajectory(&scheduled), &trajectory(&fixed), 1e-6), "{optimizer}: trains as {given}");
        assert!(fixed.history.iter().all(|p| p.hypers.is_empty()), "without a schedule, nothing else is logged");
    }
}

/// `a then b`: a hyper-parameter only `b` sets keeps the optimizer's own value while `a` runs.
#[test]
fn then_leaves_the_optimizers_value_where_a_schedule_sets_none() {
    let s = run("then", "", "sgd(lr: 0.1, momentum: 0.5)", "warmup(steps: 3) then cyclic(max_lr: 0.2, up: 2)", 6);
    // cyclic's momentum from 0.9 down to 0.8 at its peak, two steps after the switch.
    assert_values(&hyper(&s, "momentum"), &[0.5, 0.5, 0.5, 0.9, 0.85, 0.8], "warmup then cyclic");
}

/// `a * b` multiplies the learning rates' factors; any other hyper-parameter comes from the
/// schedule that sets it, the later one when both do.
#[test]
fn a_product_takes_the_later_schedules_momentum() {
    let cyclic = "cyclic(max_lr: 0.2, up: 2)";
    let lower = "cyclic(max_lr: 0.2, up: 2, base_momentum: 0.5, max_momentum: 0.6)";
    let one = run("product_one", "", "sgd(lr: 0.1)", &format!("exponential(gamma: 0.5) * {cyclic}"), 3);
    assert_values(&hyper(&one, "momentum"), &[0.9, 0.85, 0.8], "exponential * cyclic");
    let both = run("product_both", "", "sgd(lr: 0.1)", &format!("{cyclic} * {lower}"), 3);
    assert_values(&hyper(&both, "momentum"), &[0.6, 0.55, 0.5], "cyclic * cyclic");
}
