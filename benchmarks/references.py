"""Reading a hostile markdown cell for references: nbext_pkg's find_references against
nbconvert's own markdown rendering of the same cell (what the stock HTML copy costs),
in one process, on the same inputs.

Each input is one markdown cell made of one piece repeated to 40 KB and to 400 KB:
the pieces that would make a parser rescan the rest of the cell for each of them
(unclosed tags, comments, processing instructions, link openers, backticks, quote
markers, definitions). The time is the best of --runs, in milliseconds. A reading that
is linear in the cell takes about ten times as long at 400 KB as at 40 KB.

    python benchmarks/references.py [--runs 3]
"""

import argparse
import time

from nbconvert.filters.markdown_mistune import markdown2html_mistune

from nbext_pkg.bundlers.references import find_references

PIECES = [
    "<img ",
    "<",
    "<?",
    "<!--",
    "<!x ",
    "<a x='",
    "](",
    "[x](<",
    "`",
    "\\`",
    "`` ` ",
    "> ",
    "[d]: x\n",
    "# `\n",
]
SIZES = [40_000, 400_000]


def best_ms(work, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print("| piece | size | find_references | ratio 400 KB / 40 KB | nbconvert's markdown to HTML |")
    print("|---|---|---|---|---|")
    for piece in PIECES:
        ours = {}
        for size in SIZES:
            text = piece * (size // len(piece))
            notebook = {"cells": [{"cell_type": "markdown", "source": text}]}
            ours[size] = best_ms(lambda notebook=notebook: find_references(notebook), args.runs)
            theirs = best_ms(lambda text=text: markdown2html_mistune(text), 1)
            ratio = f"{ours[size] / ours[SIZES[0]]:.1f}" if size != SIZES[0] else ""
            print(f"| `{piece!r}` | {size // 1000} KB | {ours[size]:.1f} ms | {ratio} | {theirs:.1f} ms |")


if __name__ == "__main__":
    main()
