//! Elaboration: evaluates the program's functions symbolically, emitting graph IR.
//!
//! Values are either compile-time (numbers, booleans, initializers), folded here, or tensors,
//! which are graph nodes. Every op goes through `Graph::push`, so shapes are checked by the op
//! table's rules; errors inside stdlib code are reported at the user's call into it.

mod builtin;
mod calls;
mod errors;
mod expr;
mod predict;
mod update;
mod window;

use std::collections::HashMap;

use super::scope::Module;
use super::{expected, reserved, DataShape, Init, LabelShape, Lowered, ParamInfo, RESERVED_NAMES};
use crate::diag::{Diag, FileId, Span};
use crate::ir::op::{broadcast_shapes, checked_numel};
use crate::ir::{self, DType, Graph, InputRole, NodeId, Op, OutputRole, ShapeError, ShapeErrorKind, StepOutput, Type};
use crate::syntax::ast::{self, TypeExpr};

pub(super) use predict::predict;
pub use predict::OUTPUT;
pub(super) use update::update;

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
    /// Named values, `{lr: a, momentum: b}`, with each name as written.
    Record(Vec<(ast::Ident, Val)>),
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
            Val::Record(_) => "a record".into(),
        }
    }
}

/// Local names of one function invocation, and the file its body's names resolve in.
struct Env {
    vars: HashMap<String, Val>,
    file: FileId,
    /// The buffers this invocation declared: local name to full name.
    buffers: HashMap<String, String>,
}

impl Env {
    fn new(file: FileId) -> Env {
        Env { vars: HashMap::new(), file, buffers: HashMap::new() }
    }
}

/// Which graph is elaborated: the one the train step differentiates, or evaluation's. The
/// built-in `training` is `true` in the first; buffers update only there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The forward pass of a training step: batch statistics, dropout, buffer updates.
    Train,
    /// Evaluation and prediction: running statistics, no dropout, buffers read only.
    Eval,
}

/// The instance names one namespace of a frame has handed out, and the frame's own prefix in it.
#[derive(Default)]
struct Claims {
    /// This frame's prefix, once something in it asked for one.
    prefix: Option<String>,
    /// How many instances of each name this frame has handed out to the calls it makes.
    instances: HashMap<String, usize>,
}

/// Which of a frame's [`Claims`] a name is claimed in.
#[derive(Clone, Copy)]
enum Space {
    Params,
    Sites,
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
    /// Instance names for parameters: the prefix resolved when the first parameter is declared.
    params: Claims,
    /// Instance names for `rand` sites, apart from the parameters': evaluation elaborates no
    /// `rand` (dropout is the identity there), so a site claiming a parameter instance would
    /// name the training graph's parameters differently from the evaluation graph's.
    sites: Claims,
    /// The let-binding being evaluated, which names layer calls inside it.
    binding: Option<String>,
    /// `rand` calls made in this frame so far, which tell its call sites apart.
    rands: usize,
}

impl Frame {
    /// Its names in `space`.
    fn claims(&mut self, space: Space) -> &mut Claims {
        match space {
            Space::Params => &mut self.params,
            Space::Sites => &mut self.sites,
        }
    }
}

/// The elaborator's state for one graph.
struct Elab<'m> {
    m: &'m Module,
    g: Graph,
    params: Vec<ParamInfo>,
    param_nodes: HashMap<String, NodeId>,
    /// Every buffer, in input order, and its input node.
    buffers: Vec<ParamInfo>,
    buffer_nodes: HashMap<String, NodeId>,
    /// The new value of each buffer the training graph updates (the first assignment wins, so
    /// the metrics' second call of the model changes nothing).
    buffer_updates: Vec<(String, NodeId)>,
    frames: Vec<Frame>,
    mode: Mode,
    /// The tensors that are the result of `softmax` or `sigmoid`, with that function's name.
    probabilities: HashMap<NodeId, String>,
    /// Warnings found while elaborating, in the order found.
    warnings: Vec<Diag>,
    /// Source names of values (see [`Lowered::names`]).
    names: Vec<(NodeId, String)>,
}

/// The forward graph (loss and metrics) for batches of `batch` rows of `data`, in `mode`, with
/// its parameters and buffers.
pub(super) struct Forward {
    pub graph: Graph,
    pub params: Vec<ParamInfo>,
    pub buffers: Vec<ParamInfo>,
    pub warnings: Vec<Diag>,
    pub names: Vec<(NodeId, String)>,
}

