//! Optimizer and schedule elaboration: the update graph, one optimizer body per parameter,
//! its state, and the schedule — the learning rate and any other hyper-parameter it sets — as
//! graph nodes.

use super::{errors, Elab, Env, Mode, Val};
use crate::diag::{Diag, Span};
use crate::ir::{self, Graph, InputRole, NodeId, Op, OutputRole, StepInput, StepOutput, Type};
use crate::sema::scope::Module;
use crate::sema::train::{check_hyper, Partial, Sched};
use crate::sema::{expected, reserved, ParamInfo, StateInfo, RESERVED_NAMES};
use crate::syntax::ast::{FuncDecl, Stmt};

/// Elaborates the update graph: the optimizer body once per parameter, under the schedule's lr.
pub(in crate::sema) fn update(m: &Module, params: &[ParamInfo]) -> Result<(Graph, Vec<StateInfo>), Diag> {
    let mut e = Elab::new(m, "update", Mode::Train);
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
    let (lr, scheduled) = match (hyper.vars.get("lr"), &m.schedule) {
        (Some(Val::Num(base)), Some(s)) => {
            // `step` counts updates made, or epochs completed with `schedule_by = epoch`.
            let step = if m.train.schedule_by_epoch {
                e.g.add_step_input(StepInput::Epoch)
            } else {
                let one = e.g.constant(1.0);
                e.push(Op::Binary(ir::BinOp::Sub), vec![t, one], opt.span)?
            };
            let s = e.schedule(s, &Driven { opt, hyper: &hyper, base: *base }, step)?;
            (Some(s.lr), s.others)
        }
        (Some(Val::Num(base)), None) => (Some(e.g.constant(*base)), vec![]),
        (_, Some(_)) => return Err(errors::schedule_without_lr(opt.span, &opt.decl.name.name)),
        _ => (None, vec![]),
    };
    // What the schedule sets is logged beside the parameters and metrics, by name.
    for (name, _, span) in &scheduled {
        if RESERVED_NAMES.contains(&name.as_str()) {
            return Err(reserved("scheduled hyper-parameter", name, *span));
        }
        if params.iter().any(|p| p.name == *name) {
            return Err(errors::scheduled_name_taken(*span, name, "parameter"));
        }
        if m.train.metrics.iter().any(|(metric, _)| metric == name) {
            return Err(errors::scheduled_name_taken(*span, name, "metric"));
        }
    }
    // Reduce-on-plateau scales the learning rate from the runtime, which watches the metric.
    let lr = match (lr, &m.train.plateau) {
        (Some(lr), Some(_)) => {
            let scale = e.g.add_step_input(StepInput::LrScale);
            Some(e.push(Op::Binary(ir::BinOp::Mul), vec![lr, scale], opt.span)?)
        }
        (lr, _) => lr,
    };

    let mut states = Vec::new();
    for group in &m.train.param_groups {
        if !params.iter().any(|p| group.matches(&p.name)) {
            let names: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
            return Err(errors::group_matches_nothing(group.span, &group.pattern, &names));
        }
    }
    for (p, &(pn, gn)) in params.iter().zip(&p_nodes) {
        let mut env = Env { vars: hyper.vars.clone(), ..Env::new(hyper.file) };
        let mut lr = lr;
        for group in m.train.param_groups.iter().filter(|g| g.matches(&p.name)) {
            for (key, value) in &group.set {
                match key.as_str() {
                    "lr_mult" => {
                        if let Some(l) = lr {
                            let mult = e.g.constant(*value);
                            lr = Some(e.push(Op::Binary(ir::BinOp::Mul), vec![l, mult], group.span)?);
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
        // As torch's schedulers, a scheduled hyper-parameter overrides every group's value.
        for (name, node, _) in &scheduled {
            env.vars.insert(name.clone(), Val::Tensor(*node));
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
                        if params.iter().any(|q| q.name == full) {
                            return Err(e.locate(errors::state_named_like_param(name.span, &full, &p.name)));
                        }
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
                Stmt::Param(d) | Stmt::Buffer(d) => return Err(e.locate(errors::param_in_optimizer(d.span))),
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
    for (name, node, _) in &scheduled {
        e.g.add_output(name, *node, OutputRole::Hyper);
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
        map[i] = if let Op::Input(k) = node.op {
            keep_input(k).then(|| out.add_input(&g.inputs[k].name, node.ty.clone(), g.inputs[k].role))
        } else if needed[i] {
            let args = node.args.iter().map(|a| map[a.index()].expect("a needed node's operands are kept")).collect();
            Some(out.push_typed(node.op.clone(), args, node.ty.clone()))
        } else {
            None
        };
    }
    for o in &g.outputs {
        if o.role != OutputRole::State || live.contains(&o.name) {
            out.add_output(&o.name, map[o.node.index()].expect("outputs are kept"), o.role);
        }
    }
    (out, live)
}

/// What a schedule drives: the optimizer use, its hyper-parameters' values and its base `lr`.
struct Driven<'a> {
    opt: &'a Partial,
    hyper: &'a Env,
    base: f64,
}

/// What a schedule gives at one step: the learning rate, and each other hyper-parameter it sets
/// by the optimizer's name for it, with the schedule use that set it.
struct Scheduled {
    lr: NodeId,
    others: Vec<(String, NodeId, Span)>,
}

impl Scheduled {
    fn get(&self, name: &str) -> Option<NodeId> {
        self.others.iter().find(|o| o.0 == name).map(|o| o.1)
    }
}

/// The optimizer's name for the hyper-parameter `name` a schedule sets: the same name, or, for
/// `momentum`, `beta1` when the optimizer has no `momentum` (torch's schedulers cycle Adam's
/// `betas[0]` as the momentum).
fn hyper_target(opt: &FuncDecl, name: &str) -> Option<String> {
    let has = |n: &str| opt.params.iter().any(|f| f.name.name == n);
    match name {
        _ if has(name) => Some(name.to_string()),
        "momentum" if has("beta1") => Some("beta1".to_string()),
        _ => None,
    }
}

impl Elab<'_> {
    /// What a schedule gives at `step`, a scalar node: `d.base` mapped to this step's learning
    /// rate, and the other hyper-parameters the schedule's record sets.
    fn schedule(&mut self, s: &Sched, d: &Driven, step: NodeId) -> Result<Scheduled, Diag> {
        match s {
            Sched::One(p) => {
                self.frames.push(self.frame(p.span, &p.decl.name.name, true));
                let mut env = self.hyper_env(p)?;
                env.vars.insert("base".into(), Val::Num(d.base));
                env.vars.insert("step".into(), Val::Tensor(step));
                let v = self.block(&p.decl.body, &mut env)?;
                let v = v.ok_or_else(|| self.locate(errors::no_result(&p.decl)))?;
                let out = self.scheduled(p, d, v)?;
                self.frames.pop();
                Ok(out)
            }
            Sched::Then { first, at, next } => {
                let a = self.schedule(first, d, step)?;
                let at_node = self.g.constant(*at);
                let span = self.frames.last().map_or(Span::new(self.m.user, 0, 0), |f| f.call);
                let shifted = self.push(Op::Binary(ir::BinOp::Sub), vec![step, at_node], span)?;
                let b = self.schedule(next, d, shifted)?;
                let before = self.push(Op::Binary(ir::BinOp::Gt), vec![at_node, step], span)?;
                let lr = self.pick(before, a.lr, b.lr, span)?;
                // A hyper-parameter only one side sets keeps the optimizer's value on the other.
                let mut others = Vec::new();
                for (name, _, set_at) in a.others.iter().chain(b.others.iter().filter(|o| a.get(&o.0).is_none())) {
                    let x = self.set_or_given(a.get(name), name, d)?;
                    let y = self.set_or_given(b.get(name), name, d)?;
                    others.push((name.clone(), self.pick(before, x, y, span)?, *set_at));
                }
                Ok(Scheduled { lr, others })
            }
            Sched::Product(a, b) => {
                let span = self.frames.last().map_or(Span::new(self.m.user, 0, 0), |f| f.call);
                let x = self.schedule(a, d, step)?;
                let y = self.schedule(b, d, step)?;
                let xy = self.push(Op::Binary(ir::BinOp::Mul), vec![x.lr, y.lr], span)?;
                let base = self.g.constant(d.base);
                let lr = self.push(Op::Binary(ir::BinOp::Div), vec![xy, base], span)?;
                // Other hyper-parameters are not factors: as in torch's ChainedScheduler, the
                // later schedule's value wins.
                let mut others: Vec<(String, NodeId, Span)> =
                    x.others.into_iter().filter(|o| y.get(&o.0).is_none()).collect();
                others.extend(y.others);
                Ok(Scheduled { lr, others })
            }
        }
    }

    /// A schedule body's value as what it sets: a number or scalar is the learning rate; a
    /// record names each hyper-parameter (`lr` absent: the base rate).
    fn scheduled(&mut self, p: &Partial, d: &Driven, v: Val) -> Result<Scheduled, Diag> {
        let Val::Record(fields) = v else {
            return Ok(Scheduled { lr: self.scalar(v, p.span, "a schedule")?, others: vec![] });
        };
        let mut lr = None;
        let mut others: Vec<(String, NodeId, Span)> = Vec::new();
        let mut spans: Vec<Span> = Vec::new();
        for (name, value) in fields {
            let node = self.scalar(value, name.span, &format!("the schedule's `{}`", name.name))?;
            if name.name == "lr" {
                lr = Some(node);
                continue;
            }
            let opt = &d.opt.decl;
            let Some(target) = hyper_target(opt, &name.name) else {
                let hypers: Vec<&str> = opt.params.iter().map(|f| f.name.name.as_str()).collect();
                let flag = format!("cycle_{}", name.name);
                let flag = p.decl.params.iter().any(|f| f.name.name == flag).then_some(flag.as_str());
                let (sched, opt) = (&p.decl.name.name, &opt.name.name);
                return Err(
                    self.locate(errors::schedule_sets_unknown(name.span, sched, &name.name, opt, &hypers, flag))
                );
            };
            // `momentum` and `beta1` both given to an Adam-family optimizer.
            if let Some(i) = others.iter().position(|o| o.0 == target) {
                return Err(self.locate(errors::field_twice(&name, spans[i])));
            }
            others.push((target, node, p.span));
            spans.push(name.span);
        }
        let lr = match lr {
            Some(lr) => lr,
            None => self.g.constant(d.base),
        };
        Ok(Scheduled { lr, others })
    }

    /// The value a schedule set, or else the optimizer's own value of hyper-parameter `name`.
    fn set_or_given(&mut self, set: Option<NodeId>, name: &str, d: &Driven) -> Result<NodeId, Diag> {
        if let Some(n) = set {
            return Ok(n);
        }
        // Scheduled names are the optimizer's formals (`hyper_target`), all bound by `hyper_env`.
        let given = d.hyper.vars.get(name).expect("hyper_env binds every formal").clone();
        let x = self.num(&(given, d.opt.span), "a number")?;
        Ok(self.g.constant(x))
    }

    /// `where(cond, a, b)` of three scalar nodes.
    fn pick(&mut self, cond: NodeId, a: NodeId, b: NodeId, span: Span) -> Result<NodeId, Diag> {
        let picked = self.select(&[(Val::Tensor(cond), span), (Val::Tensor(a), span), (Val::Tensor(b), span)], span)?;
        self.tensor(picked, span)
    }

    /// The hyper-parameter environment of an optimizer or schedule use.
    pub(super) fn hyper_env(&mut self, p: &Partial) -> Result<Env, Diag> {
        let mut env = Env::new(p.decl.name.span.file);
        for (name, value, _) in &p.args {
            env.vars.insert(name.clone(), Val::Num(*value));
        }
        for (name, values) in &p.lists {
            env.vars.insert(name.clone(), Val::List(values.iter().map(|&v| Val::Num(v)).collect()));
        }
        for (name, text) in &p.texts {
            env.vars.insert(name.clone(), Val::Str(text.clone()));
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
}
