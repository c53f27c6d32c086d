//! The errors of `data` declarations, and of the train block's keys that name them (`val`,
//! `test`), one constructor each.

use super::CALL_ARGUMENT;
use crate::diag::suggest::did_you_mean;
use crate::diag::{Diag, Span};
use crate::syntax::ast::Ident;

/// A split fraction outside (0, 1), or fractions that leave no training rows.
pub const DATA_SPLIT: &str = "gradc::data::split";
/// A data generator argument unnamed or out of range.
pub const DATA_ARGUMENT: &str = "gradc::data::argument";
/// An unknown data source.
pub const DATA_SOURCE: &str = "gradc::data::source";
/// A `csv` source without a path or a column.
pub const DATA_CSV: &str = "gradc::data::csv";
/// An `npy`, `npz` or `idx` source without one of its files or arrays.
pub const DATA_FILE: &str = "gradc::data::file";
/// A `|> scale(...)` factor that is not a nonzero number, or a scale after `standardize`.
pub const DATA_SCALE: &str = "gradc::data::scale";

/// A validation or test fraction outside (0, 1), in the `split` at `span`.
pub fn bad_split(span: Span, frac: f64) -> Diag {
    Diag::new(DATA_SPLIT, format!("a split fraction must lie in (0, 1), not {frac}"))
        .at(span, "bad split")
        .help("e.g. `|> split(val: 0.2)` or `|> split(val: 0.1, test: 0.2)`")
}

/// `split(val: v, train: f, test: t)` at `span`, whose fractions do not add up to 1.
pub fn split_sum(span: Span, v: f64, f: f64, t: f64) -> Diag {
    // Rounded, so 0.2 + 0.5 + 0.2 reads 0.9.
    let sum = ((v + f + t) * 1e9).round() / 1e9;
    Diag::new(DATA_SPLIT, format!("the fractions of `split` add up to {sum}, not 1"))
        .at(span, "bad split")
        .help("give two of `val`, `test` and `train`; the third is the rest")
}

/// `split(val: v, test: t)` at `span`, which leaves no rows for training.
pub fn split_nothing_left(span: Span, v: f64, t: f64) -> Diag {
    Diag::new(DATA_SPLIT, format!("`split(val: {v}, test: {t})` leaves no rows for training"))
        .at(span, "bad split")
        .help("the validation and test fractions must add up to less than 1")
}

/// Train key `key` (`val` or `test`, at `span`) names a second held-out set of that kind: the
/// training data `data` already splits one off.
pub fn held_out_twice(span: Span, key: &str, data: &str) -> Diag {
    let part = if key == "val" { "validation" } else { "test" };
    Diag::new(DATA_SPLIT, format!("`{key}` names {part} data, but `{data}` already splits a {part} set off"))
        .at(span, "a second set")
        .help(format!("remove `{key}:` from the `split` of `{data}`, or this key"))
}

/// Train key `key` (at `span`) names the training data `data` itself.
pub fn held_out_is_training(span: Span, key: &str, data: &str) -> Diag {
    Diag::new(DATA_SPLIT, format!("`{key} = {data}` names the training data"))
        .at(span, "the training data")
        .help(format!("hold rows out with `data {data} = ... |> split(val: 0.1, test: 0.2)`, or declare another file"))
}

/// `name`, used whole as `what` (validation, test or evaluation data, declared at `span`), is
/// split itself.
pub fn held_out_split(span: Span, name: &str, what: &str) -> Diag {
    Diag::new(DATA_SPLIT, format!("`{name}` is {what}, used whole, but it is split"))
        .at(span, "split here")
        .help(format!("remove the `|> split(...)` from `{name}`"))
}

/// The declaration `name` (at `span`), used as `what`, preprocesses its rows otherwise than
/// the training data `train` does: `how` says in what.
pub fn held_out_stages(span: Span, name: &str, what: &str, train: &str, how: &str) -> Diag {
    Diag::new(DATA_SCALE, format!("`{name}` is {what}, but {how}")).at(span, "preprocessed differently").help(format!(
        "the model's inputs all go through `{train}`'s `scale` and `standardize`, with the training rows' \
             statistics; remove these stages from `{name}` or make them those of `{train}`"
    ))
}

/// `gradc eval --data name`, where no `data` declaration is named so; `declared` are those there are.
pub fn no_such_data(name: &str, declared: &[&str]) -> Diag {
    let mut names: Vec<&str> = declared.to_vec();
    names.sort_unstable();
    let list = names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ");
    Diag::new(super::NAME_UNKNOWN, format!("the program declares no data named `{name}`")).help(did_you_mean(
        name,
        names.iter().copied(),
        format!("the program declares {list}"),
    ))
}

