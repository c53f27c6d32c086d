//! The layout built-ins end to end, from `.grad` source: casts, transpose, permute, flatten,
//! slice, index, concat, gather and the embedding layer. Each program's loss and gradients run
//! in the JIT (forward and backward) and match the interpreter, and the values match what
//! numpy/torch indexing gives, written out by hand.

use gradc::autodiff::backward;
use gradc::codegen::{CompileOptions, Executable};
use gradc::diag::{Diag, SourceMap};
use gradc::ir::interp::{eval, Tensor};
use gradc::ir::{DType, Graph, OutputRole};

/// Lowers `params` and `loss = sum(EXPR)` and returns the forward graph, with EXPR's value as
/// output `y`, or the rendered diagnostic.
fn lower(params: &str, expr: &str) -> Result<Graph, String> {
    let src = format!("use std.nn.*\n{params}\nloss = sum({expr})\ntrain {{ optimizer = sgd(lr: 0.1), steps = 1 }}\n");
    let mut sources = SourceMap::default();
    let user = sources.add("test.grad", src.clone());
    let render = |d: Diag, s: &SourceMap| d.with_sources(s).render_plain();
    let file = gradc::syntax::parse(&src, user).map_err(|d| render(d, &sources))?;
    let module = gradc::sema::resolve(file, user, &mut sources).map_err(|d| render(d, &sources))?;
    let mut forward = module.lower(None, 1).map_err(|d| render(d, &sources))?.forward;
    let loss = forward.output("loss").expect("a loss").node;
    let y = forward.node(loss).args[0];
    forward.add_output("y", y, OutputRole::Metric);
    Ok(forward)
}

/// Parameter `x` holds 0, 1, 2, … in row-major order.
fn iota(g: &Graph) -> Vec<Tensor> {
    g.inputs.iter().map(|i| Tensor::new(i.ty.shape.clone(), (0..i.ty.numel()).map(|k| k as f64).collect())).collect()
}

/// Runs `g` in the JIT and in the interpreter on `inputs`; asserts they agree on every output
/// and returns the interpreter's.
fn agree(g: &Graph, inputs: &[Tensor]) -> Vec<Tensor> {
    let opts = CompileOptions { verify: true, keep_clif: false, threads: 1, flush_denormals: false };
    let mut exe = Executable::compile(g, &opts).unwrap_or_else(|e| panic!("compile: {e}"));
    for (t, i) in inputs.iter().zip(&g.inputs) {
        exe.input_mut(&i.name).expect("f32 input").iter_mut().zip(&t.data).for_each(|(d, &s)| *d = s as f32);
    }
    exe.run();
    let want = eval(g, inputs);
    for (o, w) in g.outputs.iter().zip(&want) {
        let got: Vec<f64> = match g.ty(o.node).dtype {
            DType::F32 => exe.output(&o.name).expect("output").iter().map(|&v| f64::from(v)).collect(),
            DType::I32 => exe.output_i32(&o.name).expect("output").iter().map(|&v| f64::from(v)).collect(),
        };
        for (k, (a, b)) in got.iter().zip(&w.data).enumerate() {
            assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "`{}`[{k}]: JIT {a}, interpreter {b}", o.name);
        }
    }
    want
}

/// `EXPR` over `params`: its value (checked in the JIT) and, through `backward`, each
/// parameter's gradient (checked in the JIT too).
fn run(params: &str, expr: &str) -> (Tensor, Vec<Tensor>) {
    let g = lower(params, expr).unwrap_or_else(|e| panic!("{e}"));
    let inputs = iota(&g);
    let y = agree(&g, &inputs).pop().expect("y");
    let grads = agree(&backward(&g), &inputs).into_iter().skip(2).collect();
    (y, grads)
}

#[test]
fn transpose_permute_and_flatten() {
    let (y, grads) = run("param x: f32[2, 3] = zeros", "transpose(x) * 1");
    assert_eq!((y.shape, y.data), (vec![3, 2], vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]));
    assert_eq!(grads[0].data, vec![1.0; 6]);
    let (y, _) = run("param x: f32[2, 3, 2] = zeros", "permute(x, [2, 0, -2]) * 1");
    assert_eq!(y.shape, vec![2, 2, 3]);
    assert_eq!(y.data, vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 1.0, 3.0, 5.0, 7.0, 9.0, 11.0]);
    let (y, _) = run("param x: f32[2, 3, 2] = zeros", "flatten(transpose(x, 1, 2)) * 1");
    assert_eq!(y.shape, vec![2, 6]);
    assert_eq!(y.data, vec![0.0, 2.0, 4.0, 1.0, 3.0, 5.0, 6.0, 8.0, 10.0, 7.0, 9.0, 11.0]);
}

