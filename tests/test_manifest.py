"""bundlers/manifest.py: the notebook's imports, read as IPython reads the cells, and the
manifest's own fields."""

import json

import pytest

from nbext_pkg.bundlers import environment, manifest


def notebook(*code):
    cells = [
        {"cell_type": "code", "metadata": {}, "source": c, "outputs": [], "execution_count": None}
        for c in code
    ]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_the_imports_are_read_as_ipython_runs_the_cells():
    found = manifest.top_level_imports(
        notebook(
            *[
                "import os, json\nimport nbformat.v4\n%time import tornado\n!pip list",
                "%%bash\nimport nothing_here",
                "from . import local\nimport surely_missing_module_abc\nimport os",
            ]
        )
    )
    # (A line magic's argument is not code: `%time import tornado` imports nothing here.)
    assert found == ["os", "json", "nbformat", "surely_missing_module_abc"]


def test_requirements_pin_third_party_imports_only():
    import nbformat

    imports = ["os", "json", "nbformat", "tornado", "surely_missing_module_abc", "_private"]
    env = environment.of_notebook(imports, None, None, None)
    lines = env.requirements(imports).splitlines()
    assert f"nbformat=={nbformat.__version__}" in lines
    assert not any(line.startswith(("os", "json", "_private")) for line in lines)
    assert "# surely_missing_module_abc: imported, but no installed distribution provides it" in lines


def test_the_manifest_says_which_environment_pinned_the_requirements():
    env = environment.Environment(
        {},
        {"version": "3.11.7", "implementation": "CPython", "platform": "linux", "machine": "x86_64"},
        "kernel",
        "tabenv",
    )
    doc = json.loads(manifest.manifest("1", "nb.ipynb", {}, [], [], environment=env))
    assert doc["requirements_from"] == "kernel" and doc["requirements_kernelspec"] == "tabenv"
    assert doc["python"]["version"] == "3.11.7" and doc["python"]["platform"] == "linux"
    bare = json.loads(manifest.manifest("1", "nb.ipynb", {}, [], []))
    assert "requirements_from" not in bare and "python" not in bare


@pytest.mark.parametrize(
    "cell, module",
    [
        ("%%capture\nimport nbformat", "nbformat"),
        ("%%time\nfrom tornado import web", "tornado"),
        ("%%timeit -n1\nimport jinja2", "jinja2"),
        ("%%capture out\n%%time\nimport traitlets", "traitlets"),
        ("files = !ls\nimport nbformat", "nbformat"),
        ("%matplotlib inline\nx = %env HOME\nimport tornado", "tornado"),
        ("ls?\nimport jinja2", "jinja2"),
    ],
)
def test_ipython_syntax_keeps_the_cells_imports(cell, module):
    assert manifest.top_level_imports(notebook(cell)) == [module]


def test_a_cell_that_does_not_parse_loses_only_its_own_imports():
    found = manifest.top_level_imports(
        notebook(
            "import nbformat\ndef broken(:\n",
            "%%bash\nimport not_python",
            "import tornado",
            ["import ", "jinja2"],
            5,
            None,
            {"not": "a string"},
        )
    )
    assert found == ["tornado", "jinja2"]


def test_the_manifest_says_where_generated_members_went():
    doc = json.loads(
        manifest.manifest(
            "1", "nb.ipynb", {"metadata": "odd"}, [], [], generated={"html": "nb.nbext_pkg.html"}
        )
    )
    assert doc["generated"] == {"html": "nb.nbext_pkg.html"}
    assert doc["kernelspec"] is None


def test_a_manifest_names_the_storage_and_has_no_files_note():
    skipped = [{"reference": "x.csv", "reason": "not-looked-for"}]
    text = manifest.manifest("0", "nb.ipynb", {}, [], skipped, storage="Mem")
    assert json.loads(text)["storage"] == "Mem" and "files_note" not in text
