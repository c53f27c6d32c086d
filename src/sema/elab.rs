//! Elaboration: evaluates the program's functions symbolically, emitting graph IR.
//!
//! Values are either compile-time (numbers, booleans, initializers), folded here, or tensors,
//! which are graph nodes. Every op goes through `Graph::push`, so shapes are checked by the op
//! table's rules; errors inside stdlib code are reported at the user's call into it.

use std::collections::HashMap;

use super::builtins;
use super::scope::Module;
use super::train::{check_hyper, unknown_argument, Partial, Sched};
use super::{expected, reserved, DataShape, Init, LabelShape, Lowered, ParamInfo, StateInfo, RESERVED_NAMES};
use crate::diag::{Diag, FileId, Span};
use crate::ir::op::{broadcast_shapes, checked_numel, fmt_shape};
use crate::ir::{DType, Graph, InputRole, NodeId, Op, OutputRole, ShapeError, StepInput, StepOutput, Type};
use crate::syntax::ast::{self, BinOp, Expr, ExprKind, FuncDecl, FuncKind, Stmt, TypeExpr};

/// A value during elaboration.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    /// A graph node.
    Tensor(NodeId),
    /// A compile-time number.
    Num(f64),
    /// A compile-time boolean.
    Bool(bool),
    /// A parameter initializer.
    Init(Init),
    /// A list of compile-time values.
    List(Vec<Val>),
    /// A string.
    Str(String),
}

impl Val {
    fn describe(&self, g: &Graph) -> String {
        match self {
            Val::Tensor(n) => format!("a tensor {}", g.ty(*n)),
            Val::Num(x) => format!("the number {x}"),
            Val::Bool(b) => format!("`{b}`"),
            Val::Init(_) => "an initializer".into(),
            Val::List(_) => "a list".into(),
            Val::Str(_) => "a string".into(),
        }
    }
}

/// Local names of one function invocation, and the file its body's names resolve in.
struct Env {
    vars: HashMap<String, Val>,
    file: FileId,
}

/// One active call, for parameter naming and error locations.
struct Frame {
    /// Where the call is.
    call: Span,
    /// The callee's name.
    callee: String,
    /// A model (or the loss): its parameters are not prefixed.
    transparent: bool,
    /// The instance name this call will take if it declares parameters.
    instance: String,
    /// The parameter-name prefix, resolved when the first parameter is declared.
    prefix: Option<String>,
    /// How many instances of each name this frame has handed out.
    instances: HashMap<String, usize>,
    /// The let-binding being evaluated, which names layer calls inside it.
    binding: Option<String>,
}

/// The elaborator's state for one graph.
struct Elab<'m> {
    m: &'m Module,
    g: Graph,
    params: Vec<ParamInfo>,
    param_nodes: HashMap<String, NodeId>,
    frames: Vec<Frame>,
}

/// Elaborates the forward graph (loss and metrics) for batches of `batch` rows of `data`.
pub(super) fn forward(m: &Module, data: Option<DataShape>, batch: usize) -> Result<(Graph, Vec<ParamInfo>), Diag> {
    let mut e = Elab { m, g: Graph::new("forward"), params: vec![], param_nodes: HashMap::new(), frames: vec![] };
    let loss = &m.loss;
    let mut args = Vec::new();
    if let Some(shape) = data {
        let formals = &loss.params;
        if formals.len() > 2 {
            return Err(Diag::new("gradc::loss::arity", "a loss takes at most two parameters: features and labels")
                .at(loss.name.span.to(formals[2].name.span), "too many parameters")
                .help("write `loss(x, y) = ...`"));
        }
        let features = Type::f32(vec![batch, shape.features]);
        let x = e.g.add_input(&formals[0].name.name, features, InputRole::Data);
        args.push((None, Val::Tensor(x), formals[0].name.span));
        let label_ty = match shape.labels {
            LabelShape::Classes(_) => Type::new(DType::I32, vec![batch]),
            LabelShape::Targets(k) => Type::f32(vec![batch, k]),
        };
        let label_name = formals.get(1).map_or("labels", |f| f.name.name.as_str());
        let y = e.g.add_input(label_name, label_ty, InputRole::Label);
        if let Some(f) = formals.get(1) {
            args.push((None, Val::Tensor(y), f.name.span));
        }
    }
    for p in &m.params {
        let mut env = Env { vars: HashMap::new(), file: m.user };
        e.declare_param(p, &mut env)?;
    }
    let value = e.call_decl(loss, args, loss.span)?;
    let node = e.scalar(value, loss.span, "the loss")?;
    e.g.add_step_output(StepOutput::Loss, node);

    if let Some(model) = &m.model {
        let x = e.g.input_index(&loss.params[0].name.name).map(|i| e.g.input_node(i));
        let y = loss.params.get(1).and_then(|f| e.g.input_index(&f.name.name)).map(|i| e.g.input_node(i));
        for (name, span) in &m.train.metrics {
            let (Some(x), Some(y)) = (x, y) else {
                return Err(Diag::new("gradc::train::metrics", "metrics need data with labels")
                    .at(*span, "needs labels")
                    .help("give the loss two parameters, `loss(x, y)`, and data with a label column"));
            };
            let logits = e.call_decl(model, vec![(None, Val::Tensor(x), *span)], *span)?;
            // The metric is looked up where the train block named it, so it is a known `fn`.
            let decl = m.func(m.user, name).expect("metric checked by train::check");
            let value = e.call_decl(decl, vec![(None, logits, *span), (None, Val::Tensor(y), *span)], *span)?;
            let node = e.scalar(value, *span, &format!("the metric `{name}`"))?;
            e.g.add_output(name, node, OutputRole::Metric);
        }
    }
    Ok((e.g, e.params))
}

