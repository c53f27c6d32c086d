//! Optimizer and schedule elaboration: the update graph, one optimizer body per parameter,
//! its state, and the learning-rate schedule as graph nodes.

use super::{errors, Elab, Env, Mode, Val};
use crate::diag::{Diag, Span};
use crate::ir::{self, Graph, InputRole, NodeId, Op, OutputRole, StepInput, StepOutput, Type};
use crate::sema::scope::Module;
use crate::sema::train::{check_hyper, Partial, Sched};
use crate::sema::{expected, ParamInfo, StateInfo};
use crate::syntax::ast::Stmt;

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
    let lr = match (hyper.vars.get("lr"), &m.schedule) {
        (Some(Val::Num(base)), Some(s)) => {
            // `step` counts updates made, or epochs completed with `schedule_by = epoch`.
            let step = if m.train.schedule_by_epoch {
                e.g.add_step_input(StepInput::Epoch)
            } else {
                let one = e.g.constant(1.0);
                e.push(Op::Binary(ir::BinOp::Sub), vec![t, one], opt.span)?
            };
            Some(e.schedule(s, *base, step)?)
        }
        (Some(Val::Num(base)), None) => Some(e.g.constant(*base)),
        (_, Some(_)) => return Err(errors::schedule_without_lr(opt.span, &opt.decl.name.name)),
        _ => None,
    };
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

impl Elab<'_> {
    /// The learning rate a schedule gives at `step` for base rate `base`, a scalar node.
    pub(super) fn schedule(&mut self, s: &Sched, base: f64, step: NodeId) -> Result<NodeId, Diag> {
        match s {
            Sched::One(p) => {
                self.frames.push(self.frame(p.span, &p.decl.name.name, true));
                let mut env = self.hyper_env(p)?;
                env.vars.insert("base".into(), Val::Num(base));
                env.vars.insert("step".into(), Val::Tensor(step));
                let v = self.block(&p.decl.body, &mut env)?;
                let v = v.ok_or_else(|| self.locate(errors::no_result(&p.decl)))?;
                let node = self.scalar(v, p.span, "a schedule")?;
                self.frames.pop();
                Ok(node)
            }
            Sched::Then { first, at, next } => {
                let a = self.schedule(first, base, step)?;
                let at_node = self.g.constant(*at);
                let span = self.frames.last().map_or(Span::new(self.m.user, 0, 0), |f| f.call);
                let shifted = self.push(Op::Binary(ir::BinOp::Sub), vec![step, at_node], span)?;
                let b = self.schedule(next, base, shifted)?;
                let before = self.push(Op::Binary(ir::BinOp::Gt), vec![at_node, step], span)?;
                let picked =
                    self.select(&[(Val::Tensor(before), span), (Val::Tensor(a), span), (Val::Tensor(b), span)], span)?;
                self.tensor(picked, span)
            }
            Sched::Product(a, b) => {
                let span = self.frames.last().map_or(Span::new(self.m.user, 0, 0), |f| f.call);
                let x = self.schedule(a, base, step)?;
                let y = self.schedule(b, base, step)?;
                let xy = self.push(Op::Binary(ir::BinOp::Mul), vec![x, y], span)?;
                let base = self.g.constant(base);
                self.push(Op::Binary(ir::BinOp::Div), vec![xy, base], span)
            }
        }
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
