"""bundlers/contents.py without a server: bundles whose files come through a contents
manager's API, with managers that behave as pgcontents and s3contents really do (no
sizes in listings, ``is_hidden`` False for everything, an invented model for a missing
path, base64 with line breaks), an asynchronous one, and a mixed one."""

import asyncio
import base64
import io
import json
import os
import threading
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from harness import wait_until
from tornado import web

from nbext_pkg.bundlers import contents, fetch, pipeline
from nbext_pkg.bundlers import options as options_mod
from nbext_pkg.bundlers import reader as reader_mod

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415408d763f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)


class StoreManager:
    """A contents manager over a dict {path: bytes}: folders are implied by paths, and
    ``folders`` adds empty ones. ``sizes``: whether listings and models give sizes
    (pgcontents does not); ``invent``: answer ``content=False`` for a missing path
    with a made-up file model (s3contents does); ``line_breaks``: base64 wrapped at
    76 characters (notebook 6's file manager)."""

    def __init__(self, files, *, sizes=False, invent=False, line_breaks=False, hidden=()):
        self.files = dict(files)
        self.sizes, self.invent, self.line_breaks = sizes, invent, line_breaks
        self.hidden = set(hidden)
        self.calls = []

    def _is_dir(self, path):
        return path == "" or any(p.startswith(path + "/") for p in self.files)

    def is_hidden(self, path):
        self.calls.append(("is_hidden", path))
        return path in self.hidden

    def _model(self, path, kind):
        model = {
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "type": kind,
            "format": None,
            "content": None,
            "last_modified": "2026-11-30T12:00:00Z",
        }
        if self.sizes and kind != "directory":
            model["size"] = len(self.files[path])
        return model

    def get(self, path, content=True, type=None, format=None):
        self.calls.append(("get", path, content, type))
        assert not path.startswith("/") and ".." not in path.split("/"), path
        if path in self.files and type != "directory":
            model = self._model(path, "file")
            if content:
                text = base64.b64encode(self.files[path]).decode("ascii")
                if self.line_breaks:
                    text = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))
                model["content"], model["format"] = text, "base64"
            return model
        if self._is_dir(path):
            model = self._model(path, "directory")
            if content:
                below = {
                    p[len(path) + 1 if path else 0 :].split("/")[0]
                    for p in self.files
                    if p.startswith(path + "/" if path else "")
                }
                model["content"] = [
                    self._model(
                        f"{path}/{n}" if path else n,
                        "directory" if self._is_dir(f"{path}/{n}" if path else n) else "file",
                    )
                    for n in sorted(below)
                ]
                model["format"] = "json"
            return model
        if self.invent and not content:
            return {"name": path, "path": path, "type": "file", "content": None}
        raise web.HTTPError(404, f"No such file: {path}")


class AsyncManager(StoreManager):
    async def get(self, *args, **kwargs):
        await asyncio.sleep(0)
        return super().get(*args, **kwargs)


def notebook_bytes(markdown, metadata=None):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(markdown)])
    nb.metadata.update(metadata or {})
    return nbformat.writes(nb).encode()


def bundle(manager, path="work/nb.ipynb", *, routes=None, run=None, **limits):
    """(zip file, manifest dict) of the bundle of ``path`` through ``manager``."""
    options = options_mod.Options(**limits)
    store = contents.Store(manager, run=run)
    tree = contents.ContentsTree(
        store,
        allow_hidden=False,
        check=options.check,
        routes=routes,
        file_limit=options.max_contents_file_bytes,
    )
    model = {"content": json.loads(manager.files[path])} if path in getattr(manager, "files", {}) else None
    sink = io.BytesIO()
    pipeline.prepare(
        path, options, tree=tree, model=model, asked={"requirements": False}, storage=store.name
    ).write(sink)
    zf = zipfile.ZipFile(sink)
    top = zf.namelist()[0].split("/")[0]
    return zf, json.loads(zf.read(f"{top}/MANIFEST.json")), top


def skipped(manifest):
    return {entry["reference"]: entry["reason"] for entry in manifest["skipped"]}


FILES = {
    "work/img/a.png": PNG,
    "work/data.csv": b"x,y\n1,2\n",
    "work/folder/one.txt": b"one",
    "work/folder/sub/two.txt": b"two",
    "work/.secret": b"SECRET",
    "work/private/.hidden/key": b"SECRET",
}
MARKDOWN = (
    "![a](img/a.png) [d](data.csv) [f](folder) [s](.secret) [k](private/.hidden/key) "
    "[m](missing.txt) [o](../../outside.txt) [abs](/etc/passwd)"
)


