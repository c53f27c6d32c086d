//! Name resolution: the embedded stdlib modules, `use` imports, and the item tables that
//! function bodies look names up in.

use std::collections::HashMap;
use std::path::Path;

use super::library::Libraries;
use super::train::{self, Partial, Sched, Variant};
use super::{builtins, errors, DataSpec, TrainConfig};
use crate::diag::{Diag, FileId, SourceMap, Span};
use crate::syntax::ast::{self, FuncDecl, FuncKind, Item};

/// The stdlib modules, embedded in the binary: (module path, file name, source).
const STDLIB: &[(&str, &str, &str)] = &[
    ("std.nn", "stdlib/nn.grad", include_str!("../../stdlib/nn.grad")),
    ("std.loss", "stdlib/loss.grad", include_str!("../../stdlib/loss.grad")),
    ("std.metrics", "stdlib/metrics.grad", include_str!("../../stdlib/metrics.grad")),
    ("std.optim", "stdlib/optim.grad", include_str!("../../stdlib/optim.grad")),
    ("std.schedule", "stdlib/schedule.grad", include_str!("../../stdlib/schedule.grad")),
];

/// Modules whose names every file sees without a `use`: what a train block refers to.
const PRELUDE: &[&str] = &["std.optim", "std.schedule", "std.metrics"];

/// A resolved program: its items by name and its checked train block.
#[derive(Debug, Clone)]
pub struct Module {
    /// The user's file.
    pub(super) user: FileId,
    /// Functions visible from the user's file: its own, the imported and the prelude's.
    pub(super) user_funcs: HashMap<String, FuncDecl>,
    /// Every stdlib function, which is what stdlib bodies see.
    pub(super) std_funcs: HashMap<String, (String, FuncDecl)>,
    /// What the bodies of each file imported with `use "path"` see, by file.
    pub(super) lib_scopes: HashMap<FileId, HashMap<String, FuncDecl>>,
    /// Top-level parameter declarations, in order.
    pub(super) params: Vec<ast::ParamDecl>,
    /// The loss.
    pub(super) loss: FuncDecl,
    /// The model the run trains: the train block's `model`, else the only one declared; what
    /// `model(...)` calls and metrics are computed on.
    pub(super) model: Option<FuncDecl>,
    /// Where a compare run names its model, which the data must fit; `None` outside a compare run.
    pub(super) model_use: Option<Span>,
    /// The compare run this program is, by label and where it is written.
    pub(super) run: Option<(String, Span)>,
    /// Every `data` declaration, by name, for `gradc eval --data NAME`.
    pub(super) data_decls: HashMap<String, ast::DataDecl>,
    /// The optimizer with its hyper-parameters.
    pub(super) optimizer: Partial,
    /// The schedule, if any.
    pub(super) schedule: Option<Sched>,
    /// The checked train block.
    pub(super) train: TrainConfig,
    /// The runs of a `compare` block; empty without one.
    pub(super) variants: Vec<Variant>,
    /// The compare block's `optimum`, by parameter name.
    pub(super) optimum: Option<Vec<(String, f64)>>,
}

impl Module {
    /// The checked train block.
    pub fn train(&self) -> &TrainConfig {
        &self.train
    }

    /// The labels of the runs a `compare` block asks for; empty without one.
    pub fn variants(&self) -> Vec<String> {
        self.variants.iter().map(|v| v.label.clone()).collect()
    }

    /// Where the compare block says the loss is least, by parameter name; `None` if it does not say.
    pub fn optimum(&self) -> Option<&[(String, f64)]> {
        self.optimum.as_deref()
    }

    /// The runs a `compare` block asks for; empty without one.
    pub fn variant_list(&self) -> &[Variant] {
        &self.variants
    }

    /// This program with the model, optimizer, schedule and batch size of the `compare` block's
    /// run `index`.
    pub fn with_variant(&self, index: usize) -> Module {
        let v = &self.variants[index];
        let mut m = self.clone();
        m.train.optimizer = v.optimizer.decl.name.name.clone();
        m.optimizer = v.optimizer.clone();
        m.schedule = v.schedule.clone();
        if let Some((model, span)) = &v.model {
            m.model = Some(model.clone());
            m.model_use = Some(*span);
        }
        if v.batch.is_some() {
            m.train.batch = v.batch;
        }
        m.run = Some((v.label.clone(), v.span));
        m
    }

