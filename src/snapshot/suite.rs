//! `gradc test DIR`: every `model.grad` of a folder compiled once, printed at each stage it has
//! a snapshot `model.<stage>.ir` of beside it, compared with (or, updating, written to) that
//! snapshot, and gradient-checked ([`crate::gradcheck::command`]).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::{compare, errors, stage_text, update, Comparison, Stage};
use crate::diag::Diag;
use crate::driver;
use crate::gradcheck;

/// How one check of a model ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// It passed (a snapshot matched, or gradients agreed): a short note.
    Passed(String),
    /// Updating, the snapshot was written with the printed IR.
    Written,
    /// It failed: why, as text to print under it (a diff, a diagnostic, a table).
    Failed(String),
}

/// One check of a model: a stage's snapshot, the compilation, or the gradient check.
#[derive(Debug, Clone)]
pub struct Check {
    /// What was checked: a stage's name, `compile` or `gradcheck`.
    pub what: String,
    /// How it ended.
    pub outcome: Outcome,
}

/// The checks of one `.grad` file.
#[derive(Debug, Clone)]
pub struct Model {
    /// The file.
    pub file: PathBuf,
    /// Its checks, snapshots in pipeline order, then the gradient check.
    pub checks: Vec<Check>,
}

impl Model {
    /// Whether every check passed (or wrote its snapshot).
    pub fn passes(&self) -> bool {
        self.checks.iter().all(|c| !matches!(c.outcome, Outcome::Failed(_)))
    }
}

/// What `gradc test` found in a folder.
#[derive(Debug, Clone)]
pub struct Report {
    /// Each `.grad` file, in name order.
    pub models: Vec<Model>,
    /// `.ir` files that name no model of the folder, with why.
    pub stray: Vec<(PathBuf, String)>,
}

impl Report {
    /// How many models failed (a stray snapshot fails the folder, not a model).
    pub fn failed(&self) -> usize {
        self.models.iter().filter(|m| !m.passes()).count()
    }

    /// Whether every model passed and no snapshot is stray.
    pub fn passes(&self) -> bool {
        self.failed() == 0 && self.stray.is_empty()
    }
}

/// Checks every `.grad` file in `dir` (not its subfolders); `write` stores the printed IR in
/// every snapshot that differs instead of failing it.
pub fn run(dir: &Path, write: bool) -> Result<Report, Diag> {
    let mut grads = Vec::new();
    let mut snapshots = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| errors::unlistable(dir, &e))?;
    for entry in entries {
        let path = entry.map_err(|e| errors::unlistable(dir, &e))?.path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("grad") => grads.push(path),
            Some("ir") => snapshots.push(path),
            _ => {}
        }
    }
    if grads.is_empty() {
        return Err(errors::no_models(dir));
    }
    grads.sort();
    snapshots.sort();
    let mut stray = Vec::new();
    // Each snapshot `<model>.<stage>.ir`, under its model's stem.
    let mut named: Vec<(String, String, PathBuf)> = Vec::new();
    for path in snapshots {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let base = name.strip_suffix(".ir").unwrap_or(&name);
        match base.rsplit_once('.') {
            Some((model, stage)) if grads.iter().any(|g| stem(g) == model) => {
                named.push((model.to_string(), stage.to_string(), path.clone()));
            }
            Some((model, _)) => stray.push((path.clone(), format!("there is no `{model}.grad` beside it"))),
            None => stray.push((path.clone(), "its name is not `<model>.<stage>.ir`".into())),
        }
    }
    let models = grads
        .iter()
        .map(|g| {
            let mine: Vec<(&str, &Path)> =
                named.iter().filter(|(m, ..)| *m == stem(g)).map(|(_, s, p)| (s.as_str(), p.as_path())).collect();
            model(g, &mine, write)
        })
        .collect();
    Ok(Report { models, stray })
}

