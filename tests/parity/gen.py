#!/usr/bin/env python3
"""Generates the fixtures tests/parity.rs checks gradc's optimizers and schedules against.

The problem is fixed: a linear model 3 -> 1 (w: [3, 1] stored [in, out] as gradc's `x @ w + b`,
so no transpose is involved; b: [1]), the loss mean((x @ w + b - y)^2) over all elements (gradc's
`mse`), 16 rows of data, full batch, no shuffling, STEPS steps, from fixed initial weights.

Written here, and committed (cargo test never runs Python):
  data.csv               x1,x2,x3,y with 3 decimals (gradc reads it with `target: "y"`)
  init.safetensors       the initial w and b, f32 (gradc reads it with `--init`)
  data/<name>.json       per configuration: what produced it, then one object per step with the
                         lr used in that step (and the momentum, as `momentum` or `beta1`, when
                         the schedule cycles it), the loss before it and w, b after it

The reference runs in float64 from exactly the f32 values gradc starts from (the CSV's fields
rounded to f32 as gradc's loader does, and the f32 initial weights), so the fixture is the exact
trajectory of the algorithm and every difference is gradc's rounding. Optimizers and schedules
are torch.optim's, single-tensor code path; FTRL is Keras' update written out in numpy (no
TensorFlow), and the inverse-decay schedule is plain Python.

Usage: python3 tests/parity/gen.py, from any directory, after `pip install torch numpy safetensors`
(everything runs on the CPU). To cover a new optimizer or schedule, add it to CONFIGS, regenerate,
and write tests/parity/<name>.grad once the stdlib has it: until then tests/parity.rs reports the
configuration as expected but missing.
"""

import json
import math
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch.optim import lr_scheduler as sched

HERE = Path(__file__).resolve().parent
STEPS = 50
ROWS = 16
F64 = torch.float64


def make_data():
    """Writes data.csv and returns (x, y) exactly as gradc will hold them, widened to f64."""
    rng = np.random.RandomState(20240501)
    x = rng.uniform(-1.0, 1.0, (ROWS, 3))
    y = x @ np.array([1.5, -2.0, 0.5]) + 0.3 + rng.normal(0.0, 0.1, ROWS)
    rows = [[f"{v:.3f}" for v in (*x[i], y[i])] for i in range(ROWS)]
    (HERE / "data.csv").write_text("x1,x2,x3,y\n" + "".join(",".join(r) + "\n" for r in rows))
    # gradc parses each field as f64 and rounds it to f32.
    as_f32 = np.array([[np.float32(float(v)) for v in r] for r in rows], dtype=np.float32)
    return torch.tensor(as_f32[:, :3], dtype=F64), torch.tensor(as_f32[:, 3:], dtype=F64)


def make_init():
    """Writes init.safetensors and returns the initial (w, b) as f32 arrays."""
    rng = np.random.RandomState(7)
    w = rng.normal(0.0, 0.5, (3, 1)).astype(np.float32)
    b = np.array([0.1], dtype=np.float32)
    save_file({"w": torch.from_numpy(w), "b": torch.from_numpy(b)}, str(HERE / "init.safetensors"))
    return w, b


class Ftrl:
    """keras.optimizers.Ftrl's update_step (l2_shrinkage_regularization_strength = 0), in numpy f64."""

    def __init__(self, params, lr=0.001, lr_power=-0.5, initial_accumulator_value=0.1, l1=0.0, l2=0.0, beta=0.0):
        self.params = params
        self.param_groups = [{"lr": lr}]
        self.lr_power, self.l1, self.l2, self.beta = lr_power, l1, l2, beta
        self.accum = [np.full(p.shape, initial_accumulator_value) for p in params]
        self.linear = [np.zeros(p.shape) for p in params]

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        lr = self.param_groups[0]["lr"]
        l2 = self.l2 + self.beta / (2.0 * lr)
        for i, p in enumerate(self.params):
            var, g, accum = p.numpy().copy(), p.grad.numpy(), self.accum[i]
            new_accum = accum + g**2
            self.linear[i] += g - (new_accum ** (-self.lr_power) - accum ** (-self.lr_power)) / lr * var
            quadratic = new_accum ** (-self.lr_power) / lr + 2.0 * l2
            clipped = np.clip(self.linear[i], -self.l1, self.l1)
            p.copy_(torch.from_numpy((clipped - self.linear[i]) / quadratic))
            self.accum[i] = new_accum