/// Elaborates the update graph: the optimizer body once per parameter, under the schedule's lr.
pub(super) fn update(m: &Module, params: &[ParamInfo]) -> Result<(Graph, Vec<StateInfo>), Diag> {
    let mut e = Elab { m, g: Graph::new("update"), params: vec![], param_nodes: HashMap::new(), frames: vec![] };
    let opt = &m.optimizer;
    let mut p_nodes = Vec::new();
    for p in params {
        let pn = e.g.add_input(&p.name, Type::f32(p.shape.clone()), InputRole::Param);
        let gn = e.g.add_input(&format!("{}.grad", p.name), Type::f32(p.shape.clone()), InputRole::Grad);
        p_nodes.push((pn, gn));
    }
    let t = e.g.add_step_input(StepInput::T);
    e.frames.push(e.frame(opt.span, &opt.decl.name.name, true));

    // The base learning rate is the optimizer's `lr` hyper-parameter; the schedule maps it.
    let hyper = e.hyper_env(opt)?;
    let lr = match (hyper.vars.get("lr"), &m.schedule) {
        (Some(Val::Num(base)), Some(s)) => {
            // `step` counts updates made, or epochs completed with `schedule_by = epoch`.
            let step = if m.train.schedule_by_epoch {
                e.g.add_step_input(StepInput::Epoch)
            } else {
                let one = e.g.constant(1.0);
                e.push(Op::Sub, vec![t, one], opt.span)?
            };
            Some(e.schedule(s, *base, step)?)
        }
        (Some(Val::Num(base)), None) => Some(e.g.constant(*base)),
        (_, Some(_)) => {
            return Err(Diag::new(
                "gradc::train::schedule",
                format!("`{}` has no `lr` for a schedule to drive", opt.decl.name.name),
            )
            .at(opt.span, "this optimizer has no `lr`")
            .help("remove the schedule, or give the optimizer an `lr` parameter"))
        }
        _ => None,
    };
    // Reduce-on-plateau scales the learning rate from the runtime, which watches the metric.
    let lr = match (lr, &m.train.plateau) {
        (Some(lr), Some(_)) => {
            let scale = e.g.add_step_input(StepInput::LrScale);
            Some(e.push(Op::Mul, vec![lr, scale], opt.span)?)
        }
        (lr, _) => lr,
    };

    let mut states = Vec::new();
    for group in &m.train.param_groups {
        if !params.iter().any(|p| group.matches(&p.name)) {
            let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
            return Err(Diag::new(
                "gradc::train::group",
                format!("the pattern \"{}\" matches no parameter", group.pattern),
            )
            .at(group.span, "matches nothing")
            .help(format!("the parameters are {}", names.join(", "))));
        }
    }
    for (p, &(pn, gn)) in params.iter().zip(&p_nodes) {
        let mut env = Env { vars: hyper.vars.clone(), file: hyper.file };
        let mut lr = lr;
        for group in m.train.param_groups.iter().filter(|g| g.matches(&p.name)) {
            for (key, value) in &group.set {
                match key.as_str() {
                    "lr_mult" => {
                        if let Some(l) = lr {
                            let mult = e.g.constant(*value);
                            lr = Some(e.push(Op::Mul, vec![l, mult], group.span)?);
                        }
                    }
                    "decay_mult" => {
                        if let Some(Val::Num(wd)) = env.vars.get("weight_decay") {
                            let wd = wd * value;
                            env.vars.insert("weight_decay".into(), Val::Num(wd));
                        }
                    }
                    _ => {
                        env.vars.insert(key.clone(), Val::Num(*value));
                    }
                }
            }
        }
        if let Some(lr) = lr {
            env.vars.insert("lr".into(), Val::Tensor(lr));
        }
        env.vars.insert("p".into(), Val::Tensor(pn));
        env.vars.insert("g".into(), Val::Tensor(gn));
        env.vars.insert(StepInput::T.name().into(), Val::Tensor(t));
        let mut state_vars: Vec<String> = Vec::new();
        for stmt in &opt.decl.body.stmts {
            match stmt {
                Stmt::State { vars, .. } => {
                    for (name, init) in vars {
                        let v = e.expr(init, &mut env)?;
                        let Val::Num(init) = v else {
                            return Err(e.locate(expected(
                                "a number to start the state at",
                                init.span,
                                &v.describe(&e.g),
                            )));
                        };
                        let full = format!("{}.{}", p.name, name.name);
                        let node = e.g.add_input(&full, Type::f32(p.shape.clone()), InputRole::State);
                        states.push(StateInfo { name: full, shape: p.shape.clone(), init: init as f32 });
                        env.vars.insert(name.name.clone(), Val::Tensor(node));
                        state_vars.push(name.name.clone());
                    }
                }
                Stmt::Let { name, value, .. } => {
                    let v = e.expr(value, &mut env)?;
                    env.vars.insert(name.name.clone(), v);
                }
                Stmt::Param(d) => {
                    return Err(e.locate(
                        Diag::new("gradc::optimizer::param", "an optimizer cannot declare parameters")
                            .at(d.span, "parameter in an optimizer")
                            .help("use `state` for per-parameter optimizer state"),
                    ))
                }
            }
        }
        let shape = p.shape.clone();
        let new_p = e.as_shape(env.vars["p"].clone(), &shape, opt.span)?;
        e.g.add_output(&p.name, new_p, OutputRole::Param);
        for var in state_vars {
            let v = e.as_shape(env.vars[&var].clone(), &shape, opt.span)?;
            e.g.add_output(&format!("{}.{var}", p.name), v, OutputRole::State);
        }
    }
    if let Some(lr) = lr {
        e.g.add_step_output(StepOutput::Lr, lr);
    }
    let (g, live) = without_dead_state(&e.g);
    states.retain(|s| live.contains(&s.name));
    Ok((g, states))
}

/// Drops optimizer state that cannot affect the parameters (e.g. `sgd`'s momentum buffer when
/// `momentum = 0`): a state is live if a new parameter, the lr or a live state's new value
/// reads it. Returns the graph without the dead states' inputs and outputs, and the live names.
fn without_dead_state(g: &Graph) -> (Graph, Vec<String>) {
    let mut needed = vec![false; g.nodes.len()];
    let mark = |needed: &mut Vec<bool>, root: NodeId| {
        let mut stack = vec![root];
        while let Some(n) = stack.pop() {
            if !std::mem::replace(&mut needed[n.index()], true) {
                stack.extend(g.node(n).args.iter().copied());
            }
        }
    };
    for o in g.outputs.iter().filter(|o| o.role != OutputRole::State) {
        mark(&mut needed, o.node);
    }
    let reads = |needed: &Vec<bool>, name: &str| {
        g.nodes.iter().enumerate().any(|(i, n)| needed[i] && matches!(n.op, Op::Input(k) if g.inputs[k].name == name))
    };
    let mut live: Vec<String> = Vec::new();
    loop {
        let newly: Vec<&crate::ir::Output> = g
            .outputs
            .iter()
            .filter(|o| o.role == OutputRole::State && !live.contains(&o.name) && reads(&needed, &o.name))
            .collect();
        if newly.is_empty() {
            break;
        }
        for o in newly {
            live.push(o.name.clone());
            mark(&mut needed, o.node);
        }
    }
    // Rebuild: keep every non-state input, the live states, and the nodes outputs reach.
    let keep_input = |k: usize| g.inputs[k].role != InputRole::State || live.contains(&g.inputs[k].name);
    let mut out = Graph::new(&g.name);
    let mut map: Vec<Option<NodeId>> = vec![None; g.nodes.len()];
    for (i, node) in g.nodes.iter().enumerate() {
        map[i] = match node.op {
            Op::Input(k) if keep_input(k) => Some(out.add_input(&g.inputs[k].name, node.ty.clone(), g.inputs[k].role)),
            Op::Input(_) => None,
            _ if needed[i] => {
                let args =
                    node.args.iter().map(|a| map[a.index()].expect("a needed node's operands are kept")).collect();
                Some(out.push_typed(node.op.clone(), args, node.ty.clone()))
            }
            _ => None,
        };
    }
    for o in &g.outputs {
        if o.role != OutputRole::State || live.contains(&o.name) {
            out.add_output(&o.name, map[o.node.index()].expect("outputs are kept"), o.role);
        }
    }
    (out, live)
}

