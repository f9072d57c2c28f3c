"""bundlers/manifest.py: requirements.txt from the notebook's imports, read as IPython
reads the cells, and the manifest's own fields."""

import json

import pytest

from nbext_pkg.bundlers import manifest


def notebook(*code):
    cells = [{"cell_type": "code", "metadata": {}, "source": c, "outputs": [],
              "execution_count": None} for c in code]
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_requirements_pin_third_party_imports_only():
    import nbformat

    text = manifest.requirements(notebook(*[
        "import os, json\nimport nbformat.v4\n%time import tornado\n!pip list",
        "%%bash\nimport nothing_here",
        "from . import local\nimport surely_missing_module_abc",
    ]))
    lines = text.splitlines()
    assert f"nbformat=={nbformat.__version__}" in lines
    assert not any(line.startswith(("os", "json", "tornado")) for line in lines)
    assert "# surely_missing_module_abc: imported, but no installed distribution provides it" in lines
    assert "nothing_here" not in text



@pytest.mark.parametrize("cell, module", [
    ("%%capture\nimport nbformat", "nbformat"),
    ("%%time\nfrom tornado import web", "tornado"),
    ("%%timeit -n1\nimport jinja2", "jinja2"),
    ("%%capture out\n%%time\nimport traitlets", "traitlets"),
    ("files = !ls\nimport nbformat", "nbformat"),
    ("%matplotlib inline\nx = %env HOME\nimport tornado", "tornado"),
    ("ls?\nimport jinja2", "jinja2"),
])
def test_ipython_syntax_keeps_the_cells_imports(cell, module):
    assert manifest.top_level_imports(notebook(cell)) == [module]


def test_a_cell_that_does_not_parse_loses_only_its_own_imports():
    found = manifest.top_level_imports(notebook(
        "import nbformat\ndef broken(:\n", "%%bash\nimport not_python", "import tornado",
        ["import ", "jinja2"], 5, None, {"not": "a string"}))
    assert found == ["tornado", "jinja2"]


def test_the_manifest_says_where_generated_members_went():
    doc = json.loads(manifest.manifest("1", "nb.ipynb", {"metadata": "odd"}, [], [],
                                       generated={"html": "nb.nbext_pkg.html"}))
    assert doc["generated"] == {"html": "nb.nbext_pkg.html"}
    assert doc["kernelspec"] is None
