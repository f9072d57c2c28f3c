# Shared by scripts/demo and scripts/test: make the project's virtual
# environment (default .venv, or $NBEXT_PKG_VENV) and install nbext_pkg into
# it, editable, with the extras named in $NBEXT_PKG_EXTRAS. Sourced, not run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${NBEXT_PKG_VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}
EXTRAS=${NBEXT_PKG_EXTRAS:-}

if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating the virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi

# Reinstall only when what pip reads has changed: a no-op install still
# builds the editable wheel, which takes seconds.
stamp="$VENV/.nbext_pkg-installed"
want=$(cat "$ROOT/setup.py" "$ROOT/pyproject.toml" <(echo "extras=$EXTRAS") | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "== installing nbext_pkg${EXTRAS:+[$EXTRAS]} into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "pip>=23" "setuptools>=64,<81" wheel
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        --no-build-isolation -e "$ROOT${EXTRAS:+[$EXTRAS]}"
    echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
