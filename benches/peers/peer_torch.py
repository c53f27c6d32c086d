"""The workloads in PyTorch, eager and under torch.compile: one peer process of run.py.

Usage: peer_torch.py WORKDIR THREADS TARGET_SECONDS REPEATS WORKLOAD[,WORKLOAD...]
run.py starts it pinned (taskset) to THREADS CPUs. For each variant and workload it prints one
JSON line: {"peer", "workload", "first_loss", "steps_per_sec": [one per repeat], "version"},
or {"peer", "workload", "error"} if that variant fails there.

Or: peer_torch.py WORKDIR THREADS first VARIANT WORKLOAD, which trains one step of one variant
and prints {"peer", "workload", "first_loss", "done_at"} (see common.first_step).
"""
import sys

import torch

import common
import workloads


class Net(torch.nn.Module):
    """A workload's network, its parameters copied from gradc's layout (see workloads.py)."""

    def __init__(self, w, params):
        super().__init__()
        self.w = w
        layers = []
        for kind, name, a, b in w["layers"]:
            if kind == "dense":
                layer = torch.nn.Linear(a, b)
                weight = params[f"{name}.w"].T  # gradc's [in, out] is Linear's [out, in] transposed
            else:
                layer = torch.nn.Conv2d(a, b, 3, padding=1)
                weight = params[f"{name}.w"]
            with torch.no_grad():
                layer.weight.copy_(torch.from_numpy(weight.copy()))
                layer.bias.copy_(torch.from_numpy(params[f"{name}.b"]))
            layers.append(layer)
        self.layers = torch.nn.ModuleList(layers)

    def forward(self, x):
        h = x.reshape(x.shape[0], *self.w["input"])
        for i, ((kind, _, _, _), layer) in enumerate(zip(self.w["layers"], self.layers)):
            if kind == "conv":
                h = torch.nn.functional.max_pool2d(torch.relu(layer(h)), 2)
            else:
                h = layer(h.flatten(1))
                if i < len(self.layers) - 1:
                    h = torch.relu(h)
        return h


def optimizer(w, params):
    """torch's optimizer for the workload: the same update rules as gradc's."""
    kind, lr, *rest = w["optimizer"]
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr)
    return torch.optim.SGD(params, lr=lr, momentum=rest[0])


def network_block(w, workdir, compiled):
    """(run `block` steps -> first loss of them, block) for a network workload."""
    x, y, params = workloads.load(workdir, w["name"])
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    model = Net(w, params)
    opt = optimizer(w, model.parameters())

    def loss_fn():
        return torch.nn.functional.cross_entropy(model(x), y)

    def opt_step():
        opt.step()

    if compiled:
        loss_fn = torch.compile(loss_fn)
        opt_step = torch.compile(opt_step)

    def run(n):
        first = None
        for _ in range(n):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn()
            loss.backward()
            opt_step()
            if first is None:
                first = loss.item()
        return first

    return run


def quadratic_block(w, compiled):
    """(run n steps of the quadratic from θ = 0 -> its first loss)."""
    theta = torch.zeros((), requires_grad=True)
    _, lr, _ = w["optimizer"]
    opt = torch.optim.SGD([theta], lr=lr)

    def loss_fn():
        return (theta - 3.0) ** 2

    if compiled:
        loss_fn = torch.compile(loss_fn)

    def run(n):
        with torch.no_grad():
            theta.fill_(workloads.QUADRATIC_START)
        first = None
        for _ in range(n):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn()
            loss.backward()
            opt.step()
            if first is None:
                first = loss.item()
        return first

    return run


VARIANTS = (("torch-eager", False), ("torch-compile", True))


def main():
    workdir, threads = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(threads)
    # One inter-op thread: the workloads are one chain of operations.
    torch.set_num_interop_threads(1)

    def make(w, compiled):
        torch.manual_seed(0)
        return quadratic_block(w, compiled) if w["name"] == "quadratic" else network_block(w, workdir, compiled)

    first = common.first_step_args(sys.argv)
    if first:
        peer, name = first
        w = dict(workloads.WORKLOADS[name], name=name)
        common.first_step(peer, name, lambda: make(w, dict(VARIANTS)[peer]))
        return
    _, _, target, repeats, names = common.args(sys.argv)
    for peer, compiled in VARIANTS:
        for name in names:
            w = dict(workloads.WORKLOADS[name], name=name)
            # Called at once, inside `report`, while `w` and `compiled` are this iteration's.
            common.report(peer, name, torch.__version__, lambda: make(w, compiled), w["block"], target, repeats)


if __name__ == "__main__":
    main()