/// Elaborates the forward graph (loss and metrics) for batches of `batch` rows of `data`.
pub(super) fn forward(m: &Module, data: Option<DataShape>, batch: usize, mode: Mode) -> Result<Forward, Diag> {
    let name = match mode {
        Mode::Train => "forward",
        Mode::Eval => "eval",
    };
    let mut e = Elab::new(m, name, mode);
    let loss = &m.loss;
    let mut args = Vec::new();
    if let Some(shape) = data {
        let formals = &loss.params;
        if formals.len() > 2 {
            return Err(errors::loss_arity(loss.name.span.to(formals[2].name.span)));
        }
        let features = Type::f32([&[batch][..], &shape.features].concat());
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
    if let (Some(model), Some(span), Some((_, Val::Tensor(x), _))) = (&m.model, m.model_use, args.first()) {
        e.check_model_input(model, *x, span)?;
    }
    for p in &m.params {
        let mut env = Env::new(m.user);
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
                return Err(errors::metrics_without_labels(*span));
            };
            let logits = e.call_decl(model, vec![(None, Val::Tensor(x), *span)], *span)?;
            // The metric is looked up where the train block named it, so it is a known `fn`.
            let decl = m.func(m.user, name).expect("metric checked by train::check");
            let wants_classes = decl
                .params
                .get(1)
                .and_then(|f| f.ty.as_ref())
                .is_some_and(|t| matches!(t, TypeExpr::Tensor { dtype: ast::DTypeName::I32, .. }));
            if wants_classes && e.g.ty(y).dtype == DType::F32 {
                return Err(errors::metric_needs_classes(*span, name, e.g.ty(y)));
            }
            let value = e.call_decl(decl, vec![(None, logits, *span), (None, Val::Tensor(y), *span)], *span)?;
            let node = e.scalar(value, *span, &format!("the metric `{name}`"))?;
            e.g.add_output(name, node, OutputRole::Metric);
        }
    }
    for (name, node) in std::mem::take(&mut e.buffer_updates) {
        e.g.add_output(&name, node, OutputRole::Buffer);
    }
    Ok(Forward { graph: e.g, params: e.params, buffers: e.buffers, warnings: e.warnings, names: e.names })
}

/// Elaborates both graphs of a training step.
pub(super) fn lower(m: &Module, data: Option<DataShape>, batch: usize) -> Result<Lowered, Diag> {
    let f = forward(m, data, batch, Mode::Train)?;
    let (update, states) = update(m, &f.params)?;
    let Forward { graph: forward, params, buffers, warnings, names } = f;
    if let Some(s) = states.iter().find(|s| buffers.iter().any(|b| b.name == s.name)) {
        let owner = s.name.rsplit_once('.').map_or("", |(p, _)| p);
        return Err(errors::state_named_like_param(m.optimizer.span, &s.name, owner));
    }
    Ok(Lowered { forward, update, params, buffers, states, warnings, names })
}