    /// This program for `gradc lr-find`: the learning rate starts at `from` and the schedule is
    /// `exponential(gamma)`, counted by update, so step `s` trains at `from · gammaˢ`; nothing
    /// evaluates to stop or reduce it (early stopping, convergence and plateau are dropped).
    pub fn with_lr_range(&self, from: f64, gamma: f64) -> Module {
        let mut m = self.clone();
        let span = m.optimizer.span;
        m.optimizer.args.retain(|a| a.0 != "lr");
        m.optimizer.args.push(("lr".into(), from, span));
        // std.schedule, which the stdlib always loads, declares `exponential`.
        let decl = self.std_funcs["exponential"].1.clone();
        let args = vec![("gamma".into(), gamma, span)];
        m.schedule = Some(Sched::One(Box::new(Partial { decl, args, lists: vec![], texts: vec![], span })));
        m.train.schedule_by_epoch = false;
        m.train.early_stop = None;
        m.train.converge = vec![];
        m.train.plateau = None;
        m
    }

    /// The error for `model(...)` at `span` when the run has no model: none is declared, or
    /// several and the train block does not say which.
    pub(super) fn no_model_to_call(&self, span: Span) -> Diag {
        match self.model_names().as_slice() {
            [] => errors::no_model_to_call(span),
            names => errors::which_model_to_call(span, names),
        }
    }

    /// The names of the models the user's file declares, sorted.
    pub(super) fn model_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> =
            self.user_funcs.values().filter(|f| f.kind == FuncKind::Model).map(|f| f.name.name.as_str()).collect();
        names.sort();
        names
    }

    /// Whether the loss takes data (features and labels) rather than being a function of parameters alone.
    pub fn takes_data(&self) -> bool {
        !self.loss.params.is_empty()
    }

    /// Looks up a function visible from `file`.
    pub(super) fn func(&self, file: FileId, name: &str) -> Option<&FuncDecl> {
        if file == self.user {
            self.user_funcs.get(name)
        } else if let Some(scope) = self.lib_scopes.get(&file) {
            scope.get(name)
        } else {
            self.std_funcs.get(name).map(|(_, f)| f)
        }
    }

    /// The stdlib module that defines `name`, for a "did you forget `use`" hint.
    pub(super) fn std_module_of(&self, name: &str) -> Option<&str> {
        self.std_funcs.get(name).map(|(m, _)| m.as_str())
    }

    /// Every name visible from `file`, for suggestions.
    pub(super) fn visible_names(&self, file: FileId) -> Vec<&str> {
        let mut names: Vec<&str> = if file == self.user {
            self.user_funcs.keys().map(|s| s.as_str()).collect()
        } else if let Some(scope) = self.lib_scopes.get(&file) {
            scope.keys().map(|s| s.as_str()).collect()
        } else {
            self.std_funcs.keys().map(|s| s.as_str()).collect()
        };
        names.extend(builtins::NAMES);
        names.extend(crate::ir::UnOp::ALL.iter().map(|u| u.name()));
        names.extend(self.params.iter().map(|p| p.name.name.as_str()));
        names
    }
}

/// The parsed stdlib: every function with its module, and each module's function names.
pub(super) struct StdLib {
    funcs: HashMap<String, (String, FuncDecl)>,
    modules: HashMap<&'static str, Vec<String>>,
}

/// The functions every file sees without a `use`: the [`PRELUDE`] modules'.
pub(super) fn prelude(std: &StdLib) -> HashMap<String, FuncDecl> {
    let names = PRELUDE.iter().flat_map(|m| &std.modules[m]);
    names.map(|name| (name.clone(), std.funcs[name].1.clone())).collect()
}