/// Elaborates both graphs.
pub(super) fn lower(m: &Module, data: Option<DataShape>, batch: usize) -> Result<Lowered, Diag> {
    let (forward, params) = forward(m, data, batch)?;
    let (update, states) = update(m, &params)?;
    Ok(Lowered { forward, update, params, states })
}

fn no_result(decl: &FuncDecl) -> Diag {
    Diag::new("gradc::func::result", format!("`{}` has no result expression", decl.name.name))
        .at(decl.name.span, "returns nothing")
        .help("end the body with the value to return")
}

impl<'m> Elab<'m> {
    fn frame(&self, call: Span, callee: &str, transparent: bool) -> Frame {
        let instance = self.frames.last().and_then(|f| f.binding.clone()).unwrap_or_else(|| "out".into());
        Frame {
            call,
            callee: callee.into(),
            transparent,
            instance,
            prefix: None,
            instances: HashMap::new(),
            binding: None,
        }
    }

    /// Re-targets a diagnostic whose span lies outside the user's file to the innermost call
    /// from the user's file, so users see their own code.
    fn locate(&self, mut d: Diag) -> Diag {
        let Some((span, label)) = d.label.clone() else { return d };
        if span.file == self.m.user {
            return d;
        }
        if let Some(f) = self.frames.iter().rev().find(|f| f.call.file == self.m.user) {
            d.label = Some((f.call, format!("in this call to `{}`: {label}", f.callee)));
            d.notes.clear();
        }
        d
    }

    fn shape_error(&self, err: ShapeError, span: Span) -> Diag {
        let (code, help) = match &err {
            ShapeError::Mismatch(_) => ("gradc::shape::mismatch", "check the shapes of the operands"),
            ShapeError::DType(_) => ("gradc::type::dtype", "labels are i32; arithmetic needs f32 values"),
            ShapeError::Axis(_) => ("gradc::shape::axis", "axes count from 0; negative axes count from the end"),
            ShapeError::TooLarge(_) => ("gradc::shape::too_large", "use smaller dimensions"),
        };
        self.locate(Diag::new(code, err.to_string()).at(span, err.to_string()).help(help))
    }

    fn push(&mut self, op: Op, args: Vec<NodeId>, span: Span) -> Result<NodeId, Diag> {
        self.g.push(op, args).map_err(|e| self.shape_error(e, span))
    }

    /// A tensor node for a value: numbers become constants.
    fn tensor(&mut self, v: Val, span: Span) -> Result<NodeId, Diag> {
        match v {
            Val::Tensor(n) => Ok(n),
            Val::Num(x) => Ok(self.g.constant(x)),
            other => Err(self.locate(expected("a number or tensor", span, &other.describe(&self.g)))),
        }
    }

    /// A scalar node for a value that must be a scalar (a loss, a metric, a learning rate).
    fn scalar(&mut self, v: Val, span: Span, what: &str) -> Result<NodeId, Diag> {
        let n = self.tensor(v, span)?;
        let ty = self.g.ty(n).clone();
        if ty.shape.is_empty() && ty.dtype == DType::F32 {
            return Ok(n);
        }
        Err(self.locate(
            Diag::new("gradc::type::scalar", format!("{what} must be an f32 scalar, found {ty}"))
                .at(span, format!("this is {ty}"))
                .help("reduce it, e.g. with mean(...) or sum(...)"),
        ))
    }

    /// Broadcasts a value to exactly `shape`.
    fn as_shape(&mut self, v: Val, shape: &[usize], span: Span) -> Result<NodeId, Diag> {
        let n = self.tensor(v, span)?;
        if self.g.ty(n).shape == shape {
            return Ok(n);
        }
        self.push(Op::Broadcast(shape.to_vec()), vec![n], span)
    }

    /// Applies a binary elementwise op with numpy broadcasting.
    fn broadcast_op(&mut self, op: Op, a: NodeId, b: NodeId, span: Span) -> Result<NodeId, Diag> {
        let (ta, tb) = (self.g.ty(a).clone(), self.g.ty(b).clone());
        let numeric = ta.dtype == DType::F32 && tb.dtype == DType::F32;
        if op != Op::Eq && !numeric {
            let msg = format!("`{}` needs f32 operands, found {ta} and {tb}", op.name());
            return Err(self.locate(
                Diag::new("gradc::type::dtype", msg.clone())
                    .at(span, msg)
                    .help("i32 values are class labels; turn them into f32 rows with one_hot(labels, classes)"),
            ));
        }
        let (sa, sb) = (ta.shape, tb.shape);
        let Some(shape) = broadcast_shapes(&sa, &sb) else {
            let msg = format!("cannot broadcast {} with {}", fmt_shape(&sa), fmt_shape(&sb));
            return Err(self.locate(
                Diag::new("gradc::shape::broadcast", msg.clone())
                    .at(span, msg)
                    .help("shapes align on the right; each dimension must be equal or 1"),
            ));
        };
        let a = if sa == shape { a } else { self.push(Op::Broadcast(shape.clone()), vec![a], span)? };
        let b = if sb == shape { b } else { self.push(Op::Broadcast(shape), vec![b], span)? };
        self.push(op, vec![a, b], span)
    }

    /// The learning rate a schedule gives at `step` for base rate `base`, a scalar node.
    fn schedule(&mut self, s: &Sched, base: f64, step: NodeId) -> Result<NodeId, Diag> {
        match s {
            Sched::One(p) => {
                self.frames.push(self.frame(p.span, &p.decl.name.name, true));
                let mut env = self.hyper_env(p)?;
                env.vars.insert("base".into(), Val::Num(base));
                env.vars.insert("step".into(), Val::Tensor(step));
                let v = self.block(&p.decl.body, &mut env)?;
                let v = v.ok_or_else(|| self.locate(no_result(&p.decl)))?;
                let node = self.scalar(v, p.span, "a schedule")?;
                self.frames.pop();
                Ok(node)
            }
            Sched::Then { first, at, next } => {
                let a = self.schedule(first, base, step)?;
                let at_node = self.g.constant(*at);
                let span = self.frames.last().map_or(Span::new(self.m.user, 0, 0), |f| f.call);
                let shifted = self.push(Op::Sub, vec![step, at_node], span)?;
                let b = self.schedule(next, base, shifted)?;
                let before = self.push(Op::Gt, vec![at_node, step], span)?;
                let picked =
                    self.select(&[(Val::Tensor(before), span), (Val::Tensor(a), span), (Val::Tensor(b), span)], span)?;
                self.tensor(picked, span)
            }
            Sched::Product(a, b) => {
                let span = self.frames.last().map_or(Span::new(self.m.user, 0, 0), |f| f.call);
                let x = self.schedule(a, base, step)?;
                let y = self.schedule(b, base, step)?;
                let xy = self.push(Op::Mul, vec![x, y], span)?;
                let base = self.g.constant(base);
                self.push(Op::Div, vec![xy, base], span)
            }
        }
    }

