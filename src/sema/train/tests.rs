//! The help lines of train, compare and data errors: "did you mean", and what to write.

use crate::diag::SourceMap;

/// The help line of the error that resolving `src` reports.
fn help(src: &str) -> String {
    let mut sources = SourceMap::default();
    let user = sources.add("test.grad", src.to_string());
    let file = crate::syntax::parse(src, user).expect("parses");
    match crate::sema::resolve(file, user, &mut sources) {
        Ok(_) => panic!("resolved without errors:\n{src}"),
        Err(d) => d.help.unwrap_or_else(|| panic!("no help for {}", d.message)),
    }
}

/// A program over `data` whose train block ends in `train`.
fn program(data: &str, train: &str) -> String {
    format!(
        "use std.nn.*\nuse std.loss.cross_entropy\nuse std.metrics.accuracy\ndata d = {data}\n\
         model m(x) = dense(x, 2)\nloss(x, y) = cross_entropy(m(x), y)\n\
         train {{ data = d, optimizer = sgd(lr: 0.1), steps = 1{train} }}\n"
    )
}

#[test]
fn misspelt_names_are_suggested() {
    let spirals = "spirals(n: 8)";
    for (data, train, want) in [
        (spirals, ", Optimizer = adam", "did you mean `optimizer`?"),
        (spirals, ", clip = globalnorm(1.0)", "did you mean `global_norm`?"),
        (spirals, ", converge = update_nrom(1e-6)", "did you mean `update_norm`?"),
        (spirals, ", early_stop = patience(3, onn: loss)", "did you mean `on`?"),
        (spirals, ", metrics = [acuracy]", "did you mean `accuracy`?"),
        (spirals, ", schedule = Constant", "did you mean `constant`?"),
        (spirals, ", param_groups = [group(\"*\", lr_mul: 0)]", "did you mean `lr_mult`?"),
        ("spiral(n: 8)", "", "did you mean `spirals`?"),
        ("Blobs(n: 8)", "", "did you mean `blobs`?"),
        ("spirals(n: 8, nosie: 0.1)", "", "did you mean `noise`?"),
        ("CSV(\"f.csv\", label: \"y\")", "", "did you mean `csv`?"),
        ("csv(\"f.csv\", lable: \"y\")", "", "did you mean `label`?"),
        ("spirals(n: 8) |> split(vall: 0.2)", "", "did you mean `val`?"),
        ("npy(\"x.npy\", label: \"y.npy\")", "", "did you mean `labels`?"),
        ("NPZ(\"d.npz\", x: \"a\", y: \"b\")", "", "did you mean `npz`?"),
        ("idx(\"i\", lables: \"l\")", "", "did you mean `labels`?"),
    ] {
        assert_eq!(help(&program(data, train)), want, "data = {data}, train: {train}");
    }
}

#[test]
fn a_misspelt_data_name_is_suggested() {
    let src = program("spirals(n: 8)", "").replace("data = d,", "data = D,");
    assert_eq!(help(&src), "did you mean `d`?");
}

#[test]
fn a_misspelt_hyper_parameter_is_suggested() {
    let src = program("spirals(n: 8)", "").replace("sgd(lr: 0.1)", "sgd(lr: 0.1, momentun: 0.9)");
    assert_eq!(help(&src), "did you mean `momentum`?");
}

#[test]
fn a_misspelt_compare_key_is_suggested() {
    let src = program("spirals(n: 8)", "") + "compare { optimizer = [adam(lr: 0.01)] }\n";
    assert_eq!(help(&src), "did you mean `optimizers`?");
}

#[test]
fn names_too_far_keep_the_list() {
    let src = program("spirals(n: 8)", ", batchsize = 4");
    assert!(help(&src).starts_with("the settings are data, val, test, batch"), "{}", help(&src));
    let src = program("spirals(n: 8)", "").replace("sgd(lr: 0.1)", "lbfgs(lr: 0.1)");
    assert!(help(&src).starts_with("available: adadelta"), "{}", help(&src));
}

/// The data declaration of `program(data, "")`, resolved.
fn spec(data: &str) -> Result<crate::sema::DataSpec, crate::diag::Diag> {
    let src = program(data, "");
    let mut sources = SourceMap::default();
    let user = sources.add("test.grad", src.clone());
    let file = crate::syntax::parse(&src, user).expect("parses");
    crate::sema::resolve(file, user, &mut sources).map(|m| m.data().expect("has data").clone())
}

