"""Notebook bundle: nbext_pkg's bundler against notebook 6's stock zip bundler.

Builds a folder of 200 small PNGs, 100 CSVs and three 100 MiB binary files,
and a notebook that references every one of them from markdown (and an
`<!--associate:` copy of it, so the stock bundler includes the same files).
One server has both bundlers enabled. For each, medians of --runs downloads:
wall time, time to first byte, archive size, peak growth of the server's
resident memory, and the worst latency of GET /api/contents polled every
20 ms meanwhile. `zip -r` and `zip -r -0` on the same files for reference,
and a text-only folder (CSV, JSON, ipynb) for the archive-size comparison.

Then the hostile cases: a notebook whose one markdown cell is 40 KB of `<!--`,
8,000 `<img ` and `-->`, one of 6,000 `![a](b `, and one that shows a 160 MiB
image, each bundled with its HTML copy while the API is polled; by nbext_pkg,
by the stock zip_bundler (same server) and, with `--before REV`, by nbext_pkg
as it was at that commit (a temporary git worktree, on a server of its own).

    python benchmarks/bundle.py [--runs 3] [--big-mib 100] [--before e6a69b1] [--only hostile]

With --storage pgcontents (notebook 6 on a PostgreSQL cluster of its own) or --storage s3
(nbclassic with s3contents on SeaweedFS): ten 50 MiB files, and the same benchmark folder
uploaded through the REST API, bundled from the store; beside each, the same files taken
out the stock way, one GET /api/contents?format=base64 each, in the same run. Run it with
the test command's environments made (./scripts/test makes them):

    NBEXT_PKG_PGCONTENTS_PYTHON=~/.cache/nbext_pkg/venv/pgcontents/bin/python \
        python benchmarks/bundle.py --storage pgcontents
"""

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

import nbformat  # noqa: E402
from harness import JupyterEnv, NotebookServer, url_path  # noqa: E402


def build(folder, big_mib, text_only=False):
    rng = random.Random(1)
    folder.mkdir(parents=True)
    names = []
    if not text_only:
        for i in range(200):
            png = folder / "images" / f"img {i:03d}.png"
            png.parent.mkdir(exist_ok=True)
            png.write_bytes(b"\x89PNG\r\n\x1a\n" + rng.randbytes(4000))
            names.append(png)
        for i in range(3):
            blob = folder / "blobs" / f"blob{i}.bin"
            blob.parent.mkdir(exist_ok=True)
            with open(blob, "wb") as f:
                for _ in range(big_mib):
                    f.write(rng.randbytes(1024 * 1024))
            names.append(blob)
    for i in range(100):
        csv = folder / "data" / f"table {i:03d}.csv"
        csv.parent.mkdir(exist_ok=True)
        csv.write_text("".join(f"{j},{rng.random():.6f},{rng.choice('abcdef')}\n" for j in range(2000)))
        names.append(csv)
    if text_only:
        for i in range(50):
            js = folder / "json" / f"doc{i}.json"
            js.parent.mkdir(exist_ok=True)
            js.write_text(json.dumps({"rows": [{"i": j, "v": rng.random()} for j in range(500)]}))
            names.append(js)
    rel = [p.relative_to(folder).as_posix() for p in names]
    links = "\n".join(f"[f{i}]({url_path(r)})" for i, r in enumerate(rel))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Data\n" + links)]
    nbformat.write(nb, str(folder / "analysis.ipynb"))
    stock = nbformat.v4.new_notebook()
    stock.cells = [nbformat.v4.new_markdown_cell("<!--associate:\n" + "\n".join(rel) + "\n-->")]
    nbformat.write(stock, str(folder / "analysis-stock.ipynb"))
    return rel


def rss_reset(pid):
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")  # resets the peak resident size (VmHWM)


def status_kib(pid, key):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


POLLER = """
import sys, time, requests
import os
url, token, out = sys.argv[1], sys.argv[2], sys.argv[3]
s = requests.Session(); s.headers["Authorization"] = "token " + token
worst, deadline = 0.0, time.monotonic() + 600
while time.monotonic() < deadline and not os.path.exists(out + ".stop"):
    t = time.perf_counter(); s.get(url, timeout=60); worst = max(worst, time.perf_counter() - t)
    time.sleep(0.02)
open(out, "w").write(str(worst))
"""


