"""bundlers/verify.py: which manifest is ours, and every difference between an archive and
it, said in a sentence; verify() reads an archive through and writes nothing."""

import json
import os
import stat
import zipfile

import pytest
from archives import hand_bundle, place_folders, put, zip_bytes

from nbext_pkg.bundlers import extract, verify


@pytest.fixture
def place(tmp_path):
    return place_folders(tmp_path)


def ours(**extra):
    return json.dumps({"generator": {"name": "nbext_pkg", "version": "1"}, **extra}).encode()


def test_verify_names_every_hostile_member_and_checks_the_rest(place):
    members = hand_bundle([("nb.ipynb", b"{}")], {"manifest": "MANIFEST.json"})
    link = zipfile.ZipInfo("nb/link")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = put(place[0], "bad.zip", zip_bytes(*members, ("nb/../../evil", b"x"), (link, b"/etc")))
    assert extract.verify(str(archive)) == [
        "The archive's member nb/../../evil climbs out of the folder it would be opened into.",
        "The archive's member nb/link is a symbolic link, and only files and folders are opened.",
    ]
    assert extract.audit(str(archive)).members == 4


def test_verify_of_what_is_not_an_archive(place):
    assert extract.verify(str(put(place[0], "notes.zip", b"just text"))) == [
        "notes.zip is not a zip, tar or tar.gz archive."
    ]


def test_verify_writes_nothing(place):
    archive = put(
        place[0], "a.zip", zip_bytes(*hand_bundle([("nb.ipynb", b"{}")], {"manifest": "MANIFEST.json"}))
    )
    before = sorted(os.listdir(place[0]))
    assert extract.verify(str(archive)) == []
    assert sorted(os.listdir(place[0])) == before and os.listdir(place[1]) == []


def test_find_manifest_ignores_what_is_not_ours_or_not_json():
    assert verify.find_manifest({}) is None
    assert verify.find_manifest({"MANIFEST.json": b"not json", "MANIFEST-1.json": b"[1, 2]"}) is None
    assert verify.find_manifest({"MANIFEST.json": b'{"generator": {"name": "other"}}'}) is None
    assert verify.find_manifest({"MANIFEST.json": b'{"generator": "nbext_pkg"}'}) is None
    assert verify.find_manifest({"MANIFEST.json": b"\xff\xfe"}) is None


def test_find_manifest_picks_the_one_no_other_lists():
    users = ours(files=[])  # a manifest of an earlier bundle, now one of the user's files
    bundle = ours(files=[{"path": "MANIFEST.json", "size": 1, "sha256": "0"}])
    found = verify.find_manifest({"MANIFEST.json": users, "MANIFEST-1.json": bundle})
    assert found[0] == "MANIFEST-1.json" and found[1]["files"][0]["path"] == "MANIFEST.json"


def test_find_manifest_prefers_the_one_that_names_itself():
    a = ours(files=[], generated={"manifest": "MANIFEST-2.json"})
    b = ours(files=[])
    assert verify.find_manifest({"MANIFEST-2.json": a, "MANIFEST.json": b})[0] == "MANIFEST-2.json"
    assert verify.find_manifest({"MANIFEST-2.json": b, "MANIFEST.json": b})[0] == "MANIFEST.json"
    assert verify.find_manifest({"MANIFEST-2.json": b, "MANIFEST-1.json": b})[0] == "MANIFEST-1.json"


def test_compare_says_every_kind_of_difference():
    doc = {
        "files": [
            {"path": "same", "size": 1, "sha256": "AA"},
            {"path": "resized", "size": 2, "sha256": "bb"},
            {"path": "changed", "size": 3, "sha256": "cc"},
            {"path": "gone", "size": 4, "sha256": "dd"},
            {"path": "left-out", "size": 5, "sha256": "ee"},
            {"path": 7},
        ],
        "generated": {"manifest": "MANIFEST.json", "flag": True},
    }
    hashed = {
        "same": (1, "aa"),
        "resized": (9, "bb"),
        "changed": (3, "zz"),
        "extra": (1, "ff"),
        "MANIFEST.json": (10, "00"),
    }
    assert verify.compare("MANIFEST.json", doc, hashed, excused={"left-out"}) == [
        "resized has 9 bytes where MANIFEST.json lists 2.",
        "changed is not what MANIFEST.json lists: its SHA-256 differs.",
        "gone is listed in MANIFEST.json but missing from the archive.",
        'MANIFEST.json holds an entry that is not a path, a size and a SHA-256: {"path": 7}.',
        "extra is in the archive but not listed in MANIFEST.json.",
    ]


def test_compare_without_a_list_of_files():
    assert verify.compare("M.json", {"files": "nope"}, {"a": (1, "x")}) == [
        "M.json has no list of files.",
        "a is in the archive but not listed in M.json.",
    ]


def test_summary_takes_only_what_it_can_trust():
    doc = {
        "generator": {"version": "9"},
        "created": "t",
        "notebook": "a.ipynb",
        "files": [1, 2],
        "skipped": "x",
    }
    assert verify.summary("MANIFEST.json", doc) == {
        "path": "MANIFEST.json",
        "version": "9",
        "created": "t",
        "notebook": "a.ipynb",
        "files": 2,
        "skipped": [],
    }
    assert verify.summary("M", {"files": {}, "skipped": ["a"]})["files"] == 0
    assert verify.summary("M", {"skipped": ["a"]})["skipped"] == ["a"]


def test_audit_counts_members_and_stops_at_the_limit(place):
    archive = put(place[0], "many.zip", zip_bytes(*[(f"a/{i}", b"") for i in range(5)]))
    assert extract.audit(str(archive)).members == 5
    problems = extract.audit(str(archive), extract.Limits(max_files=2)).problems
    assert problems[-1].startswith("The archive holds more members than NbextPkg.open_max_files allows (2)")


def test_a_link_is_a_problem_not_followed(place):
    link = zipfile.ZipInfo("a/link")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    archive = put(place[0], "l.zip", zip_bytes((link, b"/etc/passwd")))
    assert "a/link is a symbolic link" in extract.verify(str(archive))[0]
