"""bundlers/pipeline.py without a server: the whole bundle, with the tree changing
under it at random points, and the notebook read by the rules its files obey."""

import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import zipfile
from pathlib import Path

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nbext_pkg.bundlers import options as options_mod
from nbext_pkg.bundlers import pipeline, sized, sources

SECRET = b"SECRET-" + bytes.fromhex("8c2f0a77e1b94d6a") * 8  # never to be found in a bundle
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415408d763f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)
FILES = ["big.bin", "files/a.bin", "files/b.bin", "files/sub/c.bin", "pic.png"]


def build(base):
    """root/ with a notebook that links every file in FILES, and outside/ mirroring it
    with secrets in every place a swap could point to."""
    root, outside = base / "root", base / "outside"
    contents = {}
    for rel in FILES:
        size = 2_500_000 if rel == "big.bin" else 70_000
        data = PNG if rel.endswith(".png") else os.urandom(size)
        for top, payload in ((root, data), (outside, SECRET * (size // len(SECRET) + 1))):
            (top / rel).parent.mkdir(parents=True, exist_ok=True)
            (top / rel).write_bytes(payload)
        contents[rel] = {data}
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("[big](big.bin) [all](files) ![p](pic.png)")]
    nbformat.write(nb, str(root / "nb.ipynb"))
    return root, outside, contents


def _victim(root, rel):
    path = root / rel
    if path.is_symlink() or path.exists():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    return path


def m_link_out(root, outside, rel, contents):
    if (root / rel).parent.is_dir():
        _victim(root, rel).symlink_to(outside / rel)


def m_parent_link_out(root, outside, rel, contents):
    parent = (root / rel).parent
    if parent == root:
        return m_link_out(root, outside, rel, contents)
    if parent.is_symlink() or not parent.exists():
        return None
    shutil.rmtree(parent)
    parent.symlink_to(outside / os.path.relpath(parent, root))


def m_folder(root, outside, rel, contents):
    if (root / rel).parent.is_dir():
        _victim(root, rel).mkdir()


def m_fifo(root, outside, rel, contents):
    if (root / rel).parent.is_dir():
        os.mkfifo(_victim(root, rel))


def m_socket(root, outside, rel, contents):
    if (root / rel).parent.is_dir():
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(_victim(root, rel)))
        sock.close()


def m_shrink(root, outside, rel, contents):
    if (root / rel).is_file() and not (root / rel).is_symlink():
        with open(root / rel, "r+b") as f:
            f.truncate(os.fstat(f.fileno()).st_size // 2)


def m_grow(root, outside, rel, contents):
    if (root / rel).is_file() and not (root / rel).is_symlink():
        with open(root / rel, "ab") as f:
            f.write(b"grown")


def m_rewrite(root, outside, rel, contents):
    """Same size, other bytes, in place: a new state of a file inside the root."""
    if (root / rel).is_file() and not (root / rel).is_symlink():
        size = (root / rel).stat().st_size
        data = os.urandom(size)
        contents.setdefault(rel, set()).add(data)
        with open(root / rel, "r+b") as f:
            f.write(data)


def m_rename_over(root, outside, rel, contents):
    if (root / rel).parent.is_dir():
        data = os.urandom(1000)
        contents.setdefault(rel, set()).add(data)
        (root / "new.tmp").write_bytes(data)
        os.replace(root / "new.tmp", root / rel)


def m_delete(root, outside, rel, contents):
    if (root / rel).exists() or (root / rel).is_symlink():
        _victim(root, rel)


MUTATIONS = [
    m_link_out,
    m_parent_link_out,
    m_folder,
    m_fifo,
    m_socket,
    m_shrink,
    m_grow,
    m_rewrite,
    m_rename_over,
    m_delete,
]


class Recorder:
    """A sink that counts its writes; ``events`` are also counted by file reads."""

    def __init__(self, on_event):
        self.data = bytearray()
        self.on_event = on_event

    def write(self, data):
        self.data += data
        self.on_event()
        return len(data)

    def flush(self):
        pass


def members(data, fmt):
    if fmt == "zip":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            assert zf.testzip() is None
            return {n: zf.read(n) for n in zf.namelist()}, data
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
        found = {m.name: tf.extractfile(m).read() for m in tf.getmembers()}
    import gzip

    return found, gzip.decompress(data) if fmt == "tar.gz" else data


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    fmt=st.sampled_from(options_mod.FORMATS),
    html=st.booleans(),
    changes=st.lists(
        st.tuples(st.integers(0, 40), st.sampled_from(MUTATIONS), st.sampled_from(FILES)),
        min_size=1,
        max_size=3,
    ),
)
def test_a_tree_that_changes_during_the_download_never_leaks_and_never_breaks(fmt, html, changes):
    with tempfile.TemporaryDirectory() as base:
        root, outside, contents = build(Path(base))
        options = options_mod.Options()
        tree = pipeline.local_tree(str(root), options)
        bundle = pipeline.prepare(
            "nb.ipynb", options, tree=tree, asked={"format": fmt, "html": html, "requirements": False}
        )
        planned = {m.arcname: m for m in bundle.plan.files}
        pending = sorted(changes, key=lambda change: change[0])
        count = [0]

        def event():
            count[0] += 1
            while pending and pending[0][0] <= count[0]:
                _, mutate, rel = pending.pop(0)
                try:
                    mutate(root, outside, rel, contents)
                except OSError:
                    pass  # what the tree looks like by now does not allow this change

        real_read = sources.CheckedFile.read

        def read(self, n=sources.READ_SIZE):
            event()
            return real_read(self, min(n, 256 * 1024))  # several reads per file: more points

        sink = Recorder(event)
        sources.CheckedFile.read = read
        try:
            bundle.write(sink)
        except sized.Unsendable:
            # A tar of known length cannot take back a header: the download ends there.
            assert fmt == "tar"
            assert SECRET[:32] not in bytes(sink.data), "bytes from outside the root were sent"
            return
        finally:
            sources.CheckedFile.read = real_read
        found, raw = members(bytes(sink.data), fmt)
        assert SECRET[:32] not in raw, "bytes from outside the root are in the archive"
        manifest = json.loads(found.pop("nb/MANIFEST.json"))
        found.pop("nb/nb.ipynb")
        found.pop("nb/nb.html", None)
        listed = {f["path"]: f for f in manifest["files"]}
        skipped = {s["reference"]: s["reason"] for s in manifest["skipped"]}
        for name, data in found.items():
            rel = planned[name[len("nb/") :]].rel
            assert data in contents[rel], f"{name} is not a copy of a file that was inside the root"
            entry = listed[name[len("nb/") :]]
            assert entry["size"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
        for arcname in planned:
            assert (f"nb/{arcname}" in found) != (arcname in skipped), arcname
            if arcname in skipped:
                assert skipped[arcname] in ("changed", "missing", "unreadable")
        if fmt == "zip":
            (Path(base) / "t.zip").write_bytes(bytes(sink.data))
            done = subprocess.run(["unzip", "-tq", str(Path(base) / "t.zip")], capture_output=True)
            assert done.returncode == 0, done.stdout


@pytest.fixture
def attack_tree(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (tmp_path / "root_evil").mkdir()
    nbformat.write(nbformat.v4.new_notebook(), str(tmp_path / "root_evil" / "nb.ipynb"))
    nbformat.write(nbformat.v4.new_notebook(), str(root / "sub" / "ok.ipynb"))
    (root / ".hidden").mkdir()
    nbformat.write(nbformat.v4.new_notebook(), str(root / ".hidden" / "nb.ipynb"))
    (root / "out.ipynb").symlink_to(tmp_path / "root_evil" / "nb.ipynb")
    (root / "to-hidden.ipynb").symlink_to(root / ".hidden" / "nb.ipynb")
    (root / "in.ipynb").symlink_to(root / "sub" / "ok.ipynb")
    os.mkfifo(root / "fifo.ipynb")
    return root


@pytest.mark.parametrize(
    "path, status, words",
    [
        ("../root_evil/nb.ipynb", 404, "is outside the server's root"),
        ("sub/../../root_evil/nb.ipynb", 404, "is outside the server's root"),
        ("/etc/passwd", 404, "is outside the server's root"),
        ("out.ipynb", 404, "leads outside the server's root through a symbolic link"),
        (".hidden/nb.ipynb", 404, "is hidden"),
        ("to-hidden.ipynb", 404, "leads to a hidden file"),
        ("nope.ipynb", 404, "No such notebook: nope.ipynb"),
        ("fifo.ipynb", 400, "is not a notebook"),
        ("sub", 400, "is not a notebook"),
    ],
)
def test_the_notebook_obeys_the_rules_of_its_files(attack_tree, path, status, words):
    options = options_mod.Options()
    with pytest.raises(pipeline.NotBundled) as raised:
        pipeline.local_notebook(pipeline.local_tree(str(attack_tree), options), path, options)
    assert raised.value.status == status and words in str(raised.value)


def test_a_notebook_linked_inside_the_root_is_bundled_under_its_own_name(attack_tree):
    options = options_mod.Options()
    tree = pipeline.local_tree(str(attack_tree), options)
    sink = io.BytesIO()
    pipeline.prepare("in.ipynb", options, tree=tree, asked={"html": False, "requirements": False}).write(sink)
    with zipfile.ZipFile(sink) as zf:
        assert sorted(zf.namelist()) == ["in/MANIFEST.json", "in/in.ipynb"]
        assert zf.read("in/in.ipynb") == (attack_tree / "sub" / "ok.ipynb").read_bytes()


def test_images_are_embedded_up_to_the_budget_then_linked(tmp_path):
    png = b"\x89PNG\r\n\x1a\n" + os.urandom(1024 * 1024)
    (tmp_path / "big.png").write_bytes(png)
    (tmp_path / "small.png").write_bytes(PNG)
    nbformat.write(
        nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_markdown_cell("![b](big.png)\n" * 10 + "![s](small.png)")]
        ),
        str(tmp_path / "nb.ipynb"),
    )
    options = options_mod.Options(embed_total_bytes=3 * len(png) + 1000)
    tree = pipeline.local_tree(str(tmp_path), options)
    sink = io.BytesIO()
    pipeline.prepare("nb.ipynb", options, tree=tree, asked={"requirements": False}).write(sink)
    with zipfile.ZipFile(sink) as zf:
        page = zf.read("nb/nb.html").decode()
    import base64

    assert page.count(base64.b64encode(png).decode()) == 3
    assert page.count('src="big.png"') == 7
    assert base64.b64encode(PNG).decode() in page


def test_more_references_than_a_plan_takes_are_told(tmp_path):
    many = " ".join(f"[m](m{i}.txt)" for i in range(pipeline.MAX_REFERENCES + 5))
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(many)]), str(tmp_path / "nb.ipynb")
    )
    options = options_mod.Options()
    bundle = pipeline.prepare(
        "nb.ipynb",
        options,
        tree=pipeline.local_tree(str(tmp_path), options),
        asked={"html": False, "requirements": False},
    )
    bundle.discard()
    assert bundle.plan.skipped[-1] == {"reference": "5 more references", "reason": "limit"}
    assert len(bundle.plan.skipped) == pipeline.MAX_REFERENCES + 1


