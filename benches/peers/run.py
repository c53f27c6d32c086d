"""Measures gradc and its peers (PyTorch eager and torch.compile, JAX jit per step and jit of a
fori_loop) side by side in one run, and writes the ratio table to docs/PERFORMANCE.md.

Usage (from the repository, after `cargo build --release`):

    benches/peers/install.sh                 # once: pinned torch, jax, numpy in target/peers-venv
    GRADC_PYTHON=target/peers-venv/bin/python target/peers-venv/bin/python benches/peers/run.py
    python3 benches/peers/run.py --quick     # a smoke run: tiny measurements, nothing written

The runner needs numpy. Each peer runs under $GRADC_TORCH_PYTHON or $GRADC_JAX_PYTHON if set,
else $GRADC_PYTHON, else this interpreter; a framework that does not import there is skipped
(the runner says which it found). The workloads (workloads.py, the .grad files here) start in
every framework from the same batch and initial parameters, written into --workdir.

Every measurement is pinned with taskset: one thread on CPU 0 ("1T") and two threads on CPUs 0
and 1 ("2T"). gradc is the release binary (`gradc run FILE --steps N --threads T -q --json`,
its `steps_per_sec`: training only, compilation excluded); each peer process times, after a
first block of steps (the compared loss, and compilation) and a warm-up block, `--repeats`
measurements of about `--target` seconds. Within each round the implementations alternate,
their order reversed every other round, and a figure is the median over all rounds and repeats.
Before the table is written, every implementation's first-step loss must match gradc's to
1e-4 relative; if one does not, the runner says so and stops without writing.

Each round also times, FIRST_STEP_RUNS times per implementation, how long a fresh process takes
to its first step of mlp-small: from its start (the interpreter's, the framework's import, the
data and parameters read, compilation) until that step's loss exists. The variants timed are
PyTorch eager and JAX's jit of a step (not its fori_loop, whose first call is a block, nor
torch.compile: see FIRST_STEP_VARIANTS). gradc's
figure is its whole process, `gradc run FILE --steps 1`, to its exit, so it is an upper bound.

The machines are shared and noisy: compare the ratios of one run, never absolute figures from
different runs.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import workloads

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# framework -> (its peer script, the variable naming its interpreter, the variants it prints)
PEERS = {
    "torch": ("peer_torch.py", "GRADC_TORCH_PYTHON", ("torch-eager", "torch-compile")),
    "jax": ("peer_jax.py", "GRADC_JAX_PYTHON", ("jax-jit", "jax-fori")),
}
CPUS = {1: "0", 2: "0,1"}
LOSS_TOLERANCE = 1e-4
BEGIN = "<!-- begin: peers table, written by benches/peers/run.py -->"
END = "<!-- end: peers table -->"
# gradc's quadratic runs are a millisecond or two each: this many per round and thread count.
QUADRATIC_RUNS = 25
# The time to first step: of this workload, by these variants of each framework, this many
# fresh processes per round and thread count.
FIRST_STEP_WORKLOAD = "mlp-small"
# torch.compile's first step takes tens of seconds (53 s once, while a build ran alongside),
# several minutes of a run for a figure that is never the best peer's: it is not timed.
FIRST_STEP_VARIANTS = {"torch": ("torch-eager",), "jax": ("jax-jit",)}
FIRST_STEP_RUNS = 2


def python_for(framework):
    """The interpreter a framework's peer runs under."""
    return os.environ.get(PEERS[framework][1]) or os.environ.get("GRADC_PYTHON") or sys.executable


def find_peers():
    """{framework: version} of the frameworks that import (with numpy) in their interpreter."""
    found = {}
    for framework in PEERS:
        probe = [python_for(framework), "-c", f"import numpy, {framework}; print({framework}.__version__)"]
        out = subprocess.run(probe, capture_output=True, text=True)
        if out.returncode == 0:
            found[framework] = out.stdout.strip()
            print(f"peer {framework} {found[framework]}: found", flush=True)
        else:
            print(f"peer {framework}: not found (no `import {framework}` in {probe[0]}), skipped", flush=True)
    return found


