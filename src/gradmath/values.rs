//! The gradients' numbers on the first batch a run would train on (`gradc grad --values`),
//! a short summary of each, and a safetensors file of them (`--save`).

use std::collections::HashMap;
use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};

use crate::data::{Labels, LabelsOut};
use crate::diag::Diag;
use crate::driver::{self, Compiled};
use crate::ir::interp::Tensor;
use crate::ir::{Graph, InputRole, OutputRole, StepInput};
use crate::rng::Rng;
use crate::runtime::batch::Batcher;
use crate::runtime::runner::{Runner, Steps};
use crate::runtime::{checkpoint, errors, score, train};

/// One parameter's gradient.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// The parameter's name.
    pub param: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// The gradient, row-major.
    pub data: Vec<f32>,
}

/// What one batch's gradient is computed from: every input of the backward graph by name
/// (parameters, buffers, optimizer state, the step), and the rows of the batch.
pub struct Feed {
    /// Values by input name.
    pub values: Vec<(String, Vec<f32>)>,
    /// The dataset rows of the first batch.
    pub rows: Vec<usize>,
    /// The run's seed, which `rand` draws from.
    pub seed: u64,
}

/// The parameters at initialisation (the train block's seed) or read from `init`, and the rows
/// of the first batch the run would train on (shuffled as the run shuffles them).
pub fn feed(c: &Compiled, backward: &Graph, init: Option<&Path>) -> Result<Feed, Diag> {
    let program = driver::program(c);
    let seed = program.controls.seed;
    let mut values = train::initial_values(&program, seed);
    if let Some(path) = init {
        let weights = checkpoint::load_weights(path, &score::weight_inputs(backward))?;
        for (name, v) in weights {
            if let Some(slot) = values.iter_mut().find(|(n, _)| *n == name) {
                slot.1 = v;
            }
        }
    }
    let shuffle = program.controls.shuffle.then(|| Rng::new(seed).fork("shuffle"));
    let batcher = Batcher::new(program.rows(), program.batch, shuffle, program.controls.span)?;
    let rows = batcher.indices(0).to_vec();
    Ok(Feed { values, rows, seed })
}

/// Each parameter's gradient on the feed's batch, computed by the compiled backward graph.
pub fn compute(c: &Compiled, backward: &Graph, feed: &Feed, threads: usize) -> Result<Vec<Value>, Diag> {
    let graph = crate::passes::dce::run(backward);
    let mut runner = Runner::new(&graph, driver::jit(&graph, &driver::options(c, threads))?);
    for (name, v) in &feed.values {
        // An input the optimiser found unused has no storage, and needs no value.
        if let Some(slot) = runner.exe.input_mut(name) {
            slot.copy_from_slice(v);
        }
    }
    if let Some(d) = &c.data {
        runner.load_rows(d, &feed.rows);
    }
    runner.set_steps(&Steps { t: 1, apply: true, epoch: 0, lr_scale: 1.0, seed: feed.seed, micro: 0 });
    runner.exe.run();
    let shapes: HashMap<&str, &Vec<usize>> =
        graph.inputs.iter().filter(|i| i.role == InputRole::Param).map(|i| (i.name.as_str(), &i.ty.shape)).collect();
    let grads = graph.outputs.iter().filter(|o| o.role == OutputRole::Grad);
    Ok(grads
        .map(|o| {
            let param = o.name.trim_end_matches(".grad").to_string();
            // Every gradient output is computed by the executable it was compiled into.
            let data = runner.exe.output(&o.name).expect("gradient outputs are computed").to_vec();
            Value { shape: shapes.get(param.as_str()).map_or(vec![], |s| s.to_vec()), param, data }
        })
        .collect())
}

