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


@pytest.mark.parametrize(
    "document",
    [
        [],  # not a notebook at all
        {},  # no cells
        {"cells": None},
        {"cells": {"source": "import pandas"}},
        {"cells": ["import pandas", None]},  # cells that are not cells
        {"cells": [{"cell_type": "markdown", "source": "import pandas"}]},
        {"cells": [{"cell_type": "raw", "source": ["import pandas"]}]},
        {"cells": [{"cell_type": "code"}, {"cell_type": "code", "source": None}]},
    ],
)
def test_only_the_source_of_code_cells_counts(document):
    assert manifest.top_level_imports(document) == []


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


def test_imports_of_a_relative_module_are_not_the_notebooks():
    found = manifest.top_level_imports(notebook("from .sibling import x\nfrom .. import y\nimport jinja2"))
    assert found == ["jinja2"]


def test_a_cell_magic_after_leading_blank_lines_still_decides_the_cell():
    assert manifest.top_level_imports(
        notebook("\n  %%bash\nimport not_python", "\n%%time\nimport tornado")
    ) == ["tornado"]


@pytest.mark.parametrize(
    "source, expected",
    [
        # Without IPython: magics and shell lines are blanked, the rest kept line for line.
        ("%time x = 1\n!ls\n  %env A=1\nimport os", "\n\n\nimport os"),
        ("%%capture\n%%time\nimport os\n!ls", "import os\n"),
        ("%%bash\nimport os", None),
        ("%%\nimport os", None),  # a cell magic with no name
        ("%%capture out\nimport os", "import os"),  # "out" is capture's argument
        ("import os", "import os"),
    ],
)
def test_without_ipython_magics_are_blanked_and_cell_magics_still_decide(source, expected):
    assert manifest._python_source(source, None) == expected


def test_without_ipython_the_imports_are_still_found(monkeypatch):
    monkeypatch.setattr(manifest, "_transformer", lambda: None)
    found = manifest.top_level_imports(
        notebook("%time import tornado\n!pip list\nimport jinja2", "%%bash\nimport no")
    )
    assert found == ["jinja2"]


def test_the_stamp_is_utc_to_the_second():
    assert manifest.stamp(0) == "1970-01-01T00:00:00Z"
    assert manifest.stamp(86400 * 365 + 1.75) == "1971-01-01T00:00:01Z"
    import re
    import time

    before = time.time()
    now = manifest.stamp()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", now)
    assert manifest.stamp(int(before)) <= now <= manifest.stamp(time.time() + 1)


def environment_of(kernelspec):
    return environment.Environment(
        {},
        {"version": "3.11.7", "implementation": "CPython", "platform": "linux", "machine": "x86_64"},
        "kernel" if kernelspec else "server",
        kernelspec,
    )


def test_the_document_holds_every_field_in_order():
    files = [{"path": "nb.ipynb", "size": 2, "sha256": "ab"}]
    skipped = [{"reference": "x.csv", "reason": "missing"}]
    env = environment_of("tabenv")
    nb = {"metadata": {"kernelspec": {"name": "python3"}, "language_info": {"name": "python"}}}
    doc = manifest.document("1.2", "nb.ipynb", nb, files, skipped, {"html": "nb.html"}, "Mem", 0, env)
    assert list(doc) == [
        "generator",
        "created",
        "notebook",
        "storage",
        "kernelspec",
        "language_info",
        "files",
        "skipped",
        "generated",
        "requirements_from",
        "requirements_kernelspec",
        "python",
    ]
    assert doc["generator"] == {"name": "nbext_pkg", "version": "1.2"}
    assert doc["created"] == "1970-01-01T00:00:00Z" and doc["notebook"] == "nb.ipynb"
    assert doc["storage"] == "Mem" and doc["files"] is files and doc["skipped"] is skipped
    assert doc["kernelspec"] == {"name": "python3"} and doc["language_info"] == {"name": "python"}
    assert doc["generated"] == {"html": "nb.html"}
    assert doc["requirements_from"] == "kernel" and doc["requirements_kernelspec"] == "tabenv"
    assert doc["python"] == env.python and doc["python"] is not env.python
    # The server's own environment names no kernelspec; nothing generated, no "generated".
    bare = manifest.document("1.2", "nb.ipynb", {"metadata": []}, [], [], {}, None, 0, environment_of(None))
    assert "generated" not in bare and "requirements_kernelspec" not in bare
    assert bare["requirements_from"] == "server" and bare["kernelspec"] is None


def test_the_text_is_the_document_and_its_bytes_keep_odd_names():
    args = ("1.2", "nb é.ipynb", {"metadata": {"kernelspec": {"name": "k"}}}, [], [], {"html": "h"}, "Mem", 5)
    env = environment_of("tabenv")
    doc = manifest.document(*args, env)
    text = manifest.manifest(*args, env)
    assert text == json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    assert '\n  "notebook": "nb é.ipynb",\n' in text
    assert manifest.dumps(doc) == text.encode("utf-8")
    odd = manifest.dumps({"reference": "caf\udce9"})
    assert odd == b'{\n  "reference": "caf\\udce9"\n}\n'
    assert json.loads(odd) == {"reference": "caf\udce9"}
