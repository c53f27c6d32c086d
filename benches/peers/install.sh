#!/bin/sh
# Installs the benchmark peers (benches/peers/run.py) at pinned versions into a virtualenv.
#
# Usage: benches/peers/install.sh [VENV] [FRAMEWORK...]
#   VENV       the virtualenv to create or reuse (default: $GRADC_PEERS_VENV, else
#              target/peers-venv under the repository)
#   FRAMEWORK  torch and/or jax (default: both); numpy is always installed
#
# Then: GRADC_PYTHON=VENV/bin/python VENV/bin/python benches/peers/run.py
# Pinned so that a ratio table names the exact peer versions it was measured against; bump the
# pins deliberately (check `pip index versions jax` etc. for what exists).
set -eu

NUMPY=2.4.6
TORCH=2.15.0
JAX=0.10.2

root=$(cd "$(dirname "$0")/../.." && pwd)
venv=${1:-${GRADC_PEERS_VENV:-$root/target/peers-venv}}
[ $# -gt 0 ] && shift
frameworks=${*:-torch jax}

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
packages="numpy==$NUMPY"
for f in $frameworks; do
    case $f in
        torch) packages="$packages torch==$TORCH" ;;
        # jax[cpu] pulls the jaxlib of the same version.
        jax) packages="$packages jax[cpu]==$JAX jaxlib==$JAX" ;;
        *) echo "install.sh: unknown framework '$f' (torch or jax)" >&2; exit 2 ;;
    esac
done
"$venv/bin/python" -m pip install --upgrade pip >/dev/null
# shellcheck disable=SC2086  # the list is words on purpose
"$venv/bin/python" -m pip install $packages
"$venv/bin/python" -c "import numpy; print('numpy', numpy.__version__)"
for f in $frameworks; do
    "$venv/bin/python" -c "import $f; print('$f', $f.__version__)"
done
