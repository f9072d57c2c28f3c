"""bundlers/paths.py: references become files inside the root, or a reason to skip them."""

import errno
import os
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from nbext_pkg.bundlers import paths
from nbext_pkg.bundlers.paths import REASONS, Resolved, Skip, expand_glob, resolve

LONG = "x" * 5000


def build_tree(base: Path) -> Path:
    """The test server root, beside a look-alike sibling and a folder outside it.

    base/root/
        a.txt  data/{b.csv, deep/c.csv, .hidden.csv, link_in.txt -> ../a.txt,
                     link_out -> /etc/passwd, link_dir -> ../sub, dangling -> nowhere}
        sub/d.txt  .git/config  loop_a <-> loop_b  data_link -> data
        out_dir -> ../outside  sneaky.txt -> .git/config  evil_link -> ../root_evil/secret.ipynb
    base/root_evil/secret.ipynb    base/outside/x.txt
    """
    root = base / "root"
    for folder in ("data/deep", "sub", ".git"):
        (root / folder).mkdir(parents=True)
    for name, text in {
        "a.txt": "a",
        "data/b.csv": "bb",
        "data/deep/c.csv": "ccc",
        "data/.hidden.csv": "h",
        "sub/d.txt": "dddd",
        ".git/config": "[core]",
    }.items():
        (root / name).write_text(text)
    (base / "root_evil").mkdir()
    (base / "root_evil" / "secret.ipynb").write_text("{}")
    (base / "outside").mkdir()
    (base / "outside" / "x.txt").write_text("x")
    for link, target in {
        "data/link_in.txt": "../a.txt",
        "data/link_out": "/etc/passwd",
        "data/link_dir": "../sub",
        "data/dangling": "nowhere",
        "loop_a": "loop_b",
        "loop_b": "loop_a",
        "data_link": "data",
        "out_dir": "../outside",
        "sneaky.txt": ".git/config",
        "evil_link": "../root_evil/secret.ipynb",
    }.items():
        os.symlink(target, root / link)
    return root


@pytest.fixture
def root(tmp_path):
    return build_tree(tmp_path)


DATA_FILES = ["data/b.csv", "data/deep/c.csv", "data/link_in.txt"]

# (notebook_dir, path, root_relative, allow_hidden) -> rels, or the Skip reason
CASES = [
    pytest.param("", "a.txt", False, False, ["a.txt"], id="file"),
    pytest.param("sub", "d.txt", False, False, ["sub/d.txt"], id="relative-to-notebook"),
    pytest.param("sub", "a.txt", True, False, ["a.txt"], id="root-relative"),
    pytest.param("sub", "../a.txt", False, False, ["a.txt"], id="up-but-inside"),
    pytest.param("", "./data/../a.txt", False, False, ["a.txt"], id="lexical-dots"),
    pytest.param("", "data", False, False, DATA_FILES, id="folder"),
    pytest.param("", "data/", False, False, DATA_FILES, id="folder-slash"),
    pytest.param("", "data", False, True, sorted(DATA_FILES + ["data/.hidden.csv"]), id="folder-hid"),
    pytest.param(
        "",
        "data_link",
        False,
        False,
        ["data_link/b.csv", "data_link/deep/c.csv", "data_link/link_in.txt"],
        id="folder-through-link",
    ),
    pytest.param("", "data/link_in.txt", False, False, ["data/link_in.txt"], id="link-in-root"),
    pytest.param("", "nope.txt", False, False, "missing", id="missing"),
    pytest.param("", "data/dangling", False, False, "missing", id="dangling-link"),
    pytest.param("", "a.txt/child", False, False, "missing", id="through-a-file"),
    pytest.param("", "../root/a.txt", False, False, "outside-root", id="dotdot-comes-back"),
    pytest.param("", "../outside/x.txt", False, False, "outside-root", id="dotdot"),
    pytest.param("sub", "../../outside/x.txt", False, False, "outside-root", id="dotdot-from-sub"),
    pytest.param("", "../root_evil/secret.ipynb", False, False, "outside-root", id="sibling-prefix"),
    pytest.param("", "/etc/passwd", False, False, "outside-root", id="absolute"),
    pytest.param("", "/etc/passwd", True, False, "outside-root", id="absolute-root-relative"),
    pytest.param("", "a\x00.txt", False, False, "outside-root", id="nul"),
    pytest.param("", LONG, False, False, "unreadable", id="long-name"),
    pytest.param("", f"data/{LONG}/x", False, False, "unreadable", id="long-folder"),
    pytest.param("", "bad\udc80\ud800.txt", False, False, "missing", id="unencodable"),
    pytest.param("", "data/link_out", False, False, "symlink-outside-root", id="link-to-etc"),
    pytest.param("", "out_dir/x.txt", False, False, "symlink-outside-root", id="through-out-link"),
    pytest.param("", "out_dir", False, False, "symlink-outside-root", id="folder-link-out"),
    pytest.param("", "evil_link", False, False, "symlink-outside-root", id="link-to-sibling-prefix"),
    pytest.param("", "loop_a", False, False, "unreadable", id="symlink-loop"),
    pytest.param("", ".git/config", False, False, "hidden", id="hidden-folder"),
    pytest.param("", "data/.hidden.csv", False, False, "hidden", id="hidden-file"),
    pytest.param("", ".git/nothing", False, False, "hidden", id="hidden-before-missing"),
    pytest.param("", "sneaky.txt", False, False, "hidden", id="link-to-hidden"),
    pytest.param("", ".git/config", False, True, [".git/config"], id="hidden-allowed"),
    pytest.param("", "sneaky.txt", False, True, ["sneaky.txt"], id="link-to-hidden-allowed"),
]


