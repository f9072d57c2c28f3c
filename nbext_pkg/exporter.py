"""The notebook bundle without a browser: an nbconvert exporter.

    jupyter nbconvert --to nbext_pkg_bundle some/notebook.ipynb

writes ``some/notebook.zip`` through the same pipeline, safety rules and manifest as
the download. The root that no file may leave is the notebook's folder unless
``--NbextPkgBundleExporter.root_dir=...`` says otherwise; the limits are the
server's (``--NbextPkg.max_bundle_bytes=...``).

On the command line the exporter writes the file itself, never through a link:
into a temporary file in the target's folder, moved over the target only once it is
whole, so a full disk or a crash never replaces a good bundle with a broken one (and
nbconvert's own writer, which would truncate the target first, is told it is done).
``--stdout`` gets the archive's bytes. A bad input, an unwritable folder or a full
disk ends the program with one sentence on stderr and exit status 1; a ``zip`` next
to the notebook that nbext_pkg did not write, or a link in its place, is never
overwritten. Elsewhere (a server's nbconvert route) the bundle is returned as bytes.

The exporter sets no ``export_from_notebook``: the classic notebook's Download
as menu would then list it beside the bundler's own entry, under the same name.
"""

import os
import sys
import tempfile

from nbconvert.exporters import Exporter
from nbconvert.writers import FilesWriter, StdoutWriter, WriterBase
from traitlets import Unicode, default

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
        from .bundlers import options as options_mod
        from .bundlers.contents import Nowhere
        from .bundlers.pipeline import NotBundled, local_tree, prepare

        app = _nbconvert_app()
        if app is None and _on_an_event_loop():
            # notebook 6 runs its nbconvert routes on the server's event loop: everything
            # else the server does would wait for the whole bundle.
            raise BundleError(
                "This route would make the bundle on the server's event loop; "
                "download it from <base_url>/nbext_pkg/bundle/<path>, which "
                "streams it."
            )
        options = options_mod.Options.from_settings(NbextPkg(config=self.config))
        target = _target(resources, self.file_extension)
        try:
            if app is None and not (resources.get("metadata") or {}).get("path"):
                # A server's POST /nbconvert/nbext_pkg_bundle: only the content is given, and
                # the file its name suggests is nobody's business here.
                name = os.path.basename((resources.get("metadata") or {}).get("name") or "notebook")
                # Its references are listed as skipped, "not-looked-for".
                bundle = prepare(
                    name + ".ipynb",
                    options,
                    tree=Nowhere(),
                    model={"content": notebook},
                    asked={"format": "zip"},
                    storage=None,
                )
            else:
                root, rel = self._where(resources, app)
                if target:
                    self._refuse_to_overwrite(target)
                bundle = prepare(rel, options, tree=local_tree(root, options), asked={"format": "zip"})
        except (NotBundled, options_mod.PlanTimeout) as error:
            raise BundleError(str(error).replace("the server's limit", "the limit")) from None
        if app is not None and isinstance(app.writer, (FilesWriter, StdoutWriter)):
            app.writer = _AlreadyWritten(app.writer, parent=app)
        if target:
            resources["nbext_pkg_written"] = self._write_file(bundle, target)
            return b""
        if app is not None and isinstance(_writer(app), StdoutWriter):
            out = sys.stdout.buffer
            self._write(bundle, out, "standard output")
            out.flush()
            resources["nbext_pkg_written"] = "<stdout>"
            return b""
        with tempfile.TemporaryFile(prefix="nbext_pkg-") as out:
            self._write(bundle, out, "a temporary file")
            out.seek(0)
            return out.read()  # a server's nbconvert route writes bytes only

    def _write(self, bundle, out, where):
        from .bundlers.pipeline import SinkFailed

        try:
            bundle.write(out)
        except SinkFailed as error:
            cause = error.__cause__
            raise BundleError(
                f"{where} could not be written: {getattr(cause, 'strerror', None) or cause}."
            ) from None

    def _write_file(self, bundle, target):
        """Write ``target`` through a temporary file beside it; return its path."""
        folder = os.path.dirname(target)
        try:
            fd, temporary = tempfile.mkstemp(
                dir=folder, prefix=f".{os.path.basename(target)}.", suffix=".part"
            )
        except OSError as error:
            raise BundleError(f"{target} could not be written: {error.strerror}.") from None
        out = os.fdopen(fd, "wb")
        try:
            try:
                os.fchmod(fd, _mode_for(target))
            except OSError:  # a file system without modes (vfat, some CIFS): its own stand
                pass
            try:
                self._write(bundle, out, target)
                out.flush()
                os.fsync(out.fileno())
            except OSError as error:
                raise BundleError(f"{target} could not be written: {error.strerror}.") from None
            finally:
                try:
                    out.close()
                except OSError:  # what was left in its buffer had no room either
                    pass
            # Put there while the bundle was made?
            self._refuse_to_overwrite(target)
            try:
                os.replace(temporary, target)
            except OSError as error:
                raise BundleError(f"{target} could not be written: {error.strerror}.") from None
        except BaseException:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise
        self.log.info("Writing %d bytes to %s", os.path.getsize(target), target)
        return target

    def _where(self, resources, app):
        """(root, path below it) of the notebook to bundle. In a server (its GET
        /nbconvert/ route) the notebook must lie inside the server's own root by the rules
        its files obey; the bundle's root is then its folder, as on the command line."""
        from .bundlers.paths import hidden, inside

        source = self._source(resources)
        root = os.path.realpath(self.root_dir or os.path.dirname(source))
        if not os.path.isdir(root):
            raise BundleError(f"The root folder {self.root_dir} is not a folder.")
        real = os.path.realpath(source)
        if not inside(real, root):
            raise BundleError(
                f"{source} is not inside the root folder {root}: give a root_dir that holds the notebook."
            )
        if app is None:
            server = _server_root()
            if (
                server is None
                or not inside(real, server[0])
                or (not server[1] and hidden(os.path.relpath(real, server[0])))
            ):
                raise BundleError(f"{source} is not a notebook inside the server's root.")
        return root, os.path.relpath(real, root).replace(os.sep, "/")

    def _source(self, resources):
        source = resources.get("nbext_pkg_source")
        if source:
            return source
        meta = resources.get("metadata") or {}
        if not meta.get("name"):
            raise BundleError(
                "The notebook's file is not known, so neither are the files it "
                "refers to: convert a notebook file."
            )
        return os.path.abspath(os.path.join(meta.get("path") or ".", meta["name"] + ".ipynb"))

    def _refuse_to_overwrite(self, target):
        """Where the bundle goes must hold no link and no file nbext_pkg did not write."""
        import stat

        from .bundlers.pipeline import is_our_bundle

        if os.path.islink(target):
            raise BundleError(
                f"{target} is a symbolic link: nbext_pkg writes no bundle through "
                "one; remove it or name the bundle with --output."
            )
        if os.path.lexists(target) and not stat.S_ISREG(os.lstat(target).st_mode):
            raise BundleError(f"{target} is not a file: move it away or name the bundle with --output.")
        if os.path.lexists(target) and not is_our_bundle(target):
            raise BundleError(
                f"{target} already exists and is not a bundle nbext_pkg made; "
                "move it away or name the bundle with --output."
            )

    def _fail(self, error):
        if _on_command_line():
            print(f"nbext_pkg_bundle: {error}", file=sys.stderr)
            raise SystemExit(1)
        raise error


