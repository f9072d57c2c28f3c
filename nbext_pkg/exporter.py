"""The notebook bundle without a browser: an nbconvert exporter.

    jupyter nbconvert --to nbext_pkg_bundle some/notebook.ipynb

writes ``some/notebook.zip`` with the same plan, safety rules and manifest as
the download. The root that no file may leave is the notebook's folder unless
``--NbextPkgBundleExporter.root_dir=...`` says otherwise; the limits are the
server's (``--NbextPkg.max_bundle_bytes=...``).

The archive is built in an unnamed temporary file and handed to nbconvert's
writer as a memory map, so a bundle of gigabytes does not have to fit in
memory, and a bundle that fails leaves no file behind. On the command line a
bad input ends the program with one sentence on stderr and exit status 1; a
notebook-format ``zip`` next to the notebook that nbext_pkg did not write is
never overwritten.

The exporter sets no ``export_from_notebook``: the classic notebook's Download
as menu would then list it beside the bundler's own entry, under the same name.
"""

import mmap
import os
import sys
import tempfile

from nbconvert.exporters import Exporter
from traitlets import Unicode, default

from .bundlers.archive import FORMATS
from .config import NbextPkg


class BundleError(ValueError):
    """A bundle that cannot be made; the message says why, for a person."""


class NbextPkgBundleExporter(Exporter):
    """A zip of the notebook, the local files it refers to, an HTML copy,
    requirements.txt and MANIFEST.json."""

    output_mimetype = "application/zip"

    root_dir = Unicode(
        "",
        help="The folder no bundled file may leave. Empty: the notebook's own folder.",
    ).tag(config=True)

    @default("file_extension")
    def _file_extension_default(self):
        return ".zip"

    def from_filename(self, filename, resources=None, **kw):
        resources = dict(resources or {})
        resources["nbext_pkg_source"] = os.path.abspath(filename)
        try:
            return super().from_filename(filename, resources, **kw)
        except BundleError as error:
            self._fail(error)
        except OSError as error:
            self._fail(BundleError(f"{filename} could not be read: {error.strerror or error}."))

    def from_file(self, file_stream, resources=None, **kw):
        import nbformat

        name = getattr(file_stream, "name", "the input")
        try:
            notebook = nbformat.read(file_stream, as_version=4)
        except Exception as error:  # JSON, schema or encoding: all mean "not a notebook"
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise BundleError(f"{name} is not a notebook nbformat can read: {first_line}") from None
        return self.from_notebook_node(notebook, resources, **kw)

    def from_notebook_node(self, nb, resources=None, **kw):
        nb_copy, resources = super().from_notebook_node(nb, resources, **kw)
        try:
            data = self._bundle(nb_copy, resources)
        except BundleError as error:
            self._fail(error)
        return data, resources

    # -- the work ---------------------------------------------------------

    def _bundle(self, notebook, resources):
        import nbformat

        from .bundlers import html
        from .bundlers.build import write_bundle
        from .bundlers.plan import OverLimit, make_plan

        source = self._source(resources)
        root = os.path.realpath(self.root_dir or os.path.dirname(source))
        if not os.path.isdir(root):
            raise BundleError(f"The root folder {self.root_dir} is not a folder.")
        real = os.path.realpath(source)
        if os.path.commonpath([root, real]) != root:
            raise BundleError(f"{source} is not inside the root folder {root}: give a root_dir "
                              "that holds the notebook.")
        self._refuse_to_overwrite(resources)
        rel = os.path.relpath(real, root).replace(os.sep, "/")
        limits = NbextPkg(config=self.config)
        notebook_bytes = nbformat.writes(notebook).encode("utf-8")
        try:
            plan = make_plan(notebook, rel, root, base_url="/", allow_hidden=False,
                             max_bytes=limits.max_bundle_bytes, max_files=limits.max_bundle_files,
                             notebook_size=len(notebook_bytes))
        except OverLimit as error:
            raise BundleError(str(error).replace("the server's limit", "the limit")) from None
        with tempfile.TemporaryFile(prefix="nbext_pkg-") as out:
            write_bundle(out, FORMATS[0], plan, notebook, notebook_bytes,
                         lambda: html.render(notebook, plan.images))
            out.flush()
            if not _on_command_line():
                out.seek(0)
                return out.read()  # a server's nbconvert route writes bytes only
            # The file is already unlinked; the map keeps its data until nbconvert is done.
            return mmap.mmap(out.fileno(), 0, access=mmap.ACCESS_READ)

    def _source(self, resources):
        source = resources.get("nbext_pkg_source")
        if source:
            return source
        meta = resources.get("metadata") or {}
        if not meta.get("name"):
            raise BundleError("The notebook's file is not known, so neither are the files it "
                              "refers to: convert a notebook file.")
        return os.path.abspath(os.path.join(meta.get("path") or ".", meta["name"] + ".ipynb"))

    def _refuse_to_overwrite(self, resources):
        """On the command line, where nbconvert's file writer will put the bundle must
        not hold a file nbext_pkg did not write."""
        from .bundlers.build import is_our_bundle

        target = _target(resources, self.file_extension)
        if target and os.path.lexists(target) and not is_our_bundle(target):
            raise BundleError(f"{target} already exists and is not a bundle nbext_pkg made; "
                              "move it away or name the bundle with --output.")

    def _fail(self, error):
        if _on_command_line():
            print(f"nbext_pkg_bundle: {error}", file=sys.stderr)
            raise SystemExit(1)
        raise error


def _nbconvert_app():
    """The running ``jupyter nbconvert``, or None (in a server, the one application
    singleton is the server's)."""
    from nbconvert.nbconvertapp import NbConvertApp
    from traitlets.config import Application

    app = Application.instance() if Application.initialized() else None
    return app if isinstance(app, NbConvertApp) else None


def _on_command_line():
    """Whether this runs inside ``jupyter nbconvert`` (not a server's nbconvert route)."""
    return _nbconvert_app() is not None


def _target(resources, extension):
    """The file ``jupyter nbconvert`` is about to write, or None (another writer, stdout)."""
    from nbconvert.writers import FilesWriter

    app = _nbconvert_app()
    if app is None or not isinstance(app.writer, FilesWriter) or "unique_key" not in resources:
        return None
    name = resources["unique_key"]
    if app.use_output_suffix and app.output_base == "{notebook_name}":
        name += resources.get("output_suffix", "")
    folder = app.writer.build_directory or (resources.get("metadata") or {}).get("path", "")
    return os.path.abspath(os.path.join(folder, name + extension))
