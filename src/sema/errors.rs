//! The errors of semantic analysis that name resolution and the train, compare and data checks
//! raise, and those elaboration shares with them, one constructor each, with their codes as
//! constants; call sites name the error, not its wording. Elaboration's own are in `elab::errors`,
//! the `data` declarations' in `errors/data.rs`. It is long because it is a catalogue of small,
//! independent constructors, grouped by section, which is easier to keep consistent in one place
//! than spread over the checks.

mod data;

pub use data::*;

use std::path::Path;

use super::RESERVED_NAMES;
use crate::diag::suggest::did_you_mean;
use crate::diag::{Diag, Span};
use crate::syntax::ast::{FuncDecl, Ident, UseFile};

/// A value of the wrong kind where a compile-time value was expected.
pub const TYPE_EXPECTED: &str = "gradc::type::expected";
/// A parameter or metric named with a reserved name.
pub const NAME_RESERVED: &str = "gradc::name::reserved";
/// A name that resolves to nothing (or to the wrong kind of thing).
pub const NAME_UNKNOWN: &str = "gradc::name::unknown";
/// A name defined twice.
pub const NAME_DUPLICATE: &str = "gradc::name::duplicate";
/// A definition that takes a built-in's name.
pub const NAME_BUILTIN: &str = "gradc::name::builtin";
/// A `use "path"` whose file cannot be read, or holds what a library may not.
pub const NAME_LIBRARY: &str = "gradc::name::library";
/// Files that import each other.
pub const NAME_CYCLE: &str = "gradc::name::cycle";
/// A `use` of a module that does not exist.
pub const NAME_MODULE: &str = "gradc::name::module";
/// A program without a loss.
pub const PROGRAM_NO_LOSS: &str = "gradc::program::no_loss";
/// An initializer's arguments out of range.
pub const INIT_INVALID: &str = "gradc::init::invalid";
/// A call with more arguments than its callee takes.
pub const CALL_ARITY: &str = "gradc::call::arity";
/// A call that gives one argument twice.
pub const CALL_DUPLICATE: &str = "gradc::call::duplicate";
/// A call that leaves out an argument without a default.
pub const CALL_MISSING: &str = "gradc::call::missing";
/// A named argument the callee does not have.
pub const CALL_ARGUMENT: &str = "gradc::call::argument";
/// A hyper-parameter outside its range.
pub const HYPER_RANGE: &str = "gradc::hyper::range";
/// `a then b` where `a` has no length.
pub const SCHEDULE_THEN: &str = "gradc::schedule::then";
/// Two compare blocks.
pub const COMPARE_DUPLICATE: &str = "gradc::compare::duplicate";
/// An `optimum` that does not give one number per scalar parameter.
pub const COMPARE_OPTIMUM: &str = "gradc::compare::optimum";
/// A key the compare block does not know.
pub const COMPARE_KEY: &str = "gradc::compare::key";
/// A compare block that names no runs, or an empty list in one.
pub const COMPARE_EMPTY: &str = "gradc::compare::empty";
/// Two runs of a compare block that are the same run.
pub const COMPARE_SAME_RUN: &str = "gradc::compare::same_run";
/// A compare block that varies the model of a loss that calls a model by name.
pub const COMPARE_MODEL_CALL: &str = "gradc::compare::model_call";
/// A model whose input type does not fit the data.
pub const MODEL_INPUT: &str = "gradc::model::input";
/// `model(x)` or metrics without one model to call.
pub const MODEL_WHICH: &str = "gradc::model::which";
/// A train setting that is not a compile-time value.
pub const TRAIN_CONSTANT: &str = "gradc::train::constant";
/// A train setting's number out of range.
pub const TRAIN_VALUE: &str = "gradc::train::value";
/// A train key set twice.
pub const TRAIN_DUPLICATE: &str = "gradc::train::duplicate";
/// A key the train block does not know.
pub const TRAIN_KEY: &str = "gradc::train::key";
/// A train key that must be set and is not.
pub const TRAIN_MISSING: &str = "gradc::train::missing";
/// A metric that is not a function.
pub const TRAIN_METRICS: &str = "gradc::train::metrics";
/// Data given to a loss that takes none.
pub const TRAIN_DATA: &str = "gradc::train::data";
/// `plateau` and `schedule` together.
pub const TRAIN_PLATEAU: &str = "gradc::train::plateau";
/// A parameter group setting the optimizer does not have.
pub const TRAIN_GROUP: &str = "gradc::train::group";
/// A validation quantity watched without validation data.
pub const TRAIN_VALIDATION: &str = "gradc::train::validation";
/// A watched quantity that is not computed.
pub const TRAIN_MONITOR: &str = "gradc::train::monitor";
/// An unknown clipping rule.
pub const TRAIN_CLIP: &str = "gradc::train::clip";
/// An unknown convergence criterion.
pub const TRAIN_CONVERGE: &str = "gradc::train::converge";
// --- Values and names --------------------------------------------------------------------------

