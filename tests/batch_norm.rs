//! Batch norm, layer norm and dropout: torch parity of whole training runs with batch norm
//! (fixtures made by tests/batch_norm/gen.py), gradients against central finite differences,
//! the evaluation graph, running statistics in checkpoints, and dropout's masks (their rate,
//! their scale, and the same numbers across thread counts and a save and resume).

mod common;

use std::path::Path;

use common::{gradc, read_log, temp_dir, tensors};
use gradc::autodiff::backward;
use gradc::diag::SourceMap;
use gradc::ir::interp::{eval, Tensor};
use gradc::ir::Graph;
use serde_json::Value;

/// Runs gradc with `args`, asserting success; returns stdout.
fn ok(args: &[&str]) -> String {
    let out = gradc(args);
    assert!(out.status.success(), "gradc {args:?}:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Trains the fixture `name` from torch's initial weights and checks every step's loss, every
/// final parameter and running statistic, and the evaluation-mode loss against torch's.
fn matches_torch(name: &str) {
    let dir = temp_dir(name);
    let (log, saved) = (dir.join("log.jsonl"), dir.join("out.safetensors"));
    let program = format!("tests/batch_norm/{name}.grad");
    let init = format!("tests/batch_norm/init_{name}.safetensors");
    ok(&["run", &program, "--init", &init, "--log", log.to_str().unwrap(), "--save", saved.to_str().unwrap()]);
    let text = std::fs::read_to_string(format!("tests/batch_norm/{name}.json")).expect("fixture");
    let want: Value = serde_json::from_str(&text).expect("fixture JSON");
    let lines = read_log(&log);
    let steps: Vec<f64> =
        lines.iter().filter(|l| l.get("final").is_none()).map(|l| l["loss"].as_f64().unwrap()).collect();
    let want_steps: Vec<f64> = want["steps"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(steps.len(), want_steps.len(), "{name}: steps");
    for (k, (g, w)) in steps.iter().zip(&want_steps).enumerate() {
        assert!((g - w).abs() <= 1e-5 * w.abs(), "{name}: loss of step {}: gradc {g}, torch {w}", k + 1);
    }
    let eval_loss = lines.last().unwrap()["loss"].as_f64().unwrap();
    let want_eval = want["eval_loss"].as_f64().unwrap();
    assert!((eval_loss - want_eval).abs() <= 1e-5 * want_eval, "{name}: evaluation loss {eval_loss} vs {want_eval}");
    let finals = want["final"].as_object().unwrap();
    // The checkpoint holds the momentum buffers too; torch's state dict does not.
    let got: Vec<_> = tensors(&saved).into_iter().filter(|t| finals.contains_key(&t.0)).collect();
    assert_eq!(got.len(), finals.len(), "{name}: the checkpoint holds the parameters and the running statistics");
    for (tensor, values) in &got {
        let w: Vec<f64> = finals[tensor].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        let scale = w.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        for (k, (&g, &w)) in values.iter().zip(&w).enumerate() {
            let tol = 5e-5 * (w.abs() + scale);
            assert!((f64::from(g) - w).abs() <= tol, "{name}: {tensor}[{k}]: gradc {g}, torch {w}");
        }
    }
}

#[test]
fn batch_norm_1d_trains_as_torch_does() {
    matches_torch("mlp_bn");
}

#[test]
fn batch_norm_2d_trains_as_torch_does() {
    matches_torch("cnn_bn");
}

/// The training-mode forward graph of `loss = LOSS` over parameters `x` of shape `shape` and
/// `u` (weights that make the loss depend on every output), and its backward graph.
fn graphs(loss: &str, shape: &str) -> (Graph, Graph) {
    let src = format!(
        "use std.nn.*\nparam x: f32{shape}\nparam u: f32{shape}\nloss = {loss}\n\
         train {{ optimizer = sgd(lr: 0.1), steps = 1 }}\n"
    );
    let mut sources = SourceMap::default();
    let user = sources.add("test.grad", src.clone());
    let render = |d: gradc::diag::Diag, s: &SourceMap| d.with_sources(s).render_plain();
    let file = gradc::syntax::parse(&src, user).unwrap_or_else(|d| panic!("{}", render(d, &sources)));
    let module = gradc::sema::resolve(file, user, &mut sources).unwrap_or_else(|d| panic!("{}", render(d, &sources)));
    let forward = module.lower(None, 1).unwrap_or_else(|d| panic!("{}", render(d, &sources))).forward;
    let bwd = backward(&forward);
    (forward, bwd)
}

/// Reproducible values in [-2, 2).
fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64 * 4.0 - 2.0
        })
        .collect()
}

