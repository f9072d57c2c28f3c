"""bundlers/plan.py and the walk under it (paths.Tree): member names that are safe
everywhere and never collide, and planning that is linear, bounded and stoppable."""

import os
import threading

import pytest

from nbext_pkg.bundlers import paths
from nbext_pkg.bundlers.options import Cancelled, Options, PlanTimeout
from nbext_pkg.bundlers.paths import Resolved, Tree
from nbext_pkg.bundlers.plan import OverLimit, image_key, make_plan, plan_from, safe_name
from nbext_pkg.bundlers.references import Reference


def notebook(*markdown, **ours):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": m} for m in markdown]
    metadata = {"nbext_pkg": ours} if ours else {}
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def names(plan):
    return sorted([plan.notebook_arcname] + [m.arcname for m in plan.files])


def test_generated_members_move_aside_for_the_users_own_files(tmp_path):
    for name in ("requirements.txt", "runtime.txt", "MANIFEST.json", "nb.html", "nb.nbext_pkg.html"):
        (tmp_path / name).write_text(name)
    plan = make_plan(
        notebook(
            "[r](requirements.txt) [t](runtime.txt) [m](MANIFEST.json) [h](nb.html) [h2](nb.nbext_pkg.html)"
        ),
        "nb.ipynb",
        str(tmp_path),
    )
    assert names(plan) == [
        "MANIFEST.json",
        "nb.html",
        "nb.ipynb",
        "nb.nbext_pkg.html",
        "requirements.txt",
        "runtime.txt",
    ]
    assert plan.requirements_arcname == "requirements.nbext_pkg.txt"
    assert plan.runtime_arcname == "runtime.nbext_pkg.txt"
    assert plan.manifest_arcname == "MANIFEST.nbext_pkg.json"
    assert plan.html_arcname == "nb.nbext_pkg-2.html"
    assert all(m.original is None for m in plan.files)


def test_without_collisions_the_generated_names_are_the_usual_ones(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "requirements.txt").write_text("x")
    plan = make_plan(notebook("[r](sub/requirements.txt)"), "nb.ipynb", str(tmp_path))
    assert (plan.html_arcname, plan.requirements_arcname, plan.manifest_arcname) == (
        "nb.html",
        "requirements.txt",
        "MANIFEST.json",
    )


@pytest.mark.parametrize(
    "raw, safe",
    [
        ("a\\..\\..\\evil.txt", "a_.._.._evil.txt"),
        ("C:evil.txt", "C_evil.txt"),
        ("caf\udce9.txt", "caf\ufffd.txt"),
        ("ok/na me ü.txt", "ok/na me ü.txt"),
    ],
)
def test_member_names_are_safe_on_every_extractor(raw, safe):
    assert safe_name(raw) == safe


def test_hostile_names_on_disk_are_stored_safely_and_told_as_written(tmp_path):
    folder = tmp_path / "linked"
    folder.mkdir()
    (folder / "a\\..\\..\\evil.txt").write_text("backslashes")
    (folder / "a_.._.._evil.txt").write_text("the user's own")
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.txt"), "wb") as f:
        f.write(b"latin-1 name")
    (tmp_path / "C:drive.ipynb").write_text("{}")
    plan = make_plan(notebook("[all](linked)"), "C:drive.ipynb", str(tmp_path))
    assert plan.top == "C_drive" and plan.notebook_arcname == "C_drive.ipynb"
    by_rel = {m.rel: m for m in plan.files}
    assert by_rel["linked/a_.._.._evil.txt"].arcname == "linked/a_.._.._evil.txt"
    assert by_rel["linked/a_.._.._evil.txt"].original is None
    odd = by_rel["linked/a\\..\\..\\evil.txt"]
    assert odd.arcname == "linked/a_.._.._evil (2).txt"
    assert odd.original == "linked/a\\..\\..\\evil.txt"
    latin = by_rel["linked/caf\udce9.txt"]
    assert latin.arcname == "linked/caf\ufffd.txt" and latin.original == "linked/caf\\xe9.txt"
    for name in names(plan):
        assert ".." not in name.split("/") and "\\" not in name and not name.startswith("/")
        name.encode("utf-8")


def counting_scandir(monkeypatch):
    calls = []
    real = os.scandir

    def scandir(path):
        calls.append(path)
        return real(path)

    monkeypatch.setattr(paths.os, "scandir", scandir)
    return calls


def deep_tree(root, levels, files_per_level=1):
    folder = root / "deep"
    for level in range(levels):
        folder.mkdir(parents=True)
        for i in range(files_per_level):
            (folder / f"f{level}-{i}.txt").write_text("x")
        folder = folder / "d"
    return levels * files_per_level


