//! `data` declarations: a generator or a CSV, NPY, NPZ or IDX file, optionally `|> scale`d,
//! `|> standardize`d and `|> split`.

use std::collections::BTreeMap;
use std::mem::take;

use super::value::{const_eval, number, settings_args, Const};
use crate::diag::{Diag, Span};
use crate::sema::{errors, DataSource, DataSpec};
use crate::syntax::ast::{self, Expr, ExprKind};

/// Built-in data sources: name and (argument, default) pairs.
const GENERATORS: &[(&str, &[(&str, f64)])] = &[
    ("spirals", &[("n", 200.0), ("classes", 2.0), ("noise", 0.1), ("turns", 1.0), ("seed", 0.0)]),
    ("blobs", &[("n", 300.0), ("classes", 3.0), ("dim", 2.0), ("std", 1.0), ("seed", 0.0)]),
    ("xor", &[("n", 200.0), ("noise", 0.1), ("seed", 0.0)]),
    ("linear", &[("n", 100.0), ("dim", 3.0), ("noise", 0.01), ("seed", 0.0)]),
    ("sine", &[("n", 200.0), ("noise", 0.05), ("seed", 0.0)]),
    ("random", &[("n", 1000.0), ("dim", 10.0), ("classes", 2.0), ("seed", 0.0)]),
];

/// An array file source.
struct FileSource {
    /// Its name in a `data` declaration.
    name: &'static str,
    /// Its arguments, all strings and all required; a positional argument is the first.
    args: &'static [&'static str],
    /// How to write it, for help lines.
    form: &'static str,
    /// The source of the arguments' values, one per name in `args`.
    build: fn(&mut [String]) -> DataSource,
}

/// The array file sources. `build` is called with one value per argument, so its indices hold.
const FILE_SOURCES: &[FileSource] = &[
    FileSource {
        name: "npy",
        args: &["path", "labels"],
        form: "npy(\"x.npy\", labels: \"y.npy\")",
        build: |v| DataSource::Npy { features: take(&mut v[0]), labels: take(&mut v[1]) },
    },
    FileSource {
        name: "npz",
        args: &["path", "x", "y"],
        form: "npz(\"d.npz\", x: \"images\", y: \"labels\")",
        build: |v| DataSource::Npz { path: take(&mut v[0]), features: take(&mut v[1]), labels: take(&mut v[2]) },
    },
    FileSource {
        name: "idx",
        args: &["path", "labels"],
        form: "idx(\"train-images-idx3-ubyte.gz\", labels: \"train-labels-idx1-ubyte.gz\")",
        build: |v| DataSource::Idx { images: take(&mut v[0]), labels: take(&mut v[1]) },
    },
];

/// Resolves a `data` declaration: a generator or file, optionally `|> scale`d and `|> standardize`d.
pub(in crate::sema) fn data_spec(decl: &ast::DataDecl) -> Result<DataSpec, Diag> {
    let mut e = &decl.value;
    let mut standardize = false;
    let mut scale = None;
    let (mut validation, mut test) = (None, None);
    loop {
        let ExprKind::Call { func, args } = &e.kind else {
            return Err(errors::expected(
                "a data source such as `spirals(n: 200)` or `csv(\"f.csv\", label: \"y\")`",
                e.span,
                "not a call",
            ));
        };
        if func.name == "standardize" && scale.is_some() {
            return Err(errors::scale_after_standardize(e.span));
        }
        if func.name == "standardize" && args.len() == 1 && args[0].name.is_none() {
            standardize = true;
            e = &args[0].value;
            continue;
        }
        // Pipeline stages are peeled from the outside in, so a scale seen after `standardize`
        // was set is applied before it, as written.
        if func.name == "scale" && !args.is_empty() && args[0].name.is_none() {
            let factor = match &args[1..] {
                [a] if a.name.is_none() => number(&a.value)?,
                _ => return Err(errors::bad_scale(e.span)),
            };
            if factor == 0.0 {
                return Err(errors::bad_scale(e.span));
            }
            // Two scales in a row multiply.
            scale = Some(factor * scale.unwrap_or(1.0));
            e = &args[0].value;
            continue;
        }
        if func.name == "split" && !args.is_empty() && args[0].name.is_none() {
            (validation, test) = split_fractions(func, &args[1..], e.span)?;
            e = &args[0].value;
            continue;
        }
        let source = if func.name == "csv" {
            csv_source(e, args)?
        } else if let Some(source) = FILE_SOURCES.iter().find(|f| f.name == func.name) {
            file_source(e, args, source)?
        } else if let Some((name, formals)) = GENERATORS.iter().find(|g| g.0 == func.name) {
            let mut bound: BTreeMap<String, f64> = formals.iter().map(|(n, v)| (n.to_string(), *v)).collect();
            for arg in args {
                let Some(n) = &arg.name else {
                    return Err(errors::unnamed_generator_argument(arg.value.span, name));
                };
                if !bound.contains_key(&n.name) {
                    let names: Vec<&str> = formals.iter().map(|f| f.0).collect();
                    return Err(errors::unknown_setting_argument(name, n, &names));
                }
                let v = number(&arg.value)?;
                let integral = n.name != "noise" && n.name != "std" && n.name != "turns";
                if v < 0.0 || (integral && v.fract() != 0.0) || v > 1e7 {
                    return Err(errors::bad_generator_value(arg.value.span, &n.name, v, integral));
                }
                bound.insert(n.name.clone(), v);
            }
            DataSource::Generator { name: name.to_string(), args: bound }
        } else {
            let names: Vec<&str> = GENERATORS.iter().map(|g| g.0).collect();
            return Err(errors::unknown_data_source(func, &names));
        };
        let name = decl.name.name.clone();
        return Ok(DataSpec { name, source, scale, standardize, validation, test, span: decl.value.span });
    }
}

