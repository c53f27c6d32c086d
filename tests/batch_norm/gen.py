#!/usr/bin/env python3
"""Generates the fixtures tests/batch_norm.rs checks gradc's batch norm against.

Two models, each trained by torch in float64 from the f32 initial weights gradc reads
(init_<model>.safetensors, under gradc's names: a dense layer's weight stored [in, out]), on
the f32 data gradc reads (<model>_x.npy, <model>_y.npy), over batches taken in order:

  mlp_bn  Linear(4, 8) -> BatchNorm1d(8) -> ReLU -> Linear(8, 3), SGD(lr=0.1, momentum=0.9)
  cnn_bn  Conv2d(2, 4, 3, padding=1) -> BatchNorm2d(4) -> ReLU -> MaxPool2d(2) -> Flatten
          -> Linear(36, 3), SGD(lr=0.05, momentum=0.9)

Both use SGD: the bias of the layer before batch norm has a gradient of exactly zero in exact
arithmetic, and Adam would normalise its rounding noise, which differs between float64 and f32,
into steps of size lr.
Batch norm has torch's defaults (momentum 0.1, eps 1e-5, affine, running statistics).
<model>.json holds the training loss of every step, then after the last step every parameter
and running statistic (gradc's names) and the loss over all rows in evaluation mode.

Usage: python3 tests/batch_norm/gen.py after `pip install torch numpy safetensors`; the
outputs are committed, and cargo test never runs Python.
"""

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import save_file

HERE = Path(__file__).resolve().parent
STEPS = 12
F64 = torch.float64


def f32(a):
    return np.asarray(a, dtype=np.float32)


def write_data(name, x, y):
    np.save(HERE / f"{name}_x.npy", f32(x))
    np.save(HERE / f"{name}_y.npy", np.asarray(y, dtype=np.int64))
    return torch.tensor(f32(x), dtype=F64), torch.tensor(y, dtype=torch.long)


def gradc_names(model, names):
    """The model's parameters and buffers under gradc's names, dense weights transposed."""
    out = {}
    state = model.state_dict()
    for torch_name, gradc_name in names.items():
        v = state[torch_name].detach().numpy()
        if isinstance(model.get_submodule(torch_name.rsplit(".", 1)[0]), torch.nn.Linear) and v.ndim == 2:
            v = v.T
        out[gradc_name] = np.ascontiguousarray(v)
    return out


def init_from_f32(model, seed):
    """Rounds torch's default initialisation to f32 so both sides start from the same values."""
    torch.manual_seed(seed)
    for m in model.modules():
        if hasattr(m, "reset_parameters"):
            m.reset_parameters()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.tensor(f32(p.detach().numpy()), dtype=F64))


def run(name, model, names, x, y, batch, make_opt):
    model = model.to(F64)
    init_from_f32(model, 11)
    save_file({k: f32(v) for k, v in gradc_names(model, names).items()}, str(HERE / f"init_{name}.safetensors"))
    opt = make_opt(model.parameters())
    loss_fn = torch.nn.CrossEntropyLoss()
    batches = len(x) // batch
    steps = []
    model.train()
    for step in range(STEPS):
        i = step % batches
        xb, yb = x[i * batch : (i + 1) * batch], y[i * batch : (i + 1) * batch]
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        steps.append(loss.item())
    model.eval()
    with torch.no_grad():
        eval_loss = loss_fn(model(x), y).item()
    final = {k: v.reshape(-1).tolist() for k, v in gradc_names(model, names).items()}
    fixture = {"made_by": name, "steps": steps, "eval_loss": eval_loss, "final": final}
    (HERE / f"{name}.json").write_text(json.dumps(fixture, indent=1) + "\n")


def main():
    rng = np.random.RandomState(20261201)

    x, y = write_data("mlp", rng.normal(0.5, 2.0, (32, 4)), rng.randint(0, 3, 32))
    mlp = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    names = {
        "0.weight": "h.w", "0.bias": "h.b",
        "1.weight": "bn.w", "1.bias": "bn.b", "1.running_mean": "bn.running_mean", "1.running_var": "bn.running_var",
        "3.weight": "out.w", "3.bias": "out.b",
    }
    run("mlp_bn", mlp, names, x, y, 16, lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9))

    x, y = write_data("cnn", rng.normal(0.0, 1.0, (16, 2, 6, 6)), rng.randint(0, 3, 16))
    cnn = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(36, 3),
    )
    names = {
        "0.weight": "c.w", "0.bias": "c.b",
        "1.weight": "bn.w", "1.bias": "bn.b", "1.running_mean": "bn.running_mean", "1.running_var": "bn.running_var",
        "5.weight": "out.w", "5.bias": "out.b",
    }
    run("cnn_bn", cnn, names, x, y, 8, lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9))


if __name__ == "__main__":
    main()
