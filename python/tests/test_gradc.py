"""The gradc Python package on NumPy arrays: loading and compiling, fit/evaluate/predict,
saving and loading weights, the IR and gradient text, errors raised as GradcError, and parity
with `gradc run` on the same rows (bit-identical weights)."""

import json
import os
import pathlib
import signal
import subprocess
import sys

import numpy
import pytest

import gradc

ROOT = pathlib.Path(__file__).resolve().parents[2]

# A small classifier of two blobs read from NPY files, standardized, a quarter held out for
# validation: every preprocessing step `fit` must apply to its arrays as `gradc run` to files.
PROGRAM = """
use std.nn.{dense, relu}
use std.loss.cross_entropy

data blobs = npy("x.npy", labels: "y.npy") |> standardize |> split(val: 0.25)

model mlp(x: f32[B, 2]) -> f32[B, 3] {
    h = relu(dense(x, 16, init: he_normal))
    dense(h, 3)
}

loss(x, y: i32[B]) = cross_entropy(mlp(x), y)

train {
    data = blobs, batch = 16, epochs = 6, shuffle = true, seed = 7
    optimizer = adam(lr: 0.02)
    metrics = [accuracy]
}
"""


def blobs(n, seed):
    """Three Gaussian blobs around distinct centres, offset and scaled so standardizing matters."""
    rng = numpy.random.default_rng(seed)
    y = rng.integers(0, 3, size=n).astype(numpy.int32)
    centres = numpy.array([[0.0, 4.0], [4.0, 0.0], [-4.0, -4.0]])
    x = centres[y] + rng.normal(size=(n, 2))
    return (x * 3.0 + 10.0).astype(numpy.float32), y


@pytest.fixture
def program(tmp_path):
    """The program and its data files in a fresh directory; returns the .grad path and the arrays."""
    x, y = blobs(120, seed=3)
    numpy.save(tmp_path / "x.npy", x)
    numpy.save(tmp_path / "y.npy", y)
    path = tmp_path / "blobs.grad"
    path.write_text(PROGRAM)
    return path, x, y


def gradc_binary():
    """The command line, built by `cargo test --release` (or named by $GRADC_BIN)."""
    path = pathlib.Path(os.environ.get("GRADC_BIN", ROOT / "target" / "release" / "gradc"))
    if not path.exists():
        pytest.fail(f"{path} does not exist: run `cargo build --release` first, or set GRADC_BIN")
    return path


def test_load_and_compile_give_the_same_program(program, monkeypatch):
    path, _, _ = program
    loaded = gradc.load(str(path))
    # Data paths of compiled text are relative to the working directory.
    monkeypatch.chdir(path.parent)
    compiled = gradc.compile(PROGRAM)
    # ...of that call: the data is read when the IR is first asked for, from elsewhere.
    monkeypatch.chdir(ROOT)
    assert loaded.ir("optimized") == compiled.ir("optimized")
    assert "model mlp" in compiled.ir("ast")


def test_fit_evaluate_predict(program):
    path, x, y = program
    m = gradc.load(str(path))
    history = m.fit(x, y, verbose=False)
    assert set(history) == {"step", "lr", "loss", "accuracy", "val_loss", "val_accuracy"}
    # One point per epoch: 90 training rows in batches of 16 are 6 steps.
    assert history["step"] == [6, 12, 18, 24, 30, 36]
    assert all(len(v) == 6 for v in history.values())
    assert history["loss"][-1] < history["loss"][0]
    assert history["accuracy"][-1] > 0.9

    scores = m.evaluate(x, y)
    assert set(scores) == {"loss", "accuracy"}
    assert scores["accuracy"] > 0.9

    logits = m.predict(x)
    assert logits.dtype == numpy.float32 and logits.shape == (120, 3)
    classes = m.predict(x, output="classes")
    assert classes.dtype == numpy.int32 and classes.shape == (120,)
    assert (classes == logits.argmax(axis=1)).all()
    probabilities = m.predict(x, output="probabilities")
    assert numpy.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    # The accuracy evaluate reports is that of the predicted classes.
    assert scores["accuracy"] == pytest.approx((classes == y).mean(), abs=1e-6)


def test_fit_overrides_epochs_and_prints_progress(program, capsys):
    path, x, y = program
    m = gradc.load(str(path))
    history = m.fit(x, y, epochs=2)
    assert history["step"] == [6, 12]
    out = capsys.readouterr()
    assert "gradc: " in out.err and "optimizer adam" in out.err
    assert "epoch 2/2" in out.err.lower()
    assert "accuracy" in out.out
    # Fitting again continues from the weights, optimizer state and step the first fit left.
    assert m.fit(x, y, epochs=1, verbose=False)["step"] == [18]
    assert capsys.readouterr().err == ""


def test_non_contiguous_arrays_are_read_in_order(program):
    path, x, y = program
    m = gradc.load(str(path))
    m.fit(x, y, epochs=1, verbose=False)
    for other in [numpy.asfortranarray(x), numpy.repeat(x, 2, axis=0)[::2]]:
        assert not other.flags.c_contiguous
        assert (m.predict(other) == m.predict(x)).all()


