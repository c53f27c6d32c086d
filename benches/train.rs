//! Training throughput and compile time of representative programs: `cargo bench`.
//!
//! Each workload is compiled and trained in this process exactly as `gradc run` would, with
//! progress output discarded, at one thread pinned to one CPU and at two threads pinned to two
//! (the first CPUs this process may use). When PyTorch is importable (by `$GRADC_PYTHON`,
//! default `python3`), the same workloads run in PyTorch eager in the same session
//! (benches/reference.py), pinned to the same CPUs with as many intra-op threads, and gradc's
//! speed is reported as a ratio to it. The two alternate over three rounds and each figure is
//! the median: figures from different runs or machines are not comparable, ratios from one run
//! are.

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
    ("cnn-small [64,1,28,28], Adam", "benches/cnn_small.grad", 500, "cnn_small"),
    // No peer: its figure that matters is the compile time.
    ("deep chain of 2^12 tanh (compile time)", "benches/deep_chain.grad", 2, "-"),
];

const ROUNDS: usize = 3;

/// The CPUs this process may run on, in order.
fn allowed_cpus() -> Vec<usize> {
    // SAFETY: `set` is a valid, zeroed cpu_set_t, and its size is passed.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return vec![0];
        }
        (0..libc::CPU_SETSIZE as usize).filter(|&c| libc::CPU_ISSET(c, &set)).collect()
    }
}

/// Pins the calling thread (and the threads it starts from now on) to `cpus`.
fn pin(cpus: &[usize]) {
    // SAFETY: `set` is a valid cpu_set_t, and its size is passed.
    let ok = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    };
    assert!(ok, "pinning to CPUs {cpus:?}");
}

/// Microseconds per step of each workload in PyTorch on `cpus` with `threads` threads, if it
/// is installed.
fn reference(threads: usize, cpus: &[usize]) -> Option<Vec<(String, f64)>> {
    let python = std::env::var("GRADC_PYTHON").unwrap_or_else(|_| "python3".into());
    let list = cpus.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(",");
    let out = Command::new(python).arg("benches/reference.py").arg(threads.to_string()).arg(list).output().ok()?;
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

/// gradc's (steps per second, compile milliseconds) for each workload at `threads`.
fn gradc(threads: usize) -> Vec<(f64, f64)> {
    WORKLOADS
        .iter()
        .map(|&(_, file, steps, _)| {
            let mut front =
                driver::parse(Path::new(file)).unwrap_or_else(|(d, s)| panic!("{}", d.with_sources(&s).render_plain()));
            let compiled = driver::compile(&mut front)
                .unwrap_or_else(|d| panic!("{}", d.with_sources(&front.sources).render_plain()));
            let cfg = RunConfig { steps: Some(steps), threads, ..RunConfig::default() };
            let summary = train(&compiled, &cfg, ProgressTo::Hidden).unwrap_or_else(|d| panic!("{}", d.render_plain()));
            (summary.steps_per_sec(), summary.compile.as_secs_f64() * 1e3)
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).expect("cd to the repository");
    let cpus = allowed_cpus();
    let settings: Vec<usize> = [1, 2].into_iter().filter(|&t| t <= cpus.len()).collect();
    // ours[setting][round][workload], theirs[setting][round] (None: no PyTorch).
    let mut ours = vec![Vec::new(); settings.len()];
    let mut theirs = vec![Vec::new(); settings.len()];
    for round in 0..ROUNDS {
        eprintln!("round {}/{ROUNDS}", round + 1);
        for (s, &threads) in settings.iter().enumerate() {
            let mine = &cpus[..threads];
            theirs[s].push(reference(threads, mine));
            pin(mine);
            ours[s].push(gradc(threads));
        }
    }
    let found = theirs.iter().flatten().any(Option::is_some);
    if !found {
        println!("(PyTorch not importable: no reference; set GRADC_PYTHON to a python with torch)");
    }
    println!(
        "{:<38} {:>7} {:>10} {:>11} {:>12} {:>9}",
        "workload", "threads", "steps/s", "compile ms", "torch st/s", "speed-up"
    );
    for (w, &(name, _, _, key)) in WORKLOADS.iter().enumerate() {
        for (s, &threads) in settings.iter().enumerate() {
            let rate = median(ours[s].iter().map(|r| r[w].0).collect());
            let compile = median(ours[s].iter().map(|r| r[w].1).collect());
            let torch: Vec<f64> = theirs[s]
                .iter()
                .flatten()
                .filter_map(|t| t.iter().find(|(k, _)| k == key))
                .map(|t| 1e6 / t.1)
                .collect();
            let torch = (!torch.is_empty()).then(|| median(torch));
            println!(
                "{name:<38} {threads:>7} {rate:>10.0} {compile:>11.1} {:>12} {:>9}",
                torch.map_or("-".into(), |t| format!("{t:.0}")),
                torch.map_or("-".into(), |t| format!("{:.2}×", rate / t)),
            );
        }
    }
}