/// Checks `x.grad` of `loss` against central differences in f64 through the interpreter, with
/// every other input (the layer's own parameters and buffers) at its initial value.
fn gradient_matches_differences(loss: &str, shape: &[usize]) {
    let text = format!("{shape:?}");
    let (fwd, bwd) = graphs(loss, &text);
    let n: usize = shape.iter().product();
    let (x, u) = (values(n, 1), values(n, 2));
    let inputs = |x: &[f64], g: &Graph| -> Vec<Tensor> {
        g.inputs
            .iter()
            .map(|i| match i.name.as_str() {
                "x" => Tensor::new(shape.to_vec(), x.to_vec()),
                "u" => Tensor::new(shape.to_vec(), u.clone()),
                // The layer's scale and running variance start at 1, shifts and means at 0.
                name if name.ends_with(".w") || name.ends_with("running_var") => {
                    Tensor::new(i.ty.shape.clone(), vec![1.0; i.ty.numel()])
                }
                _ => Tensor::new(i.ty.shape.clone(), vec![0.0; i.ty.numel()]),
            })
            .collect()
    };
    let loss_at = |x: &[f64]| -> f64 {
        let k = fwd.outputs.iter().position(|o| o.name == "loss").unwrap();
        eval(&fwd, &inputs(x, &fwd))[k].data[0]
    };
    let k = bwd.outputs.iter().position(|o| o.name == "x.grad").unwrap();
    let analytic = eval(&bwd, &inputs(&x, &bwd))[k].data.clone();
    for i in 0..n {
        let h = 1e-6;
        let (mut plus, mut minus) = (x.clone(), x.clone());
        plus[i] += h;
        minus[i] -= h;
        let numeric = (loss_at(&plus) - loss_at(&minus)) / (2.0 * h);
        let ok = (analytic[i] - numeric).abs() <= 1e-6 + 1e-5 * numeric.abs();
        assert!(ok, "{loss} over {shape:?}: d/dx[{i}] backward {}, finite differences {numeric}", analytic[i]);
    }
}

#[test]
fn batch_norm_gradients_match_finite_differences() {
    gradient_matches_differences("sum(batch_norm(x) * u)", &[5, 3]);
    gradient_matches_differences("sum(batch_norm(x) * u)", &[3, 2, 2, 3]);
    gradient_matches_differences("sum(batch_norm(x, momentum: 0.3, eps: 0.01) * u)", &[2, 2, 5]);
}

#[test]
fn layer_norm_gradients_match_finite_differences() {
    gradient_matches_differences("sum(layer_norm(x) * u)", &[3, 6]);
    gradient_matches_differences("sum(layer_norm(x, eps: 0.1) * u)", &[2, 3, 4]);
}

/// A classifier with batch norm and dropout on the bundled spirals.
const NET: &str = "use std.nn.{dense, relu, batch_norm, dropout}
use std.loss.cross_entropy
data d = spirals(n: 120, classes: 2, noise: 0.05, seed: 1)
model net(x: f32[B, 2]) -> f32[B, 2] {
    h = dense(x, 16)
    bn = batch_norm(h)
    drop = dropout(relu(bn), 0.3)
    dense(drop, 2)
}
loss(x, y: i32[B]) = cross_entropy(net(x), y)
train { data = d, batch = 32, steps = 16, seed = 5, shuffle = true, log_every = 1, optimizer = adam(lr: 0.01), metrics = [accuracy] }
";

