"""The round trip a bundle is for, end to end: a notebook whose kernel runs in an environment
of its own (a venv with `tabulate`, which the server's environment lacks) and that reads a
csv and an image it references is bundled from the browser, opened elsewhere with
`jupyter nbext_pkg open`, a fresh venv is built from nothing but its requirements.txt, and
the notebook, executed there, gives the outputs it had."""

import json
import subprocess
import sys
import venv

import nbformat
import pytest
from harness import wait_until
from pages import NotebookPage

pytestmark = pytest.mark.browser

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415408d763f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)
CODE = [
    "import csv\nfrom tabulate import tabulate\n"
    "with open('data/measures.csv') as f:\n    rows = list(csv.reader(f))\n"
    "print(tabulate(rows[1:], headers=rows[0]))",
    "with open('pic.png', 'rb') as f:\n    data = f.read()\nprint(len(data), data[:4])",
    "import sys\nprint(sys.version_info[:2])",
]


def make_venv(folder, *packages):
    """A venv at ``folder`` with ``packages`` (and ipykernel) from the package index."""
    venv.EnvBuilder(with_pip=True, clear=True).create(folder)
    python = folder / "bin" / "python"
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "ipykernel", *packages],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return python


def kernelspec(jupyter_env, name, python):
    return jupyter_env.add_kernelspec(
        name, name, argv=[str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    )


def execute(jupyter_env, path, kernel, cwd):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--inplace",
            f"--ExecutePreprocessor.kernel_name={kernel}",
            "--ExecutePreprocessor.timeout=120",
            str(path),
        ],
        env=jupyter_env.env,
        cwd=str(cwd),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def outputs(path):
    nb = nbformat.read(str(path), as_version=4)
    return [
        [(o.get("output_type"), o.get("name"), o.get("text")) for o in cell.outputs]
        for cell in nb.cells
        if cell.cell_type == "code"
    ]


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory, jupyter_env):
    python = make_venv(tmp_path_factory.mktemp("kernel-env") / "venv", "tabulate")
    check = subprocess.run([sys.executable, "-c", "import tabulate"], capture_output=True)
    assert check.returncode != 0, "the server's environment must lack tabulate for this test to mean anything"
    kernelspec(jupyter_env, "roundtrip-env", python)
    return python


def test_a_bundle_reproduces_its_notebook_in_a_fresh_environment(
    browser, server, jupyter_env, kernel_env, downloads, tmp_path
):
    folder = server.root / "round trip ü"
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "measures.csv").write_text("site,value\nnorth,1.5\nsouth,2.25\n")
    (folder / "pic.png").write_bytes(PNG)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "roundtrip-env",
        "display_name": "roundtrip-env",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_markdown_cell("Data: [measures](data/measures.csv) ![pic](pic.png)")]
    nb.cells += [nbformat.v4.new_code_cell(code) for code in CODE]
    path = folder / "report.ipynb"
    nbformat.write(nb, str(path))
    execute(jupyter_env, path, "roundtrip-env", folder)  # the original's outputs, in its own kernel
    original = outputs(path)
    assert "north" in original[0][0][2] and "1.5" in original[0][0][2]

    page = NotebookPage(browser, server).open("round trip ü/report.ipynb")
    page.download_as("bundle")
    bundle = downloads / "report.zip"
    wait_until(
        lambda: bundle.exists() and not list(downloads.glob("*.crdownload")),
        60,
        "the browser to save report.zip",
    )

    opened = tmp_path / "elsewhere" / "report"
    (tmp_path / "elsewhere").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "nbext_pkg", "open", str(bundle), str(opened)],
        env=jupyter_env.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    bundle.unlink()
    doc = json.loads((opened / "MANIFEST.json").read_text())
    assert doc["requirements_from"] == "kernel" and doc["requirements_kernelspec"] == "roundtrip-env"
    requirements = (opened / "requirements.txt").read_text()
    pinned = [line for line in requirements.splitlines() if line and not line.startswith("#")]
    assert len(pinned) == 1 and pinned[0].startswith("tabulate=="), requirements
    assert (opened / "runtime.txt").read_text() == "python-{}.{}\n".format(*sys.version_info[:2])

    fresh = make_venv(tmp_path / "fresh", "-r", str(opened / "requirements.txt"))
    kernelspec(jupyter_env, "roundtrip-fresh", fresh)
    copy = opened / "report.ipynb"
    for cell in (nb := nbformat.read(str(copy), as_version=4)).cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, str(copy))
    execute(jupyter_env, copy, "roundtrip-fresh", opened)
    assert outputs(copy) == original
