"""bundlers/saving.py: a bundle written into the workspace under a free name, through a
hidden temporary file; a full disk, a name taken meanwhile or a cancelled bundle leave
nothing behind and overwrite nothing."""

import errno
import os
import zipfile

import nbformat
import pytest

from nbext_pkg.bundlers import pipeline, saving
from nbext_pkg.bundlers.options import Cancelled, Options


@pytest.fixture
def root(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("[d](data.csv)")]
    nbformat.write(nb, str(tmp_path / "nb.ipynb"))
    (tmp_path / "data.csv").write_text("a\n1\n" * 1000)
    return tmp_path


def planned(root, **options):
    opts = Options(**options)
    return pipeline.prepare(
        "nb.ipynb",
        opts,
        tree=pipeline.local_tree(str(root), opts),
        asked={"html": False, "requirements": False},
    )


def test_the_names_taken_are_passed_over(root):
    (root / "nb.zip").write_text("the user's own")
    (root / "nb-1.zip").write_text("another of theirs")
    name, size = saving.save(planned(root), str(root), "nb.zip")
    assert name == "nb-2.zip" and size == (root / "nb-2.zip").stat().st_size
    assert (root / "nb.zip").read_text() == "the user's own"
    with zipfile.ZipFile(root / "nb-2.zip") as zf:
        assert "nb/data.csv" in zf.namelist()
    assert sorted(os.listdir(root)) == ["data.csv", "nb-1.zip", "nb-2.zip", "nb.ipynb", "nb.zip"]


def test_candidates_keep_the_double_suffix():
    names = saving.candidates("a b.tar.gz")
    assert [next(names) for _ in range(3)] == ["a b.tar.gz", "a b-1.tar.gz", "a b-2.tar.gz"]


def test_a_name_taken_while_the_bundle_was_written_is_not_replaced(root, monkeypatch):
    real_link = os.link

    def link_after_a_rival(src, dst, **kwargs):
        if dst == "nb.zip" and not (root / "nb.zip").exists():
            (root / "nb.zip").write_text("written meanwhile")
        return real_link(src, dst, **kwargs)

    monkeypatch.setattr(saving.os, "link", link_after_a_rival)
    name, _ = saving.save(planned(root), str(root), "nb.zip")
    assert name == "nb-1.zip" and (root / "nb.zip").read_text() == "written meanwhile"


@pytest.mark.parametrize(
    "code, status, words",
    [
        (errno.ENOSPC, 507, "disk is full"),
        (errno.EDQUOT, 507, "disk is full"),
        (errno.EROFS, 403, "cannot be written"),
        (errno.EIO, 500, "nothing of it was left"),
    ],
)
def test_a_failing_disk_leaves_nothing_behind(root, monkeypatch, code, status, words):
    def full(self, data):
        if self.size + len(data) > 1000:  # a part is written, then the disk is full
            os.write(self.fd, data[: 1000 - self.size])
            raise OSError(code, os.strerror(code))
        self.size += len(data)
        os.write(self.fd, data)
        return len(data)

    monkeypatch.setattr(saving._FileSink, "write", full)
    before = sorted(os.listdir(root))
    with pytest.raises(saving.NotSaved) as failed:
        saving.save(planned(root), str(root), "nb.zip")
    assert failed.value.status == status and words in str(failed.value)
    assert sorted(os.listdir(root)) == before


def test_a_cancelled_bundle_leaves_nothing_behind(root):
    bundle = planned(root)
    bundle.options.cancel.set()
    before = sorted(os.listdir(root))
    with pytest.raises(Cancelled):
        saving.save(bundle, str(root), "nb.zip")
    assert sorted(os.listdir(root)) == before


def test_a_folder_that_is_a_link_is_not_written_through(root, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    os.symlink(elsewhere, root / "link")
    with pytest.raises(saving.NotSaved) as failed:
        saving.save(planned(root), str(root / "link"), "nb.zip")
    assert failed.value.status == 404
    assert os.listdir(elsewhere) == []


def test_a_save_killed_midway_leaves_nothing(root):
    """The file has no name until it is whole: a kill -9 halfway leaves the folder as it was."""
    import signal
    import subprocess
    import sys

    (root / "big.bin").write_bytes(os.urandom(64 * 1024 * 1024))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("[b](big.bin)")]
    nbformat.write(nb, str(root / "nb.ipynb"))
    before = sorted(os.listdir(root))
    script = (
        "import sys\n"
        "from nbext_pkg.bundlers import pipeline, saving\n"
        "from nbext_pkg.bundlers.options import Options\n"
        "class Stopping(saving._FileSink):\n"
        "    def write(self, data):\n"
        "        written = super().write(data)\n"
        "        if self.size > 8 * 1024 * 1024:  # well into it: say so, and wait to be killed\n"
        "            print('writing', flush=True); sys.stdin.readline()\n"
        "        return written\n"
        "saving._FileSink = Stopping\n"
        "o = Options()\n"
        f"b = pipeline.prepare('nb.ipynb', o, tree=pipeline.local_tree({str(root)!r}, o),\n"
        "                      asked={'html': False, 'requirements': False, 'format': 'tar'})\n"
        f"saving.save(b, {str(root)!r}, 'nb.tar')\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "writing"  # 8 MiB of it are on the disk now
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert sorted(os.listdir(root)) == before


def test_without_unnamed_files_a_hidden_one_is_used_and_swept_when_its_process_died(root, monkeypatch):
    import socket

    monkeypatch.delattr(saving.os, "O_TMPFILE")
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = root / f".nbext_pkg-save-{socket.gethostname()}-{gone.pid}-0123456789abcdef.part"
    dead.write_bytes(b"left by a killed server")
    alive = root / f".nbext_pkg-save-{socket.gethostname()}-{os.getppid()}-0123456789abcdef.part"
    alive.write_bytes(b"another save, still running")
    name, _ = saving.save(planned(root), str(root), "nb.zip")
    assert name == "nb.zip" and not dead.exists() and alive.exists()
    assert sorted(os.listdir(root)) == sorted(["data.csv", "nb.ipynb", "nb.zip", alive.name])
