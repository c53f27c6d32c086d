//! The activations of `std.nn` and `binary_cross_entropy` against torch's formulas: values at a
//! spread of points up to |x| = 1e4, in f64 through the interpreter and in f32 through the JIT,
//! gradients against central finite differences, and no NaN or infinity anywhere.
//!
//! torch is not installed where these tests were written, so the expected values are torch's
//! documented formulas evaluated in f64 with Python's `math` (erf, expm1, log1p, tanh):
//! sigmoid(x) = 1 / (1 + e^-x) (as e^x / (1 + e^x) for x < 0), silu(x) = x·sigmoid(x),
//! softplus(x, β, t) = x if βx > t else log(1 + e^(βx)) / β, gelu(x) = x/2 · (1 + erf(x/√2)),
//! gelu_tanh(x) = x/2 · (1 + tanh(√(2/π)(x + 0.044715x³))), elu(x, α) = x if x > 0 else
//! α(e^x - 1), selu(x) = 1.0507009873554804934193349852946 · elu(x, 1.6732632423543772848170429916717).

use gradc::autodiff::backward;
use gradc::codegen::{CompileOptions, Executable};
use gradc::diag::SourceMap;
use gradc::ir::interp::{eval, Tensor};
use gradc::ir::{Graph, OutputRole};

/// The points every activation is checked at.
const XS: [f64; 18] =
    [-1e4, -100.0, -80.0, -20.0, -5.0, -1.0, -0.5, -1e-3, 0.0, 1e-3, 0.5, 1.0, 3.0, 5.0, 20.0, 25.0, 100.0, 1e4];

/// The forward graph of `loss = sum(CALL)` over a parameter `x: f32[n]`, with `CALL`'s value as
/// the extra output `y`; and `backward` of it, whose `x.grad` is the activation's derivative.
fn graphs(call: &str, n: usize) -> (Graph, Graph) {
    let src = format!(
        "use std.nn.*\nuse std.loss.*\nparam x: f32[{n}] = zeros\nparam u: f32[{n}] = zeros\n\
         loss = sum({call})\ntrain {{ optimizer = sgd(lr: 0.1), steps = 1 }}\n"
    );
    let mut sources = SourceMap::default();
    let user = sources.add("test.grad", src.clone());
    let render = |d: gradc::diag::Diag, s: &SourceMap| d.with_sources(s).render_plain();
    let file = gradc::syntax::parse(&src, user).unwrap_or_else(|d| panic!("{}", render(d, &sources)));
    let module = gradc::sema::resolve(file, user, &mut sources).unwrap_or_else(|d| panic!("{}", render(d, &sources)));
    let mut forward = module.lower(None, 1).unwrap_or_else(|d| panic!("{}", render(d, &sources))).forward;
    let loss = forward.output("loss").expect("a loss").node;
    let y = forward.node(loss).args[0];
    forward.add_output("y", y, OutputRole::Metric);
    let bwd = backward(&forward);
    (forward, bwd)
}

/// Inputs `x` (these values) and `u` (zeros, or `t`).
fn inputs(xs: &[f64], t: Option<&[f64]>) -> Vec<Tensor> {
    let n = xs.len();
    let t = t.map_or(vec![0.0; n], <[f64]>::to_vec);
    vec![Tensor::new(vec![n], xs.to_vec()), Tensor::new(vec![n], t)]
}

/// Runs `g` in the JIT on f32 inputs; returns the named output.
fn jit(g: &Graph, xs: &[f64], t: Option<&[f64]>, output: &str) -> Vec<f64> {
    let opts = CompileOptions { verify: true, keep_clif: false, threads: 1, flush_denormals: false };
    let mut exe = Executable::compile(g, &opts).unwrap_or_else(|e| panic!("compile: {e}"));
    for (name, v) in [("x", inputs(xs, t)[0].clone()), ("u", inputs(xs, t)[1].clone())] {
        if let Some(dst) = exe.input_mut(name) {
            dst.iter_mut().zip(&v.data).for_each(|(d, &s)| *d = s as f32);
        }
    }
    exe.run();
    exe.output(output).expect("output").iter().map(|&v| f64::from(v)).collect()
}