/// A compile-time value where `what` was expected but `found` was given.
pub fn expected(what: &str, span: Span, found: &str) -> Diag {
    Diag::new(TYPE_EXPECTED, format!("expected {what}, found {found}"))
        .at(span, format!("this is {found}"))
        .help(format!("write {what} here"))
}

/// A parameter or metric (`what`) named with a reserved name.
pub fn reserved(what: &str, name: &str, span: Span) -> Diag {
    Diag::new(NAME_RESERVED, format!("`{name}` is reserved and cannot name a {what}"))
        .at(span, "reserved name")
        .help(format!("rename the {what}; reserved names are {}", RESERVED_NAMES.join(", ")))
}

/// A train setting or hyper-parameter that is not a compile-time value.
pub fn not_constant(span: Span) -> Diag {
    Diag::new(TRAIN_CONSTANT, "expected a compile-time value")
        .at(span, "not a constant")
        .help("train settings and hyper-parameters are numbers, names or calls like `adam(lr: 1e-3)`")
}

/// A compile-time number that overflows.
pub fn not_finite(span: Span) -> Diag {
    Diag::new(TRAIN_VALUE, "this value is not finite").at(span, "overflows").help("use a finite number")
}

/// A count (`batch`, `patience`, ...) that is not a whole number of at least `min`.
pub fn bad_count(span: Span, what: &str, min: f64, n: f64) -> Diag {
    Diag::new(TRAIN_VALUE, format!("`{what}` must be a whole number of at least {min}, not {n}"))
        .at(span, "out of range")
        .help(format!("set `{what}` to a whole number ≥ {min}"))
}

/// `accumulate = n`, at `span`, above `max`.
pub fn accumulate_too_large(span: Span, n: usize, max: usize) -> Diag {
    Diag::new(TRAIN_VALUE, format!("`accumulate` is {n} micro-batches per update, more than the {max} gradc allows"))
        .at(span, "too many")
        .help("accumulating k batches of b rows is one batch of k·b rows; raise `batch` instead")
}

/// A bound or tolerance (`what`) that is not positive.
pub fn not_positive(span: Span, what: &str, v: f64) -> Diag {
    Diag::new(TRAIN_VALUE, format!("{what} must be positive, not {v}"))
        .at(span, "out of range")
        .help("use a positive number")
}

/// An initializer, at `span`, whose arguments break its rule: `message` says how, `help` what to do.
pub fn bad_initializer(span: Span, message: String, help: &str) -> Diag {
    Diag::new(INIT_INVALID, message).at(span, "in this initializer").help(help)
}

// --- Program structure -------------------------------------------------------------------------

/// A definition named `name`, a built-in's name.
pub fn redefines_builtin(name: &Ident) -> Diag {
    Diag::new(NAME_BUILTIN, format!("`{}` is a built-in and cannot be redefined", name.name))
        .at(name.span, "redefined here")
        .help("choose another name")
}

/// `name` defined again, first at `first`.
pub fn defined_twice(name: &Ident, first: Span) -> Diag {
    Diag::new(NAME_DUPLICATE, format!("`{}` is defined twice", name.name))
        .at(name.span, "defined again here")
        .note(first, "first defined here")
        .help("rename one of them")
}