def start_poller(server, path="api/contents"):
    """(the file its worst latency goes to, the process) of a poller of GET <path>."""
    worst_file = Path(tempfile.mkstemp()[1])
    return worst_file, subprocess.Popen(
        [sys.executable, "-c", POLLER, server.url + path, server.token, str(worst_file)]
    )


def cpu_seconds(pid):
    """User + system CPU time of a process so far (threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def curl_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def download(server, url, max_time=600, poll="api/contents", curl_args=()):
    """One download by curl while another process polls the API (``poll``) every 20 ms;
    both are separate processes, so neither's work delays the other's clock.
    A download that takes longer than ``max_time`` is cut: its wall time is inf.
    ``curl_args``: more of curl's arguments (a POST's form fields)."""
    worst_file, poller = start_poller(server, poll)
    pid = server.proc.pid
    rss_reset(pid)
    before = status_kib(pid, "VmRSS")
    cpu_before, client_before = cpu_seconds(pid), curl_cpu()
    done = subprocess.run(
        [
            "curl",
            "-sS",
            "-f",
            "-o",
            "/dev/null",
            "-H",
            f"Authorization: token {server.token}",
            "--max-time",
            str(max_time),
            *curl_args,
            "-w",
            "%{time_starttransfer} %{time_total} %{size_download}",
            server.url + url,
        ],
        capture_output=True,
        text=True,
        timeout=max_time + 60,
    )
    if done.returncode not in (0, 28):  # 28: cut at max_time
        raise RuntimeError(f"curl {url}: {done.returncode} {done.stderr}")
    out = done.stdout
    cpu = cpu_seconds(pid) - cpu_before
    client = curl_cpu() - client_before
    # The poller finishes the request in flight (a blocked server shows there), then reports.
    Path(str(worst_file) + ".stop").touch()
    poller.wait(120)
    Path(str(worst_file) + ".stop").unlink()
    ttfb, wall, size = out.split()
    if done.returncode == 28:
        wall = "inf"
    peak = status_kib(pid, "VmHWM")
    worst = float(worst_file.read_text() or 0)
    worst_file.unlink()
    return {
        "wall": float(wall),
        "ttfb": float(ttfb),
        "bytes": int(size),
        "mem": (peak - before) / 1024,
        "api": worst,
        "cpu": cpu,
        "client": client,
    }


def concurrent(server, url, n, before_each=None, curl_args=()):
    """n downloads at once (curl processes) while the API is polled: each one's wall time,
    the worst latency, the server's peak memory growth in MiB."""
    if before_each is not None:
        before_each()
    worst_file, poller = start_poller(server)
    pid = server.proc.pid
    rss_reset(pid)
    before = status_kib(pid, "VmRSS")
    curls = [
        subprocess.Popen(
            [
                "curl",
                "-sS",
                "-o",
                "/dev/null",
                "-H",
                f"Authorization: token {server.token}",
                *curl_args,
                "-w",
                "%{time_total}",
                server.url + url,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    walls = [float(c.communicate(timeout=600)[0]) for c in curls]
    Path(str(worst_file) + ".stop").touch()
    poller.wait(120)
    worst = float(worst_file.read_text() or 0)
    return walls, worst, (status_kib(pid, "VmHWM") - before) / 1024


def idle_latency(server, seconds=3):
    """The worst GET /api/contents latency of an idle server, polled as during a download."""
    worst_file, poller = start_poller(server)
    time.sleep(seconds)
    Path(str(worst_file) + ".stop").touch()
    poller.wait(120)
    return float(worst_file.read_text() or 0)


def forget_digests(folder):
    """Make every file new to the server's digest cache: setting a file's times to what
    they are moves its ctime (the cache's key), not its mtime (the ETag's)."""
    for path in Path(folder).rglob("*"):
        if path.is_file():
            info = path.stat()
            os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


def ranged(server, url, start):
    """A Range request from byte ``start`` on: first byte, wall, bytes, server CPU."""
    pid = server.proc.pid
    cpu_before = cpu_seconds(pid)
    done = subprocess.run(
        [
            "curl",
            "-sS",
            "-f",
            "-o",
            "/dev/null",
            "-H",
            f"Authorization: token {server.token}",
            "-H",
            f"Range: bytes={start}-",
            "-w",
            "%{time_starttransfer} %{time_total} %{size_download} %{http_code}",
            server.url + url,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    ttfb, wall, size, code = done.stdout.split()
    assert code == "206", code
    return {
        "ttfb": float(ttfb),
        "wall": float(wall),
        "bytes": int(size),
        "cpu": cpu_seconds(pid) - cpu_before,
    }


def build_hostile(folder, image_mib):
    """The hostile notebooks: {name: (ours, stock)} notebook paths below ``folder``."""
    folder.mkdir(parents=True)
    with open(folder / "big.png", "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        for _ in range(image_mib):
            f.write(random.randbytes(1024 * 1024))
    cells = {
        "40 KB of <!-- <img": "<!--" * 10_000 + "<img " * 8_000 + "-->",
        "6,000 ![a](b": "![a](b " * 6_000,
        f"a {image_mib} MiB image": "![big](big.png)",
    }
    deep = folder / "deep"
    for level in range(300):
        deep.mkdir(parents=True)
        (deep / f"f{level}.txt").write_text("x")
        deep = deep / "d"
    for i in range(20_000):
        (folder / "many" / f"d{i // 1000:02}").mkdir(parents=True, exist_ok=True)
        (folder / "many" / f"d{i // 1000:02}" / f"{i}.txt").write_text("x")
    found = {}
    for i, (name, include) in enumerate(
        {"include deep/** (300 levels)": "deep/**", "include many/** (20,000 files)": "many/**"}.items()
    ):
        nb = nbformat.v4.new_notebook()
        nb.metadata["nbext_pkg"] = {"include": [include]}
        nbformat.write(nb, str(folder / f"p{i}.ipynb"))
        found[name] = (f"p{i}.ipynb", None)
    for i, (name, text) in enumerate(cells.items()):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(text)]
        nbformat.write(nb, str(folder / f"h{i}.ipynb"))
        stock = nbformat.v4.new_notebook()
        stock.cells = [
            nbformat.v4.new_markdown_cell(text if "big.png" not in text else "<!--associate:\nbig.png\n-->")
        ]
        nbformat.write(stock, str(folder / f"h{i}-stock.ipynb"))
        found[name] = (f"h{i}.ipynb", f"h{i}-stock.ipynb")
    return found


def before_server(work, rev, root):
    """A server running nbext_pkg as it was at ``rev`` (a temporary git worktree)."""
    tree = work / f"nbext_pkg-{rev}"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(tree), rev], check=True)
    jenv = JupyterEnv(work / f"env-{rev}")
    jenv.env["PYTHONPATH"] = str(tree)
    jenv.install_nbext_pkg(symlink=False)
    return NotebookServer(jenv, root).start(), tree


def hostile_rows(servers, cases, runs):
    """{(case, who): median figures} for each hostile notebook and bundler."""
    rows = {}
    for case, (ours, stock) in cases.items():
        for who, (server, url) in servers.items():
            nb = stock if "stock" in who else ours
            if nb is None:
                continue  # the stock bundler has no metadata globs
            target = url.format(path=f"hostile/{url_path(nb)}")
            # The first download renders the HTML copy; a repeated one finds it remembered.
            first = download(server, target, max_time=120)
            rows[case, who, "first"] = first
            if first["wall"] == float("inf"):
                continue  # too slow to repeat
            runs_ = [download(server, target) for _ in range(runs)]
            rows[case, who, "repeated"] = {k: statistics.median(r[k] for r in runs_) for k in runs_[0]}
    return rows


def zip_cli(folder, names, store):
    out = Path(tempfile.mkdtemp()) / "x.zip"
    start = time.perf_counter()
    subprocess.run(
        ["zip", "-q", "-r"] + (["-0"] if store else []) + [str(out), "analysis.ipynb", *names],
        cwd=folder,
        check=True,
    )
    return time.perf_counter() - start, out.stat().st_size


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--big-mib", type=int, default=100, help="size of each of the 3 binary files")
    parser.add_argument("--image-mib", type=int, default=160, help="size of the hostile image")
    parser.add_argument("--before", help="also measure nbext_pkg at this git revision (hostile cases)")
    parser.add_argument("--only", choices=["main", "hostile"], help="run one part only")
    parser.add_argument(
        "--storage",
        choices=["pgcontents", "s3"],
        help="instead: bundles from a store off the disk (see storage())",
    )
    args = parser.parse_args()
    if args.storage:
        return storage(args)

    work = Path(tempfile.mkdtemp(prefix="nbext_pkg-bundle-bench-"))
    if args.only != "main":
        hostile(work, args)
    if args.only == "hostile":
        return
    names = build(work / "root" / "data set", args.big_mib)
    text_names = build(work / "root" / "text only", 0, text_only=True)
    jenv = JupyterEnv(work / "env")
    jenv.install_nbext_pkg(symlink=False)
    jenv.jupyter("bundlerextension", "enable", "--py", "notebook.bundler.zip_bundler", "--user")
    server = NotebookServer(jenv, work / "root").start()
    folder = work / "root" / "data set"
    rows, extra = {}, []
    ours_url = "nbext_pkg/bundle/data%20set/analysis.ipynb?format=zip"
    stock_url = "bundle/data%20set/analysis-stock.ipynb?bundler=notebook_zip_download"
    cold = lambda: forget_digests(folder)  # noqa: E731
    try:
        urls = {
            "nbext_pkg zip, files new to it": (ours_url, cold),
            "nbext_pkg zip, files seen before": (ours_url, None),
            "nbext_pkg tar, files seen before": (ours_url.replace("=zip", "=tar"), None),
            "nbext_pkg tar.gz (streamed)": (ours_url.replace("=zip", "=tar.gz"), None),
            "stock zip_bundler": (stock_url, None),
        }
        targets = {name: (server, url, prepare) for name, (url, prepare) in urls.items()}
        if args.before:
            old, tree = before_server(work, args.before, work / "root")
            extra.append((old, tree))
            targets[f"nbext_pkg at {args.before} (zip)"] = (old, ours_url, None)
        for name, (srv, url, prepare) in targets.items():
            download(srv, url)  # warm-up
            runs = []
            for _ in range(args.runs):
                if prepare is not None:
                    prepare()
                runs.append(download(srv, url))
            rows[name] = runs
        idle = idle_latency(server)
        text_ours = download(server, "nbext_pkg/bundle/text%20only/analysis.ipynb?format=zip")["bytes"]
        load = {
            "files new to it": concurrent(server, ours_url, 4, cold),
            "files seen before": concurrent(server, ours_url, 4),
        }
        slow_one = concurrent(server, ours_url, 1, curl_args=("--limit-rate", "1M", "--max-time", "20"))
        slow_four = concurrent(server, ours_url, 4, curl_args=("--limit-rate", "1M", "--max-time", "20"))
        length = download(server, ours_url)["bytes"]
        full_cpu = statistics.median(r["cpu"] for r in rows["nbext_pkg zip, files seen before"])
        resume = {"files seen before": ranged(server, ours_url, int(length * 0.9))}
        cold()
        resume["files new to it"] = ranged(server, ours_url, int(length * 0.9))
    finally:
        server.stop()
        for old, tree in extra:
            old.stop()
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)])
    zip_rows = {
        "`zip -r`": zip_cli(folder, names, store=False),
        "`zip -r -0`": zip_cli(folder, names, store=True),
    }
    _, text_zip = zip_cli(work / "root" / "text only", text_names, store=False)

    total = sum((folder / n).stat().st_size for n in names) / 2**20
    print(
        f"Bundle of a {total:.1f} MiB folder ({len(names)} files referenced from markdown), "
        f"medians of {args.runs}; worst GET /api/contents latency of the idle server "
        f"{idle * 1000:.0f} ms\n"
    )
    print(
        "| bundler | wall time | first byte | archive | server memory growth | worst API latency "
        "| server CPU |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, runs in rows.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(
            f"| {name} | {med['wall']:.2f} s | {med['ttfb'] * 1000:.0f} ms | "
            f"{med['bytes'] / 2**20:.1f} MiB | {med['mem']:.0f} MiB | {med['api'] * 1000:.0f} ms | "
            f"{med['cpu']:.2f} s |"
        )
    for name, (wall, size) in zip_rows.items():
        print(f"| {name} | {wall:.2f} s | | {size / 2**20:.1f} MiB | | | |")
    print(
        "\n| four nbext_pkg zip downloads at once | each | slowest / one alone | worst API latency "
        "| server memory growth |"
    )
    print("|---|---|---|---|---|")
    for name, (walls, worst, mem) in load.items():
        alone = statistics.median(r["wall"] for r in rows[f"nbext_pkg zip, {name}"])
        print(
            f"| {name} | {', '.join(f'{w:.2f} s' for w in walls)} | {max(walls) / alone:.2f} | "
            f"{worst * 1000:.0f} ms | {mem:.0f} MiB |"
        )
    for label, (_, worst, mem) in (("one client", slow_one), ("four clients", slow_four)):
        print(
            f"\nReading at 1 MiB/s for 20 s, {label}: server memory growth {mem:.0f} MiB, "
            f"worst API latency {worst * 1000:.0f} ms."
        )
    print(
        "\n| resume: Range for the last 10% | first byte | wall | server CPU | share of a full "
        "download's CPU |"
    )
    print("|---|---|---|---|---|")
    for name, r in resume.items():
        print(
            f"| {name} | {r['ttfb'] * 1000:.0f} ms | {r['wall']:.2f} s | {r['cpu']:.2f} s | "
            f"{r['cpu'] / full_cpu * 100:.0f}% |"
        )
    ours = rows["nbext_pkg zip, files seen before"]
    busy = statistics.median((r["cpu"] + r["client"]) / r["wall"] for r in ours)
    print(f"\nOne download alone keeps {busy:.2f} cores busy (server and curl CPU over wall time).")
    print(
        f"\nText-only folder (CSV, JSON, ipynb): nbext_pkg {text_ours / 2**20:.2f} MiB, "
        f"`zip -r` {text_zip / 2**20:.2f} MiB, ratio {text_ours / text_zip:.3f}"
    )


