//! The JIT against the reference interpreter on every example: one train step and one
//! evaluation from the same starting point must agree to 1e-5 relative.

use std::path::Path;

use gradc::codegen::CompileOptions;
use gradc::data::{Dataset, Labels};
use gradc::driver;
use gradc::ir::interp::{self, Tensor};
use gradc::ir::{DType, Graph, InputRole};
use gradc::runtime::train::initial_values;

/// Input values for `graph`: parameters and state from the run's initialisation, the first
/// rows of the data, and step 1.
fn inputs(graph: &Graph, start: &[(String, Vec<f32>)], data: Option<&Dataset>) -> Vec<Vec<f64>> {
    graph
        .inputs
        .iter()
        .map(|input| {
            let n = input.ty.numel();
            match input.role {
                InputRole::Param | InputRole::State | InputRole::Buffer => {
                    let (_, v) = start.iter().find(|(name, _)| name == &input.name).expect("initial value");
                    v.iter().map(|&x| f64::from(x)).collect()
                }
                InputRole::Step => vec![1.0; n],
                InputRole::Data => data.expect("data").features[..n].iter().map(|&x| f64::from(x)).collect(),
                InputRole::Label => match &data.expect("data").labels {
                    Labels::Classes { y, .. } => y[..n].iter().map(|&c| f64::from(c)).collect(),
                    Labels::Targets { y, .. } => y[..n].iter().map(|&x| f64::from(x)).collect(),
                    Labels::None => panic!("labels expected"),
                },
                InputRole::Grad => panic!("a composed graph has no gradient inputs"),
            }
        })
        .collect()
}

/// How far f32 may drift from f64, relative to an output's magnitude plus its largest
/// element. Measured worst cases: 6.4e-7 (residual_cnn's Adam moments, after batch norm's sums
/// over 12,544–50,176 positions), 7.3e-7 (mnist_cnn), 4.1e-6 (a glyphs_mlp weight after Adam's
/// first step, which divides a tiny gradient by its own magnitude); every other output is
/// within 1e-6.
const RELATIVE_TOLERANCE: f64 = 1e-5;

/// Runs `graph` both ways and compares every output (in-place ones through their inputs).
fn compare(name: &str, graph: &Graph, values: &[Vec<f64>]) {
    let opts = CompileOptions { verify: true, keep_clif: false, threads: 1, flush_denormals: false };
    let mut exe = driver::jit(graph, &opts).expect("compiles");
    for (input, v) in graph.inputs.iter().zip(values) {
        match input.ty.dtype {
            DType::F32 => {
                exe.input_mut(&input.name).expect("input").iter_mut().zip(v).for_each(|(d, &s)| *d = s as f32)
            }
            DType::I32 => {
                exe.input_i32_mut(&input.name).expect("input").iter_mut().zip(v).for_each(|(d, &s)| *d = s as i32)
            }
        }
    }
    exe.run();
    let tensors: Vec<Tensor> =
        graph.inputs.iter().zip(values).map(|(i, v)| Tensor { shape: i.ty.shape.clone(), data: v.clone() }).collect();
    let expected = interp::eval(graph, &tensors);
    for (out, want) in graph.outputs.iter().zip(&expected) {
        let got: Vec<f32> = match out.role {
            _ if out.role.in_place() => exe.input(&out.name).expect("in-place input").to_vec(),
            _ => exe.output(&out.name).expect("output").to_vec(),
        };
        let scale = want.data.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        for (k, (&g, &w)) in got.iter().zip(&want.data).enumerate() {
            let tol = RELATIVE_TOLERANCE * (w.abs() + scale).max(1e-30);
            assert!((f64::from(g) - w).abs() <= tol, "{name}: output `{}`[{k}]: JIT {g} vs interpreter {w}", out.name);
        }
    }
}

/// One train step and one evaluation of the program at `path`, both ways.
fn agrees(path: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::env::set_current_dir(root).expect("cd to the repository");
    let rel = path.strip_prefix(root).expect("inside the repository");
    let name = rel.display().to_string();
    let mut front = driver::parse(rel).unwrap_or_else(|(d, s)| panic!("{}", d.with_sources(&s).render_plain()));
    let c = driver::compile(&mut front).unwrap_or_else(|d| panic!("{}", d.with_sources(&front.sources).render_plain()));
    let start = initial_values(&driver::program(&c), c.module.train().seed);
    compare(&name, &c.optimized, &inputs(&c.optimized, &start, c.data.as_ref()));
    let rows = c.data.as_ref().map_or(1, |d| d.n);
    let eval = driver::eval_at(&c, rows).expect("forward graph");
    compare(&name, &eval, &inputs(&eval, &start, c.data.as_ref()));
}

#[test]
fn every_example_agrees_with_the_interpreter() {
    insta::glob!("../examples", "*.grad", agrees);
}

/// Programs that once failed to compile or computed wrongly.
#[test]
fn every_regression_program_agrees_with_the_interpreter() {
    insta::glob!("fixtures/ok", "*.grad", agrees);
}
