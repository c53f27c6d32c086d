//! `data` declarations: a generator or a CSV file, optionally `|> standardize`d and `|> split`.

use std::collections::BTreeMap;

use super::value::{const_eval, number, settings_args, Const};
use crate::diag::Diag;
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

/// Resolves a `data` declaration: a generator or CSV file, optionally `|> standardize`d.
pub(super) fn data_spec(decl: &ast::DataDecl) -> Result<DataSpec, Diag> {
    let mut e = &decl.value;
    let mut standardize = false;
    let mut validation = None;
    loop {
        let ExprKind::Call { func, args } = &e.kind else {
            return Err(errors::expected(
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
                return Err(errors::bad_split(e.span, frac));
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
        return Ok(DataSpec { name: decl.name.name.clone(), source, standardize, validation, span: decl.value.span });
    }
}

fn csv_source(e: &Expr, args: &[ast::Arg]) -> Result<DataSource, Diag> {
    let mut path = None;
    let mut column = None;
    for arg in args {
        let text = match const_eval(&arg.value)? {
            Const::Str(s) => s,
            _ => return Err(errors::expected("a string", arg.value.span, "not a string")),
        };
        match arg.name.as_ref().map(|n| n.name.as_str()) {
            None | Some("path") => path = Some(text),
            Some("label") => column = Some((text, true)),
            Some("target") => column = Some((text, false)),
            Some(other) => return Err(errors::csv_argument(arg.value.span, other)),
        }
    }
    match (path, column) {
        (Some(path), Some((column, classes))) => Ok(DataSource::Csv { path, column, classes }),
        _ => Err(errors::csv_incomplete(e.span)),
    }
}