def test_save_and_load_weights_round_trip(program, tmp_path):
    path, x, y = program
    m = gradc.load(str(path))
    m.fit(x, y, verbose=False)
    weights = tmp_path / "w.safetensors"
    m.save(str(weights))
    other = gradc.load(str(path))
    other.load_weights(str(weights))
    assert (other.predict(x) == m.predict(x)).all()
    assert other.evaluate(x, y) == m.evaluate(x, y)


def test_ir_and_grad_text(program):
    path, _, _ = program
    m = gradc.load(str(path))
    for stage in ["forward", "eval", "backward", "update", "optimized", "kernels"]:
        assert m.ir(stage).strip(), stage
    assert m.ir("backward", raw=True) != m.ir("backward")
    maths = m.grad()
    assert "h.w" in maths and "out.b" in maths
    assert "h.w" not in m.grad("out.b").split("∂")[1]
    assert m.grad(latex=True).startswith("\\documentclass")
    with pytest.raises(ValueError, match="expected one of"):
        m.ir("nonsense")


def test_parity_with_the_command_line(program, tmp_path):
    """`fit` on the arrays trains exactly as `gradc run` on the files holding them."""
    path, x, y = program
    cli_weights = tmp_path / "cli.safetensors"
    run = subprocess.run(
        [gradc_binary(), "run", path, "--quiet", "--json", "--save", cli_weights],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(run.stdout)
    m = gradc.load(str(path))
    history = m.fit(x, y, verbose=False)
    py_weights = tmp_path / "py.safetensors"
    m.save(str(py_weights))
    assert py_weights.read_bytes() == cli_weights.read_bytes()
    assert numpy.float32(history["loss"][-1]) == numpy.float32(summary["final_loss"])


def test_errors_raise_gradc_error(program, tmp_path):
    path, x, y = program
    assert issubclass(gradc.GradcError, ValueError)
    with pytest.raises(gradc.GradcError, match="cannot read"):
        gradc.load(str(tmp_path / "missing.grad"))
    with pytest.raises(gradc.GradcError) as bad:
        gradc.compile("model m(x: f32[B, 2]) -> f32[B, 2] { dense(x, 2 }")
    # The rendered diagnostic, with its pointer into the source.
    assert "<source>" in str(bad.value) and "│" in str(bad.value)

    m = gradc.load(str(path))
    with pytest.raises(gradc.GradcError, match="no weights yet"):
        m.predict(x)
    with pytest.raises(gradc.GradcError, match="dtype float64"):
        m.fit(x.astype(numpy.float64), y)
    with pytest.raises(gradc.GradcError, match="dtype int16"):
        m.fit(x, y.astype(numpy.int16))
    with pytest.raises(gradc.GradcError, match="not a NumPy array"):
        m.fit(x.tolist(), y)
    with pytest.raises(gradc.GradcError, match="labels"):
        m.fit(x, y[:-1])
    with pytest.raises(gradc.GradcError):
        m.fit(numpy.zeros((120, 5), numpy.float32), y)
    with pytest.raises(gradc.GradcError, match="not a finite"):
        m.fit(numpy.full_like(x, numpy.nan), y)
    with pytest.raises(gradc.GradcError, match="class label 7"):
        m.fit(x, numpy.full_like(y, 7))
    m.fit(x, y, epochs=1, verbose=False)
    with pytest.raises(gradc.GradcError, match=r"shape \[120, 5\]"):
        m.predict(numpy.zeros((120, 5), numpy.float32))
    with pytest.raises(gradc.GradcError, match="regression target"):
        m.evaluate(x, y.astype(numpy.float32))
    with pytest.raises(ValueError, match="output="):
        m.predict(x, output="logits")
    with pytest.raises(gradc.GradcError):
        m.load_weights(str(tmp_path / "missing.safetensors"))
    # A failed load leaves the weights as they were.
    assert m.predict(x).shape == (120, 3)


INTERRUPTED = """
import sys
import numpy
import gradc

x, y = numpy.load("x.npy"), numpy.load("y.npy")
m = gradc.load("blobs.grad")
try:
    m.fit(x, y, epochs=1_000_000)
    print("finished")
except KeyboardInterrupt as e:
    print("interrupted:", e)
    step = int(str(e).split("step ")[1].split(";")[0])
    # The weights are those of the step it stopped at, and training goes on from there.
    print("loss", m.evaluate(x, y)["loss"])
    print("next", m.fit(x, y, epochs=1, verbose=False)["step"][-1] > step)
"""


def test_ctrl_c_stops_fit_after_the_step_and_keeps_the_weights(program):
    path, _, _ = program
    child = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED],
        cwd=path.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The header comes before training; the first progress line from within it.
        lines = []
        while not any(line.lower().startswith("epoch") for line in lines):
            line = child.stderr.readline()
            assert line, f"fit ended before any progress: {''.join(lines)}"
            lines.append(line)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    finally:
        child.kill()
    assert child.returncode == 0, err
    assert "interrupted: fit stopped after step" in out, out
    loss = float(out.split("loss ")[1].split()[0])
    assert numpy.isfinite(loss)
    assert "next True" in out
    assert "stopping after the current step" in err
