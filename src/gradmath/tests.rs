//! The gradients' values against the reference interpreter and finite differences, and the
//! terms the patterns give.

use std::path::Path;

use super::{of, values};
use crate::driver::{self, Compiled};
use crate::ir::interp::eval;
use crate::ir::OutputRole;

fn compile(example: &str) -> Compiled {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(example);
    let mut front = driver::parse(&path).unwrap_or_else(|(d, s)| panic!("{}", d.with_sources(&s).render_plain()));
    driver::compile(&mut front).unwrap_or_else(|d| panic!("{}", d.with_sources(&front.sources).render_plain()))
}

/// The compiled gradients agree with the interpreter's on the unoptimised backward graph.
fn agrees_with_interpreter(example: &str) {
    let c = compile(example);
    let (_, backward) = of(&c);
    let feed = values::feed(&c, &backward, None).expect("feed");
    let got = values::compute(&c, &backward, &feed, 1).expect("values");
    let raw = crate::autodiff::backward(&c.lowered.forward);
    let want = eval(&raw, &values::tensors(&c, &raw, &feed));
    let grads = raw.outputs.iter().zip(&want).filter(|(o, _)| o.role == OutputRole::Grad);
    let mut compared = 0;
    for (o, t) in grads {
        let v = got.iter().find(|v| format!("{}.grad", v.param) == o.name).expect("a value per gradient");
        assert_eq!(v.shape, t.shape, "{}", o.name);
        let scale = t.data.iter().fold(1e-6f64, |m, x| m.max(x.abs()));
        for (a, b) in v.data.iter().zip(&t.data) {
            assert!((f64::from(*a) - b).abs() <= 1e-4 * scale, "{}: {a} vs {b}", o.name);
        }
        compared += 1;
    }
    assert_eq!(compared, c.lowered.params.len());
}

#[test]
fn spiral_mlp_values_agree_with_the_interpreter() {
    agrees_with_interpreter("spiral_mlp.grad");
}

#[test]
fn linear_regression_values_agree_with_the_interpreter() {
    agrees_with_interpreter("linear_regression.grad");
}

#[test]
fn rosenbrock_values_agree_with_central_differences() {
    let c = compile("rosenbrock.grad");
    let (_, backward) = of(&c);
    let feed = values::feed(&c, &backward, None).expect("feed");
    let got = values::compute(&c, &backward, &feed, 1).expect("values");
    let at = |name: &str| f64::from(feed.values.iter().find(|v| v.0 == name).expect("parameter").1[0]);
    let loss = |x: f64, y: f64| (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
    let (x, y, h) = (at("x"), at("y"), 1e-5);
    let dx = (loss(x + h, y) - loss(x - h, y)) / (2.0 * h);
    let dy = (loss(x, y + h) - loss(x, y - h)) / (2.0 * h);
    for (name, want) in [("x", dx), ("y", dy)] {
        let v = f64::from(got.iter().find(|v| v.param == name).expect("gradient").data[0]);
        assert!((v - want).abs() <= 1e-4 * want.abs().max(1.0), "∂loss/∂{name}: {v} vs {want}");
    }
}

#[test]
fn names_follow_the_values_through_the_optimiser() {
    let c = compile("spiral_mlp.grad");
    let names: Vec<&str> = c.lowered.names.iter().map(|n| n.1.as_str()).collect();
    // The model is called twice (the loss and the accuracy metric); each call names its values.
    assert_eq!(names, ["h1", "h2", "mlp(x)", "h1", "h2", "mlp(x)"]);
    let text = super::render::text(&of(&c).0, Some("out.w"), &|_| vec![]);
    assert!(text.contains("∂loss/∂out.w = h2ᵀ · δ_out"), "{text}");
}
