#!/usr/bin/env bash
# The test suite: the Rust crate's tests, then the Python package's (python/), built and
# installed into a virtualenv of its own under target/ with maturin, numpy and pytest.
set -euo pipefail
cd "$(dirname "$0")"

cargo test --release
# Data-parallel training on 2 and 4 local ranks, where Open MPI is installed (`.ci/run`
# installs it and sets GRADC_REQUIRE_MPI, so CI never skips them).
if command -v mpirun >/dev/null; then
    cargo test --release --features mpi --test distributed
elif [ -n "${GRADC_REQUIRE_MPI:-}" ]; then
    echo "test.sh: GRADC_REQUIRE_MPI is set but mpirun is not installed" >&2
    exit 1
else
    echo "test.sh: mpirun not found: skipping the multi-rank tests (tests/distributed.rs)" >&2
fi

venv="$PWD/target/pyenv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet maturin numpy pytest
# pip runs the venv's maturin, which builds into the root crate's target directory, so gradc
# and its dependencies are not compiled a second time.
PATH="$venv/bin:$PATH" CARGO_TARGET_DIR="$PWD/target" \
    "$venv/bin/pip" install --quiet --no-build-isolation --no-deps --force-reinstall ./python
GRADC_BIN="$PWD/target/release/gradc" "$venv/bin/python" -m pytest -q python/tests