/// The declaration `decl` as `what` (validation, test or evaluation data) for the model trained
/// on `train`: used whole, and preprocessed as the training data is. Its own stages may only
/// repeat the training data's: they are the model's, with the training rows' statistics.
pub(in crate::sema) fn held_out_spec(decl: &ast::DataDecl, what: &str, train: &DataSpec) -> Result<DataSpec, Diag> {
    let mut spec = data_spec(decl)?;
    if spec.validation.is_some() || spec.test.is_some() {
        return Err(errors::held_out_split(spec.span, &spec.name, what));
    }
    let how = match (spec.scale, train.scale) {
        (Some(f), Some(g)) if f != g => Some(format!("it is scaled by {f} and `{}` by {g}", train.name)),
        (Some(f), None) => Some(format!("it is scaled by {f} and `{}` is not", train.name)),
        _ if spec.standardize && !train.standardize => Some(format!("it is standardized and `{}` is not", train.name)),
        _ => None,
    };
    if let Some(how) = how {
        return Err(errors::held_out_stages(spec.span, &spec.name, what, &train.name, &how));
    }
    (spec.scale, spec.standardize) = (train.scale, train.standardize);
    Ok(spec)
}

/// The validation and test fractions of `split(val: v, test: t, train: f)`: any two of the
/// three fix the third; `train` alone holds out the rest for validation; nothing at all
/// holds out a fifth for validation.
fn split_fractions(func: &ast::Ident, args: &[ast::Arg], span: Span) -> Result<(Option<f64>, Option<f64>), Diag> {
    let a = settings_args(func, args, &["val", "train", "test"])?;
    let [val, train, test] = [a[0], a[1], a[2]].map(|e| e.map(number).transpose());
    let (val, train, test) = (val?, train?, test?);
    let (val, test) = match (val, train, test) {
        (None, None, None) => (Some(0.2), None),
        (v, None, t) => (v, t),
        (None, Some(f), t) => (Some(1.0 - f - t.unwrap_or(0.0)), t),
        // `split(val: 0.2, train: 0.8)` leaves nothing for a test set.
        (Some(v), Some(f), None) if (v + f - 1.0).abs() < 1e-9 => (Some(v), None),
        (Some(v), Some(f), None) => (Some(v), Some(1.0 - f - v)),
        (Some(v), Some(f), Some(t)) if (v + f + t - 1.0).abs() < 1e-9 => (Some(v), Some(t)),
        (Some(v), Some(f), Some(t)) => return Err(errors::split_sum(span, v, f, t)),
    };
    for frac in val.into_iter().chain(test) {
        if !(frac > 0.0 && frac < 1.0) {
            return Err(errors::bad_split(span, frac));
        }
    }
    if val.unwrap_or(0.0) + test.unwrap_or(0.0) >= 1.0 {
        return Err(errors::split_nothing_left(span, val.unwrap_or(0.0), test.unwrap_or(0.0)));
    }
    Ok((val, test))
}

/// A `csv` source: a path and one of `label: "class"`, `target: "y"`, `targets: ["y1", "y2"]`.
fn csv_source(e: &Expr, args: &[ast::Arg]) -> Result<DataSource, Diag> {
    let string = |v: &Expr| match const_eval(v)? {
        Const::Str(s) => Ok(s),
        _ => Err(errors::expected("a string", v.span, "not a string")),
    };
    let mut path = None;
    let mut columns: Option<(Vec<String>, bool)> = None;
    for arg in args {
        let name = arg.name.as_ref().map(|n| n.name.as_str());
        let chosen = match name {
            None | Some("path") => {
                path = Some(string(&arg.value)?);
                continue;
            }
            Some("label") => (vec![string(&arg.value)?], true),
            Some("target") => (vec![string(&arg.value)?], false),
            Some("targets") => {
                let Const::List(items) = const_eval(&arg.value)? else {
                    return Err(errors::csv_targets(arg.value.span));
                };
                let names = items.iter().map(string).collect::<Result<Vec<_>, _>>()?;
                let distinct = names.iter().enumerate().all(|(i, n)| !names[..i].contains(n));
                if names.is_empty() || !distinct {
                    return Err(errors::csv_targets(arg.value.span));
                }
                (names, false)
            }
            Some(other) => return Err(errors::csv_argument(arg.value.span, other)),
        };
        if columns.replace(chosen).is_some() {
            return Err(errors::csv_columns_twice(arg.value.span));
        }
    }
    match (path, columns) {
        (Some(path), Some((columns, classes))) => Ok(DataSource::Csv { path, columns, classes }),
        _ => Err(errors::csv_incomplete(e.span)),
    }
}

/// An `npy`, `npz` or `idx` source: every argument a string, the first positional one the path.
fn file_source(e: &Expr, args: &[ast::Arg], source: &FileSource) -> Result<DataSource, Diag> {
    let FileSource { name: callee, args: names, form, build } = source;
    let mut values: Vec<Option<String>> = vec![None; names.len()];
    for arg in args {
        let text = match const_eval(&arg.value)? {
            Const::Str(s) => s,
            _ => return Err(errors::expected("a string", arg.value.span, "not a string")),
        };
        let name = arg.name.as_ref().map_or("path", |n| n.name.as_str());
        let Some(slot) = names.iter().position(|&n| n == name) else {
            return Err(errors::file_source_argument(arg.value.span, callee, name, names, form));
        };
        values[slot] = Some(text);
    }
    match values.into_iter().collect::<Option<Vec<String>>>() {
        Some(mut values) => Ok(build(&mut values)),
        None => Err(errors::file_source_incomplete(e.span, callee, form)),
    }
}
