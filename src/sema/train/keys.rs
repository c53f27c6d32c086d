//! The train block's keys, each read into the [`TrainConfig`], and the checks across keys.

use std::collections::HashMap;

use super::controls::{clip, converge, early_stop, param_group, plateau};
use super::data::data_spec;
use super::hyper::{formal_list, partial, schedule, Partial, Sched};
use super::value::{const_eval, count, Const};
use crate::diag::suggest::did_you_mean;
use crate::diag::{Diag, Span};
use crate::sema::TrainConfig;
use crate::syntax::ast::{self, FuncDecl, FuncKind};

/// The result of checking a train block.
pub struct Checked {
    /// The plain settings.
    pub config: TrainConfig,
    /// The optimizer.
    pub optimizer: Partial,
    /// The schedule, if one was given.
    pub schedule: Option<Sched>,
}

/// The keys a train block accepts, for the unknown-key help.
const KEYS: &[&str] = &[
    "data",
    "batch",
    "epochs",
    "steps",
    "shuffle",
    "seed",
    "optimizer",
    "schedule",
    "schedule_by",
    "metrics",
    "log_every",
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
        batch: None,
        epochs: None,
        steps: None,
        shuffle: true,
        seed: 0,
        log_every: None,
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
    let mut seen: HashMap<&str, Span> = HashMap::new();
    for (key, value) in &block.entries {
        if let Some(prev) = seen.insert(key.name.as_str(), key.span) {
            return Err(Diag::new("gradc::train::duplicate", format!("`{}` is set twice", key.name))
                .at(key.span, "set again here")
                .note(prev, "first set here")
                .help("set each key once"));
        }
        match key.name.as_str() {
            "data" => {
                let Const::Name(name) = const_eval(value)? else {
                    return Err(crate::sema::expected("the name of a `data` declaration", value.span, "not a name"));
                };
                let Some(decl) = data.get(&name.name) else {
                    return Err(Diag::new("gradc::name::unknown", format!("no data named `{}`", name.name))
                        .at(name.span, "not declared")
                        .help(did_you_mean(
                            &name.name,
                            data.keys().map(String::as_str),
                            "declare it, e.g. `data d = spirals(n: 200)`".into(),
                        )));
                };
                config.data = Some(data_spec(decl)?);
            }
            "batch" => config.batch = Some(count(value, "batch", 1.0)?),
            "epochs" => config.epochs = Some(count(value, "epochs", 1.0)?),
            "steps" => config.steps = Some(count(value, "steps", 1.0)?),
            "log_every" => config.log_every = Some(count(value, "log_every", 1.0)?),
            "seed" => config.seed = count(value, "seed", 0.0)? as u64,
            "shuffle" => match const_eval(value)? {
                Const::Bool(b) => config.shuffle = b,
                _ => return Err(crate::sema::expected("`true` or `false`", value.span, "not a boolean")),
            },
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
                    _ => return Err(crate::sema::expected("`step` or `epoch`", value.span, "something else")),
                }
            }
            "accumulate" => config.accumulate = count(value, "accumulate", 1.0)?,
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
                    return Err(crate::sema::expected(
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
                    return Err(crate::sema::expected("a list such as `[accuracy]`", value.span, "not a list"));
                };
                for item in items {
                    match const_eval(&item)? {
                        Const::Name(n)
                            if crate::sema::RESERVED_NAMES.contains(&n.name.as_str()) || n.name.starts_with("val_") =>
                        {
                            return Err(crate::sema::reserved("metric", &n.name, n.span));
                        }
                        Const::Name(n) if funcs.get(&n.name).is_some_and(|f| f.kind == FuncKind::Fn) => {
                            config.metrics.push((n.name.clone(), n.span))
                        }
                        other => {
                            let otherwise = "metrics are functions of (model output, labels), e.g. `accuracy`";
                            let help = match other {
                                Const::Name(n) => {
                                    let fns = funcs.values().filter(|f| f.kind == FuncKind::Fn);
                                    did_you_mean(&n.name, fns.map(|f| f.name.name.as_str()), otherwise.into())
                                }
                                _ => otherwise.into(),
                            };
                            return Err(Diag::new("gradc::train::metrics", "unknown metric")
                                .at(item.span, "not a metric function")
                                .help(help));
                        }
                    }
                }
            }
            _ => {
                return Err(Diag::new("gradc::train::key", format!("unknown train setting `{}`", key.name))
                    .at(key.span, "not a train setting")
                    .help(did_you_mean(
                        &key.name,
                        KEYS.iter().copied(),
                        format!("the settings are {}", KEYS.join(", ")),
                    )))
            }
        }
    }
    let missing = |field: &str, example: &str| {
        Diag::new("gradc::train::missing", format!("the train block has no `{field}`"))
            .at(block.span, format!("`{field}` is missing"))
            .help(format!("add e.g. `{example}`"))
    };
    let Some(optimizer) = optimizer else {
        return Err(missing("optimizer", "optimizer = sgd(lr: 0.1)"));
    };
    if config.steps.is_none() && config.epochs.is_none() {
        return Err(missing("steps` or `epochs", "steps = 100"));
    }
    match (&config.data, takes_data) {
        (None, true) => return Err(missing("data", "data = d")),
        (Some(_), false) => {
            return Err(Diag::new("gradc::train::data", "the loss takes no data, but the train block names some")
                .at(seen["data"], "data given here")
                .help("give the loss parameters, e.g. `loss(x, y) = ...`, or remove `data`"))
        }
        _ => {}
    }
    if let Some((_, span)) = &sched {
        if config.plateau.is_some() {
            return Err(Diag::new("gradc::train::plateau", "`plateau` and `schedule` both set the learning rate")
                .at(*span, "a schedule")
                .note(seen["plateau"], "and reduce-on-plateau")
                .help("use one of them, as PyTorch runs ReduceLROnPlateau on its own"));
        }
    }
    for group in &config.param_groups {
        for (key, _) in &group.set {
            let known =
                key == "lr_mult" || key == "decay_mult" || optimizer.decl.params.iter().any(|f| &f.name.name == key);
            if !known {
                return Err(Diag::new(
                    "gradc::train::group",
                    format!("`{}` has no hyper-parameter `{key}`", optimizer.decl.name.name),
                )
                .at(group.span, "in this group")
                .help(did_you_mean(
                    key,
                    ["lr_mult", "decay_mult"]
                        .into_iter()
                        .chain(optimizer.decl.params.iter().map(|f| f.name.name.as_str())),
                    format!("a group sets `lr_mult`, `decay_mult` or one of {}", formal_list(&optimizer.decl)),
                )));
            }
        }
    }
    let val = config.data.as_ref().is_some_and(|d| d.validation.is_some());
    let monitored = config
        .early_stop
        .as_ref()
        .map(|e| (&e.on, "early_stop"))
        .into_iter()
        .chain(config.plateau.as_ref().map(|p| (&p.on, "plateau")));
    for (on, key) in monitored {
        if on.starts_with("val_") && !val {
            return Err(Diag::new(
                "gradc::train::validation",
                format!("`{key}` watches `{on}`, but the data has no validation split"),
            )
            .at(seen[key], "needs validation data")
            .help("hold out rows with `data d = ... |> split(val: 0.2)`, or watch `loss`"));
        }
        let metric = on.strip_prefix("val_").unwrap_or(on);
        if metric != "loss" && !config.metrics.iter().any(|m| m.0 == metric) {
            return Err(Diag::new("gradc::train::monitor", format!("`{key}` watches `{on}`, which is not computed"))
                .at(seen[key], "unknown quantity")
                .help(format!("watch `loss` or `val_loss`, or add `{metric}` to `metrics`")));
        }
    }
    Ok(Checked { config, optimizer, schedule: sched.map(|s| s.0) })
}