@pytest.mark.parametrize("kind", ["pgcontents-like", "s3contents-like", "line-breaks", "async"])
def test_every_reference_is_followed_through_the_api_by_the_disk_rules(kind):
    files = dict(FILES, **{"work/nb.ipynb": notebook_bytes(MARKDOWN)})
    manager = {
        "pgcontents-like": lambda: StoreManager(files),
        "s3contents-like": lambda: StoreManager(files, sizes=True, invent=True),
        "line-breaks": lambda: StoreManager(files, line_breaks=True),
        "async": lambda: AsyncManager(files),
    }[kind]()
    run, loop = None, None
    if kind == "async":
        loop = asyncio.new_event_loop()
        threading.Thread(target=loop.run_forever, daemon=True).start()
        run = contents.on_loop(loop, threading.Event())
    try:
        zf, manifest, top = bundle(manager, run=run)
    finally:
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
    names = sorted(n[len(top) + 1 :] for n in zf.namelist())
    assert names == [
        "MANIFEST.json",
        "data.csv",
        "folder/one.txt",
        "folder/sub/two.txt",
        "img/a.png",
        "nb.html",
        "nb.ipynb",
    ]
    for name in ("data.csv", "folder/one.txt", "folder/sub/two.txt", "img/a.png"):
        assert zf.read(f"{top}/{name}") == files[f"work/{name}"]
    assert skipped(manifest) == {
        ".secret": "hidden",
        "private/.hidden/key": "hidden",
        "missing.txt": "missing",
        "../../outside.txt": "outside-root",
        "/etc/passwd": "outside-root",
    }
    assert manifest["storage"] == type(manager).__name__
    assert all("storage" not in entry for entry in manifest["files"])
    # The HTML copy shows the image read through the API.
    assert f"data:image/png;base64,{base64.b64encode(PNG).decode()}" in zf.read(f"{top}/nb.html").decode()
    # Nothing hidden or outside the root was ever asked for.
    asked = {call[1] for call in manager.calls}
    assert not any(".secret" in p or ".hidden" in p or "outside" in p or "passwd" in p for p in asked), asked
    for name in zf.namelist():
        assert b"SECRET" not in zf.read(name)


def test_a_file_counts_only_when_its_content_comes_back():
    """s3contents answers get(content=False) for anything; a file listed, then gone, or
    whose model has no content, is missing: never an empty member."""
    files = {
        "nb.ipynb": notebook_bytes("[g](gone.txt) [e](empty.txt) [i](invented.txt)"),
        "gone.txt": b"soon gone",
        "empty.txt": b"has bytes",
    }

    class Flaky(StoreManager):
        def get(self, path, content=True, type=None, format=None):
            if content and type == "file" and path == "gone.txt":
                raise web.HTTPError(404, "gone")
            model = super().get(path, content, type, format)
            if content and path == "empty.txt":
                model["content"] = None
            return model

    zf, manifest, top = bundle(Flaky(files, sizes=True, invent=True), path="nb.ipynb")
    assert sorted(zf.namelist()) == [f"{top}/MANIFEST.json", f"{top}/nb.html", f"{top}/nb.ipynb"]
    assert skipped(manifest) == {"gone.txt": "missing", "empty.txt": "missing", "invented.txt": "missing"}


def test_hidden_by_the_managers_word_as_well_as_by_name():
    files = {
        "nb.ipynb": notebook_bytes("[a](shown.txt) [b](flagged.txt) [c](dir)"),
        "shown.txt": b"ok",
        "flagged.txt": b"SECRET",
        "dir/flagged": b"SECRET",
        "dir/ok": b"ok",
    }
    manager = StoreManager(files, hidden={"flagged.txt", "dir/flagged"})
    zf, manifest, top = bundle(manager, path="nb.ipynb")
    assert sorted(n for n in zf.namelist() if not n.endswith((".json", ".html", ".ipynb"))) == [
        f"{top}/dir/ok",
        f"{top}/shown.txt",
    ]
    assert skipped(manifest) == {"flagged.txt": "hidden"}


def test_per_file_limit_before_fetching_when_the_size_is_known_and_after_when_not():
    big = os.urandom(300_000)
    files = {"nb.ipynb": notebook_bytes("[b](big.bin) [s](small.bin)"), "big.bin": big, "small.bin": b"small"}
    for sizes in (True, False):
        manager = StoreManager(files, sizes=sizes)
        zf, manifest, top = bundle(manager, path="nb.ipynb", max_contents_file_bytes=200_000)
        assert skipped(manifest) == {"big.bin": "too-large"}
        assert zf.read(f"{top}/small.bin") == b"small"
        fetched = [c for c in manager.calls if c[:3] == ("get", "big.bin", True)]
        assert (fetched == []) is sizes, manager.calls
    # A file left out for its size takes nothing of the bundle's byte limit.
    _, manifest, _ = bundle(
        StoreManager(files, sizes=True),
        path="nb.ipynb",
        max_contents_file_bytes=200_000,
        max_bytes=len(files["nb.ipynb"]) + 1000,
    )
    assert skipped(manifest) == {"big.bin": "too-large"}


