"""bundlers/selection.py without a server: what is ticked in one folder, in one archive,
by the rules of a notebook bundle (names inside the folder only, references followed,
an HTML copy per notebook, one manifest)."""

import base64
import hashlib
import io
import json
import os
import tarfile
import zipfile

import nbformat
import pytest

from nbext_pkg.bundlers import extract, pipeline
from nbext_pkg.bundlers.options import Options
from nbext_pkg.bundlers.pipeline import NotBundled
from nbext_pkg.bundlers.selection import prepare_selection

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415408d763f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)
EMBEDDED = b"data:image/png;base64," + base64.b64encode(PNG)


def write_nb(path, markdown="", code=(), kernel="python3"):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell(markdown)] + [nbformat.v4.new_code_cell(c) for c in code]
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "root"
    work = root / "work"
    write_nb(work / "one.ipynb", "![p](pic.png) [d](../shared/data.csv)", ["import nbformat"])
    write_nb(work / "two.ipynb", "[t](notes.txt)", ["import tornado"])
    (work / "pic.png").write_bytes(PNG)
    (work / "notes.txt").write_text("notes")
    (work / "data" / "sub").mkdir(parents=True)
    (work / "data" / "a.csv").write_text("a,b\n1,2\n")
    (work / "data" / "sub" / "b.csv").write_text("c\n3\n")
    (work / "loose.txt").write_text("loose")
    (root / "shared").mkdir()
    (root / "shared" / "data.csv").write_text("x\n1\n")
    (tmp_path / "secret.txt").write_text("SECRET")
    os.symlink(tmp_path / "secret.txt", work / "out-link.txt")
    return root


def bundle(root, folder, names, fmt="zip", **asked):
    options = Options(format=fmt)
    tree = pipeline.local_tree(str(root), options)
    made = prepare_selection(folder, names, options, tree=tree, asked={"format": fmt, **asked})
    sink = io.BytesIO()
    made.write(sink)
    return made, sink.getvalue()


def members(data, fmt="zip"):
    if fmt == "zip":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            assert zf.testzip() is None
            return {n: zf.read(n) for n in zf.namelist()}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
        return {m.name: tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()}


@pytest.mark.parametrize("fmt", ["zip", "tar.gz", "tar"])
def test_files_folders_and_notebooks_in_one_archive(root, fmt):
    made, data = bundle(root, "work", ["one.ipynb", "two.ipynb", "data", "loose.txt"], fmt)
    assert made.filename == f"work-selection.{fmt}"
    found = members(data, fmt)
    top = "work-selection"
    # The notebooks' references are followed: ../shared/data.csv is above the folder, so
    # the names start one folder higher.
    expected = {
        "work/one.ipynb",
        "work/two.ipynb",
        "work/pic.png",
        "work/notes.txt",
        "work/data/a.csv",
        "work/data/sub/b.csv",
        "work/loose.txt",
        "shared/data.csv",
        "work/one.html",
        "work/two.html",
        "requirements.txt",
        "runtime.txt",
        "MANIFEST.json",
    }
    assert set(found) == {f"{top}/{name}" for name in expected}
    assert found[f"{top}/work/data/sub/b.csv"] == b"c\n3\n"
    assert found[f"{top}/shared/data.csv"] == b"x\n1\n"
    doc = json.loads(found[f"{top}/MANIFEST.json"])
    listed = {f["path"]: f for f in doc["files"]}
    assert set(listed) == expected - {"MANIFEST.json"}
    for path, entry in listed.items():
        body = found[f"{top}/{path}"]
        assert entry["size"] == len(body) and entry["sha256"] == hashlib.sha256(body).hexdigest()
    assert doc["selection"]["names"] == ["one.ipynb", "two.ipynb", "data", "loose.txt"]
    assert [n["path"] for n in doc["selection"]["notebooks"]] == ["work/one.ipynb", "work/two.ipynb"]
    assert [n["html"] for n in doc["selection"]["notebooks"]] == ["work/one.html", "work/two.html"]
    # Each HTML copy is its own notebook's, its image embedded (the PNG's own bytes: the
    # template has data URIs of its own).
    assert EMBEDDED in found[f"{top}/work/one.html"]
    assert b"notes.txt" in found[f"{top}/work/two.html"]
    requirements = found[f"{top}/requirements.txt"].decode()
    assert "nbformat==" in requirements and "tornado==" in requirements
    assert doc["requirements_from"] == "kernel" and doc["skipped"] == []


