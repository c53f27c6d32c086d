//! Calls: binding arguments to formals, checking them against declared types, and
//! evaluating a function's body.

use std::collections::HashMap;

use super::{Elab, Env, Val};
use crate::diag::{Diag, Span};
use crate::ir::{DType, Type};
use crate::sema::builtins;
use crate::sema::train::unknown_argument;
use crate::syntax::ast::{self, FuncDecl, FuncKind, Stmt, TypeExpr};

/// The error for a function body that ends without a value.
pub(super) fn no_result(decl: &FuncDecl) -> Diag {
    Diag::new("gradc::func::result", format!("`{}` has no result expression", decl.name.name))
        .at(decl.name.span, "returns nothing")
        .help("end the body with the value to return")
}

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
    pub(super) fn call_decl(
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
        let Some(decl) = self.m.func(env.file, &func.name) else {
            return Err(self.unknown(func, env));
        };
        let decl = decl.clone();
        self.call_decl(&decl, args, span)
    }

    pub(super) fn bind_builtin(
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
}