def test_the_bundle_limit_holds_for_sizes_learnt_while_reading():
    files = {"nb.ipynb": notebook_bytes("[d](d)"), **{f"d/{i}.bin": os.urandom(100_000) for i in range(5)}}
    limit = len(files["nb.ipynb"]) + 250_000
    _, manifest, _ = bundle(StoreManager(files), path="nb.ipynb", max_bytes=limit)
    assert [e["path"] for e in manifest["files"] if e["path"].startswith("d/")] == ["d/0.bin", "d/1.bin"]
    assert skipped(manifest) == {"d/2.bin": "limit", "d/3.bin": "limit", "d/4.bin": "limit"}
    # Known sizes are planned as on disk: the folder's rest is one "limit" skip...
    _, manifest, _ = bundle(StoreManager(files, sizes=True), path="nb.ipynb", max_bytes=limit)
    assert [e["path"] for e in manifest["files"] if e["path"].startswith("d/")] == ["d/0.bin", "d/1.bin"]
    assert skipped(manifest) == {"d": "limit"}
    # ... and files named one by one over the limit are refused before the first byte.
    files["nb.ipynb"] = notebook_bytes(" ".join(f"[{i}](d/{i}.bin)" for i in range(5)))
    with pytest.raises(pipeline.NotBundled) as refused:
        bundle(StoreManager(files, sizes=True), path="nb.ipynb", max_bytes=limit)
    assert refused.value.status == 413


def test_a_file_that_changed_between_listing_and_reading_is_left_out():
    files = {"nb.ipynb": notebook_bytes("[c](c.txt)"), "c.txt": b"before"}

    class Changing(StoreManager):
        def get(self, path, content=True, type=None, format=None):
            if content and type == "file":
                self.files["c.txt"] = b"after, longer"
            return super().get(path, content, type, format)

    _, manifest, _ = bundle(Changing(files, sizes=True), path="nb.ipynb")
    assert skipped(manifest) == {"c.txt": "changed"}


@pytest.mark.parametrize("damage", ["cut", "garbage"])
def test_damaged_base64_is_unreadable(damage):
    files = {"nb.ipynb": notebook_bytes("[c](c.bin)"), "c.bin": os.urandom(1000)}

    class Damaged(StoreManager):
        def get(self, path, content=True, type=None, format=None):
            model = super().get(path, content, type, format)
            if content and path == "c.bin":
                text = model["content"]
                model["content"] = text[:-3] if damage == "cut" else "@@@@" + text[4:] + "="
            return model

    zf, manifest, top = bundle(Damaged(files), path="nb.ipynb")
    assert skipped(manifest) == {"c.bin": "unreadable"}
    assert f"{top}/c.bin" not in zf.namelist()


def test_large_base64_is_decoded_in_slices_exactly(monkeypatch):
    monkeypatch.setattr(fetch, "_SLICE", 1000)  # many slices, odd boundaries
    data = os.urandom(123_457)
    for line_breaks in (False, True):
        files = {"nb.ipynb": notebook_bytes("[c](c.bin)"), "c.bin": data}
        zf, _, top = bundle(StoreManager(files, line_breaks=line_breaks), path="nb.ipynb")
        assert zf.read(f"{top}/c.bin") == data


def test_a_globbed_include_matches_the_listings():
    files = {
        "nb.ipynb": notebook_bytes("", {"nbext_pkg": {"include": ["data/**/*.csv", "none/*"]}}),
        "data/a.csv": b"a",
        "data/x/b.csv": b"b",
        "data/x/c.txt": b"c",
        "data/.h/d.csv": b"SECRET",
    }
    zf, manifest, top = bundle(StoreManager(files), path="nb.ipynb")
    assert sorted(e["path"] for e in manifest["files"])[:-2] == ["data/a.csv", "data/x/b.csv"]
    assert skipped(manifest) == {"none/*": "missing"}