class InverseDecay:
    """lr = base * (1 + gamma * step)^-power, step counting the updates already made from 0; in
    plain Python, with a torch scheduler's interface."""

    def __init__(self, opt, gamma, power):
        self.opt, self.gamma, self.power, self.k = opt, gamma, power, 0
        self.base = opt.param_groups[0]["lr"]

    def step(self):
        self.k += 1
        self.opt.param_groups[0]["lr"] = self.base * (1.0 + self.gamma * self.k) ** (-self.power)


def args(kw):
    return ", ".join(f"{k}={v}" for k, v in kw.items())


def optim(cls, **kw):
    """(description, factory) for an optimizer; torch's run with foreach=False, the single-tensor
    code path its documentation describes."""
    extra = {} if cls is Ftrl else {"foreach": False}
    where = "Keras " if cls is Ftrl else ""
    return f"{where}{cls.__name__}({args(kw)})", lambda params: cls(params, **kw, **extra)


def schedule(cls, **kw):
    """(description, factory) for a schedule."""
    return f"{cls.__name__}({args(kw)})", lambda opt: cls(opt, **kw)


def exponential_times_step(opt):
    return sched.ChainedScheduler([sched.ExponentialLR(opt, gamma=0.97), sched.StepLR(opt, step_size=10, gamma=0.5)])


def warmup_then_cosine(opt):
    warmup = sched.LinearLR(opt, start_factor=0.1, total_iters=10)
    return sched.SequentialLR(opt, [warmup, sched.CosineAnnealingLR(opt, T_max=40, eta_min=0.0)], milestones=[10])