def test_undecodable_names_in_references_never_cost_the_manifest(tmp_path):
    raw = json.loads(
        nbformat.writes(
            nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("[odd](PLACEHOLDER.txt)")])
        )
    )
    text = json.dumps(raw).replace("PLACEHOLDER", "caf\\udce9")  # a lone surrogate, as JSON allows
    (tmp_path / "nb.ipynb").write_text(text)
    options = options_mod.Options()
    sink = io.BytesIO()
    pipeline.prepare(
        "nb.ipynb",
        options,
        tree=pipeline.local_tree(str(tmp_path), options),
        asked={"html": False, "requirements": False},
    ).write(sink)
    with zipfile.ZipFile(sink) as zf:
        manifest = json.loads(zf.read("nb/MANIFEST.json"))
    assert manifest["skipped"] == [{"reference": "caf\udce9.txt", "reason": "missing"}]


def test_a_repeat_bundle_is_not_read_or_rendered_again_until_an_embedded_image_changes(tmp_path, monkeypatch):
    import base64
    import uuid

    from nbext_pkg.bundlers import render

    (tmp_path / "pic.png").write_bytes(PNG)
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(f"![p](pic.png) {uuid.uuid4()}")]),
        str(tmp_path / "nb.ipynb"),
    )
    calls = []
    for name in ("read", "render"):
        real = getattr(render.Session, name)

        def counted(self, *args, _real=real, _name=name, **kwargs):
            calls.append(_name)
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(render.Session, name, counted)

    def bundle(fmt="zip"):
        options = options_mod.Options()
        sink = io.BytesIO()
        pipeline.prepare(
            "nb.ipynb", options, tree=pipeline.local_tree(str(tmp_path), options), asked={"format": fmt}
        ).write(sink)
        calls.append("done")
        return sink.getvalue()

    first = bundle()
    assert calls == ["read", "render", "done"]
    calls.clear()
    assert bundle() == first and calls == ["done"]
    # The image the HTML copy embeds is another file now: rendered again (the child reads
    # the notebook first, as its facts were remembered).
    (tmp_path / "pic.png").write_bytes(PNG + b"more")
    calls.clear()
    with zipfile.ZipFile(io.BytesIO(bundle())) as zf:
        assert base64.b64encode(PNG + b"more").decode() in zf.read("nb/nb.html").decode()
    assert calls == ["read", "render", "done"]
    # A streamed bundle renders as it goes: the same rule.
    calls.clear()
    bundle("tar.gz")
    assert calls == ["read", "render", "done"]


