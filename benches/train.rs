//! Training throughput and compile time of representative programs: `cargo bench`.
//!
//! Each workload is compiled and trained in this process exactly as `gradc run` would, with
//! progress output discarded. Figures are wall-clock on this machine; compare runs of the same
//! build on the same machine only.

use std::path::Path;

use gradc::driver;
use gradc::runtime::train::{train, RunConfig};

/// (description, program, steps to time)
const WORKLOADS: &[(&str, &str, usize)] = &[
    ("spiral MLP 2-64-64-2, batch 32, Adam", "examples/spiral_mlp.grad", 5000),
    ("MLP 784-128-10, batch 64, Adam", "benches/mlp_784_128_10.grad", 1000),
];

fn main() {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).expect("cd to the repository");
    println!("{:<40} {:>12} {:>14} {:>12}", "workload", "steps/s", "µs/step", "compile ms");
    for &(name, file, steps) in WORKLOADS {
        let mut front =
            driver::parse(Path::new(file)).unwrap_or_else(|(d, s)| panic!("{}", d.with_sources(&s).render_plain()));
        let compiled =
            driver::compile(&mut front).unwrap_or_else(|d| panic!("{}", d.with_sources(&front.sources).render_plain()));
        let cfg = RunConfig { steps: Some(steps), threads: 2, ..RunConfig::default() };
        let summary = train(&compiled, &cfg, &mut std::io::sink()).unwrap_or_else(|d| panic!("{}", d.render_plain()));
        println!(
            "{name:<40} {:>12.0} {:>14.1} {:>12.1}",
            summary.steps_per_sec(),
            1e6 / summary.steps_per_sec(),
            summary.compile.as_secs_f64() * 1e3,
        );
    }
}