/// A second loss, named at `span`, the first at `first`.
pub fn loss_defined_twice(span: Span, first: Span) -> Diag {
    Diag::new(NAME_DUPLICATE, "the loss is defined twice")
        .at(span, "defined again here")
        .note(first, "first defined here")
        .help("a program has one loss; combine terms with `+`")
}

/// `use path...`, at `span`, where no module is `path`; `modules` are those there are.
pub fn unknown_module(span: Span, path: &str, modules: &[&str]) -> Diag {
    Diag::new(NAME_MODULE, format!("there is no module `{path}`"))
        .at(span, "unknown module")
        .help(format!("the stdlib modules are {}", modules.join(", ")))
}

/// `use path.name`, `name` at `span`, where module `path` defines only `items`.
pub fn unknown_use_item(span: Span, path: &str, name: &str, items: &[String]) -> Diag {
    Diag::new(NAME_UNKNOWN, format!("`{path}` has no item `{name}`"))
        .at(span, "not in this module")
        .help(format!("`{path}` defines {}", items.join(", ")))
}

/// A second compare block at `span`, the first at `first`.
pub fn two_compare_blocks(span: Span, first: Span) -> Diag {
    Diag::new(COMPARE_DUPLICATE, "there are two compare blocks")
        .at(span, "second compare block")
        .note(first, "first compare block")
        .help("merge them into one")
}

/// A second train block at `span`, the first at `first`.
pub fn two_train_blocks(span: Span, first: Span) -> Diag {
    Diag::new(TRAIN_DUPLICATE, "there are two train blocks")
        .at(span, "second train block")
        .note(first, "first train block")
        .help("merge them into one")
}

/// The file, starting at `start`, declares no loss.
pub fn no_loss(start: Span) -> Diag {
    Diag::new(PROGRAM_NO_LOSS, "this program has no loss")
        .at(start, "expected a `loss` declaration in this file")
        .help("declare what to minimise, e.g. `loss = (theta - 3.0)^2` or `loss(x, y) = mse(model(x), y)`")
}

/// The file, ending at `end`, has no train block.
pub fn no_train_block(end: Span) -> Diag {
    Diag::new(TRAIN_MISSING, "this program has no train block")
        .at(end, "expected a `train { ... }` block")
        .help("add e.g. `train { optimizer = sgd(lr: 0.1), steps = 100 }`")
}

/// Metrics, the first at `span`, in a program that declares no `model`.
pub fn metrics_without_model(span: Span) -> Diag {
    Diag::new(TRAIN_METRICS, "metrics need a `model` to evaluate")
        .at(span, "computed on the model's output")
        .help("declare the network as `model name(x: f32[B, D]) { ... }` and call it from the loss")
}

/// Metrics, the first at `span`, in a program that declares several `models` and whose train
/// block does not say which it trains.
pub fn metrics_with_models(span: Span, models: &[&str]) -> Diag {
    Diag::new(TRAIN_METRICS, format!("metrics need the model the run trains, and there are {}", models.len()))
        .at(span, "computed on the model's output")
        .help(format!("say which in the train block, e.g. `model = {}`", models[0]))
}

/// `model(...)` at `span` in a program that declares no model.
pub fn no_model_to_call(span: Span) -> Diag {
    Diag::new(MODEL_WHICH, "`model(...)` calls the model the run trains, but there is no `model`")
        .at(span, "no model to call")
        .help("declare one, e.g. `model net(x: f32[B, D]) -> f32[B, K] { dense(x, K) }`")
}

/// `model(...)` at `span` in a program that declares several `models` and whose train block
/// does not say which it trains.
pub fn which_model_to_call(span: Span, models: &[&str]) -> Diag {
    Diag::new(
        MODEL_WHICH,
        format!("`model(...)` calls the model the run trains, but there are {}: {}", models.len(), models.join(", ")),
    )
    .at(span, "which model?")
    .help(format!("say which in the train block, e.g. `model = {}`", models[0]))
}

