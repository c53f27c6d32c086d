//! Expressions: names, arithmetic with broadcasting, and the errors they raise.

use super::{errors, Elab, Env, Mode, Val};
use crate::diag::{Diag, Span};
use crate::ir::{self, NodeId, Op, ShapeError, UnOp};
use crate::sema::builtins;
use crate::sema::expected;
use crate::syntax::ast::{self, BinOp, Expr, ExprKind};

impl Elab<'_> {
    /// Evaluates an expression.
    pub(super) fn expr(&mut self, e: &Expr, env: &mut Env) -> Result<Val, Diag> {
        match &e.kind {
            ExprKind::Num(x) => Ok(Val::Num(*x)),
            ExprKind::Bool(b) => Ok(Val::Bool(*b)),
            ExprKind::Str(s) => Ok(Val::Str(s.clone())),
            ExprKind::List(items) => Ok(Val::List(items.iter().map(|i| self.expr(i, env)).collect::<Result<_, _>>()?)),
            ExprKind::Record(fields) => {
                let mut vals: Vec<(ast::Ident, Val)> = Vec::new();
                for (name, value) in fields {
                    if let Some((first, _)) = vals.iter().find(|(n, _)| n.name == name.name) {
                        return Err(self.locate(errors::field_twice(name, first.span)));
                    }
                    vals.push((name.clone(), self.expr(value, env)?));
                }
                Ok(Val::Record(vals))
            }
            ExprKind::Name(id) => self.name(id, env),
            ExprKind::Minus(inner) => match self.expr(inner, env)? {
                Val::Num(x) => Ok(Val::Num(UnOp::negation().eval(x))),
                v => {
                    let n = self.tensor(v, inner.span)?;
                    Ok(Val::Tensor(self.push(Op::Unary(UnOp::negation()), vec![n], e.span)?))
                }
            },
            ExprKind::Binary(op, a, b) => {
                let (va, vb) = (self.expr(a, env)?, self.expr(b, env)?);
                self.binary(*op, va, vb, e.span)
            }
            ExprKind::Call { func, args } => {
                // `where` with a compile-time condition (a flag, `training`) elaborates only the
                // branch it picks, so the other may use what this mode lacks (batch
                // statistics, random numbers).
                if func.name == "where" && args.len() == 3 && args.iter().all(|a| a.name.is_none()) {
                    match self.expr(&args[0].value, env)? {
                        Val::Bool(c) => return self.expr(&args[if c { 1 } else { 2 }].value, env),
                        Val::Num(c) => return self.expr(&args[if c != 0.0 { 1 } else { 2 }].value, env),
                        cond => {
                            let mut vals = vec![(None, cond, args[0].value.span)];
                            for a in &args[1..] {
                                vals.push((None, self.expr(&a.value, env)?, a.value.span));
                            }
                            return self.call(func, vals, e.span, env);
                        }
                    }
                }
                let mut vals = Vec::new();
                for a in args {
                    vals.push((a.name.clone(), self.expr(&a.value, env)?, a.value.span));
                }
                self.call(func, vals, e.span, env)
            }
        }
    }

    pub(super) fn name(&mut self, id: &ast::Ident, env: &Env) -> Result<Val, Diag> {
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
        // The mode this graph is elaborated in: the train step, or evaluation.
        if id.name == "training" {
            return Ok(Val::Bool(self.mode == Mode::Train));
        }
        // `padding: same`, as the string "same".
        if id.name == "same" {
            return Ok(Val::Str(id.name.clone()));
        }
        if builtins::is_initializer(&id.name) {
            return self.call(id, vec![], id.span, env);
        }
        if self.m.func(env.file, &id.name).is_some() || builtins::formals(&id.name).is_some() {
            return Err(self.locate(errors::function_as_value(id)));
        }
        Err(self.unknown(id, env))
    }

    pub(super) fn unknown(&self, id: &ast::Ident, env: &Env) -> Diag {
        if env.file == self.m.user {
            if let Some(module) = self.m.std_module_of(&id.name) {
                return self.locate(errors::not_imported(id, module));
            }
        }
        let mut names: Vec<&str> = env.vars.keys().map(|s| s.as_str()).collect();
        names.extend(self.m.visible_names(env.file));
        // Dimension names are short and upper case (`B`, `C`, `H2`); a lower-case typo gets a
        // "did you mean" instead.
        let first_upper = id.name.starts_with(|c: char| c.is_ascii_uppercase());
        if first_upper && id.name.len() <= 3 && id.name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
            return self.locate(errors::unknown_dimension_name(id));
        }
        self.locate(errors::unknown_name(id, names))
    }

    pub(super) fn binary(&mut self, op: BinOp, a: Val, b: Val, span: Span) -> Result<Val, Diag> {
        // A list beside a tensor is an f32 tensor constant (`w * [1.0, 2.0]`, `step >= milestones`);
        // between compile-time values, arithmetic with a list applies to each element.
        match (a, b) {
            (Val::List(xs), Val::Tensor(t)) => {
                let c = self.list_tensor(&xs, span)?;
                self.scalar_binary(op, Val::Tensor(c), Val::Tensor(t), span)
            }
            (Val::Tensor(t), Val::List(ys)) => {
                let c = self.list_tensor(&ys, span)?;
                self.scalar_binary(op, Val::Tensor(t), Val::Tensor(c), span)
            }
            // Two lists compare whole: `shape(pred) == shape(target)`.
            (Val::List(xs), Val::List(ys)) if matches!(op, BinOp::Eq | BinOp::Ne) => {
                let same = self.lists_equal(xs, ys, span)?;
                Ok(Val::Bool(same == (op == BinOp::Eq)))
            }
            (Val::List(xs), b) => {
                Ok(Val::List(xs.into_iter().map(|x| self.binary(op, x, b.clone(), span)).collect::<Result<_, _>>()?))
            }
            (a, Val::List(ys)) => {
                Ok(Val::List(ys.into_iter().map(|y| self.binary(op, a.clone(), y, span)).collect::<Result<_, _>>()?))
            }
            (a, b) => self.scalar_binary(op, a, b, span),
        }
    }

    /// Whether two compile-time lists have the same length and equal items.
    fn lists_equal(&mut self, xs: Vec<Val>, ys: Vec<Val>, span: Span) -> Result<bool, Diag> {
        if xs.len() != ys.len() {
            return Ok(false);
        }
        for (x, y) in xs.into_iter().zip(ys) {
            match self.binary(BinOp::Eq, x, y, span)? {
                Val::Bool(true) => {}
                Val::Bool(false) => return Ok(false),
                other => {
                    return Err(self.locate(expected("lists of compile-time values", span, &other.describe(&self.g))))
                }
            }
        }
        Ok(true)
    }

    /// The f32 tensor a (nested) list of numbers or tensors spells, its items stacked along a
    /// new first axis (as `torch.tensor([...])` or `torch.stack`).
    pub(super) fn list_tensor(&mut self, items: &[Val], span: Span) -> Result<NodeId, Diag> {
        if items.is_empty() {
            return Err(self.locate(expected("a non-empty list", span, "an empty list")));
        }
        let mut rows = Vec::with_capacity(items.len());
        for item in items {
            let t = match item {
                Val::List(inner) => self.list_tensor(inner, span)?,
                Val::Bool(b) => self.g.constant(f64::from(u8::from(*b))),
                other => self.tensor(other.clone(), span)?,
            };
            let one: Vec<usize> = [&[1][..], &self.g.ty(t).shape].concat();
            rows.push(self.push(Op::Reshape(one), vec![t], span)?);
        }
        if rows.len() == 1 {
            return Ok(rows[0]);
        }
        let parts = rows.len();
        self.push(Op::Concat { axis: 0, parts }, rows, span)
    }

    pub(super) fn scalar_binary(&mut self, op: BinOp, a: Val, b: Val, span: Span) -> Result<Val, Diag> {
        // A comparison's `true` and `false` are 1.0 and 0.0 in arithmetic, as documented.
        let number = |v: Val| match v {
            Val::Bool(b) => Val::Num(f64::from(u8::from(b))),
            other => other,
        };
        let (a, b) = (number(a), number(b));
        // Strings compare at compile time: `where(mode == "exp_range", ...)`.
        if let (Val::Str(x), Val::Str(y), BinOp::Eq | BinOp::Ne) = (&a, &b, op) {
            return Ok(Val::Bool((x == y) == (op == BinOp::Eq)));
        }
        if let (Val::Num(x), Val::Num(y)) = (&a, &b) {
            let (x, y) = (*x, *y);
            return Ok(match op {
                BinOp::Add => Val::Num(ir::BinOp::Add.eval(x, y)),
                BinOp::Sub => Val::Num(ir::BinOp::Sub.eval(x, y)),
                BinOp::Mul => Val::Num(ir::BinOp::Mul.eval(x, y)),
                BinOp::Div => Val::Num(ir::BinOp::Div.eval(x, y)),
                BinOp::Pow => Val::Num(ir::BinOp::Pow.eval(x, y)),
                BinOp::Eq => Val::Bool(x == y),
                BinOp::Ne => Val::Bool(x != y),
                BinOp::Lt => Val::Bool(x < y),
                BinOp::Le => Val::Bool(x <= y),
                BinOp::Gt => Val::Bool(x > y),
                BinOp::Ge => Val::Bool(x >= y),
                BinOp::MatMul => return Err(self.locate(expected("two matrices for `@`", span, "two numbers"))),
                BinOp::Then => return Err(self.locate(errors::then_outside_schedule(span))),
            });
        }
        let (x, y) = (self.tensor(a, span)?, self.tensor(b, span)?);
        let node = match op {
            BinOp::Add => self.broadcast_op(Op::Binary(ir::BinOp::Add), x, y, span)?,
            BinOp::Sub => self.broadcast_op(Op::Binary(ir::BinOp::Sub), x, y, span)?,
            BinOp::Mul => self.broadcast_op(Op::Binary(ir::BinOp::Mul), x, y, span)?,
            BinOp::Div => self.broadcast_op(Op::Binary(ir::BinOp::Div), x, y, span)?,
            BinOp::Pow => self.broadcast_op(Op::Binary(ir::BinOp::Pow), x, y, span)?,
            BinOp::Gt => self.broadcast_op(Op::Binary(ir::BinOp::Gt), x, y, span)?,
            BinOp::Lt => self.broadcast_op(Op::Binary(ir::BinOp::Gt), y, x, span)?,
            BinOp::Eq => self.broadcast_op(Op::Binary(ir::BinOp::Eq), x, y, span)?,
            BinOp::Ne | BinOp::Ge | BinOp::Le => {
                let positive = match op {
                    BinOp::Ne => self.broadcast_op(Op::Binary(ir::BinOp::Eq), x, y, span)?,
                    BinOp::Ge => self.broadcast_op(Op::Binary(ir::BinOp::Gt), y, x, span)?,
                    _ => self.broadcast_op(Op::Binary(ir::BinOp::Gt), x, y, span)?,
                };
                let one = self.g.constant(1.0);
                self.broadcast_op(Op::Binary(ir::BinOp::Sub), one, positive, span)?
            }
            BinOp::MatMul => {
                let (sa, sb) = (self.g.ty(x).shape.clone(), self.g.ty(y).shape.clone());
                match self.g.push(Op::MatMul { ta: false, tb: false }, vec![x, y]) {
                    Ok(n) => n,
                    Err(ShapeError::MatMulRank(..) | ShapeError::MatMulInner(..)) => {
                        return Err(self.locate(errors::matmul_shapes(span, &sa, &sb)))
                    }
                    Err(e) => return Err(self.shape_error(e, span)),
                }
            }
            BinOp::Then => return Err(self.locate(errors::then_outside_schedule(span))),
        };
        Ok(Val::Tensor(node))
    }
}