def test_the_client_leaving_stops_the_reading():
    files = {"nb.ipynb": notebook_bytes("[d](d)"), **{f"d/{i}.bin": b"x" * 10 for i in range(20)}}
    options = options_mod.Options()

    class Leaving(StoreManager):
        def get(self, path, content=True, type=None, format=None):
            if content and type == "file" and path == "d/3.bin":
                options.cancel.set()
            return super().get(path, content, type, format)

    manager = Leaving(files)
    tree = contents.ContentsTree(contents.Store(manager), check=options.check)
    prepared = pipeline.prepare(
        "nb.ipynb",
        options,
        tree=tree,
        model={"content": json.loads(files["nb.ipynb"])},
        asked={"html": False, "requirements": False},
    )
    with pytest.raises(options_mod.Cancelled):
        prepared.write(io.BytesIO())
    assert not [c for c in manager.calls if c[:2] == ("get", "d/5.bin")]


class LocalManager:
    """What mixed_routes looks for in a file manager: its root_dir and _get_os_path."""

    def __init__(self, root):
        self.root_dir = str(root)
        self.calls = []

    def _get_os_path(self, path):
        return os.path.join(self.root_dir, path)

    def get(self, path, **kwargs):
        self.calls.append(path)
        raise AssertionError("files kept on this disk are read from the disk")


class Hybrid:
    def __init__(self, managers):
        self.managers = managers

    def is_hidden(self, path):
        return False

    def get(self, path, content=True, type=None, format=None):
        first, _, rest = path.partition("/")
        if first in self.managers and first:
            model = self.managers[first].get(rest, content=content, type=type, format=format)
        else:
            model = self.managers[""].get(path, content=content, type=type, format=format)
        return model


def test_a_mixed_manager_reads_each_path_the_way_its_manager_allows(tmp_path):
    local = tmp_path / "local"
    (local / "pics").mkdir(parents=True)
    (local / "pics" / "p.png").write_bytes(PNG)
    (tmp_path / "outside.txt").write_bytes(b"SECRET")
    (local / "link.txt").symlink_to(tmp_path / "outside.txt")
    remote = StoreManager(
        {
            "nb.ipynb": notebook_bytes(
                "![p](../local/pics/p.png) [r](r.txt) [l](../local/link.txt) [all](../local)"
            ),
            "r.txt": b"remote",
        }
    )
    local_manager = LocalManager(local)
    hybrid = Hybrid({"s3": remote, "local": local_manager})
    routes = contents.mixed_routes(hybrid, pipeline_local_root)
    assert routes == {"s3": (None, "StoreManager"), "local": (str(local), "LocalManager")}
    options = options_mod.Options()
    tree = contents.ContentsTree(contents.Store(hybrid), check=options.check, routes=routes)
    sink = io.BytesIO()
    pipeline.prepare(
        "s3/nb.ipynb",
        options,
        tree=tree,
        model={"content": json.loads(remote.files["nb.ipynb"])},
        asked={"requirements": False},
        storage="Hybrid",
    ).write(sink)
    zf = zipfile.ZipFile(sink)
    manifest = json.loads(zf.read("nb/MANIFEST.json"))
    by_path = {e["path"]: e.get("storage") for e in manifest["files"]}
    assert by_path == {
        "s3/nb.ipynb": None,
        "s3/nb.html": None,
        "s3/r.txt": "StoreManager",
        "local/pics/p.png": "LocalManager",
    }
    assert skipped(manifest) == {"../local/link.txt": "symlink-outside-root"}
    assert zf.read("nb/local/pics/p.png") == PNG and zf.read("nb/s3/r.txt") == b"remote"
    assert local_manager.calls == []
    assert base64.b64encode(PNG).decode() in zf.read("nb/s3/nb.html").decode()


def pipeline_local_root(manager):
    from nbext_pkg.bundlers.respond import local_root

    return local_root(manager)


def test_the_nbconvert_api_without_a_file_lists_every_reference_as_not_looked_for():
    options = options_mod.Options()
    nb = json.loads(notebook_bytes("[a](a.txt)", {"nbext_pkg": {"include": ["*.csv"]}}))
    sink = io.BytesIO()
    pipeline.prepare(
        "nb.ipynb",
        options,
        tree=contents.Nowhere(),
        model={"content": nb},
        asked={"html": False, "requirements": False},
        storage=None,
    ).write(sink)
    manifest = json.loads(zipfile.ZipFile(sink).read("nb/MANIFEST.json"))
    assert skipped(manifest) == {"a.txt": "not-looked-for", "*.csv": "not-looked-for"}
    assert "files_note" not in manifest


# -- a store that misbehaves ------------------------------------------------------------


