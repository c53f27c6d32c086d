//! The train block and `data` declarations: compile-time values only, checked key by key.

use std::collections::{BTreeMap, HashMap};

use super::{Clip, Converge, DataSource, DataSpec, EarlyStop, ParamGroup, Plateau, TrainConfig};
use crate::diag::{Diag, Span};
use crate::syntax::ast::{self, BinOp, Expr, ExprKind, FuncDecl, FuncKind};

/// An optimizer or schedule with its hyper-parameters bound: `adam(lr: 0.01)`.
#[derive(Debug, Clone)]
pub struct Partial {
    /// The declaration.
    pub decl: FuncDecl,
    /// Hyper-parameters given at the use site, by formal name.
    pub args: Vec<(String, f64, Span)>,
    /// List-valued hyper-parameters (`milestones: [30, 80]`), by formal name.
    pub lists: Vec<(String, Vec<f64>)>,
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
fn schedule(e: &Expr, funcs: &HashMap<String, FuncDecl>) -> Result<Sched, Diag> {
    match &e.kind {
        ExprKind::Binary(BinOp::Then, a, b) => {
            let first = schedule(a, funcs)?;
            let at = first.duration().ok_or_else(|| {
                Diag::new("gradc::schedule::then", "the schedule before `then` does not say how long it lasts")
                    .at(a.span, "no `steps` or `total`")
                    .help("give it a length, e.g. `warmup(steps: 100) then cosine(total: 900)`")
            })?;
            Ok(Sched::Then { first: Box::new(first), at, next: Box::new(schedule(b, funcs)?) })
        }
        ExprKind::Binary(BinOp::Mul, a, b) => {
            Ok(Sched::Product(Box::new(schedule(a, funcs)?), Box::new(schedule(b, funcs)?)))
        }
        _ => Ok(Sched::One(Box::new(partial(e, FuncKind::Schedule, funcs)?))),
    }
}

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
pub(super) struct Comparison {
    /// Its runs.
    pub variants: Vec<Variant>,
    /// `optimum = [..]`: where the loss is known to be least, one number per parameter, with the
    /// list's span; charts mark it.
    pub optimum: Option<(Vec<f64>, Span)>,
}

/// Checks a `compare` block: every optimizer crossed with every schedule; a list left out
/// means the train block's choice.
pub(super) fn compare(
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
                return Err(super::expected("a list of numbers", value.span, "not a list"));
            };
            optimum = Some((items.iter().map(number).collect::<Result<_, _>>()?, value.span));
            continue;
        }
        let (kind, what) = match key.name.as_str() {
            "optimizers" => (FuncKind::Optimizer, "a list of optimizers"),
            "schedules" => (FuncKind::Schedule, "a list of schedules"),
            _ => {
                return Err(Diag::new("gradc::compare::key", format!("unknown compare setting `{}`", key.name))
                    .at(key.span, "not a compare setting")
                    .help("the settings are optimizers, schedules and optimum"))
            }
        };
        let ExprKind::List(items) = &value.kind else {
            return Err(super::expected(what, value.span, "not a list"));
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
        return Err(Diag::new("gradc::compare::empty", "the compare block names no runs")
            .at(block.span, "nothing to compare")
            .help("list them, e.g. `compare { optimizers = [sgd(lr: 0.1), adam(lr: 0.01)] }`"));
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

/// Built-in data sources: name and (argument, default) pairs.
const GENERATORS: &[(&str, &[(&str, f64)])] = &[
    ("spirals", &[("n", 200.0), ("classes", 2.0), ("noise", 0.1), ("turns", 1.0), ("seed", 0.0)]),
    ("blobs", &[("n", 300.0), ("classes", 3.0), ("dim", 2.0), ("std", 1.0), ("seed", 0.0)]),
    ("xor", &[("n", 200.0), ("noise", 0.1), ("seed", 0.0)]),
    ("linear", &[("n", 100.0), ("dim", 3.0), ("noise", 0.01), ("seed", 0.0)]),
    ("sine", &[("n", 200.0), ("noise", 0.05), ("seed", 0.0)]),
    ("random", &[("n", 1000.0), ("dim", 10.0), ("classes", 2.0), ("seed", 0.0)]),
];

/// Range rules for hyper-parameters, by the conventional name of the formal.
/// (name, lowest allowed, highest allowed, lowest inclusive, highest inclusive)
const HYPER_RULES: &[(&str, f64, f64, bool, bool)] = &[
    ("lr", 0.0, f64::INFINITY, false, false),
    ("eps", 0.0, f64::INFINITY, true, false),
    ("momentum", 0.0, 1.0, true, false),
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

/// A compile-time value in a train block.
enum Const {
    Num(f64),
    Bool(bool),
    Name(ast::Ident),
    Call(ast::Ident, Vec<ast::Arg>),
    List(Vec<Expr>),
    Str(String),
}

fn const_eval(e: &Expr) -> Result<Const, Diag> {
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
        _ => Err(super::expected("a number", e.span, "not a number")),
    }
}

fn count(e: &Expr, what: &str, min: f64) -> Result<usize, Diag> {
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

/// Checks a hyper-parameter against the range rule for its name.
pub(super) fn check_hyper(name: &str, value: f64, span: Span) -> Result<(), Diag> {
    let bad = |why: String| {
        Diag::new("gradc::hyper::range", format!("bad value for `{name}`: {why}"))
            .at(span, "out of range")
            .help(format!("`{name}` {why}; see the optimizer's definition in stdlib/optim.grad"))
    };
    if !value.is_finite() {
        return Err(bad("it must be a finite number".into()));
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
            return Err(bad(format!("{range}, not {value}")));
        }
    }
    Ok(())
}

/// Binds a use of an optimizer or schedule (`adam(lr: 1e-3)` or `constant`) to its declaration.
fn partial(e: &Expr, kind: FuncKind, funcs: &HashMap<String, FuncDecl>) -> Result<Partial, Diag> {
    let what = if kind == FuncKind::Optimizer { "an optimizer" } else { "a schedule" };
    let (name, args) = match const_eval(e)? {
        Const::Name(n) => (n, vec![]),
        Const::Call(n, a) => (n, a),
        _ => return Err(super::expected(what, e.span, "not a name or call")),
    };
    let decl = match funcs.get(&name.name) {
        Some(d) if d.kind == kind => d.clone(),
        found => {
            let mut options: Vec<&str> =
                funcs.values().filter(|f| f.kind == kind).map(|f| f.name.name.as_str()).collect();
            options.sort();
            let msg = match found {
                Some(_) => format!("`{}` is not {what}", name.name),
                None => format!("unknown {} `{}`", &what[what.find(' ').map_or(0, |i| i + 1)..], name.name),
            };
            return Err(Diag::new("gradc::name::unknown", msg)
                .at(name.span, "not found")
                .help(format!("available: {}", options.join(", "))));
        }
    };
    let mut bound: Vec<(String, f64, Span)> = Vec::new();
    let mut lists: Vec<(String, Vec<f64>)> = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        let formal = match &arg.name {
            Some(n) => match decl.params.iter().find(|f| f.name.name == n.name) {
                Some(f) => f,
                None => return Err(unknown_argument(&decl, n)),
            },
            None => match decl.params.get(i) {
                Some(f) => f,
                None => {
                    return Err(Diag::new(
                        "gradc::call::arity",
                        format!("`{}` takes {} arguments, given {}", decl.name.name, decl.params.len(), args.len()),
                    )
                    .at(arg.value.span, "one too many")
                    .help(format!("its parameters are {}", formal_list(&decl))))
                }
            },
        };
        if bound.iter().any(|b| b.0 == formal.name.name) || lists.iter().any(|l| l.0 == formal.name.name) {
            return Err(Diag::new("gradc::call::duplicate", format!("`{}` is given twice", formal.name.name))
                .at(arg.value.span, "given again here")
                .help("give each argument once"));
        }
        if let Const::List(items) = const_eval(&arg.value)? {
            let values = items.iter().map(number).collect::<Result<Vec<f64>, Diag>>()?;
            lists.push((formal.name.name.clone(), values));
            continue;
        }
        let value = match const_eval(&arg.value)? {
            // Flags such as `nesterov: true` are hyper-parameters too, as 1 or 0.
            Const::Bool(b) => f64::from(u8::from(b)),
            _ => number(&arg.value)?,
        };
        check_hyper(&formal.name.name, value, arg.value.span)?;
        bound.push((formal.name.name.clone(), value, arg.value.span));
    }
    for f in &decl.params {
        if f.default.is_none() && !bound.iter().any(|b| b.0 == f.name.name) && !lists.iter().any(|l| l.0 == f.name.name)
        {
            return Err(Diag::new(
                "gradc::call::missing",
                format!("`{}` needs a value for `{}`", decl.name.name, f.name.name),
            )
            .at(e.span, format!("`{}` is not given", f.name.name))
            .help(format!("write e.g. `{}({}: ...)`", decl.name.name, f.name.name)));
        }
    }
    Ok(Partial { decl, args: bound, lists, span: e.span })
}