@pytest.mark.parametrize(("notebook_dir", "path", "root_relative", "allow_hidden", "expected"), CASES)
def test_resolve(root, notebook_dir, path, root_relative, allow_hidden, expected):
    result = resolve(str(root), notebook_dir, path, root_relative, allow_hidden=allow_hidden)
    if isinstance(expected, str):
        assert result == Skip(path, expected)
    else:
        assert [item.rel for item in result] == expected
        for item in result:
            assert item.real == os.path.realpath(root / item.rel)
            assert item.size == os.path.getsize(item.real)


def test_link_is_kept_at_its_own_path(root):
    (item,) = resolve(str(root), "data", "link_in.txt", False)
    assert item == Resolved(os.path.realpath(root / "a.txt"), "data/link_in.txt", 1)


def test_written_names_the_skip(root):
    assert resolve(str(root), "", "x", False, written="x%20y") == Skip("x%20y", "missing")


def test_root_itself_and_empty_folder(root):
    (root / "empty").mkdir()
    assert resolve(str(root), "", "empty", False) == []
    # Linked folders (data_link, out_dir) are not entered; loops and sneaky.txt drop out.
    everything = [item.rel for item in resolve(str(root), "", "", True)]
    assert everything == ["a.txt", *DATA_FILES, "sub/d.txt"]


def test_root_given_through_a_symlink(root, tmp_path):
    os.symlink(root, tmp_path / "alias")
    (item,) = resolve(str(tmp_path / "alias"), "", "a.txt", False)
    assert item.real == os.path.realpath(root / "a.txt")


def test_unreadable_when_access_is_refused(root, monkeypatch):
    # We may run as root, where chmod 000 still reads: make access() say no instead.
    monkeypatch.setattr(paths.os, "access", lambda *args, **kwargs: False)
    assert resolve(str(root), "", "a.txt", False) == Skip("a.txt", "unreadable")
    assert resolve(str(root), "", "data", False) == []


def test_unreadable_when_stat_fails_otherwise(root, monkeypatch):
    real_stat = os.stat
    target = os.path.realpath(root / "a.txt")

    def refusing_stat(path, *args, **kwargs):
        if os.fspath(path) == target:
            raise PermissionError(errno.EACCES, "denied", path)
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(paths.os, "stat", refusing_stat)
    assert resolve(str(root), "", "a.txt", False) == Skip("a.txt", "unreadable")


