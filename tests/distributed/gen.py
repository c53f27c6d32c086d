#!/usr/bin/env python3
"""Generates the fixtures tests/distributed.rs checks per-rank batch norm against.

tests/batch_norm's mlp_bn (Linear(4, 8) -> BatchNorm1d(8) -> ReLU -> Linear(8, 3), SGD with
momentum 0.9, from init_mlp_bn.safetensors, batches of 16 in order) for 100 steps, trained as
DistributedDataParallel without SyncBatchNorm trains it on R ranks: each rank takes its share
of every batch (contiguous, in rank order, the first 16 % R ranks one row more), normalises
by its own share's statistics, and the gradients of the ranks' losses, each weighted by the
rank's share of the batch's rows, are summed (DDP's average when the shares are equal). The
running statistics are rank 0's, as DDP's broadcast of the buffers from rank 0 makes them.

mlp_bn_ranks<R>.json holds every step's loss (the ranks' weighted losses summed), every final
parameter and running statistic under gradc's names, and the loss over all rows in
evaluation mode. Computed in float64.

Usage: python3 tests/distributed/gen.py after `pip install torch numpy safetensors`; the
outputs are committed, and cargo test never runs Python.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "batch_norm"))
from gen import F64, gradc_names, init_from_f32  # noqa: E402

# Steps of each fixture (tests/batch_norm's run 12; the distributed ones run 100).
STEPS = 100


def share(rows, rank, ranks):
    each, extra = divmod(rows, ranks)
    start = rank * each + min(rank, extra)
    return start, start + each + (1 if rank < extra else 0)


def run(ranks):
    bn = HERE.parent / "batch_norm"
    x = torch.tensor(np.load(bn / "mlp_x.npy"), dtype=F64)
    y = torch.tensor(np.load(bn / "mlp_y.npy"), dtype=torch.long)
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), torch.nn.Linear(8, 3)
    ).to(F64)
    names = {
        "0.weight": "h.w", "0.bias": "h.b",
        "1.weight": "bn.w", "1.bias": "bn.b", "1.running_mean": "bn.running_mean", "1.running_var": "bn.running_var",
        "3.weight": "out.w", "3.bias": "out.b",
    }
    # The initial weights init_mlp_bn.safetensors holds (tests/batch_norm/gen.py, same seed).
    init_from_f32(model, 11)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    batch = 16
    steps = []
    model.train()
    norm = model[1]
    for step in range(STEPS):
        i = step % (len(x) // batch)
        xb, yb = x[i * batch : (i + 1) * batch], y[i * batch : (i + 1) * batch]
        opt.zero_grad()
        total = 0.0
        for r in range(ranks):
            lo, hi = share(batch, r, ranks)
            kept = [b.clone() for b in norm.buffers()]
            loss = loss_fn(model(xb[lo:hi]), yb[lo:hi]) * ((hi - lo) / batch)
            loss.backward()
            if r > 0:
                # Only rank 0's running statistics are the model's.
                with torch.no_grad():
                    for b, k in zip(norm.buffers(), kept):
                        b.copy_(k)
            total += loss.item()
        opt.step()
        steps.append(total)
    model.eval()
    with torch.no_grad():
        eval_loss = loss_fn(model(x), y).item()
    final = {k: v.reshape(-1).tolist() for k, v in gradc_names(model, names).items()}
    fixture = {"made_by": f"mlp_bn on {ranks} ranks", "steps": steps, "eval_loss": eval_loss, "final": final}
    (HERE / f"mlp_bn_ranks{ranks}.json").write_text(json.dumps(fixture, indent=1) + "\n")


if __name__ == "__main__":
    for ranks in (2, 4):
        run(ranks)
