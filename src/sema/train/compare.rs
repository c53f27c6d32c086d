//! The compare block: the runs `gradc compare` trains side by side, each a [`Variant`] of the
//! train block. The lists `models`, `optimizers`, `schedules` and `batches` are crossed (a list
//! left out keeps the train block's choice); `runs = [run(model: cnn, optimizer: adam), ...]`
//! lists runs one by one, after the crossed ones. A run's label names what differs between runs.

use std::collections::{HashMap, HashSet};

use super::hyper::{partial, schedule, Partial, Sched};
use super::keys::{model_named, Checked};
use super::value::{call_of, count, number, settings_args};
use crate::diag::{Diag, Span};
use crate::sema::errors;
use crate::syntax::ast::{self, Expr, ExprKind, FuncDecl, FuncKind, Stmt};

/// One run of a `compare` block: the train block with its model, optimizer, schedule or batch
/// size replaced.
#[derive(Debug, Clone)]
pub struct Variant {
    /// The run's name: what sets it apart from the other runs, as written, e.g.
    /// `cnn · adam(lr: 0.001)`.
    pub label: String,
    /// The label's model part, when the runs differ in model.
    pub model_part: Option<String>,
    /// The label without its model part; empty when only the model differs.
    pub setting: String,
    /// The model, with where the compare block names it; `None` keeps the train block's.
    pub model: Option<(FuncDecl, Span)>,
    /// The optimizer.
    pub optimizer: Partial,
    /// The schedule.
    pub schedule: Option<Sched>,
    /// Rows per step; `None` keeps the train block's.
    pub batch: Option<usize>,
    /// Where the run is written: its `run(...)`, or the first list entry that sets it apart.
    pub span: Span,
}

/// A checked `compare` block.
pub(in crate::sema) struct Comparison {
    /// Its runs.
    pub variants: Vec<Variant>,
    /// `optimum = [..]`: where the loss is known to be least, one number per parameter, with the
    /// list's span; charts mark it.
    pub optimum: Option<(Vec<f64>, Span)>,
}

/// What a compare run changes, each with its text in the source; `None` keeps the train block's.
#[derive(Debug, Clone, Default)]
struct Draft {
    model: Option<(FuncDecl, Span)>,
    optimizer: Option<(Partial, String)>,
    schedule: Option<(Sched, String)>,
    batch: Option<(usize, Span)>,
    span: Option<Span>,
}

/// The lists a compare block crosses, each entry a draft that sets one thing.
const LISTS: [&str; 4] = ["models", "optimizers", "schedules", "batches"];

/// What `runs = [...]` entries look like, for errors.
const RUN_EXAMPLE: &str = "a run such as `run(model: cnn, optimizer: adam(lr: 0.001))`";

