"""``jupyter nbext_pkg install | uninstall | doctor | verify | open`` (also ``jupyter
contrib nbext_pkg ...`` and ``python -m nbext_pkg ...``).

The command line only: install / uninstall are in install.py (every part where the ``pip
install`` defaults do not apply, read from the install hooks), doctor in doctor.py (where
each part is enabled or disabled, which file wins, and the command that fixes it).

verify checks a bundle against its manifest without writing anything; open opens a
bundle (or any zip, tar, tar.gz) into a new folder by the rules of bundlers/extract.py,
within the ``c.NbextPkg.open_*`` limits. Both exit 0 when all is well, 1 otherwise.
"""

import os
import sys

from jupyter_core.application import JupyterApp
from traitlets import Bool

from ._version import __version__
from .bundlers import extract
from .config import NbextPkg
from .doctor import doctor
from .install import install, uninstall

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