def test_what_is_below_a_folder_the_manager_calls_hidden_is_never_asked_for():
    files = {
        "nb.ipynb": notebook_bytes("[k](private/key.txt) [g](private/sub) [o](ok/f.txt)"),
        "private/key.txt": b"SECRET",
        "private/sub/k2": b"SECRET",
        "ok/f.txt": b"f",
    }
    manager = StoreManager(files, hidden={"private"})
    zf, manifest, top = bundle(manager, path="nb.ipynb")
    assert skipped(manifest) == {"private/key.txt": "hidden", "private/sub": "hidden"}
    assert not [c for c in manager.calls if c[0] == "get" and c[1].startswith("private")]
    assert zf.read(f"{top}/ok/f.txt") == b"f"


def test_a_manager_that_cannot_say_whether_a_file_is_hidden_keeps_it_out():
    files = {"nb.ipynb": notebook_bytes("[k](key.txt) [o](ok.txt)"), "key.txt": b"SECRET", "ok.txt": b"o"}

    class Unsure(StoreManager):
        def is_hidden(self, path):
            if path == "key.txt":
                raise PermissionError("cannot tell")
            return False

    zf, manifest, _ = bundle(Unsure(files), path="nb.ipynb")
    assert skipped(manifest) == {"key.txt": "hidden"}


class Cycle(StoreManager):
    """A folder "x" that lists itself, for ever, and no files."""

    def get(self, path, content=True, type=None, format=None):
        self.calls.append(("get", path, content, type))
        if path == "nb.ipynb":
            return super().get(path, content, type, format)
        return {
            "name": "x",
            "path": path,
            "type": "directory",
            "format": "json",
            "content": [{"name": "x", "type": "directory"}, {"name": "y", "type": "directory"}],
        }


def test_a_folder_that_lists_itself_ends_at_the_folder_limit():
    manager = Cycle({"nb.ipynb": notebook_bytes("[d](x)")})
    options = options_mod.Options()
    tree = contents.ContentsTree(contents.Store(manager), check=options.check, max_listings=50)
    with pytest.raises(pipeline.NotBundled) as refused:
        pipeline.prepare(
            "nb.ipynb",
            options,
            tree=tree,
            model={"content": json.loads(manager.files["nb.ipynb"])},
            asked={"html": False, "requirements": False},
        )
    assert refused.value.status == 413 and "more than 50 folders" in str(refused.value)
    assert len([c for c in manager.calls if c[0] == "get" and c[3] == "directory"]) <= 51


@pytest.mark.parametrize(
    "odd, fmt", [("\ud800", "text"), ({"a": {1, 2}}, "json"), (12, "base64"), ("QQ==QUJD", "base64")]
)
def test_a_model_that_cannot_be_written_costs_that_file_only(odd, fmt, monkeypatch):
    monkeypatch.setattr(fetch, "_SLICE", 4)  # padding in the middle, at a slice's end
    files = {"nb.ipynb": notebook_bytes("[a](a.txt) [b](b.txt)"), "a.txt": b"a", "b.txt": b"bee"}

    class Odd(StoreManager):
        def get(self, path, content=True, type=None, format=None):
            model = super().get(path, content, type, format)
            if path == "a.txt" and content and type == "file":
                model["content"], model["format"] = odd, fmt
            return model

    zf, manifest, top = bundle(Odd(files), path="nb.ipynb")
    assert skipped(manifest) == {"a.txt": "unreadable"}
    assert zf.read(f"{top}/b.txt") == b"bee"


def test_no_room_to_spool_a_file_costs_that_file_only(monkeypatch):
    import tempfile
    import types

    class Full(tempfile.SpooledTemporaryFile):
        def write(self, data):
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(fetch, "tempfile", types.SimpleNamespace(SpooledTemporaryFile=Full))
    files = {"nb.ipynb": notebook_bytes("[a](a.txt)"), "a.txt": b"a"}
    _, manifest, _ = bundle(StoreManager(files), path="nb.ipynb")
    assert skipped(manifest) == {"a.txt": "unreadable"}


def test_base64_given_as_bytes_is_decoded():
    files = {"nb.ipynb": notebook_bytes("[a](a.txt)"), "a.txt": b"hello"}

    class Bytes(StoreManager):
        def get(self, path, content=True, type=None, format=None):
            model = super().get(path, content, type, format)
            if path == "a.txt" and content:
                model["content"] = model["content"].encode("ascii")
            return model

    zf, _, top = bundle(Bytes(files), path="nb.ipynb")
    assert zf.read(f"{top}/a.txt") == b"hello"


