//! The train block's keys, each read into the [`TrainConfig`], and the checks across keys.

use std::collections::HashMap;

use super::controls::{clip, converge, early_stop, param_group, plateau};
use super::data::{data_spec, held_out_spec};
use super::hyper::{partial, schedule, Partial, Sched};
use super::value::{const_eval, count, flag, Const};
use crate::diag::{Diag, Span};
use crate::sema::{errors, TrainConfig, RESERVED_NAMES};
use crate::syntax::ast::{self, FuncDecl, FuncKind};

/// The most micro-batches one update may accumulate: far beyond any use (a larger batch
/// does the same), and small enough that a run's micro-batch count stays countable.
const MAX_ACCUMULATE: usize = 1 << 16;

/// The result of checking a train block.
pub struct Checked {
    /// The plain settings.
    pub config: TrainConfig,
    /// The optimizer.
    pub optimizer: Partial,
    /// The schedule, if one was given, with its expression's span.
    pub schedule: Option<(Sched, Span)>,
    /// `model = name`: the model the run trains, with where the train block names it.
    pub model: Option<(FuncDecl, Span)>,
}

/// The keys a train block accepts, for the unknown-key help.
const KEYS: &[&str] = &[
    "data",
    "val",
    "test",
    "batch",
    "epochs",
    "steps",
    "shuffle",
    "flush_denormals",
    "distributed",
    "seed",
    "model",
    "optimizer",
    "schedule",
    "schedule_by",
    "metrics",
    "log_every",
    "grad_stats",
    "clip",
    "accumulate",
    "early_stop",
    "converge",
    "plateau",
    "param_groups",
];

