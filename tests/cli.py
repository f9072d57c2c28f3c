"""What the command-line tests share: running ``jupyter nbext_pkg ...`` (or ``python -m
nbext_pkg ...``) in a temporary Jupyter environment, and a snapshot of its folders."""

import json
import subprocess
from pathlib import Path


def run(jenv, *args, module=False):
    cmd = [jenv.python, "-m", "nbext_pkg", *args] if module else None
    if cmd is None:
        return jenv.jupyter(*args, check=False)
    return subprocess.run(cmd, env=jenv.env, capture_output=True, text=True, timeout=120)


def snapshot(*folders):
    """Every file and link; JSON files by content (the configuration, not its layout)."""
    out = {}
    for folder in folders:
        for p in Path(folder).rglob("*"):
            if p.is_symlink():
                out[str(p)] = ("link", str(p.resolve()))
            elif p.is_file():
                out[str(p)] = json.loads(p.read_text()) if p.suffix == ".json" else p.read_bytes()
    return out