def test_a_selection_bundle_verifies_and_opens(root, tmp_path):
    _, data = bundle(root, "work", ["one.ipynb", "data"])
    path = tmp_path / "sel.zip"
    path.write_bytes(data)
    assert extract.verify(str(path)) == []
    opened = extract.extract(str(path), str(tmp_path))
    assert opened.mismatches == [] and opened.notebooks == ["work/one.ipynb"]


def test_one_ticked_folder_is_named_after_itself_and_keeps_its_own_layout(root):
    made, data = bundle(root, "work", ["data"])
    assert made.filename == "data.zip"
    found = members(data)
    assert {"data/a.csv", "data/sub/b.csv", "data/MANIFEST.json"} <= set(found)
    assert not any(name.endswith(".html") or "requirements" in name for name in found)
    only_sub = bundle(root, "work/data", ["sub"])[1]
    assert "sub/b.csv" in members(only_sub)


def test_at_the_root_the_name_is_files_selection(root):
    made, _ = bundle(root, "", ["shared", "work"])
    assert made.filename == "files-selection.zip"


@pytest.mark.parametrize(
    "names", [["../shared"], ["a/b"], [".."], ["."], [""], ["x\x00y"], ["..\\shared"], [], "one.ipynb", [5]]
)
def test_a_name_that_is_not_one_of_the_folder_is_refused(root, names):
    with pytest.raises(NotBundled) as refused:
        bundle(root, "work", names)
    assert refused.value.status == 400


@pytest.mark.parametrize("folder", ["../", "/../x", "work/../../x"])
def test_a_folder_outside_the_root_is_refused(root, folder):
    with pytest.raises(NotBundled) as refused:
        bundle(root, folder, ["x"])
    assert refused.value.status == 404


def test_a_link_out_of_the_root_and_hidden_names_are_skipped_saying_so(root):
    (root / "work" / ".hidden").write_text("hidden")
    _, data = bundle(root, "work", ["out-link.txt", ".hidden", "loose.txt", "missing.txt"])
    found = members(data)
    assert b"SECRET" not in b"".join(found.values())
    doc = json.loads(found["work-selection/MANIFEST.json"])
    assert {s["reference"]: s["reason"] for s in doc["skipped"]} == {
        "out-link.txt": "symlink-outside-root",
        ".hidden": "hidden",
        "missing.txt": "missing",
    }


def test_the_limits_hold_for_the_whole_selection(root):
    options = Options(max_files=3)
    tree = pipeline.local_tree(str(root), options)
    with pytest.raises(NotBundled) as refused:
        prepare_selection("work", ["loose.txt", "notes.txt", "pic.png", "one.ipynb"], options, tree=tree)
    assert refused.value.status == 413 and "max_bundle_files" in str(refused.value)
    # A folder over the limits: its reference is cut, saying so, the rest goes in.
    options = Options(max_files=2)
    made = prepare_selection(
        "work", ["loose.txt", "data"], options, tree=pipeline.local_tree(str(root), options)
    )
    made.discard()
    assert "work/loose.txt" in [m.rel for m in made.plan.files]
    assert {"reference": "data", "reason": "limit"} in made.plan.skipped


