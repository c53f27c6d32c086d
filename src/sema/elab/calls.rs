//! Calls: binding arguments to formals, checking them against declared types, and
//! evaluating a function's body.

use super::{errors, Elab, Env, Mode, Val};
use crate::diag::{Diag, Span};
use crate::ir::{DType, Type};
use crate::ir::{NodeId, Op};
use crate::sema::builtins;
use crate::sema::errors::{duplicate_argument, model_input, unknown_argument};
use crate::syntax::ast::{self, FuncDecl, FuncKind, Stmt, TypeExpr};

/// A declared type as the source writes it, e.g. `f32[B, 4]`.
pub(super) fn type_text(dtype: ast::DTypeName, dims: &[ast::Dim]) -> String {
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

impl Elab<'_> {
    /// Evaluates a block; returns its result value, if it has one.
    pub(super) fn block(&mut self, b: &ast::Block, env: &mut Env) -> Result<Option<Val>, Diag> {
        for stmt in &b.stmts {
            match stmt {
                // Evaluation reads buffers and never updates them, so what a buffer is assigned
                // (batch statistics, say) is not even elaborated there.
                Stmt::Let { name, .. } if self.mode == Mode::Eval && env.buffers.contains_key(&name.name) => {}
                Stmt::Let { name, value, .. } => {
                    if let Some(f) = self.frames.last_mut() {
                        f.binding = Some(name.name.clone());
                    }
                    let v = self.expr(value, env)?;
                    if let Some(f) = self.frames.last_mut() {
                        f.binding = None;
                    }
                    match env.buffers.get(&name.name).cloned() {
                        Some(full) => self.assign_buffer(&name.name, &full, v, value.span, env)?,
                        None => {
                            if let (Val::Tensor(n), true) = (&v, env.file == self.m.user) {
                                self.name_binding(*n, &name.name);
                            }
                            env.vars.insert(name.name.clone(), v);
                        }
                    }
                }
                Stmt::Param(d) => {
                    self.declare_param(d, env)?;
                }
                Stmt::Buffer(d) => self.declare_buffer(d, env)?,
                Stmt::State { span, .. } => return Err(self.locate(errors::state_outside_optimizer(*span))),
            }
        }
        match &b.result {
            Some(e) => self.expr(e, env).map(Some),
            None => Ok(None),
        }
    }

    /// Calls a declared function with evaluated arguments.
    pub(super) fn call_decl(
        &mut self,
        decl: &FuncDecl,
        args: Vec<(Option<ast::Ident>, Val, Span)>,
        call: Span,
    ) -> Result<Val, Diag> {
        if self.frames.len() > 64 {
            return Err(self.locate(errors::recursion(call, &decl.name.name)));
        }
        match decl.kind {
            FuncKind::Optimizer | FuncKind::Schedule => {
                return Err(self.locate(errors::train_only(call, &decl.name.name)))
            }
            FuncKind::Fn | FuncKind::Layer | FuncKind::Model | FuncKind::Loss => {}
        }
        let model_call = (decl.kind == FuncKind::Model).then(|| self.call_text(&decl.name.name, &args));
        let mut env = Env::new(decl.name.span.file);
        let mut given: Vec<Option<(Val, Span)>> = vec![None; decl.params.len()];
        for (i, (name, v, span)) in args.into_iter().enumerate() {
            let slot = match &name {
                Some(n) => match decl.params.iter().position(|f| f.name.name == n.name) {
                    Some(k) => k,
                    None => return Err(self.locate(unknown_argument(decl, n))),
                },
                None if i < decl.params.len() => i,
                None => return Err(self.locate(errors::too_many_arguments(span, decl))),
            };
            if given[slot].is_some() {
                return Err(self.locate(duplicate_argument(span, &decl.params[slot].name.name)));
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
                (None, None) => return Err(self.locate(errors::missing_argument(call, &decl.name.name, &f.name.name))),
            };
            if let Some(ty) = &f.ty {
                self.check_formal(decl, f, ty, &v, span, &mut env)?;
            }
            env.vars.insert(f.name.name.clone(), v);
        }
        let transparent = matches!(decl.kind, FuncKind::Model | FuncKind::Loss);
        self.frames.push(self.frame(call, &decl.name.name, transparent));
        if decl.kind == FuncKind::Fn {
            if let Some(Stmt::Param(p) | Stmt::Buffer(p)) =
                decl.body.stmts.iter().find(|s| matches!(s, Stmt::Param(_) | Stmt::Buffer(_)))
            {
                return Err(self.locate(errors::param_in_fn(p.span)));
            }
        }
        let result = self.block(&decl.body, &mut env)?;
        self.frames.pop();
        let result = result.ok_or_else(|| self.locate(errors::no_result(decl)))?;
        if let Some(ret) = &decl.ret {
            self.check_result(decl, ret, &result, call, &env)?;
        }
        if let (Some(text), Val::Tensor(n)) = (model_call, &result) {
            self.names.push((*n, text));
        }
        Ok(result)
    }

    /// Records the name of a let binding of the user's file, for `gradc grad`: in a layer,
    /// prefixed as the layer's parameters are (`r1.c1`), so two calls' bindings differ.
    fn name_binding(&mut self, node: NodeId, local: &str) {
        let prefix = match self.frames.last() {
            Some(f) if !f.transparent => f.params.prefix.clone().unwrap_or_else(|| format!("{}.", f.instance)),
            Some(_) | None => String::new(),
        };
        self.names.push((node, format!("{prefix}{local}")));
    }

    /// How `gradc grad` writes a call: `mlp(x)`, each argument by its name, if it has one.
    fn call_text(&self, callee: &str, args: &[(Option<ast::Ident>, Val, Span)]) -> String {
        let arg = |v: &Val| match v {
            Val::Tensor(n) => {
                if let Op::Input(k) = self.g.node(*n).op {
                    self.g.inputs[k].name.clone()
                } else {
                    self.names.iter().rev().find(|(m, _)| m == n).map_or("…".into(), |(_, s)| s.clone())
                }
            }
            Val::Num(x) => x.to_string(),
            Val::Bool(_) | Val::Init(_) | Val::List(_) | Val::Str(_) | Val::Record(_) => "…".into(),
        };
        let texts: Vec<String> = args.iter().map(|(_, v, _)| arg(v)).collect();
        format!("{callee}({})", texts.join(", "))
    }

    /// Checks an argument against a formal's declared type, binding dimension names.
    pub(super) fn check_formal(
        &mut self,
        decl: &FuncDecl,
        f: &ast::FormalParam,
        ty: &TypeExpr,
        v: &Val,
        span: Span,
        env: &mut Env,
    ) -> Result<(), Diag> {
        let fail = |this: &Self, want: String| {
            let found = v.describe(&this.g);
            this.locate(errors::argument_type(span, ty.span(), &decl.name.name, &f.name.name, &want, &found))
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
                                let d = errors::dimension_mismatch(span, &id.name, &decl.name.name, *bound, actual);
                                return Err(self.locate(d));
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

    pub(super) fn check_result(
        &self,
        decl: &FuncDecl,
        ret: &TypeExpr,
        v: &Val,
        call: Span,
        env: &Env,
    ) -> Result<(), Diag> {
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
        Err(self.locate(errors::result_type(call, ret.span(), &decl.name.name, &v.describe(&self.g), &want)))
    }

    /// Checks that the model a compare run names at `span` takes the data's features `x`, so
    /// that a mismatch points at the run rather than into the loss.
    pub(super) fn check_model_input(&mut self, model: &FuncDecl, x: NodeId, span: Span) -> Result<(), Diag> {
        // A model without a typed input is checked where the loss calls it.
        let Some((f, ty)) = model.params.first().and_then(|f| Some((f, f.ty.as_ref()?))) else {
            return Ok(());
        };
        let mut env = Env::new(model.name.span.file);
        if self.check_formal(model, f, ty, &Val::Tensor(x), span, &mut env).is_ok() {
            return Ok(());
        }
        let want = match ty {
            TypeExpr::Tensor { dtype, dims, .. } => type_text(*dtype, dims),
            TypeExpr::Int(_) | TypeExpr::Float(_) => "a number".into(),
        };
        let rows: Vec<String> = self.g.ty(x).shape[1..].iter().map(usize::to_string).collect();
        let found = format!("f32[{}]", ["B".to_string()].into_iter().chain(rows).collect::<Vec<_>>().join(", "));
        Err(model_input(span, ty.span(), &model.name.name, &f.name.name, &want, &found))
    }

    pub(super) fn call(
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
        // `model` is a keyword, so no declaration can take its name: `model(x)` is always the run's model.
        let decl = if func.name == "model" {
            match &self.m.model {
                Some(m) => m,
                None => return Err(self.locate(self.m.no_model_to_call(func.span))),
            }
        } else {
            match self.m.func(env.file, &func.name) {
                Some(d) => d,
                None => return Err(self.unknown(func, env)),
            }
        };
        let decl = decl.clone();
        if let Some(w) = self.logits_warning(&func.name, &args) {
            self.warnings.push(w);
        }
        let value = self.call_decl(&decl, args, span)?;
        if let ("softmax" | "sigmoid", Val::Tensor(n)) = (func.name.as_str(), &value) {
            self.probabilities.insert(*n, func.name.clone());
        }
        Ok(value)
    }

    /// A warning when a loss that takes logits is given the output of the function that turns
    /// logits into probabilities (a softmax before `cross_entropy` trains to a worse loss).
    fn logits_warning(&self, callee: &str, args: &[(Option<ast::Ident>, Val, Span)]) -> Option<Diag> {
        let squash = match callee {
            "cross_entropy" => "softmax",
            "binary_cross_entropy" => "sigmoid",
            _ => return None,
        };
        let (_, value, span) = args.iter().find(|(name, ..)| name.as_ref().is_none_or(|n| n.name == "logits"))?;
        let Val::Tensor(n) = value else { return None };
        (self.probabilities.get(n)? == squash)
            .then(|| self.locate(errors::probabilities_as_logits(*span, callee, squash)))
    }

    pub(super) fn bind_builtin(
        &self,
        func: &ast::Ident,
        formals: &[(&str, Option<f64>)],
        args: Vec<(Option<ast::Ident>, Val, Span)>,
        span: Span,
    ) -> Result<Vec<(Val, Span)>, Diag> {
        let names = || formals.iter().map(|f| f.0).collect::<Vec<_>>();
        let mut bound: Vec<Option<(Val, Span)>> = vec![None; formals.len()];
        for (i, (name, v, s)) in args.into_iter().enumerate() {
            let slot = match &name {
                Some(n) => formals
                    .iter()
                    .position(|f| f.0 == n.name)
                    .ok_or_else(|| self.locate(errors::unknown_builtin_argument(&func.name, n, &names())))?,
                None if i < formals.len() => i,
                None => return Err(self.locate(errors::too_many_builtin_arguments(s, &func.name, &names()))),
            };
            if bound[slot].is_some() {
                return Err(self.locate(duplicate_argument(s, formals[slot].0)));
            }
            bound[slot] = Some((v, s));
        }
        formals
            .iter()
            .zip(bound)
            .map(|(f, b)| match (b, f.1) {
                (Some(b), _) => Ok(b),
                (None, Some(d)) => Ok((Val::Num(d), span)),
                (None, None) => Err(self.locate(errors::missing_argument(span, &func.name, f.0))),
            })
            .collect()
    }
}