def test_each_folder_is_listed_once_whatever_names_it(tmp_path, monkeypatch):
    """A 300-level tree named by a folder link, a trailing ** and a recursive glob: each
    folder is read once, which is what makes planning linear in the tree's size."""
    total = deep_tree(tmp_path, 300)
    calls = counting_scandir(monkeypatch)
    plan = make_plan(
        notebook("[deep](deep) [again](./deep/)", include=["deep/**", "**/*.txt", "deep/*/*.txt"]),
        "nb.ipynb",
        str(tmp_path),
    )
    assert len(plan.files) == total
    assert len(calls) == 301  # the root and the 300 folders below it, once each


def test_wide_folders_are_listed_once_too(tmp_path, monkeypatch):
    (tmp_path / "many").mkdir()
    for i in range(3000):
        (tmp_path / "many" / f"{i:05}.csv").write_text("1")
    calls = counting_scandir(monkeypatch)
    plan = make_plan(notebook("[m](many)", include=["many/**", "many/*.csv"]), "nb.ipynb", str(tmp_path))
    assert len(plan.files) == 3000 and len(calls) == 1


def test_globs_obey_the_file_limit_like_folder_links(tmp_path):
    (tmp_path / "many").mkdir()
    for i in range(50):
        (tmp_path / "many" / f"{i:02}.csv").write_text("1")
    plan = make_plan(notebook(include=["many/*.csv"]), "nb.ipynb", str(tmp_path), max_files=10)
    assert len(plan.files) == 10
    assert plan.skipped == [{"reference": "many/*.csv", "reason": "limit"}]
    plan = make_plan(notebook(include=["many/**"]), "nb.ipynb", str(tmp_path), max_bytes=20)
    assert plan.total_bytes <= 20 and {"reference": "many/**", "reason": "limit"} in plan.skipped


def test_the_total_is_kept_not_summed_again(tmp_path):
    (tmp_path / "d").mkdir()
    for i in range(5):
        (tmp_path / "d" / f"{i}.txt").write_text("x" * (i + 1))
    plan = make_plan(notebook("[d](d)"), "nb.ipynb", str(tmp_path))
    assert plan.total_bytes == sum(m.size for m in plan.files) == 15


def test_a_plan_past_its_deadline_stops_with_a_sentence(tmp_path):
    deep_tree(tmp_path, 50)
    options = Options(plan_timeout=0)
    options.start_plan()
    with pytest.raises(PlanTimeout, match=r"c.NbextPkg.bundle_plan_timeout"):
        make_plan(notebook("[d](deep)"), "nb.ipynb", Tree(str(tmp_path), check=options.check))


def test_a_cancelled_plan_stops_at_the_next_folder(tmp_path, monkeypatch):
    deep_tree(tmp_path, 100)
    options = Options()
    calls = counting_scandir(monkeypatch)
    real_check = options.check

    def check():
        if len(calls) == 10:
            options.cancel.set()  # the client leaves while the tenth folder is read
        real_check()

    with pytest.raises(Cancelled):
        make_plan(notebook("[d](deep)"), "nb.ipynb", Tree(str(tmp_path), check=check))
    assert len(calls) == 10


def test_a_folder_mounted_inside_itself_is_walked_once(tmp_path):
    """A bind mount makes a real cycle (no symlink to refuse): the walk sees the same
    device and inode again and stops there. (The tests run as root, as CI does.)"""
    import subprocess

    (tmp_path / "a" / "b" / "loop").mkdir(parents=True)
    (tmp_path / "a" / "b" / "x.txt").write_text("x")
    subprocess.run(["mount", "--bind", str(tmp_path / "a"), str(tmp_path / "a" / "b" / "loop")], check=True)
    try:
        done = threading.Event()
        found = []

        def plan():
            found.extend(
                make_plan(notebook("[a](a)", include=["a/**/*.txt"]), "nb.ipynb", str(tmp_path)).files
            )
            done.set()

        threading.Thread(target=plan, daemon=True).start()
        assert done.wait(20), "the walk went round the mount for ever"
        # The folder, walked alone: the mount is the folder "a" seen again, not entered.
        assert [item.rel for item in paths.resolve(str(tmp_path), "", "a", False)] == ["a/b/x.txt"]
    finally:
        subprocess.run(["umount", "-l", str(tmp_path / "a" / "b" / "loop")], check=True)
    rels = [m.rel for m in found]
    assert "a/b/x.txt" in rels and len(rels) <= 3, rels


def test_names_that_differ_only_in_case_do_not_collide_on_extraction(tmp_path):
    (tmp_path / "README.txt").write_text("upper")
    (tmp_path / "readme.txt").write_text("lower")
    (tmp_path / "con.txt").write_text("reserved on Windows")
    (tmp_path / "trailing.").write_text("a trailing dot")
    plan = make_plan(
        notebook("[a](README.txt) [b](readme.txt) [c](con.txt) [d](trailing.)"), "nb.ipynb", str(tmp_path)
    )
    assert sorted(m.arcname for m in plan.files) == ["README.txt", "_con.txt", "readme (2).txt", "trailing_"]