O = torch.optim
# Schedules drive plain SGD, whose trajectory depends on every step's lr.
SGD = optim(O.SGD, lr=0.1)
# name -> (optimizer, schedule or None), each a (description, factory) pair.
CONFIGS = {
    "sgd": (SGD, None),
    "sgd_momentum": (optim(O.SGD, lr=0.05, momentum=0.9), None),
    "sgd_dampening": (optim(O.SGD, lr=0.05, momentum=0.9, dampening=0.5), None),
    "sgd_nesterov": (optim(O.SGD, lr=0.05, momentum=0.9, nesterov=True), None),
    "sgd_weight_decay": (optim(O.SGD, lr=0.05, momentum=0.9, weight_decay=0.05), None),
    "adagrad": (optim(O.Adagrad, lr=0.5), None),
    "adagrad_lr_decay": (optim(O.Adagrad, lr=0.5, lr_decay=0.05), None),
    "adagrad_initial_accumulator": (optim(O.Adagrad, lr=0.5, initial_accumulator_value=0.5), None),
    "adagrad_weight_decay": (optim(O.Adagrad, lr=0.5, weight_decay=0.1), None),
    "rmsprop": (optim(O.RMSprop, lr=0.01), None),
    "rmsprop_momentum": (optim(O.RMSprop, lr=0.01, momentum=0.9), None),
    "rmsprop_centered": (optim(O.RMSprop, lr=0.01, centered=True), None),
    "rmsprop_weight_decay": (optim(O.RMSprop, lr=0.01, weight_decay=0.1), None),
    "adam": (optim(O.Adam, lr=0.05), None),
    "adam_weight_decay": (optim(O.Adam, lr=0.05, weight_decay=0.1), None),
    "adam_amsgrad": (optim(O.Adam, lr=0.05, amsgrad=True), None),
    "adamw": (optim(O.AdamW, lr=0.05, weight_decay=0.1), None),
    "adamw_amsgrad": (optim(O.AdamW, lr=0.05, weight_decay=0.1, amsgrad=True), None),
    "adamax": (optim(O.Adamax, lr=0.05), None),
    "nadam": (optim(O.NAdam, lr=0.05), None),
    "radam": (optim(O.RAdam, lr=0.05), None),
    "adadelta": (optim(O.Adadelta, lr=1.0), None),
    "ftrl": (optim(Ftrl, lr=0.5), None),
    "ftrl_l1_l2": (optim(Ftrl, lr=0.5, l1=0.01, l2=0.01, beta=0.5), None),
    "sched_step": (SGD, schedule(sched.StepLR, step_size=10, gamma=0.5)),
    "sched_multistep": (SGD, schedule(sched.MultiStepLR, milestones=[10, 25, 40], gamma=0.5)),
    "sched_exponential": (SGD, schedule(sched.ExponentialLR, gamma=0.95)),
    "sched_polynomial": (SGD, schedule(sched.PolynomialLR, total_iters=40, power=2.0)),
    "sched_cosine": (SGD, schedule(sched.CosineAnnealingLR, T_max=50, eta_min=0.001)),
    "sched_cosine_restarts": (SGD, schedule(sched.CosineAnnealingWarmRestarts, T_0=10, T_mult=2, eta_min=0.001)),
    # start_factor 1/10 over 9 iterations is lr = base * min((step + 1) / 10, 1): gradc's
    # linear_warmup(steps: 10).
    "sched_linear_warmup": (SGD, schedule(sched.LinearLR, start_factor=0.1, end_factor=1.0, total_iters=9)),
    "sched_linear": (SGD, schedule(sched.LinearLR, start_factor=1.0, end_factor=0.2, total_iters=30)),
    # OneCycleLR and CyclicLR with their defaults cycle the momentum too: SGD's `momentum`, Adam's
    # `betas[0]` (gradc's `beta1`), recorded in the fixture by gradc's name.
    "sched_one_cycle": (
        optim(O.SGD, lr=0.1, momentum=0.9),
        schedule(sched.OneCycleLR, max_lr=0.1, total_steps=STEPS),
    ),
    "sched_one_cycle_adam": (optim(O.Adam, lr=0.01), schedule(sched.OneCycleLR, max_lr=0.05, total_steps=STEPS)),
    "sched_one_cycle_three_phase": (
        optim(O.SGD, lr=0.1, momentum=0.9),
        schedule(sched.OneCycleLR, max_lr=0.1, total_steps=STEPS, pct_start=0.25, three_phase=True),
    ),
    "sched_one_cycle_linear": (
        optim(O.SGD, lr=0.1, momentum=0.9),
        schedule(sched.OneCycleLR, max_lr=0.1, total_steps=STEPS, anneal_strategy="linear"),
    ),
    # The lr alone: plain SGD stays without momentum.
    "sched_one_cycle_no_momentum": (
        SGD,
        schedule(sched.OneCycleLR, max_lr=0.1, total_steps=STEPS, pct_start=0.3, cycle_momentum=False),
    ),
    # CyclicLR's base_lr replaces the optimizer's lr; gradc's `cyclic` starts from the
    # optimizer's, so the two are written equal.
    "sched_cyclic": (
        optim(O.SGD, lr=0.01, momentum=0.9),
        schedule(sched.CyclicLR, base_lr=0.01, max_lr=0.1, step_size_up=10),
    ),
    "sched_cyclic_triangular2": (
        optim(O.SGD, lr=0.01, momentum=0.9),
        schedule(sched.CyclicLR, base_lr=0.01, max_lr=0.1, step_size_up=5, step_size_down=10, mode="triangular2"),
    ),
    "sched_cyclic_exp_range": (
        optim(O.SGD, lr=0.01, momentum=0.9),
        schedule(sched.CyclicLR, base_lr=0.01, max_lr=0.1, step_size_up=10, mode="exp_range", gamma=0.97),
    ),
    "sched_sequential": (
        SGD,
        ("SequentialLR([LinearLR(start_factor=0.1, total_iters=10), CosineAnnealingLR(T_max=40)], milestones=[10])",
         warmup_then_cosine),
    ),
    "sched_chained": (
        SGD,
        ("ChainedScheduler([ExponentialLR(gamma=0.97), StepLR(step_size=10, gamma=0.5)])", exponential_times_step),
    ),
    "sched_inverse_decay": (SGD, schedule(InverseDecay, gamma=0.1, power=0.5)),
    # Stepped with the whole-set loss after each (full-batch) update: one epoch per step.
    "sched_plateau": (
        optim(O.SGD, lr=0.2),
        schedule(sched.ReduceLROnPlateau, mode="min", factor=0.5, patience=2, threshold=0.05),
    ),
}


