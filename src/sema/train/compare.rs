//! The compare block: every optimizer crossed with every schedule, each run a [`Variant`].

use std::collections::HashMap;

use super::hyper::{partial, schedule, Partial, Sched};
use super::value::number;
use crate::diag::{Diag, Span};
use crate::sema::errors;
use crate::syntax::ast::{self, ExprKind, FuncDecl, FuncKind};

/// One run of a `compare` block: an optimizer and schedule replacing the train block's.
#[derive(Debug, Clone)]
pub struct Variant {
    /// The run's name: the optimizer (and schedule) as written.
    pub label: String,
    /// The optimizer.
    pub optimizer: Partial,
    /// The schedule.
    pub schedule: Option<Sched>,
}

/// A checked `compare` block.
pub(in crate::sema) struct Comparison {
    /// Its runs.
    pub variants: Vec<Variant>,
    /// `optimum = [..]`: where the loss is known to be least, one number per parameter, with the
    /// list's span; charts mark it.
    pub optimum: Option<(Vec<f64>, Span)>,
}

/// Checks a `compare` block: every optimizer crossed with every schedule; a list left out
/// means the train block's choice.
pub(in crate::sema) fn compare(
    block: &ast::TrainBlock,
    funcs: &HashMap<String, FuncDecl>,
    text: &str,
    base: &(Partial, Option<Sched>),
) -> Result<Comparison, Diag> {
    let mut optimizers: Vec<(String, Partial)> = Vec::new();
    let mut schedules: Vec<(String, Option<Sched>)> = Vec::new();
    let mut optimum = None;
    for (key, value) in &block.entries {
        if key.name == "optimum" {
            let ExprKind::List(items) = &value.kind else {
                return Err(errors::expected("a list of numbers", value.span, "not a list"));
            };
            optimum = Some((items.iter().map(number).collect::<Result<_, _>>()?, value.span));
            continue;
        }
        let (kind, what) = match key.name.as_str() {
            "optimizers" => (FuncKind::Optimizer, "a list of optimizers"),
            "schedules" => (FuncKind::Schedule, "a list of schedules"),
            _ => return Err(errors::unknown_compare_key(key)),
        };
        let ExprKind::List(items) = &value.kind else {
            return Err(errors::expected(what, value.span, "not a list"));
        };
        for item in items {
            let label = text[item.span.start..item.span.end].to_string();
            if kind == FuncKind::Optimizer {
                optimizers.push((label, partial(item, kind, funcs)?));
            } else {
                schedules.push((label, Some(schedule(item, funcs)?)));
            }
        }
    }
    if optimizers.is_empty() && schedules.is_empty() {
        return Err(errors::nothing_to_compare(block.span));
    }
    let single_optimizer = optimizers.is_empty();
    if single_optimizer {
        optimizers.push((String::new(), base.0.clone()));
    }
    let single_schedule = schedules.is_empty();
    if single_schedule {
        schedules.push((String::new(), base.1.clone()));
    }
    let mut variants = Vec::new();
    for (olabel, o) in &optimizers {
        for (slabel, s) in &schedules {
            let label = match (single_optimizer, single_schedule) {
                (false, true) => olabel.clone(),
                (true, false) => slabel.clone(),
                _ => format!("{olabel} + {slabel}"),
            };
            variants.push(Variant { label, optimizer: o.clone(), schedule: s.clone() });
        }
    }
    Ok(Comparison { variants, optimum })
}
