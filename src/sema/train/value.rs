//! Compile-time values in train and compare blocks, and the readers the other parts share:
//! numbers, counts, flags, monitored names and the arguments of settings calls.

use crate::diag::suggest::did_you_mean;
use crate::diag::Diag;
use crate::syntax::ast::{self, BinOp, Expr, ExprKind};

/// A compile-time value in a train block.
pub(super) enum Const {
    Num(f64),
    Bool(bool),
    Name(ast::Ident),
    Call(ast::Ident, Vec<ast::Arg>),
    List(Vec<Expr>),
    Str(String),
}

pub(super) fn const_eval(e: &Expr) -> Result<Const, Diag> {
    Ok(match &e.kind {
        ExprKind::Num(n) => Const::Num(*n),
        ExprKind::Bool(b) => Const::Bool(*b),
        ExprKind::Str(s) => Const::Str(s.clone()),
        ExprKind::Name(i) => Const::Name(i.clone()),
        ExprKind::Call { func, args } => Const::Call(func.clone(), args.clone()),
        ExprKind::List(items) => Const::List(items.clone()),
        ExprKind::Neg(inner) => Const::Num(-number(inner)?),
        ExprKind::Binary(op, a, b) => {
            let (a, b) = (number(a)?, number(b)?);
            Const::Num(match op {
                BinOp::Add => a + b,
                BinOp::Sub => a - b,
                BinOp::Mul => a * b,
                BinOp::Div => a / b,
                BinOp::Pow => a.powf(b),
                _ => return Err(not_constant(e)),
            })
        }
    })
}

fn not_constant(e: &Expr) -> Diag {
    Diag::new("gradc::train::constant", "expected a compile-time value")
        .at(e.span, "not a constant")
        .help("train settings and hyper-parameters are numbers, names or calls like `adam(lr: 1e-3)`")
}

/// Evaluates a compile-time number.
pub(super) fn number(e: &Expr) -> Result<f64, Diag> {
    match const_eval(e)? {
        Const::Num(n) if n.is_finite() => Ok(n),
        Const::Num(_) => Err(Diag::new("gradc::train::value", "this value is not finite")
            .at(e.span, "overflows")
            .help("use a finite number")),
        _ => Err(crate::sema::expected("a number", e.span, "not a number")),
    }
}

pub(super) fn count(e: &Expr, what: &str, min: f64) -> Result<usize, Diag> {
    let n = number(e)?;
    if n.fract() != 0.0 || n < min || n > u32::MAX as f64 {
        return Err(Diag::new(
            "gradc::train::value",
            format!("`{what}` must be a whole number of at least {min}, not {n}"),
        )
        .at(e.span, "out of range")
        .help(format!("set `{what}` to a whole number ≥ {min}")));
    }
    Ok(n as usize)
}

/// The call form of a compile-time value: name and arguments.
pub(super) fn call_of(e: &Expr, what: &str) -> Result<(ast::Ident, Vec<ast::Arg>), Diag> {
    match const_eval(e)? {
        Const::Call(n, a) => Ok((n, a)),
        Const::Name(n) => Ok((n, vec![])),
        _ => Err(crate::sema::expected(what, e.span, "not a call")),
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
            Some(n) => formals.iter().position(|f| *f == n.name).ok_or_else(|| {
                Diag::new("gradc::call::argument", format!("`{}` has no parameter named `{}`", name.name, n.name))
                    .at(n.span, "unknown argument")
                    .help(did_you_mean(
                        &n.name,
                        formals.iter().copied(),
                        format!("its parameters are {}", formals.join(", ")),
                    ))
            })?,
            None if i < formals.len() => i,
            None => {
                return Err(Diag::new(
                    "gradc::call::arity",
                    format!("`{}` takes at most {} arguments", name.name, formals.len()),
                )
                .at(a.value.span, "one too many")
                .help(format!("its parameters are {}", formals.join(", "))))
            }
        };
        out[slot] = Some(&a.value);
    }
    Ok(out)
}

pub(super) fn positive(e: &Expr, what: &str) -> Result<f64, Diag> {
    let v = number(e)?;
    if v <= 0.0 {
        return Err(Diag::new("gradc::train::value", format!("{what} must be positive, not {v}"))
            .at(e.span, "out of range")
            .help("use a positive number"));
    }
    Ok(v)
}

pub(super) fn flag(e: &Expr) -> Result<bool, Diag> {
    match const_eval(e)? {
        Const::Bool(b) => Ok(b),
        _ => Err(crate::sema::expected("`true` or `false`", e.span, "not a boolean")),
    }
}

pub(super) fn monitored(e: &Expr) -> Result<String, Diag> {
    match const_eval(e)? {
        Const::Name(n) => Ok(n.name),
        _ => Err(crate::sema::expected("a monitored quantity such as `val_loss`", e.span, "not a name")),
    }
}
