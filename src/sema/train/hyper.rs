//! Optimizer and schedule uses (`adam(lr: 1e-3)`, `warmup(steps: 100) then cosine`): bound to
//! their declarations, each hyper-parameter checked against the range rule for its name.

use std::collections::HashMap;

use super::value::{const_eval, number, Const};
use crate::diag::{Diag, Span};
use crate::sema::errors;
use crate::syntax::ast::{BinOp, Expr, ExprKind, FuncDecl, FuncKind};

/// An optimizer or schedule with its hyper-parameters bound: `adam(lr: 0.01)`.
#[derive(Debug, Clone)]
pub struct Partial {
    /// The declaration.
    pub decl: FuncDecl,
    /// Hyper-parameters given at the use site, by formal name.
    pub args: Vec<(String, f64, Span)>,
    /// List-valued hyper-parameters (`milestones: [30, 80]`), by formal name.
    pub lists: Vec<(String, Vec<f64>)>,
    /// String-valued hyper-parameters (`mode: "exp_range"`), by formal name.
    pub texts: Vec<(String, String)>,
    /// The use site.
    pub span: Span,
}

/// A schedule as the train block writes it: one schedule, `a then b` (b takes over, counting
/// from 0 again, once a's `steps` or `total` have passed, as torch's SequentialLR), or `a * b`
/// (the product of their factors, as torch's ChainedScheduler).
#[derive(Debug, Clone)]
pub enum Sched {
    /// A single schedule.
    One(Box<Partial>),
    /// `first then next`, switching at step `at`.
    Then {
        /// The schedule before the switch.
        first: Box<Sched>,
        /// The step of the switch.
        at: f64,
        /// The schedule after it.
        next: Box<Sched>,
    },
    /// `a * b`: `a(t) * b(t) / base`.
    Product(Box<Sched>, Box<Sched>),
}

impl Sched {
    /// How many steps the schedule lasts, if it says: its `steps` or `total` hyper-parameter.
    fn duration(&self) -> Option<f64> {
        match self {
            Sched::One(p) => ["steps", "total"].iter().find_map(|k| {
                p.args.iter().find(|a| a.0 == *k).map(|a| a.1).or_else(|| {
                    let f = p.decl.params.iter().find(|f| f.name.name == *k)?;
                    number(f.default.as_ref()?).ok()
                })
            }),
            Sched::Then { at, next, .. } => Some(at + next.duration()?),
            Sched::Product(a, b) => Some(a.duration()?.max(b.duration()?)),
        }
    }
}

/// Reads a schedule expression: names, calls, `then` and `*`.
pub(super) fn schedule(e: &Expr, funcs: &HashMap<String, FuncDecl>) -> Result<Sched, Diag> {
    match &e.kind {
        ExprKind::Binary(BinOp::Then, a, b) => {
            let first = schedule(a, funcs)?;
            let at = first.duration().ok_or_else(|| errors::schedule_without_length(a.span))?;
            Ok(Sched::Then { first: Box::new(first), at, next: Box::new(schedule(b, funcs)?) })
        }
        ExprKind::Binary(BinOp::Mul, a, b) => {
            Ok(Sched::Product(Box::new(schedule(a, funcs)?), Box::new(schedule(b, funcs)?)))
        }
        _ => Ok(Sched::One(Box::new(partial(e, FuncKind::Schedule, funcs)?))),
    }
}

/// Range rules for hyper-parameters, by the conventional name of the formal.
/// (name, lowest allowed, highest allowed, lowest inclusive, highest inclusive)
const HYPER_RULES: &[(&str, f64, f64, bool, bool)] = &[
    ("lr", 0.0, f64::INFINITY, false, false),
    ("eps", 0.0, f64::INFINITY, true, false),
    ("momentum", 0.0, 1.0, true, false),
    ("base_momentum", 0.0, 1.0, true, false),
    ("max_momentum", 0.0, 1.0, true, false),
    ("beta", 0.0, 1.0, true, false),
    ("beta1", 0.0, 1.0, true, false),
    ("beta2", 0.0, 1.0, true, false),
    ("alpha", 0.0, 1.0, true, false),
    ("rho", 0.0, 1.0, true, false),
    ("gamma", 0.0, f64::INFINITY, false, false),
    ("weight_decay", 0.0, f64::INFINITY, true, false),
    ("steps", 1.0, f64::INFINITY, true, false),
    ("dampening", 0.0, 1.0, true, true),
    ("lr_decay", 0.0, f64::INFINITY, true, false),
    ("initial_accumulator_value", 0.0, f64::INFINITY, true, false),
    ("lr_power", f64::NEG_INFINITY, 0.0, false, true),
    ("l1", 0.0, f64::INFINITY, true, false),
    ("l2", 0.0, f64::INFINITY, true, false),
    ("momentum_decay", 0.0, f64::INFINITY, true, false),
];