def hostile(work, args):
    cases = build_hostile(work / "hostile-root" / "hostile", args.image_mib)
    jenv = JupyterEnv(work / "hostile-env")
    jenv.install_nbext_pkg(symlink=False)
    jenv.jupyter("bundlerextension", "enable", "--py", "notebook.bundler.zip_bundler", "--user")
    server = NotebookServer(jenv, work / "hostile-root").start()
    servers = {
        "nbext_pkg": (server, "nbext_pkg/bundle/{path}?format=zip"),
        "stock zip_bundler": (server, "bundle/{path}?bundler=notebook_zip_download"),
    }
    extra = []
    if args.before:
        old, tree = before_server(work, args.before, work / "hostile-root")
        servers[f"nbext_pkg at {args.before}"] = (old, "nbext_pkg/bundle/{path}?format=zip")
        extra.append((old, tree))
    try:
        rows = hostile_rows(servers, cases, args.runs)
    finally:
        server.stop()
        for old, tree in extra:
            old.stop()
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=False)
    print(f"Hostile notebooks, each bundled with its HTML copy, medians of {args.runs}\n")
    print(
        "| notebook | bundler | download | wall time | first byte | server memory growth "
        "| worst API latency |"
    )
    print("|---|---|---|---|---|---|---|")
    for (case, who, which), med in rows.items():
        wall = "over 120 s (cut)" if med["wall"] == float("inf") else f"{med['wall']:.2f} s"
        print(
            f"| {case} | {who} | {which} | {wall} | {med['ttfb'] * 1000:.0f} ms | {med['mem']:.0f} MiB "
            f"| {med['api'] * 1000:.0f} ms |"
        )
    print()