def test_fifo_is_not_read(root):
    os.mkfifo(root / "pipe")
    assert resolve(str(root), "", "pipe", False) == Skip("pipe", "unreadable")
    assert "pipe" not in [item.rel for item in resolve(str(root), "", "", True)]


def test_walk_skips_links_out_and_does_not_enter_linked_folders(root):
    os.symlink(root / "data", root / "data" / "deep" / "back_up")
    os.symlink(root / ".git" / "config", root / "data" / "deep" / "cfg")
    rels = [item.rel for item in resolve(str(root), "", "data", False)]
    assert rels == DATA_FILES
    with_hidden = [item.rel for item in resolve(str(root), "", "data", False, allow_hidden=True)]
    assert "data/deep/cfg" in with_hidden and "data/.hidden.csv" in with_hidden


GLOBS = [
    pytest.param("", "**/*.csv", False, ["data/b.csv", "data/deep/c.csv"], id="recursive"),
    pytest.param("", "data/*.csv", False, ["data/b.csv"], id="one-level"),
    pytest.param("", "data/*.csv", True, ["data/.hidden.csv", "data/b.csv"], id="hidden-allowed"),
    pytest.param("", "data/**", False, DATA_FILES, id="folder-recursive"),
    pytest.param("", "*.txt", False, ["a.txt"], id="top"),
    pytest.param("sub", "*.txt", False, ["sub/d.txt"], id="from-notebook-folder"),
    pytest.param("sub", "../*.txt", False, ["a.txt"], id="leading-dotdot-inside"),
    pytest.param("", "a.txt", False, ["a.txt"], id="literal"),
    pytest.param("", "../*/*", False, [], id="leading-dotdot-out"),
    pytest.param("", "../root/*.txt", False, [], id="dotdot-comes-back"),
    pytest.param("", "data/**/../../../*", False, [], id="dotdot-after-magic"),
    pytest.param("", "/etc/*", False, [], id="absolute"),
    pytest.param("", "out_dir/*", False, [], id="through-link-out"),
    pytest.param("", "loop_*", False, [], id="loops"),
    pytest.param("", "*/link_out", False, [], id="link-to-etc"),
    pytest.param("", "", False, [], id="empty"),
    pytest.param("", "a\x00*", False, [], id="nul"),
    pytest.param("", "[", False, [], id="broken-class"),
]


@pytest.mark.parametrize(("notebook_dir", "pattern", "allow_hidden", "expected"), GLOBS)
def test_expand_glob(root, notebook_dir, pattern, allow_hidden, expected):
    found = expand_glob(str(root), notebook_dir, pattern, allow_hidden=allow_hidden)
    assert [item.rel for item in found] == expected


def test_glob_star_star_survives_linked_cycles(root):
    for i in range(8):
        os.symlink(root, root / "data" / f"cycle{i}")
    found = [item.rel for item in expand_glob(str(root), "", "**/*.csv")]
    assert found == ["data/b.csv", "data/deep/c.csv"]


# --- property: whatever the reference and the links, stay inside ------------------------

LINKS = {
    "in_file": "a/f.txt",
    "in_dir": "a",
    "out_file": "/etc/passwd",
    "out_dir": "..",
    "loop": "l_loop",
    "dangling": "missing/thing",
    "hidden_target": ".h/secret",
    "to_root": ".",
    "evil": "../root_evil/s",
}
_SEGMENTS = st.sampled_from(
    [
        "..",
        ".",
        "",
        "a",
        "f.txt",
        "%2e%2e",
        "\x00",
        ".h",
        "secret",
        "l_in_dir",
        "l_out_dir",
        "l_loop",
        "l_in_file",
        "l_out_file",
        "l_to_root",
        "l_hidden_target",
        "l_dangling",
        "l_evil",
        "x" * 300,
    ]
)
_PATHS = st.lists(_SEGMENTS, max_size=8).map("/".join)
# Paths built from the tree's names twice over, so most examples reach the disk.
_REFERENCES = st.one_of(_PATHS, _PATHS, st.text(max_size=40))


def _inside(real: str, real_root: str) -> bool:
    return Path(real).parts[: len(Path(real_root).parts)] == Path(real_root).parts


