//! `gradc export --onnx` end to end: the exported file, run by an independent ONNX runtime
//! (tract), gives what `gradc predict` gives on the same rows, for an MLP, a CNN with batch norm
//! and dropout, a residual CNN and a model with every kind of op, with non-trivial weights and
//! running statistics, at two batch sizes from one file with a symbolic batch; `--batch N`
//! fixes it; a model tied to its batch size, or with an op that has no ONNX form, is a
//! diagnostic naming the op.

mod common;

use std::path::{Path, PathBuf};

use common::{gradc, root, temp_dir};
use gradc::data::array::{Array, Values};
use gradc::data::errors::{Origin, DATA_NPY};
use gradc::data::npy;
use gradc::export::onnx::proto::{Dimension, ModelProto, ValueInfoProto};
use gradc::ir::InputRole;
use gradc::runtime::checkpoint::{STANDARDIZE_MEAN, STANDARDIZE_STD};
use prost::Message;
use safetensors::tensor::{Dtype, TensorView};
use tract_onnx::prelude::*;

/// Runs `gradc` with `args`; returns stdout, panicking with stderr if it failed.
fn ok(args: &[&str]) -> String {
    let out = gradc(args);
    assert!(out.status.success(), "gradc {args:?}:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// A deterministic stream of uniform numbers in [0, 1) (a 64-bit LCG's high bits).
struct Uniform(u64);

impl Uniform {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Writes a checkpoint for the model of `file` with weights drawn from `seed`: parameters
/// uniform in ±1/√fan-in, buffers (running means and variances) in [0.5, 1.5], so batch norm's
/// evaluation form is no identity; standardization statistics, when the data is standardized,
/// unlike the data's own (so reading them from the checkpoint is what is checked).
fn random_weights(file: &Path, seed: u64, to: &Path) {
    let mut front = gradc::driver::parse(file).unwrap_or_else(|(d, _)| panic!("{}", d.render_plain()));
    let c = gradc::driver::compile(&mut front).unwrap_or_else(|d| panic!("{}", d.render_plain()));
    let train = c.data.as_ref().expect("the example has data");
    let graph = c.module.predict_graph(&gradc::driver::data_shape(train), 1).expect("a prediction graph");
    let mut u = Uniform(seed);
    let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for input in &graph.inputs {
        let n: usize = input.ty.shape.iter().product();
        let values: Vec<f32> = match input.role {
            InputRole::Buffer => (0..n).map(|_| 0.5 + u.next()).collect(),
            _ if input.role == InputRole::Param => {
                let fan_in = n / input.ty.shape.first().copied().unwrap_or(1).max(1);
                let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
                (0..n).map(|_| bound * (2.0 * u.next() - 1.0)).collect()
            }
            _ => continue,
        };
        tensors.push((
            input.name.clone(),
            input.ty.shape.clone(),
            values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ));
    }
    if let Some(scaling) = &c.scaling {
        let shifted: Vec<f32> = scaling.mean.iter().map(|m| m + 0.5).collect();
        let widened: Vec<f32> = scaling.std.iter().map(|s| s * 1.5).collect();
        for (name, values) in [(STANDARDIZE_MEAN, shifted), (STANDARDIZE_STD, widened)] {
            tensors.push((name.to_string(), vec![values.len()], values.iter().flat_map(|v| v.to_le_bytes()).collect()));
        }
    }
    let views = tensors.iter().map(|(name, shape, bytes)| {
        (name.clone(), TensorView::new(Dtype::F32, shape.clone(), bytes).expect("a valid tensor"))
    });
    std::fs::write(to, safetensors::serialize(views, None).expect("serialize")).expect("write checkpoint");
}

/// Reads an NPY file of f32 with gradc's own reader.
fn load_f32(path: &Path) -> Vec<f32> {
    let o = Origin {
        file: path.display().to_string(),
        code: DATA_NPY,
        span: gradc::diag::Span::new(gradc::diag::FileId(0), 0, 0),
    };
    let a: Array = npy::parse(&std::fs::read(path).expect("read npy"), &o).expect("a valid NPY file");
    match a.values {
        Values::F32(v) => v.into_vec(),
        other => panic!("f32 expected, got {other:?}"),
    }
}

/// Runs the ONNX model at `path` with tract on `x` of `shape`; its one output's values. The
/// model is optimized as loaded, with its batch dim still symbolic, and run at `shape`.
fn tract_run(path: &Path, shape: &[usize], x: &[f32]) -> Vec<f32> {
    let model = tract_onnx::onnx()
        .model_for_path(path)
        .and_then(|m| m.into_optimized())
        .and_then(|m| m.into_runnable())
        .unwrap_or_else(|e| panic!("tract cannot load {}: {e:?}", path.display()));
    let input = Tensor::from_shape(shape, x).expect("input tensor");
    let out = model.run(tvec!(input.into())).unwrap_or_else(|e| panic!("tract cannot run: {e:?}"));
    let view = out[0].to_plain_array_view::<f32>().expect("f32 output");
    view.iter().copied().collect()
}

/// The first dim of the model's one input and of its one output: a `dim_value` or a `dim_param`.
fn batch_dims(path: &Path) -> [Dimension; 2] {
    let m = ModelProto::decode(std::fs::read(path).expect("read model").as_slice()).expect("an ONNX model");
    let g = m.graph.expect("a graph");
    let first = |v: &ValueInfoProto| {
        let shape = v.r#type.as_ref().and_then(|t| t.tensor_type.as_ref()).and_then(|t| t.shape.as_ref());
        shape.expect("a tensor shape").dim[0].clone()
    };
    [first(&g.input[0]), first(&g.output[0])]
}

/// Exports the model of `example` (relative to the repository root, or absolute) with random
/// weights, with `--batch N` if `batch` is `Some(N)` else with a symbolic batch, and checks the
/// model's batch dims say so; then for each of `runs` (a number of rows), checks tract's
/// outputs on that many rows (features drawn by `feature`) against `gradc predict`'s, to 1e-5
/// of the largest output.
fn agrees(example: &str, batch: Option<usize>, runs: &[usize], feature: impl Fn(&mut Uniform) -> f32) {
    let dir = temp_dir("onnx");
    let file = root().join(example);
    let (w, x_path, y_path, model) =
        (dir.join("w.safetensors"), dir.join("x.npy"), dir.join("y.npy"), dir.join("model.onnx"));
    random_weights(&file, 7, &w);
    let mut front = gradc::driver::parse(&file).unwrap_or_else(|(d, _)| panic!("{}", d.render_plain()));
    let c = gradc::driver::compile(&mut front).unwrap_or_else(|d| panic!("{}", d.render_plain()));
    let row = c.data.as_ref().expect("data").shape.clone();
    let fixed = batch.map(|n| n.to_string());
    let mut export = vec!["export", example, "--init", s(&w), "--onnx", s(&model)];
    export.extend(fixed.as_deref().map(|n| ["--batch", n]).into_iter().flatten());
    let wrote = ok(&export);
    assert!(wrote.starts_with("wrote "), "{wrote}");
    let expected_dim = match batch {
        Some(n) => Dimension { dim_value: Some(n as i64), dim_param: None },
        None => Dimension { dim_value: None, dim_param: Some("batch".into()) },
    };
    assert_eq!(batch_dims(&model), [expected_dim.clone(), expected_dim], "{example}: the batch dims");
    for &rows in runs {
        let shape = [&[rows][..], &row].concat();
        let mut u = Uniform(11 + rows as u64);
        let x: Vec<f32> = (0..shape.iter().product::<usize>()).map(|_| feature(&mut u)).collect();
        std::fs::write(&x_path, npy::encode(&shape, &Values::F32(x.clone().into()))).expect("write npy");
        ok(&["predict", example, "--init", s(&w), "--input", s(&x_path), "--output", s(&y_path)]);
        let expected = load_f32(&y_path);
        let got = tract_run(&model, &shape, &x);
        assert_eq!(got.len(), expected.len(), "output sizes");
        let largest = expected.iter().fold(0.0f64, |m, &v| m.max(f64::from(v).abs()));
        assert!(largest > 1e-3, "{example}: outputs all near 0, a weak comparison");
        let worst = got.iter().zip(&expected).map(|(&a, &b)| (f64::from(a) - f64::from(b)).abs()).fold(0.0, f64::max);
        let relative = worst / largest;
        eprintln!(
            "{example} at {rows} rows: max |onnx - gradc| / max |gradc| = {relative:.3e} over {} outputs",
            got.len()
        );
        assert!(relative <= 1e-5, "{example} at {rows} rows: relative error {relative:e}");
    }
}

/// The row counts a model with a symbolic batch is run at: a single row and a batch that is
/// neither of the sizes the export builds the graph at.
const RUNS: [usize; 2] = [1, 7];

#[test]
fn mlp_matches_predict_at_any_batch_size() {
    agrees("examples/spiral_mlp.grad", None, &RUNS, |u| 2.0 * u.next() - 1.0);
}

#[test]
fn a_fixed_batch_is_fixed_in_the_file() {
    agrees("examples/spiral_mlp.grad", Some(16), &[16], |u| 2.0 * u.next() - 1.0);
}

#[test]
fn cnn_with_batch_norm_and_dropout_matches_predict() {
    // Raw pixels: the export scales them by 1/255 first, as the data declaration says.
    agrees("examples/mnist_cnn.grad", None, &RUNS, |u| (255.0 * u.next()).floor());
}

#[test]
fn residual_cnn_matches_predict() {
    agrees("examples/residual_cnn.grad", None, &RUNS, |u| (255.0 * u.next()).floor());
}

/// A model using every kind of op a network's evaluation graph holds: convolutions with stride,
/// padding, dilation and groups, both poolings, batch norm, dropout, every activation,
/// softmax and log-softmax, layer norm, an embedding (with ids out of range), one-hot of an
/// argmax, concat, slice, transpose, flatten, reductions and elementwise arithmetic; its data
/// is standardized, which the export does first.
const ZOO: &str = r#"use std.nn.{conv2d, batch_norm, dense, dropout, layer_norm, embedding}
use std.nn.{relu, leaky_relu, sigmoid, silu, softplus, gelu, gelu_tanh, elu, selu, softmax, log_softmax}
use std.loss.cross_entropy

data pics = npy("x.npy", labels: "y.npy") |> standardize

model zoo(x: f32[B, 2, 8, 8]) -> f32[B, 5] {
    a = conv2d(x, 4, 3, stride: 2, padding: 1, groups: 2)
    b = conv2d(x, 4, 3, padding: 2, dilation: 2)
    bn = batch_norm(b)
    m = concat([a, avg_pool2d(b, 3, stride: 2, padding: 1), max_pool2d(bn, 2)], axis: 1)
    s = slice(transpose(m, 2, 3), 3, 1, 4, step: 2)
    dr = dropout(flatten(s), 0.3)
    hid = dense(dr, 16)
    acts = concat([relu(hid), leaky_relu(hid, 0.1), sigmoid(hid), silu(hid), softplus(hid), gelu(hid), gelu_tanh(hid),
                   elu(hid), selu(hid), tanh(hid)], axis: 1)
    d = dense(acts, 8)
    g = layer_norm(d)
    r = sum(g * g, axis: 1, keepdims: true) / mean(abs(g) + 1, axis: 1, keepdims: true)
    k = max(sign(g) * floor(g) + cos(g) * sin(g) - exp(-g) + log1p(abs(g)), axis: 1, keepdims: true)
    e = embedding(i32(clip(g * 3, -2, 12)), 10, 2)
    o = one_hot(argmax(g, axis: 1), 8)
    parts = concat([g, r, k, flatten(e), o, softmax(g), log_softmax(g), sqrt(abs(g)), maximum(g, 0.2), minimum(g, -0.2)], axis: 1)
    out = dense(parts, 5)
    out
}

loss(x, y: i32[B]) = cross_entropy(zoo(x), y)

train {
    data = pics, batch = 8, steps = 3, seed = 3
    optimizer = adam(lr: 0.01)
}"#;

#[test]
fn every_kind_of_op_matches_predict() {
    let dir = temp_dir("onnx_zoo");
    let mut u = Uniform(5);
    let x: Vec<f32> = (0..24 * 2 * 8 * 8).map(|_| 5.0 + 6.0 * u.next()).collect();
    let y: Vec<i32> = (0..24).map(|i| i % 5).collect();
    std::fs::write(dir.join("x.npy"), npy::encode(&[24, 2, 8, 8], &Values::F32(x.into()))).expect("write npy");
    std::fs::write(dir.join("y.npy"), npy::encode(&[24], &Values::I32(y))).expect("write npy");
    let file = dir.join("zoo.grad");
    std::fs::write(&file, ZOO).expect("write grad file");
    agrees(s(&file), None, &RUNS, |u| 2.0 + 8.0 * u.next());
}

/// Trains the model `name` with body `body` (over the spiral data) for two steps and exports it
/// without `--batch`; checks that the export failed and wrote nothing, and returns the program,
/// its weights, the path the export was given and its stderr.
fn failed_export(name: &str, body: &str) -> (PathBuf, PathBuf, PathBuf, String) {
    let dir = temp_dir(&format!("onnx_{name}"));
    let file = dir.join(format!("{name}.grad"));
    let program = format!(
        "use std.nn.dense\nuse std.loss.cross_entropy\n\
         data spiral = spirals(n: 40, classes: 2, noise: 0.05, seed: 1)\n\
         model {name}(x: f32[B, 2]) -> f32[B, 2] {{ {body} }}\n\
         loss(x, y: i32[B]) = cross_entropy({name}(x), y)\n\
         train {{ data = spiral, batch = 8, steps = 2, optimizer = sgd(lr: 0.1) }}\n"
    );
    std::fs::write(&file, program).expect("write grad file");
    let w = dir.join("w.safetensors");
    ok(&["run", s(&file), "--quiet", "--save", s(&w)]);
    let out_path = dir.join("m.onnx");
    let out = gradc(&["export", s(&file), "--init", s(&w), "--onnx", s(&out_path)]);
    assert!(!out.status.success(), "export of `{body}` succeeded");
    assert!(!out_path.exists(), "a file was written");
    (file, w, out_path, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn an_op_without_an_onnx_form_is_a_diagnostic_naming_it() {
    let (_, _, _, stderr) = failed_export("noisy", "dense(x + 0.1 * rand(shape(x)), 2)");
    assert!(stderr.contains("gradc::export::unsupported"), "{stderr}");
    assert!(stderr.contains("`rand`") && stderr.contains("help:"), "{stderr}");
}

#[test]
fn a_model_tied_to_its_batch_size_needs_a_fixed_batch() {
    // Each batch centred on its own mean: a reduction over the batch axis.
    let (file, w, out_path, stderr) = failed_export("centred", "dense(x - mean(x, axis: 0, keepdims: true), 2)");
    assert!(stderr.contains("gradc::export::batch"), "{stderr}");
    assert!(stderr.contains("--batch N"), "{stderr}");
    ok(&["export", s(&file), "--init", s(&w), "--onnx", s(&out_path), "--batch", "8"]);
    let [input, output] = batch_dims(&out_path);
    assert_eq!((input.dim_value, output.dim_value), (Some(8), Some(8)));
}