/// Adds what `use std.<module>.<names>` imports to `into`; errors go to `found`.
pub(super) fn import_std(u: &ast::Use, std: &StdLib, into: &mut HashMap<String, FuncDecl>, found: &mut Vec<Diag>) {
    let path: Vec<&str> = u.module.iter().map(|i| i.name.as_str()).collect();
    let path = path.join(".");
    let module_span = u.module[0].span.to(u.module[u.module.len() - 1].span);
    let Some(names) = std.modules.get(path.as_str()) else {
        let known: Vec<&str> = STDLIB.iter().map(|m| m.0).collect();
        found.push(errors::unknown_module(module_span, &path, &known));
        return;
    };
    let wanted: Vec<(String, Span)> = if u.glob {
        names.iter().map(|n| (n.clone(), u.span)).collect()
    } else {
        u.names.iter().map(|n| (n.name.clone(), n.span)).collect()
    };
    for (name, span) in wanted {
        if !names.contains(&name) {
            found.push(errors::unknown_use_item(span, &path, &name, names));
            continue;
        }
        into.insert(name.clone(), std.funcs[&name].1.clone());
    }
}

/// Parses the stdlib into `sources` and resolves the user's file against it.
pub(super) fn resolve(file: ast::File, user: FileId, sources: &mut SourceMap) -> Result<Module, Diag> {
    let mut std = StdLib { funcs: HashMap::new(), modules: HashMap::new() };
    for (module, name, text) in STDLIB {
        let id = sources.add(name, text.to_string());
        // The stdlib is part of the compiler; a parse error in it is a build defect that tests catch.
        let parsed = crate::syntax::parse(text, id).map_err(|d| d.with_sources(sources))?;
        for item in parsed.items {
            if let Item::Func(f) = item {
                std.modules.entry(module).or_default().push(f.name.name.clone());
                std.funcs.insert(f.name.name.clone(), (module.to_string(), f));
            }
        }
    }

    let mut user_funcs = prelude(&std);
    // `use "path"` is relative to the directory of the user's file.
    let user_path = sources.name(user).to_string();
    let user_dir = Path::new(&user_path).parent().unwrap_or(Path::new("")).to_path_buf();
    let mut libraries = Libraries::new(&user_path);
    let mut params = Vec::new();
    let mut data: HashMap<String, ast::DataDecl> = HashMap::new();
    let mut loss: Option<FuncDecl> = None;
    let mut train_block: Option<ast::TrainBlock> = None;
    let mut compare_block: Option<ast::TrainBlock> = None;
    let mut defined: HashMap<String, Span> = HashMap::new();
    let mut define = |name: &ast::Ident| -> Result<(), Diag> {
        if builtins::is_builtin(&name.name) {
            return Err(errors::redefines_builtin(name));
        }
        if let Some(prev) = defined.insert(name.name.clone(), name.span) {
            return Err(errors::defined_twice(name, prev));
        }
        Ok(())
    };

    // Each item is checked on its own, so one report lists every item that is wrong.
    let mut found: Vec<Diag> = Vec::new();
    for item in file.items {
        match item {
            Item::Use(u) => import_std(&u, &std, &mut user_funcs, &mut found),
            Item::UseFile(u) => match libraries.import(&u, &user_dir, &std, sources) {
                Ok(decls) => user_funcs.extend(decls.into_iter().map(|d| (d.name.name.clone(), d))),
                Err(d) => found.push(d),
            },
            Item::Param(p) => match define(&p.name) {
                Ok(()) => params.push(p),
                Err(d) => found.push(d),
            },
            Item::Data(d) => match define(&d.name) {
                Ok(()) => {
                    data.insert(d.name.name.clone(), d);
                }
                Err(e) => found.push(e),
            },
            Item::Func(f) if f.kind == FuncKind::Loss => match &loss {
                Some(prev) => found.push(errors::loss_defined_twice(f.name.span, prev.name.span)),
                None => loss = Some(f),
            },
            Item::Func(f) => match define(&f.name) {
                Ok(()) => {
                    user_funcs.insert(f.name.name.clone(), f);
                }
                Err(d) => found.push(d),
            },
            Item::Compare(c) => match &compare_block {
                Some(prev) => found.push(errors::two_compare_blocks(c.span, prev.span)),
                None => compare_block = Some(c),
            },
            Item::Train(t) => match &train_block {
                Some(prev) => found.push(errors::two_train_blocks(t.span, prev.span)),
                None => train_block = Some(t),
            },
        }
    }
    let whole_file = Span::new(user, 0, sources.text(user).len());
    if loss.is_none() {
        found.push(errors::no_loss(Span::new(user, 0, 0)));
    }
    let checked = match &train_block {
        None => {
            found.push(errors::no_train_block(Span::new(user, whole_file.end, whole_file.end)));
            None
        }
        // A failed import was reported; the names it would have brought are then no news.
        Some(_) if libraries.any_failed() => None,
        Some(block) => {
            let takes_data = loss.as_ref().is_some_and(|l| !l.params.is_empty());
            train::check(block, &user_funcs, &data, takes_data).map_err(|d| found.push(d)).ok()
        }
    };
    if let Some(d) = Diag::combine(found) {
        return Err(d.in_file_order());
    }
    // A missing loss or train block, or a train block that failed its check, was pushed to
    // `found`, so both are here.
    let (Some(loss), Some(checked)) = (loss, checked) else {
        unreachable!("a missing loss or train block is reported above");
    };
    let mut models: Vec<&FuncDecl> = user_funcs.values().filter(|f| f.kind == FuncKind::Model).collect();
    models.sort_by(|a, b| a.name.name.cmp(&b.name.name));
    let model = match (&checked.model, models.as_slice()) {
        (Some((m, _)), _) => Some(m.clone()),
        (None, [m]) => Some((*m).clone()),
        (None, _) => None,
    };
    if let (None, Some((_, span))) = (&model, checked.config.metrics.first()) {
        return Err(match models.as_slice() {
            [] => errors::metrics_without_model(*span),
            _ => errors::metrics_with_models(*span, &models.iter().map(|m| m.name.name.as_str()).collect::<Vec<_>>()),
        });
    }
    let (variants, optimum) = match &compare_block {
        Some(block) => {
            let c = train::compare(block, &user_funcs, sources.text(user), &checked, model.as_ref(), &loss)?;
            (c.variants, c.optimum.map(|(values, span)| optimum(&params, values, span)).transpose()?)
        }
        None => (vec![], None),
    };
    Ok(Module {
        variants,
        optimum,
        user,
        user_funcs,
        std_funcs: std.funcs,
        lib_scopes: libraries.scopes,
        params,
        loss,
        model,
        model_use: None,
        run: None,
        data_decls: data,
        optimizer: checked.optimizer,
        schedule: checked.schedule.map(|s| s.0),
        train: checked.config,
    })
}