/// Checks the train block against the program's functions and data declarations.
pub(in crate::sema) fn check(
    block: &ast::TrainBlock,
    funcs: &HashMap<String, FuncDecl>,
    data: &HashMap<String, ast::DataDecl>,
    takes_data: bool,
) -> Result<Checked, Diag> {
    let mut config = TrainConfig {
        data: None,
        val: None,
        test: None,
        batch: None,
        epochs: None,
        steps: None,
        shuffle: true,
        flush_denormals: false,
        distributed: false,
        seed: 0,
        log_every: None,
        grad_stats: None,
        metrics: vec![],
        optimizer: String::new(),
        clip: None,
        accumulate: 1,
        early_stop: None,
        converge: vec![],
        plateau: None,
        schedule_by_epoch: false,
        param_groups: vec![],
        span: block.span,
    };
    let mut optimizer = None;
    let mut sched = None;
    let mut model = None;
    // `val = v` and `test = t`, checked against the training data once it is known.
    let mut held_out: Vec<(&str, &ast::DataDecl, Span)> = Vec::new();
    let mut seen: HashMap<&str, Span> = HashMap::new();
    // Each key is checked on its own, so one report lists every key that is wrong.
    let mut found = Vec::new();
    for (key, value) in &block.entries {
        if let Some(prev) = seen.insert(key.name.as_str(), key.span) {
            found.push(errors::duplicate_key(key.span, prev, &key.name));
            continue;
        }
        let mut one = || -> Result<(), Diag> {
            match key.name.as_str() {
                "data" => config.data = Some(data_spec(data_decl(value, data)?)?),
                "model" => model = Some((model_named(value, funcs)?, value.span)),
                "val" | "test" => held_out.push((key.name.as_str(), data_decl(value, data)?, key.span)),
                "batch" => config.batch = Some(count(value, "batch", 1.0)?),
                "epochs" => config.epochs = Some(count(value, "epochs", 1.0)?),
                "steps" => config.steps = Some(count(value, "steps", 1.0)?),
                "log_every" => config.log_every = Some(count(value, "log_every", 1.0)?),
                "grad_stats" => config.grad_stats = Some(count(value, "grad_stats", 1.0)?),
                "seed" => config.seed = count(value, "seed", 0.0)? as u64,
                "shuffle" => config.shuffle = flag(value)?,
                "flush_denormals" => config.flush_denormals = flag(value)?,
                "distributed" => config.distributed = flag(value)?,
                "optimizer" => {
                    let p = partial(value, FuncKind::Optimizer, funcs)?;
                    config.optimizer = p.decl.name.name.clone();
                    optimizer = Some(p);
                }
                "schedule" => sched = Some((schedule(value, funcs)?, value.span)),
                "schedule_by" => {
                    config.schedule_by_epoch = match const_eval(value)? {
                        Const::Name(n) if n.name == "epoch" => true,
                        Const::Name(n) if n.name == "step" => false,
                        _ => return Err(errors::expected("`step` or `epoch`", value.span, "something else")),
                    }
                }
                "accumulate" => {
                    config.accumulate = count(value, "accumulate", 1.0)?;
                    if config.accumulate > MAX_ACCUMULATE {
                        return Err(errors::accumulate_too_large(value.span, config.accumulate, MAX_ACCUMULATE));
                    }
                }
                "clip" => config.clip = Some(clip(value)?),
                "early_stop" => config.early_stop = Some(early_stop(value)?),
                "converge" => {
                    let items = match const_eval(value)? {
                        Const::List(items) => items,
                        _ => vec![value.clone()],
                    };
                    for item in &items {
                        config.converge.push(converge(item)?);
                    }
                }
                "plateau" => config.plateau = Some(plateau(value)?),
                "param_groups" => {
                    let Const::List(items) = const_eval(value)? else {
                        return Err(errors::expected(
                            "a list such as `[group(\"*.b\", weight_decay: 0)]`",
                            value.span,
                            "not a list",
                        ));
                    };
                    for item in &items {
                        config.param_groups.push(param_group(item)?);
                    }
                }
                "metrics" => {
                    let Const::List(items) = const_eval(value)? else {
                        return Err(errors::expected("a list such as `[accuracy]`", value.span, "not a list"));
                    };
                    for item in items {
                        match const_eval(&item)? {
                            Const::Name(n)
                                if RESERVED_NAMES.contains(&n.name.as_str())
                                    || n.name.starts_with("val_")
                                    || n.name.starts_with("test_") =>
                            {
                                return Err(errors::reserved("metric", &n.name, n.span));
                            }
                            Const::Name(n) if funcs.get(&n.name).is_some_and(|f| f.kind == FuncKind::Fn) => {
                                config.metrics.push((n.name.clone(), n.span))
                            }
                            other => {
                                let name = match &other {
                                    Const::Name(n) => Some(n.name.as_str()),
                                    _ => None,
                                };
                                let fns: Vec<&str> = funcs
                                    .values()
                                    .filter(|f| f.kind == FuncKind::Fn)
                                    .map(|f| f.name.name.as_str())
                                    .collect();
                                return Err(errors::unknown_metric(item.span, name, &fns));
                            }
                        }
                    }
                }
                _ => return Err(errors::unknown_key(key, KEYS)),
            }
            Ok(())
        };
        if let Err(d) = one() {
            found.push(d);
        }
    }
    if let Some(d) = Diag::combine(found) {
        return Err(d);
    }
    let missing = |field: &str, example: &str| errors::missing_key(block.span, field, example);
    let Some(optimizer) = optimizer else {
        return Err(missing("optimizer", "optimizer = sgd(lr: 0.1)"));
    };
    if config.steps.is_none() && config.epochs.is_none() {
        return Err(missing("steps` or `epochs", "steps = 100"));
    }
    match (&config.data, takes_data) {
        (None, true) => return Err(missing("data", "data = d")),
        (Some(_), false) => return Err(errors::data_without_inputs(seen["data"])),
        _ => {}
    }
    if let Some(train) = &config.data {
        for (key, decl, span) in held_out {
            let (what, split) = match key {
                "val" => ("validation data", train.validation),
                _ => ("test data", train.test),
            };
            if decl.name.name == train.name {
                return Err(errors::held_out_is_training(span, key, &train.name));
            }
            if split.is_some() {
                return Err(errors::held_out_twice(span, key, &train.name));
            }
            let spec = held_out_spec(decl, what, train)?;
            *(if key == "val" { &mut config.val } else { &mut config.test }) = Some(spec);
        }
    } else if let Some((_, _, span)) = held_out.first() {
        return Err(errors::data_without_inputs(*span));
    }
    if let Some((_, span)) = &sched {
        if config.plateau.is_some() {
            return Err(errors::schedule_and_plateau(*span, seen["plateau"]));
        }
    }
    for group in &config.param_groups {
        for (key, _) in &group.set {
            let known =
                key == "lr_mult" || key == "decay_mult" || optimizer.decl.params.iter().any(|f| &f.name.name == key);
            if !known {
                return Err(errors::unknown_group_key(group.span, key, &optimizer.decl));
            }
        }
    }
    let val = config.val.is_some() || config.data.as_ref().is_some_and(|d| d.validation.is_some());
    let monitored = config
        .early_stop
        .as_ref()
        .map(|e| (&e.on, "early_stop"))
        .into_iter()
        .chain(config.plateau.as_ref().map(|p| (&p.on, "plateau")));
    for (on, key) in monitored {
        if on.starts_with("test_") {
            return Err(errors::watches_test(seen[key], key, on));
        }
        if on.starts_with("val_") && !val {
            return Err(errors::needs_validation(seen[key], key, on));
        }
        let metric = on.strip_prefix("val_").unwrap_or(on);
        if metric != "loss" && !config.metrics.iter().any(|m| m.0 == metric) {
            return Err(errors::not_computed(seen[key], key, on, metric));
        }
    }
    Ok(Checked { config, optimizer, schedule: sched, model })
}

/// Reads the name of a `model` declaration: the train block's `model = name` or a compare run's.
pub(super) fn model_named(value: &ast::Expr, funcs: &HashMap<String, FuncDecl>) -> Result<FuncDecl, Diag> {
    let Const::Name(name) = const_eval(value)? else {
        return Err(errors::expected("the name of a `model` declaration", value.span, "not a name"));
    };
    match funcs.get(&name.name) {
        Some(d) if d.kind == FuncKind::Model => Ok(d.clone()),
        found => {
            let mut models: Vec<&str> =
                funcs.values().filter(|f| f.kind == FuncKind::Model).map(|f| f.name.name.as_str()).collect();
            models.sort();
            Err(errors::unknown_model(&name, found.is_some(), &models))
        }
    }
}

/// The `data` declaration a train key's value names.
fn data_decl<'d>(value: &ast::Expr, data: &'d HashMap<String, ast::DataDecl>) -> Result<&'d ast::DataDecl, Diag> {
    let Const::Name(name) = const_eval(value)? else {
        return Err(errors::expected("the name of a `data` declaration", value.span, "not a name"));
    };
    data.get(&name.name).ok_or_else(|| {
        let declared: Vec<&str> = data.keys().map(String::as_str).collect();
        errors::unknown_data(&name, &declared)
    })
}