/// The named output of `g` in the interpreter.
fn interp(g: &Graph, xs: &[f64], t: Option<&[f64]>, output: &str) -> Vec<f64> {
    let k = g.outputs.iter().position(|o| o.name == output).expect("output");
    eval(g, &inputs(xs, t))[k].data.clone()
}

/// Checks `call` (an expression in `x`) against `want` at `XS`: the interpreter to 1e-12, the
/// JIT to f32 rounding, and the gradient against central differences at the points in `fd`.
fn check(call: &str, want: &[f64], fd: &[f64]) {
    let (fwd, bwd) = graphs(call, XS.len());
    let exact = interp(&fwd, &XS, None, "y");
    let fast = jit(&fwd, &XS, None, "y");
    for (k, &x) in XS.iter().enumerate() {
        let w = want[k];
        assert!((exact[k] - w).abs() <= 1e-12 * w.abs() + 1e-300, "{call} at {x}: interpreter {} vs {w}", exact[k]);
        // f32 rounding, plus the cancellation in 1 + erf or 1 + tanh near -1 (torch's f32 kernels
        // cancel there too), which costs an ulp of 1 scaled by |x|.
        let tol = 2e-6 * w.abs() + 1.2e-7 * x.abs().min(10.0) + 1e-44;
        assert!((fast[k] - w).abs() <= tol, "{call} at {x}: JIT {} vs {w}", fast[k]);
    }
    // Gradients: finite in the JIT at every point, equal to the interpreter's to f32 rounding.
    let grad = interp(&bwd, &XS, None, "x.grad");
    let grad32 = jit(&bwd, &XS, None, "x.grad");
    for (k, &x) in XS.iter().enumerate() {
        assert!(grad[k].is_finite() && grad32[k].is_finite(), "{call}'s gradient at {x}: {} / {}", grad[k], grad32[k]);
        let tol = 1e-5 * grad[k].abs() + 1e-6;
        assert!((grad32[k] - grad[k]).abs() <= tol, "{call}'s gradient at {x}: JIT {} vs {}", grad32[k], grad[k]);
    }
    // The activation is elementwise, so moving every point at once gives each its own difference.
    let (_, bwd) = graphs(call, fd.len());
    let analytic = interp(&bwd, fd, None, "x.grad");
    let (fwd, _) = graphs(call, fd.len());
    let h: Vec<f64> = fd.iter().map(|x| 1e-6 * x.abs().max(1.0)).collect();
    let plus: Vec<f64> = fd.iter().zip(&h).map(|(x, h)| x + h).collect();
    let minus: Vec<f64> = fd.iter().zip(&h).map(|(x, h)| x - h).collect();
    let (yp, ym) = (interp(&fwd, &plus, None, "y"), interp(&fwd, &minus, None, "y"));
    for k in 0..fd.len() {
        let numeric = (yp[k] - ym[k]) / (2.0 * h[k]);
        let ok = (analytic[k] - numeric).abs() <= 1e-6 + 1e-5 * numeric.abs();
        assert!(ok, "d {call} / dx at {}: backward {}, finite differences {numeric}", fd[k], analytic[k]);
    }
}

/// Every point but the kink at 0.
fn smooth_points() -> Vec<f64> {
    XS.iter().copied().filter(|&x| x != 0.0).collect()
}