def gradc_run(args, name, threads, steps, log=None):
    """gradc's JSON summary of `steps` steps of the workload, pinned to `threads` CPUs."""
    w = workloads.WORKLOADS[name]
    d = os.path.join(args.workdir, name)
    cmd = ["taskset", "-c", CPUS[threads], args.gradc, "run", os.path.join(d, w.get("grad", workloads.QUADRATIC_GRAD))]
    cmd += ["--steps", str(steps), "--threads", str(threads), "-q", "--json"]
    if "layers" in w:
        cmd += ["--init", os.path.join(d, "init.safetensors")]
    # Logging only at the end lets gradc run its steps in bursts, as the peers do.
    cmd += ["--log", log, "--log-every", "1"] if log else ["--log-every", str(steps)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"gradc failed on {name}: {' '.join(cmd)}\n{out.stderr}")
    return json.loads(out.stdout)


def gradc_first_loss(args, name):
    """The loss of gradc's first step of the workload, from its per-step log."""
    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "log.jsonl")
        gradc_run(args, name, 1, 1, log)
        with open(log) as f:
            return json.loads(f.readline())["loss"]


def gradc_measure(args, name, threads, steps_for):
    """gradc's steps per second of each measurement of the workload at `threads` threads.

    `steps_for` remembers, per workload, the step count that takes about --target seconds (set
    from a first short run); the quadratic is always one run of its block, QUADRATIC_RUNS times.
    """
    w = workloads.WORKLOADS[name]
    if "layers" not in w:
        runs = 3 if args.quick else QUADRATIC_RUNS
        return [gradc_run(args, name, threads, w["block"])["steps_per_sec"] for _ in range(runs)]
    if name not in steps_for:
        rate = gradc_run(args, name, threads, 10 * w["block"])["steps_per_sec"]
        steps_for[name] = max(w["block"], round(args.target * rate))
    return [gradc_run(args, name, threads, steps_for[name])["steps_per_sec"] for _ in range(args.repeats)]