    /// The prefix for parameters declared in the innermost frame, claiming an instance name.
    fn prefix(&mut self, depth: usize) -> String {
        if let Some(p) = &self.frames[depth].prefix {
            return p.clone();
        }
        let parent = if depth == 0 { String::new() } else { self.prefix(depth - 1) };
        let prefix = if self.frames[depth].transparent {
            parent
        } else {
            let base = self.frames[depth].instance.clone();
            let owner = if depth == 0 { None } else { Some(depth - 1) };
            let n = match owner {
                Some(o) => {
                    let c = self.frames[o].instances.entry(base.clone()).or_insert(0);
                    *c += 1;
                    *c
                }
                None => 1,
            };
            let name = if n == 1 { base } else { format!("{base}_{n}") };
            format!("{parent}{name}.")
        };
        self.frames[depth].prefix = Some(prefix.clone());
        prefix
    }

    /// Resolves a type's dimensions in `env`.
    fn dims(&self, ty: &TypeExpr, env: &Env) -> Result<(DType, Vec<usize>), Diag> {
        let TypeExpr::Tensor { dtype, dims, .. } = ty else {
            return Err(self.locate(expected("a tensor type such as f32[2, 3]", ty.span(), "a compile-time type")));
        };
        let mut shape = Vec::new();
        for d in dims {
            let (value, span) = match d {
                ast::Dim::Lit(n, span) => (*n as f64, *span),
                ast::Dim::Var(id) => match env.vars.get(&id.name) {
                    Some(Val::Num(n)) => (*n, id.span),
                    _ => {
                        return Err(self.locate(Diag::new("gradc::name::dim", format!("unknown dimension `{}`", id.name))
                            .at(id.span, "not bound here")
                            .help("dimension names are bound by the types of the function's parameters or by `int` parameters")))
                    }
                },
            };
            if value < 0.0 || value.fract() != 0.0 || value > u32::MAX as f64 {
                return Err(self.locate(
                    Diag::new("gradc::shape::too_large", format!("{value} is not a valid dimension"))
                        .at(span, "not a size")
                        .help("dimensions are whole numbers below 2^32"),
                ));
            }
            shape.push(value as usize);
        }
        if checked_numel(&shape).is_none() {
            return Err(self.locate(
                Diag::new("gradc::shape::too_large", format!("a tensor of shape {} is too large", fmt_shape(&shape)))
                    .at(ty.span(), "too many elements")
                    .help("a tensor holds at most 2^31 elements"),
            ));
        }
        Ok((
            match dtype {
                ast::DTypeName::F32 => DType::F32,
                ast::DTypeName::I32 => DType::I32,
            },
            shape,
        ))
    }

    /// Declares (or, for a name already declared with the same shape, reuses) a parameter.
    fn declare_param(&mut self, decl: &ast::ParamDecl, env: &mut Env) -> Result<NodeId, Diag> {
        let (dtype, shape) = self.dims(&decl.ty, env)?;
        if dtype != DType::F32 {
            return Err(self.locate(
                Diag::new("gradc::type::param", "parameters are f32")
                    .at(decl.ty.span(), "not f32")
                    .help("declare it as f32[...]"),
            ));
        }
        let name = match self.frames.len() {
            0 => decl.name.name.clone(),
            n => format!("{}{}", self.prefix(n - 1), decl.name.name),
        };
        // A layer's parameters carry a dotted prefix, so only unprefixed names can collide.
        if RESERVED_NAMES.contains(&name.as_str()) {
            return Err(self.locate(reserved("parameter", &name, decl.name.span)));
        }
        let init = match &decl.init {
            None => Init::Zeros,
            Some(expr) => match self.expr(expr, env)? {
                Val::Init(i) => i,
                Val::Num(c) => Init::Constant(c),
                other => {
                    return Err(self.locate(expected(
                        "an initializer such as `normal(std: 0.1)`",
                        expr.span,
                        &other.describe(&self.g),
                    )))
                }
            },
        };
        if let Some(&node) = self.param_nodes.get(&name) {
            let prev = self.params.iter().find(|p| p.name == name).expect("param_nodes and params agree");
            if prev.shape != shape {
                return Err(self.locate(
                    Diag::new("gradc::param::shape", format!("parameter `{name}` is used with two shapes"))
                        .at(decl.span, format!("here it is {}", fmt_shape(&shape)))
                        .note(prev.span, format!("here it is {}", fmt_shape(&prev.shape)))
                        .help(
                            "a parameter name is shared by every call that produces it; give the calls different names",
                        ),
                ));
            }
            env.vars.insert(decl.name.name.clone(), Val::Tensor(node));
            return Ok(node);
        }
        let node = self.g.add_input(&name, Type::f32(shape.clone()), InputRole::Param);
        self.params.push(ParamInfo { name: name.clone(), shape, init, span: decl.span });
        self.param_nodes.insert(name, node);
        env.vars.insert(decl.name.name.clone(), Val::Tensor(node));
        Ok(node)
    }

    /// The hyper-parameter environment of an optimizer or schedule use.
    fn hyper_env(&mut self, p: &Partial) -> Result<Env, Diag> {
        let mut env = Env { vars: HashMap::new(), file: p.decl.name.span.file };
        for (name, value, _) in &p.args {
            env.vars.insert(name.clone(), Val::Num(*value));
        }
        for (name, values) in &p.lists {
            env.vars.insert(name.clone(), Val::List(values.iter().map(|&v| Val::Num(v)).collect()));
        }
        for f in &p.decl.params {
            if env.vars.contains_key(&f.name.name) {
                continue;
            }
            // Missing arguments without defaults were rejected by train::check.
            let default = f.default.as_ref().expect("checked by train::check");
            let v = self.expr(default, &mut env)?;
            if let Val::Num(x) = v {
                check_hyper(&f.name.name, x, p.span)?;
            }
            env.vars.insert(f.name.name.clone(), v);
        }
        Ok(env)
    }

    /// Evaluates a block; returns its result value, if it has one.
    fn block(&mut self, b: &ast::Block, env: &mut Env) -> Result<Option<Val>, Diag> {
        for stmt in &b.stmts {
            match stmt {
                Stmt::Let { name, value, .. } => {
                    if let Some(f) = self.frames.last_mut() {
                        f.binding = Some(name.name.clone());
                    }
                    let v = self.expr(value, env)?;
                    if let Some(f) = self.frames.last_mut() {
                        f.binding = None;
                    }
                    env.vars.insert(name.name.clone(), v);
                }
                Stmt::Param(d) => {
                    self.declare_param(d, env)?;
                }
                Stmt::State { span, .. } => {
                    return Err(self.locate(
                        Diag::new("gradc::state::outside", "`state` is only allowed in an optimizer")
                            .at(*span, "not in an optimizer")
                            .help("declare trainable values with `param`"),
                    ))
                }
            }
        }
        match &b.result {
            Some(e) => self.expr(e, env).map(Some),
            None => Ok(None),
        }
    }

