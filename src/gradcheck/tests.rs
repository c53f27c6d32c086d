//! The check on examples, and on gradients made wrong on purpose: a VJP that forgets its mask
//! and gradients off by a factor.

use std::path::Path;

use super::{check, Entry, Row, ATOL, RTOL};
use crate::driver::{self, Compiled};
use crate::gradmath::{of, values};
use crate::ir::{BinOp, Graph, Op};

fn compile(example: &str) -> Compiled {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(example);
    let mut front = driver::parse(&path).unwrap_or_else(|(d, s)| panic!("{}", d.with_sources(&s).render_plain()));
    driver::compile(&mut front).unwrap_or_else(|d| panic!("{}", d.with_sources(&front.sources).render_plain()))
}

/// Checks `backward` (made from spiral_mlp's) on spiral_mlp's first batch, 16 entries each.
fn spiral_with(change: impl Fn(&mut Graph)) -> Vec<Row> {
    let c = compile("spiral_mlp.grad");
    let (_, mut backward) = of(&c);
    change(&mut backward);
    let feed = values::feed(&c, &backward, None).expect("feed");
    let params: Vec<String> = c.lowered.params.iter().map(|p| p.name.clone()).collect();
    check(&c, &feed, &backward, &params, Some(16))
}

fn verdicts(rows: &[Row]) -> Vec<(&str, bool)> {
    rows.iter().map(|r| (r.param.as_str(), r.passes())).collect()
}

#[test]
fn the_derived_gradients_pass() {
    let rows = spiral_with(|_| {});
    assert!(rows.iter().all(|r| r.passes() && !r.entries.is_empty()), "{rows:?}");
    // Far inside the tolerance: rounding of the differences only.
    assert!(rows.iter().all(|r| r.max_abs() < 1e-8), "{rows:?}");
}

#[test]
fn a_relu_vjp_without_its_mask_fails_the_layers_before_it() {
    // relu(x) = maximum(x, 0); its VJP is select(x > 0, g, 0). Make it select(x > 0, g, g) = g,
    // as if the rule forgot the mask, in the unoptimised backward graph, then optimise.
    let c = compile("spiral_mlp.grad");
    let mut raw = crate::autodiff::backward(&c.lowered.forward);
    let zero = |g: &Graph, n: crate::ir::NodeId| match &g.node(n).op {
        Op::Const(v) => *v == 0.0,
        Op::Broadcast(_) => matches!(g.node(g.node(n).args[0]).op, Op::Const(v) if v == 0.0),
        _ => false,
    };
    let masks: Vec<usize> = (0..raw.nodes.len())
        .filter(|&i| {
            let n = &raw.nodes[i];
            n.op == Op::Select && raw.node(n.args[0]).op == Op::Binary(BinOp::Gt) && zero(&raw, n.args[2])
        })
        .collect();
    assert_eq!(masks.len(), 2, "one relu VJP per hidden layer");
    for i in masks {
        raw.nodes[i].args[2] = raw.nodes[i].args[1];
    }
    let backward = crate::passes::optimize(&raw);
    let feed = values::feed(&c, &backward, None).expect("feed");
    let params: Vec<String> = c.lowered.params.iter().map(|p| p.name.clone()).collect();
    let rows = check(&c, &feed, &backward, &params, Some(16));
    // The output layer's gradient reads no relu VJP; both hidden layers' do.
    let want = [("h1.w", false), ("h1.b", false), ("h2.w", false), ("h2.b", false), ("out.w", true), ("out.b", true)];
    assert_eq!(verdicts(&rows), want);
}

/// Multiplies the gradient output of `param` by `factor`.
fn scale(g: &mut Graph, param: &str, factor: f64) {
    let at = g.outputs.iter().position(|o| o.name == format!("{param}.grad")).expect("gradient output");
    let node = g.outputs[at].node;
    let shape = g.ty(node).shape.clone();
    let k = g.splat(factor, &shape);
    g.outputs[at].node = g.build(Op::Binary(BinOp::Mul), vec![node, k]);
}

#[test]
fn a_gradient_one_percent_off_fails_and_only_it() {
    let rows = spiral_with(|g| scale(g, "h2.w", 1.01));
    let want = [("h1.w", true), ("h1.b", true), ("h2.w", false), ("h2.b", true), ("out.w", true), ("out.b", true)];
    assert_eq!(verdicts(&rows), want);
    let h2 = &rows[2];
    // 1 − 1/1.01 of each entry, more where rounding of a tiny entry adds to it.
    assert!((0.0099..0.011).contains(&h2.max_rel()), "{}", h2.max_rel());
}

#[test]
fn an_error_within_the_tolerance_passes() {
    // 1e-4 relative is below rtol = 1e-3.
    let rows = spiral_with(|g| scale(g, "out.b", 1.0001));
    assert!(rows.iter().all(Row::passes), "{rows:?}");
    assert!(rows[5].max_rel() > 9e-5, "the change shows in the error: {}", rows[5].max_rel());
}

#[test]
fn an_entry_passes_at_the_torch_tolerance() {
    let at = |analytic: f64, numeric: f64| Entry { index: 0, analytic, numeric, step: super::EPS };
    assert!(at(1.0 + 0.9 * (ATOL + RTOL), 1.0).passes());
    assert!(!at(1.0 + 1.1 * (ATOL + RTOL), 1.0).passes());
    assert!(at(0.9 * ATOL, 0.0).passes());
    assert!(!at(1.1 * ATOL, 0.0).passes());
    assert_eq!(at(0.0, 0.0).rel_err(), 0.0);
}

#[test]
fn a_sample_is_the_same_on_every_call_and_spread_over_the_parameter() {
    let a = super::indices(4096, Some(64), 42, "h2.w");
    assert_eq!(a, super::indices(4096, Some(64), 42, "h2.w"));
    assert_eq!(a.len(), 64);
    assert!(a.windows(2).all(|w| w[0] < w[1]), "sorted and distinct");
    assert!(a[0] < 1024 && a[63] > 3072, "spread: {a:?}");
    assert_ne!(a, super::indices(4096, Some(64), 42, "h1.w"));
    assert_eq!(super::indices(10, Some(64), 42, "b"), (0..10).collect::<Vec<_>>());
    assert_eq!(super::indices(100, None, 42, "b").len(), 100);
}