@settings(max_examples=300, deadline=None)
@given(
    reference=_REFERENCES,
    links=st.sets(st.sampled_from(sorted(LINKS))),
    notebook_dir=st.sampled_from(["", "a", "a/b", ".h"]),
    root_relative=st.booleans(),
    allow_hidden=st.booleans(),
)
def test_resolve_never_leaves_the_root(reference, links, notebook_dir, root_relative, allow_hidden):
    with tempfile.TemporaryDirectory() as base:
        root = Path(base) / "root"
        (root / "a" / "b").mkdir(parents=True)
        (root / ".h").mkdir()
        (root / "a" / "f.txt").write_text("f")
        (root / ".h" / "secret").write_text("s")
        (Path(base) / "root_evil").mkdir()
        (Path(base) / "root_evil" / "s").write_text("s")
        for name in links:
            os.symlink(LINKS[name], root / f"l_{name}")
            os.symlink(
                LINKS[name] if LINKS[name].startswith("/") else f"../{LINKS[name]}",
                root / "a" / f"l_{name}",
            )
        result = resolve(str(root), notebook_dir, reference, root_relative, allow_hidden=allow_hidden)
        event(result.reason if isinstance(result, Skip) else f"files: {min(len(result), 2)}")
        if isinstance(result, Skip):
            assert result.reason in REASONS[:5]
            assert result.reference == reference
            return
        real_root = os.path.realpath(root)
        for item in result:
            assert stat.S_ISREG(os.stat(item.real).st_mode)
            assert _inside(os.path.realpath(item.real), real_root)
            parts = item.rel.split("/")
            assert ".." not in parts and "" not in parts and not item.rel.startswith("/")
            assert allow_hidden or not any(part.startswith(".") for part in parts)
            assert os.path.realpath(root / item.rel) == item.real
        globbed = expand_glob(str(root), notebook_dir, reference, allow_hidden=allow_hidden)
        for item in globbed:
            assert _inside(os.path.realpath(item.real), real_root)


def test_a_tree_on_this_disk_reads_its_files_from_its_real_root(root, tmp_path):
    (tmp_path / "via").symlink_to(root)
    tree = paths.Tree(str(tmp_path / "via"))
    try:
        files = tree.files(None, 0)
        assert isinstance(files, paths.LocalFiles) and files.real_root == os.path.realpath(root)
        files.close()
        assert tree.disk_root() == os.path.realpath(root)
        assert tree.on_disk("a.txt") is True and tree.storage_of("a.txt") is None
        assert tree.too_large(Resolved("x", "x", 10**15)) is False
    finally:
        tree.close()


# --- what the walk and the globs keep, and the folder swapped under them -------------------


def test_a_resolved_file_keeps_the_identity_it_was_found_with(root):
    (item,) = resolve(str(root), "", "a.txt", False)
    info = os.stat(root / "a.txt")
    assert (item.dev, item.ino, item.mtime_ns, item.ctime_ns) == (
        info.st_dev,
        info.st_ino,
        info.st_mtime_ns,
        info.st_ctime_ns,
    )


def test_a_stat_without_a_ctime_is_resolved_with_ctime_unknown():
    class StoreStat:  # what contents.py's listings hand over: no st_ctime_ns
        st_size, st_dev, st_ino, st_mtime_ns = 3, 0, 0, 5

    assert paths._resolved("r", "x", StoreStat()) == Resolved("r", "x", 3)
    assert paths._resolved("r", "x", StoreStat()).ctime_ns == 0


def test_a_root_the_system_cannot_name_skips_every_reference_as_missing(tmp_path):
    gone = str(tmp_path / "gone\x00")
    assert resolve(gone, "", "a.csv", False) == Skip("a.csv", "missing")
    assert resolve(gone, "", "a.csv", False, written="a%2Ecsv") == Skip("a%2Ecsv", "missing")
    assert expand_glob(gone, "", "*.csv") == []


def test_readable_is_false_for_a_name_the_system_cannot_take():
    assert paths._readable("a\x00b") is False