#[test]
fn array_file_sources_and_scale() {
    use crate::sema::DataSource;
    let s = spec("npz(\"d.npz\", y: \"labels\", x: \"images\") |> scale(1/255) |> standardize").unwrap();
    let want = DataSource::Npz { path: "d.npz".into(), features: "images".into(), labels: "labels".into() };
    assert_eq!((s.source, s.scale, s.standardize), (want, Some(1.0 / 255.0), true));
    let s = spec("npy(path: \"x.npy\", labels: \"y.npy\")").unwrap();
    assert_eq!(s.source, DataSource::Npy { features: "x.npy".into(), labels: "y.npy".into() });
    assert_eq!(s.scale, None);
    let s = spec("idx(\"i.gz\", labels: \"l.gz\") |> split(val: 0.1)").unwrap();
    assert_eq!(s.source, DataSource::Idx { images: "i.gz".into(), labels: "l.gz".into() });
    for (data, code, message) in [
        ("npy(\"x.npy\")", "gradc::data::file", "`npy` needs its features and its labels"),
        ("npz(\"d.npz\", x: \"a\")", "gradc::data::file", "`npz` needs its features and its labels"),
        ("npy(\"x.npy\", labels: 3)", "gradc::type::expected", "expected a string, found not a string"),
        ("idx(\"i\", labels: \"l\") |> scale(0)", "gradc::data::scale", "`scale` takes one nonzero number"),
        ("idx(\"i\", labels: \"l\") |> scale", "gradc::data::scale", "`scale` takes one nonzero number"),
        ("idx(\"i\", labels: \"l\") |> scale(2, 3)", "gradc::data::scale", "`scale` takes one nonzero number"),
        (
            "idx(\"i\", labels: \"l\") |> standardize |> scale(2)",
            "gradc::data::scale",
            "`scale` after `standardize` would undo the standardisation",
        ),
    ] {
        let d = spec(data).expect_err(data);
        assert_eq!((d.code, d.message.as_str()), (code, message), "{data}");
    }
}

// --- The compare block's runs ------------------------------------------------------------------

/// Three models over 2-feature, 2-class data: `mlp` (the train block's) and `lin` fit it, `wide`
/// takes 3 features; the loss calls `model(x)`; `compare` is the compare block's inside.
fn models(compare: &str) -> String {
    format!(
        "use std.nn.*\nuse std.loss.cross_entropy\ndata d = spirals(n: 8)\n\
         model mlp(x: f32[B, 2]) -> f32[B, 2] {{ dense(relu(dense(x, 4)), 2) }}\n\
         model lin(x: f32[B, 2]) -> f32[B, 2] {{ dense(x, 2) }}\n\
         model wide(x: f32[B, 3]) -> f32[B, 2] {{ dense(x, 2) }}\n\
         loss(x, y) = cross_entropy(model(x), y)\n\
         train {{ model = mlp, data = d, batch = 4, optimizer = sgd(lr: 0.1), steps = 1, metrics = [accuracy] }}\n\
         compare {{ {compare} }}\n"
    )
}

fn resolve(src: &str) -> Result<crate::sema::Module, crate::diag::Diag> {
    let mut sources = SourceMap::default();
    let user = sources.add("test.grad", src.to_string());
    let file = crate::syntax::parse(src, user).expect("parses");
    crate::sema::resolve(file, user, &mut sources)
}

fn module(compare: &str) -> crate::sema::Module {
    resolve(&models(compare)).unwrap_or_else(|d| panic!("{compare}: {}", d.message))
}

fn labels(compare: &str) -> Vec<String> {
    module(compare).variants()
}

/// The parameters and metrics of run `index` lowered over the 2-feature data at batch 4.
fn lower_run(m: &crate::sema::Module, index: usize) -> Result<crate::sema::Lowered, crate::diag::Diag> {
    use crate::sema::{DataShape, LabelShape};
    m.with_variant(index).lower(Some(DataShape { features: vec![2], labels: LabelShape::Classes(2) }), 4)
}