def _on_an_event_loop():
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _server_root():
    """(real root, hidden files allowed) of the notebook server this runs in, or None."""
    from traitlets.config import Application

    app = Application.instance() if Application.initialized() else None
    cm = getattr(app, "contents_manager", None)
    root = getattr(cm, "root_dir", None)
    return (os.path.realpath(root), bool(getattr(cm, "allow_hidden", False))) if root else None


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


def _mode_for(target):
    """The mode the bundle's file gets: the one it replaces, or what the umask allows
    (mkstemp's own 0600 would hide the bundle from the group that could read it before)."""
    try:
        return os.stat(target).st_mode & 0o777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


class _AlreadyWritten(WriterBase):
    """nbconvert's writer, told that the bundles it is given were written already
    (its FilesWriter would open the target, through any link, and truncate it first;
    its StdoutWriter takes text only). Other outputs go to it as before."""

    def __init__(self, writer, **kwargs):
        super().__init__(**kwargs)
        self.writer = writer

    def write(self, output, resources, **kwargs):
        written = resources.get("nbext_pkg_written")
        if written is not None:
            return written
        return self.writer.write(output, resources, **kwargs)


def _writer(app):
    writer = app.writer
    return writer.writer if isinstance(writer, _AlreadyWritten) else writer


def _target(resources, extension):
    """The file ``jupyter nbconvert`` is about to write, or None (another writer, stdout)."""
    app = _nbconvert_app()
    if app is None or not isinstance(_writer(app), FilesWriter) or "unique_key" not in resources:
        return None
    name = resources["unique_key"]
    if app.use_output_suffix and app.output_base == "{notebook_name}":
        name += resources.get("output_suffix", "")
    folder = _writer(app).build_directory or (resources.get("metadata") or {}).get("path", "")
    return os.path.abspath(os.path.join(folder, name + extension))
