"""The peer workloads' definitions, shared by the runner (run.py) and the peers (peer_torch.py,
peer_jax.py), and the data and initial parameters every framework starts from.

Each workload is one fixed batch reused every step (x.npy, y.npy), He-normal weights and zero
biases (init.npz for the peers, init.safetensors with the same arrays for gradc), written with
numpy from a fixed seed, so every framework does the same arithmetic from the same numbers.
Layouts are gradc's: a dense weight is [in, out] (torch's Linear holds its transpose), a
convolution's [out, in, kh, kw] (OIHW, as torch's Conv2d).
"""
import json
import os

import numpy as np

# name -> definition. `layers` lists the network: ("dense", name, in, out) or
# ("conv", name, in_channels, out_channels) for a 3×3 "same" convolution followed by ReLU and
# 2×2 max pooling; a ReLU follows every dense layer but the last. `block` is how many steps a
# peer runs per timed unit (and JAX's fori_loop runs per call); for the quadratic it is a whole
# run, restarted from θ = 0 each time, as gradc runs it: 10,000 steps, so that a run's fixed cost
# (a process's start for gradc, a dispatch for JAX's fori_loop) does not hide the cost of a step.
WORKLOADS = {
    "quadratic": {
        "title": "quadratic (θ−3)², GD 0.1, runs of 10,000 steps",
        "optimizer": ("sgd", 0.1, 0.0),
        "block": 10000,
    },
    "mlp-small": {
        "title": "mlp-small 784-128-10, batch 64, Adam 1e-3",
        "grad": "mlp_small.grad",
        "input": (784,),
        "batch": 64,
        "classes": 10,
        "layers": [("dense", "h", 784, 128), ("dense", "out", 128, 10)],
        "optimizer": ("adam", 1e-3),
        "block": 20,
    },
    "mlp-wide": {
        "title": "mlp-wide 784-1024-1024-10, batch 256, SGD 0.01 momentum 0.9",
        "grad": "mlp_wide.grad",
        "input": (784,),
        "batch": 256,
        "classes": 10,
        "layers": [("dense", "h1", 784, 1024), ("dense", "h2", 1024, 1024), ("dense", "out", 1024, 10)],
        "optimizer": ("sgd", 0.01, 0.9),
        "block": 5,
    },
    "cnn-small": {
        "title": "cnn-small conv 1→8→16, pool, dense 784→10, batch 64, Adam 1e-3",
        "grad": "cnn_small.grad",
        "input": (1, 28, 28),
        "batch": 64,
        "classes": 10,
        "layers": [("conv", "h1", 1, 8), ("conv", "h2", 8, 16), ("dense", "out", 784, 10)],
        "optimizer": ("adam", 1e-3),
        "block": 10,
    },
    "spiral": {
        "title": "spiral MLP 2-64-64-2, batch 32, Adam 0.01",
        "grad": "spiral.grad",
        "input": (2,),
        "batch": 32,
        "classes": 2,
        "layers": [("dense", "h1", 2, 64), ("dense", "h2", 64, 64), ("dense", "out", 64, 2)],
        "optimizer": ("adam", 0.01),
        "block": 100,
    },
    "digits": {
        "title": "digits MLP 64-64-10, batch 32, Adam 1e-3",
        "grad": "digits.grad",
        "input": (64,),
        "batch": 32,
        "classes": 10,
        "layers": [("dense", "h", 64, 64), ("dense", "out", 64, 10)],
        "optimizer": ("adam", 1e-3),
        "block": 100,
    },
}

# The quadratic's program and its one parameter's start (its learning rate is in WORKLOADS).
QUADRATIC_GRAD = "quadratic.grad"
QUADRATIC_START = 0.0


def param_shapes(w):
    """(name, shape) of every parameter of workload `w` in gradc's layout and naming."""
    shapes = []
    for kind, name, a, b in w["layers"]:
        if kind == "dense":
            shapes += [(f"{name}.w", (a, b)), (f"{name}.b", (b,))]
        else:
            shapes += [(f"{name}.w", (b, a, 3, 3)), (f"{name}.b", (b,))]
    return shapes


def make_inputs(w, seed):
    """The fixed batch (x float32, y int64 classes) and the He-normal initial parameters."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((w["batch"], *w["input"])).astype(np.float32)
    # gradc's models take flat rows and reshape them (cnn-small); the peers reshape the same way.
    x = x.reshape(w["batch"], -1)
    y = rng.integers(0, w["classes"], w["batch"]).astype(np.int64)
    params = {}
    for name, shape in param_shapes(w):
        if name.endswith(".b"):
            params[name] = np.zeros(shape, np.float32)
        else:
            fan_in = shape[0] if len(shape) == 2 else shape[1] * shape[2] * shape[3]
            params[name] = (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    return x, y, params


def write_safetensors(path, arrays):
    """Writes float32 `arrays` (name -> array) as a safetensors file: an 8-byte little-endian
    header length, a JSON header of dtypes, shapes and byte ranges, then the raw data."""
    header, offset = {}, 0
    for name, a in arrays.items():
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)  # the format pads the header to 8-byte alignment
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for a in arrays.values():
            f.write(np.ascontiguousarray(a, dtype="<f4").tobytes())


def prepare(workdir, seed=0):
    """Writes every workload's inputs into `workdir`/<name>/ beside a copy of its .grad file
    (gradc reads data relative to the program): x.npy, y.npy, init.safetensors and init.npz."""
    here = os.path.dirname(os.path.abspath(__file__))
    for name, w in WORKLOADS.items():
        d = os.path.join(workdir, name)
        os.makedirs(d, exist_ok=True)
        grad = w.get("grad", QUADRATIC_GRAD)
        with open(os.path.join(here, grad)) as src, open(os.path.join(d, grad), "w") as dst:
            dst.write(src.read())
        if "layers" not in w:
            continue
        x, y, params = make_inputs(w, seed)
        np.save(os.path.join(d, "x.npy"), x)
        np.save(os.path.join(d, "y.npy"), y)
        write_safetensors(os.path.join(d, "init.safetensors"), params)
        np.savez(os.path.join(d, "init.npz"), **params)


def load(workdir, name):
    """The workload's batch and initial parameters as run.py wrote them (numpy arrays)."""
    d = os.path.join(workdir, name)
    with np.load(os.path.join(d, "init.npz")) as f:
        params = {k: f[k] for k in f.files}
    return np.load(os.path.join(d, "x.npy")), np.load(os.path.join(d, "y.npy")), params
