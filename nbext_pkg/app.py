"""``jupyter nbext_pkg install | uninstall | doctor | verify | open`` (also ``jupyter
contrib nbext_pkg ...`` and ``python -m nbext_pkg ...``).

install / uninstall set up or remove every part where the ``pip install``
defaults do not apply: the nbextension files, both page modules, the bundler
and the server extension for notebook 6 and for jupyter_server. They edit only
our own keys, and remove a config file they leave empty.

doctor reports, for the Python environment it runs in, where each part is
enabled or disabled, which file wins and why (jupyter_core's order of config
folders: the first wins; inside a folder, ``<name>.json`` over ``<name>.d/``),
and what to do about each problem, with the exact command. Exit status 0 when
all is well, 1 otherwise.

verify checks a bundle against its manifest without writing anything; open opens a
bundle (or any zip, tar, tar.gz) into a new folder by the rules of bundlers/extract.py,
within the ``c.NbextPkg.open_*`` limits. Both exit 0 when all is well, 1 otherwise.
"""

import filecmp
import json
import os
import shutil
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

from jupyter_core.application import JupyterApp
from traitlets import Bool

from . import _jupyter_bundlerextension_paths
from ._version import __version__
from .bundlers import extract
from .config import NbextPkg

STATIC = Path(__file__).parent / "static"
BUNDLER = {k: v for k, v in _jupyter_bundlerextension_paths()[0].items() if k != "name"}


@dataclass(frozen=True)
class Part:
    name: str
    folder: str  # "" for the config folder itself, "nbconfig" for front-end sections
    file: str  # file name without .json
    keys: tuple  # the path to our key inside the file
    value: object  # what "enabled" looks like
    enable: str  # the command that enables it, without --user / --sys-prefix
    needs: str  # the distribution this part is for


PARTS = (
    Part(
        "tree page module",
        "nbconfig",
        "tree",
        ("load_extensions", "nbext_pkg/tree"),
        True,
        "jupyter nbextension enable nbext_pkg/tree --section=tree",
        "notebook",
    ),
    Part(
        "notebook page module",
        "nbconfig",
        "notebook",
        ("load_extensions", "nbext_pkg/notebook"),
        True,
        "jupyter nbextension enable nbext_pkg/notebook --section=notebook",
        "notebook",
    ),
    Part(
        "bundler (Download as > Notebook bundle)",
        "nbconfig",
        "notebook",
        ("bundlerextensions", "nbext_pkg_bundle"),
        BUNDLER,
        "jupyter bundlerextension enable --py nbext_pkg",
        "notebook",
    ),
    Part(
        "server extension for notebook 6",
        "",
        "jupyter_notebook_config",
        ("NotebookApp", "nbserver_extensions", "nbext_pkg"),
        True,
        "jupyter serverextension enable --py nbext_pkg",
        "notebook",
    ),
    Part(
        "server extension for jupyter_server (nbclassic, JupyterHub)",
        "",
        "jupyter_server_config",
        ("ServerApp", "jpserver_extensions", "nbext_pkg"),
        True,
        "jupyter server extension enable nbext_pkg",
        "jupyter_server",
    ),
)


# -- reading and writing config files --------------------------------------


def read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def write_json(path, data):
    """Write ``data``, or remove the file when nothing is left in it."""
    path = Path(path)
    if not data:
        if path.exists():
            path.unlink()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".nbext_pkg-tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def dig(data, keys):
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None, False
        data = data[key]
    return data, True


def set_key(data, keys, value):
    for key in keys[:-1]:
        data = data.setdefault(key, {})
    data[keys[-1]] = value


def drop_key(data, keys):
    """Remove ``keys`` and every dict left empty on the way up."""
    if len(keys) == 1:
        data.pop(keys[0], None)
        return
    child = data.get(keys[0])
    if isinstance(child, dict):
        drop_key(child, keys[1:])
        if not child:
            data.pop(keys[0])


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


# -- install / uninstall ------------------------------------------------------


def target_dirs(user, sys_prefix):
    """(flag, config folder, data folder); neither flag: this environment's inside
    a virtual environment (where it wins), else the user's."""
    from jupyter_core.paths import jupyter_config_dir, jupyter_data_dir

    if not (user or sys_prefix):
        sys_prefix = in_virtual_env()
    if sys_prefix:
        return "--sys-prefix", Path(sys.prefix, "etc", "jupyter"), Path(sys.prefix, "share", "jupyter")
    return "--user", Path(jupyter_config_dir()), Path(jupyter_data_dir())


