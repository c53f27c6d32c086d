"""The benchmark workloads in PyTorch, for a same-run reference: `cargo bench` runs this when
`import torch` works in $GRADC_PYTHON (default python3) and reports gradc's speed as a ratio.

Prints one line per workload: `<name>\t<microseconds per step>`. The models, batch sizes and
optimizer match benches/train.rs; data is random (only shapes matter for speed).
"""
import sys
import time

import torch


def mlp(sizes):
    layers = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def time_training(sizes, batch, steps, lr):
    torch.manual_seed(0)
    model = mlp(sizes)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x = torch.randn(batch, sizes[0])
    y = torch.randint(0, sizes[-1], (batch,))
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(min(100, steps)):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps * 1e6


def main():
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
    print(f"spiral\t{time_training([2, 64, 64, 2], 32, 5000, 0.01):.2f}")
    print(f"mlp784\t{time_training([784, 128, 10], 64, 1000, 0.001):.2f}")


if __name__ == "__main__":
    main()