    /// Calls a declared function with evaluated arguments.
    fn call_decl(
        &mut self,
        decl: &FuncDecl,
        args: Vec<(Option<ast::Ident>, Val, Span)>,
        call: Span,
    ) -> Result<Val, Diag> {
        if self.frames.len() > 64 {
            return Err(self.locate(
                Diag::new("gradc::call::recursion", format!("calls nest too deeply in `{}`", decl.name.name))
                    .at(call, "nested more than 64 calls deep")
                    .help("functions cannot call themselves; .grad has no recursion"),
            ));
        }
        match decl.kind {
            FuncKind::Optimizer | FuncKind::Schedule => {
                return Err(self.locate(
                    Diag::new("gradc::call::kind", format!("`{}` can only be used in the train block", decl.name.name))
                        .at(call, "not callable here")
                        .help("set it in the train block, e.g. `optimizer = adam(lr: 1e-3)`"),
                ))
            }
            FuncKind::Fn | FuncKind::Layer | FuncKind::Model | FuncKind::Loss => {}
        }
        let mut env = Env { vars: HashMap::new(), file: decl.name.span.file };
        let mut given: Vec<Option<(Val, Span)>> = vec![None; decl.params.len()];
        for (i, (name, v, span)) in args.into_iter().enumerate() {
            let slot = match &name {
                Some(n) => match decl.params.iter().position(|f| f.name.name == n.name) {
                    Some(k) => k,
                    None => return Err(self.locate(unknown_argument(decl, n))),
                },
                None if i < decl.params.len() => i,
                None => {
                    return Err(self.locate(
                        Diag::new(
                            "gradc::call::arity",
                            format!("`{}` takes {} arguments", decl.name.name, decl.params.len()),
                        )
                        .at(span, "one too many")
                        .help(format!("see the declaration of `{}`", decl.name.name)),
                    ))
                }
            };
            if given[slot].is_some() {
                return Err(self.locate(
                    Diag::new("gradc::call::duplicate", format!("`{}` is given twice", decl.params[slot].name.name))
                        .at(span, "given again here")
                        .help("give each argument once"),
                ));
            }
            given[slot] = Some((v, span));
        }
        for (f, g) in decl.params.iter().zip(given) {
            let (v, span) = match (g, &f.default) {
                (Some(g), _) => g,
                (None, Some(d)) => {
                    let v = self.expr(d, &mut env)?;
                    (v, d.span)
                }
                (None, None) => {
                    return Err(self.locate(
                        Diag::new(
                            "gradc::call::missing",
                            format!("`{}` needs a value for `{}`", decl.name.name, f.name.name),
                        )
                        .at(call, format!("`{}` is not given", f.name.name))
                        .help(format!("pass `{}: ...`", f.name.name)),
                    ))
                }
            };
            if let Some(ty) = &f.ty {
                self.check_formal(decl, f, ty, &v, span, &mut env)?;
            }
            env.vars.insert(f.name.name.clone(), v);
        }
        let transparent = matches!(decl.kind, FuncKind::Model | FuncKind::Loss);
        self.frames.push(self.frame(call, &decl.name.name, transparent));
        if decl.kind == FuncKind::Fn {
            if let Some(Stmt::Param(p)) = decl.body.stmts.iter().find(|s| matches!(s, Stmt::Param(_))) {
                return Err(self.locate(
                    Diag::new("gradc::param::in_fn", "a `fn` cannot declare parameters")
                        .at(p.span, "parameter in a fn")
                        .help("make it a `layer` so its parameters get an instance name"),
                ));
            }
        }
        let result = self.block(&decl.body, &mut env)?;
        self.frames.pop();
        let result = result.ok_or_else(|| self.locate(no_result(decl)))?;
        if let Some(ret) = &decl.ret {
            self.check_result(decl, ret, &result, call, &env)?;
        }
        Ok(result)
    }

    /// Checks an argument against a formal's declared type, binding dimension names.
    fn check_formal(
        &mut self,
        decl: &FuncDecl,
        f: &ast::FormalParam,
        ty: &TypeExpr,
        v: &Val,
        span: Span,
        env: &mut Env,
    ) -> Result<(), Diag> {
        let fail = |this: &Self, want: String| {
            this.locate(
                Diag::new(
                    "gradc::type::argument",
                    format!(
                        "argument `{}` of `{}` must be {want}, found {}",
                        f.name.name,
                        decl.name.name,
                        v.describe(&this.g)
                    ),
                )
                .at(span, format!("expected {want}"))
                .note(ty.span(), "declared here")
                .help(format!("pass {want} as `{}`", f.name.name)),
            )
        };
        match ty {
            TypeExpr::Int(_) => match v {
                Val::Num(n) if n.fract() == 0.0 && *n >= 0.0 => Ok(()),
                _ => Err(fail(self, "a whole number".into())),
            },
            TypeExpr::Float(_) => match v {
                Val::Num(_) => Ok(()),
                _ => Err(fail(self, "a number".into())),
            },
            TypeExpr::Tensor { dtype, dims, .. } => {
                let want = type_text(*dtype, dims);
                let (vdtype, vshape) = match v {
                    Val::Tensor(n) => (self.g.ty(*n).dtype, self.g.ty(*n).shape.clone()),
                    Val::Num(_) if dims.is_empty() && *dtype == ast::DTypeName::F32 => return Ok(()),
                    _ => return Err(fail(self, want)),
                };
                let dt = match dtype {
                    ast::DTypeName::F32 => DType::F32,
                    ast::DTypeName::I32 => DType::I32,
                };
                if vdtype != dt || vshape.len() != dims.len() {
                    return Err(fail(self, want));
                }
                for (d, &actual) in dims.iter().zip(&vshape) {
                    match d {
                        ast::Dim::Lit(n, _) if *n as usize == actual => {}
                        ast::Dim::Lit(..) => return Err(fail(self, want)),
                        ast::Dim::Var(id) => match env.vars.get(&id.name) {
                            Some(Val::Num(bound)) if *bound as usize == actual => {}
                            Some(Val::Num(bound)) => {
                                let msg = format!(
                                    "`{}` is {bound} from an earlier argument of `{}`, but {actual} here",
                                    id.name, decl.name.name
                                );
                                return Err(self.locate(
                                    Diag::new("gradc::shape::mismatch", msg.clone())
                                        .at(span, msg)
                                        .help("the arguments' shapes must agree on each named dimension"),
                                ));
                            }
                            _ => {
                                env.vars.insert(id.name.clone(), Val::Num(actual as f64));
                            }
                        },
                    }
                }
                Ok(())
            }
        }
    }

    fn check_result(&self, decl: &FuncDecl, ret: &TypeExpr, v: &Val, call: Span, env: &Env) -> Result<(), Diag> {
        let (dtype, shape) = self.dims(ret, env)?;
        let ok = match v {
            Val::Tensor(n) => self.g.ty(*n) == &Type::new(dtype, shape.clone()),
            Val::Num(_) => shape.is_empty() && dtype == DType::F32,
            _ => false,
        };
        if ok {
            return Ok(());
        }
        let want = Type::new(dtype, shape);
        Err(self.locate(
            Diag::new(
                "gradc::type::result",
                format!("`{}` returns {}, but declares {want}", decl.name.name, v.describe(&self.g)),
            )
            .at(call, format!("declared to return {want}"))
            .note(ret.span(), "declared here")
            .help("fix the body or the declared result type"),
        ))
    }