def test_the_byte_limit_counts_each_file_once(root):
    """A notebook's linked folder that fits goes in whole, however much was ticked before it."""
    (root / "work" / "refdata").mkdir()
    (root / "work" / "refdata" / "a.bin").write_bytes(b"a" * 3000)
    write_nb(root / "work" / "linker.ipynb", "[d](refdata)")
    (root / "work" / "first.bin").write_bytes(b"f" * 4000)
    need = sum(
        p.stat().st_size
        for p in [
            root / "work" / "first.bin",
            root / "work" / "linker.ipynb",
            root / "work" / "refdata" / "a.bin",
        ]
    )
    options = Options(max_bytes=need + 10)
    made = prepare_selection(
        "work",
        ["first.bin", "linker.ipynb"],
        options,
        tree=pipeline.local_tree(str(root), options),
        asked={"html": False},
    )
    made.discard()
    assert "work/refdata/a.bin" in [m.rel for m in made.plan.files], made.plan.skipped
    assert made.plan.skipped == []


def test_an_image_in_a_ticked_folder_is_still_embedded_in_the_html_copy(root):
    (root / "work" / "figs").mkdir()
    (root / "work" / "figs" / "p.png").write_bytes(PNG)
    write_nb(root / "work" / "fig.ipynb", "![p](figs/p.png)")
    _, data = bundle(root, "work", ["figs", "fig.ipynb"], requirements=False)
    assert EMBEDDED in members(data)["work-selection/fig.html"]


def test_the_kernel_most_notebooks_name_is_counted_by_its_name(root):
    from nbext_pkg.bundlers.pipeline import requirements_for

    facts = [
        {"imports": [], "kernelspec": {"name": "python3", "display_name": d}, "language_info": None}
        for d in ("Python 3", "Python 3 (ipykernel)", "py")
    ]
    geo = {"imports": [], "kernelspec": {"name": "geo", "display_name": "Geo"}, "language_info": None}
    facts += [geo, geo]
    asked = []
    options = Options(kernel_specs=lambda name: asked.append(name) or None)
    requirements_for(facts, options, [], "requirements.txt")
    assert asked == ["python3"]


def test_a_selection_from_a_contents_manager_reads_its_notebooks_through_it():
    from test_contents import StoreManager, notebook_bytes

    from nbext_pkg.bundlers import contents

    files = {
        "work/nb.ipynb": notebook_bytes("![a](a.png) [d](data.csv)"),
        "work/a.png": PNG,
        "work/data.csv": b"x\n1\n",
        "work/other.txt": b"o",
    }
    for sizes in (False, True):
        options = Options()
        store = contents.Store(StoreManager(files, sizes=sizes))
        tree = contents.ContentsTree(store, check=options.check, file_limit=options.max_contents_file_bytes)
        made = prepare_selection(
            "work",
            ["nb.ipynb", "other.txt"],
            options,
            tree=tree,
            asked={"requirements": False},
            storage=store.name,
        )
        sink = io.BytesIO()
        made.write(sink)
        found = members(sink.getvalue())
        doc = json.loads(found["work-selection/MANIFEST.json"])
        assert doc["skipped"] == [], (sizes, doc["skipped"])
        assert {"work-selection/a.png", "work-selection/data.csv", "work-selection/nb.html"} <= set(found)
        assert EMBEDDED in found["work-selection/nb.html"]
        assert doc["selection"]["notebooks"][0]["html"] == "nb.html"


def test_a_notebook_that_is_not_one_goes_in_as_a_file(root):
    (root / "work" / "broken.ipynb").write_text("{not json")
    _, data = bundle(root, "work", ["broken.ipynb", "loose.txt"])
    found = members(data)
    assert found["work-selection/broken.ipynb"] == b"{not json"
    doc = json.loads(found["work-selection/MANIFEST.json"])
    assert doc["skipped"] == [{"reference": "work/broken.ipynb", "reason": "unreadable-notebook"}]
    assert doc["selection"]["notebooks"] == []


def test_the_html_setting_applies(root):
    _, data = bundle(root, "work", ["one.ipynb"], html=False, requirements=False)
    names = set(members(data))
    assert not any(n.endswith((".html", "requirements.txt", "runtime.txt")) for n in names)
