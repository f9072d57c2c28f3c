"""New notebook: the stock flow (on a server without nbext_pkg and on one with
it), nbext_pkg's without a pool and with a warm kernel pool of one, in headless
Chromium.

One server per base URL, the three flows measured against it in the same run,
alternating so that none gets a warmer machine, each run starting with the pool
full and idle (so a refill never overlaps a run). The pool keeps a kernel of a
second kernelspec with the same ipykernel (bench-warm); python3 has none, so the
stock flow and ours without a pool use it. Times are taken inside the pages (a
custom-preload.js instrument that listens to the notebook's own events), on the
clock of performance.timeOrigin, from the click:

- window pointed at the notebook: the new page's navigation started;
- HTML first byte: the notebook page's first byte arrived;
- page ready: notebook_loaded.Notebook;
- kernel websocket: kernel_connected.Kernel;
- kernel ready: kernel_ready.Kernel;
- first result: `1+1` was run in the first cell as soon as the page allowed it
  (the cell had a kernel) and its output `2` arrived.

It also times page loads from navigation start to the page's own ready event:
the tree page with nbext_pkg's page modules enabled and disabled on the same
server (their overhead), and an existing notebook's page opened the stock way on
that server and on one without nbext_pkg at all (the notebook page's own time).

    .venv/bin/python benchmarks/new_notebook.py [--runs 9] [--base-url /]...
"""

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from harness import (  # noqa: E402
    AWKWARD_BASE_URL,
    JupyterEnv,
    NotebookServer,
    start_chromium,
    wait_until,
)

# Loaded by every tree and notebook page through the notebook's
# custom-preload.js hook, which both pages' main modules wait for: so the
# listeners are in place before the page can fire any of these events.
INSTRUMENT = r"""
define(['base/js/namespace', 'base/js/events'], function (Jupyter, events) {
    var now = function () { return performance.timeOrigin + performance.now(); };
    var b = window.__bench = {origin: performance.timeOrigin, installed: now()};
    var button = function (selector, key) {
        var seen = function () {
            if (!b[key] && document.querySelector(selector)) { b[key] = now(); return true; }
            return false;
        };
        if (!seen()) {
            var observer = new MutationObserver(function () { if (seen()) { observer.disconnect(); } });
            observer.observe(document.body, {childList: true, subtree: true});
        }
    };
    if (document.body.classList.contains('notebook_app')) {
        button('#nbext_pkg-toolbar', 'button');
        var run = function () {
            var nb = Jupyter.notebook;
            if (b.ran || !nb || !nb._fully_loaded) { return; }
            var cell = nb.get_cell(0);
            if (!cell || !cell.kernel) { return; }
            b.ran = now();
            cell.set_text('1+1');
            cell.execute();
        };
        events.on('notebook_loaded.Notebook', function () { b.page = b.page || now(); run(); });
        events.on('kernel_ready.Kernel', function () { b.kernel = b.kernel || now(); run(); });
        events.on('kernel_connected.Kernel', function () { b.ws = b.ws || now(); });
        // The session's success callback gives the cells their kernel right after this event.
        events.on('kernel_created.Session', function () { Promise.resolve().then(run); });
        events.on('output_added.OutputArea', function (event, data) {
            var out = data.output;
            if (!b.result && out.output_type === 'execute_result' && out.data['text/plain'] === '2') {
                b.result = now();
            }
        });
    } else {
        button('#nbext_pkg-new-notebook', 'button');
        events.on('draw_notebook_list.NotebookList', function () { b.page = b.page || now(); });
    }
});
"""

STOCK = "stock New \u25be > Python 3"
PLAIN = "stock New \u25be > Python 3, server without nbext_pkg"
OURS = "nbext_pkg New notebook, no pool"
WARM = "nbext_pkg New notebook, pool of 1"
# Two kernelspecs with the same ipykernel: the pool keeps one kernel of WARM_SPEC; python3
# has none, so the stock flow and ours without a pool run against the same server.
WARM_SPEC = "bench-warm"
MARKS = ("nav", "first_byte", "page", "ws", "kernel", "result")


def median_ms(values):
    return f"{statistics.median(values):.0f} ms" if values else "n/a"