/// Writes `NET` (with `extra` appended to the train block's line) into `dir`.
fn write_net(dir: &Path) -> String {
    let path = dir.join("net.grad");
    std::fs::write(&path, NET).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn evaluation_uses_running_statistics_and_no_dropout() {
    let dir = temp_dir("eval_graph");
    let net = write_net(&dir);
    let train = ok(&["ir", &net, "--stage", "forward"]);
    let evaluation = ok(&["ir", &net, "--stage", "eval"]);
    assert!(train.contains("rand[") && train.contains("<- "), "training draws a mask and updates buffers:\n{train}");
    assert!(!evaluation.contains("rand") && !evaluation.contains("<- "), "evaluation neither:\n{evaluation}");
    assert!(evaluation.contains("bn.running_mean") && evaluation.contains("bn.running_var"), "{evaluation}");
    insta::assert_snapshot!("eval_graph", evaluation.replace(&net, "net.grad"));
}

#[test]
fn running_statistics_are_saved_and_resumed_bit_for_bit() {
    let dir = temp_dir("bn_resume");
    let net = write_net(&dir);
    let p = |f: &str| dir.join(f).to_str().unwrap().to_string();
    ok(&["run", &net, "--steps", "16", "--save", &p("whole.safetensors"), "--log", &p("whole.jsonl")]);
    ok(&["run", &net, "--steps", "8", "--save", &p("half.safetensors")]);
    ok(&["run", &net, "--init", &p("half.safetensors"), "--steps", "8", "--save", &p("resumed.safetensors")]);
    let (whole, resumed) = (tensors(Path::new(&p("whole.safetensors"))), tensors(Path::new(&p("resumed.safetensors"))));
    let names: Vec<&str> = whole.iter().map(|t| t.0.as_str()).collect();
    assert!(names.contains(&"bn.running_mean") && names.contains(&"bn.running_var"), "{names:?}");
    let moved = whole.iter().find(|t| t.0 == "bn.running_mean").unwrap();
    assert!(moved.1.iter().all(|&m| m != 0.0), "the running mean moved from 0: {:?}", moved.1);
    assert_eq!(
        whole, resumed,
        "16 steps equal 8, saved, then 8 more: the dropout masks and running statistics continue"
    );
}

#[test]
fn a_run_is_the_same_on_one_thread_and_two() {
    let dir = temp_dir("bn_threads");
    let net = write_net(&dir);
    let p = |f: &str| dir.join(f).to_str().unwrap().to_string();
    ok(&["run", &net, "--threads", "1", "--save", &p("one.safetensors")]);
    ok(&["run", &net, "--threads", "2", "--save", &p("two.safetensors")]);
    assert_eq!(tensors(Path::new(&p("one.safetensors"))), tensors(Path::new(&p("two.safetensors"))));
}

/// One SGD step on `loss = mean(dropout(w, P))` from w = 1 with lr = n: each kept element's
/// gradient is 1 / ((1 - P) n), so it ends at 1 - 1 / (1 - P); a dropped one stays at 1.
fn after_one_dropout_step(p: f64, seed: u64) -> Vec<f32> {
    let dir = temp_dir("dropout_rate");
    let src = format!(
        "use std.nn.dropout\nparam w: f32[10000] = ones\nloss = mean(dropout(w, {p}))\n\
         train {{ optimizer = sgd(lr: 10000), steps = 1, seed = {seed} }}\n"
    );
    std::fs::write(dir.join("d.grad"), src).unwrap();
    let saved = dir.join("w.safetensors");
    ok(&["run", dir.join("d.grad").to_str().unwrap(), "--save", saved.to_str().unwrap()]);
    tensors(&saved).remove(0).1
}

#[test]
fn dropout_drops_at_its_rate_and_scales_the_rest() {
    for p in [0.1, 0.5, 0.8] {
        let w = after_one_dropout_step(p, 1);
        let kept = (1.0 - 1.0 / (1.0 - p)) as f32;
        let dropped = w.iter().filter(|&&v| v == 1.0).count();
        assert_eq!(dropped + w.iter().filter(|&&v| (v - kept).abs() <= 1e-5 * kept.abs().max(1.0)).count(), w.len());
        let rate = dropped as f64 / w.len() as f64;
        // Binomial with n = 10⁴: a standard deviation of at most 0.005.
        assert!((rate - p).abs() < 0.025, "p = {p}: dropped {rate}");
    }
    assert!(after_one_dropout_step(0.0, 1).iter().all(|&v| v == 0.0), "p = 0 keeps every element");
    assert!(after_one_dropout_step(1.0, 1).iter().all(|&v| v == 1.0), "p = 1 drops every element");
    assert_ne!(after_one_dropout_step(0.5, 1), after_one_dropout_step(0.5, 2), "another seed, another mask");
}

#[test]
fn a_buffer_keeps_its_shape() {
    let dir = temp_dir("buffer_shape");
    let src = "layer counter(x) {\n    buffer n: f32[2] = zeros\n    n = x\n    x\n}\n\
               param w: f32[3]\nloss = sum(counter(w))\ntrain { optimizer = sgd(lr: 0.1), steps = 1 }\n";
    std::fs::write(dir.join("b.grad"), src).unwrap();
    let out = gradc(&["check", dir.join("b.grad").to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    insta::assert_snapshot!("buffer_shape", stderr.replace(dir.join("b.grad").to_str().unwrap(), "b.grad"));
}

#[test]
fn bias_false_declares_no_bias() {
    let dir = temp_dir("bias_false");
    let src = "use std.nn.{dense, conv2d, batch_norm}\nuse std.loss.mse\ndata d = linear(n: 8, dim: 4)\n\
               model m(x: f32[B, 4]) -> f32[B, 1] {\n    c = conv2d(reshape(x, [B, 1, 2, 2]), 2, 1, bias: false)\n\
               \n    n1 = batch_norm(c)\n    h = dense(reshape(n1, [B, 8]), 3, bias: false)\n    n2 = batch_norm(h)\n    dense(n2, 1)\n}\n\
               loss(x, y) = mse(m(x), y)\ntrain { data = d, optimizer = sgd(lr: 0.1), steps = 2 }\n";
    std::fs::write(dir.join("m.grad"), src).unwrap();
    let ir = ok(&["ir", dir.join("m.grad").to_str().unwrap(), "--stage", "forward"]);
    for declared in ["c.w:", "h.w:", "out.w:", "out.b:"] {
        assert!(ir.contains(declared), "{declared} in\n{ir}");
    }
    assert!(!ir.contains("c.b:") && !ir.contains("h.b:"), "no biases before the batch norms:\n{ir}");
    ok(&["run", dir.join("m.grad").to_str().unwrap()]);
    std::fs::write(
        dir.join("top.grad"),
        "param w: f32[2] = false\nloss = sum(w)\ntrain { optimizer = sgd(lr: 1), steps = 1 }\n",
    )
    .unwrap();
    let out = gradc(&["check", dir.join("top.grad").to_str().unwrap()]);
    assert!(!out.status.success(), "a top-level parameter must be declared");
}
