"""``jupyter nbext_pkg doctor``: for the Python environment it runs in, where each part
is enabled or disabled, which file wins and why (jupyter_core's order of config folders:
the first wins; inside a folder, ``<name>.json`` over ``<name>.d/``), what to do about each
problem, with the exact command, and what the warm kernel pool would cost. Exit status 0
when all is well, 1 otherwise."""

import filecmp
import json
import os
import sys
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

import jupyter_core.paths
from traitlets.config import Config
from traitlets.config.loader import JSONFileConfigLoader, PyFileConfigLoader

from ._version import __version__
from .install import NBEXTENSION, PARTS, STATIC, dig, files_in_order, in_virtual_env, is_enabled, read_json


def version_of(dist):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def flag_for(config_dir):
    if Path(config_dir) == Path(jupyter_core.paths.jupyter_config_dir()):
        return "--user"
    if Path(config_dir) == Path(sys.prefix, "etc", "jupyter"):
        return "--sys-prefix"
    return None


def data_flag(folder):
    """The install flag that writes to the data folder holding ``folder``
    (an installed ``<data>/nbextensions/nbext_pkg``)."""
    real = os.path.realpath(Path(folder).parent.parent)  # <data>/nbextensions/nbext_pkg
    if real == os.path.realpath(jupyter_core.paths.jupyter_data_dir()):
        return "--user"
    if real == os.path.realpath(os.path.join(sys.prefix, "share", "jupyter")):
        return "--sys-prefix"
    return "--sys-prefix" if in_virtual_env() else "--user"


def diagnose_files(out, problems):
    wanted = sorted(p.name for p in STATIC.iterdir() if p.is_file())
    folders = jupyter_core.paths.jupyter_path("nbextensions")
    found = [Path(p, NBEXTENSION) for p in folders if Path(p, NBEXTENSION).is_dir()]
    out.append("nbextension files (the first folder found is the one served):")
    if not found:
        out.append("  not installed in any of: " + ", ".join(folders))
        problems.append(
            (
                "The page modules' files are not installed.",
                "jupyter nbext_pkg install " + ("--sys-prefix" if in_virtual_env() else "--user"),
            )
        )
        return
    for i, folder in enumerate(found):
        how = f"linked to {os.path.realpath(folder)}" if folder.is_symlink() else "copied"
        out.append(f"  {'served' if i == 0 else 'hidden'}: {folder} ({how})")
    served = found[0]
    missing = [n for n in wanted if not (served / n).is_file()]
    stale = [
        n for n in wanted if (served / n).is_file() and not filecmp.cmp(served / n, STATIC / n, shallow=False)
    ]
    where = data_flag(served)
    if missing:
        problems.append((f"{served} lacks {', '.join(missing)}.", f"jupyter nbext_pkg install {where}"))
    elif stale:
        problems.append(
            (
                f"{served} holds files of another nbext_pkg version ({', '.join(stale)}).",
                f"jupyter nbext_pkg install {where}",
            )
        )


def diagnose_part(part, out, problems):
    folders = jupyter_core.paths.jupyter_config_path()  # highest priority first
    mentions = []  # (priority rank, file, value), in the order the server applies them
    for rank, folder in reversed(list(enumerate(folders))):
        for path in files_in_order(folder, part):
            value, present = dig(read_json(path), part.keys)
            if present:
                mentions.append((rank, path, value))
    out.append(f"{part.name}:")
    if not mentions:
        out.append("  not mentioned in any config file")
        problems.append(
            (
                f"The {part.name} is not enabled anywhere.",
                f"{part.enable} {'--sys-prefix' if in_virtual_env() else '--user'}",
            )
        )
        return
    winner = mentions[-1]
    for rank, path, value in reversed(mentions):
        state = "enabled" if is_enabled(part, value) else f"disabled ({json.dumps(value)})"
        mark = "wins" if (rank, path, value) == winner else "overridden"
        out.append(f"  {mark}: {state} in {path}")
    if not is_enabled(part, winner[2]):
        flag = flag_for(folders[winner[0]])
        fix = f"{part.enable} {flag}" if flag else f"remove the nbext_pkg entry from {winner[1]}"
        problems.append(
            (f"The {part.name} is disabled by {winner[1]}, which wins over the other files.", fix)
        )


SERVER_CONFIGS = (("notebook 6", "jupyter_notebook_config"), ("jupyter_server", "jupyter_server_config"))


