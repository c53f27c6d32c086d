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
        Op::Gather => String::new(),
        Op::Rand { key, shape } => format!("[{key:016x}]{}", fmt_shape(shape)),
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