def in_virtual_env():
    return sys.prefix != getattr(sys, "base_prefix", sys.prefix) or os.path.exists(
        os.path.join(sys.prefix, "conda-meta")
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
    dest = data_dir / "nbextensions" / "nbext_pkg"
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
        data = read_json(path)
        set_key(data, part.keys, part.value)
        write_json(path, data)
        say(f"enabled the {part.name} in {path}")
    say(f"nbext_pkg {__version__} is set up ({flag}); restart the notebook server to use it.")
    return 0


def uninstall(user=False, sys_prefix=False, say=print):
    flag, config_dir, data_dir = target_dirs(user, sys_prefix)
    dest = data_dir / "nbextensions" / "nbext_pkg"
    if remove_files(dest):
        say(f"removed {dest}")
    for part in PARTS:
        path = part_file(config_dir, part)
        data = read_json(path)
        _, present = dig(data, part.keys)
        if present:
            drop_key(data, part.keys)
            write_json(path, data)
            say(f"removed the {part.name} from {path}")
    say(f"nbext_pkg's {flag} set-up is removed; restart the notebook server.")
    return 0


# -- doctor -------------------------------------------------------------------


def version_of(dist):
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def flag_for(config_dir):
    from jupyter_core.paths import jupyter_config_dir

    if Path(config_dir) == Path(jupyter_config_dir()):
        return "--user"
    if Path(config_dir) == Path(sys.prefix, "etc", "jupyter"):
        return "--sys-prefix"
    return None


def data_flag(folder):
    """The install flag that writes to the data folder holding ``folder``
    (an installed ``<data>/nbextensions/nbext_pkg``)."""
    from jupyter_core.paths import jupyter_data_dir

    real = os.path.realpath(Path(folder).parent.parent)  # <data>/nbextensions/nbext_pkg
    if real == os.path.realpath(jupyter_data_dir()):
        return "--user"
    if real == os.path.realpath(os.path.join(sys.prefix, "share", "jupyter")):
        return "--sys-prefix"
    return "--sys-prefix" if in_virtual_env() else "--user"


def diagnose_files(out, problems):
    from jupyter_core.paths import jupyter_path

    wanted = sorted(p.name for p in STATIC.iterdir() if p.is_file())
    found = [Path(p, "nbext_pkg") for p in jupyter_path("nbextensions") if Path(p, "nbext_pkg").is_dir()]
    out.append("nbextension files (the first folder found is the one served):")
    if not found:
        out.append("  not installed in any of: " + ", ".join(jupyter_path("nbextensions")))
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
    from jupyter_core.paths import jupyter_config_path

    folders = jupyter_config_path()  # highest priority first
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
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config import Config
    from traitlets.config.loader import JSONFileConfigLoader, PyFileConfigLoader

    merged = Config()
    files = SimpleNamespace(folder="", file=base)  # what files_in_order needs of a part
    for folder in reversed(jupyter_config_path()):
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
    from jupyter_core.paths import jupyter_config_path

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
    out.extend(f"  {p}" for p in jupyter_config_path())
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


# -- the command-line apps ----------------------------------------------------


class _Quiet(JupyterApp):
    def migrate_config(self):
        """Not here: these commands write only what they say they write."""

    def exit_with(self, message):
        print(f"jupyter nbext_pkg: {message}", file=sys.stderr)
        self.exit(2)


class _Base(_Quiet):
    version = __version__
    user = Bool(False, help="Use the user's Jupyter folders.").tag(config=True)
    sys_prefix = Bool(False, help="Use this Python environment's Jupyter folders.").tag(config=True)
    flags = {
        "user": ({"_Base": {"user": True}}, "The user's Jupyter folders (~/.jupyter, ...)."),
        "sys-prefix": ({"_Base": {"sys_prefix": True}}, f"This environment's folders ({sys.prefix})."),
    }

    def _check(self):
        if self.user and self.sys_prefix:
            self.exit_with("Give --user or --sys-prefix, not both.")


class InstallApp(_Base):
    name = "jupyter-nbext_pkg-install"
    description = "Install nbext_pkg's page modules and enable every part (--user or --sys-prefix)."
    symlink = Bool(False, help="Link the files instead of copying them (development).").tag(config=True)
    flags = dict(_Base.flags, symlink=({"InstallApp": {"symlink": True}}, "Link instead of copying."))

    def start(self):
        self._check()
        self.exit(install(self.user, self.sys_prefix, self.symlink))


class UninstallApp(_Base):
    name = "jupyter-nbext_pkg-uninstall"
    description = "Remove what `jupyter nbext_pkg install` set up (--user or --sys-prefix)."

    def start(self):
        self._check()
        self.exit(uninstall(self.user, self.sys_prefix))


class DoctorApp(_Quiet):
    name = "jupyter-nbext_pkg-doctor"
    version = __version__
    description = "Say where each part of nbext_pkg is enabled or disabled, why, and how to fix it."

    def start(self):
        self.exit(doctor())


# -- verify / open --------------------------------------------------------------


def verify(path, limits, say=print):
    checked = extract.audit(path, limits)
    for problem in checked.problems:
        say(problem)
    if checked.problems:
        return 1
    say(f"{path} is a good bundle: its {checked.members} members match its manifest.")
    return 0


def open_bundle(path, folder, limits, say=print, complain=None):
    """Open ``path`` beside itself under a free name, or into ``folder``, which must not exist."""
    complain = complain or (lambda line: print(f"jupyter nbext_pkg: {line}", file=sys.stderr))
    if folder is None:
        parent, name, exact = os.path.dirname(os.path.abspath(path)), None, False
    else:
        (parent, name), exact = os.path.split(os.path.abspath(folder)), True
        if not os.path.isdir(parent):
            complain(f"{parent} is not a folder, so {name} cannot be made in it; nothing was opened.")
            return 1
    try:
        opened = extract.extract(path, parent, name=name, limits=limits, exact=exact)
    except extract.OpenFailed as error:
        complain(str(error))
        return 1
    say(f"Opened {path} into {opened.folder} ({opened.files} files, {opened.bytes} bytes).")
    for notebook in opened.notebooks:
        say(f"notebook: {notebook}")
    if not opened.notebooks:
        say("It holds no notebook.")
    for member, reason in opened.left_out:
        say(f"left out: {extract.shown(member)} ({reason})")
    for mismatch in opened.mismatches:
        say(f"mismatch: {mismatch}")
    if opened.manifest is None:
        say("It is not a bundle made by nbext_pkg: there was no manifest to check it against.")
    elif not opened.mismatches:
        say(f"Every member matches its manifest ({opened.manifest['path']}).")
    return 1 if opened.mismatches else 0


class _ArchiveApp(_Quiet):
    version = __version__
    # --NbextPkg.open_max_files=... on the command line, or in this app's config file.
    classes = [NbextPkg]

    def limits(self):
        return extract.limits_from(NbextPkg(parent=self))


class VerifyApp(_ArchiveApp):
    name = "jupyter-nbext_pkg-verify"
    description = "Check a notebook bundle against its manifest, writing nothing: verify BUNDLE."

    def start(self):
        if len(self.extra_args) != 1:
            self.exit_with("Give one bundle to check: jupyter nbext_pkg verify BUNDLE")
        self.exit(verify(self.extra_args[0], self.limits()))


class OpenApp(_ArchiveApp):
    name = "jupyter-nbext_pkg-open"
    description = (
        "Open a notebook bundle (or any zip, tar, tar.gz) into a new folder beside it, "
        "or into FOLDER, which must not exist: open BUNDLE [FOLDER]."
    )

    def start(self):
        if len(self.extra_args) not in (1, 2):
            self.exit_with(
                "Give the bundle, and the new folder if you like: jupyter nbext_pkg open BUNDLE [FOLDER]"
            )
        folder = self.extra_args[1] if len(self.extra_args) == 2 else None
        self.exit(open_bundle(self.extra_args[0], folder, self.limits()))


SUBCOMMANDS = {
    "install": (InstallApp, InstallApp.description),
    "uninstall": (UninstallApp, UninstallApp.description),
    "doctor": (DoctorApp, DoctorApp.description),
    "verify": (VerifyApp, VerifyApp.description),
    "open": (OpenApp, OpenApp.description),
}


class NbextPkgApp(_Quiet):
    name = "jupyter-nbext_pkg"
    version = __version__
    description = (
        "Set up, remove or diagnose nbext_pkg (install, uninstall, doctor), and check or "
        "open a notebook bundle (verify, open)."
    )
    subcommands = SUBCOMMANDS

    # The server's options, so that `jupyter nbext_pkg --help-all` lists them:
    # `jupyter notebook --help-all` prints its help before any extension loads.
    classes = [NbextPkg]

    def start(self):
        if self.subapp is None:
            self.print_help()
            self.exit(2)
        self.subapp.start()


def jupyter_contrib_core_app_subcommands():
    """`jupyter contrib nbext_pkg ...`, through jupyter_contrib_core's entry point."""
    return {"nbext_pkg": (NbextPkgApp, NbextPkgApp.description)}


main = NbextPkgApp.launch_instance