/// `name` where a model was expected: `other` if it names something else; `models` are the
/// program's models.
pub fn unknown_model(name: &Ident, other: bool, models: &[&str]) -> Diag {
    let message =
        if other { format!("`{}` is not a model", name.name) } else { format!("unknown model `{}`", name.name) };
    let help = match models {
        [] => "declare it as `model name(x: f32[B, D]) -> f32[B, K] { ... }`".to_string(),
        _ => did_you_mean(&name.name, models.iter().copied(), format!("the models are {}", models.join(", "))),
    };
    Diag::new(NAME_UNKNOWN, message).at(name.span, if other { "not a `model`" } else { "not found" }).help(help)
}

/// The model `model` a compare run names at `span` takes `want` as its input `input` (declared
/// at `declared`), but the data's batches are `found`.
pub fn model_input(span: Span, declared: Span, model: &str, input: &str, want: &str, found: &str) -> Diag {
    Diag::new(MODEL_INPUT, format!("model `{model}` takes {want}, but the data's batches are {found}"))
        .at(span, format!("this run trains `{model}`"))
        .note(declared, "its input, declared here")
        .help(format!("declare `{input}: {found}` and reshape inside `{model}` if it needs another shape"))
}

/// An `optimum`, at `span`, of `given` numbers for `params`; `scalar` if all are single numbers.
pub fn bad_optimum(span: Span, given: usize, params: &[&str], scalar: bool) -> Diag {
    Diag::new(COMPARE_OPTIMUM, format!("`optimum` gives {given} numbers for {} parameters", params.len()))
        .at(span, "one number per parameter")
        .help(if scalar {
            format!("give one number for each of {}, in that order", params.join(", "))
        } else {
            "`optimum` is for programs whose parameters are single numbers, declared with `param`".into()
        })
}

// --- Optimizer and schedule uses -----------------------------------------------------------------

/// `name` is declared, but not as `what` ("an optimizer", "a schedule"); `options` are.
pub fn not_a(name: &Ident, what: &str, options: &[&str]) -> Diag {
    Diag::new(NAME_UNKNOWN, format!("`{}` is not {what}", name.name))
        .at(name.span, "not found")
        .help(format!("available: {}", options.join(", ")))
}

/// No `kind` ("optimizer", "schedule") is named `name`; `options` are those there are.
pub fn unknown_function(name: &Ident, kind: &str, options: &[&str]) -> Diag {
    Diag::new(NAME_UNKNOWN, format!("unknown {kind} `{}`", name.name)).at(name.span, "not found").help(did_you_mean(
        &name.name,
        options.iter().copied(),
        format!("available: {}", options.join(", ")),
    ))
}

/// `decl` given `given` arguments, the one at `span` past its parameters.
pub fn too_many_arguments(span: Span, decl: &FuncDecl, given: usize) -> Diag {
    Diag::new(CALL_ARITY, format!("`{}` takes {} arguments, given {given}", decl.name.name, decl.params.len()))
        .at(span, "one too many")
        .help(format!("its parameters are {}", formal_list(decl)))
}

/// A settings call (`patience(...)`) given more than its `formals`, the one at `span` too many.
pub fn too_many_settings(span: Span, callee: &str, formals: &[&str]) -> Diag {
    Diag::new(CALL_ARITY, format!("`{callee}` takes at most {} arguments", formals.len()))
        .at(span, "one too many")
        .help(format!("its parameters are {}", formals.join(", ")))
}

/// Argument `name` given a second time, at `span`.
pub fn duplicate_argument(span: Span, name: &str) -> Diag {
    Diag::new(CALL_DUPLICATE, format!("`{name}` is given twice"))
        .at(span, "given again here")
        .help("give each argument once")
}

/// The use of `decl` at `span` gives no value for `formal`, which has no default.
pub fn missing_argument(span: Span, decl: &FuncDecl, formal: &str) -> Diag {
    let callee = &decl.name.name;
    Diag::new(CALL_MISSING, format!("`{callee}` needs a value for `{formal}`"))
        .at(span, format!("`{formal}` is not given"))
        .help(format!("write e.g. `{callee}({formal}: ...)`"))
}