class Bench:
    def __init__(self, base_url, runs):
        self.runs = runs
        self.jenv = JupyterEnv()
        self.jenv.install_nbext_pkg(symlink=False)
        self.jenv.add_kernelspec(WARM_SPEC, "Python 3 (warm)")
        (self.jenv.config_dir / "custom").mkdir(exist_ok=True)
        (self.jenv.config_dir / "custom" / "custom-preload.js").write_text(INSTRUMENT)
        self.root = Path(tempfile.mkdtemp(prefix="nbext_pkg-bench-root-"))
        (self.root / "work").mkdir()
        self.server = NotebookServer(
            self.jenv,
            self.root,
            base_url=base_url,
            extra_args=[f"--NbextPkg.kernel_pool={json.dumps({WARM_SPEC: 1})}"],
        ).start()
        # The same notebook server without nbext_pkg at all, for the notebook page's own time.
        self.plain_env = JupyterEnv()
        (self.plain_env.config_dir / "custom").mkdir(exist_ok=True)
        (self.plain_env.config_dir / "custom" / "custom-preload.js").write_text(INSTRUMENT)
        self.plain = NotebookServer(self.plain_env, self.root, base_url=base_url).start()
        self.driver = start_chromium()
        for srv in (self.server, self.plain):
            self.driver.get(srv.url + f"tree?token={srv.token}")

    def close(self):
        self.driver.quit()
        self.server.stop()
        self.plain.stop()
        self.jenv.cleanup()
        self.plain_env.cleanup()

    def wait_pool(self):
        """Every run starts with the pool full and idle: a refill never overlaps a run."""
        wait_until(
            lambda: self.server.api("GET", "nbext_pkg/api/kernel_pool").json()["kernels"][WARM_SPEC]["ready"],
            60,
            "the warm kernel",
        )

    def bench(self):
        return self.driver.execute_script("return window.__bench || null")

    def open_tree(self, srv):
        self.driver.get(srv.page_url("tree", "work"))
        ours = (
            "!!document.querySelector('#nbext_pkg-kernel-menu li[data-kernel-name]') && "
            if (srv is self.server)
            else ""
        )
        wait_until(
            lambda: (
                (self.bench() or {}).get("page")
                and self.driver.execute_script(
                    "return " + ours + "!!document.querySelector('#notebook-kernels ~ li#kernel-python3')"
                )
            ),
            30,
            "the tree page and its kernel menus",
        )

    def click(self, flow):
        if flow in (STOCK, PLAIN):
            script = (
                "document.getElementById('new-dropdown-button').click();"
                "var t = performance.timeOrigin + performance.now();"
                "document.querySelector('#kernel-python3 a').click(); return t;"
            )
        else:
            spec = WARM_SPEC if flow == WARM else "python3"
            script = (
                "var t = performance.timeOrigin + performance.now();"
                f"document.querySelector('#nbext_pkg-kernel-{spec} a').click(); return t;"
            )
        return self.driver.execute_script(script)

    def one_run(self, flow):
        """Click, then read the new page's milestones; clean up its kernel and file."""
        self.wait_pool()
        srv = self.plain if flow == PLAIN else self.server
        self.open_tree(srv)
        tree = self.driver.current_window_handle
        before = set(self.driver.window_handles)
        clicked = self.click(flow)
        wait_until(lambda: set(self.driver.window_handles) - before, 30, "the new window")
        self.driver.switch_to.window((set(self.driver.window_handles) - before).pop())
        # The buffered `1+1` can be answered before kernel_ready fires: wait for all of them.
        wanted = ("page", "ws", "kernel", "result")
        marks = wait_until(
            lambda: (lambda b: b if b and all(b.get(k) for k in wanted) else None)(self.bench()),
            60,
            "page ready, kernel ready and the first result in the new notebook",
        )
        marks["nav"] = marks["origin"]
        marks["first_byte"] = marks["origin"] + self.driver.execute_script(
            "return performance.getEntriesByType('navigation')[0].responseStart"
        )
        path = self.driver.execute_script("return Jupyter.notebook.notebook_path")
        kernel_name = self.driver.execute_script("return Jupyter.notebook.kernel.name")
        if marks["installed"] > marks["page"]:
            raise RuntimeError("the instrument loaded after the page was ready; the run is not valid")
        self.driver.close()
        self.driver.switch_to.window(tree)
        sessions = [s for s in srv.sessions() if s["path"] == path]
        assert len(sessions) == 1, f"{flow}: {len(sessions)} sessions for one notebook"
        assert kernel_name == (WARM_SPEC if flow == WARM else "python3"), (flow, kernel_name)
        for s in sessions:
            srv.api("DELETE", f"api/sessions/{s['id']}", expect=204)
        (self.root / path).unlink()
        return {key: marks[key] - clicked for key in MARKS}

    def flows(self, flows):
        results = {flow: [] for flow in flows}
        for flow in flows:  # warm-up, not counted
            self.one_run(flow)
        for i in range(self.runs):
            order = flows if i % 2 == 0 else flows[::-1]
            for flow in order:
                results[flow].append(self.one_run(flow))
        return results

    def set_enabled(self, enabled):
        for section, require in (("tree", "nbext_pkg/tree"), ("notebook", "nbext_pkg/notebook")):
            self.server.api(
                "PATCH", f"api/config/{section}", json={"load_extensions": {require: enabled}}, expect=200
            )

    def page_load(self, srv, page, enabled):
        """(page ready, nbext_pkg's button shown), ms from navigation start."""
        if page == "tree":
            url = srv.page_url("tree", "work")
        else:
            url = srv.page_url("notebooks", "work/loaded.ipynb")
        # Chromium treats a navigation to the URL it shows as a reload, which
        # revalidates every subresource; users arrive from another page.
        self.driver.get("about:blank")
        self.driver.get(url)
        keys = ("page", "button") if enabled else ("page",)
        marks = wait_until(
            lambda: (lambda b: b if b and all(b.get(k) for k in keys) else None)(self.bench()),
            30,
            f"the {page} page to be ready",
        )
        return marks["page"] - marks["origin"], (marks["button"] - marks["origin"]) if enabled else None

    def page_loads(self):
        """The tree page with nbext_pkg's page modules enabled and disabled (same server); the
        notebook page of an existing notebook opened the stock way, on the server with nbext_pkg
        and on the one without it (alternating)."""
        nb = self.root / "work" / "loaded.ipynb"
        nb.write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')
        results = {}
        for enabled in (True, False):
            self.set_enabled(enabled)
            self.page_load(self.server, "tree", enabled)  # warm-up: fills the browser cache
        times = {True: [], False: [], "button": []}
        for i in range(self.runs):
            for enabled in (True, False) if i % 2 == 0 else (False, True):
                self.set_enabled(enabled)
                ready, button = self.page_load(self.server, "tree", enabled)
                times[enabled].append(ready)
                if enabled:
                    times["button"].append(button)
        results["tree"] = times
        self.set_enabled(True)
        for srv in (self.server, self.plain):
            self.page_load(srv, "notebook", srv is self.server)
        times = {True: [], False: [], "button": []}
        for i in range(self.runs):
            for srv in (self.server, self.plain) if i % 2 == 0 else (self.plain, self.server):
                ready, button = self.page_load(srv, "notebook", srv is self.server)
                times[srv is self.server].append(ready)
                if button is not None:
                    times["button"].append(button)
        results["notebook"] = times
        for srv in (self.server, self.plain):
            for s in srv.sessions():
                srv.api("DELETE", f"api/sessions/{s['id']}")
        return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="measured runs per flow (median)")
    parser.add_argument("--base-url", action="append", help="server base URL (repeatable)")
    args = parser.parse_args()
    base_urls = args.base_url or ["/", AWKWARD_BASE_URL]

    flow_rows, load_rows = [], []
    for base_url in base_urls:
        bench = Bench(base_url, args.runs)
        try:
            results = bench.flows([PLAIN, STOCK, OURS, WARM])
            loads = bench.page_loads()
        finally:
            bench.close()
        stock_result = statistics.median(r["result"] for r in results[STOCK])
        plain_result = statistics.median(r["result"] for r in results[PLAIN])
        for flow, runs in results.items():
            result = statistics.median(r["result"] for r in runs)
            flow_rows.append(
                (
                    flow,
                    f"`{base_url}`",
                    *(median_ms([r[k] for r in runs]) for k in MARKS),
                    f"**{result / stock_result:.2f}**",
                    f"{result / plain_result:.2f}",
                )
            )
        for page, times in loads.items():
            with_, without = statistics.median(times[True]), statistics.median(times[False])
            load_rows.append(
                (
                    page,
                    f"`{base_url}`",
                    f"{without:.0f} ms",
                    f"{with_:.0f} ms",
                    f"{(with_ / without - 1) * 100:+.1f}%",
                    median_ms(times["button"]),
                )
            )

    print(
        f"New notebook, from the click (medians of {args.runs}, the flows alternating; all but the "
        f"first on one server; headless Chromium, notebook {__import__('notebook').__version__})\n"
    )
    print(
        "| flow | base URL | window pointed at the notebook | HTML first byte | page ready | "
        "kernel websocket | kernel ready | first `1+1` result | vs stock, same server | "
        "vs stock without nbext_pkg |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for row in flow_rows:
        print("| " + " | ".join(row) + " |")
    print(
        f"\nPage ready (the page's own ready event), from navigation start (medians of {args.runs}): "
        "the tree page with nbext_pkg's page modules disabled and enabled on the same server; an "
        "existing notebook's page, opened the stock way, on a server without nbext_pkg and on one "
        "with it\n"
    )
    print("| page | base URL | without nbext_pkg | with nbext_pkg | difference | nbext_pkg button shown |")
    print("|---|---|---|---|---|---|")
    for row in load_rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