def test_the_html_copy_embeds_only_images_in_the_bundle_and_fetches_none_twice():
    pa, pb = PNG + os.urandom(3000), PNG + os.urandom(3000)
    files = {
        "nb.ipynb": notebook_bytes("![a](a.png) ![b](b.png) ![a again](a.png)"),
        "a.png": pa,
        "b.png": pb,
    }
    manager = StoreManager(files)
    zf, manifest, top = bundle(manager, path="nb.ipynb", max_bytes=len(files["nb.ipynb"]) + len(pa) + 100)
    assert skipped(manifest) == {"b.png": "limit"}
    page = zf.read(f"{top}/nb.html").decode()
    assert page.count(base64.b64encode(pa).decode()) == 2
    assert base64.b64encode(pb).decode() not in page and 'src="b.png"' in page
    fetched = [c[1] for c in manager.calls if c[0] == "get" and c[2] and c[3] == "file"]
    assert sorted(fetched) == ["a.png", "b.png"]


@pytest.mark.parametrize("root_on_disk", [False, True])
def test_a_prefix_of_a_mixed_manager_is_a_folder_whatever_its_parent_lists(tmp_path, root_on_disk):
    remote = StoreManager(
        {"nb.ipynb": notebook_bytes("[here](.)", {"nbext_pkg": {"include": ["*.csv"]}}), "a.csv": b"a"}
    )
    (tmp_path / "r").mkdir()
    root = LocalManager(tmp_path / "r") if root_on_disk else StoreManager({"z.txt": b"z"})
    hybrid = Hybrid({"": root, "s3": remote})
    options = options_mod.Options()
    tree = contents.ContentsTree(
        contents.Store(hybrid), check=options.check, routes=contents.mixed_routes(hybrid, pipeline_local_root)
    )
    sink = io.BytesIO()
    pipeline.prepare(
        "s3/nb.ipynb",
        options,
        tree=tree,
        model={"content": json.loads(remote.files["nb.ipynb"])},
        asked={"requirements": False, "html": False},
    ).write(sink)
    manifest = json.loads(zipfile.ZipFile(sink).read("nb/MANIFEST.json"))
    assert [e["path"] for e in manifest["files"]] == ["nb.ipynb", "a.csv"]
    assert manifest["skipped"] == []
    if root_on_disk:
        assert root.calls == []  # the disk is read as the disk


def async_loop():
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    return loop


def test_a_slow_asynchronous_call_is_waited_for_and_a_hung_one_given_up():
    loop = async_loop()
    try:
        cancel = threading.Event()

        async def slow():
            await asyncio.sleep(0.6)  # past the 0.25 s between looks (another class before 3.11)
            return "answer"

        assert contents.on_loop(loop, cancel)(slow()) == "answer"
        hung = asyncio.Event()
        with pytest.raises(contents.CallTimeout):
            contents.on_loop(loop, cancel, timeout=0.5)(hung.wait())

        def deadline():
            raise options_mod.PlanTimeout("past the plan's deadline")

        started = time.monotonic()
        with pytest.raises(options_mod.PlanTimeout):
            contents.on_loop(loop, cancel, check=deadline)(hung.wait())
        assert time.monotonic() - started < 2
        cancel.set()
        with pytest.raises(options_mod.Cancelled):
            contents.on_loop(loop, cancel)(hung.wait())

        def running():
            return [t for t in asyncio.all_tasks(loop) if "awaited" in repr(t.get_coro())]

        # The cancellations reach the loop's thread in a moment.
        wait_until(lambda: not running(), 1, "a given-up call's task to end")
    finally:
        loop.call_soon_threadsafe(loop.stop)


def test_a_hung_asynchronous_listing_ends_the_plan_at_its_deadline():
    files = {"nb.ipynb": notebook_bytes("[d](d/x)"), "d/x": b"x"}

    class Hung(StoreManager):
        async def get(self, path, content=True, type=None, format=None):
            if type == "directory":
                await asyncio.Event().wait()
            return StoreManager.get(self, path, content, type, format)

    loop = async_loop()
    try:
        options = options_mod.Options(plan_timeout=0.5)
        store = contents.Store(Hung(files), run=contents.on_loop(loop, options.cancel, check=options.check))
        tree = contents.ContentsTree(store, check=options.check)
        started = time.monotonic()
        with pytest.raises(options_mod.PlanTimeout):
            pipeline.prepare(
                "nb.ipynb",
                options,
                tree=tree,
                model={"content": json.loads(files["nb.ipynb"])},
                asked={"html": False, "requirements": False},
            )
        assert time.monotonic() - started < 3
    finally:
        loop.call_soon_threadsafe(loop.stop)


# -- the reading process ----------------------------------------------------------------


