"""Tests mirror the modules: every module under nbext_pkg/ has tests/test_<module>.py (a
package's __init__.py: tests/test_<package>.py), or an entry below naming the test module
that covers it instead, with a word that test module must hold, so that the entry cannot
quietly go stale."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"

# module (below nbext_pkg/) -> (the test module that covers it, a word that test module holds)
COVERED_ELSEWHERE = {
    "__init__.py": ("test_hooks.py", "_jupyter_nbextension_paths"),
    "__main__.py": ("test_app.py", "module=True"),  # python -m nbext_pkg, through tests/cli.py
    "_version.py": ("test_handlers.py", "__version__"),
    "config.py": ("test_extract.py", "from nbext_pkg.config import NbextPkg"),
    "server.py": ("test_hooks.py", "loaded ({flavour})"),
    "bundlers/contents_child.py": ("test_contents.py", "Reader.for_manager"),
    "bundlers/digests.py": ("test_sized.py", "digests.DigestCache"),
    "bundlers/fetch.py": ("test_contents.py", "fetch"),
    "bundlers/layout.py": ("test_sized.py", "bundlers/layout.py"),
    "bundlers/opening.py": ("test_workspace_http.py", "nbext_pkg/open/"),
    "bundlers/options.py": ("test_plan.py", "from nbext_pkg.bundlers.options import"),
    "bundlers/ranges.py": ("test_bundle_ranges.py", "Range"),
    "bundlers/reader.py": ("test_contents.py", "reader_mod.Reader"),
    "bundlers/render_child.py": ("test_render.py", "render_child.py"),
}


def modules():
    return sorted(str(p.relative_to(ROOT / "nbext_pkg")) for p in (ROOT / "nbext_pkg").rglob("*.py"))


def own_test(module):
    """tests/test_<module>.py; for a package's __init__.py, tests/test_<package>.py."""
    path = Path("nbext_pkg") / module
    return TESTS / f"test_{path.parent.name if path.name == '__init__.py' else path.stem}.py"


def test_every_module_has_a_test_module():
    untested = [m for m in modules() if not own_test(m).exists() and m not in COVERED_ELSEWHERE]
    assert untested == [], "add tests/test_<module>.py, or name the module covering it in COVERED_ELSEWHERE"


def test_the_entries_name_modules_that_exist_and_test_modules_that_cover_them():
    for module, (test_module, word) in COVERED_ELSEWHERE.items():
        assert (ROOT / "nbext_pkg" / module).exists(), f"{module} is gone: drop its entry"
        assert not own_test(module).exists(), f"{module} has {own_test(module).name} now: drop its entry"
        text = (TESTS / test_module).read_text(encoding="utf-8")
        assert word in text, f"{test_module} no longer mentions {word!r}: does it still cover {module}?"
