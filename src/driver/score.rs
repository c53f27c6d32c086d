//! `gradc eval` and `gradc predict`: a saved model scored on a data declaration, or run on rows
//! of features, without training. The program is compiled as for a run from the checkpoint
//! (so its data is standardized with the checkpoint's statistics), then one graph at the rows'
//! number, whose parameters come from the checkpoint.

use std::borrow::Cow;
use std::path::Path;

use super::{data_shape, errors, eval_at, jit, one_hot_classes, Compiled};
use crate::data::array::Values;
use crate::data::{self, Dataset};
use crate::diag::Diag;
use crate::ir::DType;
use crate::runtime::checkpoint;
use crate::runtime::runner::Runner;
use crate::runtime::score::{self, Format, Prediction, Scores};
use crate::{passes, sema};

/// Which rows of a data declaration `gradc eval` scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Every row of a declaration used whole (a `test = t` set, `--data NAME`).
    Whole,
    /// The rows the training declaration trains on, after its split.
    Training,
    /// The rows the training declaration's `split(test: ...)` holds out.
    Test,
}

impl Part {
    /// The part's name, as `--json` writes it.
    pub fn name(self) -> &'static str {
        match self {
            Part::Whole => "whole",
            Part::Training => "training",
            Part::Test => "test",
        }
    }
}

/// What `gradc eval` found.
#[derive(Debug, Clone)]
pub struct Evaluated {
    /// The data declaration scored.
    pub data: String,
    /// Which of its rows.
    pub part: Part,
    /// How many.
    pub rows: usize,
    /// The loss and metrics over them.
    pub scores: Scores,
}

/// Scores the model saved in `init` on the data declaration `name` (its training rows, if it
/// is the train block's data) or, without a name, on the train block's test set; data paths
/// are relative to `dir`.
pub fn eval(c: &Compiled, dir: &Path, init: &Path, name: Option<&str>, threads: usize) -> Result<Evaluated, Diag> {
    let (Some(train), Some(spec)) = (&c.data, c.module.data()) else {
        return Err(errors::eval_without_data());
    };
    let t = c.module.train();
    let (data, part, rows): (&str, Part, Cow<'_, Dataset>) = match name {
        None => match (&c.test, &t.test) {
            (Some(test), Some(declared)) => (&declared.name, Part::Whole, Cow::Borrowed(test)),
            (Some(test), None) => (&spec.name, Part::Test, Cow::Borrowed(test)),
            (None, _) => return Err(errors::no_test_set(&spec.name)),
        },
        Some(name) => match c.module.eval_data(name)? {
            None => (name, Part::Training, Cow::Borrowed(train)),
            Some(held) => {
                let ds = data::source::load_for(&held, dir, c.scaling.as_ref())?;
                data::source::check_like(&held, &ds, train, &spec.name)?;
                if let Some(classes) = one_hot_classes(&c.lowered.forward) {
                    data::source::check_classes(&held, t.seed, &ds, None, None, classes)?;
                }
                (name, Part::Whole, Cow::Owned(ds))
            }
        },
    };
    let scores = score_rows(c, init, &rows, threads)?;
    Ok(Evaluated { data: data.to_string(), part, rows: rows.n, scores })
}

/// The loss and metrics of the model saved in `init` over `rows`, preprocessed as training rows.
pub fn score_rows(c: &Compiled, init: &Path, rows: &Dataset, threads: usize) -> Result<Scores, Diag> {
    let graph = eval_at(c, rows.n)?;
    let mut runner = Runner::new(&graph, jit(&graph, &super::options(c, threads))?);
    let weights = checkpoint::load_weights(init, &score::weight_inputs(&graph))?;
    Ok(score::score(&mut runner, &weights, rows))
}

/// What `gradc predict` wrote.
#[derive(Debug, Clone)]
pub struct Predicted {
    /// Rows predicted.
    pub rows: usize,
    /// The shape of the array written.
    pub shape: Vec<usize>,
}

/// Runs the model saved in `init` on the rows of features in `input` (`.npy` or `.csv`,
/// preprocessed as the training rows were) and writes `what` of each row to `output`.
pub fn predict(
    c: &Compiled,
    init: &Path,
    input: &Path,
    output: &Path,
    what: Prediction,
    threads: usize,
) -> Result<Predicted, Diag> {
    let format = Format::of(output)?;
    // Refused before any work, as `--save` is.
    crate::output::check(output).map_err(|e| crate::runtime::errors::predict_unwritable(output, e))?;
    let (train, spec) = predicting(c)?;
    let rows = data::inputs::load_inputs(input, spec, &train.shape, c.scaling.as_ref())?;
    let (shape, values) = predict_rows(c, init, &rows, what, threads)?;
    score::write(output, format, what, &shape, &values)?;
    Ok(Predicted { rows: rows.n, shape })
}

/// The training rows and declaration of a program `gradc predict` can run, or why it cannot.
pub fn predicting(c: &Compiled) -> Result<(&Dataset, &data::DataSpec), Diag> {
    let (Some(train), Some(spec)) = (&c.data, c.module.data()) else {
        return Err(errors::predict_without_data());
    };
    if !c.module.has_model() {
        return Err(errors::predict_without_model(c.module.loss_span()));
    }
    Ok((train, spec))
}

/// `what` of each of `rows` (preprocessed as training rows) by the model saved in `init`: the
/// shape and values of the predictions.
pub fn predict_rows(
    c: &Compiled,
    init: &Path,
    rows: &Dataset,
    what: Prediction,
    threads: usize,
) -> Result<(Vec<usize>, Values), Diag> {
    let (train, _) = predicting(c)?;
    let graph = passes::optimize(&c.module.predict_graph(&data_shape(train), rows.n)?);
    // The prediction graph has its one output (sema adds it).
    let out = graph.output(sema::PREDICTION).expect("the prediction output");
    let ty = graph.ty(out.node).clone();
    if ty.dtype != DType::F32 {
        return Err(errors::predict_not_f32(&ty.to_string()));
    }
    if what != Prediction::Outputs && !matches!(ty.shape[..], [_, k] if k > 0) {
        return Err(errors::predict_no_classes(&ty.shape, what == Prediction::Classes));
    }
    let mut runner = Runner::new(&graph, jit(&graph, &super::options(c, threads))?);
    let weights = checkpoint::load_weights(init, &score::weight_inputs(&graph))?;
    Ok(score::predict(&mut runner, &weights, rows, (sema::PREDICTION, &ty.shape), what))
}
