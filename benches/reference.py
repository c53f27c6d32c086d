"""The benchmark workloads in PyTorch (eager), for a same-run reference: `cargo bench` runs
this when `import torch` works in $GRADC_PYTHON (default python3) and reports gradc's speed as
a ratio.

Usage: reference.py THREADS CPU[,CPU...]. Pins itself to the CPUs before torch starts its
threads, sets torch's intra-op threads to THREADS, then prints one line per workload:
`<name>\t<microseconds per step>`. The models, batch sizes and optimizer match benches/train.rs;
data is one fixed random batch reused every step (only shapes matter for speed).
"""
import os
import sys
import time

os.sched_setaffinity(0, {int(c) for c in sys.argv[2].split(",")})

import torch  # noqa: E402  (after pinning, so torch's threads inherit the CPU set)


def mlp(sizes):
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def cnn_small():
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(784, 10),
    )


def time_training(model, x, classes, steps, lr):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    y = torch.randint(0, classes, (x.shape[0],))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(min(50, steps)):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps * 1e6


def main():
    torch.set_num_threads(int(sys.argv[1]))
    torch.manual_seed(0)
    print(f"spiral\t{time_training(mlp([2, 64, 64, 2]), torch.randn(32, 2), 2, 2000, 0.01):.2f}", flush=True)
    print(f"mlp784\t{time_training(mlp([784, 128, 10]), torch.randn(64, 784), 10, 1000, 0.001):.2f}", flush=True)
    x = torch.randn(64, 1, 28, 28)
    print(f"cnn_small\t{time_training(cnn_small(), x, 10, 200, 0.001):.2f}", flush=True)


if __name__ == "__main__":
    main()
