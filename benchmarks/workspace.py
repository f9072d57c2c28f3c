"""The round trip's server side: a selection bundle, and opening a bundle on the server.

Builds the benchmark folder of bundle.py (200 small PNGs, 100 CSVs, three 100 MiB binary
files: 303 files) with two notebooks, on one notebook 6 server, and measures, medians of
--runs, with GET /api/contents polled every 20 ms by another process:

- the selection bundle of all of it (POST nbext_pkg/selection: the three folders and both
  notebooks ticked) beside the notebook bundle of the same files (GET nbext_pkg/bundle/)
  and the stock way to take a selection away: the tree page's Download, one GET
  /files/<path> per ticked file (it offers none for folders), all 303 of them, one by one;
- Open bundle on a ~300 MiB bundle (POST nbext_pkg/open/): wall time, the server's peak
  memory growth, the worst API latency; beside it `jupyter nbext_pkg open` and `unzip -q`
  on the same archive (the stock way: a terminal).

    python benchmarks/workspace.py [--runs 3] [--big-mib 100]
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import nbformat  # noqa: E402
from bundle import build, download, idle_latency, rss_reset, start_poller, status_kib  # noqa: E402
from harness import JupyterEnv, NotebookServer, url_path  # noqa: E402


def post(server, route, fields):
    args = []
    for key, value in fields.items():
        args += ["--data-urlencode", f"{key}={value}"]
    return download(server, route, curl_args=args)


def stock_selection(server, folder, names):
    """The tree page's own Download for each ticked file: one GET /files/<path> each."""
    worst_file, poller = start_poller(server)
    started = time.perf_counter()
    total = 0
    for name in names:
        done = subprocess.run(
            [
                "curl",
                "-sS",
                "-f",
                "-o",
                "/dev/null",
                "-H",
                f"Authorization: token {server.token}",
                "-w",
                "%{size_download}",
                server.url + "files/" + url_path(f"{folder}/{name}") + "?download=1",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        total += int(done.stdout)
    wall = time.perf_counter() - started
    Path(str(worst_file) + ".stop").touch()
    poller.wait(120)
    return {"wall": wall, "bytes": total, "api": float(worst_file.read_text() or 0)}


def opened(server, path):
    """POST nbext_pkg/open/<path> by curl while the API is polled."""
    worst_file, poller = start_poller(server)
    pid = server.proc.pid
    rss_reset(pid)
    before = status_kib(pid, "VmRSS")
    done = subprocess.run(
        [
            "curl",
            "-sS",
            "-f",
            "-X",
            "POST",
            "-H",
            f"Authorization: token {server.token}",
            "-w",
            "\n%{time_total}",
            server.url + "nbext_pkg/open/" + url_path(path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    Path(str(worst_file) + ".stop").touch()
    poller.wait(120)
    body, wall = done.stdout.rsplit("\n", 1)
    return {
        "wall": float(wall),
        "mem": (status_kib(pid, "VmHWM") - before) / 1024,
        "api": float(worst_file.read_text() or 0),
        "answer": json.loads(body),
    }


def timed(command, **kwargs):
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, **kwargs)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--big-mib", type=int, default=100)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nbext_pkg-workspace-bench-"))
    folder = work / "root" / "data set"
    names = build(folder, args.big_mib)
    second = nbformat.v4.new_notebook()
    second.cells = [
        nbformat.v4.new_markdown_cell("[first table](data/table%20000.csv)"),
        nbformat.v4.new_code_cell("import json, nbformat"),
    ]
    nbformat.write(second, str(folder / "second.ipynb"))
    jenv = JupyterEnv(work / "env")
    jenv.install_nbext_pkg(symlink=False)
    server = NotebookServer(jenv, work / "root").start()
    ticked = ["blobs", "data", "images", "analysis.ipynb", "second.ipynb"]
    selection = {"folder": "data set", "names": json.dumps(ticked), "format": "zip"}
    rows, opens = {}, {}
    try:
        cases = {
            "selection bundle (5 ticked: 303 files, 2 notebooks)": lambda: post(
                server, "nbext_pkg/selection", selection
            ),
            "selection bundle, tar.gz": lambda: post(
                server, "nbext_pkg/selection", dict(selection, format="tar.gz")
            ),
            "notebook bundle of the same files": lambda: download(
                server, "nbext_pkg/bundle/data%20set/analysis.ipynb?format=zip"
            ),
            "stock: Download, one file at a time (303 GETs)": lambda: stock_selection(
                server, "data set", names
            ),
        }
        for name, run in cases.items():
            run()  # warm-up
            rows[name] = [run() for _ in range(args.runs)]
        idle = idle_latency(server)
        archive = folder / "received.zip"
        subprocess.run(
            [
                "curl",
                "-sS",
                "-f",
                "-o",
                str(archive),
                "-H",
                f"Authorization: token {server.token}",
                "--data-urlencode",
                "folder=data set",
                "--data-urlencode",
                f"names={json.dumps(ticked)}",
                server.url + "nbext_pkg/selection",
            ],
            check=True,
        )
        for _ in range(args.runs):
            result = opened(server, "data set/received.zip")
            opens.setdefault("Open bundle (POST nbext_pkg/open/)", []).append(result)
            shutil.rmtree(folder / result["answer"]["name"])
        cli = [
            timed(
                [sys.executable, "-m", "nbext_pkg", "open", str(archive), str(work / f"cli{i}")], env=jenv.env
            )
            for i in range(args.runs)
        ]
        unzip = []
        for i in range(args.runs):
            unzip.append(timed(["unzip", "-q", str(archive), "-d", str(work / f"unzip{i}")]))
    finally:
        server.stop()
    size = archive.stat().st_size / 2**20
    print(
        f"A selection of the benchmark folder ({len(names)} files, "
        f"{sum((folder / n).stat().st_size for n in names) / 2**20:.0f} MiB) and two notebooks, "
        f"medians of {args.runs}; worst GET /api/contents latency of the idle server "
        f"{idle * 1000:.0f} ms\n"
    )
    print("| what | wall time | first byte | bytes | server memory growth | worst API latency |")
    print("|---|---|---|---|---|---|")
    for name, runs in rows.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        ttfb = f"{med['ttfb'] * 1000:.0f} ms" if "ttfb" in med else ""
        mem = f"{med['mem']:.0f} MiB" if "mem" in med else ""
        print(
            f"| {name} | {med['wall']:.2f} s | {ttfb} | {med['bytes'] / 2**20:.1f} MiB | {mem} | "
            f"{med['api'] * 1000:.0f} ms |"
        )
    print(f"\nOpening a {size:.0f} MiB bundle of it, medians of {args.runs}:\n")
    print("| how | wall time | server memory growth | worst API latency |")
    print("|---|---|---|---|")
    for name, runs in opens.items():
        print(
            f"| {name} | {statistics.median(r['wall'] for r in runs):.2f} s | "
            f"{statistics.median(r['mem'] for r in runs):.0f} MiB | "
            f"{statistics.median(r['api'] for r in runs) * 1000:.0f} ms |"
        )
    print(f"| `jupyter nbext_pkg open` | {statistics.median(cli):.2f} s | | |")
    print(f"| `unzip -q` (stock: a terminal) | {statistics.median(unzip):.2f} s | | |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
