//! Compile-time values in train and compare blocks, and the readers the other parts share:
//! numbers, counts, flags, monitored names and the arguments of settings calls.

use crate::diag::Diag;
use crate::sema::errors;
use crate::syntax::ast::{self, BinOp, Expr, ExprKind};

/// A compile-time value in a train block.
pub(super) enum Const {
    // The kinds a train setting's value may take, without their spans.
    Num(f64),
    Bool(bool),
    Name(ast::Ident),
    Call(ast::Ident, Vec<ast::Arg>),
    List(Vec<Expr>),
    Str(String),
}

/// Reads a compile-time value; arithmetic on numbers is evaluated.
pub(super) fn const_eval(e: &Expr) -> Result<Const, Diag> {
    Ok(match &e.kind {
        ExprKind::Num(n) => Const::Num(*n),
        ExprKind::Bool(b) => Const::Bool(*b),
        ExprKind::Str(s) => Const::Str(s.clone()),
        ExprKind::Name(i) => Const::Name(i.clone()),
        ExprKind::Call { func, args } => Const::Call(func.clone(), args.clone()),
        ExprKind::List(items) => Const::List(items.clone()),
        ExprKind::Record(_) => return Err(errors::not_constant(e.span)),
        ExprKind::Minus(inner) => Const::Num(-number(inner)?),
        ExprKind::Binary(op, a, b) => {
            let (a, b) = (number(a)?, number(b)?);
            Const::Num(match op {
                BinOp::Add => a + b,
                BinOp::Sub => a - b,
                BinOp::Mul => a * b,
                BinOp::Div => a / b,
                BinOp::Pow => a.powf(b),
                _ => return Err(errors::not_constant(e.span)),
            })
        }
    })
}

/// Evaluates a compile-time number.
pub(super) fn number(e: &Expr) -> Result<f64, Diag> {
    match const_eval(e)? {
        Const::Num(n) if n.is_finite() => Ok(n),
        Const::Num(_) => Err(errors::not_finite(e.span)),
        _ => Err(errors::expected("a number", e.span, "not a number")),
    }
}

/// Evaluates a whole number of at least `min`, `what` naming it in errors.
pub(super) fn count(e: &Expr, what: &str, min: f64) -> Result<usize, Diag> {
    let n = number(e)?;
    if n.fract() != 0.0 || n < min || n > u32::MAX as f64 {
        return Err(errors::bad_count(e.span, what, min, n));
    }
    Ok(n as usize)
}

/// The call form of a compile-time value: name and arguments.
pub(super) fn call_of(e: &Expr, what: &str) -> Result<(ast::Ident, Vec<ast::Arg>), Diag> {
    match const_eval(e)? {
        Const::Call(n, a) => Ok((n, a)),
        Const::Name(n) => Ok((n, vec![])),
        _ => Err(errors::expected(what, e.span, "not a call")),
    }
}

/// Binds a settings call's arguments to `formals` (positional then named); returns them in order.
pub(super) fn settings_args<'a>(
    name: &ast::Ident,
    args: &'a [ast::Arg],
    formals: &[&str],
) -> Result<Vec<Option<&'a Expr>>, Diag> {
    let mut out: Vec<Option<&Expr>> = vec![None; formals.len()];
    for (i, a) in args.iter().enumerate() {
        let slot = match &a.name {
            Some(n) => formals
                .iter()
                .position(|f| *f == n.name)
                .ok_or_else(|| errors::unknown_setting_argument(&name.name, n, formals))?,
            None if i < formals.len() => i,
            None => return Err(errors::too_many_settings(a.value.span, &name.name, formals)),
        };
        if out[slot].is_some() {
            return Err(errors::duplicate_argument(a.value.span, formals[slot]));
        }
        out[slot] = Some(&a.value);
    }
    Ok(out)
}

/// Evaluates a positive number, `what` naming it in errors.
pub(super) fn positive(e: &Expr, what: &str) -> Result<f64, Diag> {
    let v = number(e)?;
    if v <= 0.0 {
        return Err(errors::not_positive(e.span, what, v));
    }
    Ok(v)
}

/// Evaluates `true` or `false`.
pub(super) fn flag(e: &Expr) -> Result<bool, Diag> {
    match const_eval(e)? {
        Const::Bool(b) => Ok(b),
        _ => Err(errors::expected("`true` or `false`", e.span, "not a boolean")),
    }
}

/// Reads the name of a monitored quantity (`loss`, `val_accuracy`, ...).
pub(super) fn monitored(e: &Expr) -> Result<String, Diag> {
    match const_eval(e)? {
        Const::Name(n) => Ok(n.name),
        _ => Err(errors::expected("a monitored quantity such as `val_loss`", e.span, "not a name")),
    }
}