#[test]
fn sigmoid() {
    let want = [
        0.0,
        3.720075976020836e-44,
        1.8048513878454153e-35,
        2.0611536181902033e-09,
        0.006692850924284856,
        0.2689414213699951,
        0.37754066879814546,
        0.49975000002083336,
        0.5,
        0.5002499999791666,
        0.6224593312018546,
        0.7310585786300049,
        0.9525741268224334,
        0.9933071490757153,
        0.9999999979388463,
        0.999999999986112,
        1.0,
        1.0,
    ];
    check("sigmoid(x)", &want, &XS);
    // Exact to f32 rounding in relative terms, also far out on the negative side.
    let (fwd, _) = graphs("sigmoid(x)", 3);
    let got = jit(&fwd, &[-80.0, -50.0, -20.0], None, "y");
    for (g, w) in got.iter().zip([1.8048513878454153e-35, 1.9287498479639178e-22, 2.0611536181902033e-09]) {
        assert!((g - w).abs() <= 1e-6 * w, "sigmoid: JIT {g} vs {w}");
    }
}

#[test]
fn silu() {
    let want = [
        -0.0,
        -3.7200759760208363e-42,
        -1.4438811102763322e-33,
        -4.1223072363804067e-08,
        -0.03346425462142428,
        -0.2689414213699951,
        -0.18877033439907273,
        -0.0004997500000208334,
        0.0,
        0.0005002499999791667,
        0.3112296656009273,
        0.7310585786300049,
        2.8577223804673,
        4.966535745378576,
        19.999999958776925,
        24.9999999996528,
        100.0,
        10000.0,
    ];
    check("silu(x)", &want, &XS);
}

#[test]
fn softplus() {
    let want = [
        0.0,
        3.720075976020836e-44,
        1.8048513878454153e-35,
        2.061153620314381e-09,
        0.006715348489118068,
        0.31326168751822286,
        0.4740769841801067,
        0.6926473055599401,
        std::f64::consts::LN_2,
        0.6936473055599401,
        0.9740769841801067,
        1.3132616875182228,
        3.048587351573742,
        5.006715348489118,
        20.000000002061153,
        25.0,
        100.0,
        10000.0,
    ];
    // torch's softplus jumps by log1p(e^-20) ≈ 2e-9 at the threshold, which central differences
    // across it see; x = 20 itself takes the log1p branch.
    let fd: Vec<f64> = XS.iter().copied().filter(|&x| x != 20.0).collect();
    check("softplus(x)", &want, &fd);
}

#[test]
fn softplus_with_beta() {
    // beta = 2, threshold 20: linear past x = 10.
    let want = [
        0.0,
        6.919482633683688e-88,
        1.6287442661037606e-70,
        2.1241771276457944e-18,
        2.2699449608432323e-05,
        0.06346400552148625,
        0.15663084375911143,
        0.346073840279931,
        0.34657359027997264,
        0.347073840279931,
        0.6566308437591114,
        1.0634640055214863,
        3.001237842568865,
        5.000022699449609,
        20.0,
        25.0,
        100.0,
        10000.0,
    ];
    check("softplus(x, beta: 2)", &want, &XS);
}

#[test]
fn gelu() {
    let want = [
        -0.0,
        -0.0,
        -0.0,
        -0.0,
        -1.4332578593401202e-06,
        -0.15865525393145707,
        -0.15426876936299344,
        -0.000499601057786089,
        0.0,
        0.000500398942213911,
        0.34573123063700656,
        0.8413447460685429,
        2.99595030590511,
        4.999998566742141,
        20.0,
        25.0,
        100.0,
        10000.0,
    ];
    check("gelu(x)", &want, &XS);
}

#[test]
fn gelu_tanh() {
    let want = [
        -0.0,
        -0.0,
        -0.0,
        -0.0,
        -2.2917961972623857e-07,
        -0.15880800939172324,
        -0.15428599017485606,
        -0.000499601057786418,
        0.0,
        0.000500398942213582,
        0.34571400982514394,
        0.8411919906082768,
        2.996362607918227,
        4.999999770820381,
        20.0,
        25.0,
        100.0,
        10000.0,
    ];
    check("gelu_tanh(x)", &want, &XS);
}