#[test]
fn slices_index_and_concat() {
    // x[:, 1::2] of a [2, 7]: columns 1, 3, 5.
    let (y, grads) = run("param x: f32[2, 7] = zeros", "slice(x, 1, 1, step: 2) * 2");
    assert_eq!(y.data, vec![2.0, 6.0, 10.0, 16.0, 20.0, 24.0]);
    let g: Vec<f64> = (0..14).map(|k| if k % 7 % 2 == 1 && k % 7 < 7 { 2.0 } else { 0.0 }).collect();
    assert_eq!(grads[0].data, g);
    // Negative bounds count from the end and clamp, as Python's: x[-3:100] along axis 1.
    let (y, _) = run("param x: f32[2, 7] = zeros", "slice(x, -1, -3, 100) * 1");
    assert_eq!(y.data, vec![4.0, 5.0, 6.0, 11.0, 12.0, 13.0]);
    let (y, grads) = run("param x: f32[2, 7] = zeros", "index(x, 0, -1) * 1");
    assert_eq!((y.shape, y.data), (vec![7], (7..14).map(f64::from).collect::<Vec<_>>()));
    assert_eq!(grads[0].data, [vec![0.0; 7], vec![1.0; 7]].concat());
    let (y, grads) = run("param x: f32[2, 2] = zeros\nparam w: f32[2, 1] = zeros", "concat([w, x, exp(w)], axis: 1)");
    assert_eq!(y.shape, vec![2, 4]);
    assert_eq!(y.data, vec![0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 3.0, 1.0f64.exp()]);
    assert_eq!(grads[1].data, vec![2.0, 1.0 + 1.0f64.exp()], "w's gradient: 1 + exp(w)");
}

/// A list beside a tensor is an f32 tensor constant (it used to be expanded into a list of
/// scalar products, which `sum`'s `axis:` then ignored).
#[test]
fn a_list_literal_in_tensor_arithmetic_is_a_constant_tensor() {
    let (y, grads) = run("param x: f32[3] = zeros", "x * [1.0, 2.0, 3.0]");
    assert_eq!((y.shape, y.data), (vec![3], vec![0.0, 2.0, 6.0]));
    assert_eq!(grads[0].data, vec![1.0, 2.0, 3.0]);
    let (y, _) =
        run("param x: f32[2, 3] = zeros", "sum(x - [[1.0, 1.0, 1.0], [0.0, 0.0, 2.0]], axis: 1, keepdims: true)");
    assert_eq!((y.shape, y.data), (vec![2, 1], vec![0.0, 10.0]));
    // Nested lists stack along new leading axes, and a list broadcasts like any tensor.
    let (y, _) = run("param x: f32[2, 1] = zeros", "x + [[10.0], [20.0]] + [1.0, 2.0]");
    assert_eq!((y.shape, y.data), (vec![2, 2], vec![11.0, 12.0, 22.0, 23.0]));
    let e = lower("param x: f32[2] = zeros", "x * [[1.0, 2.0], [3.0]]").unwrap_err();
    assert!(e.contains("gradc::shape"), "{e}");
}

#[test]
fn casts_embedding_and_gather() {
    // i32 of 0, 1.5, 3, 4.5, …: truncation toward zero; back to f32.
    let (y, grads) = run("param x: f32[5] = zeros", "f32(i32(x * 1.5)) * x");
    assert_eq!(y.data, vec![0.0, 1.0, 6.0, 12.0, 24.0]);
    assert_eq!(grads[0].data, vec![0.0, 1.0, 3.0, 4.0, 6.0], "the cast passes no gradient");
    // Ids from a cast, i32(0, 0.7, 1.4, 2.1): rows 0, 0, 1, 2 of a [3, 2] table; row 0 twice.
    let (y, grads) = run("param tab: f32[3, 2] = zeros\nparam u: f32[4] = zeros", "gather(tab, i32(u * 0.7)) * 1");
    assert_eq!(y.shape, vec![4, 2]);
    assert_eq!(y.data, vec![0.0, 1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    assert_eq!(grads[0].data, vec![2.0, 2.0, 1.0, 1.0, 1.0, 1.0]);
    // The embedding layer names its table after the binding, as dense does.
    let g = lower("param u: f32[4] = zeros", "embedding(i32(u), 5, 3)").unwrap_or_else(|e| panic!("{e}"));
    assert!(g.inputs.iter().any(|i| i.name == "out.table" && i.ty.shape == [5, 3]), "{:?}", g.inputs);
}

#[test]
fn bad_arguments_are_diagnostics() {
    for (params, expr, code) in [
        ("param x: f32[2, 3] = zeros", "permute(x, [0, 0])", "gradc::shape::axis"),
        ("param x: f32[2, 3] = zeros", "transpose(x, 0, 2)", "gradc::shape::axis"),
        ("param x: f32[2, 3] = zeros", "index(x, 1, 3)", "gradc::shape::axis"),
        ("param x: f32[2, 3] = zeros", "slice(x, 1, 0, 2, step: 0)", "gradc::call::value"),
        ("param x: f32[2, 3] = zeros", "concat([x, transpose(x)])", "gradc::shape::mismatch"),
        ("param x: f32[2, 3] = zeros", "gather(i32(x), i32(x))", "gradc::type::dtype"),
    ] {
        let err = lower(params, expr).expect_err(expr);
        assert!(err.contains(code), "{expr}: {err}");
    }
}