    /// Evaluates an expression.
    fn expr(&mut self, e: &Expr, env: &mut Env) -> Result<Val, Diag> {
        match &e.kind {
            ExprKind::Num(x) => Ok(Val::Num(*x)),
            ExprKind::Bool(b) => Ok(Val::Bool(*b)),
            ExprKind::Str(s) => Ok(Val::Str(s.clone())),
            ExprKind::List(items) => Ok(Val::List(items.iter().map(|i| self.expr(i, env)).collect::<Result<_, _>>()?)),
            ExprKind::Name(id) => self.name(id, env),
            ExprKind::Neg(inner) => match self.expr(inner, env)? {
                Val::Num(x) => Ok(Val::Num(-x)),
                v => {
                    let n = self.tensor(v, inner.span)?;
                    Ok(Val::Tensor(self.push(Op::Neg, vec![n], e.span)?))
                }
            },
            ExprKind::Binary(op, a, b) => {
                let (va, vb) = (self.expr(a, env)?, self.expr(b, env)?);
                self.binary(*op, va, vb, e.span)
            }
            ExprKind::Call { func, args } => {
                let mut vals = Vec::new();
                for a in args {
                    vals.push((a.name.clone(), self.expr(&a.value, env)?, a.value.span));
                }
                self.call(func, vals, e.span, env)
            }
        }
    }

    fn name(&mut self, id: &ast::Ident, env: &Env) -> Result<Val, Diag> {
        if let Some(v) = env.vars.get(&id.name) {
            return Ok(v.clone());
        }
        if env.file == self.m.user {
            if let Some(&n) = self.param_nodes.get(&id.name) {
                return Ok(Val::Tensor(n));
            }
        }
        if id.name == "pi" {
            return Ok(Val::Num(std::f64::consts::PI));
        }
        if builtins::is_initializer(&id.name) {
            return self.call(id, vec![], id.span, env);
        }
        if self.m.func(env.file, &id.name).is_some() || builtins::formals(&id.name).is_some() {
            return Err(self.locate(
                Diag::new("gradc::name::function", format!("`{}` is a function, not a value", id.name))
                    .at(id.span, "used as a value")
                    .help(format!("call it: `{}(...)`", id.name)),
            ));
        }
        Err(self.unknown(id, env))
    }

    fn unknown(&self, id: &ast::Ident, env: &Env) -> Diag {
        let mut d = Diag::new("gradc::name::unknown", format!("unknown name `{}`", id.name))
            .at(id.span, "not found in this scope");
        if env.file == self.m.user {
            if let Some(module) = self.m.std_module_of(&id.name) {
                return self
                    .locate(d.help(format!("`{}` is defined in {module}; add `use {module}.{}`", id.name, id.name)));
            }
        }
        let mut names: Vec<&str> = env.vars.keys().map(|s| s.as_str()).collect();
        names.extend(self.m.visible_names(env.file));
        let best = names.iter().map(|n| (edit_distance(n, &id.name), *n)).filter(|(d, _)| *d <= 2).min();
        d = match best {
            Some((_, n)) => d.help(format!("did you mean `{n}`?")),
            None => d.help("declare it before use, or import it with `use std.<module>.<name>`"),
        };
        self.locate(d)
    }

    fn binary(&mut self, op: BinOp, a: Val, b: Val, span: Span) -> Result<Val, Diag> {
        // Arithmetic with a compile-time list applies to each element: `step >= milestones`.
        match (a, b) {
            (Val::List(xs), b) => {
                Ok(Val::List(xs.into_iter().map(|x| self.binary(op, x, b.clone(), span)).collect::<Result<_, _>>()?))
            }
            (a, Val::List(ys)) => {
                Ok(Val::List(ys.into_iter().map(|y| self.binary(op, a.clone(), y, span)).collect::<Result<_, _>>()?))
            }
            (a, b) => self.scalar_binary(op, a, b, span),
        }
    }

    fn scalar_binary(&mut self, op: BinOp, a: Val, b: Val, span: Span) -> Result<Val, Diag> {
        if let (Val::Num(x), Val::Num(y)) = (&a, &b) {
            let (x, y) = (*x, *y);
            return Ok(match op {
                BinOp::Add => Val::Num(x + y),
                BinOp::Sub => Val::Num(x - y),
                BinOp::Mul => Val::Num(x * y),
                BinOp::Div => Val::Num(x / y),
                BinOp::Pow => Val::Num(x.powf(y)),
                BinOp::Eq => Val::Bool(x == y),
                BinOp::Ne => Val::Bool(x != y),
                BinOp::Lt => Val::Bool(x < y),
                BinOp::Le => Val::Bool(x <= y),
                BinOp::Gt => Val::Bool(x > y),
                BinOp::Ge => Val::Bool(x >= y),
                BinOp::MatMul => return Err(self.locate(expected("two matrices for `@`", span, "two numbers"))),
                BinOp::Then => return Err(self.locate(then_unsupported(span))),
            });
        }
        let (x, y) = (self.tensor(a, span)?, self.tensor(b, span)?);
        let node = match op {
            BinOp::Add => self.broadcast_op(Op::Add, x, y, span)?,
            BinOp::Sub => self.broadcast_op(Op::Sub, x, y, span)?,
            BinOp::Mul => self.broadcast_op(Op::Mul, x, y, span)?,
            BinOp::Div => self.broadcast_op(Op::Div, x, y, span)?,
            BinOp::Pow => self.broadcast_op(Op::Pow, x, y, span)?,
            BinOp::Gt => self.broadcast_op(Op::Gt, x, y, span)?,
            BinOp::Lt => self.broadcast_op(Op::Gt, y, x, span)?,
            BinOp::Eq => self.broadcast_op(Op::Eq, x, y, span)?,
            BinOp::Ne | BinOp::Ge | BinOp::Le => {
                let positive = match op {
                    BinOp::Ne => self.broadcast_op(Op::Eq, x, y, span)?,
                    BinOp::Ge => self.broadcast_op(Op::Gt, y, x, span)?,
                    _ => self.broadcast_op(Op::Gt, x, y, span)?,
                };
                let one = self.g.constant(1.0);
                self.broadcast_op(Op::Sub, one, positive, span)?
            }
            BinOp::MatMul => {
                let (sa, sb) = (self.g.ty(x).shape.clone(), self.g.ty(y).shape.clone());
                match self.g.push(Op::MatMul { ta: false, tb: false }, vec![x, y]) {
                    Ok(n) => n,
                    Err(ShapeError::Mismatch(_)) => {
                        let msg = format!("cannot multiply {} by {}", fmt_shape(&sa), fmt_shape(&sb));
                        return Err(self.locate(Diag::new("gradc::shape::matmul", msg.clone()).at(span, msg).help(
                            "`a @ b` needs matrices [m, k] and [k, n]: the columns of a must equal the rows of b",
                        )));
                    }
                    Err(e) => return Err(self.shape_error(e, span)),
                }
            }
            BinOp::Then => return Err(self.locate(then_unsupported(span))),
        };
        Ok(Val::Tensor(node))
    }

