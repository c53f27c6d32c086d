//! The "did you mean" help of train, compare and data errors.

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