def folder_bundle(tmp_path, mode, before_write=None):
    from memory_contents import FolderStore
    from traitlets.config import Config

    store_dir = tmp_path / "store"
    (store_dir / "d").mkdir(parents=True)
    data = {"d/a.bin": os.urandom(300_000), "d/b.txt": b"bee", "pic.png": PNG}
    for name, payload in data.items():
        (store_dir / name).write_bytes(payload)
    (store_dir / "nb.ipynb").write_bytes(notebook_bytes("[d](d) ![p](pic.png) [m](gone.txt)"))
    config = Config()
    config.FolderStore.folder = str(store_dir)
    manager = FolderStore(config=config)
    reader = reader_mod.Reader.for_manager(manager, mode)
    options = options_mod.Options()
    tree = contents.ContentsTree(contents.Store(manager), check=options.check, reader=reader)
    prepared = pipeline.prepare(
        "nb.ipynb",
        options,
        tree=tree,
        model={"content": json.loads((store_dir / "nb.ipynb").read_bytes())},
        asked={"requirements": False},
    )
    if before_write:
        before_write(reader)
    sink = io.BytesIO()
    prepared.write(sink)
    zf = zipfile.ZipFile(sink)
    for name, payload in data.items():
        assert zf.read(f"nb/{name}") == payload
    assert skipped(json.loads(zf.read("nb/MANIFEST.json"))) == {"gone.txt": "missing"}
    assert base64.b64encode(PNG).decode() in zf.read("nb/nb.html").decode()
    return manager, reader


def test_a_reading_process_reads_the_files_with_a_manager_of_its_own(tmp_path):
    manager, reader = folder_bundle(tmp_path, "process")
    assert reader is not None
    assert not [c for c in manager.calls if c[2] == "file"], "the server's manager read the files"
    # Kept, ready, for the next bundle of the same manager; a different one gets its own.
    assert reader.proc.poll() is None
    assert reader_mod.Reader.for_manager(manager, "process").reader is reader.reader
    other = type(manager)()
    other.config.FolderStore.folder = str(tmp_path / "elsewhere")
    fresh = reader_mod.Reader.for_manager(other, "process")
    assert fresh.reader is not reader.reader
    fresh.kill()
    reader.kill()


def test_a_reading_process_that_dies_leaves_the_reading_to_the_server(tmp_path):
    def kill(reader):
        reader.proc.kill()
        reader.proc.wait()

    manager, _ = folder_bundle(tmp_path, "process", before_write=kill)
    assert sorted(c[0] for c in manager.calls if c[2] == "file") == ["d/a.bin", "d/b.txt", "pic.png"]


def test_which_managers_get_a_reading_process(tmp_path):
    from memory_contents import FolderStore

    assert reader_mod.Reader.for_manager(FolderStore(), "auto") is None  # not known to be rebuildable
    assert reader_mod.Reader.for_manager(FolderStore(), "thread") is None
    unsendable = FolderStore()
    unsendable.config.FolderStore.hook = lambda: None  # a lambda cannot be pickled
    assert reader_mod.Reader.for_manager(unsendable, "process") is None


def bundle_of_folder(folder, mode, **store):
    """(zip, manager, reader) of the bundle, without HTML copy or requirements, of
    ``folder``/nb.ipynb through FolderStore with ``store`` settings, read by a reading
    process where ``mode`` gives one."""
    from memory_contents import FolderStore
    from traitlets.config import Config

    config = Config()
    config.FolderStore.folder = str(folder)
    for name, value in store.items():
        setattr(config.FolderStore, name, value)
    manager = FolderStore(config=config)
    reader = reader_mod.Reader.for_manager(manager, mode)
    options = options_mod.Options()
    tree = contents.ContentsTree(contents.Store(manager), check=options.check, reader=reader)
    sink = io.BytesIO()
    nb = json.loads((folder / "nb.ipynb").read_bytes())
    pipeline.prepare(
        "nb.ipynb", options, tree=tree, model={"content": nb}, asked={"requirements": False, "html": False}
    ).write(sink)
    return zipfile.ZipFile(sink), manager, reader


@pytest.mark.parametrize("mode", ["process", "thread"])
def test_a_file_spoilt_half_way_is_left_out_and_the_rest_still_comes(tmp_path, mode, monkeypatch):

    monkeypatch.setattr(fetch, "_SLICE", 4096)  # (the reading process has its own)
    (tmp_path / "a.bin").write_bytes(os.urandom(100_000))
    (tmp_path / "b.bin").write_bytes(b"bee")
    (tmp_path / "nb.ipynb").write_bytes(notebook_bytes("[a](a.bin) [b](b.bin)"))
    zf, manager, reader = bundle_of_folder(tmp_path, mode, damaged=["a.bin"])
    assert zf.testzip() is None
    assert skipped(json.loads(zf.read("nb/MANIFEST.json"))) == {"a.bin": "unreadable"}
    assert zf.read("nb/b.bin") == b"bee"
    if reader is not None:
        assert not [c for c in manager.calls if c[2] == "file"]  # the process read both
        assert reader.proc.poll() is None  # and stayed in step: kept for the next bundle
        reader.kill()