/// Names the values of a compare block's `optimum`: one per parameter, each a single number.
fn optimum(params: &[ast::ParamDecl], values: Vec<f64>, span: Span) -> Result<Vec<(String, f64)>, Diag> {
    let scalar = |p: &ast::ParamDecl| matches!(&p.ty, ast::TypeExpr::Tensor { dims, .. } if dims.is_empty());
    if values.len() != params.len() || !params.iter().all(scalar) {
        let names: Vec<&str> = params.iter().map(|p| p.name.name.as_str()).collect();
        return Err(errors::bad_optimum(span, values.len(), &names, params.iter().all(scalar)));
    }
    Ok(params.iter().map(|p| p.name.name.clone()).zip(values).collect())
}

/// The loss, for callers that report on it.
impl Module {
    /// The span of the loss declaration.
    pub fn loss_span(&self) -> Span {
        self.loss.span
    }

    /// The data the train block names, if any.
    pub fn data(&self) -> Option<&DataSpec> {
        self.train.data.as_ref()
    }

    /// The data declaration `name` as `gradc eval --data` scores it: `None` for the train
    /// block's data (its training rows), else the declaration used whole and preprocessed as
    /// the training data is.
    pub fn eval_data(&self, name: &str) -> Result<Option<DataSpec>, Diag> {
        let Some(decl) = self.data_decls.get(name) else {
            let declared: Vec<&str> = self.data_decls.keys().map(String::as_str).collect();
            return Err(errors::no_such_data(name, &declared));
        };
        match self.data() {
            Some(train) if train.name == name => Ok(None),
            Some(train) => train::held_out_spec(decl, "evaluation data", train).map(Some),
            None => train::data_spec(decl).map(Some),
        }
    }

    /// Whether the file has a single `model`, which `gradc predict` runs.
    pub fn has_model(&self) -> bool {
        self.model.is_some()
    }
}