def unrenderable(folder):
    """nb.ipynb beside data.csv: it links the file, and has an output nbconvert's markdown
    filter fails on (the server opens such a notebook with a warning)."""
    (folder / "data.csv").write_text("a,b\n1,2\n")
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {"cell_type": "markdown", "id": "a", "metadata": {}, "source": "[the data](data.csv)"},
            {
                "cell_type": "code",
                "id": "b",
                "source": "x",
                "metadata": {},
                "execution_count": None,
                "outputs": [{"output_type": "display_data", "data": {"text/markdown": 5}, "metadata": {}}],
            },
        ],
    }
    (folder / "nb.ipynb").write_text(json.dumps(nb))


# zip: sized, the HTML copy rendered during the plan; tar.gz: streamed, rendered as it goes out.
@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_a_notebook_nbconvert_cannot_render_is_bundled_without_its_html_copy(tmp_path, monkeypatch, fmt):
    from nbext_pkg.bundlers import render

    unrenderable(tmp_path)
    renders = []
    real_render = render.Session.render

    def counted(self, *args, **kwargs):
        renders.append(1)
        return real_render(self, *args, **kwargs)

    monkeypatch.setattr(render.Session, "render", counted)

    def bundle():
        options = options_mod.Options()
        made = pipeline.prepare(
            "nb.ipynb",
            options,
            tree=pipeline.local_tree(str(tmp_path), options),
            asked={"format": fmt, "requirements": False},
        )
        sink = io.BytesIO()
        made.write(sink)
        return members(sink.getvalue(), fmt)[0]

    found = bundle()
    assert sorted(found) == ["nb/MANIFEST.json", "nb/data.csv", "nb/nb.ipynb"]
    assert found["nb/nb.ipynb"] == (tmp_path / "nb.ipynb").read_bytes()
    assert found["nb/data.csv"] == (tmp_path / "data.csv").read_bytes()
    manifest = json.loads(found["nb/MANIFEST.json"])
    assert manifest["skipped"] == [{"reference": "nb.html", "reason": "html-failed"}]
    assert manifest["generated"] == {"manifest": "MANIFEST.json"}
    assert sorted(f["path"] for f in manifest["files"]) == ["data.csv", "nb.ipynb"]
    # A failed copy is not remembered: the next bundle of the same notebook tries again.
    assert renders == [1]
    assert sorted(bundle()) == sorted(found) and renders == [1, 1]