def reader_bundle(tmp_path, **store):
    """The bundle of a notebook naming a.bin, b.bin and c.bin through FolderStore with
    ``store`` settings, read by a reading process; (manifest, zip, manager, reader)."""

    data = {name: os.urandom(50_000) for name in ("a.bin", "b.bin", "c.bin")}
    # a.bin looks like an answer and a file of its own: what a process out of step would
    # take for the next file's.
    data["a.bin"] = b'{"size": 10}\nFROM-A-FIL{"ok": true}\n' + data["a.bin"]
    for name, payload in data.items():
        (tmp_path / name).write_bytes(payload)
    (tmp_path / "nb.ipynb").write_bytes(notebook_bytes("[a](a.bin) [b](b.bin) [c](c.bin)"))
    zf, manager, reader = bundle_of_folder(tmp_path, "process", **store)
    for name in zf.namelist():
        if name.endswith(".bin"):
            assert zf.read(name) == data[name[3:]], f"{name} holds another file's bytes"
    return json.loads(zf.read("nb/MANIFEST.json")), zf, manager, reader


def test_a_file_left_out_half_read_never_puts_its_bytes_in_the_next(tmp_path):
    manifest, zf, manager, reader = reader_bundle(tmp_path, listed_sizes={"a.bin": 10})
    assert skipped(manifest) == {"a.bin": "changed"}
    assert sorted(zf.namelist()) == ["nb/MANIFEST.json", "nb/b.bin", "nb/c.bin", "nb/nb.ipynb"]
    assert reader.proc.poll() is not None  # out of step, so not kept
    # The server's own manager read what came after.
    assert sorted(c[0] for c in manager.calls if c[2] == "file") == ["b.bin", "c.bin"]


def test_what_a_manager_prints_does_not_reach_the_pipe(tmp_path):
    manifest, _, manager, reader = reader_bundle(tmp_path, noisy=True)
    assert manifest["skipped"] == []
    assert not [c for c in manager.calls if c[2] == "file"]  # all read by the process
    reader.kill()


def test_a_reading_process_spools_what_it_cannot_size_up_front(tmp_path):
    """Base64 with line breaks has no size until decoded: the process spools it first."""
    manifest, _, manager, reader = reader_bundle(tmp_path, wrapped=True)
    assert manifest["skipped"] == []
    assert not [c for c in manager.calls if c[2] == "file"]
    reader.kill()


def test_a_reading_process_is_handed_back_once(tmp_path):
    from memory_contents import FolderStore

    manager = FolderStore()
    manager.config.FolderStore.folder = str(tmp_path)
    first = reader_mod.Reader.for_manager(manager, "process")
    first.done()  # a plan that failed...
    taken = reader_mod.Reader.for_manager(manager, "process")  # ...another bundle's now
    assert taken.reader is first.reader
    first.done()  # ...and the failed plan's request says so again: nothing happens
    other = reader_mod.Reader.for_manager(manager, "process")
    assert other.reader is not first.reader  # not handed to two bundles at once
    for reader in (first, other):
        reader.kill()


def test_no_reading_process_outlives_the_server(tmp_path):
    """A server killed with SIGKILL takes its reading process with it, even one kept
    idle for the next bundle."""
    import signal
    import subprocess
    import sys

    (tmp_path / "a.txt").write_bytes(b"a")
    script = tmp_path / "server.py"
    script.write_text(
        "import sys, threading\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from memory_contents import FolderStore\n"
        "from nbext_pkg.bundlers import reader\n"
        "def work():\n"
        "    m = FolderStore()\n"
        f"    m.config.FolderStore.folder = {str(tmp_path)!r}\n"
        "    r = reader.Reader.for_manager(m, 'process')\n"
        "    piped = r.open('a.txt', 100, threading.Event(), 60)\n"
        "    piped.read(); piped.finish(); r.done()  # kept idle, ready\n"
        "    print(r.proc.pid, flush=True)\n"
        "    sys.stdin.read()  # lives until the test kills it\n"
        # Joined: from Python 3.12 a thread may start no other once the main one has ended.
        "worker = threading.Thread(target=work)\nworker.start()\nworker.join()\n"
    )
    server = subprocess.Popen(
        [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    child = int(server.stdout.readline())
    os.kill(server.pid, signal.SIGKILL)
    server.wait()

    def gone():
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return True
        with open(f"/proc/{child}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"

    wait_until(gone, 10, "the reading process to end with its server")