def server_config(base):
    """A server's configuration as its config files ``base`` give it (.d/*.json, .json and
    .py in every config folder, lowest priority first), merged."""
    merged = Config()
    files = SimpleNamespace(folder="", file=base)  # what files_in_order needs of a part
    for folder in reversed(jupyter_core.paths.jupyter_config_path()):
        for path in files_in_order(folder, files) + [Path(folder, base + ".py")]:
            if path.is_file():
                loader = PyFileConfigLoader if path.suffix == ".py" else JSONFileConfigLoader
                try:
                    merged.merge(loader(path.name, path=str(path.parent)).load_config())
                except Exception as error:
                    print(f"jupyter nbext_pkg: {path} could not be read: {error}", file=sys.stderr)
    return merged


def diagnose_pool(out, pool, server="", measured=None):
    """What each warm kernel of ``c.NbextPkg.kernel_pool`` costs: one is started here, asked
    for its kernel info, measured (Linux /proc) and stopped (once per kernelspec in
    ``measured``)."""
    from jupyter_client.kernelspec import KernelSpecManager

    from .kernel_pool import MOST_PER_SPEC, refusal

    measured = {} if measured is None else measured
    if not pool:
        out.append(
            f"warm kernel pool{server}: off (c.NbextPkg.kernel_pool is empty; to keep one Python "
            "kernel ready for New notebook: --NbextPkg.kernel_pool python3=1)"
        )
        return
    out.append(f"warm kernel pool{server} (c.NbextPkg.kernel_pool), one idle kernel measured here:")
    ksm = KernelSpecManager()
    for name, count in sorted(pool.items()):
        reason = refusal(ksm, name, count)
        if reason is not None:
            out.append(f"  {name}: refused, {reason}")
            continue
        count = min(count, MOST_PER_SPEC)
        if name not in measured:
            measured[name] = measure_kernel(name, ksm)
        memory = measured[name]
        if isinstance(memory, Exception):
            out.append(f"  {name} x{count}: did not start here ({memory}); the server will refuse it")
            continue
        rss, pss = memory.get("rss"), memory.get("pss")
        if rss is None:
            out.append(f"  {name} x{count}: started; its memory cannot be read on this system")
            continue
        own = f", {pss / 2**20:.0f} MiB not shared with other processes (PSS)" if pss else ""
        out.append(
            f"  {name} x{count}: {rss / 2**20:.0f} MiB each (RSS){own}; "
            f"{count * rss / 2**20:.0f} MiB kept while no notebook uses them"
        )


def measure_kernel(name, ksm):
    """{rss, pss} of one started, idle kernel of kernelspec ``name``, or the error."""
    from jupyter_client import KernelManager

    from .kernel_pool import memory_of

    km = KernelManager(kernel_name=name, kernel_spec_manager=ksm)
    try:
        km.start_kernel()
        client = km.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
        finally:
            client.stop_channels()
        return memory_of(km.provisioner.pid)
    except Exception as error:
        return error
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)


def doctor(say=print, kernels=True):
    out = [f"nbext_pkg {__version__} in {sys.prefix} (Python {sys.version.split()[0]})"]
    for dist in ("notebook", "nbclassic", "jupyter_server", "tornado", "jupyter_core"):
        out.append(f"  {dist}: {version_of(dist) or 'not installed'}")
    prefer = os.environ.get("JUPYTER_PREFER_ENV_PATH")
    out.append(
        "config folders, the first wins"
        + (" (JUPYTER_PREFER_ENV_PATH=" + prefer + ")" if prefer is not None else "")
        + (", this environment's before the user's" if in_virtual_env() and prefer not in ("0", "no") else "")
        + ":"
    )
    out.extend(f"  {p}" for p in jupyter_core.paths.jupyter_config_path())
    problems = []
    diagnose_files(out, problems)
    for part in PARTS:
        if version_of(part.needs) is None:
            out.append(f"{part.name}: skipped, {part.needs} is not installed")
            continue
        diagnose_part(part, out, problems)
    if kernels:
        measured = {}
        for server, base in SERVER_CONFIGS:
            pool = server_config(base).get("NbextPkg", {}).get("kernel_pool", {})
            diagnose_pool(out, dict(pool), f" for {server} ({base})", measured)
    if problems:
        out.append(f"{len(problems)} problem{'s' if len(problems) > 1 else ''}:")
        for what, fix in problems:
            out.append(f"  - {what}\n    fix: {fix}")
        out.append("Restart the notebook server after fixing.")
    else:
        out.append("All is well. If the page still lacks nbext_pkg, restart the notebook server.")
    say("\n".join(out))
    return 1 if problems else 0
