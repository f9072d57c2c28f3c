"""bundlers/sources.py: a planned file is read only if it is still the file the plan
saw, whatever was put in its place, and a file that moves while it is read says so."""

import os
import shutil
import socket
import threading

import pytest

from nbext_pkg.bundlers.paths import Tree
from nbext_pkg.bundlers.sources import Changed, LocalFiles

SECRET = b"outside the root: must never be read"


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "root"
    (root / "data" / "deep").mkdir(parents=True)
    (root / "data" / "deep" / "victim.txt").write_bytes(b"v" * 1000)
    (root / "data" / "other.txt").write_bytes(b"o" * 1000)
    (tmp_path / "outside" / "deep").mkdir(parents=True)
    (tmp_path / "outside" / "deep" / "victim.txt").write_bytes(SECRET)
    (tmp_path / "outside" / "secret.txt").write_bytes(SECRET)
    return root


def planned(root, rel):
    found, _ = Tree(str(root)).resolve("", rel, True)
    (item,) = found
    return item


def swap_for_link(root, tmp_path):
    victim = root / "data" / "deep" / "victim.txt"
    victim.unlink()
    victim.symlink_to(tmp_path / "outside" / "secret.txt")


def swap_parent_for_link(root, tmp_path):
    shutil.rmtree(root / "data" / "deep")
    (root / "data" / "deep").symlink_to(tmp_path / "outside" / "deep")


def swap_for_folder(root, tmp_path):
    victim = root / "data" / "deep" / "victim.txt"
    victim.unlink()
    victim.mkdir()


def swap_for_fifo(root, tmp_path):
    victim = root / "data" / "deep" / "victim.txt"
    victim.unlink()
    os.mkfifo(victim)


def swap_for_socket(root, tmp_path):
    victim = root / "data" / "deep" / "victim.txt"
    victim.unlink()
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(victim))
    sock.close()


def replace_by_rename(root, tmp_path):
    (root / "data" / "new.txt").write_bytes(b"n" * 1000)
    os.replace(root / "data" / "new.txt", root / "data" / "deep" / "victim.txt")


def hard_link_outside(root, tmp_path):
    victim = root / "data" / "deep" / "victim.txt"
    victim.unlink()
    os.link(tmp_path / "outside" / "secret.txt", victim)


def delete(root, tmp_path):
    (root / "data" / "deep" / "victim.txt").unlink()


def rewrite_same_size(root, tmp_path):
    victim = root / "data" / "deep" / "victim.txt"
    with open(victim, "r+b") as f:
        f.write(b"w" * 1000)
    st = victim.stat()
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


SWAPS = [
    swap_for_link,
    swap_parent_for_link,
    swap_for_folder,
    swap_for_fifo,
    swap_for_socket,
    replace_by_rename,
    hard_link_outside,
    delete,
    rewrite_same_size,
]


@pytest.mark.parametrize("swap", SWAPS, ids=lambda f: f.__name__)
def test_a_file_swapped_after_the_plan_is_not_read(tree, tmp_path, swap):
    item = planned(tree, "data/deep/victim.txt")
    swap(tree, tmp_path)
    files = LocalFiles(os.path.realpath(tree))
    done = threading.Event()
    outcome = {}

    def read():  # a FIFO that were opened for reading would block here for ever
        try:
            outcome["data"] = files.read_all(item)
        except Changed as error:
            outcome["changed"] = str(error)
        done.set()

    threading.Thread(target=read, daemon=True).start()
    assert done.wait(5), "reading the swapped file hung"
    assert "changed" in outcome, outcome
    files.close()


def test_an_unchanged_file_reads_whole_and_the_folder_fds_are_reused(tree):
    files = LocalFiles(os.path.realpath(tree))
    assert files.read_all(planned(tree, "data/deep/victim.txt")) == b"v" * 1000
    chain = list(files._chain)
    assert [name for name, _ in chain] == ["data", "deep"]
    assert files.read_all(planned(tree, "data/other.txt")) == b"o" * 1000
    assert files._chain == chain[:1]
    files.close()
    assert files._chain == [] and files._root_fd is None


@pytest.mark.parametrize("change", ["shrink", "grow", "write"])
def test_a_file_that_moves_while_it_is_read_says_so(tree, change):
    big = tree / "data" / "big.bin"
    big.write_bytes(os.urandom(3 * 1024 * 1024))
    item = planned(tree, "data/big.bin")
    files = LocalFiles(os.path.realpath(tree))
    with files.open(item) as checked:
        first = checked.read(1024 * 1024)
        assert len(first) == 1024 * 1024
        with open(big, "r+b") as f:
            if change == "shrink":
                f.truncate(1024 * 1024 + 10)
            elif change == "grow":
                f.seek(0, os.SEEK_END)
                f.write(b"more")
            else:
                f.seek(2 * 1024 * 1024)
                f.write(b"x" * 10)
                os.utime(f.fileno(), ns=(0, item.mtime_ns + 10**9))
        with pytest.raises(Changed):
            while checked.read():
                pass
            checked.finish()
    files.close()


def test_the_same_name_through_a_moved_folder_is_still_checked(tree, tmp_path):
    """A folder fd kept open from the previous file cannot carry a read outside:
    only the inode the plan saw is read."""
    files = LocalFiles(os.path.realpath(tree))
    files.read_all(planned(tree, "data/other.txt"))
    item = planned(tree, "data/deep/victim.txt")
    os.rename(tree / "data", tmp_path / "moved")
    (tmp_path / "moved" / "deep" / "victim.txt").unlink()
    (tmp_path / "moved" / "deep" / "victim.txt").write_bytes(SECRET)
    with pytest.raises(Changed):
        files.read_all(item)
    files.close()