/// The diagnostic for a named argument the callee does not have.
pub(super) fn unknown_argument(decl: &FuncDecl, name: &ast::Ident) -> Diag {
    Diag::new("gradc::call::argument", format!("`{}` has no parameter named `{}`", decl.name.name, name.name))
        .at(name.span, "unknown argument")
        .help(format!("its parameters are {}", formal_list(decl)))
}

fn formal_list(decl: &FuncDecl) -> String {
    if decl.params.is_empty() {
        return "none".into();
    }
    decl.params.iter().map(|f| format!("`{}`", f.name.name)).collect::<Vec<_>>().join(", ")
}

/// Checks the train block against the program's functions and data declarations.
pub(super) fn check(
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
                    return Err(super::expected("the name of a `data` declaration", value.span, "not a name"));
                };
                let Some(decl) = data.get(&name.name) else {
                    return Err(Diag::new("gradc::name::unknown", format!("no data named `{}`", name.name))
                        .at(name.span, "not declared")
                        .help("declare it, e.g. `data d = spirals(n: 200)`"));
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
                _ => return Err(super::expected("`true` or `false`", value.span, "not a boolean")),
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
                    _ => return Err(super::expected("`step` or `epoch`", value.span, "something else")),
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
                    return Err(super::expected(
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
                    return Err(super::expected("a list such as `[accuracy]`", value.span, "not a list"));
                };
                for item in items {
                    match const_eval(&item)? {
                        Const::Name(n)
                            if super::RESERVED_NAMES.contains(&n.name.as_str()) || n.name.starts_with("val_") =>
                        {
                            return Err(super::reserved("metric", &n.name, n.span));
                        }
                        Const::Name(n) if funcs.get(&n.name).is_some_and(|f| f.kind == FuncKind::Fn) => {
                            config.metrics.push((n.name.clone(), n.span))
                        }
                        _ => {
                            return Err(Diag::new("gradc::train::metrics", "unknown metric")
                                .at(item.span, "not a metric function")
                                .help("metrics are functions of (model output, labels), e.g. `accuracy`"))
                        }
                    }
                }
            }
            _ => {
                return Err(Diag::new("gradc::train::key", format!("unknown train setting `{}`", key.name))
                    .at(key.span, "not a train setting")
                    .help(format!("the settings are {}", KEYS.join(", "))))
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
                .help(format!("a group sets `lr_mult`, `decay_mult` or one of {}", formal_list(&optimizer.decl))));
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

/// The call form of a compile-time value: name and arguments.
fn call_of(e: &Expr, what: &str) -> Result<(ast::Ident, Vec<ast::Arg>), Diag> {
    match const_eval(e)? {
        Const::Call(n, a) => Ok((n, a)),
        Const::Name(n) => Ok((n, vec![])),
        _ => Err(super::expected(what, e.span, "not a call")),
    }
}

/// Binds a settings call's arguments to `formals` (positional then named); returns them in order.
fn settings_args<'a>(name: &ast::Ident, args: &'a [ast::Arg], formals: &[&str]) -> Result<Vec<Option<&'a Expr>>, Diag> {
    let mut out: Vec<Option<&Expr>> = vec![None; formals.len()];
    for (i, a) in args.iter().enumerate() {
        let slot = match &a.name {
            Some(n) => formals.iter().position(|f| *f == n.name).ok_or_else(|| {
                Diag::new("gradc::call::argument", format!("`{}` has no parameter named `{}`", name.name, n.name))
                    .at(n.span, "unknown argument")
                    .help(format!("its parameters are {}", formals.join(", ")))
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

fn positive(e: &Expr, what: &str) -> Result<f64, Diag> {
    let v = number(e)?;
    if v <= 0.0 {
        return Err(Diag::new("gradc::train::value", format!("{what} must be positive, not {v}"))
            .at(e.span, "out of range")
            .help("use a positive number"));
    }
    Ok(v)
}

fn flag(e: &Expr) -> Result<bool, Diag> {
    match const_eval(e)? {
        Const::Bool(b) => Ok(b),
        _ => Err(super::expected("`true` or `false`", e.span, "not a boolean")),
    }
}

fn monitored(e: &Expr) -> Result<String, Diag> {
    match const_eval(e)? {
        Const::Name(n) => Ok(n.name),
        _ => Err(super::expected("a monitored quantity such as `val_loss`", e.span, "not a name")),
    }
}

/// `group("pattern", key: value, ...)`.
fn param_group(e: &Expr) -> Result<ParamGroup, Diag> {
    let (name, args) = call_of(e, "`group(\"pattern\", setting: value)`")?;
    let pattern = match (name.name.as_str(), args.first()) {
        ("group", Some(ast::Arg { name: None, value })) => match const_eval(value)? {
            Const::Str(s) => s,
            _ => return Err(super::expected("a name pattern string such as \"*.b\"", value.span, "not a string")),
        },
        _ => return Err(super::expected("`group(\"pattern\", setting: value)`", e.span, "something else")),
    };
    let mut set = Vec::new();
    for a in &args[1..] {
        let Some(key) = &a.name else {
            return Err(super::expected("a named setting such as `weight_decay: 0`", a.value.span, "an unnamed value"));
        };
        let v = match const_eval(&a.value)? {
            Const::Bool(b) => f64::from(u8::from(b)),
            _ => number(&a.value)?,
        };
        if key.name == "lr_mult" || key.name == "decay_mult" {
            if v < 0.0 {
                return Err(Diag::new(
                    "gradc::hyper::range",
                    format!("bad value for `{}`: must be at least 0, not {v}", key.name),
                )
                .at(a.value.span, "out of range")
                .help("multipliers scale a hyper-parameter; use 0 to switch it off"));
            }
        } else {
            check_hyper(&key.name, v, a.value.span)?;
        }
        set.push((key.name.clone(), v));
    }
    Ok(ParamGroup { pattern, set, span: e.span })
}

/// `global_norm(5.0)` or `value(0.5)`.
fn clip(e: &Expr) -> Result<Clip, Diag> {
    let (name, args) = call_of(e, "`global_norm(max)` or `value(max)`")?;
    let a = settings_args(&name, &args, &["max"])?;
    let max = a[0].ok_or_else(|| super::expected("a bound, e.g. `global_norm(5.0)`", e.span, "no bound"))?;
    let max = positive(max, "the clipping bound")?;
    match name.name.as_str() {
        "global_norm" => Ok(Clip::GlobalNorm(max)),
        "value" => Ok(Clip::Value(max)),
        _ => Err(Diag::new("gradc::train::clip", format!("unknown clipping `{}`", name.name))
            .at(name.span, "not a clipping rule")
            .help("use `global_norm(max)` or `value(max)`")),
    }
}

/// `patience(3, on: val_loss, min_delta: 0, restore: true)`.
fn early_stop(e: &Expr) -> Result<EarlyStop, Diag> {
    let (name, args) = call_of(e, "`patience(n, on: val_loss)`")?;
    if name.name != "patience" {
        return Err(super::expected("`patience(n, on: val_loss)`", e.span, "another call"));
    }
    let a = settings_args(&name, &args, &["n", "on", "min_delta", "restore"])?;
    let n = a[0].ok_or_else(|| super::expected("a patience, e.g. `patience(3)`", e.span, "none"))?;
    Ok(EarlyStop {
        patience: count(n, "patience", 1.0)?,
        on: a[1].map(monitored).transpose()?.unwrap_or_else(|| "val_loss".into()),
        min_delta: a[2].map(number).transpose()?.unwrap_or(0.0),
        restore: a[3].map(flag).transpose()?.unwrap_or(true),
    })
}

/// `update_norm(1e-6)` or `loss_change(1e-9)`.
fn converge(e: &Expr) -> Result<Converge, Diag> {
    let (name, args) = call_of(e, "`update_norm(tol)` or `loss_change(tol)`")?;
    let a = settings_args(&name, &args, &["below"])?;
    let tol = a[0].ok_or_else(|| super::expected("a tolerance, e.g. `update_norm(1e-6)`", e.span, "none"))?;
    let tol = positive(tol, "the tolerance")?;
    match name.name.as_str() {
        "update_norm" => Ok(Converge::UpdateNorm(tol)),
        "loss_change" => Ok(Converge::LossChange(tol)),
        _ => Err(Diag::new("gradc::train::converge", format!("unknown convergence criterion `{}`", name.name))
            .at(name.span, "not a criterion")
            .help("use `update_norm(tol)` or `loss_change(tol)`")),
    }
}

/// `reduce_on_plateau(on: val_loss, mode: min, factor: 0.1, patience: 10, threshold: 1e-4,
/// threshold_mode: rel, cooldown: 0, min_lr: 0)`, PyTorch's defaults.
fn plateau(e: &Expr) -> Result<Plateau, Diag> {
    let (name, args) = call_of(e, "`reduce_on_plateau(...)`")?;
    if name.name != "reduce_on_plateau" {
        return Err(super::expected("`reduce_on_plateau(...)`", e.span, "another call"));
    }
    let formals = ["on", "mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lr"];
    let a = settings_args(&name, &args, &formals)?;
    let choice = |e: Option<&Expr>, yes: &str, no: &str, default: bool| -> Result<bool, Diag> {
        match e {
            None => Ok(default),
            Some(e) => match monitored(e)?.as_str() {
                s if s == yes => Ok(true),
                s if s == no => Ok(false),
                _ => Err(super::expected(&format!("`{yes}` or `{no}`"), e.span, "something else")),
            },
        }
    };
    let factor = a[2].map(number).transpose()?.unwrap_or(0.1);
    if !(0.0..1.0).contains(&factor) {
        return Err(Diag::new(
            "gradc::hyper::range",
            format!("bad value for `factor`: must lie in [0, 1), not {factor}"),
        )
        .at(a[2].map_or(e.span, |x| x.span), "out of range")
        .help("the learning rate is multiplied by `factor` on a plateau"));
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

/// Resolves a `data` declaration: a generator or CSV file, optionally `|> standardize`d.
fn data_spec(decl: &ast::DataDecl) -> Result<DataSpec, Diag> {
    let mut e = &decl.value;
    let mut standardize = false;
    let mut validation = None;
    loop {
        let ExprKind::Call { func, args } = &e.kind else {
            return Err(super::expected(
                "a data source such as `spirals(n: 200)` or `csv(\"f.csv\", label: \"y\")`",
                e.span,
                "not a call",
            ));
        };
        if func.name == "standardize" && args.len() == 1 && args[0].name.is_none() {
            standardize = true;
            e = &args[0].value;
            continue;
        }
        if func.name == "split" && !args.is_empty() && args[0].name.is_none() {
            let a = settings_args(func, &args[1..], &["val", "train"])?;
            let frac = match (a[0], a[1]) {
                (Some(v), _) => number(v)?,
                (None, Some(t)) => 1.0 - number(t)?,
                (None, None) => 0.2,
            };
            if !(frac > 0.0 && frac < 1.0) {
                return Err(Diag::new(
                    "gradc::data::split",
                    format!("a validation fraction must lie in (0, 1), not {frac}"),
                )
                .at(e.span, "bad split")
                .help("e.g. `|> split(val: 0.2)`"));
            }
            validation = Some(frac);
            e = &args[0].value;
            continue;
        }
        let source = if func.name == "csv" {
            csv_source(e, args)?
        } else if let Some((name, formals)) = GENERATORS.iter().find(|g| g.0 == func.name) {
            let mut bound: BTreeMap<String, f64> = formals.iter().map(|(n, v)| (n.to_string(), *v)).collect();
            for arg in args {
                let Some(n) = &arg.name else {
                    return Err(Diag::new("gradc::data::argument", "data generator arguments are named")
                        .at(arg.value.span, "unnamed")
                        .help(format!("write e.g. `{name}(n: 200)`")));
                };
                if !bound.contains_key(&n.name) {
                    let names: Vec<&str> = formals.iter().map(|f| f.0).collect();
                    return Err(Diag::new(
                        "gradc::call::argument",
                        format!("`{name}` has no parameter named `{}`", n.name),
                    )
                    .at(n.span, "unknown argument")
                    .help(format!("its parameters are {}", names.join(", "))));
                }
                let v = number(&arg.value)?;
                let integral = n.name != "noise" && n.name != "std" && n.name != "turns";
                if v < 0.0 || (integral && v.fract() != 0.0) || v > 1e7 {
                    return Err(Diag::new("gradc::data::argument", format!("bad value {v} for `{}`", n.name))
                        .at(arg.value.span, "out of range")
                        .help(if integral {
                            "use a whole number between 0 and 10,000,000"
                        } else {
                            "use a non-negative number"
                        }));
                }
                bound.insert(n.name.clone(), v);
            }
            DataSource::Generator { name: name.to_string(), args: bound }
        } else {
            let names: Vec<&str> = GENERATORS.iter().map(|g| g.0).collect();
            return Err(Diag::new("gradc::data::source", format!("unknown data source `{}`", func.name))
                .at(func.span, "not a data source")
                .help(format!("use csv(\"file.csv\", label: \"column\") or one of {}", names.join(", "))));
        };
        return Ok(DataSpec { name: decl.name.name.clone(), source, standardize, validation, span: decl.value.span });
    }
}

fn csv_source(e: &Expr, args: &[ast::Arg]) -> Result<DataSource, Diag> {
    let mut path = None;
    let mut column = None;
    for arg in args {
        let text = match const_eval(&arg.value)? {
            Const::Str(s) => s,
            _ => return Err(super::expected("a string", arg.value.span, "not a string")),
        };
        match arg.name.as_ref().map(|n| n.name.as_str()) {
            None | Some("path") => path = Some(text),
            Some("label") => column = Some((text, true)),
            Some("target") => column = Some((text, false)),
            Some(_) => {
                return Err(Diag::new("gradc::call::argument", "`csv` takes a path and `label:` or `target:`")
                    .at(arg.value.span, "unknown argument")
                    .help("write `csv(\"file.csv\", label: \"class\")` or `csv(\"file.csv\", target: \"y\")`"))
            }
        }
    }
    match (path, column) {
        (Some(path), Some((column, classes))) => Ok(DataSource::Csv { path, column, classes }),
        _ => Err(Diag::new("gradc::data::csv", "`csv` needs a path and a label or target column")
            .at(e.span, "incomplete")
            .help("write `csv(\"file.csv\", label: \"class\")` or `csv(\"file.csv\", target: \"y\")`")),
    }
}