/// An unnamed argument, at `span`, to data generator `generator`.
pub fn unnamed_generator_argument(span: Span, generator: &str) -> Diag {
    Diag::new(DATA_ARGUMENT, "data generator arguments are named")
        .at(span, "unnamed")
        .help(format!("write e.g. `{generator}(n: 200)`"))
}

/// Data generator argument `name` given `v`, out of range; `integral` if it counts something.
pub fn bad_generator_value(span: Span, name: &str, v: f64, integral: bool) -> Diag {
    Diag::new(DATA_ARGUMENT, format!("bad value {v} for `{name}`")).at(span, "out of range").help(if integral {
        "use a whole number between 0 and 10,000,000"
    } else {
        "use a non-negative number"
    })
}

/// A data source that is neither a file source (`csv`, `npy`, ...) nor one of `generators`.
pub fn unknown_data_source(name: &Ident, generators: &[&str]) -> Diag {
    let otherwise = format!(
        "use csv(\"file.csv\", label: \"column\"), npy(...), npz(...), idx(...) or one of {}",
        generators.join(", ")
    );
    Diag::new(DATA_SOURCE, format!("unknown data source `{}`", name.name))
        .at(name.span, "not a data source")
        .help(did_you_mean(&name.name, generators.iter().copied().chain(["csv", "npy", "npz", "idx"]), otherwise))
}

/// An argument named `name` (its value at `span`) that the file source `source` (written
/// like `form`, with arguments `names`) does not take.
pub fn file_source_argument(span: Span, source: &str, name: &str, names: &[&str], form: &str) -> Diag {
    Diag::new(CALL_ARGUMENT, format!("`{source}` has no argument `{name}`"))
        .at(span, "unknown argument")
        .help(did_you_mean(name, names.iter().copied(), format!("write `{form}`")))
}

/// The file source `source` at `span` (written like `form`) lacks one of its files or arrays.
pub fn file_source_incomplete(span: Span, source: &str, form: &str) -> Diag {
    Diag::new(DATA_FILE, format!("`{source}` needs its features and its labels"))
        .at(span, "incomplete")
        .help(format!("write `{form}`"))
}

/// A `|> scale(...)` at `span` whose factor is not one nonzero number.
pub fn bad_scale(span: Span) -> Diag {
    Diag::new(DATA_SCALE, "`scale` takes one nonzero number")
        .at(span, "bad scale")
        .help("e.g. `|> scale(1/255)` maps byte pixels to [0, 1]")
}

/// A `|> scale(...)` at `span` after `|> standardize`, which it would undo.
pub fn scale_after_standardize(span: Span) -> Diag {
    Diag::new(DATA_SCALE, "`scale` after `standardize` would undo the standardisation")
        .at(span, "scaled after standardising")
        .help("scale first: `... |> scale(1/255) |> standardize`")
}

const CSV_FORMS: &str = "write `csv(\"file.csv\", label: \"class\")`, `csv(\"file.csv\", target: \"y\")` or \
                         `csv(\"file.csv\", targets: [\"y1\", \"y2\"])`";

/// A `csv` argument named `name` (its value at `span`), which `csv` does not take.
pub fn csv_argument(span: Span, name: &str) -> Diag {
    Diag::new(CALL_ARGUMENT, "`csv` takes a path and `label:`, `target:` or `targets:`")
        .at(span, "unknown argument")
        .help(did_you_mean(name, ["path", "label", "target", "targets"], CSV_FORMS.into()))
}

/// The `csv` source at `span` lacks its path or its column.
pub fn csv_incomplete(span: Span) -> Diag {
    Diag::new(DATA_CSV, "`csv` needs a path and a label or target column").at(span, "incomplete").help(CSV_FORMS)
}

/// A `csv` source at `span` that names its label or target columns twice.
pub fn csv_columns_twice(span: Span) -> Diag {
    Diag::new(DATA_CSV, "`csv` takes one of `label:`, `target:` and `targets:`")
        .at(span, "a second column choice")
        .help(CSV_FORMS)
}

/// `targets:` at `span` that is not a non-empty list of distinct column names.
pub fn csv_targets(span: Span) -> Diag {
    Diag::new(DATA_CSV, "`targets:` takes a list of distinct column names")
        .at(span, "not a list of names")
        .help("e.g. `csv(\"f.csv\", targets: [\"y1\", \"y2\"])`")
}