/// Checks a `compare` block against the checked train block, whose run the compare runs vary;
/// `model` is the train block's model, `loss` the loss, which must call the model through
/// `model(...)` when a run trains another.
pub(in crate::sema) fn compare(
    block: &ast::TrainBlock,
    funcs: &HashMap<String, FuncDecl>,
    text: &str,
    base: &Checked,
    model: Option<&FuncDecl>,
    loss: &FuncDecl,
) -> Result<Comparison, Diag> {
    let source = |span: Span| text[span.start..span.end].to_string();
    let mut lists: HashMap<&str, Vec<Draft>> = HashMap::new();
    let mut runs: Option<Vec<Draft>> = None;
    let mut optimum = None;
    let mut seen: HashMap<&str, Span> = HashMap::new();
    // Each key is checked on its own, so one report lists every key that is wrong.
    let mut found = Vec::new();
    for (key, value) in &block.entries {
        if let Some(prev) = seen.insert(key.name.as_str(), key.span) {
            found.push(errors::duplicate_key(key.span, prev, &key.name));
            continue;
        }
        let mut one = || -> Result<(), Diag> {
            if key.name == "optimum" {
                let ExprKind::List(items) = &value.kind else {
                    return Err(errors::expected("a list of numbers", value.span, "not a list"));
                };
                optimum = Some((items.iter().map(number).collect::<Result<_, _>>()?, value.span));
                return Ok(());
            }
            if !LISTS.contains(&key.name.as_str()) && key.name != "runs" {
                return Err(errors::unknown_compare_key(key));
            }
            let ExprKind::List(items) = &value.kind else {
                return Err(errors::expected(&format!("a list of {}", key.name), value.span, "not a list"));
            };
            if items.is_empty() {
                return Err(errors::empty_compare_list(value.span, &key.name));
            }
            let mut drafts = Vec::new();
            for item in items {
                let span = Some(item.span);
                let draft = match key.name.as_str() {
                    "models" => Draft { model: Some((model_named(item, funcs)?, item.span)), span, ..Draft::default() },
                    "optimizers" => {
                        let p = partial(item, FuncKind::Optimizer, funcs)?;
                        Draft { optimizer: Some((p, source(item.span))), span, ..Draft::default() }
                    }
                    "schedules" => {
                        let s = schedule(item, funcs)?;
                        Draft { schedule: Some((s, source(item.span))), span, ..Draft::default() }
                    }
                    "batches" => {
                        Draft { batch: Some((count(item, "batch", 1.0)?, item.span)), span, ..Draft::default() }
                    }
                    _ => run(item, funcs, &source)?,
                };
                drafts.push(draft);
            }
            if key.name == "runs" {
                runs = Some(drafts);
            } else {
                lists.insert(LISTS.iter().find(|l| **l == key.name).expect("checked above"), drafts);
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
    let mut drafts = cross(&lists);
    drafts.extend(runs.unwrap_or_default());
    if drafts.is_empty() {
        return Err(errors::nothing_to_compare(block.span));
    }
    let variants = variants(drafts, base, model, &source, block.span)?;
    if let Some(called) = model_call(loss, funcs) {
        if let Some(v) = variants.iter().find(|v| v.model.as_ref().is_some_and(|(m, _)| m.name.name != called.name)) {
            return Err(errors::model_called_by_name(called.span, &called.name, v.span));
        }
    }
    Ok(Comparison { variants, optimum })
}

/// Reads one entry of `runs`: `run(model: m, optimizer: o, schedule: s, batch: n)`, each optional.
fn run(item: &Expr, funcs: &HashMap<String, FuncDecl>, source: &dyn Fn(Span) -> String) -> Result<Draft, Diag> {
    let (name, args) = call_of(item, RUN_EXAMPLE)?;
    if name.name != "run" {
        return Err(errors::expected(RUN_EXAMPLE, item.span, &format!("a call of `{}`", name.name)));
    }
    let [model, optimizer, sched, batch] =
        settings_args(&name, &args, &["model", "optimizer", "schedule", "batch"])?[..]
    else {
        unreachable!("settings_args returns one slot per formal")
    };
    Ok(Draft {
        model: model.map(|e| Ok::<_, Diag>((model_named(e, funcs)?, e.span))).transpose()?,
        optimizer: optimizer
            .map(|e| Ok::<_, Diag>((partial(e, FuncKind::Optimizer, funcs)?, source(e.span))))
            .transpose()?,
        schedule: sched.map(|e| Ok::<_, Diag>((schedule(e, funcs)?, source(e.span)))).transpose()?,
        batch: batch.map(|e| Ok::<_, Diag>((count(e, "batch", 1.0)?, e.span))).transpose()?,
        span: Some(item.span),
    })
}

/// Every combination of the lists given, models outermost; none when no list is given.
fn cross(lists: &HashMap<&str, Vec<Draft>>) -> Vec<Draft> {
    if lists.is_empty() {
        return vec![];
    }
    let mut out = vec![Draft::default()];
    for key in LISTS {
        let Some(list) = lists.get(key) else { continue };
        out = out
            .iter()
            .flat_map(|a| {
                list.iter().map(move |b| Draft {
                    model: b.model.clone().or_else(|| a.model.clone()),
                    optimizer: b.optimizer.clone().or_else(|| a.optimizer.clone()),
                    schedule: b.schedule.clone().or_else(|| a.schedule.clone()),
                    batch: b.batch.or(a.batch),
                    // The first list's entry locates the run.
                    span: a.span.or(b.span),
                })
            })
            .collect();
    }
    out
}

/// One run's parts, filled in from the train block: the text of each and a key that is equal
/// exactly when two runs are the same.
struct Parts {
    text: [String; 4],
    key: [String; 4],
}

/// The variants of `drafts`, labelled by the parts in which the runs differ; two runs that are
/// the same run are an error.
fn variants(
    drafts: Vec<Draft>,
    base: &Checked,
    model: Option<&FuncDecl>,
    source: &dyn Fn(Span) -> String,
    block: Span,
) -> Result<Vec<Variant>, Diag> {
    let parts: Vec<Parts> = drafts
        .iter()
        .map(|d| {
            let model = d.model.as_ref().map(|m| &m.0).or(model).map_or(String::new(), |m| m.name.name.clone());
            let (optimizer, opt_text) = match &d.optimizer {
                Some((p, text)) => (p, text.clone()),
                None => (&base.optimizer, source(base.optimizer.span)),
            };
            let (sched, sched_text) = match (&d.schedule, &base.schedule) {
                (Some((s, text)), _) => (Some(s), text.clone()),
                (None, Some((s, span))) => (Some(s), source(*span)),
                (None, None) => (None, "constant".to_string()),
            };
            let batch = d.batch.map(|b| b.0).or(base.config.batch);
            let batch_text = batch.map_or("full batch".to_string(), |b| format!("batch {b}"));
            Parts {
                key: [
                    model.clone(),
                    partial_key(optimizer),
                    sched.map_or("constant".into(), sched_key),
                    batch_text.clone(),
                ],
                text: [model, opt_text, sched_text, batch_text],
            }
        })
        .collect();
    let varies: Vec<bool> = (0..4).map(|k| parts.iter().map(|p| &p.key[k]).collect::<HashSet<_>>().len() > 1).collect();
    let mut firsts: HashMap<&[String; 4], Span> = HashMap::new();
    let mut out = Vec::new();
    for (d, p) in drafts.iter().zip(&parts) {
        let optimizer_and_schedule: Vec<&str> =
            [1, 2].iter().filter(|k| varies[**k]).map(|k| p.text[*k].as_str()).collect();
        let mut setting: Vec<String> = vec![];
        if !optimizer_and_schedule.is_empty() {
            setting.push(optimizer_and_schedule.join(" + "));
        }
        if varies[3] {
            setting.push(p.text[3].clone());
        }
        let setting = setting.join(" · ");
        let model_part = varies[0].then(|| p.text[0].clone());
        let label = match (&model_part, setting.is_empty()) {
            (Some(m), true) => m.clone(),
            (Some(m), false) => format!("{m} · {setting}"),
            // A single run, or the same one twice: name its optimizer.
            (None, true) => p.text[1].clone(),
            (None, false) => setting.clone(),
        };
        let span = d.span.unwrap_or(block);
        if let Some(first) = firsts.insert(&p.key, span) {
            return Err(errors::same_run(span, first, &label));
        }
        out.push(Variant {
            label,
            model_part,
            setting,
            model: d.model.clone(),
            optimizer: d.optimizer.as_ref().map_or(&base.optimizer, |o| &o.0).clone(),
            schedule: match &d.schedule {
                Some((s, _)) => Some(s.clone()),
                None => base.schedule.as_ref().map(|s| s.0.clone()),
            },
            batch: d.batch.map(|b| b.0),
            span,
        });
    }
    Ok(out)
}

/// An optimizer or schedule use as its declaration and bound values, which two uses share
/// exactly when they are the same however they are written (`adam(0.01)`, `adam(lr: 1e-2)`).
fn partial_key(p: &Partial) -> String {
    let mut args: Vec<String> = p.args.iter().map(|(n, v, _)| format!("{n}={v}")).collect();
    args.extend(p.lists.iter().map(|(n, v)| format!("{n}={v:?}")));
    args.extend(p.texts.iter().map(|(n, v)| format!("{n}={v:?}")));
    args.sort();
    format!("{}({})", p.decl.name.name, args.join(","))
}

fn sched_key(s: &Sched) -> String {
    match s {
        Sched::One(p) => partial_key(p),
        Sched::Then { first, next, .. } => format!("({} then {})", sched_key(first), sched_key(next)),
        Sched::Product(a, b) => format!("({} * {})", sched_key(a), sched_key(b)),
    }
}

/// The first call of a model by its name in the loss or in a function of the user's file that
/// the loss calls, outside any model's body: a call a compare run's model cannot replace.
fn model_call<'a>(loss: &'a FuncDecl, funcs: &'a HashMap<String, FuncDecl>) -> Option<&'a ast::Ident> {
    let mut visited = HashSet::new();
    let mut stack = vec![loss];
    while let Some(f) = stack.pop() {
        let mut exprs: Vec<&Expr> = f.params.iter().filter_map(|p| p.default.as_ref()).collect();
        for s in &f.body.stmts {
            match s {
                Stmt::Let { value, .. } => exprs.push(value),
                Stmt::Param(p) | Stmt::Buffer(p) => exprs.extend(&p.init),
                Stmt::State { vars, .. } => exprs.extend(vars.iter().map(|v| &v.1)),
            }
        }
        exprs.extend(&f.body.result);
        while let Some(e) = exprs.pop() {
            match &e.kind {
                ExprKind::Num(_) | ExprKind::Str(_) | ExprKind::Bool(_) | ExprKind::Name(_) => {}
                ExprKind::Minus(a) => exprs.push(a),
                ExprKind::Binary(_, a, b) => exprs.extend([&**a, &**b]),
                ExprKind::List(items) => exprs.extend(items),
                ExprKind::Record(fields) => exprs.extend(fields.iter().map(|f| &f.1)),
                ExprKind::Call { func, args } => {
                    exprs.extend(args.iter().map(|a| &a.value));
                    match funcs.get(&func.name) {
                        Some(d) if d.kind == FuncKind::Model => return Some(func),
                        Some(d) if d.name.span.file == loss.span.file && visited.insert(&d.name.name) => stack.push(d),
                        _ => {}
                    }
                }
            }
        }
    }
    None
}