@pytest.fixture
def wide(tmp_path):
    """root/my data/{s0..s4}/x.csv, root/my data/{f0..f9}.csv, root/sub/x.csv, root/x.csv"""
    root = tmp_path / "root"
    for i in range(5):
        (root / "my data" / f"s{i}").mkdir(parents=True)
        (root / "my data" / f"s{i}" / "x.csv").write_text(str(i))
    (root / "my data" / "s0" / "deeper").mkdir()
    (root / "my data" / "s0" / "deeper" / "x.csv").write_text("d")
    for i in range(10):
        (root / "my data" / f"f{i}.csv").write_text(str(i))
    (root / "sub").mkdir()
    (root / "sub" / "x.csv").write_text("sub")
    (root / "x.csv").write_text("top")
    return root


def glob(root, pattern, notebook_dir="", cap=None):
    tree = paths.Tree(str(root))
    try:
        return tree.glob(notebook_dir, pattern, cap=cap)
    finally:
        tree.close()


def test_glob_matches_in_folders_whose_names_have_spaces(wide):
    found = glob(wide, "my data/*.csv")
    assert [item.rel for item in found] == [f"my data/f{i}.csv" for i in range(10)]
    assert found[0].real == os.path.realpath(wide / "my data" / "f0.csv") and found[0].size == 1


def test_empty_and_dot_components_of_a_glob_are_dropped(wide):
    expected = [f"my data/s{i}/x.csv" for i in range(5)]
    assert [item.rel for item in glob(wide, "my data/*//x.csv")] == expected
    assert [item.rel for item in glob(wide, "my data/*/./x.csv")] == expected
    assert [item.rel for item in glob(wide, "./my data//s1/*.csv")] == ["my data/s1/x.csv"]


def test_star_star_after_a_wildcard_matches_zero_or_more_folders(wide):
    found = [item.rel for item in glob(wide, "my data/s[01]/**/x.csv")]
    assert found == ["my data/s0/deeper/x.csv", "my data/s0/x.csv", "my data/s1/x.csv"]


def test_a_literal_glob_is_the_path_from_the_notebooks_folder(wide):
    assert [item.rel for item in glob(wide, "x.csv", notebook_dir="sub")] == ["sub/x.csv"]
    assert glob(wide, "nothing.csv") == [] and glob(wide, "sub/nothing") == []


def test_an_absolute_glob_matches_nothing_even_where_the_root_has_that_folder(wide):
    (wide / "etc").mkdir()
    (wide / "etc" / "passwd").write_text("not that one")
    assert glob(wide, "/etc/*") == [] and glob(wide, "/etc/passwd") == []
    assert [item.rel for item in glob(wide, "etc/*")] == ["etc/passwd"]


def test_the_cap_bounds_every_kind_of_glob_at_one_past_it(wide):
    """More than ``cap`` found is enough to refuse the plan: the walk stops at cap + 1."""
    assert len(glob(wide, "my data", cap=2)) == 3  # a literal folder
    assert len(glob(wide, "my data/**", cap=2)) == 3  # a folder taken whole
    assert len(glob(wide, "my data/*/x.csv", cap=2)) == 3  # one match per folder
    assert len(glob(wide, "my data/*/x.csv")) == 5


def test_an_entry_that_vanishes_while_its_folder_is_listed_is_left_out_alone(wide, monkeypatch):
    real_scandir = os.scandir

    class Listing(list):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def scandir_then_remove(fd):
        with real_scandir(fd) as it:
            entries = Listing(it)
        if any(entry.name == "f0.csv" for entry in entries):
            (wide / "my data" / "f0.csv").unlink()  # after the listing, before its stat
        return entries

    monkeypatch.setattr(paths.os, "scandir", scandir_then_remove)
    assert [item.rel for item in glob(wide, "my data/*.csv")] == [f"my data/f{i}.csv" for i in range(1, 10)]


def test_a_folder_outside_the_root_is_never_listed(wide, tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "secret.csv").write_text("s")
    tree = paths.Tree(str(wide))
    try:
        assert tree._entries(str(tmp_path / "elsewhere"), None) == []
        assert tree._entries(str(tmp_path), None) == []
    finally:
        tree.close()