#[test]
fn models_cross_optimizers_and_each_run_trains_its_model() {
    let m = module("models = [mlp, lin], optimizers = [sgd(lr: 0.1), adam(lr: 0.01)]");
    assert_eq!(
        m.variants(),
        ["mlp · sgd(lr: 0.1)", "mlp · adam(lr: 0.01)", "lin · sgd(lr: 0.1)", "lin · adam(lr: 0.01)"]
    );
    let v = &m.variant_list()[3];
    assert_eq!((v.model_part.as_deref(), v.setting.as_str()), (Some("lin"), "adam(lr: 0.01)"));
    let params = |i| lower_run(&m, i).expect("lowers").params.len();
    assert_eq!((params(0), params(2)), (4, 2), "mlp has two dense layers, lin one");
    let lowered = lower_run(&m, 3).expect("lowers");
    assert!(lowered.forward.output("accuracy").is_some(), "metrics are computed on the run's model");
    assert_eq!(lowered.states.len(), 4, "Adam's m and v for each of lin's two parameters");
}

#[test]
fn labels_name_only_what_varies() {
    // One schedule for both: it is not in the labels.
    assert_eq!(
        labels("optimizers = [sgd(lr: 0.1), adam(lr: 0.01)], schedules = [step(size: 10)]"),
        ["sgd(lr: 0.1)", "adam(lr: 0.01)"]
    );
    assert_eq!(labels("models = [mlp, lin]"), ["mlp", "lin"]);
    assert_eq!(labels("batches = [2, 8]"), ["batch 2", "batch 8"]);
    assert_eq!(labels("optimizers = [adam(lr: 0.01)]"), ["adam(lr: 0.01)"], "a single run is named by its optimizer");
    assert_eq!(
        labels("models = [mlp, lin], schedules = [constant, exponential(gamma: 0.9)], batches = [4, 8]")[..2],
        ["mlp · constant · batch 4", "mlp · constant · batch 8"]
    );
}

#[test]
fn batches_set_each_runs_batch_size() {
    let m = module("batches = [2, 8]");
    assert_eq!(m.with_variant(0).train().batch, Some(2));
    assert_eq!(m.with_variant(1).train().batch, Some(8));
    assert_eq!(m.train().batch, Some(4), "the train block keeps its own");
}

#[test]
fn runs_are_listed_one_by_one_after_the_crossed_ones() {
    let m = module(
        "optimizers = [sgd(lr: 0.1), adam(lr: 0.01)], runs = [run(model: lin, optimizer: adam(lr: 0.01), batch: 2)]",
    );
    assert_eq!(
        m.variants(),
        ["mlp · sgd(lr: 0.1) · batch 4", "mlp · adam(lr: 0.01) · batch 4", "lin · adam(lr: 0.01) · batch 2"]
    );
    assert_eq!(m.with_variant(2).train().batch, Some(2));
    assert_eq!(lower_run(&m, 2).expect("lowers").params.len(), 2, "lin");
    // Alone, runs are not crossed with anything; what a run leaves out is the train block's.
    assert_eq!(
        labels("runs = [run(model: lin), run(optimizer: adam(lr: 0.01))]"),
        ["lin · sgd(lr: 0.1)", "mlp · adam(lr: 0.01)"]
    );
}

/// The code and message of the error resolving a compare block gives.
fn error(compare: &str) -> (&'static str, String, Option<String>) {
    match resolve(&models(compare)) {
        Ok(_) => panic!("{compare} resolved"),
        Err(d) => (d.code, d.message, d.help),
    }
}