/// Checks a hyper-parameter against the range rule for its name.
pub(in crate::sema) fn check_hyper(name: &str, value: f64, span: Span) -> Result<(), Diag> {
    if !value.is_finite() {
        return Err(errors::hyper_out_of_range(span, name, "it must be a finite number"));
    }
    if let Some(&(_, lo, hi, lo_in, hi_in)) = HYPER_RULES.iter().find(|r| r.0 == name) {
        let above = if lo_in { value >= lo } else { value > lo };
        let below = if hi_in { value <= hi } else { value < hi };
        if !(above && below) {
            let range = match (hi.is_finite(), lo_in) {
                (false, false) => format!("must be greater than {lo}"),
                (false, true) => format!("must be at least {lo}"),
                (true, _) => {
                    format!("must lie in {}{lo}, {hi}{}", if lo_in { "[" } else { "(" }, if hi_in { "]" } else { ")" })
                }
            };
            return Err(errors::hyper_out_of_range(span, name, &format!("{range}, not {value}")));
        }
    }
    Ok(())
}

/// Binds a use of an optimizer or schedule (`adam(lr: 1e-3)` or `constant`) to its declaration.
pub(super) fn partial(e: &Expr, kind: FuncKind, funcs: &HashMap<String, FuncDecl>) -> Result<Partial, Diag> {
    let what = if kind == FuncKind::Optimizer { "an optimizer" } else { "a schedule" };
    let (name, args) = match const_eval(e)? {
        Const::Name(n) => (n, vec![]),
        Const::Call(n, a) => (n, a),
        _ => return Err(errors::expected(what, e.span, "not a name or call")),
    };
    let decl = match funcs.get(&name.name) {
        Some(d) if d.kind == kind => d.clone(),
        found => {
            let mut options: Vec<&str> =
                funcs.values().filter(|f| f.kind == kind).map(|f| f.name.name.as_str()).collect();
            options.sort();
            return Err(match found {
                Some(_) => errors::not_a(&name, what, &options),
                // "optimizer" or "schedule", without the article.
                None => errors::unknown_function(&name, &what[what.find(' ').map_or(0, |i| i + 1)..], &options),
            });
        }
    };
    let mut bound: Vec<(String, f64, Span)> = Vec::new();
    let mut lists: Vec<(String, Vec<f64>)> = Vec::new();
    let mut texts: Vec<(String, String)> = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        let formal = match &arg.name {
            Some(n) => match decl.params.iter().find(|f| f.name.name == n.name) {
                Some(f) => f,
                None => return Err(errors::unknown_argument(&decl, n)),
            },
            None => match decl.params.get(i) {
                Some(f) => f,
                None => return Err(errors::too_many_arguments(arg.value.span, &decl, args.len())),
            },
        };
        let name = &formal.name.name;
        if is_bound(name, &bound, &lists, &texts) {
            return Err(errors::duplicate_argument(arg.value.span, name));
        }
        // A formal takes a string exactly when its default is one (`mode = "triangular"`).
        let default_text = match formal.default.as_ref().map(|d| &d.kind) {
            Some(ExprKind::Str(text)) => Some(text),
            _ => None,
        };
        let value = match (const_eval(&arg.value)?, default_text) {
            (Const::Str(text), Some(_)) => {
                texts.push((name.clone(), text));
                continue;
            }
            (Const::Str(_), None) => return Err(errors::expected("a number", arg.value.span, "a string")),
            (_, Some(example)) => {
                let what = format!("a string such as \"{example}\"");
                return Err(errors::expected(&what, arg.value.span, "not a string"));
            }
            (Const::List(items), None) => {
                let values = items.iter().map(number).collect::<Result<Vec<f64>, Diag>>()?;
                lists.push((name.clone(), values));
                continue;
            }
            // Flags such as `nesterov: true` are hyper-parameters too, as 1 or 0.
            (Const::Bool(b), None) => f64::from(u8::from(b)),
            (_, None) => number(&arg.value)?,
        };
        check_hyper(&formal.name.name, value, arg.value.span)?;
        bound.push((formal.name.name.clone(), value, arg.value.span));
    }
    for f in &decl.params {
        if f.default.is_none() && !is_bound(&f.name.name, &bound, &lists, &texts) {
            return Err(errors::missing_argument(e.span, &decl, &f.name.name));
        }
    }
    Ok(Partial { decl, args: bound, lists, texts, span: e.span })
}

/// Whether formal `name` has a value among those bound so far.
fn is_bound(
    name: &str,
    bound: &[(String, f64, Span)],
    lists: &[(String, Vec<f64>)],
    texts: &[(String, String)],
) -> bool {
    bound.iter().any(|b| b.0 == name) || lists.iter().any(|l| l.0 == name) || texts.iter().any(|t| t.0 == name)
}