/// A named argument `decl` does not have.
pub fn unknown_argument(decl: &FuncDecl, name: &Ident) -> Diag {
    Diag::new(CALL_ARGUMENT, format!("`{}` has no parameter named `{}`", decl.name.name, name.name))
        .at(name.span, "unknown argument")
        .help(did_you_mean(
            &name.name,
            decl.params.iter().map(|f| f.name.name.as_str()),
            format!("its parameters are {}", formal_list(decl)),
        ))
}

/// A named argument that a settings call or data generator (`callee`) with `formals` lacks.
pub fn unknown_setting_argument(callee: &str, name: &Ident, formals: &[&str]) -> Diag {
    Diag::new(CALL_ARGUMENT, format!("`{callee}` has no parameter named `{}`", name.name))
        .at(name.span, "unknown argument")
        .help(did_you_mean(&name.name, formals.iter().copied(), format!("its parameters are {}", formals.join(", "))))
}

/// Hyper-parameter `name` at `span` breaks its range rule: it `why` ("must be ..., not ...").
pub fn hyper_out_of_range(span: Span, name: &str, why: &str) -> Diag {
    Diag::new(HYPER_RANGE, format!("bad value for `{name}`: {why}"))
        .at(span, "out of range")
        .help(format!("`{name}` {why}; see the optimizer's definition in stdlib/optim.grad"))
}

/// A parameter group's multiplier `name` below 0.
pub fn negative_multiplier(span: Span, name: &str, v: f64) -> Diag {
    Diag::new(HYPER_RANGE, format!("bad value for `{name}`: must be at least 0, not {v}"))
        .at(span, "out of range")
        .help("multipliers scale a hyper-parameter; use 0 to switch it off")
}

/// A reduce-on-plateau `factor` outside [0, 1).
pub fn plateau_factor(span: Span, factor: f64) -> Diag {
    Diag::new(HYPER_RANGE, format!("bad value for `factor`: must lie in [0, 1), not {factor}"))
        .at(span, "out of range")
        .help("the learning rate is multiplied by `factor` on a plateau")
}

/// `a then b` where `a`, at `span`, has neither `steps` nor `total`.
pub fn schedule_without_length(span: Span) -> Diag {
    Diag::new(SCHEDULE_THEN, "the schedule before `then` does not say how long it lasts")
        .at(span, "no `steps` or `total`")
        .help("give it a length, e.g. `warmup(steps: 100) then cosine(total: 900)`")
}

/// `decl`'s parameters for a help line: "`a`, `b`", or "none".
pub fn formal_list(decl: &FuncDecl) -> String {
    if decl.params.is_empty() {
        return "none".into();
    }
    decl.params.iter().map(|f| format!("`{}`", f.name.name)).collect::<Vec<_>>().join(", ")
}

// --- Train block keys --------------------------------------------------------------------------

/// Train key `name` set again at `span`, first at `first`.
pub fn duplicate_key(span: Span, first: Span, name: &str) -> Diag {
    Diag::new(TRAIN_DUPLICATE, format!("`{name}` is set twice"))
        .at(span, "set again here")
        .note(first, "first set here")
        .help("set each key once")
}

/// A key the train block does not have; `keys` are those it has.
pub fn unknown_key(name: &Ident, keys: &[&str]) -> Diag {
    Diag::new(TRAIN_KEY, format!("unknown train setting `{}`", name.name))
        .at(name.span, "not a train setting")
        .help(did_you_mean(&name.name, keys.iter().copied(), format!("the settings are {}", keys.join(", "))))
}

/// `data = name` where no `data` declaration is named so; `declared` are those there are.
pub fn unknown_data(name: &Ident, declared: &[&str]) -> Diag {
    Diag::new(NAME_UNKNOWN, format!("no data named `{}`", name.name)).at(name.span, "not declared").help(did_you_mean(
        &name.name,
        declared.iter().copied(),
        "declare it, e.g. `data d = spirals(n: 200)`".into(),
    ))
}

/// A metric at `span` that is not a function; `name` if it is a name, `functions` those there are.
pub fn unknown_metric(span: Span, name: Option<&str>, functions: &[&str]) -> Diag {
    let otherwise = "metrics are functions of (model output, labels), e.g. `accuracy`";
    let help = match name {
        Some(name) => did_you_mean(name, functions.iter().copied(), otherwise.into()),
        None => otherwise.into(),
    };
    Diag::new(TRAIN_METRICS, "unknown metric").at(span, "not a metric function").help(help)
}