/// The inputs of `graph` for the feed's batch, in f64 as the reference interpreter takes them:
/// the batch's rows, the feed's values, and the step inputs of the run's first step (so `rand`
/// draws the mask the first step draws).
pub fn tensors(c: &Compiled, graph: &Graph, feed: &Feed) -> Vec<Tensor> {
    let rows = &feed.rows;
    let data = || c.data.as_ref().expect("a graph reading data is compiled with its dataset");
    graph
        .inputs
        .iter()
        .map(|i| {
            let shape = i.ty.shape.clone();
            match i.role {
                InputRole::Data => {
                    let mut x = vec![0f32; i.ty.numel()];
                    data().copy_features(rows, &mut x);
                    Tensor::from_f32(shape, &x)
                }
                InputRole::Label => match &data().labels {
                    Labels::Classes { .. } => {
                        let mut y = vec![0i32; i.ty.numel()];
                        data().copy_labels(rows, LabelsOut::Classes(&mut y));
                        Tensor::new(shape, y.iter().map(|&v| f64::from(v)).collect())
                    }
                    Labels::Targets { .. } | Labels::None => {
                        let mut y = vec![0f32; i.ty.numel()];
                        data().copy_labels(rows, LabelsOut::Targets(&mut y));
                        Tensor::from_f32(shape, &y)
                    }
                },
                InputRole::Step => Tensor::new(shape, step_value(&i.name, feed.seed)),
                InputRole::Param | InputRole::Buffer | InputRole::State | InputRole::Grad => {
                    // `feed` holds every parameter, buffer and state slot of the run.
                    let v = feed.values.iter().find(|(n, _)| *n == i.name).expect("a value for every weight");
                    Tensor::from_f32(shape, &v.1)
                }
            }
        })
        .collect()
}

/// The value of the step input `name` on the run's first step, as [`compute`] sets it.
fn step_value(name: &str, seed: u64) -> Vec<f64> {
    let which = StepInput::ALL.into_iter().find(|s| s.name() == name).expect("step inputs are named by `StepInput`");
    match which {
        StepInput::T | StepInput::Apply | StepInput::LrScale => vec![1.0],
        StepInput::Epoch => vec![0.0],
        // The i32 words carry the bits of the seed's halves and the micro-batch counter 0.
        StepInput::Rng => vec![f64::from(seed as u32 as i32), f64::from((seed >> 32) as u32 as i32), 0.0],
    }
}

/// A summary of a gradient: all of it up to 8 numbers, else its shape, norm and first numbers.
pub fn summary(v: &Value) -> String {
    let fmt = |x: f32| format!("{x:.6}");
    let norm = v.data.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>().sqrt();
    let dims: Vec<String> = v.shape.iter().map(usize::to_string).collect();
    if v.data.len() <= 8 {
        let all: Vec<String> = v.data.iter().map(|&x| fmt(x)).collect();
        return if v.shape.is_empty() { all.join("") } else { format!("[{}]", all.join(", ")) };
    }
    let first: Vec<String> = v.data.iter().take(4).map(|&x| fmt(x)).collect();
    let max = v.data.iter().fold(0f32, |m, &x| m.max(x.abs()));
    format!("[{}] with norm {norm:.6}, max |·| {}: {}, …", dims.join(", "), fmt(max), first.join(", "))
}

/// Writes the gradients to a safetensors file, each under its parameter's name (as torch's
/// `{name: p.grad}`), atomically; only a new or regular file is replaced.
pub fn save(path: &Path, values: &[Value]) -> Result<(), Diag> {
    let bytes: Vec<Vec<u8>> = values.iter().map(|v| v.data.iter().flat_map(|x| x.to_le_bytes()).collect()).collect();
    let views = values.iter().zip(&bytes).map(|(v, b)| {
        // Each value holds as many numbers as its shape, so the view is valid.
        let view = TensorView::new(Dtype::F32, v.shape.clone(), b).expect("data matches the shape");
        (v.param.as_str(), view)
    });
    let encoded = safetensors::serialize(views, None).map_err(|e| errors::checkpoint_unencodable(path, e))?;
    crate::output::write_atomically(path, &encoded).map_err(|e| errors::checkpoint_unwritable(path, e))
}