def upload_tree(server, folder, names, under):
    from storage import put_dir, put_file

    made = set()
    for name in names:
        parts = f"{under}/{name}".split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in made:
                put_dir(server, d)
                made.add(d)
        put_file(server, f"{under}/{name}", (folder / name).read_bytes())


def stock_way(server, paths):
    """The files taken out through the Contents API one by one, as a user without a bundler
    would (the API polled meanwhile): wall time, peak memory growth, held after, worst API."""
    import requests

    worst_file, poller = start_poller(server)
    pid = server.proc.pid
    rss_reset(pid)
    before = status_kib(pid, "VmRSS")
    session = requests.Session()
    session.headers["Authorization"] = f"token {server.token}"
    started = time.perf_counter()
    for path in paths:
        r = session.get(
            server.url + "api/contents/" + url_path(path),
            params={"content": "1", "format": "base64", "type": "file"},
            timeout=600,
        )
        r.raise_for_status()
        del r
    wall = time.perf_counter() - started
    Path(str(worst_file) + ".stop").touch()
    poller.wait(120)
    time.sleep(1)
    return {
        "wall": wall,
        "mem": (status_kib(pid, "VmHWM") - before) / 1024,
        "held": (status_kib(pid, "VmRSS") - before) / 1024,
        "api": float(worst_file.read_text() or 0),
    }