/// A file's name without its last extension.
fn stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Compiles one model, checks its snapshots (`(stage name, path)`, as found) and its gradients.
fn model(file: &Path, snapshots: &[(&str, &Path)], write: bool) -> Model {
    let failed = |what: &str, why: String| Check { what: what.into(), outcome: Outcome::Failed(why) };
    let mut front = match driver::parse(file) {
        Ok(front) => front,
        Err((d, sources)) => {
            return Model {
                file: file.into(),
                checks: vec![failed("compile", d.with_sources(&sources).render_plain())],
            }
        }
    };
    let c = match driver::compile(&mut front) {
        Ok(c) => c,
        Err(d) => {
            let why = d.with_sources(&front.sources).render_plain();
            return Model { file: file.into(), checks: vec![failed("compile", why)] };
        }
    };
    let mut checks = Vec::new();
    // Unknown stage names first, then the stages in pipeline order.
    for (name, path) in snapshots {
        if Stage::named(name).is_none() {
            let stages: Vec<&str> = Stage::ALL.iter().map(|s| s.name()).collect();
            let why = format!("`{}`: there is no stage `{name}` (stages: {})", path.display(), stages.join(", "));
            checks.push(failed(name, why));
        }
    }
    for stage in Stage::ALL {
        let Some((_, path)) = snapshots.iter().find(|(n, _)| *n == stage.name()) else { continue };
        let outcome = match stage_text(&front, &c, stage, false) {
            Err(d) => Outcome::Failed(d.with_sources(&front.sources).render_plain()),
            Ok(text) if write => match update(&text, path) {
                Ok(true) => Outcome::Written,
                Ok(false) => Outcome::Passed("matches".into()),
                Err(d) => Outcome::Failed(d.render_plain()),
            },
            Ok(text) => match compare(&text, path) {
                Ok(Comparison::Matches) => Outcome::Passed("matches".into()),
                Ok(Comparison::Differs(diff)) => Outcome::Failed(diff),
                // Listed a moment ago: removed while the test ran.
                Ok(Comparison::Missing) => Outcome::Failed(errors::missing(path).render_plain()),
                Err(d) => Outcome::Failed(d.render_plain()),
            },
        };
        checks.push(Check { what: stage.name().into(), outcome });
    }
    let opts = gradcheck::Options { params: None, init: None, sample: Some(gradcheck::SAMPLE) };
    let outcome = match gradcheck::command(&c, &opts) {
        Ok(r) if r.passes() => {
            let n = r.checks.len();
            let (noun, verb) = if n == 1 { ("parameter", "agrees") } else { ("parameters", "agree") };
            Outcome::Passed(format!("{n} {noun} {verb} with finite differences"))
        }
        Ok(r) => Outcome::Failed(gradcheck::render(&r)),
        Err(d) => Outcome::Failed(d.with_sources(&front.sources).render_plain()),
    };
    checks.push(Check { what: "gradcheck".into(), outcome });
    Model { file: file.into(), checks }
}

/// The report as text: each model's checks, the reasons of failures indented under them, stray
/// snapshots and a summary line.
pub fn render(r: &Report) -> String {
    // Writing to a String cannot fail.
    let mut out = String::new();
    let indent =
        |text: &str| text.lines().map(|l| format!("      {l}\n").replace("      \n", "\n")).collect::<String>();
    for m in &r.models {
        writeln!(out, "{}", m.file.display()).expect("write to String");
        for c in &m.checks {
            match &c.outcome {
                Outcome::Passed(note) => writeln!(out, "  ok      {:<10} {note}", c.what),
                Outcome::Written => writeln!(out, "  wrote   {:<10} the printed IR", c.what),
                Outcome::Failed(why) => writeln!(out, "  FAILED  {}\n{}", c.what, indent(why)),
            }
            .expect("write to String");
        }
    }
    for (path, why) in &r.stray {
        writeln!(out, "stray snapshot {}: {why}", path.display()).expect("write to String");
    }
    let n = r.models.len();
    let snapshots: usize =
        r.models.iter().map(|m| m.checks.iter().filter(|c| Stage::named(&c.what).is_some()).count()).sum();
    let plural = |k: usize| if k == 1 { "" } else { "s" };
    writeln!(
        out,
        "{n} model{}, {snapshots} snapshot{}: {} passed, {} failed",
        plural(n),
        plural(snapshots),
        n - r.failed(),
        r.failed()
    )
    .expect("write to String");
    out
}