def test_an_image_at_the_root_and_one_beside_the_notebook_are_told_apart(tmp_path):
    (tmp_path / "nb").mkdir()
    (tmp_path / "a.png").write_bytes(b"root")
    (tmp_path / "nb" / "a.png").write_bytes(b"beside")
    plan = make_plan(
        notebook("![r](/files/a.png) ![b](a.png) ![c](<a.png>) ![d](a%2Epng)"), "nb/nb.ipynb", str(tmp_path)
    )
    assert {key: m.rel for key, m in plan.images.items()} == {"/files/a.png": "a.png", "a.png": "nb/a.png"}


def test_every_reference_is_a_point_where_the_plan_can_stop(tmp_path):
    options = Options()
    seen = []

    def check():
        seen.append(1)
        if len(seen) == 500:
            options.cancel.set()
        options.check()

    many = " ".join(f"[m](m{i}.txt)" for i in range(5000))
    with pytest.raises(Cancelled):
        make_plan(notebook(many), "nb.ipynb", Tree(str(tmp_path), check=check))
    assert len(seen) == 500


def test_a_folder_swapped_for_a_link_while_the_plan_runs_lists_nothing_outside(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    for folder in (root / "a", root / "zz", outside):
        folder.mkdir(parents=True)
    (root / "a" / "in.txt").write_text("in")
    (root / "zz" / "mine.txt").write_text("mine")
    (outside / "passwd").write_text("outside")
    calls = []

    def check():
        calls.append(1)
        if len(calls) == 2:  # the root is listed; "zz" is known as a folder, not yet listed
            (root / "zz" / "mine.txt").unlink()
            (root / "zz").rmdir()
            (root / "zz").symlink_to(outside)

    plan = make_plan(notebook("[all](.)"), "nb.ipynb", Tree(str(root), check=check))
    assert [m.rel for m in plan.files] == ["a/in.txt"]
    assert "passwd" not in repr(plan)


def test_a_file_and_a_folder_that_meet_on_a_mac_do_not_collide(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.csv").write_text("x")
    (tmp_path / "Data").write_text("a file named like the folder")
    (tmp_path / "café.txt").write_text("NFC")
    (tmp_path / "cafe\u0301.txt").write_text("NFD")
    (tmp_path / "readme (2).txt").write_text("the user's own (2)")
    (tmp_path / "README.txt").write_text("upper")
    (tmp_path / "readme.txt").write_text("lower")
    (tmp_path / "con .txt").write_text("reserved, with a space")
    plan = make_plan(
        notebook(
            "[d](data) [D](Data) [a](café.txt) [b](cafe\u0301.txt) "
            "[r2](readme%20(2).txt) [R](README.txt) [r](readme.txt) [c](con%20.txt)"
        ),
        "nb.ipynb",
        str(tmp_path),
    )
    by_rel = {m.rel: m.arcname for m in plan.files}
    assert by_rel["data/x.csv"] == "data/x.csv" and by_rel["Data"] == "Data (2)"
    assert by_rel["café.txt"] == "café.txt" and by_rel["cafe\u0301.txt"] == "cafe\u0301 (2).txt"
    assert by_rel["readme (2).txt"] == "readme (2).txt"  # a renamed file does not take it
    assert by_rel["README.txt"] == "README.txt" and by_rel["readme.txt"] == "readme (3).txt"
    assert by_rel["con .txt"] == "_con .txt"


def test_layout_is_rooted_at_the_deepest_common_folder(tmp_path):
    (tmp_path / "work" / "notebooks").mkdir(parents=True)
    (tmp_path / "work" / "data").mkdir()
    (tmp_path / "work" / "data" / "x.csv").write_text("1")
    plan = make_plan(notebook("[x](../data/x.csv)"), "work/notebooks/nb.ipynb", str(tmp_path))
    assert plan.top == "nb"
    assert plan.notebook_arcname == "notebooks/nb.ipynb"
    assert plan.html_arcname == "notebooks/nb.html"
    assert [(e.rel, e.arcname) for e in plan.files] == [("work/data/x.csv", "data/x.csv")]


def test_limits_name_the_limit_and_the_size(tmp_path):
    (tmp_path / "big.bin").write_bytes(b"x" * 5000)
    with pytest.raises(OverLimit, match=r"4.9 KiB of files, more than the server's limit of 1000 bytes"):
        make_plan(notebook("[b](big.bin)"), "nb.ipynb", str(tmp_path), max_bytes=1000)
    for i in range(3):
        (tmp_path / f"f{i}.txt").write_text("x")
    with pytest.raises(OverLimit, match=r"3 files, more than the server's limit of 2"):
        make_plan(notebook("[a](f0.txt) [b](f1.txt) [c](f2.txt)"), "nb.ipynb", str(tmp_path), max_files=2)


def test_folder_references_stop_at_the_limit(tmp_path):
    (tmp_path / "many").mkdir()
    for i in range(5):
        (tmp_path / "many" / f"{i}.txt").write_text("x" * 10)
    plan = make_plan(notebook("[all](many)"), "nb.ipynb", str(tmp_path), max_files=3)
    assert [e.rel for e in plan.files] == ["many/0.txt", "many/1.txt", "many/2.txt"]
    assert plan.skipped == [{"reference": "many", "reason": "limit"}]


def test_a_link_to_a_huge_folder_is_not_walked_to_the_end(tmp_path):
    for d in range(20):
        (tmp_path / "huge" / f"d{d:02}").mkdir(parents=True)
        for i in range(50):
            (tmp_path / "huge" / f"d{d:02}" / f"{i}.txt").write_text("x")
    assert len(paths.resolve(str(tmp_path), "", "huge", False, cap=10)) == 11
    assert len(paths.resolve(str(tmp_path), "", "huge", False)) == 1000
    plan = make_plan(notebook("[everything](.)"), "nb.ipynb", str(tmp_path), max_files=10)
    assert len(plan.files) == 10 and plan.skipped == [{"reference": ".", "reason": "limit"}]


def test_a_notebook_without_a_place_for_its_files_lists_them_as_not_looked_for():
    from nbext_pkg.bundlers.contents import Nowhere

    plan = make_plan(notebook("[x](x.csv)"), "nb.ipynb", Nowhere())
    assert plan.files == [] and plan.skipped == [{"reference": "x.csv", "reason": "not-looked-for"}]


@pytest.fixture
def project(tmp_path):
    """proj/ with a notebook, a file that is not one, a folder named like one, data, an
    image, and shared.csv beside proj/."""
    (tmp_path / "proj" / "data").mkdir(parents=True)
    (tmp_path / "proj" / "data" / "x.csv").write_text("x" * 10)
    (tmp_path / "proj" / "data" / "y.csv").write_text("y" * 20)
    (tmp_path / "proj" / "img.png").write_bytes(b"png")
    (tmp_path / "proj" / "notes.txt").write_text("n")
    (tmp_path / "proj" / "a.ipynb").write_text("{}")
    (tmp_path / "proj" / "b.ipynb").write_text("not a notebook")
    (tmp_path / "proj" / "nb.ipynb").mkdir()
    (tmp_path / "shared.csv").write_text("s")
    return tmp_path


A_FACTS = {
    "references": [
        ["img.png", "img.png", False, "markdown"],
        ["../shared.csv", "../shared.csv", False, "markdown"],
        ["data/x.csv", "data/x.csv", False, "markdown"],
    ],
    "excludes": [],
    "more_references": 3,
}


def select(root, folder, *names, max_bytes=1000, max_files=100, top=None):
    from nbext_pkg.bundlers.plan import plan_selection
    from nbext_pkg.bundlers.references import Reference

    asked = []

    def notebooks(member):
        asked.append(member.rel)
        return A_FACTS if member.rel.endswith("a.ipynb") else None  # b.ipynb: not readable

    plan, kinds = plan_selection(
        folder,
        [Reference(name, name, False, "ticked") for name in names],
        Tree(str(root)),
        max_bytes=max_bytes,
        max_files=max_files,
        notebooks=notebooks,
        top=top or (lambda kinds: "chosen name"),
    )
    return plan, kinds, asked


def test_a_selection_holds_what_is_ticked_and_what_its_notebooks_refer_to(project):
    plan, kinds, asked = select(project, "proj", "a.ipynb", "b.ipynb", "data", "notes.txt", "nb.ipynb")
    assert kinds == {
        "a.ipynb": "file",
        "b.ipynb": "file",
        "data": "folder",
        "notes.txt": "file",
        "nb.ipynb": "folder",
    }
    assert asked == ["proj/a.ipynb", "proj/b.ipynb"]  # the ticked files that are notebooks by name
    assert plan.top == "chosen name" and plan.folder == "proj"
    # shared.csv lies beside proj/: the names start at the root, so both fit.
    assert [(m.rel, m.arcname) for m in plan.files] == [
        ("proj/a.ipynb", "proj/a.ipynb"),
        ("proj/b.ipynb", "proj/b.ipynb"),
        ("proj/data/x.csv", "proj/data/x.csv"),
        ("proj/data/y.csv", "proj/data/y.csv"),
        ("proj/img.png", "proj/img.png"),
        ("proj/notes.txt", "proj/notes.txt"),
        ("shared.csv", "shared.csv"),
    ]
    assert plan.total_bytes == 2 + 14 + 30 + 3 + 1 + 1
    assert plan.skipped == [{"reference": "3 more references of proj/a.ipynb", "reason": "limit"}]
    (ticked,) = plan.notebooks
    assert ticked.member.rel == "proj/a.ipynb" and ticked.facts is A_FACTS
    assert ticked.html_arcname == "proj/a.html"
    assert {key: m.rel for key, m in ticked.images.items()} == {"img.png": "proj/img.png"}
    assert (plan.requirements_arcname, plan.runtime_arcname, plan.manifest_arcname) == (
        "requirements.txt",
        "runtime.txt",
        "MANIFEST.json",
    )


def test_one_ticked_folder_keeps_its_own_layout(project):
    plan, kinds, _ = select(project, "proj", "data", top=lambda kinds: f"top of {sorted(kinds)}")
    assert kinds == {"data": "folder"} and plan.top == "top of ['data']"
    assert [(m.rel, m.arcname) for m in plan.files] == [
        ("proj/data/x.csv", "x.csv"),
        ("proj/data/y.csv", "y.csv"),
    ]
    plan, _, asked = select(project, "", "proj")
    assert asked == [] and plan.notebooks == []  # a notebook inside a ticked folder is a file of it
    assert [m.arcname for m in plan.files] == [
        "a.ipynb",
        "b.ipynb",
        "data/x.csv",
        "data/y.csv",
        "img.png",
        "notes.txt",
    ]


def test_a_selection_over_the_limits_is_refused(project):
    with pytest.raises(
        OverLimit, match=r"^This bundle would hold 17 bytes of files, more than the server's limit of 5 b"
    ):
        select(project, "proj", "a.ipynb", "notes.txt", max_bytes=5)  # with img.png, shared.csv, data/x.csv
    with pytest.raises(
        OverLimit, match=r"^This bundle would hold 5 files, more than the server's limit of 4 \(c"
    ):
        select(project, "proj", "a.ipynb", "notes.txt", max_files=4)
    plan, _, _ = select(project, "proj", "a.ipynb", "notes.txt", max_bytes=17, max_files=5)
    assert plan.total_bytes == 17 and len(plan.files) == 5


@pytest.mark.parametrize(
    "n, text",
    [
        (0, "0 bytes"),
        (1023, "1023 bytes"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (1024**2 - 1, "1024.0 KiB"),
        (1024**2, "1.0 MiB"),
        (3 * 1024**3, "3.0 GiB"),
        (5 * 1024**4, "5.0 TiB"),
        (1024**5, "1024.0 TiB"),
    ],
)
def test_sizes_are_told_in_binary_units(n, text):
    from nbext_pkg.bundlers.plan import human

    assert human(n) == text


@pytest.mark.parametrize(
    "part, safe",
    [
        ("", "_"),
        (".", "__"),  # "_." then its trailing dot
        ("..", "_._"),
        ("a/b\\c", "a_b_c"),
        ("tab\there\x7f", "tab_here_"),
        ("C:x", "C_x"),
        ("c:", "c_"),
        ("x.", "x_"),
        ("x ", "x_"),
        ("CON", "_CON"),
        ("nul.txt", "_nul.txt"),
        ("con .txt", "_con .txt"),
        ("lpt9", "_lpt9"),
        ("conin$", "_conin$"),
        ("console", "console"),
        ("com10", "com10"),
        ("ok name", "ok name"),
    ],
)
def test_each_name_component_is_made_safe(part, safe):
    from nbext_pkg.bundlers.plan import safe_part

    assert safe_part(part) == safe


def test_the_naming_helpers():
    from nbext_pkg.bundlers import plan

    assert plan._numbered("a/b.txt", 2) == "a/b (2).txt" and plan._numbered("b", 3) == "b (3)"
    assert plan._deepest_common_folder(["a/b/c.txt", "a/b/d/e.txt"]) == "a/b"
    assert plan._deepest_common_folder(["a/b/c.txt", "a/x/c.txt"]) == "a"
    assert plan._deepest_common_folder(["x.txt", "a/y"]) == ""
    assert plan._folders("a/b/c.txt") == ["a", "a/b"] and plan._folders("c.txt") == []
    assert plan.as_written("caf\udce9/ok") == "caf\\xe9/ok"
    assert plan._key("Café") == plan._key("CAFE\u0301") and plan._key("a") != plan._key("b")


# --- what the plan takes from each kind of reference ----------------------------------------


def rels(plan):
    return [m.rel for m in plan.files]


@pytest.fixture
def files(tmp_path):
    """img.png, star*.png, star1.png, .hidden.csv, data/{x.csv, y.csv}, only/deep/c.csv"""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "x.csv").write_text("x" * 10)
    (tmp_path / "data" / "y.csv").write_text("y" * 20)
    (tmp_path / "only" / "deep").mkdir(parents=True)
    (tmp_path / "only" / "deep" / "c.csv").write_text("c")
    for name in ("img.png", "star*.png", "star1.png", ".hidden.csv", ".Xh.csv"):
        (tmp_path / name).write_text(name)
    return tmp_path


def test_an_image_named_twice_is_one_member_found_by_every_name(files):
    plan = make_plan(
        notebook('![a](img.png) ![b](./img.png) <img src="data/../img.png">'), "nb.ipynb", str(files)
    )
    assert rels(plan) == ["img.png"]
    (member,) = plan.files
    assert plan.images == {"img.png": member, "./img.png": member, "data/../img.png": member}


def test_a_file_named_before_its_folder_leaves_the_rest_of_the_folder_in(files):
    plan = make_plan(notebook("[x](data/x.csv) [all](data)"), "nb.ipynb", str(files))
    assert rels(plan) == ["data/x.csv", "data/y.csv"] and plan.images == {}


def test_exclude_patterns_are_read_from_the_notebooks_folder(files):
    (files / "nb").mkdir()
    plan = make_plan(notebook("[all](../data)", exclude=["../data/y.csv"]), "nb/n.ipynb", str(files))
    assert rels(plan) == ["data/x.csv"]


def test_an_associate_line_with_a_wildcard_is_a_glob_and_one_without_is_a_path(files):
    cell = "<!--associate:\ndata/*.csv\n.Xh.csv\n-->"
    plan = make_plan(notebook(cell), "nb.ipynb", str(files))
    assert rels(plan) == ["data/x.csv", "data/y.csv"]
    # As a path, the hidden file is skipped as hidden (a glob would only find nothing).
    assert plan.skipped == [{"reference": ".Xh.csv", "reason": "hidden"}]


def test_a_markdown_link_with_a_star_names_that_one_file(files):
    plan = make_plan(notebook("![s](star*.png)"), "nb.ipynb", str(files))
    assert rels(plan) == ["star*.png"]


def test_references_that_find_nothing_are_skipped_as_written(files):
    plan = make_plan(notebook("![m](no%20such.png)", include=["none/*.csv"]), "nb.ipynb", str(files))
    assert plan.files == []
    assert plan.skipped == [
        {"reference": "no%20such.png", "reason": "missing"},
        {"reference": "none/*.csv", "reason": "missing"},
    ]


def test_a_store_that_looks_nowhere_skips_includes_as_written():
    from nbext_pkg.bundlers.contents import Nowhere

    plan = make_plan(notebook(include=["data/*.csv"]), "nb.ipynb", Nowhere())
    assert plan.skipped == [{"reference": "data/*.csv", "reason": "not-looked-for"}]


def test_an_include_glob_stops_at_the_file_limit_with_one_entry(files):
    for i in range(5):
        (files / f"{i}.txt").write_text("t")
    plan = make_plan(notebook(include=["*.txt"]), "nb.ipynb", str(files), max_files=3)
    assert rels(plan) == ["0.txt", "1.txt", "2.txt"]
    assert plan.skipped == [{"reference": "*.txt", "reason": "limit"}]


@pytest.mark.parametrize("how", ["folder", "include"])
def test_a_deep_folder_is_walked_only_as_far_as_the_file_limit(tmp_path, monkeypatch, how):
    deep_tree(tmp_path, 200)
    calls = counting_scandir(monkeypatch)
    nb = notebook("[d](deep)") if how == "folder" else notebook(include=["deep/**"])
    plan = make_plan(nb, "nb.ipynb", str(tmp_path), max_files=5)
    assert len(plan.files) == 5 and plan.skipped[-1]["reason"] == "limit"
    assert len(calls) < 20, f"{len(calls)} folders listed for a plan of 5 files"


def test_hidden_files_are_left_out_unless_allowed(files):
    nb = notebook("[h](.hidden.csv)")
    assert make_plan(nb, "nb.ipynb", str(files)).skipped == [{"reference": ".hidden.csv", "reason": "hidden"}]
    assert rels(make_plan(nb, "nb.ipynb", str(files), allow_hidden=True)) == [".hidden.csv"]


def test_the_base_url_is_how_absolute_links_into_the_server_are_read(files):
    nb = notebook("![i](/user/x/files/img.png)")
    assert rels(make_plan(nb, "nb.ipynb", str(files), base_url="/user/x/")) == ["img.png"]


def test_the_check_is_called_while_planning_from_a_folder(files):
    calls = []
    make_plan(notebook("[d](data)"), "nb.ipynb", str(files), check=lambda: calls.append(1))
    assert len(calls) >= 2  # the reference, and the folder's listing


def test_a_tree_made_by_the_plan_is_closed_and_one_given_to_it_is_not(files):
    def open_fds():
        return len(os.listdir("/proc/self/fd"))

    before = open_fds()
    make_plan(notebook("[d](only)"), "nb.ipynb", str(files))
    assert open_fds() == before

    class Kept(Tree):
        closed = False

        def close(self):
            self.closed = True
            super().close()

    given = Kept(str(files))
    make_plan(notebook("[d](only)"), "nb.ipynb", given)
    assert not given.closed
    given.close()


def test_a_notebook_in_a_folder_with_no_files_is_named_by_itself(files):
    plan = make_plan(notebook(), "a/b/x.ipynb", str(files))
    assert plan.notebook_arcname == "x.ipynb" and plan.top == "x"
    assert plan_from([], [], "", str(files)).top == "notebook"


class Listed:
    """A tree (as contents.ContentsTree is) whose one folder holds ``items``."""

    def __init__(self, items):
        self.items = items

    def check(self):
        pass

    def resolve(self, notebook_dir, path, root_relative, *, written=None, cap=None):
        return (self.items if cap is None else self.items[: cap + 1]), len(self.items) > 1

    def glob(self, notebook_dir, pattern, *, cap=None):
        return self.items

    def too_large(self, resolved):
        return False

    def close(self):
        pass


def test_a_file_of_unknown_size_counts_for_nothing_in_the_total():
    plan = plan_from(
        [Reference("s.bin", "s.bin", False, "markdown")],
        [],
        "nb.ipynb",
        Listed([Resolved("/s", "s.bin", -1)]),
    )
    assert rels(plan) == ["s.bin"] and plan.total_bytes == 0


def test_by_default_a_plan_takes_ten_thousand_files():
    items = [Resolved(f"/r/{i:05}", f"d/{i:05}.txt", 0) for i in range(10_001)]
    plan = plan_from([Reference("d", "d", False, "markdown")], [], "nb.ipynb", Listed(items))
    assert len(plan.files) == 10_000 and plan.skipped == [{"reference": "d", "reason": "limit"}]


def test_the_notebooks_own_size_counts_against_the_byte_limit():
    one = [Resolved("/f", "f.bin", 10)]
    ref = [Reference("f.bin", "f.bin", False, "markdown")]
    assert plan_from(ref, [], "nb.ipynb", Listed(one), max_bytes=10).total_bytes == 10  # exactly the limit
    two = [Resolved("/a", "d/a.bin", 3), Resolved("/b", "d/b.bin", 3)]
    folder = [Reference("d", "d", False, "markdown")]
    plan = plan_from(folder, [], "nb.ipynb", Listed(two), max_bytes=10, notebook_size=5)
    assert rels(plan) == ["d/a.bin"] and plan.skipped == [{"reference": "d", "reason": "limit"}]


def test_image_keys_read_markdown_destinations_as_the_page_does():
    assert image_key(Reference("<a\\_b.png>", "a_b.png", False, "markdown")) == "a_b.png"
    assert image_key(Reference("a\\_b.png", "a\\_b.png", False, "html")) == "a\\_b.png"
    assert image_key(Reference("a%20b.png?v=1", "a b.png", False, "html")) == "a b.png"


# --- selections ----------------------------------------------------------------------------


def test_an_unreadable_ticked_notebook_does_not_stop_the_next_one(project):
    plan, _, asked = select(project, "proj", "b.ipynb", "a.ipynb")
    assert asked == ["proj/b.ipynb", "proj/a.ipynb"]
    assert [t.member.rel for t in plan.notebooks] == ["proj/a.ipynb"]
    assert "shared.csv" in rels(plan)  # a.ipynb's references were followed


def test_a_ticked_notebooks_folder_references_and_excludes_are_followed(project):
    from nbext_pkg.bundlers.plan import plan_selection

    facts = {"references": [["data", "data", False, "markdown"]], "excludes": ["data/y.csv"]}
    plan, _ = plan_selection(
        "proj",
        [Reference("a.ipynb", "a.ipynb", False, "ticked")],
        Tree(str(project)),
        max_bytes=1000,
        max_files=100,
        notebooks=lambda member: facts,
        top=lambda kinds: "t",
    )
    assert rels(plan) == ["proj/a.ipynb", "proj/data/x.csv"]


def test_a_ticked_notebooks_html_copy_moves_aside_for_a_ticked_html_file(project):
    (project / "proj" / "a.html").write_text("the user's own")
    plan, _, _ = select(project, "proj", "a.ipynb", "a.html")
    (ticked,) = plan.notebooks
    assert ticked.html_arcname == "proj/a.nbext_pkg.html"


def test_a_folder_ticked_with_others_keeps_its_name(project):
    plan, kinds, _ = select(project, "", "proj", "nothing here")
    assert kinds == {"proj": "folder", "nothing here": None}
    assert all(m.arcname.startswith("proj/") for m in plan.files)
    plan, _, _ = select(project, "proj", "data", "nothing here")
    assert [m.arcname for m in plan.files] == ["data/x.csv", "data/y.csv"]


def test_one_ticked_folder_is_the_top_even_when_its_files_lie_deeper(files):
    plan, _, _ = select(files, "", "only")
    assert [m.arcname for m in plan.files] == ["deep/c.csv"]


class Limited(Listed):
    """A store that refuses files over 5 bytes of its own accord (as an S3 bucket's
    limit for one object does)."""

    def too_large(self, resolved):
        return resolved.size > 5


def test_a_file_too_large_for_the_store_is_skipped_and_the_rest_taken():
    items = [Resolved("/a", "d/a.bin", 9), Resolved("/b", "d/b.bin", 2)]
    folder = plan_from([Reference("d", "d", False, "markdown")], [], "nb.ipynb", Limited(items))
    assert rels(folder) == ["d/b.bin"] and folder.skipped == [{"reference": "d/a.bin", "reason": "too-large"}]
    one = plan_from([Reference("a%2Ebin", "d/a.bin", False, "markdown")], [], "nb.ipynb", Limited(items[:1]))
    assert one.files == [] and one.skipped == [{"reference": "a%2Ebin", "reason": "too-large"}]


def test_a_file_of_a_folder_over_the_byte_limit_is_skipped_alone():
    items = [Resolved("/a", "d/a.bin", 11), Resolved("/b", "d/b.bin", 10)]
    plan = plan_from([Reference("d", "d", False, "markdown")], [], "nb.ipynb", Listed(items), max_bytes=10)
    assert rels(plan) == ["d/b.bin"]  # exactly the limit fits
    assert plan.skipped == [{"reference": "d/a.bin", "reason": "too-large"}]


def test_a_folder_fills_the_byte_limit_exactly_and_unknown_sizes_still_fit():
    items = [Resolved("/a", "d/a", 5), Resolved("/b", "d/b", 5), Resolved("/c", "d/c", -1)]
    plan = plan_from([Reference("d", "d", False, "markdown")], [], "nb.ipynb", Listed(items), max_bytes=10)
    assert rels(plan) == ["d/a", "d/b", "d/c"] and plan.skipped == []


def test_a_folder_cut_at_the_limit_does_not_end_the_plan(files):
    (files / "big").mkdir()
    for name in ("a", "b"):
        (files / "big" / name).write_text("x" * 6)
    (files / "tiny.txt").write_text("t")
    plan = make_plan(notebook("[big](big) [t](tiny.txt)"), "nb.ipynb", str(files), max_bytes=11)
    assert rels(plan) == ["big/a", "tiny.txt"]
    assert plan.skipped == [{"reference": "big", "reason": "limit"}]


def test_a_member_keeps_the_identity_its_file_was_found_with():
    item = Resolved("/real/a", "a.bin", 3, dev=7, ino=8, mtime_ns=9, ctime_ns=10)
    (member,) = plan_from(
        [Reference("a.bin", "a.bin", False, "markdown")], [], "nb.ipynb", Listed([item])
    ).files
    assert (member.real, member.size, member.dev, member.ino, member.mtime_ns, member.ctime_ns) == (
        "/real/a",
        3,
        7,
        8,
        9,
        10,
    )


def test_an_html_image_is_one_the_html_copy_finds(files):
    plan = make_plan(notebook('<img src="img.png">'), "nb.ipynb", str(files))
    assert {key: m.rel for key, m in plan.images.items()} == {"img.png": "img.png"}


def test_excludes_of_a_notebook_at_the_root_leave_out_only_what_they_match(files):
    plan = make_plan(notebook("[d](data)", exclude=["data/x.csv"]), "nb.ipynb", str(files))
    assert rels(plan) == ["data/y.csv"]


def test_names_made_safe_the_same_way_are_numbered_apart():
    items = [Resolved("/1", "d/x\\y.txt", 1), Resolved("/2", "d/x\ty.txt", 1)]
    plan = plan_from([Reference("d", "d", False, "markdown")], [], "nb.ipynb", Listed(items))
    assert sorted(m.arcname for m in plan.files) == ["d/x_y (2).txt", "d/x_y.txt"]


@pytest.mark.parametrize(
    ("part", "safe"),
    [("aX", "aX"), ("conX.txt", "conX.txt"), ("con\u2003.txt", "con\u2003.txt"), ("con .txt", "_con .txt")],
)
def test_only_spaces_and_dots_are_trimmed_from_reserved_names(part, safe):
    from nbext_pkg.bundlers.plan import safe_part

    assert safe_part(part) == safe