def storage(args):
    """Bundles from pgcontents or s3contents: the ten 50 MiB files case and the benchmark
    folder, against the same files taken out one by one through the Contents API."""
    import storage as st

    work = Path(tempfile.mkdtemp(prefix="nbext_pkg-storage-bench-"))
    (work / "root-dir").mkdir()  # the servers' working folder: holds none of the files
    services = []
    try:
        if args.storage == "pgcontents":
            cluster = st.PostgresCluster().start()
            services.append(cluster)
            st.pgcontents_init(cluster.url)
            jenv = JupyterEnv(work / "env", python=st.PGCONTENTS_PYTHON)
            jenv.env["PATH"] = os.pathsep.join([str(Path(st.PGCONTENTS_PYTHON).parent), jenv.env["PATH"]])
            jenv.install_nbext_pkg(symlink=False)
            server = st.start_pgcontents_server(jenv, cluster.url, work / "root-dir")
        else:
            (work / "weed").mkdir()
            s3 = st.SeaweedS3(work / "weed").start()
            services.append(s3)
            jenv = JupyterEnv(work / "env")
            jenv.install_nbext_pkg(symlink=False, flavour="nbclassic")
            server = st.start_s3contents_server(jenv, s3, work / "root-dir")
        services.insert(0, server)
        ten = work / "ten"
        ten.mkdir()
        for i in range(10):
            (ten / f"{i}.bin").write_bytes(os.urandom(50 * 1024 * 1024))
        upload_tree(server, ten, [f"{i}.bin" for i in range(10)], "ten")
        st.put_notebook(
            server,
            "ten/ten.ipynb",
            json.loads(
                nbformat.writes(
                    nbformat.v4.new_notebook(
                        cells=[nbformat.v4.new_markdown_cell(" ".join(f"[{i}]({i}.bin)" for i in range(10)))]
                    )
                )
            ),
        )
        names = build(work / "folder", args.big_mib)
        upload_tree(server, work / "folder", [n for n in names], "data set")
        st.put_notebook(
            server, "data set/analysis.ipynb", json.loads((work / "folder" / "analysis.ipynb").read_text())
        )
        cases = {
            "ten 50 MiB files": ("ten/ten.ipynb", [f"ten/{i}.bin" for i in range(10)]),
            f"benchmark folder ({len(names)} files)": (
                "data set/analysis.ipynb",
                [f"data set/{n}" for n in names],
            ),
        }
        print(f"Bundles from {args.storage}, medians of {args.runs}\n")
        print(
            "| case | how | wall time | first byte | server memory growth | held after | "
            "worst API latency | worst /api/status |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for case, (notebook, paths) in cases.items():
            url = "nbext_pkg/bundle/" + url_path(notebook) + "?html=0&requirements=0"
            download(server, url)  # warm-up
            runs = []
            for _ in range(args.runs):
                before = status_kib(server.proc.pid, "VmRSS")
                row = download(server, url)
                time.sleep(1)
                row["held"] = (status_kib(server.proc.pid, "VmRSS") - before) / 1024
                runs.append(row)
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            # A request that does not ask the store: the server's own answer time, apart
            # from the store's (s3contents lists the poller's folder from S3).
            status = statistics.median(
                download(server, url, poll="api/status")["api"] for _ in range(args.runs)
            )
            print(
                f"| {case} | nbext_pkg bundle ({med['bytes'] / 2**20:.0f} MiB) | {med['wall']:.2f} s | "
                f"{med['ttfb'] * 1000:.0f} ms | {med['mem']:.0f} MiB | {med['held']:.0f} MiB | "
                f"{med['api'] * 1000:.0f} ms | {status * 1000:.0f} ms |"
            )
            stock = [stock_way(server, paths) for _ in range(args.runs)]
            med = {k: statistics.median(r[k] for r in stock) for k in stock[0]}
            print(
                f"| {case} | stock: GET /api/contents each | {med['wall']:.2f} s | | "
                f"{med['mem']:.0f} MiB | "
                f"{med['held']:.0f} MiB | {med['api'] * 1000:.0f} ms | |"
            )
    finally:
        for service in services:
            service.stop()


if __name__ == "__main__":
    main()
