//! Turns a checked `data` declaration into a dataset: a generator call or a CSV file.

use std::path::Path;

use super::csv::{load_csv, LabelSpec};
use super::data::{self, Dataset};
use crate::diag::Diag;
use crate::sema::{DataSource, DataSpec};

/// Loads or generates the dataset a `data` declaration describes; CSV paths are relative to `dir`.
pub fn load(spec: &DataSpec, dir: &Path) -> Result<Dataset, Diag> {
    let mut ds = match &spec.source {
        DataSource::Csv { path, column, classes } => {
            let label =
                if *classes { LabelSpec::Class(column.clone()) } else { LabelSpec::Targets(vec![column.clone()]) };
            load_csv(&dir.join(path), label, spec.span)?
        }
        DataSource::Generator { name, args } => {
            // sema fills in every argument's default, so each lookup succeeds.
            let arg = |k: &str| args[k];
            let count = |k: &str| args[k] as usize;
            let seed = args["seed"] as u64;
            match name.as_str() {
                "spirals" => data::spirals(
                    &data::Spirals {
                        n: count("n"),
                        classes: count("classes"),
                        noise: arg("noise"),
                        turns: arg("turns"),
                    },
                    seed,
                    spec.span,
                )?,
                "blobs" => data::blobs(
                    &data::Blobs { n: count("n"), classes: count("classes"), dim: count("dim"), std: arg("std") },
                    seed,
                    spec.span,
                )?,
                "xor" => data::xor(&data::Xor { n: count("n"), noise: arg("noise") }, seed, spec.span)?,
                "linear" => data::linear(
                    &data::Linear { n: count("n"), dim: count("dim"), noise: arg("noise"), weights: None, bias: None },
                    seed,
                    spec.span,
                )?,
                "random" => data::random(
                    &data::Random { n: count("n"), dim: count("dim"), classes: count("classes") },
                    seed,
                    spec.span,
                )?,
                "sine" => data::sine(&data::Sine { n: count("n"), noise: arg("noise") }, seed, spec.span)?,
                other => unreachable!("sema accepts only known generators, not `{other}`"),
            }
        }
    };
    if spec.standardize {
        data::standardize(&mut ds);
    }
    Ok(ds)
}