    fn call(
        &mut self,
        func: &ast::Ident,
        args: Vec<(Option<ast::Ident>, Val, Span)>,
        span: Span,
        env: &Env,
    ) -> Result<Val, Diag> {
        if let Some(formals) = builtins::formals(&func.name) {
            let bound = self.bind_builtin(func, formals, args, span)?;
            return self.builtin(&func.name, bound, span);
        }
        let Some(decl) = self.m.func(env.file, &func.name) else {
            return Err(self.unknown(func, env));
        };
        let decl = decl.clone();
        self.call_decl(&decl, args, span)
    }

    fn bind_builtin(
        &self,
        func: &ast::Ident,
        formals: &[(&str, Option<f64>)],
        args: Vec<(Option<ast::Ident>, Val, Span)>,
        span: Span,
    ) -> Result<Vec<(Val, Span)>, Diag> {
        let names = || formals.iter().map(|f| format!("`{}`", f.0)).collect::<Vec<_>>().join(", ");
        let mut bound: Vec<Option<(Val, Span)>> = vec![None; formals.len()];
        for (i, (name, v, s)) in args.into_iter().enumerate() {
            let slot = match &name {
                Some(n) => formals.iter().position(|f| f.0 == n.name).ok_or_else(|| {
                    self.locate(
                        Diag::new(
                            "gradc::call::argument",
                            format!("`{}` has no parameter named `{}`", func.name, n.name),
                        )
                        .at(n.span, "unknown argument")
                        .help(format!("its parameters are {}", names())),
                    )
                })?,
                None if i < formals.len() => i,
                None => {
                    return Err(self.locate(
                        Diag::new("gradc::call::arity", format!("`{}` takes {} arguments", func.name, formals.len()))
                            .at(s, "one too many")
                            .help(format!("its parameters are {}", names())),
                    ))
                }
            };
            if bound[slot].is_some() {
                return Err(self.locate(
                    Diag::new("gradc::call::duplicate", format!("`{}` is given twice", formals[slot].0))
                        .at(s, "given again here")
                        .help("give each argument once"),
                ));
            }
            bound[slot] = Some((v, s));
        }
        formals
            .iter()
            .zip(bound)
            .map(|(f, b)| match (b, f.1) {
                (Some(b), _) => Ok(b),
                (None, Some(d)) => Ok((Val::Num(d), span)),
                (None, None) => Err(self.locate(
                    Diag::new("gradc::call::missing", format!("`{}` needs a value for `{}`", func.name, f.0))
                        .at(span, format!("`{}` is not given", f.0))
                        .help(format!("pass `{}: ...`", f.0)),
                )),
            })
            .collect()
    }

    fn num(&self, v: &(Val, Span), what: &str) -> Result<f64, Diag> {
        match &v.0 {
            Val::Num(x) => Ok(*x),
            Val::Bool(b) => Ok(f64::from(u8::from(*b))),
            other => Err(self.locate(expected(what, v.1, &other.describe(&self.g)))),
        }
    }

    /// Normalises axes given as a number, a list or "all" (NaN) against a rank.
    fn axes(&self, v: &(Val, Span), rank: usize) -> Result<Vec<usize>, Diag> {
        let list = match &v.0 {
            Val::Num(x) if x.is_nan() => return Ok((0..rank).collect()),
            Val::List(items) => {
                items.iter().map(|i| self.num(&(i.clone(), v.1), "an axis")).collect::<Result<Vec<_>, _>>()?
            }
            _ => vec![self.num(v, "an axis")?],
        };
        let mut axes = Vec::new();
        for a in list {
            let k = if a < 0.0 { a + rank as f64 } else { a };
            if k < 0.0 || k >= rank as f64 || k.fract() != 0.0 {
                return Err(self.locate(
                    Diag::new("gradc::shape::axis", format!("axis {a} is out of range for rank {rank}"))
                        .at(v.1, "no such axis")
                        .help(format!("axes run from 0 to {} (or -1 for the last)", rank.saturating_sub(1))),
                ));
            }
            axes.push(k as usize);
        }
        axes.sort_unstable();
        axes.dedup();
        Ok(axes)
    }

    fn builtin(&mut self, name: &str, a: Vec<(Val, Span)>, span: Span) -> Result<Val, Diag> {
        let unary = |op: Op, f: fn(f64) -> f64| (op, f);
        let elementwise = match name {
            "exp" => Some(unary(Op::Exp, f64::exp)),
            "log" => Some(unary(Op::Log, f64::ln)),
            "sqrt" => Some(unary(Op::Sqrt, f64::sqrt)),
            "abs" => Some(unary(Op::Abs, f64::abs)),
            "sign" => Some(unary(Op::Sign, |x| if x == 0.0 { 0.0 } else { x.signum() })),
            "tanh" => Some(unary(Op::Tanh, f64::tanh)),
            "floor" => Some(unary(Op::Floor, f64::floor)),
            "cos" => Some(unary(Op::Cos, f64::cos)),
            "sin" => Some(unary(Op::Sin, f64::sin)),
            _ => None,
        };
        if let Some((op, f)) = elementwise {
            return match &a[0].0 {
                Val::Num(x) => Ok(Val::Num(f(*x))),
                v => {
                    let n = self.tensor(v.clone(), a[0].1)?;
                    Ok(Val::Tensor(self.push(op, vec![n], span)?))
                }
            };
        }
        match name {
            "sum" | "mean" | "max" => {
                if let Val::Num(x) = a[0].0 {
                    return Ok(Val::Num(x));
                }
                if let Val::List(items) = &a[0].0 {
                    return self.fold_list(name, items.clone(), span);
                }
                let x = self.tensor(a[0].0.clone(), a[0].1)?;
                let shape = self.g.ty(x).shape.clone();
                let axes = self.axes(&a[1], shape.len())?;
                let keepdims = self.num(&a[2], "`true` or `false`")? != 0.0;
                let op = if name == "max" { Op::MaxReduce(axes.clone()) } else { Op::Sum(axes.clone()) };
                let mut r = self.push(op, vec![x], span)?;
                if name == "mean" {
                    let count: usize = axes.iter().map(|&i| shape[i]).product();
                    let c = self.g.constant(count as f64);
                    r = self.broadcast_op(Op::Div, r, c, span)?;
                }
                if keepdims {
                    let kept: Vec<usize> =
                        shape.iter().enumerate().map(|(i, &d)| if axes.contains(&i) { 1 } else { d }).collect();
                    r = self.push(Op::Reshape(kept), vec![r], span)?;
                }
                Ok(Val::Tensor(r))
            }
            "maximum" | "minimum" => {
                if let (Val::Num(x), Val::Num(y)) = (&a[0].0, &a[1].0) {
                    return Ok(Val::Num(if name == "maximum" { x.max(*y) } else { x.min(*y) }));
                }
                let x = self.tensor(a[0].0.clone(), a[0].1)?;
                let y = self.tensor(a[1].0.clone(), a[1].1)?;
                if name == "maximum" {
                    return Ok(Val::Tensor(self.broadcast_op(Op::Max, x, y, span)?));
                }
                // min(a, b) = -max(-a, -b)
                let nx = self.push(Op::Neg, vec![x], span)?;
                let ny = self.push(Op::Neg, vec![y], span)?;
                let m = self.broadcast_op(Op::Max, nx, ny, span)?;
                Ok(Val::Tensor(self.push(Op::Neg, vec![m], span)?))
            }
            "where" => self.select(&a, span),
            "clip" => {
                // clip(x, lo, hi) = min(max(x, lo), hi)
                let lo = self.builtin("maximum", vec![a[0].clone(), a[1].clone()], span)?;
                self.builtin("minimum", vec![(lo, span), a[2].clone()], span)
            }
            "one_hot" => {
                let labels = self.tensor(a[0].0.clone(), a[0].1)?;
                let classes = self.num(&a[1], "a number of classes")?;
                if classes < 1.0 || classes.fract() != 0.0 || classes > 1e7 {
                    return Err(self.locate(
                        Diag::new("gradc::call::value", format!("{classes} is not a number of classes"))
                            .at(a[1].1, "not a class count")
                            .help("use a whole number of classes ≥ 1"),
                    ));
                }
                Ok(Val::Tensor(self.push(Op::OneHot(classes as usize), vec![labels], span)?))
            }
            "argmax" => {
                let x = self.tensor(a[0].0.clone(), a[0].1)?;
                let rank = self.g.ty(x).shape.len();
                let axes = self.axes(&a[1], rank)?;
                Ok(Val::Tensor(self.push(Op::Argmax(axes[0]), vec![x], span)?))
            }
            "reshape" => {
                let x = self.tensor(a[0].0.clone(), a[0].1)?;
                let Val::List(dims) = &a[1].0 else {
                    return Err(self.locate(expected("a list of dimensions", a[1].1, &a[1].0.describe(&self.g))));
                };
                let mut shape = Vec::new();
                for d in dims {
                    let n = self.num(&(d.clone(), a[1].1), "a dimension")?;
                    if n < 0.0 || n.fract() != 0.0 || n > u32::MAX as f64 {
                        return Err(self.locate(
                            Diag::new("gradc::shape::too_large", format!("{n} is not a valid dimension"))
                                .at(a[1].1, "not a size")
                                .help("dimensions are whole numbers"),
                        ));
                    }
                    shape.push(n as usize);
                }
                Ok(Val::Tensor(self.push(Op::Reshape(shape), vec![x], span)?))
            }
            _ => self.initializer(name, &a, span),
        }
    }