def peer_measure(args, framework, threads):
    """The lines a peer process prints for every workload, pinned to `threads` CPUs."""
    script = os.path.join(HERE, PEERS[framework][0])
    cmd = ["taskset", "-c", CPUS[threads], python_for(framework), script, args.workdir, str(threads)]
    cmd += [str(args.target), str(args.repeats), ",".join(args.workloads)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"peer {framework} failed: {' '.join(cmd)}\n{out.stderr[-3000:]}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def first_step_ms(args, framework, variant, threads):
    """Milliseconds from starting a fresh process of `variant` (of `framework`, or gradc) until
    its first step of FIRST_STEP_WORKLOAD is done, or None if it failed (said on stdout)."""
    name = FIRST_STEP_WORKLOAD
    start = time.time()
    if framework == "gradc":
        gradc_run(args, name, threads, 1)
        return 1000 * (time.time() - start)
    script = os.path.join(HERE, PEERS[framework][0])
    cmd = ["taskset", "-c", CPUS[threads], python_for(framework), script, args.workdir, str(threads), "first", variant, name]
    out = subprocess.run(cmd, capture_output=True, text=True)
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    if out.returncode != 0 or not lines:
        print(f"  {variant} failed its first step: {' '.join(cmd)}\n{out.stderr[-1000:]}", flush=True)
        return None
    return 1000 * (lines[-1]["done_at"] - start)


def first_step_table(times):
    """The Markdown table of times to first step (ms, medians) and the best peer's over gradc's."""
    impls = [i for i in ["gradc"] + [v for vs in FIRST_STEP_VARIANTS.values() for v in vs] if any(k[0] == i for k in times)]
    head = ["time to first step, mlp-small (ms)"] + impls + ["best peer / gradc"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for threads in (1, 2):
        med = {i: statistics.median(times[(i, threads)]) for i in impls if times.get((i, threads))}
        row = [f"{threads}T"] + [f"{med[i]:,.0f}" if i in med else "—" for i in impls]
        peers = {i: t for i, t in med.items() if i != "gradc"}
        if peers and "gradc" in med:
            best = min(peers, key=peers.get)
            row.append(f"**{peers[best] / med['gradc']:.1f}×** ({best})")
        else:
            row.append("—")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def fmt_rate(x):
    """Steps per second to three significant digits, with thousands separators."""
    if x is None:
        return "—"
    rounded = float(f"{x:.3g}")
    return f"{rounded:,.0f}" if rounded >= 100 else f"{rounded:g}"


def table(args, medians, impls):
    """The Markdown ratio table: gradc's and each peer's steps/s, gradc over the best peer."""
    peers = [i for i in impls if i != "gradc"]
    head = ["workload", "gradc 1T", "gradc 2T"] + [f"{p} 1T / 2T" for p in peers] + ["gradc / best peer 1T", "gradc / best peer 2T"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in args.workloads:
        row = [workloads.WORKLOADS[name]["title"]]
        row += [fmt_rate(medians.get(("gradc", name, t))) for t in (1, 2)]
        for p in peers:
            row.append(" / ".join(fmt_rate(medians.get((p, name, t))) for t in (1, 2)))
        for t in (1, 2):
            rates = {p: medians[(p, name, t)] for p in peers if (p, name, t) in medians}
            if not rates or ("gradc", name, t) not in medians:
                row.append("—")
                continue
            best = max(rates, key=rates.get)
            row.append(f"**{medians[('gradc', name, t)] / rates[best]:.2f}×** ({best})")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def machine():
    """The CPU model and count (lscpu) of this machine."""
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")), "?")
    return f"{model}, {os.cpu_count()} CPUs"


def gradc_version():
    """The commit gradc was measured at (`+` if the tree has changes)."""
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True).stdout
    return rev.strip() + ("+" if dirty.strip() else "")


def write_doc(text):
    """Puts `text` between the markers in docs/PERFORMANCE.md (adding a section the first time)."""
    path = os.path.join(ROOT, "docs", "PERFORMANCE.md")
    with open(path) as f:
        doc = f.read()
    if BEGIN in doc:
        doc = doc[: doc.index(BEGIN) + len(BEGIN)] + "\n" + text + "\n" + doc[doc.index(END) :]
    else:
        doc = doc.rstrip("\n") + "\n\n## Side by side with the peers (benches/peers)\n\n" + BEGIN + "\n" + text + "\n" + END + "\n"
    with open(path, "w") as f:
        f.write(doc)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: one round, tiny measurements, docs untouched")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of alternation (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per round (default 3)")
    parser.add_argument("--target", type=float, default=1.0, help="seconds a measurement takes (default 1)")
    parser.add_argument("--workloads", default=",".join(workloads.WORKLOADS), help="comma-separated (default all)")
    parser.add_argument("--gradc", default=os.path.join(ROOT, "target", "release", "gradc"), help="the gradc binary")
    parser.add_argument("--workdir", default=os.path.join(ROOT, "target", "peers-work"), help="where data and init go")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.repeats, args.target = 1, 1, 0.02
    args.workloads = args.workloads.split(",")
    unknown = [n for n in args.workloads if n not in workloads.WORKLOADS]
    if unknown:
        sys.exit(f"unknown workloads {unknown}; known: {list(workloads.WORKLOADS)}")
    if not os.access(args.gradc, os.X_OK):
        sys.exit(f"no gradc binary at {args.gradc}: run `cargo build --release` first")

    started = datetime.datetime.now(datetime.timezone.utc)
    load_before = os.getloadavg()
    workloads.prepare(args.workdir)
    found = find_peers()
    impls = ["gradc"] + [v for f in found for v in PEERS[f][2]]

    rates, first_losses, first_times = {}, {}, {}
    steps_for = {}
    first_runs = 1 if args.quick else FIRST_STEP_RUNS
    for r in range(args.rounds):
        for threads in (1, 2):
            order = ["gradc"] + list(found)
            for who in order if r % 2 == 0 else order[::-1]:
                elapsed = (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds()
                print(f"round {r + 1}/{args.rounds}, {threads}T: {who} (at {elapsed:.0f} s)", flush=True)
                if FIRST_STEP_WORKLOAD in args.workloads:
                    for variant in FIRST_STEP_VARIANTS.get(who, (who,)):
                        for _ in range(first_runs):
                            ms = first_step_ms(args, who, variant, threads)
                            if ms is not None:
                                first_times.setdefault((variant, threads), []).append(ms)
                if who == "gradc":
                    for name in args.workloads:
                        rates.setdefault(("gradc", name, threads), []).extend(gradc_measure(args, name, threads, steps_for))
                    continue
                for line in peer_measure(args, who, threads):
                    key = (line["peer"], line["workload"], threads)
                    if "error" in line:
                        print(f"  {line['peer']} failed on {line['workload']}: {line['error']}", flush=True)
                        continue
                    rates.setdefault(key, []).extend(line["steps_per_sec"])
                    first_losses.setdefault((line["peer"], line["workload"]), []).append(line["first_loss"])

    # Same arithmetic or no table: every first-step loss against gradc's.
    mismatches = []
    for name in args.workloads:
        ref = gradc_first_loss(args, name)
        for (peer, wname), losses in sorted(first_losses.items()):
            if wname != name:
                continue
            worst = max(abs(x - ref) / max(abs(ref), 1e-30) for x in losses)
            if worst > LOSS_TOLERANCE:
                mismatches.append(f"{name}: {peer} first loss {losses} vs gradc {ref} (relative {worst:.2e})")
        print(f"first loss {name}: gradc {ref:.7g}; peers checked to {LOSS_TOLERANCE:g} relative", flush=True)
    if mismatches:
        print("FIRST LOSSES DISAGREE, the frameworks do not compute the same thing; no table written:", file=sys.stderr)
        for m in mismatches:
            print("  " + m, file=sys.stderr)
        sys.exit(1)
    print("first losses agree across frameworks", flush=True)

    medians = {k: statistics.median(v) for k, v in rates.items()}
    versions = ", ".join([f"gradc {gradc_version()}"] + [f"{f} {v}" for f, v in found.items()] + [f"numpy {workloads.np.__version__}"])
    text = "\n".join(
        [
            f"Measured {started:%Y-%m-%d %H:%M} UTC by `benches/peers/run.py` (rounds: {args.rounds}, "
            f"measurements per round: {args.repeats} of ~{args.target:g} s, medians). Machine: {machine()}; load average "
            f"{load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after. Versions: {versions}. "
            "Figures are training steps per second; the quadratic's are of whole runs of "
            f"{workloads.WORKLOADS['quadratic']['block']:,} steps from θ = 0 (one gradc process, one "
            "torch loop, a jit call per step or one fori_loop call each). "
            "First-step losses agreed to "
            f"{LOSS_TOLERANCE:g} relative across all implementations.",
            "",
            table(args, medians, impls),
        ]
        + (
            [
                "",
                f"Time to first step, in the same run ({first_runs} fresh process{'es' if first_runs > 1 else ''} of each "
                "per round and thread count, medians): from a process's start to its first step's loss; gradc's to its exit.",
                "",
                first_step_table(first_times),
            ]
            if first_times
            else []
        )
    )
    print(text)
    if args.quick:
        print("(--quick: docs/PERFORMANCE.md left as it is)")
    else:
        write_doc(text)
        print("written to docs/PERFORMANCE.md")


if __name__ == "__main__":
    main()