#[test]
fn compare_keys_are_checked() {
    for (compare, code, message, help) in [
        ("models = [mlpp]", "gradc::name::unknown", "unknown model `mlpp`", "did you mean `mlp`?"),
        ("models = [relu]", "gradc::name::unknown", "`relu` is not a model", "the models are lin, mlp, wide"),
        ("models = []", "gradc::compare::empty", "`models` lists nothing", "leave `models` out"),
        ("optimizers = []", "gradc::compare::empty", "`optimizers` lists nothing", "list at least one"),
        ("runs = []", "gradc::compare::empty", "`runs` lists nothing", "list at least one"),
        ("", "gradc::compare::empty", "the compare block names no runs", "list them"),
        ("models = mlp", "gradc::type::expected", "expected a list of models", "write a list of models"),
        ("batches = [0]", "gradc::train::value", "", ""),
        ("runs = [mlp]", "gradc::type::expected", "expected a run such as", "run(model: cnn"),
        (
            "runs = [run(modell: lin)]",
            "gradc::call::argument",
            "`run` has no parameter named `modell`",
            "did you mean `model`?",
        ),
        ("modls = [mlp]", "gradc::compare::key", "unknown compare setting `modls`", "did you mean `models`?"),
        ("models = [mlp], models = [lin]", "gradc::train::duplicate", "`models` is set twice", "set each key once"),
        ("runs = [run(model: lin, model: mlp)]", "gradc::call::duplicate", "`model` is given twice", "give each"),
    ] {
        let (c, m, h) = error(compare);
        assert_eq!(c, code, "{compare}: {m}");
        assert!(m.starts_with(message), "{compare}: {m}");
        assert!(h.as_deref().is_some_and(|h| h.contains(help)), "{compare}: {h:?}");
    }
}

#[test]
fn the_same_run_twice_is_an_error_however_it_is_written() {
    for compare in [
        "optimizers = [adam(lr: 0.01), adam(lr: 1e-2)]",
        "optimizers = [adam(0.01), adam(lr: 0.01)]",
        "models = [mlp, lin, mlp]",
        "models = [mlp, lin], runs = [run(model: lin)]",
        "runs = [run(batch: 4), run()]",
    ] {
        let (code, message, _) = error(compare);
        assert_eq!(code, "gradc::compare::same_run", "{compare}: {message}");
    }
    let (_, message, _) = error("optimizers = [sgd(lr: 0.1), adam(lr: 0.01), adam(lr: 1e-2)]");
    assert_eq!(message, "the run `adam(lr: 1e-2)` is listed twice");
}

#[test]
fn a_model_that_does_not_fit_the_data_is_an_error_at_the_run() {
    let src = models("models = [mlp, wide]");
    let m = resolve(&src).expect("resolves: shapes are checked with the data");
    lower_run(&m, 0).expect("mlp fits");
    let d = lower_run(&m, 1).expect_err("wide takes 3 features");
    assert_eq!(d.code, "gradc::model::input");
    assert_eq!(d.message, "model `wide` takes f32[B, 3], but the data's batches are f32[B, 2]");
    let (span, _) = d.label.expect("a label");
    assert_eq!(&src[span.start..span.end], "wide", "at the compare block's entry");
}

#[test]
fn a_lowering_error_in_a_run_says_which_run() {
    // `bad` takes the data, but gives a number where the loss wants logits: the loss reports it.
    let src =
        models("models = [mlp, bad]").replace("model wide", "model bad(x: f32[B, 2]) { sum(dense(x, 2)) }\nmodel wide");
    let m = resolve(&src).unwrap_or_else(|d| panic!("{}", d.message));
    let d = lower_run(&m, 1).expect_err("a scalar is no logits");
    assert!(d.notes.iter().any(|(_, note)| note == "in the compare run `bad`"), "{:?}", d.notes);
}

#[test]
fn a_loss_that_calls_a_model_by_name_cannot_vary_the_model() {
    let src = models("models = [mlp, lin]").replace("cross_entropy(model(x), y)", "cross_entropy(mlp(x), y)");
    let d = resolve(&src).expect_err("lin's runs would train mlp");
    assert_eq!(d.code, "gradc::compare::model_call");
    assert!(d.help.is_some_and(|h| h.contains("`model(...)`")));
    // Through a function of the user's, too; a compare that keeps the model is fine.
    let through = src.replace(
        "loss(x, y) = cross_entropy(mlp(x), y)",
        "fn logits(x) = mlp(x)\nloss(x, y) = cross_entropy(logits(x), y)",
    );
    assert_eq!(resolve(&through).expect_err("still by name").code, "gradc::compare::model_call");
    let same = models("optimizers = [sgd(lr: 0.1), adam(lr: 0.01)]").replace("model(x)", "mlp(x)");
    resolve(&same).unwrap_or_else(|d| panic!("{}", d.message));
}

