//! `run --metrics FILE.csv`: one row per logged step, for spreadsheets and plotting scripts.

use std::fs::File;
use std::io;
use std::path::Path;

use crate::output;

/// Writes `step,epoch,loss,lr,<keys...>` then a row per logged step; a value the step did not
/// evaluate (or that is not finite) is an empty cell. Each row is flushed as it is written.
#[derive(Debug)]
pub struct MetricsCsv {
    out: csv::Writer<File>,
    /// Cells of a row, reused.
    cells: Vec<String>,
}

impl MetricsCsv {
    /// Creates (or replaces) `path`, which must be new or a regular file, and writes the header.
    pub fn create(path: &Path, keys: &[String]) -> io::Result<MetricsCsv> {
        let mut out = csv::Writer::from_writer(output::create(path)?);
        let header = ["step", "epoch", "loss", "lr"].into_iter().chain(keys.iter().map(String::as_str));
        out.write_record(header)?;
        out.flush()?;
        Ok(MetricsCsv { out, cells: Vec::new() })
    }

    /// Writes one row; `values` are in the order of the header's keys.
    pub fn row(&mut self, step: u64, epoch: u64, loss: f32, lr: f32, values: &[f32]) -> io::Result<()> {
        self.cells.clear();
        self.cells.extend([step.to_string(), epoch.to_string()]);
        self.cells.extend([loss, lr].iter().chain(values).map(|v| {
            if v.is_finite() {
                v.to_string()
            } else {
                String::new()
            }
        }));
        self.out.write_record(&self.cells)?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_have_the_header_columns_and_blanks_for_missing_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.csv");
        let mut csv = MetricsCsv::create(&path, &["accuracy".into(), "val_loss".into()]).unwrap();
        csv.row(10, 1, 0.5, 0.01, &[0.75, f32::NAN]).unwrap();
        csv.row(20, 2, 0.25, 1e-7, &[1.0, 0.125]).unwrap();
        drop(csv);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "step,epoch,loss,lr,accuracy,val_loss\n10,1,0.5,0.01,0.75,\n20,2,0.25,0.0000001,1,0.125\n"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &link).unwrap();
        let e = MetricsCsv::create(&link, &[]).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");
    }
}
