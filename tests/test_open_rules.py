"""bundlers/open_rules.py: the limits, the refusals' sentences and the rules one member's
name obeys, on their own; test_extract.py shows them refusing whole archives."""

import pickle

import pytest

from nbext_pkg.bundlers import open_rules
from nbext_pkg.bundlers.open_rules import Budget, Limits, Names, Refused, parts_of


def test_a_refusal_keeps_its_sentence_through_pickling():
    error = pickle.loads(pickle.dumps(Refused("The archive's member x is a FIFO")))
    assert (str(error), error.reason) == (
        "The archive's member x is a FIFO, so nothing was opened.",
        "The archive's member x is a FIFO",
    )


@pytest.mark.parametrize(
    "raw, parts",
    [
        ("a/b/c.txt", ("a", "b", "c.txt")),
        ("./a//b/", ("a", "b")),
        ("a/../b", ("b",)),
        ("a\\b", ("a", "b")),  # a Windows separator is a separator
        ("", ()),
        (".", ()),
    ],
)
def test_parts_of_a_name_inside_the_folder(raw, parts):
    assert parts_of(raw) == parts


@pytest.mark.parametrize(
    "raw, rule",
    [
        ("/etc/passwd", "has an absolute path"),
        ("\\server\\share", "has an absolute path"),
        ("C:/Windows", "starts with a drive letter"),
        ("..", "climbs out of the folder"),
        ("a/../../b", "climbs out of the folder"),
        ("a\x00b", "has a NUL byte in its name"),
        ("x" * 256, "longer than disks allow (255 bytes)"),
        ("a/" * 2100 + "f", "longer than disks allow (4096 bytes)"),
        ("a/" * 65 + "f", "lies more than 64 folders deep"),
    ],
)
def test_parts_of_refuses_a_name_that_could_leave_the_folder(raw, rule):
    with pytest.raises(Refused) as raised:
        parts_of(raw)
    assert raised.value.reason.startswith("The archive's member ") and rule in raised.value.reason


def test_the_deepest_and_longest_allowed_names_pass():
    assert len(parts_of("a/" * 63 + "f")) == 64
    assert parts_of("x" * 255) == ("x" * 255,)


def test_hidden_is_any_part_starting_with_a_dot():
    assert open_rules.hidden(("a", ".git", "x"))
    assert not open_rules.hidden(("a", "b.c"))


@pytest.mark.parametrize(
    "first, second, words",
    [
        (("a", "File.txt"), ("a", "file.txt"), "differ only in case or Unicode form"),
        (("caf\u00e9",), ("cafe\u0301",), "differ only in case or Unicode form"),
        (("a",), ("a",), "holds the member a twice"),
    ],
)
def test_names_that_meet_on_disk(first, second, words):
    names = Names()
    names.add(first, "file", "/".join(first))
    with pytest.raises(Refused, match=words):
        names.add(second, "file", "/".join(second))


def test_a_name_cannot_be_both_a_file_and_a_folder():
    names = Names()
    names.add(("a", "b"), "file", "a/b")
    with pytest.raises(Refused, match="need a/b to be both a file and a folder"):
        names.add(("a", "b", "c"), "file", "a/b/c")
    names.add(("a", "d"), "dir", "a/d/")
    names.add(("a", "d"), "dir", "a/d")  # the same folder twice is fine


def test_the_budget_counts_bytes_against_max_bytes():
    budget = Budget(Limits(max_bytes=10), archive_size=1000)
    budget.add(10)
    with pytest.raises(Refused, match="more than 10 bytes once opened"):
        budget.add(1)


def test_the_ratio_is_judged_only_past_the_floor():
    floor = open_rules.BOMB_FLOOR
    budget = Budget(Limits(max_ratio=2.0), archive_size=1)
    budget.add(floor)  # far more than twice one byte, but not past the floor
    with pytest.raises(Refused, match="grows more than 2 times its size"):
        budget.add(1)
    roomy = Budget(Limits(max_ratio=2.0), archive_size=floor)
    roomy.add(2 * floor)
    with pytest.raises(Refused, match="compression bomb"):
        roomy.add(1)


@pytest.mark.parametrize(
    "n, text",
    [
        (0, "0 bytes"),
        (1023, "1023 bytes"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (5 * 1024**2, "5.0 MiB"),
        (3 * 1024**3, "3.0 GiB"),
    ],
)
def test_size_text(n, text):
    assert open_rules.size_text(n) == text


def test_shown_escapes_control_characters_and_undecodable_bytes():
    assert open_rules.shown("ok name") == "ok name"
    assert open_rules.shown("a\nb\x1b\x7f") == "a\\x0ab\\x1b\\x7f"
    assert open_rules.shown(b"\xff".decode("utf-8", "surrogateescape")) == "\\xff"


def test_limits_from_reads_the_settings_by_name():
    class Settings:
        open_max_files, open_max_bytes, open_max_ratio = 3, 4, 5.0

    assert open_rules.limits_from(Settings(), allow_hidden=True) == Limits(3, 4, 5.0, True)