/// The train block at `span` lacks `field`; `example` shows how to set it.
pub fn missing_key(span: Span, field: &str, example: &str) -> Diag {
    Diag::new(TRAIN_MISSING, format!("the train block has no `{field}`"))
        .at(span, format!("`{field}` is missing"))
        .help(format!("add e.g. `{example}`"))
}

/// `data` given at `span`, but the loss takes no data.
pub fn data_without_inputs(span: Span) -> Diag {
    Diag::new(TRAIN_DATA, "the loss takes no data, but the train block names some")
        .at(span, "data given here")
        .help("give the loss parameters, e.g. `loss(x, y) = ...`, or remove `data`")
}

/// A schedule (at `schedule`) and reduce-on-plateau (at `plateau`) both set.
pub fn schedule_and_plateau(schedule: Span, plateau: Span) -> Diag {
    Diag::new(TRAIN_PLATEAU, "`plateau` and `schedule` both set the learning rate")
        .at(schedule, "a schedule")
        .note(plateau, "and reduce-on-plateau")
        .help("use one of them, as PyTorch runs ReduceLROnPlateau on its own")
}

/// The parameter group at `span` sets `key`, which `optimizer` does not have.
pub fn unknown_group_key(span: Span, key: &str, optimizer: &FuncDecl) -> Diag {
    let candidates = ["lr_mult", "decay_mult"].into_iter().chain(optimizer.params.iter().map(|f| f.name.name.as_str()));
    Diag::new(TRAIN_GROUP, format!("`{}` has no hyper-parameter `{key}`", optimizer.name.name))
        .at(span, "in this group")
        .help(did_you_mean(
            key,
            candidates,
            format!("a group sets `lr_mult`, `decay_mult` or one of {}", formal_list(optimizer)),
        ))
}

/// Train key `key` (at `span`) watches validation quantity `on`, without validation data.
pub fn needs_validation(span: Span, key: &str, on: &str) -> Diag {
    Diag::new(TRAIN_VALIDATION, format!("`{key}` watches `{on}`, but the data has no validation split"))
        .at(span, "needs validation data")
        .help(
            "hold out rows with `data d = ... |> split(val: 0.2)` or name a validation set `val = v`, or watch `loss`",
        )
}

/// Train key `key` (at `span`) watches `on`, a quantity of the test set.
pub fn watches_test(span: Span, key: &str, on: &str) -> Diag {
    Diag::new(TRAIN_MONITOR, format!("`{key}` watches `{on}`, but the test set is scored only once, after training"))
        .at(span, "a test quantity")
        .help("decisions during training watch the validation set: `val_loss` or `val_<metric>`")
}

/// Train key `key` (at `span`) watches `on`, whose `metric` is not computed.
pub fn not_computed(span: Span, key: &str, on: &str, metric: &str) -> Diag {
    Diag::new(TRAIN_MONITOR, format!("`{key}` watches `{on}`, which is not computed"))
        .at(span, "unknown quantity")
        .help(format!("watch `loss` or `val_loss`, or add `{metric}` to `metrics`"))
}

// --- Compare block -----------------------------------------------------------------------------

/// A key the compare block does not have.
pub fn unknown_compare_key(name: &Ident) -> Diag {
    Diag::new(COMPARE_KEY, format!("unknown compare setting `{}`", name.name))
        .at(name.span, "not a compare setting")
        .help(did_you_mean(
            &name.name,
            COMPARE_KEYS.iter().copied(),
            format!("the settings are {}", COMPARE_KEYS.join(", ")),
        ))
}

/// The keys a compare block accepts.
pub const COMPARE_KEYS: &[&str] = &["models", "optimizers", "schedules", "batches", "runs", "optimum"];

/// The list of `key` at `span` is empty.
pub fn empty_compare_list(span: Span, key: &str) -> Diag {
    Diag::new(COMPARE_EMPTY, format!("`{key}` lists nothing"))
        .at(span, "an empty list")
        .help(format!("list at least one, or leave `{key}` out to keep the train block's"))
}

