# Shared by scripts/demo and scripts/test: make the project's virtual
# environment and install nbext_pkg into it, editable, with the extras named
# in $NBEXT_PKG_EXTRAS. Sourced, not run.
#
# The environment lives outside the checkout ($NBEXT_PKG_VENV, default
# ~/.cache/nbext_pkg/venv): notebook 6 looks for a .git folder above its own
# package, and when it finds one it believes it is a development copy and
# stops versioning its static URLs, which changes what the browser caches.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${NBEXT_PKG_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/nbext_pkg/venv}
PYTHON=${PYTHON:-python3}
EXTRAS=${NBEXT_PKG_EXTRAS:-}

if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating the virtual environment $VENV"
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV"
fi

# Reinstall only when what pip reads, or the checkout it points to, has
# changed: a no-op install still builds the editable wheel, which takes seconds.
stamp="$VENV/.nbext_pkg-installed"
want=$(cat "$ROOT/setup.py" "$ROOT/pyproject.toml" <(echo "extras=$EXTRAS root=$ROOT") \
    | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "== installing nbext_pkg${EXTRAS:+[$EXTRAS]} into $VENV"
    # (Some machines' pip settings name find-links folders that do not exist;
    # pip warns once per package about them. That noise is dropped.)
    {
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            "pip>=23" "setuptools>=64,<81" wheel
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            --no-build-isolation -e "$ROOT${EXTRAS:+[$EXTRAS]}"
    } 2> >(grep -v "is neither a file nor a directory" >&2)
    echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