#[test]
fn model_calls_need_one_model_to_call() {
    let no_key = models("models = [mlp, lin]").replace("model = mlp, ", "");
    let d = resolve(&no_key).expect_err("metrics on which model?");
    assert_eq!(
        (d.code, d.help.as_deref()),
        ("gradc::train::metrics", Some("say which in the train block, e.g. `model = lin`"))
    );
    let no_metrics = no_key.replace(", metrics = [accuracy]", "");
    let m = resolve(&no_metrics).expect("resolves: the call is elaborated later");
    use crate::sema::{DataShape, LabelShape};
    let shape = DataShape { features: vec![2], labels: LabelShape::Classes(2) };
    let d = m.lower(Some(shape.clone()), 4).expect_err("`model(x)` in the train block's run");
    assert_eq!(d.code, "gradc::model::which");
    assert_eq!(d.message, "`model(...)` calls the model the run trains, but there are 3: lin, mlp, wide");
    lower_run(&m, 1).expect("a compare run names its model");
    let none = "use std.loss.mse\ndata d = linear(n: 8, dim: 2)\nloss(x, y) = mse(model(x), y)\n\
                train { data = d, optimizer = sgd(lr: 0.1), steps = 1 }\n";
    let d = resolve(none).expect("resolves").lower(Some(shape), 4).expect_err("no model");
    assert_eq!(d.code, "gradc::model::which");
    assert!(d.help.is_some_and(|h| h.starts_with("declare one")));
}

#[test]
fn a_setting_given_twice_is_an_error() {
    // Before, the second value silently replaced the first.
    let src = program("spirals(n: 8)", ", early_stop = patience(3, n: 5)");
    assert_eq!(help(&src), "give each argument once");
    let src = program("spirals(n: 8) |> split(val: 0.2, val: 0.3)", "");
    assert_eq!(help(&src), "give each argument once");
}

#[test]
fn split_takes_validation_and_test_fractions() {
    for (split, val, test) in [
        ("split()", Some(0.2), None),
        ("split(val: 0.1)", Some(0.1), None),
        ("split(train: 0.75)", Some(0.25), None),
        ("split(train: 0.8, val: 0.2)", Some(0.2), None),
        ("split(test: 0.25)", None, Some(0.25)),
        ("split(val: 0.1, test: 0.2)", Some(0.1), Some(0.2)),
        ("split(train: 0.5, test: 0.25)", Some(0.25), Some(0.25)),
        ("split(val: 0.25, train: 0.5)", Some(0.25), Some(0.25)),
        ("split(val: 0.25, train: 0.5, test: 0.25)", Some(0.25), Some(0.25)),
    ] {
        let s = spec(&format!("spirals(n: 8) |> {split}")).unwrap_or_else(|d| panic!("{split}: {}", d.message));
        assert_eq!((s.validation, s.test), (val, test), "{split}");
    }
    for (split, message) in [
        ("split(test: 1.5)", "a split fraction must lie in (0, 1), not 1.5"),
        ("split(val: 0.5, test: 0.5)", "`split(val: 0.5, test: 0.5)` leaves no rows for training"),
        ("split(val: 0.2, train: 0.5, test: 0.2)", "the fractions of `split` add up to 0.9, not 1"),
    ] {
        let d = spec(&format!("spirals(n: 8) |> {split}")).expect_err(split);
        assert_eq!((d.code, d.message.as_str()), ("gradc::data::split", message), "{split}");
        assert!(d.help.is_some());
    }
}

#[test]
fn csv_takes_several_target_columns() {
    use crate::sema::DataSource;
    let s = spec("csv(\"f.csv\", targets: [\"y2\", \"y1\"])").unwrap();
    assert_eq!(
        s.source,
        DataSource::Csv { path: "f.csv".into(), columns: vec!["y2".into(), "y1".into()], classes: false }
    );
    let s = spec("csv(\"f.csv\", target: \"y\")").unwrap();
    assert_eq!(s.source, DataSource::Csv { path: "f.csv".into(), columns: vec!["y".into()], classes: false });
    for (data, message) in [
        ("csv(\"f.csv\", targets: [])", "`targets:` takes a list of distinct column names"),
        ("csv(\"f.csv\", targets: [\"a\", \"a\"])", "`targets:` takes a list of distinct column names"),
        ("csv(\"f.csv\", targets: \"a\")", "`targets:` takes a list of distinct column names"),
        ("csv(\"f.csv\", label: \"c\", target: \"y\")", "`csv` takes one of `label:`, `target:` and `targets:`"),
    ] {
        let d = spec(data).expect_err(data);
        assert_eq!((d.code, d.message.as_str()), ("gradc::data::csv", message), "{data}");
    }
}

