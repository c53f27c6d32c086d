#!/usr/bin/env python3
"""Data-parallel training on one machine: steps per second of the peers' mlp-small and mlp-wide
(benches/peers/workloads.py: one fixed batch, the same initial weights) in one process and on
2 ranks, the share of each rank-0 step spent in the sums over the ranks, and, from those
measured costs, the expected scaling of mlp-wide to more ranks on a cluster network.

    cargo build --release --features mpi
    python3 benches/distributed.py [--rounds 3]     # needs numpy (benches/peers/install.sh)

Every configuration runs on the same two CPUs (taskset 0,1; each rank bound to its core) and
they alternate over the rounds; the table gives medians. A rank runs one thread, so 2 ranks
use the two cores as one process at `--threads 2` does.
"""

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "peers"))
import workloads  # noqa: E402

ROOT = os.path.dirname(HERE)
GRADC = os.path.join(ROOT, "target", "release", "gradc")
STEPS = {"mlp-small": 1500, "mlp-wide": 60}

# Assumed cluster networks for the model: (name, bandwidth in bytes/s, latency in s).
NETWORKS = [("100 Gb/s InfiniBand (EDR)", 12.5e9, 2e-6), ("10 Gb/s Ethernet", 1.25e9, 25e-6)]


def gradc(workdir, name, extra, ranks=None, threads=1):
    d = os.path.join(workdir, name)
    grad = workloads.WORKLOADS[name]["grad"]
    argv = [GRADC, "run", grad, "--init", "init.safetensors", "--steps", str(STEPS[name]), "-q", "--json"]
    argv += ["--threads", str(threads)] + extra
    if ranks:
        argv = ["mpirun", "--allow-run-as-root", "-n", str(ranks), "--bind-to", "core"] + argv + ["--distributed"]
    out = subprocess.run(["taskset", "-c", "0,1"] + argv, cwd=d, check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def batch_variant(workdir, name, rows):
    """A copy of the workload that steps on `rows` of its batch at a time (the same rows' cost
    per step whichever), to fit the step's cost as a per-row part and a fixed part."""
    d = os.path.join(workdir, name)
    grad = workloads.WORKLOADS[name]["grad"]
    text = open(os.path.join(d, grad)).read()
    variant = f"{name}-{rows}"
    vd = os.path.join(workdir, variant)
    shutil.copytree(d, vd, dirs_exist_ok=True)
    batch = workloads.WORKLOADS[name]["batch"]
    with open(os.path.join(vd, grad), "w") as f:
        f.write(text.replace(f"batch = {batch}", f"batch = {rows}"))
    return variant


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="gradc-distributed-")
    workloads.prepare(work)
    rows = {}
    for name in list(STEPS):
        half = workloads.WORKLOADS[name]["batch"] // 2
        variant = batch_variant(work, name, half)
        workloads.WORKLOADS[variant] = workloads.WORKLOADS[name]
        STEPS[variant] = STEPS[name]
        runs = {"1 process, 1 thread": [], "1 process, 2 threads": [], "2 ranks": [], "half batch": []}
        shares = []
        for _ in range(args.rounds):
            runs["1 process, 1 thread"].append(gradc(work, name, [])["steps_per_sec"])
            runs["1 process, 2 threads"].append(gradc(work, name, [], threads=2)["steps_per_sec"])
            two = gradc(work, name, [], ranks=2)
            runs["2 ranks"].append(two["steps_per_sec"])
            shares.append(two["all_sum_s"] / two["wall_time_s"])
            runs["half batch"].append(gradc(work, variant, [])["steps_per_sec"])
        rows[name] = ({k: statistics.median(v) for k, v in runs.items()}, statistics.median(shares))

    print("| workload | 1 process, 1 thread | 1 process, 2 threads | 2 ranks, 1 thread each | 2 ranks / 1 thread | rank 0's step in sums |")
    print("|---|---|---|---|---|---|")
    for name, (r, share) in rows.items():
        one, two, ranks = r["1 process, 1 thread"], r["1 process, 2 threads"], r["2 ranks"]
        print(f"| {name} | {one:,.1f} | {two:,.1f} | {ranks:,.1f} | {ranks / one:.2f}× | {100 * share:.1f}% |")

    # The model: a step of b rows on one rank costs a·b + c (fitted from the full and the half
    # batch at one thread); on R ranks each computes b/R rows, then sums every gradient.
    name = "mlp-wide"
    w = workloads.WORKLOADS[name]
    r, share = rows[name]
    batch = w["batch"]
    t_full, t_half = 1 / r["1 process, 1 thread"], 1 / r["half batch"]
    a = (t_full - t_half) / (batch - batch // 2)
    c = t_full - a * batch
    sizes = [4 * math.prod(shape) for _, shape in workloads.param_shapes(w)]
    total = sum(sizes)
    print()
    print(f"mlp-wide: a step of b rows costs {a * 1e6:.1f} µs per row + {c * 1e3:.2f} ms (fitted at b = {batch} and {batch // 2});")
    print(f"its {len(sizes)} gradients hold {total / 1e6:.2f} MB; on 2 local ranks rank 0 spent {100 * share:.1f}% of its step summing.")
    print()
    # Strong scaling keeps the global batch (b rows split R ways); weak scaling gives every
    # rank the whole batch, so the global batch grows with R and rows per second is the measure.
    print("| network | ranks | global batch | rows per rank | compute | all-reduce | step | rows/s | speed-up over 1 rank |")
    print("|---|---|---|---|---|---|---|---|---|")
    for net, bw, lat in NETWORKS:
        for weak in (False, True):
            for ranks in (8, 16, 64):
                per_rank = batch if weak else batch / ranks
                compute = a * per_rank + c
                # A ring all-reduce per tensor: 2(R−1) messages of size/R each way.
                reduce = sum(2 * (ranks - 1) * (lat + s / ranks / bw) for s in sizes)
                step = compute + reduce
                speed = per_rank * ranks / step / (batch / t_full)
                print(f"| {net} | {ranks} | {per_rank * ranks:g} | {per_rank:g} | {compute * 1e3:.2f} ms | "
                      f"{reduce * 1e3:.2f} ms | {step * 1e3:.2f} ms | {per_rank * ranks / step:,.0f} | {speed:.1f}× |")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
