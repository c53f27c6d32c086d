//! Training throughput and compile time of representative programs: `cargo bench`.
//!
//! Each workload is compiled and trained in this process exactly as `gradc run` would, with
//! progress output discarded. When PyTorch is importable (by `$GRADC_PYTHON`, default
//! `python3`), the same workloads run in PyTorch in the same session (benches/reference.py) and
//! gradc's speed is reported as a ratio to it: figures from different runs or machines are not
//! comparable, ratios from one run are.

use std::path::Path;
use std::process::Command;

use gradc::driver;
use gradc::driver::train;
use gradc::runtime::log::ProgressTo;
use gradc::runtime::train::RunConfig;

/// (description, program, steps to time, key in the reference's output)
const WORKLOADS: &[(&str, &str, usize, &str)] = &[
    ("spiral MLP 2-64-64-2, batch 32, Adam", "examples/spiral_mlp.grad", 5000, "spiral"),
    ("MLP 784-128-10, batch 64, Adam", "benches/mlp_784_128_10.grad", 1000, "mlp784"),
];

/// Microseconds per step of each workload in PyTorch, if it is installed.
fn reference(threads: usize) -> Option<Vec<(String, f64)>> {
    let python = std::env::var("GRADC_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(python).arg("benches/reference.py").arg(threads.to_string()).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    text.lines()
        .map(|l| {
            let (name, us) = l.split_once('\t')?;
            Some((name.to_string(), us.trim().parse().ok()?))
        })
        .collect()
}

fn main() {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).expect("cd to the repository");
    let threads = 2;
    let torch = reference(threads);
    if torch.is_none() {
        println!("(PyTorch not importable: no reference; set GRADC_PYTHON to a python with torch)");
    }
    println!(
        "{:<40} {:>10} {:>10} {:>11} {:>12} {:>10}",
        "workload", "steps/s", "µs/step", "compile ms", "torch µs", "speed-up"
    );
    for &(name, file, steps, key) in WORKLOADS {
        let mut front =
            driver::parse(Path::new(file)).unwrap_or_else(|(d, s)| panic!("{}", d.with_sources(&s).render_plain()));
        let compiled =
            driver::compile(&mut front).unwrap_or_else(|d| panic!("{}", d.with_sources(&front.sources).render_plain()));
        let cfg = RunConfig { steps: Some(steps), threads, ..RunConfig::default() };
        let summary = train(&compiled, &cfg, ProgressTo::Hidden).unwrap_or_else(|d| panic!("{}", d.render_plain()));
        let us = 1e6 / summary.steps_per_sec();
        let theirs = torch.as_ref().and_then(|t| t.iter().find(|(k, _)| k == key)).map(|t| t.1);
        println!(
            "{name:<40} {:>10.0} {:>10.1} {:>11.1} {:>12} {:>10}",
            summary.steps_per_sec(),
            us,
            summary.compile.as_secs_f64() * 1e3,
            theirs.map_or("-".into(), |t| format!("{t:.1}")),
            theirs.map_or("-".into(), |t| format!("{:.2}×", t / us)),
        );
    }
}