/// The train block of `program` with the data declarations `decls` added and the keys
/// `train` appended.
fn with_held_out(decls: &str, data: &str, train: &str) -> Result<crate::sema::TrainConfig, crate::diag::Diag> {
    let src = program(data, train).replace("model m", &format!("{decls}\nmodel m"));
    let mut sources = SourceMap::default();
    let user = sources.add("test.grad", src.clone());
    let file = crate::syntax::parse(&src, user).expect("parses");
    crate::sema::resolve(file, user, &mut sources).map(|m| m.train().clone())
}

#[test]
fn val_and_test_name_data_declarations_preprocessed_as_the_training_data() {
    let t = with_held_out(
        "data v = csv(\"v.csv\", label: \"y\")\ndata t = csv(\"t.csv\", label: \"y\") |> standardize",
        "csv(\"d.csv\", label: \"y\") |> scale(2) |> standardize",
        ", val = v, test = t",
    )
    .unwrap_or_else(|d| panic!("{}", d.message));
    let (v, t) = (t.val.expect("val"), t.test.expect("test"));
    assert_eq!((v.name.as_str(), v.scale, v.standardize), ("v", Some(2.0), true), "the training data's stages");
    assert_eq!((t.name.as_str(), t.scale, t.standardize), ("t", Some(2.0), true));
    for (decls, data, train, code, message) in [
        (
            "data t = spirals(n: 8)",
            "spirals(n: 8) |> split(test: 0.2)",
            ", test = t",
            "gradc::data::split",
            "`test` names test data, but `d` already splits a test set off",
        ),
        ("", "spirals(n: 8)", ", val = d", "gradc::data::split", "`val = d` names the training data"),
        (
            "data t = spirals(n: 8) |> split(val: 0.5)",
            "spirals(n: 8)",
            ", test = t",
            "gradc::data::split",
            "`t` is test data, used whole, but it is split",
        ),
        (
            "data t = spirals(n: 8) |> standardize",
            "spirals(n: 8)",
            ", test = t",
            "gradc::data::scale",
            "`t` is test data, but it is standardized and `d` is not",
        ),
        (
            "data t = spirals(n: 8) |> scale(3)",
            "spirals(n: 8) |> scale(2)",
            ", test = t",
            "gradc::data::scale",
            "`t` is test data, but it is scaled by 3 and `d` by 2",
        ),
        (
            "",
            "spirals(n: 8) |> split(test: 0.5)",
            ", early_stop = patience(2, on: test_loss)",
            "gradc::train::monitor",
            "`early_stop` watches `test_loss`, but the test set is scored only once, after training",
        ),
        ("", "spirals(n: 8)", ", metrics = [test_accuracy]", "gradc::name::reserved", ""),
    ] {
        let d = with_held_out(decls, data, train).expect_err(message);
        assert_eq!(d.code, code, "{decls} {data} {train}: {}", d.message);
        assert!(d.message.contains(message), "{}", d.message);
        assert!(d.help.is_some(), "{}", d.message);
    }
    // A validation set from `val = v` is one to watch.
    with_held_out("data v = spirals(n: 8)", "spirals(n: 8)", ", val = v, early_stop = patience(2, on: val_loss)")
        .unwrap_or_else(|d| panic!("{}", d.message));
}

#[test]
fn a_string_hyper_parameter_is_one_whose_default_is_a_string() {
    for (schedule, want) in [
        ("cyclic(max_lr: 0.5, mode: 3)", "write a string such as \"triangular\" here"),
        ("cyclic(max_lr: 0.5, mode: exp_range)", "write a string such as \"triangular\" here"),
        ("one_cycle(max_lr: 0.5, total: 10, anneal_strategy: 1)", "write a string such as \"cos\" here"),
        ("cyclic(max_lr: 0.5, gamma: \"x\")", "write a number here"),
    ] {
        assert_eq!(help(&program("spirals(n: 8)", &format!(", schedule = {schedule}"))), want, "{schedule}");
    }
}
