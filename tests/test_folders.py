"""bundlers/folders.py: the temporary and final folders of an open, on their own; how an
open uses them (free names, races, sweeps) is in test_extract.py."""

import os

import pytest

from nbext_pkg.bundlers import folders
from nbext_pkg.bundlers.open_rules import Refused


@pytest.mark.parametrize("renameat2", [True, False])
def test_rename_noreplace_never_replaces_an_empty_folder(tmp_path, monkeypatch, renameat2):
    if not renameat2:
        monkeypatch.setattr(folders, "_renameat2", lambda: None)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "x").write_text("x")
    (tmp_path / "dst").mkdir()
    with pytest.raises(FileExistsError):
        folders.rename_noreplace(str(tmp_path / "src"), str(tmp_path / "dst"))
    assert os.listdir(tmp_path / "dst") == [] and os.listdir(tmp_path / "src") == ["x"]
    folders.rename_noreplace(str(tmp_path / "src"), str(tmp_path / "new"))
    assert os.listdir(tmp_path / "new") == ["x"] and not (tmp_path / "src").exists()


def test_a_tree_deeper_than_recursion_allows_is_removed(tmp_path):
    top = tmp_path / "deep"
    fd = os.open(tmp_path, os.O_RDONLY)
    os.mkdir("deep", dir_fd=fd)
    current = os.open("deep", os.O_RDONLY, dir_fd=fd)
    for _ in range(3000):  # far past the longest path the system takes whole
        os.mkdir("d", dir_fd=current)
        with open(os.open("f", os.O_WRONLY | os.O_CREAT, dir_fd=current), "w") as f:
            f.write("x")
        deeper = os.open("d", os.O_RDONLY, dir_fd=current)
        os.close(current)
        current = deeper
    os.close(current)
    os.close(fd)
    folders.remove_tree(str(top))
    assert not top.exists()


def test_remove_tree_never_follows_a_link_out_of_the_tree(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    top = tmp_path / "top"
    (top / "sub").mkdir(parents=True)
    (top / "sub" / "link").symlink_to(outside)
    (top / "file").write_text("x")
    folders.remove_tree(str(top))
    assert not top.exists() and (outside / "keep.txt").read_text() == "keep"


def test_remove_tree_of_nothing_is_no_error(tmp_path):
    folders.remove_tree(str(tmp_path / "never-made"))
    assert os.listdir(tmp_path) == []


def test_free_name_counts_up_past_what_is_taken(tmp_path):
    (tmp_path / "foo").mkdir()
    (tmp_path / "foo-1").write_text("a file takes a name too")
    (tmp_path / "foo-3").mkdir()
    assert folders.free_name(str(tmp_path), "foo") == "foo-2"
    assert folders.free_name(str(tmp_path), "bar") == "bar"


def test_free_name_with_exact_refuses_a_taken_name(tmp_path):
    (tmp_path / "foo").mkdir()
    with pytest.raises(Refused, match="foo already exists, and an archive is never opened into an existing"):
        folders.free_name(str(tmp_path), "foo", exact=True)
    assert folders.free_name(str(tmp_path), "other", exact=True) == "other"


def test_free_name_gives_up_after_max_names(tmp_path, monkeypatch):
    monkeypatch.setattr(folders, "MAX_NAMES", 3)
    for name in ("foo", "foo-1", "foo-2"):
        (tmp_path / name).mkdir()
    with pytest.raises(Refused, match="Every name from foo to foo-2 is taken"):
        folders.free_name(str(tmp_path), "foo")


@pytest.mark.parametrize(
    "archive, name",
    [
        ("/x/data.zip", "data"),
        ("data.ZIP", "data"),
        ("data.tar.gz", "data"),
        ("data.tgz", "data"),
        ("data.tar", "data"),
        ("data.7z", "data"),
        (".hidden.zip", "hidden"),
        ("....zip", "archive"),
    ],
)
def test_folder_name_drops_the_archive_suffix_and_leading_dots(archive, name):
    assert folders.folder_name(archive) == name


@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "a\\b", "a\x00b", "x" * 256])
def test_a_name_that_is_not_one_folder_name_is_refused(bad):
    with pytest.raises(Refused, match="cannot be a folder's name"):
        folders.plain(bad)
    assert folders.plain("fine name") == "fine name"


def test_the_temporary_folder_names_this_host_and_process(tmp_path):
    made = folders.make_temp(str(tmp_path))
    match = folders.TEMP.fullmatch(os.path.basename(made))
    assert match and match[1] == folders._host() and int(match[2]) == os.getpid()
    assert os.path.isdir(made) and os.path.dirname(made) == str(tmp_path)


def test_alive_says_which_processes_run():
    assert folders.alive(os.getpid())
    assert folders.alive(2**62)  # no process can have it: judged not ours to sweep
    child = os.fork()
    if child == 0:
        os._exit(0)
    os.waitpid(child, 0)
    assert not folders.alive(child)
