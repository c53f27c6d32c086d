//! The deterministic text form of a graph: what `gradc ir` prints and snapshots assert.
//!
//! Inputs print by name, constants inline as literals; other nodes are numbered `%0, %1, ...`
//! in order, so the text does not depend on how a pass numbered its nodes.

use std::fmt::Write;

use super::op::fmt_shape;
use super::{Graph, InputRole, Op, OutputRole};

/// Prints a graph.
pub fn print(graph: &Graph) -> String {
    let mut names: Vec<String> = Vec::with_capacity(graph.nodes.len());
    let mut next = 0;
    let mut body = String::new();
    for node in &graph.nodes {
        let name = if let Op::Input(k) = node.op {
            graph.inputs[k].name.clone()
        } else if let Op::Const(c) = node.op {
            fmt_const(c)
        } else {
            next += 1;
            format!("%{}", next - 1)
        };
        if !matches!(node.op, Op::Input(_) | Op::Const(_)) {
            let args: Vec<&str> = node.args.iter().map(|a| names[a.index()].as_str()).collect();
            let line = format!("  {name} = {}{} {}", node.op.name(), attrs(&node.op), args.join(", "));
            // Writing to a String cannot fail.
            writeln!(body, "{:<48} : {}", line.trim_end(), node.ty).expect("write to String");
        }
        names.push(name);
    }
    let inputs: Vec<String> =
        graph.inputs.iter().map(|i| format!("{}: {} {}", i.name, i.ty, role_name(i.role))).collect();
    let mut out = format!("graph {}(\n", graph.name);
    for i in inputs {
        writeln!(out, "    {i},").expect("write to String");
    }
    out.push_str(") {\n");
    out.push_str(&body);
    for o in &graph.outputs {
        let arrow = if o.role.in_place() { "<-" } else { "=" };
        let role = match o.role {
            OutputRole::Loss => "loss",
            OutputRole::Metric => "metric",
            OutputRole::Grad => "grad",
            OutputRole::Param => "param",
            OutputRole::State => "state",
            OutputRole::Buffer => "buffer",
            OutputRole::Lr => "lr",
            OutputRole::Hyper => "hyper",
            OutputRole::Prediction => "prediction",
            OutputRole::Stat => "stat",
        };
        writeln!(out, "  {role} {} {arrow} {}", o.name, names[o.node.index()]).expect("write to String");
    }
    out.push_str("}\n");
    out
}

fn role_name(role: InputRole) -> &'static str {
    match role {
        InputRole::Data => "data",
        InputRole::Label => "label",
        InputRole::Param => "param",
        InputRole::State => "state",
        InputRole::Buffer => "buffer",
        InputRole::Step => "step",
        InputRole::Grad => "grad",
    }
}

fn attrs(op: &Op) -> String {
    let axes = |a: &[usize]| a.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",");
    match op {
        Op::Broadcast(s) | Op::Reshape(s) => fmt_shape(s),
        Op::Reduce(_, a) => format!("[{}]", axes(a)),
        Op::MatMul { ta, tb } => match (ta, tb) {
            (false, false) => String::new(),
            (true, false) => ".tn".into(),
            (false, true) => ".nt".into(),
            (true, true) => ".tt".into(),
        },
        Op::OneHot(c) => format!("[{c}]"),
        Op::Argmax(a) => format!("[{a}]"),
        Op::Window(w) => w.attrs(),
        Op::Cast(d) => format!(".{d}"),
        Op::Permute(p) => fmt_shape(p),
        Op::Slice { axis, start, end, step } => format!("[{axis}: {start}..{end} step {step}]"),
        Op::Concat { axis, .. } => format!("[{axis}]"),
        Op::ScatterAdd(rows) => format!("[{rows}]"),
        Op::Gather | Op::AllSum => String::new(),
        Op::Rand { key, shape, first: 0 } => format!("[{key:016x}]{}", fmt_shape(shape)),
        Op::Rand { key, shape, first } => format!("[{key:016x}]{} from {first}", fmt_shape(shape)),
        Op::Input(_) | Op::Const(_) | Op::Unary(_) | Op::Binary(_) | Op::Select => String::new(),
    }
}

/// Formats a constant so that it reads back exactly: shortest round-trip form, always with a `.`.
pub fn fmt_const(c: f64) -> String {
    with_point(format!("{c:?}"))
}

/// Formats an f32 the same way, at f32's shortest round-trip precision.
pub fn fmt_f32(c: f32) -> String {
    with_point(format!("{c:?}"))
}