    /// `sum`, `mean` or `max` of a compile-time list's elements (numbers or scalars).
    fn fold_list(&mut self, name: &str, items: Vec<Val>, span: Span) -> Result<Val, Diag> {
        let n = items.len();
        let mut iter = items.into_iter();
        let Some(mut acc) = iter.next() else {
            return Err(self.locate(expected("a non-empty list", span, "an empty list")));
        };
        for item in iter {
            acc = if name == "max" {
                self.builtin("maximum", vec![(acc, span), (item, span)], span)?
            } else {
                self.binary(BinOp::Add, acc, item, span)?
            };
        }
        if name == "mean" {
            acc = self.binary(BinOp::Div, acc, Val::Num(n as f64), span)?;
        }
        Ok(acc)
    }

    /// `where(cond, a, b)`: a compile-time condition picks a branch; a tensor condition (nonzero
    /// per element) selects elementwise, broadcasting the three operands together.
    fn select(&mut self, a: &[(Val, Span)], span: Span) -> Result<Val, Diag> {
        match &a[0].0 {
            Val::Bool(c) => return Ok(if *c { a[1].0.clone() } else { a[2].0.clone() }),
            Val::Num(c) => return Ok(if *c != 0.0 { a[1].0.clone() } else { a[2].0.clone() }),
            _ => {}
        }
        let c = self.tensor(a[0].0.clone(), a[0].1)?;
        let x = self.tensor(a[1].0.clone(), a[1].1)?;
        let y = self.tensor(a[2].0.clone(), a[2].1)?;
        let shapes = [&self.g.ty(c).shape, &self.g.ty(x).shape, &self.g.ty(y).shape];
        let shape = broadcast_shapes(shapes[0], shapes[1]).and_then(|s| broadcast_shapes(&s, shapes[2]));
        let Some(shape) = shape else {
            let msg = format!(
                "cannot broadcast {}, {} and {} together",
                fmt_shape(shapes[0]),
                fmt_shape(shapes[1]),
                fmt_shape(shapes[2])
            );
            return Err(self.locate(
                Diag::new("gradc::shape::broadcast", msg.clone())
                    .at(span, msg)
                    .help("shapes align on the right; each dimension must be equal or 1"),
            ));
        };
        let c = self.as_shape(Val::Tensor(c), &shape, span)?;
        let x = self.as_shape(Val::Tensor(x), &shape, span)?;
        let y = self.as_shape(Val::Tensor(y), &shape, span)?;
        Ok(Val::Tensor(self.push(Op::Select, vec![c, x, y], span)?))
    }

    fn initializer(&self, name: &str, a: &[(Val, Span)], span: Span) -> Result<Val, Diag> {
        let n = |i: usize| self.num(&a[i], "a number");
        let init = match name {
            "zeros" => Init::Zeros,
            "ones" => Init::Constant(1.0),
            "constant" => Init::Constant(n(0)?),
            "normal" => Init::Normal { mean: n(0)?, std: n(1)? },
            "uniform" => Init::Uniform { lo: n(0)?, hi: n(1)? },
            "xavier_normal" | "glorot_normal" => Init::XavierNormal { gain: n(0)? },
            "xavier_uniform" | "glorot_uniform" => Init::XavierUniform { gain: n(0)? },
            "he_normal" | "kaiming_normal" => Init::HeNormal { gain: n(0)? },
            "he_uniform" | "kaiming_uniform" => Init::HeUniform { gain: n(0)? },
            _ => unreachable!("builtins::formals lists only names handled here"),
        };
        init.check(span).map_err(|d| self.locate(d))?;
        Ok(Val::Init(init))
    }
}

fn then_unsupported(span: Span) -> Diag {
    Diag::new("gradc::schedule::then", "`then` composes schedules, and only in a train block's `schedule`")
        .at(span, "not a schedule composition")
        .help("write e.g. `schedule = warmup(steps: 100) then cosine(total: 900)` in the train block")
}

fn type_text(dtype: ast::DTypeName, dims: &[ast::Dim]) -> String {
    let d = match dtype {
        ast::DTypeName::F32 => "f32",
        ast::DTypeName::I32 => "i32",
    };
    let dims: Vec<String> = dims
        .iter()
        .map(|x| match x {
            ast::Dim::Lit(n, _) => n.to_string(),
            ast::Dim::Var(i) => i.name.clone(),
        })
        .collect();
    format!("{d}[{}]", dims.join(", "))
}

/// Levenshtein distance, for "did you mean" suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}
