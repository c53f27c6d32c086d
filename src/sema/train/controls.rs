//! Training controls: gradient clipping, early stopping, convergence criteria,
//! reduce-on-plateau and parameter groups.

use super::hyper::check_hyper;
use super::value::{call_of, const_eval, count, flag, monitored, number, positive, settings_args, Const};
use crate::diag::Diag;
use crate::sema::{errors, Clip, Converge, EarlyStop, ParamGroup, Plateau};
use crate::syntax::ast::{self, Expr};

/// `group("pattern", key: value, ...)`.
pub(super) fn param_group(e: &Expr) -> Result<ParamGroup, Diag> {
    let (name, args) = call_of(e, "`group(\"pattern\", setting: value)`")?;
    let pattern = match (name.name.as_str(), args.first()) {
        ("group", Some(ast::Arg { name: None, value })) => match const_eval(value)? {
            Const::Str(s) => s,
            _ => return Err(errors::expected("a name pattern string such as \"*.b\"", value.span, "not a string")),
        },
        _ => return Err(errors::expected("`group(\"pattern\", setting: value)`", e.span, "something else")),
    };
    let mut set = Vec::new();
    for a in &args[1..] {
        let Some(key) = &a.name else {
            return Err(errors::expected(
                "a named setting such as `weight_decay: 0`",
                a.value.span,
                "an unnamed value",
            ));
        };
        let v = match const_eval(&a.value)? {
            Const::Bool(b) => f64::from(u8::from(b)),
            _ => number(&a.value)?,
        };
        if key.name == "lr_mult" || key.name == "decay_mult" {
            if v < 0.0 {
                return Err(errors::negative_multiplier(a.value.span, &key.name, v));
            }
        } else {
            check_hyper(&key.name, v, a.value.span)?;
        }
        set.push((key.name.clone(), v));
    }
    Ok(ParamGroup { pattern, set, span: e.span })
}

/// `global_norm(5.0)` or `value(0.5)`.
pub(super) fn clip(e: &Expr) -> Result<Clip, Diag> {
    let (name, args) = call_of(e, "`global_norm(max)` or `value(max)`")?;
    let a = settings_args(&name, &args, &["max"])?;
    let max = a[0].ok_or_else(|| errors::expected("a bound, e.g. `global_norm(5.0)`", e.span, "no bound"))?;
    let max = positive(max, "the clipping bound")?;
    match name.name.as_str() {
        "global_norm" => Ok(Clip::GlobalNorm(max)),
        "value" => Ok(Clip::Value(max)),
        _ => Err(errors::unknown_clip(&name)),
    }
}

/// `patience(3, on: val_loss, min_delta: 0, restore: true)`.
pub(super) fn early_stop(e: &Expr) -> Result<EarlyStop, Diag> {
    let (name, args) = call_of(e, "`patience(n, on: val_loss)`")?;
    if name.name != "patience" {
        return Err(errors::expected("`patience(n, on: val_loss)`", e.span, "another call"));
    }
    let a = settings_args(&name, &args, &["n", "on", "min_delta", "restore"])?;
    let n = a[0].ok_or_else(|| errors::expected("a patience, e.g. `patience(3)`", e.span, "none"))?;
    Ok(EarlyStop {
        patience: count(n, "patience", 1.0)?,
        on: a[1].map(monitored).transpose()?.unwrap_or_else(|| "val_loss".into()),
        min_delta: a[2].map(number).transpose()?.unwrap_or(0.0),
        restore: a[3].map(flag).transpose()?.unwrap_or(true),
    })
}

/// `update_norm(1e-6)` or `loss_change(1e-9)`.
pub(super) fn converge(e: &Expr) -> Result<Converge, Diag> {
    let (name, args) = call_of(e, "`update_norm(tol)` or `loss_change(tol)`")?;
    let a = settings_args(&name, &args, &["below"])?;
    let tol = a[0].ok_or_else(|| errors::expected("a tolerance, e.g. `update_norm(1e-6)`", e.span, "none"))?;
    let tol = positive(tol, "the tolerance")?;
    match name.name.as_str() {
        "update_norm" => Ok(Converge::UpdateNorm(tol)),
        "loss_change" => Ok(Converge::LossChange(tol)),
        _ => Err(errors::unknown_criterion(&name)),
    }
}

/// `reduce_on_plateau(on: val_loss, mode: min, factor: 0.1, patience: 10, threshold: 1e-4,
/// threshold_mode: rel, cooldown: 0, min_lr: 0)`, PyTorch's defaults.
pub(super) fn plateau(e: &Expr) -> Result<Plateau, Diag> {
    let (name, args) = call_of(e, "`reduce_on_plateau(...)`")?;
    if name.name != "reduce_on_plateau" {
        return Err(errors::expected("`reduce_on_plateau(...)`", e.span, "another call"));
    }
    let formals = ["on", "mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lr"];
    let a = settings_args(&name, &args, &formals)?;
    let choice = |e: Option<&Expr>, yes: &str, no: &str, default: bool| -> Result<bool, Diag> {
        match e {
            None => Ok(default),
            Some(e) => match monitored(e)?.as_str() {
                s if s == yes => Ok(true),
                s if s == no => Ok(false),
                _ => Err(errors::expected(&format!("`{yes}` or `{no}`"), e.span, "something else")),
            },
        }
    };
    let factor = a[2].map(number).transpose()?.unwrap_or(0.1);
    if !(0.0..1.0).contains(&factor) {
        return Err(errors::plateau_factor(a[2].map_or(e.span, |x| x.span), factor));
    }
    Ok(Plateau {
        on: a[0].map(monitored).transpose()?.unwrap_or_else(|| "val_loss".into()),
        maximize: choice(a[1], "max", "min", false)?,
        factor,
        patience: a[3].map(|p| count(p, "patience", 0.0)).transpose()?.unwrap_or(10),
        threshold: a[4].map(number).transpose()?.unwrap_or(1e-4),
        relative: choice(a[5], "rel", "abs", true)?,
        cooldown: a[6].map(|c| count(c, "cooldown", 0.0)).transpose()?.unwrap_or(0),
        min_lr: a[7].map(number).transpose()?.unwrap_or(0.0),
    })
}
