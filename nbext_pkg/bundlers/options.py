"""What a bundle request asks for, parsed once for every way in: our route, the
``/bundle/`` route, the nbconvert exporter.

A choice (format, HTML copy, requirements.txt) comes from the first layer that makes
one, in the order the page itself uses (static/settings.js): the request's query, the
notebook's metadata ``nbext_pkg.bundle``, the ``nbext_pkg`` key of the notebook and then
the common nbconfig section, the defaults. So a click on the stock Download as entry,
whose URL says only which bundler, gets the same bundle as our own entry.

Limits come from the server's ``c.NbextPkg`` settings. The cancel signal and the
deadline travel with the options, so every stage can stop when the client has left.
"""

import threading
import time
from dataclasses import dataclass, field

FORMATS = ("zip", "tar", "tar.gz")
YES, NO = ("1", "true", "yes"), ("0", "false", "no")
# query argument -> (metadata key, nbconfig key)
CHOICES = {
    "format": ("format", "bundle_format"),
    "html": ("html", "bundle_html"),
    "requirements": ("requirements", "bundle_requirements"),
}
DEFAULTS = {"format": "zip", "html": True, "requirements": True}


class BadOption(ValueError):
    """A query argument that makes no sense; the message says what to ask instead."""


class Cancelled(Exception):
    """The client left (or the server is stopping): every stage stops."""


class PlanTimeout(Exception):
    """Listing the bundle's files took longer than the plan's deadline."""


def _choice(name, value):
    """A layer's value for ``name`` as the pipeline uses it, or None when it makes no sense."""
    if name == "format":
        return value if value in FORMATS else None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in YES else False if text in NO else None


def from_query(get_argument):
    """The choices the query makes, {name: value}; BadOption for a value that makes none."""
    asked = {}
    fmt = get_argument("format", None)
    if fmt is not None:
        if fmt not in FORMATS:
            raise BadOption(
                f"Unknown bundle format {fmt!r}: ask for format=zip, format=tar or format=tar.gz."
            )
        asked["format"] = fmt
    for name in ("html", "requirements"):
        value = get_argument(name, None)
        if value is not None:
            if _choice(name, value) is None:
                raise BadOption(
                    f"{name}={value.strip().lower()!r} is neither yes nor no: ask for {name}=1 or {name}=0."
                )
            asked[name] = _choice(name, value)
    return asked


def choose(asked, bundle=None, nbconfig_layers=()):
    """{format, html, requirements}: the query's choices, then the notebook's metadata
    ``nbext_pkg.bundle`` (``bundle``), then the nbconfig layers (the page's section first,
    then common), then the defaults."""
    layers = [(bundle if isinstance(bundle, dict) else {}, 0)]
    layers += [(layer if isinstance(layer, dict) else {}, 1) for layer in nbconfig_layers]
    chosen = {}
    for name, default in DEFAULTS.items():
        value = asked.get(name)
        for layer, column in layers:
            if value is not None:
                break
            raw = layer.get(CHOICES[name][column])
            value = None if raw is None else _choice(name, raw)
        chosen[name] = default if value is None else value
    return chosen


@dataclass
class Options:
    """One bundle's choices and limits, and its cancel signal."""

    format: str = "zip"
    html: bool = True
    requirements: bool = True
    max_bytes: int = 2 * 1024**3
    max_files: int = 10_000
    max_notebook_bytes: int = 256 * 1024**2
    max_contents_file_bytes: int = 256 * 1024**2
    embed_max_bytes: int = 8 * 1024**2
    embed_total_bytes: int = 64 * 1024**2
    html_timeout: float = 60.0
    html_max_memory: int = 1024**3
    plan_timeout: float = 30.0
    base_url: str = "/"
    allow_hidden: bool = False
    # kernelspec name -> spec (argv, env, language): whose interpreter pins requirements.txt
    # (environment.py); None: this environment's jupyter_client finds it.
    kernel_specs: object = None
    requirements_timeout: float = 10.0
    cancel: threading.Event = field(default_factory=threading.Event)
    deadline: float = None

    @classmethod
    def from_settings(cls, settings, **choices):
        """Options with the limits of a config.NbextPkg."""
        return cls(
            max_bytes=settings.max_bundle_bytes,
            max_files=settings.max_bundle_files,
            max_notebook_bytes=settings.max_notebook_bytes,
            max_contents_file_bytes=settings.max_contents_file_bytes,
            embed_max_bytes=settings.bundle_embed_max_bytes,
            embed_total_bytes=settings.bundle_embed_total_bytes,
            html_timeout=settings.bundle_html_timeout,
            html_max_memory=settings.bundle_html_max_memory,
            plan_timeout=settings.bundle_plan_timeout,
            requirements_timeout=settings.bundle_requirements_timeout,
            **choices,
        )

    def start_plan(self):
        self.deadline = time.monotonic() + self.plan_timeout

    def check(self):
        """Raise Cancelled when the client left, PlanTimeout past the plan's deadline."""
        if self.cancel.is_set():
            raise Cancelled()
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise PlanTimeout(
                f"Listing the files of this bundle took longer than {self.plan_timeout:g} s "
                "(c.NbextPkg.bundle_plan_timeout): link fewer or smaller folders, or narrow "
                "the notebook's nbext_pkg.include globs."
            )
