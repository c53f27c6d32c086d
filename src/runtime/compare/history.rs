//! One CSV file per compared run: its logged history.

use std::fmt;
use std::io::{self, Write};
use std::path::Path;

use crate::runtime::train::Summary;

/// `step,loss,lr` (the batch's loss), the metrics (`train_loss` for the loss over the training
/// set), then each single-number parameter, one row per logged step.
pub(super) fn write_csv(path: &Path, s: &Summary) -> io::Result<()> {
    let mut out = io::BufWriter::new(crate::output::create(path)?);
    let Some(first) = s.history.first() else {
        return writeln!(out, "step,loss,lr");
    };
    let metrics: Vec<&str> = first.metrics.iter().map(|(n, _)| n.as_str()).collect();
    let scalars: Vec<&str> = first.params.iter().filter(|(_, v)| v.len() == 1).map(|(n, _)| n.as_str()).collect();
    let mut header = vec!["step", "loss", "lr"];
    header.extend(metrics.iter().map(|n| if *n == "loss" { "train_loss" } else { n }));
    header.extend(&scalars);
    writeln!(out, "{}", header.join(","))?;
    // By name, so that a point without a value leaves its cell empty rather than shifting the row.
    // Values print as the f32 the compiled step computed them in: `0.05`, not `0.05000000074505806`.
    for p in &s.history {
        let mut row = vec![p.step.to_string(), (p.loss as f32).to_string(), (p.lr as f32).to_string()];
        row.extend(metrics.iter().map(|m| cell(p.metrics.iter().find(|(n, _)| n == m).map(|(_, v)| *v as f32))));
        row.extend(scalars.iter().map(|s| cell(p.params.iter().find(|(n, _)| n == s).map(|(_, v)| v[0]))));
        writeln!(out, "{}", row.join(","))?;
    }
    out.flush()
}

fn cell(value: Option<impl fmt::Display>) -> String {
    value.map_or(String::new(), |v| v.to_string())
}