def swapped_tree(root, folder):
    """A Tree that swaps ``root/folder`` for a look-alike holding planted files after the
    folder was found, before it is read: at the first listing for "my data", at the
    second (once "my data" has been listed) for a folder inside it."""
    state = {"listings": 0}
    swap_at = folder.count("/") + 1

    def swap():
        state["listings"] += 1
        if state["listings"] == swap_at:
            target = root / folder
            target.rename(target.with_name(target.name + " (old)"))
            target.mkdir()
            (target / "impostor.csv").write_text("planted")
            (target / "x.csv").write_text("planted")

    return paths.Tree(str(root), check=swap)


@pytest.mark.parametrize(
    ("folder", "how", "reference"),
    [
        pytest.param("my data", "resolve", "my data", id="resolved-folder"),
        pytest.param("my data/s1", "resolve", "my data", id="folder-below-a-resolved-one"),
        pytest.param("my data", "glob", "my data/*.csv", id="globbed-folder"),
        pytest.param("my data", "glob", "my data/**", id="folder-taken-whole"),
        pytest.param("my data/s1", "glob", "my data/*/x.csv", id="folder-below-a-wildcard"),
        pytest.param("my data/s1", "glob", "my data/s*/**", id="folder-below-star-star"),
    ],
)
def test_a_folder_swapped_after_it_was_found_is_not_read(wide, folder, how, reference):
    """Each folder is listed only if it is still the one (device, inode) first seen: a
    look-alike put in its place in between gives nothing of its own."""
    tree = swapped_tree(wide, folder)
    try:
        if how == "resolve":
            found, is_folder = tree.resolve("", reference, False)
            assert is_folder
        else:
            found = tree.glob("", reference)
    finally:
        tree.close()
    reals = [item.real for item in found]
    assert all("impostor" not in real and "planted" not in Path(real).read_text() for real in reals), reals
    assert not any(real.startswith(os.path.realpath(wide / folder) + os.sep) for real in reals), reals


def test_lexical_refuses_what_leaves_the_root_and_strips_the_notebooks_folder():
    assert paths.lexical("", "..", False) is None
    assert paths.lexical("", "/etc", False) is None and paths.lexical("", "//etc", False) is None
    assert paths.lexical("/sub/", "a", False) == "sub/a"
    assert paths.lexical("Xd/", "a", False) == "Xd/a"  # only slashes are stripped
    assert paths.lexical("sub", "a", True) == "a"


def test_inside_is_false_when_the_paths_cannot_be_compared():
    assert paths.inside("relative/x", "/root") is False


def test_a_nul_in_the_notebooks_folder_is_outside_the_root(root):
    assert resolve(str(root), "a\x00", "a.txt", False) == Skip("a.txt", "outside-root")


def test_a_link_to_a_hidden_file_deeper_down_is_hidden(root):
    (root / "data" / ".keys").mkdir()
    (root / "data" / ".keys" / "k.txt").write_text("k")
    os.symlink("data/.keys/k.txt", root / "innocent.txt")
    assert resolve(str(root), "", "innocent.txt", False) == Skip("innocent.txt", "hidden")


def test_a_tree_hides_hidden_files_unless_told(root):
    tree = paths.Tree(str(root))
    try:
        assert tree.resolve("", ".git/config", False) == Skip(".git/config", "hidden")
    finally:
        tree.close()
    tree = paths.Tree(str(root), allow_hidden=True)
    try:
        assert [item.rel for item in tree.glob("", ".git/*")] == [".git/config"]
    finally:
        tree.close()


def test_a_walk_cut_at_the_cap_goes_on_into_subfolders_until_it_is_passed(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    for name in ("d/a.txt", "d/b.txt", "d/sub/c.txt"):
        (tmp_path / name).write_text("x")
    assert [item.rel for item in resolve(str(tmp_path), "", "d", False, cap=2)] == [
        "d/a.txt",
        "d/b.txt",
        "d/sub/c.txt",
    ]
