"""``jupyter nbext_pkg install | uninstall``: every part, where the ``pip install``
defaults do not apply.

The parts are the install hooks of ``__init__.py`` read as configuration: the nbextension
files, one page module per nbconfig section, the bundler, and the server extension for
notebook 6 and for jupyter_server. Config files are written through the notebook's own
``BaseJSONConfigManager``, as ``jupyter nbextension enable`` writes them; only our own
keys change, and a config file left empty by uninstall is removed.
"""

import json
import os
import shutil
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import jupyter_core.paths
from notebook.config_manager import BaseJSONConfigManager

from . import (
    _jupyter_bundlerextension_paths,
    _jupyter_nbextension_paths,
    _jupyter_server_extension_paths,
    _jupyter_server_extension_points,
)
from ._version import __version__

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Part:
    name: str
    folder: str  # "" for the config folder itself, "nbconfig" for front-end sections
    file: str  # file name without .json
    keys: tuple  # the path to our key inside the file
    value: object  # what "enabled" looks like
    enable: str  # the command that enables it, without --user / --sys-prefix
    needs: str  # the distribution this part is for

    def enabled(self):
        """The config that enables this part, as a nested dict."""
        data = self.value
        for key in reversed(self.keys):
            data = {key: data}
        return data


def parts():
    """What the install hooks declare, as the config entries that enable it."""
    found = [
        Part(
            f"{hook['section']} page module",
            "nbconfig",
            hook["section"],
            ("load_extensions", hook["require"]),
            True,
            f"jupyter nbextension enable {hook['require']} --section={hook['section']}",
            "notebook",
        )
        for hook in _jupyter_nbextension_paths()
    ]
    for hook in _jupyter_bundlerextension_paths():
        bundler = {k: v for k, v in hook.items() if k != "name"}
        found.append(
            Part(
                f"bundler (Download as > {hook['label']})",
                "nbconfig",
                "notebook",
                ("bundlerextensions", hook["name"]),
                bundler,
                f"jupyter bundlerextension enable --py {hook['module_name'].split('.')[0]}",
                "notebook",
            )
        )
    for hook in _jupyter_server_extension_paths():
        found.append(
            Part(
                "server extension for notebook 6",
                "",
                "jupyter_notebook_config",
                ("NotebookApp", "nbserver_extensions", hook["module"]),
                True,
                f"jupyter serverextension enable --py {hook['module']}",
                "notebook",
            )
        )
    for hook in _jupyter_server_extension_points():
        found.append(
            Part(
                "server extension for jupyter_server (nbclassic, JupyterHub)",
                "",
                "jupyter_server_config",
                ("ServerApp", "jpserver_extensions", hook["module"]),
                True,
                f"jupyter server extension enable {hook['module']}",
                "jupyter_server",
            )
        )
    return tuple(found)


PARTS = parts()
# The nbextension's files: src and dest of the (one) folder the hooks install.
(FILES,) = {(hook["src"], hook["dest"]) for hook in _jupyter_nbextension_paths()}
STATIC = HERE / FILES[0]
NBEXTENSION = FILES[1]


def packaged_config():
    """The files ``pip install`` puts under <prefix>/etc/jupyter (jupyter-config/ in the
    checkout): relative path -> content, one ``<name>.d/nbext_pkg.json`` per config file."""
    out = {}
    for part in PARTS:
        rel = str(Path(part.folder, part.file + ".d", NBEXTENSION + ".json"))
        merge(out.setdefault(rel, {}), part.enabled())
    return out


def merge(target, new):
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = value


# -- reading config files ------------------------------------------------------


def read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def dig(data, keys):
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None, False
        data = data[key]
    return data, True


def part_file(config_dir, part):
    return Path(config_dir, part.folder, part.file + ".json")


def files_in_order(config_dir, part):
    """The files of one config folder that can set ``part``, lowest priority first."""
    base = Path(config_dir, part.folder)
    found = sorted((base / (part.file + ".d")).glob("*.json"))
    return found + [base / (part.file + ".json")]


def is_enabled(part, value):
    if part.value is True:
        return value is True
    return isinstance(value, dict) and value.get("module_name") == part.value["module_name"]


def manager(config_dir, part):
    return BaseJSONConfigManager(config_dir=str(Path(config_dir, part.folder)))


# -- install / uninstall ------------------------------------------------------


def in_virtual_env():
    return sys.prefix != getattr(sys, "base_prefix", sys.prefix) or os.path.exists(
        os.path.join(sys.prefix, "conda-meta")
    )


def target_dirs(user, sys_prefix):
    """(flag, config folder, data folder); neither flag: this environment's inside
    a virtual environment (where it wins), else the user's."""
    if not (user or sys_prefix):
        sys_prefix = in_virtual_env()
    if sys_prefix:
        return "--sys-prefix", Path(sys.prefix, "etc", "jupyter"), Path(sys.prefix, "share", "jupyter")
    return (
        "--user",
        Path(jupyter_core.paths.jupyter_config_dir()),
        Path(jupyter_core.paths.jupyter_data_dir()),
    )


def remove_files(dest):
    """Remove our installed folder (or link to it); whether there was one."""
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
        return True
    if dest.is_dir():
        shutil.rmtree(dest)
        return True
    return False


def install(user=False, sys_prefix=False, symlink=False, say=print):
    flag, config_dir, data_dir = target_dirs(user, sys_prefix)
    dest = data_dir / "nbextensions" / NBEXTENSION
    remove_files(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if symlink:
        dest.symlink_to(STATIC.resolve(), target_is_directory=True)
        say(f"linked {dest} -> {STATIC.resolve()}")
    else:
        shutil.copytree(STATIC, dest, ignore=shutil.ignore_patterns("__pycache__"))
        say(f"copied the page modules to {dest}")
    for part in PARTS:
        path = part_file(config_dir, part)
        existed = path.exists()
        manager(config_dir, part).update(part.file, part.enabled())
        if not existed and read_json(path) == {}:
            path.unlink()  # a <name>.d/ file of the folder enables it already
        say(f"enabled the {part.name} in {path}")
    say(f"nbext_pkg {__version__} is set up ({flag}); restart the notebook server to use it.")
    return 0


def uninstall(user=False, sys_prefix=False, say=print):
    flag, config_dir, data_dir = target_dirs(user, sys_prefix)
    dest = data_dir / "nbextensions" / NBEXTENSION
    if remove_files(dest):
        say(f"removed {dest}")
    for part in PARTS:
        path = part_file(config_dir, part)
        _, present = dig(read_json(path), part.keys)
        if present:
            # None removes the key (and every dict it leaves empty on the way up).
            manager(config_dir, part).update(part.file, replace(part, value=None).enabled())
            if read_json(path) == {}:
                path.unlink()
            say(f"removed the {part.name} from {path}")
    say(f"nbext_pkg's {flag} set-up is removed; restart the notebook server.")
    return 0