/// The run at `span`, `label`, is the run at `first` again.
pub fn same_run(span: Span, first: Span, label: &str) -> Diag {
    Diag::new(COMPARE_SAME_RUN, format!("the run `{label}` is listed twice"))
        .at(span, "the same run again")
        .note(first, "first listed here")
        .help("remove one of them, or change one of its settings")
}

/// The loss calls the model `name` at `span` by name while the compare block at `block` varies
/// the model, so every run would train that one.
pub fn model_called_by_name(span: Span, name: &str, block: Span) -> Diag {
    Diag::new(
        COMPARE_MODEL_CALL,
        format!("the loss calls the model `{name}` by name, but the compare runs vary the model"),
    )
    .at(span, format!("every run would train `{name}` here"))
    .note(block, "the runs that vary the model")
    .help(format!("write `model(...)` instead of `{name}(...)`: it calls the model each run trains"))
}

/// The compare block at `span` names no runs.
pub fn nothing_to_compare(span: Span) -> Diag {
    Diag::new(COMPARE_EMPTY, "the compare block names no runs")
        .at(span, "nothing to compare")
        .help("list them, e.g. `compare { optimizers = [sgd(lr: 0.1), adam(lr: 0.01)] }`")
}

// --- Training controls -------------------------------------------------------------------------

/// An unknown clipping rule.
pub fn unknown_clip(name: &Ident) -> Diag {
    Diag::new(TRAIN_CLIP, format!("unknown clipping `{}`", name.name))
        .at(name.span, "not a clipping rule")
        .help(did_you_mean(&name.name, ["global_norm", "value"], "use `global_norm(max)` or `value(max)`".into()))
}

/// An unknown convergence criterion.
pub fn unknown_criterion(name: &Ident) -> Diag {
    Diag::new(TRAIN_CONVERGE, format!("unknown convergence criterion `{}`", name.name))
        .at(name.span, "not a criterion")
        .help(did_you_mean(
            &name.name,
            ["update_norm", "loss_change"],
            "use `update_norm(tol)` or `loss_change(tol)`".into(),
        ))
}

/// `use "…"` at `u` names `path`, which does not exist (`e`).
pub fn library_missing(u: &UseFile, path: &Path, e: std::io::Error) -> Diag {
    Diag::new(NAME_LIBRARY, format!("cannot import `{}`: {e}", path.display()))
        .at(u.path_span, "no such file")
        .help("the path is relative to the directory of the file that imports it")
}

/// `use "…"` at `u` names `path`, which cannot be read for the reason `r`.
pub fn library_unreadable(u: &UseFile, path: &Path, r: crate::files::Refusal) -> Diag {
    let why = r.reason("a .grad file");
    Diag::new(NAME_LIBRARY, format!("cannot import `{}`: {why}", path.display()))
        .at(u.path_span, "imported here")
        .help("name a .grad file of functions, layers, optimizers and schedules")
}

/// `use "…"` at `u` names `path`, which is not UTF-8 text.
pub fn library_not_utf8(u: &UseFile, path: &Path) -> Diag {
    Diag::new(NAME_LIBRARY, format!("cannot import `{}`: it is not UTF-8 text", path.display()))
        .at(u.path_span, "imported here")
        .help("save the file as UTF-8")
}

/// `use "…"` at `u` imports a file already being imported: `chain` is the files from it on.
pub fn import_cycle(u: &UseFile, chain: &[&str]) -> Diag {
    let first = chain.first().copied().unwrap_or("");
    Diag::new(NAME_CYCLE, format!("files import each other: {} → {first}", chain.join(" → ")))
        .at(u.path_span, "this import closes the cycle")
        .help("move what both files need into a third file that each imports")
}

/// A library file declares `what` (a parameter, data, a model, a loss, a train block) at `span`.
pub fn not_in_library(span: Span, what: &str) -> Diag {
    Diag::new(NAME_LIBRARY, format!("an imported file cannot declare {what}"))
        .at(span, "not allowed in an imported file")
        .help("an imported file shares functions, layers, optimizers and schedules; declare the rest in the file that trains")
}