fn with_point(s: String) -> String {
    if s.contains(['.', 'e', 'N', 'i']) {
        s
    } else {
        format!("{s}.0")
    }
}

#[cfg(test)]
mod tests {
    use super::{fmt_const, fmt_f32};
    use crate::rng::Rng;

    /// The significant digits of a formatted number (its mantissa without sign, point and
    /// leading zeros).
    fn digits(s: &str) -> usize {
        let mantissa = s.trim_start_matches('-').split('e').next().unwrap_or_default();
        let d: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        let d = d.trim_start_matches('0');
        // `1.0` and `100.0`: trailing zeros of the integer part count, the `.0` does not.
        let d = if mantissa.ends_with(".0") { d.trim_end_matches('0') } else { d };
        d.len().max(1)
    }

    /// Whether `s` is what the grammar's `number` reads, after an optional unary minus:
    /// `digits (. digits)? (e -? digits)?`.
    fn is_grammar_number(s: &str) -> bool {
        let s = s.strip_prefix('-').unwrap_or(s);
        let (mantissa, exponent) = match s.split_once('e') {
            Some((m, e)) => (m, Some(e.strip_prefix('-').unwrap_or(e))),
            None => (s, None),
        };
        let all_digits = |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit());
        let mantissa_ok = match mantissa.split_once('.') {
            Some((i, f)) => all_digits(i) && all_digits(f),
            None => all_digits(mantissa),
        };
        mantissa_ok && exponent.is_none_or(all_digits)
    }

    /// Many f64 values: random bit patterns, decimals of a few digits at every scale, f32
    /// values widened, the results of hyper-parameter arithmetic and the edge cases.
    fn samples() -> Vec<f64> {
        let mut rng = Rng::new(9);
        let mut v = vec![0.0, -0.0, 1.0, 0.1, 1e-8, 1e16, 1e21, 1e-7, f64::MAX, f64::MIN_POSITIVE, 5e-324, 1.0 - 0.9];
        for _ in 0..20_000 {
            let x = f64::from_bits(rng.next_u64());
            if x.is_finite() {
                v.push(x);
            }
            let decimal = (rng.below(100_000) as f64) * 10f64.powi(rng.below(40) as i32 - 20);
            v.push(decimal);
            v.push(f64::from(decimal as f32));
            v.push(1.0 - decimal.fract());
        }
        v
    }

    #[test]
    fn constants_read_back_exactly_in_the_fewest_digits() {
        for x in samples() {
            let s = fmt_const(x);
            let back: f64 = s.parse().unwrap_or_else(|e| panic!("{s} does not parse: {e}"));
            assert_eq!(back.to_bits(), x.to_bits(), "{s} reads back as {back:?}, not {x:?}");
            assert!(is_grammar_number(&s) && (s.contains('.') || s.contains('e')), "{s} is not a float literal");
            // One significant digit fewer, correctly rounded, no longer reads back: the nearest
            // shorter decimal is the best shorter candidate there is.
            let n = digits(&s);
            if n > 1 {
                let shorter = format!("{x:.*e}", n - 2);
                assert_ne!(shorter.parse::<f64>().map(f64::to_bits), Ok(x.to_bits()), "{shorter} is shorter than {s}");
            }
        }
    }

    #[test]
    fn f32_values_read_back_exactly_in_the_fewest_digits() {
        for x in samples().into_iter().map(|x| x as f32).filter(|x| x.is_finite()) {
            let s = fmt_f32(x);
            let back: f32 = s.parse().unwrap_or_else(|e| panic!("{s} does not parse: {e}"));
            assert_eq!(back.to_bits(), x.to_bits(), "{s} reads back as {back:?}, not {x:?}");
            let n = digits(&s);
            if n > 1 {
                let shorter = format!("{x:.*e}", n - 2);
                assert_ne!(shorter.parse::<f32>().map(f32::to_bits), Ok(x.to_bits()), "{shorter} is shorter than {s}");
            }
        }
    }

    #[test]
    fn decimals_print_as_written() {
        for (x, s) in [(0.1, "0.1"), (0.999, "0.999"), (1e-8, "1e-8"), (3.0, "3.0"), (-2.5, "-2.5"), (1e16, "1e16")] {
            assert_eq!(fmt_const(x), s);
        }
        // `1 - 0.9` in f64 is not 0.1: it prints as the value it is (see docs/LANGUAGE.md).
        assert_eq!(fmt_const(1.0 - 0.9), "0.09999999999999998");
        assert_eq!(fmt_f32(0.1), "0.1");
    }
}
