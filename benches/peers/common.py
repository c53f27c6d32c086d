"""What the peer processes share: their command line and the timing loop."""
import time


def args(argv):
    """(workdir, threads, target seconds, repeats, workload names) from a peer's command line
    (see peer_torch.py)."""
    workdir, threads, target, repeats, names = argv[1:6]
    return workdir, int(threads), float(target), int(repeats), names.split(",")


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
