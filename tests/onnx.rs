//! `gradc export --onnx` end to end: the exported file, run by an independent ONNX runtime
//! (tract), gives what `gradc predict` gives on the same rows, for an MLP, a CNN with batch norm
//! and dropout, and a residual CNN, with non-trivial weights and running statistics; a model
//! with an op that has no ONNX form is a diagnostic naming it.

mod common;

use std::path::Path;

use common::{gradc, root, temp_dir};
use gradc::data::array::{Array, Values};
use gradc::data::errors::{Origin, DATA_NPY};
use gradc::data::npy;
use gradc::ir::InputRole;
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
/// evaluation form is no identity.
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
        Values::F32(v) => v,
        other => panic!("f32 expected, got {other:?}"),
    }
}

/// Runs the ONNX model at `path` with tract on `x` of `shape`; its one output's values.
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

/// Exports `example` with random weights and checks tract's outputs on a batch of `rows` rows
/// (features drawn by `feature`) against `gradc predict`'s, to 1e-5 of the largest output.
fn agrees(example: &str, rows: usize, feature: impl Fn(&mut Uniform) -> f32) -> f64 {
    let dir = temp_dir(&example.replace(['/', '.'], "_"));
    let file = root().join(example);
    let (w, x_path, y_path, model) =
        (dir.join("w.safetensors"), dir.join("x.npy"), dir.join("y.npy"), dir.join("model.onnx"));
    random_weights(&file, 7, &w);
    let mut front = gradc::driver::parse(&file).unwrap_or_else(|(d, _)| panic!("{}", d.render_plain()));
    let c = gradc::driver::compile(&mut front).unwrap_or_else(|d| panic!("{}", d.render_plain()));
    let row = c.data.as_ref().expect("data").shape.clone();
    let shape = [&[rows][..], &row].concat();
    let mut u = Uniform(11);
    let x: Vec<f32> = (0..shape.iter().product::<usize>()).map(|_| feature(&mut u)).collect();
    std::fs::write(&x_path, npy::encode(&shape, &Values::F32(x.clone()))).expect("write npy");
    ok(&["predict", example, "--init", s(&w), "--input", s(&x_path), "--output", s(&y_path)]);
    let wrote = ok(&["export", example, "--init", s(&w), "--onnx", s(&model), "--batch", &rows.to_string()]);
    assert!(wrote.starts_with("wrote "), "{wrote}");
    let expected = load_f32(&y_path);
    let got = tract_run(&model, &shape, &x);
    assert_eq!(got.len(), expected.len(), "output sizes");
    let largest = expected.iter().fold(0.0f64, |m, &v| m.max(f64::from(v).abs()));
    assert!(largest > 1e-3, "{example}: outputs all near 0, a weak comparison");
    let worst = got.iter().zip(&expected).map(|(&a, &b)| (f64::from(a) - f64::from(b)).abs()).fold(0.0, f64::max);
    let relative = worst / largest;
    eprintln!("{example}: max |onnx - gradc| / max |gradc| = {relative:.3e} over {} outputs", got.len());
    assert!(relative <= 1e-5, "{example}: relative error {relative:e}");
    relative
}

#[test]
fn mlp_matches_predict() {
    agrees("examples/spiral_mlp.grad", 16, |u| 2.0 * u.next() - 1.0);
}

#[test]
fn cnn_with_batch_norm_and_dropout_matches_predict() {
    // Raw pixels: the export scales them by 1/255 first, as the data declaration says.
    agrees("examples/mnist_cnn.grad", 8, |u| (255.0 * u.next()).floor());
}

#[test]
fn residual_cnn_matches_predict() {
    agrees("examples/residual_cnn.grad", 8, |u| (255.0 * u.next()).floor());
}

#[test]
fn an_op_without_an_onnx_form_is_a_diagnostic_naming_it() {
    let dir = temp_dir("onnx_rand");
    let file = dir.join("noisy.grad");
    std::fs::write(
        &file,
        "use std.nn.dense\nuse std.loss.cross_entropy\n\
         data spiral = spirals(n: 40, classes: 2, noise: 0.05, seed: 1)\n\
         model noisy(x: f32[B, 2]) -> f32[B, 2] { dense(x + 0.1 * rand(shape(x)), 2) }\n\
         loss(x, y: i32[B]) = cross_entropy(noisy(x), y)\n\
         train { data = spiral, batch = 8, steps = 2, optimizer = sgd(lr: 0.1) }\n",
    )
    .expect("write grad file");
    let w = dir.join("w.safetensors");
    ok(&["run", s(&file), "--quiet", "--save", s(&w)]);
    let out_path = dir.join("m.onnx");
    let out = gradc(&["export", s(&file), "--init", s(&w), "--onnx", s(&out_path)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "export of a model with rand succeeded");
    assert!(stderr.contains("gradc::export::unsupported"), "{stderr}");
    assert!(stderr.contains("`rand`") && stderr.contains("help:"), "{stderr}");
    assert!(!out_path.exists(), "a file was written");
}