#[test]
fn elu() {
    let want = [
        -1.0,
        -1.0,
        -1.0,
        -0.9999999979388464,
        -0.9932620530009145,
        -0.6321205588285577,
        -0.3934693402873666,
        -0.0009995001666250085,
        0.0,
        0.001,
        0.5,
        1.0,
        3.0,
        5.0,
        20.0,
        25.0,
        100.0,
        10000.0,
    ];
    // With alpha = 1 the derivative is 1 from both sides of 0.
    check("elu(x)", &want, &XS);
    let half: Vec<f64> = XS.iter().map(|&x| if x > 0.0 { x } else { 0.5 * x.exp_m1() }).collect();
    check("elu(x, alpha: 0.5)", &half, &smooth_points());
}

#[test]
fn selu() {
    let want = [
        -1.7580993408473766,
        -1.7580993408473766,
        -1.7580993408473766,
        -1.758099337223664,
        -1.74625336066962,
        -1.1113307378125625,
        -0.6917581878028713,
        -0.0017572205841202705,
        0.0,
        0.0010507009873554805,
        0.5253504936777402,
        1.0507009873554805,
        3.1521029620664414,
        5.253504936777402,
        21.014019747109607,
        26.26752468388701,
        105.07009873554804,
        10507.009873554805,
    ];
    check("selu(x)", &want, &smooth_points());
}

#[test]
fn gradients_at_the_kinks_follow_torch() {
    // torch: elu'(0) = alpha and selu'(0) = scale * alpha (the x <= 0 branch); relu'(0) = 0;
    // softplus'(0) = sigmoid(0) = 1/2.
    for (call, want) in [
        ("elu(x, alpha: 0.5)", 0.5),
        ("selu(x)", 1.050_700_987_355_480_5 * 1.673_263_242_354_377_2),
        ("relu(x)", 0.0),
        ("softplus(x)", 0.5),
        ("sigmoid(x)", 0.25),
        ("silu(x)", 0.5),
        ("gelu(x)", 0.5),
    ] {
        let (_, bwd) = graphs(call, 1);
        let got = interp(&bwd, &[0.0], None, "x.grad")[0];
        assert!((got - want).abs() <= 1e-12, "d {call} / dx at 0: {got}, torch says {want}");
    }
}

#[test]
fn binary_cross_entropy_on_cast_labels() {
    // torch.nn.functional.binary_cross_entropy_with_logits(z, y) = mean(max(z, 0) - z*y +
    // log1p(exp(-|z|))), gradient (sigmoid(z) - y) / n; the labels come through i32 and back.
    let z: [f64; 10] = [-1e4, -30.0, -2.0, -0.5, 0.0, 0.0, 0.7, 3.0, 40.0, 1e4];
    let t: [f64; 10] = [0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
    let n = z.len() as f64;
    let want: f64 = z.iter().zip(&t).map(|(&z, &y)| z.max(0.0) - z * y + (-z.abs()).exp().ln_1p()).sum::<f64>() / n;
    let (fwd, bwd) = graphs("binary_cross_entropy(x, f32(i32(u))) * 1", z.len());
    let sig = |z: f64| if z >= 0.0 { 1.0 / (1.0 + (-z).exp()) } else { z.exp() / (1.0 + z.exp()) };
    let got = interp(&fwd, &z, Some(&t), "loss")[0];
    assert!((got - want).abs() <= 1e-12 * want, "loss {got} vs {want}");
    let fast = jit(&fwd, &z, Some(&t), "loss")[0];
    assert!((fast - want).abs() <= 1e-5 * want, "JIT loss {fast} vs {want}");
    let grad = jit(&bwd, &z, Some(&t), "x.grad");
    for k in 0..z.len() {
        let w = (sig(z[k]) - t[k]) / n;
        assert!((grad[k] - w).abs() <= 1e-6 * w.abs() + 1e-8, "gradient at {}: {} vs {w}", z[k], grad[k]);
    }
    assert_eq!(jit(&bwd, &z, Some(&t), "u.grad"), vec![0.0; z.len()], "labels take no gradient");
}
