"""What runs in the render child (see render.py): ``python -m nbext_pkg.bundlers.render_child
<address-space limit in bytes>``. Reads jobs on stdin, answers in frames on stdout."""

import html as html_text
import json
import re
import resource
import signal
import struct
import sys
from urllib.parse import unquote

from .render import END, FAILED, IMAGE, NO_MEMORY, READY, REQUIREMENTS, TEXT, write_frame

_PIECE = 1024 * 1024
_SPACE = " \t\n\r\f"
_NAME = re.compile(r"[^\s/>=]+")
_BLANKS = re.compile(r"[ \t\n\r\f]*")
_UNQUOTED = re.compile(r"[^\s>]*")


def image_pieces(page, keys):
    """The page as text pieces and (key, original) where an ``<img>``'s ``src`` names one
    of ``keys`` (decoded, without query or fragment).

    One pass, linear in the page: each tag's attributes are read once and the scan goes
    on after the tag, so no run of ``<img <img <img`` is read twice. An unclosed quote
    ends the scan: nothing after it can be a tag a browser would see.
    """
    if not keys:
        yield page
        return
    lower = page.lower()
    n, done, i = len(page), 0, 0
    while True:
        start = lower.find("<img", i)
        if start < 0:
            break
        m = start + 4
        if m < n and page[m] not in _SPACE and page[m] not in "/>":
            i = m
            continue
        src = None
        while m < n and page[m] != ">":
            if page[m] in _SPACE or page[m] == "/":
                m += 1
                continue
            name_end = _NAME.match(page, m).end() if _NAME.match(page, m) else m + 1
            name = lower[m:name_end]
            m = _BLANKS.match(page, name_end).end()
            if m < n and page[m] == "=":
                m = _BLANKS.match(page, m + 1).end()
                if m < n and page[m] in "\"'":
                    close = page.find(page[m], m + 1)
                    if close < 0:
                        m = n
                        break
                    value = (m + 1, close)
                    m = close + 1
                else:
                    end = _UNQUOTED.match(page, m).end()
                    value, m = (m, end), end
                if name == "src" and src is None:
                    src = value
        if m >= n:
            break
        i = m + 1
        if src is None:
            continue
        original = page[src[0]:src[1]]
        if original[:5].lower() == "data:":
            continue
        key = unquote(html_text.unescape(original).split("#")[0].split("?")[0])
        if key in keys:
            yield page[done:src[0]]
            yield (key, original)
            done = src[1]
    yield page[done:]


def _send_text(out, text):
    data = text.encode("utf-8", "replace")
    for at in range(0, len(data), _PIECE):
        write_frame(out, TEXT, data[at:at + _PIECE])


def _tolerant(notebook):
    """What the notebook server opens with only a warning, nbconvert may choke on: cell
    sources that are not text, metadata of the wrong shape. Made plain for the page."""
    for cell in notebook.get("cells") or []:
        source = cell.get("source")
        if isinstance(source, list):
            cell["source"] = "".join(part if isinstance(part, str) else str(part) for part in source)
        elif not isinstance(source, str):
            cell["source"] = "" if source is None else str(source)
        if not isinstance(cell.get("metadata"), dict):
            cell["metadata"] = {}
    meta = notebook.get("metadata")
    if isinstance(meta, dict):
        for key in ("language_info", "kernelspec"):
            if key in meta and not isinstance(meta[key], dict):
                del meta[key]
    return notebook


def _job(out, exporter, header, notebook_bytes):
    import nbformat

    from . import manifest

    notebook = nbformat.reads(notebook_bytes.decode("utf-8", "replace"), as_version=4)
    if header["requirements"]:
        write_frame(out, REQUIREMENTS, manifest.requirements(notebook).encode("utf-8"))
        out.flush()
    body = exporter.from_notebook_node(_tolerant(notebook))[0] if header["html"] else None
    signal.setitimer(signal.ITIMER_REAL, 0)  # the work is done; sending may wait on the server
    if body is not None:
        for piece in image_pieces(body, set(header["images"])):
            if isinstance(piece, tuple):
                write_frame(out, IMAGE, json.dumps(piece).encode("utf-8"))
            elif piece:
                _send_text(out, piece)
    write_frame(out, END)


def _read_exact(stream, n):
    data = stream.read(n)
    return data if data is not None and len(data) == n else None


def main(argv):
    memory = int(argv[1]) if len(argv) > 1 else 0
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    # Its default action ends the process, even in the middle of a regular expression.
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not break the frames
    from nbconvert import HTMLExporter

    exporter = HTMLExporter()
    write_frame(out, READY)
    out.flush()
    while True:
        line = inp.readline()
        size = _read_exact(inp, 8)
        if not line or size is None:
            return 0  # the server is gone or done with us
        notebook_bytes = _read_exact(inp, struct.unpack(">Q", size)[0])
        if notebook_bytes is None:
            return 0
        header = json.loads(line)
        signal.setitimer(signal.ITIMER_REAL, max(float(header["timeout"]), 0.001))
        try:
            _job(out, exporter, header, notebook_bytes)
        except MemoryError:
            del notebook_bytes
            write_frame(out, NO_MEMORY, b"the render ran out of memory")
            out.flush()
            return 3
        except Exception as error:  # nbconvert failing costs the HTML copy only
            signal.setitimer(signal.ITIMER_REAL, 0)
            text = str(error).strip().splitlines()
            write_frame(out, FAILED, f"{type(error).__name__}: {text[0] if text else ''}".encode())
        out.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
