//! The prediction graph of `gradc predict`: the model's output for a batch of features, in
//! evaluation mode (running statistics, no dropout), with the parameters and buffers named as
//! in the forward graph (the model is transparent, as when the loss or a metric calls it).

use super::{Elab, Env, Mode, Val};
use crate::diag::Diag;
use crate::ir::{Graph, InputRole, OutputRole, Type};
use crate::sema::scope::Module;
use crate::sema::DataShape;

/// The name of the prediction graph's output.
pub const OUTPUT: &str = "output";

/// Elaborates the model `m` declares (it has one: `Module::has_model`) on batches of `batch`
/// rows of features of `data`'s shape.
pub(in crate::sema) fn predict(m: &Module, data: &DataShape, batch: usize) -> Result<Graph, Diag> {
    // `has_model` is what the caller checked.
    let model = m.model.as_ref().expect("a program with a model");
    let mut e = Elab::new(m, "predict", Mode::Eval);
    let name = m.loss.params.first().map_or("x", |f| f.name.name.as_str());
    let x = e.g.add_input(name, Type::f32([&[batch][..], &data.features].concat()), InputRole::Data);
    for p in &m.params {
        let mut env = Env::new(m.user);
        e.declare_param(p, &mut env)?;
    }
    let out = e.call_decl(model, vec![(None, Val::Tensor(x), model.span)], model.span)?;
    let node = e.tensor(out, model.span)?;
    e.g.add_output(OUTPUT, node, OutputRole::Prediction);
    Ok(e.g)
}