def run(name, x, y, w0, b0):
    """Trains from (w0, b0) for STEPS full-batch steps; returns the fixture."""
    (opt_text, make_opt), schedule_pair = CONFIGS[name]
    w = torch.tensor(w0, dtype=F64, requires_grad=True)
    b = torch.tensor(b0, dtype=F64, requires_grad=True)
    opt = make_opt([w, b])
    scheduler = schedule_pair[1](opt) if schedule_pair else None
    cycles = getattr(scheduler, "cycle_momentum", False)
    steps = []
    for k in range(STEPS):
        group = opt.param_groups[0]
        lr = group["lr"]
        hypers = {}
        if cycles:
            hypers = {"beta1": group["betas"][0]} if "betas" in group else {"momentum": group["momentum"]}
        opt.zero_grad()
        loss = ((x @ w + b - y) ** 2).mean()
        loss.backward()
        opt.step()
        if isinstance(scheduler, sched.ReduceLROnPlateau):
            with torch.no_grad():
                scheduler.step(((x @ w + b - y) ** 2).mean().item())
        elif scheduler:
            scheduler.step()
        w_now, b_now = w.detach().flatten().tolist(), b.item()
        steps.append({"step": k + 1, "lr": lr, **hypers, "loss": loss.item(), "w": w_now, "b": b_now})
    reference = opt_text + (f" + {schedule_pair[0]}" if schedule_pair else "")
    return {"name": name, "reference": reference, "torch": torch.__version__, "steps": steps}


def dump(fixture, path):
    """One step per line, so a regenerated fixture diffs by step; 12 significant digits is far
    below the 1e-5 the test checks and keeps the files small."""

    def num(v):
        return float(f"{v:.12g}")

    def clean(v):
        if isinstance(v, float):
            return num(v)
        if isinstance(v, list):
            return [clean(e) for e in v]
        return v

    head = {k: fixture[k] for k in ("name", "reference", "torch")}
    lines = [json.dumps({k: clean(v) for k, v in s.items()}) for s in fixture["steps"]]
    text = json.dumps(head)[:-1] + ', "steps": [\n' + ",\n".join(lines) + "\n]}\n"
    assert json.loads(text)["steps"][0]["step"] == 1
    path.write_text(text)


def main():
    torch.use_deterministic_algorithms(True)
    x, y = make_data()
    w0, b0 = make_init()
    out = HERE / "data"
    out.mkdir(exist_ok=True)
    for stale in out.glob("*.json"):
        stale.unlink()
    table = []
    for name in CONFIGS:
        fixture = run(name, x, y, w0, b0)
        s = fixture["steps"]
        assert all(math.isfinite(v) for st in s for v in [st["lr"], st["loss"], *st["w"], st["b"]]), name
        dump(fixture, out / f"{name}.json")
        lrs = f"{s[0]['lr']:.3g} .. {s[-1]['lr']:.3g}"
        losses = f"{s[0]['loss']:.4g} .. {s[-1]['loss']:.4g}"
        table.append((name, fixture["reference"], lrs, losses))
    header = ("configuration", "reference", "lr first .. last", "loss first .. last")
    widths = [max(len(row[i]) for row in [header, *table]) for i in range(4)]
    for row in [header, *table]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    print(f"{len(CONFIGS)} fixtures, {STEPS} steps each, in {out.relative_to(HERE.parent.parent)}")


if __name__ == "__main__":
    main()
