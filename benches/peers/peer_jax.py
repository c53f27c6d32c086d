"""The workloads in JAX: jit of one step per call, and jit of a `lax.fori_loop` over a block of
steps per call. One peer process of run.py.

Usage: peer_jax.py WORKDIR THREADS TARGET_SECONDS REPEATS WORKLOAD[,WORKLOAD...], or
peer_jax.py WORKDIR THREADS first jax-jit WORKLOAD (the same command lines and output as
peer_torch.py; the fori_loop variant's first call is a whole block, not a step). The optimizers are written out here as
torch defines them (Adam with eps 1e-8 added after the square root; SGD whose momentum buffer
starts as the first gradient), so the numbers follow gradc's and torch's.
"""
import os
import sys

import common
import workloads

# XLA reads its flags when it starts: one thread means no Eigen thread pool; run.py's taskset
# bounds the threads of the two-CPU run.
if sys.argv[2] == "1":
    os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402  (after the flags)
import jax.numpy as jnp  # noqa: E402
from jax import lax  # noqa: E402

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


def forward(w, p, x):
    """The workload's network on the flat rows `x` (see workloads.py for the layers)."""
    h = x.reshape(x.shape[0], *w["input"])
    last = len(w["layers"]) - 1
    for i, (kind, name, _, _) in enumerate(w["layers"]):
        if kind == "conv":
            h = lax.conv_general_dilated(h, p[f"{name}.w"], (1, 1), "SAME", dimension_numbers=("NCHW", "OIHW", "NCHW"))
            h = jax.nn.relu(h + p[f"{name}.b"][None, :, None, None])
            h = lax.reduce_window(h, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
        else:
            h = h.reshape(h.shape[0], -1) @ p[f"{name}.w"] + p[f"{name}.b"]
            if i < last:
                h = jax.nn.relu(h)
    return h


def loss_fn(w, p, x, y):
    """Mean cross-entropy of the network, or (θ − 3)² for the quadratic."""
    if "layers" not in w:
        return (p["theta"] - 3.0) ** 2
    logp = jax.nn.log_softmax(forward(w, p, x))
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))


def init_state(w, p):
    """The optimizer's state: Adam's step count and moments, or SGD's momentum buffers."""
    # Separate buffers each: the step donates them, and a buffer cannot be donated twice.
    def zeros():
        return {k: jnp.zeros_like(v) for k, v in p.items()}

    if w["optimizer"][0] == "adam":
        return (jnp.zeros((), jnp.float32), zeros(), zeros())
    return zeros()


def make_step(w, x, y):
    """One training step (params, state) -> (params, state, loss) on the fixed batch."""
    kind, lr, *rest = w["optimizer"]

    def step(p, s):
        loss, g = jax.value_and_grad(lambda q: loss_fn(w, q, x, y))(p)
        if kind == "adam":
            b1, b2 = ADAM_BETAS
            t, m, v = s
            t = t + 1
            m = {k: b1 * m[k] + (1 - b1) * g[k] for k in p}
            v = {k: b2 * v[k] + (1 - b2) * g[k] ** 2 for k in p}
            c1, c2 = 1 - b1**t, 1 - b2**t
            p = {k: p[k] - (lr / c1) * m[k] / (jnp.sqrt(v[k]) / jnp.sqrt(c2) + ADAM_EPS) for k in p}
            return p, (t, m, v), loss
        momentum = rest[0]
        # A zero buffer times μ plus the first gradient is the first gradient, as torch starts it.
        s = {k: momentum * s[k] + g[k] for k in p}
        return {k: p[k] - lr * s[k] for k in p}, s, loss

    return step


def quadratic_start():
    """A new θ at its start (a new buffer: the last run donated the previous one)."""
    return {"theta": jnp.full((), workloads.QUADRATIC_START, jnp.float32)}


def make_run(w, workdir, fori):
    """run(n): trains n steps (n is the workload's block for the fori_loop variant) and returns
    the loss of the first; the quadratic restarts from θ = 0 each call."""
    if "layers" in w:
        x, y, params = workloads.load(workdir, w["name"])
        x, y = jnp.asarray(x), jnp.asarray(y.astype("int32"))
        params = {k: jnp.asarray(v) for k, v in params.items()}
    else:
        x = y = None
        params = quadratic_start()
    step = make_step(w, x, y)
    block = w["block"]

    def many(p, s):
        def body(i, carry):
            p, s, first = carry
            p, s, loss = step(p, s)
            return p, s, jnp.where(i == 0, loss, first)

        return lax.fori_loop(0, block, body, (p, s, jnp.zeros((), jnp.float32)))

    one = jax.jit(step, donate_argnums=(0, 1))
    many = jax.jit(many, donate_argnums=(0, 1))
    state = {"p": params, "s": init_state(w, params)}

    def run(n):
        if "layers" not in w:
            state["p"] = quadratic_start()
            state["s"] = init_state(w, state["p"])
        p, s = state["p"], state["s"]
        if fori:
            assert n == block, "the fori_loop variant runs whole blocks"
            p, s, first = many(p, s)
        else:
            p, s, first = one(p, s)
            for _ in range(n - 1):
                p, s, _ = one(p, s)
        # Dispatch is asynchronous: the time counts only once the results exist.
        jax.block_until_ready(p)
        state["p"], state["s"] = p, s
        return float(first)

    return run


def main():
    workdir = sys.argv[1]
    first = common.first_step_args(sys.argv)
    if first:
        peer, name = first
        if peer != "jax-jit":
            sys.exit(f"peer_jax.py: a time to first step is of jax-jit, not {peer}")
        w = dict(workloads.WORKLOADS[name], name=name)
        common.first_step(peer, name, lambda: make_run(w, workdir, False))
        return
    _, _, target, repeats, names = common.args(sys.argv)
    for peer, fori in (("jax-jit", False), ("jax-fori", True)):
        for name in names:
            w = dict(workloads.WORKLOADS[name], name=name)
            # Called at once, inside `report`, while `w` and `fori` are this iteration's.
            common.report(peer, name, jax.__version__, lambda: make_run(w, workdir, fori), w["block"], target, repeats)


if __name__ == "__main__":
    main()