impl<'m> Elab<'m> {
    /// An elaborator of the graph `name`, empty.
    fn new(m: &'m Module, name: &str, mode: Mode) -> Elab<'m> {
        Elab {
            m,
            g: Graph::new(name),
            params: vec![],
            param_nodes: HashMap::new(),
            buffers: vec![],
            buffer_nodes: HashMap::new(),
            buffer_updates: vec![],
            frames: vec![],
            mode,
            probabilities: HashMap::new(),
            warnings: vec![],
            names: vec![],
        }
    }

    fn frame(&self, call: Span, callee: &str, transparent: bool) -> Frame {
        let instance = self.frames.last().and_then(|f| f.binding.clone()).unwrap_or_else(|| "out".into());
        Frame {
            call,
            callee: callee.into(),
            transparent,
            instance,
            params: Claims::default(),
            sites: Claims::default(),
            binding: None,
            rands: 0,
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
        let message = err.to_string();
        self.locate(match err.kind() {
            ShapeErrorKind::Mismatch => errors::op_shapes(span, &message),
            ShapeErrorKind::DType => errors::op_dtype(span, &message),
            ShapeErrorKind::Axis => errors::op_axis(span, &message),
            ShapeErrorKind::TooLarge => errors::op_too_large(span, &message),
        })
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
        Err(self.locate(errors::not_scalar(span, what, &ty)))
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
        if op != Op::Binary(ir::BinOp::Eq) && !numeric {
            return Err(self.locate(errors::needs_f32(span, op.name(), &ta, &tb)));
        }
        let (sa, sb) = (ta.shape, tb.shape);
        let Some(shape) = broadcast_shapes(&sa, &sb) else {
            return Err(self.locate(errors::broadcast(span, &sa, &sb)));
        };
        let a = if sa == shape { a } else { self.push(Op::Broadcast(shape.clone()), vec![a], span)? };
        let b = if sb == shape { b } else { self.push(Op::Broadcast(shape), vec![b], span)? };
        self.push(op, vec![a, b], span)
    }

    /// The prefix for parameters declared in frame `depth`, claiming an instance name.
    fn prefix(&mut self, depth: usize) -> String {
        self.claim(depth, Space::Params)
    }

    /// Frame `depth`'s prefix in `space`, claiming an instance name there (and in its callers).
    fn claim(&mut self, depth: usize, space: Space) -> String {
        if let Some(p) = &self.frames[depth].claims(space).prefix {
            return p.clone();
        }
        let parent = if depth == 0 { String::new() } else { self.claim(depth - 1, space) };
        let prefix = if self.frames[depth].transparent {
            parent
        } else {
            let base = self.frames[depth].instance.clone();
            let n = match depth.checked_sub(1) {
                Some(owner) => {
                    let c = self.frames[owner].claims(space).instances.entry(base.clone()).or_insert(0);
                    *c += 1;
                    *c
                }
                None => 1,
            };
            let name = if n == 1 { base } else { format!("{base}_{n}") };
            format!("{parent}{name}.")
        };
        self.frames[depth].claims(space).prefix = Some(prefix.clone());
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
                    _ => return Err(self.locate(errors::unknown_dimension(id))),
                },
            };
            if value < 0.0 || value.fract() != 0.0 || value > u32::MAX as f64 {
                return Err(self.locate(errors::bad_type_dimension(span, value)));
            }
            shape.push(value as usize);
        }
        if checked_numel(&shape).is_none() {
            return Err(self.locate(errors::tensor_too_large(ty.span(), &shape)));
        }
        Ok((
            match dtype {
                ast::DTypeName::F32 => DType::F32,
                ast::DTypeName::I32 => DType::I32,
            },
            shape,
        ))
    }

    /// The full name of a parameter or buffer declared in the innermost frame.
    fn declared_name(&mut self, local: &str) -> String {
        match self.frames.len() {
            0 => local.to_string(),
            n => format!("{}{}", self.prefix(n - 1), local),
        }
    }

    /// Declares (or, for a name already declared with the same shape, reuses) a buffer: an
    /// input of the graph, starting at its initializer, that the training graph may update.
    fn declare_buffer(&mut self, decl: &ast::ParamDecl, env: &mut Env) -> Result<(), Diag> {
        let (dtype, shape) = self.dims(&decl.ty, env)?;
        if dtype != DType::F32 {
            return Err(self.locate(errors::param_not_f32(decl.ty.span())));
        }
        let name = self.declared_name(&decl.name.name);
        let init = match &decl.init {
            None => Init::Zeros,
            Some(expr) => match self.expr(expr, env)? {
                Val::Init(Init::Zeros) => Init::Zeros,
                Val::Init(Init::Constant(c)) | Val::Num(c) => Init::Constant(c),
                other => {
                    return Err(self.locate(expected(
                        "`zeros`, `ones` or a number",
                        expr.span,
                        &other.describe(&self.g),
                    )))
                }
            },
        };
        let node = match self.buffer_nodes.get(&name) {
            Some(&node) => {
                let prev = self.buffers.iter().find(|p| p.name == name).expect("buffer_nodes and buffers agree");
                if prev.shape != shape {
                    return Err(self.locate(errors::param_two_shapes(
                        decl.span,
                        prev.span,
                        &name,
                        &shape,
                        &prev.shape,
                    )));
                }
                node
            }
            None => {
                let node = self.g.add_input(&name, Type::f32(shape.clone()), InputRole::Buffer);
                self.buffers.push(ParamInfo { name: name.clone(), shape, init, span: decl.span });
                self.buffer_nodes.insert(name.clone(), node);
                node
            }
        };
        env.vars.insert(decl.name.name.clone(), Val::Tensor(node));
        env.buffers.insert(decl.name.name.clone(), name);
        Ok(())
    }

    /// Assigns `v` to the buffer `full` declared as `local` in training mode: its new value, the
    /// step's output and what the rest of the body reads. (Evaluation skips the assignment.)
    fn assign_buffer(&mut self, local: &str, full: &str, v: Val, span: Span, env: &mut Env) -> Result<(), Diag> {
        let shape = self.buffers.iter().find(|b| b.name == full).expect("declared buffers are listed").shape.clone();
        let node = self.tensor(v, span)?;
        let found = self.g.ty(node).shape.clone();
        if broadcast_shapes(&found, &shape).as_deref() != Some(&shape[..]) {
            return Err(self.locate(errors::buffer_shape(span, full, &shape, &found)));
        }
        let node = self.as_shape(Val::Tensor(node), &shape, span)?;
        if !self.buffer_updates.iter().any(|(n, _)| n == full) {
            self.buffer_updates.push((full.to_string(), node));
        }
        env.vars.insert(local.to_string(), Val::Tensor(node));
        Ok(())
    }

    /// `rand(shape)`: uniform numbers in `[0, 1)` for this call site, drawn from the `rng` step
    /// input. The site is named like a parameter (the instance, then `rand` and a count), so it
    /// is stable when other layers are added and the same when a model is called again.
    fn rand(&mut self, shape: &(Val, Span), span: Span) -> Result<Val, Diag> {
        let Val::List(dims) = &shape.0 else {
            return Err(self.locate(expected("a list of dimensions", shape.1, &shape.0.describe(&self.g))));
        };
        let out = dims.iter().map(|d| self.dimension(d, shape.1)).collect::<Result<Vec<_>, _>>()?;
        let site = match self.frames.len() {
            0 => "rand".to_string(),
            n => {
                let count = self.frames[n - 1].rands;
                self.frames[n - 1].rands += 1;
                format!("{}rand{count}", self.claim(n - 1, Space::Sites))
            }
        };
        let words = self.g.step_input(ir::StepInput::Rng);
        let op = Op::Rand { key: crate::rng::site_key(&site), shape: out, first: 0 };
        Ok(Val::Tensor(self.push(op, vec![words], span)?))
    }

    /// Declares (or, for a name already declared with the same shape, reuses) a parameter.
    ///
    /// In a layer, the initializer `false` declares nothing and binds the name to 0, as torch's
    /// `bias=False`: `dense(x, 64, bias: false)` before a batch norm, which would cancel a bias.
    fn declare_param(&mut self, decl: &ast::ParamDecl, env: &mut Env) -> Result<(), Diag> {
        let (dtype, shape) = self.dims(&decl.ty, env)?;
        if dtype != DType::F32 {
            return Err(self.locate(errors::param_not_f32(decl.ty.span())));
        }
        let name = self.declared_name(&decl.name.name);
        // A layer's parameters carry a dotted prefix, so only unprefixed names can collide.
        if RESERVED_NAMES.contains(&name.as_str()) {
            return Err(self.locate(reserved("parameter", &name, decl.name.span)));
        }
        let init = match &decl.init {
            None => Init::Zeros,
            Some(expr) => match self.expr(expr, env)? {
                Val::Init(i) => i,
                Val::Num(c) => Init::Constant(c),
                Val::Bool(false) if !self.frames.is_empty() => {
                    env.vars.insert(decl.name.name.clone(), Val::Num(0.0));
                    return Ok(());
                }
                other => {
                    return Err(self.locate(expected(
                        "an initializer such as `normal(std: 0.1)`",
                        expr.span,
                        &other.describe(&self.g),
                    )))
                }
            },
        };
        // The loss's inputs are added first; a parameter of the same name would be a second
        // graph input under it, which nothing downstream can tell apart.
        if let Some(i) = self.g.input_index(&name).filter(|_| !self.param_nodes.contains_key(&name)) {
            let role = self.g.inputs[i].role;
            return Err(self.locate(errors::param_named_like_input(decl.name.span, &name, role)));
        }
        if let Some(&node) = self.param_nodes.get(&name) {
            let prev = self.params.iter().find(|p| p.name == name).expect("param_nodes and params agree");
            if prev.shape != shape {
                return Err(self.locate(errors::param_two_shapes(decl.span, prev.span, &name, &shape, &prev.shape)));
            }
            env.vars.insert(decl.name.name.clone(), Val::Tensor(node));
            return Ok(());
        }
        let node = self.g.add_input(&name, Type::f32(shape.clone()), InputRole::Param);
        self.params.push(ParamInfo { name: name.clone(), shape, init, span: decl.span });
        self.param_nodes.insert(name, node);
        env.vars.insert(decl.name.name.clone(), Val::Tensor(node));
        Ok(())
    }
}
