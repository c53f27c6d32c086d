"""What the peer processes share: their command line and the timing loop."""
import json
import time


def args(argv):
    """(workdir, threads, target seconds, repeats, workload names) from a peer's command line
    (see peer_torch.py)."""
    workdir, threads, target, repeats, names = argv[1:6]
    return workdir, int(threads), float(target), int(repeats), names.split(",")


def first_step_args(argv):
    """(variant, workload name) if the command line asks for a time to first step
    (`WORKDIR THREADS first VARIANT WORKLOAD`, see peer_torch.py), else None."""
    return (argv[4], argv[5]) if argv[3] == "first" else None


def first_step(peer, name, make_run):
    """Builds `make_run()`, trains its first step, and prints when that step's loss existed
    (`done_at`, seconds since the epoch): run.py subtracts the moment it started this process,
    so the time counts the interpreter's start, the framework's import and any compilation."""
    loss = make_run()(1)
    print(json.dumps({"peer": peer, "workload": name, "first_loss": loss, "done_at": time.time()}), flush=True)


def measure(run, block, target, repeats):
    """(first loss, [steps per second of each repeat]) of `run(block)`, which trains `block`
    steps and returns the loss of the first of them.

    The first call starts from the initial parameters (its loss is the one compared across
    frameworks) and pays for any compilation; a second warms up; a third sets how many blocks
    make one measurement of about `target` seconds.
    """
    first = run(block)
    run(block)
    start = time.perf_counter()
    run(block)
    count = max(1, round(target / (time.perf_counter() - start)))
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(count):
            run(block)
        rates.append(count * block / (time.perf_counter() - start))
    return first, rates


def report(peer, name, version, make_run, block, target, repeats):
    """Measures `make_run()` (a run as `measure` takes) for workload `name` and prints its JSON
    line: the first loss and rates, or the error, so one variant failing on one workload does
    not hide the rest."""
    try:
        first, rates = measure(make_run(), block, target, repeats)
        line = {"first_loss": first, "steps_per_sec": rates, "version": version}
    except Exception as e:
        line = {"error": f"{type(e).__name__}: {e}"[:300]}
    print(json.dumps({"peer": peer, "workload": name, **line}), flush=True)
