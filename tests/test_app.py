"""The command line (nbext_pkg/app.py): `jupyter nbext_pkg ...`, `jupyter contrib nbext_pkg`
and `python -m nbext_pkg`, its usage errors and help, and `verify | open` with bundles good
and tampered. What install and doctor do is in test_install.py and test_doctor.py."""

import hashlib
import json
import os
import zipfile

import pytest
from cli import run, snapshot
from harness import JupyterEnv


@pytest.fixture
def jenv(tmp_path):
    return JupyterEnv(tmp_path / "env")


def test_the_same_app_through_jupyter_contrib(jenv):
    done = jenv.jupyter("contrib", "nbext_pkg", "doctor", check=False)
    assert done.returncode == 1 and "nbext_pkg" in done.stdout and "problem" in done.stdout
    assert jenv.jupyter("contrib", "nbext_pkg", "install", "--user", check=False).returncode == 0
    assert jenv.jupyter("contrib", "nbext_pkg", "doctor", check=False).returncode == 0


def test_bad_arguments_get_a_sentence_and_status_2(jenv):
    before = snapshot(jenv.config_dir, jenv.data_dir)
    done = run(jenv, "nbext_pkg", "install", "--user", "--sys-prefix")
    assert done.returncode == 2
    assert "Give --user or --sys-prefix, not both." in done.stderr
    assert not (jenv.data_dir / "nbextensions").exists()
    # Refused before anything is written, in either place.
    assert snapshot(jenv.config_dir, jenv.data_dir) == before
    assert done.stdout == ""


def test_help_all_lists_the_server_options_with_their_help(jenv):
    done = run(jenv, "nbext_pkg", "--help-all")
    assert done.returncode == 0
    for option in (
        "--NbextPkg.max_bundle_bytes",
        "--NbextPkg.max_bundle_files",
        "--NbextPkg.bundle_chunk_bytes",
        "--NbextPkg.open_max_files",
    ):
        assert option in done.stdout
    assert "A bundle over it is refused with 413" in done.stdout


# -- verify / open ------------------------------------------------------------------


def bundle_zip(path, changed=None):
    """A bundle of ours written by hand (nb/nb.ipynb, nb/data.csv, nb/MANIFEST.json), its
    members then replaced by ``changed`` (name -> bytes) as a tamperer would."""
    members = {
        "nb.ipynb": b'{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}',
        "data.csv": b"a,b\n1,2\n",
    }
    manifest = {
        "generator": {"name": "nbext_pkg", "version": "0"},
        "notebook": "nb.ipynb",
        "files": [
            {"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for name, data in members.items()
        ],
        "skipped": [],
        "generated": {"manifest": "MANIFEST.json"},
    }
    members.update(changed or {})
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(f"nb/{name}", data)
        zf.writestr("nb/MANIFEST.json", json.dumps(manifest))
    return path


TAMPERED = "data.csv is not what MANIFEST.json lists: its SHA-256 differs."


def test_verify_says_a_good_bundle_is_good_and_names_what_a_tampered_one_breaks(jenv, tmp_path):
    good = bundle_zip(tmp_path / "good.zip")
    done = run(jenv, "verify", str(good), module=True)
    assert done.returncode == 0
    assert done.stdout == f"{good} is a good bundle: its 3 members match its manifest.\n"
    bad = bundle_zip(tmp_path / "bad.zip", {"data.csv": b"a,b\n6,6\n"})
    done = run(jenv, "verify", str(bad), module=True)
    assert (done.returncode, done.stdout.splitlines()) == (1, [TAMPERED])
    assert sorted(os.listdir(tmp_path)) == ["bad.zip", "env", "good.zip"]  # nothing written


def test_verify_and_open_without_a_bundle_are_usage_errors(jenv):
    done = run(jenv, "verify", module=True)
    assert done.returncode == 2
    assert "jupyter nbext_pkg: Give one bundle to check: jupyter nbext_pkg verify BUNDLE" in done.stderr
    done = run(jenv, "open", module=True)
    assert done.returncode == 2 and "jupyter nbext_pkg open BUNDLE [FOLDER]" in done.stderr


def test_open_makes_a_new_folder_beside_the_bundle_under_a_free_name(jenv, tmp_path):
    good = bundle_zip(tmp_path / "nb.zip")
    (tmp_path / "nb").mkdir()  # taken, and empty: never merged into
    done = run(jenv, "open", str(good), module=True)
    assert done.returncode == 0, done.stderr
    size = sum(p.stat().st_size for p in (tmp_path / "nb-1").iterdir())
    assert done.stdout.splitlines() == [
        f"Opened {good} into {tmp_path / 'nb-1'} (3 files, {size} bytes).",
        "notebook: nb.ipynb",
        "Every member matches its manifest (MANIFEST.json).",
    ]
    assert sorted(os.listdir(tmp_path / "nb-1")) == ["MANIFEST.json", "data.csv", "nb.ipynb"]
    assert os.listdir(tmp_path / "nb") == []


def test_open_reports_mismatches_keeps_the_folder_and_exits_1(jenv, tmp_path):
    bad = bundle_zip(tmp_path / "nb.zip", {"data.csv": b"a,b\n6,6\n", ".env": b"SECRET=1"})
    done = run(jenv, "open", str(bad), str(tmp_path / "mine"), module=True)
    assert done.returncode == 1
    size = sum(p.stat().st_size for p in (tmp_path / "mine").iterdir())
    # The hidden member is left out, so it is told as such rather than as unlisted.
    assert done.stdout.splitlines() == [
        f"Opened {bad} into {tmp_path / 'mine'} (3 files, {size} bytes).",
        "notebook: nb.ipynb",
        "left out: nb/.env (hidden)",
        f"mismatch: {TAMPERED}",
    ]
    assert (tmp_path / "mine" / "data.csv").read_bytes() == b"a,b\n6,6\n"
    assert not (tmp_path / "mine" / ".env").exists()


def test_open_into_a_folder_that_exists_is_refused_and_nothing_is_merged(jenv, tmp_path):
    good = bundle_zip(tmp_path / "nb.zip")
    (tmp_path / "there").mkdir()
    done = run(jenv, "open", str(good), str(tmp_path / "there"), module=True)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == (
        f"jupyter nbext_pkg: {tmp_path / 'there'} already exists, and an archive is "
        "never opened into an existing folder, so nothing was opened.\n"
    )
    assert sorted(os.listdir(tmp_path)) == ["env", "nb.zip", "there"] and os.listdir(tmp_path / "there") == []
    done = run(jenv, "open", str(good), str(tmp_path / "no" / "such"), module=True)
    assert done.returncode == 1 and f"{tmp_path / 'no'} is not a folder" in done.stderr
    assert sorted(os.listdir(tmp_path)) == ["env", "nb.zip", "there"]


def test_open_takes_its_limits_from_the_configuration(jenv, tmp_path):
    good = bundle_zip(tmp_path / "nb.zip")
    done = run(jenv, "open", "--NbextPkg.open_max_files=2", str(good), module=True)
    assert done.returncode == 1
    assert done.stderr == (
        "jupyter nbext_pkg: The archive holds more members than NbextPkg.open_max_files "
        "allows (2), so nothing was opened.\n"
    )
    assert sorted(os.listdir(tmp_path)) == ["env", "nb.zip"]
    assert run(jenv, "open", "--NbextPkg.open_max_files=3", str(good), module=True).returncode == 0
