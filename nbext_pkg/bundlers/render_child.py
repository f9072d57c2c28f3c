"""What runs in the bundle's child processes (see render.py).

``python -m nbext_pkg.bundlers.render_child zygote <the server's pid> <socket fd>`` starts
the zygote: it imports what the children need and, for each request on its socket (a
socket for the child and an address-space limit), forks a child. A child reads jobs on
its socket (a JSON line, a length, that many bytes) and answers in frames:

- ``read``: the notebook's bytes in; its facts out (references, excludes, the metadata the
  bundle reads, the modules its code imports); the parsed notebook is kept for the next job;
- ``render``: the HTML copy of the notebook read;
- ``forget``: drop the notebook (the child goes back to the pool).
"""

import json
import os
import re
import resource
import select
import signal
import socket
import struct
import sys

from .manifest import top_level_imports
from .references import ascii_lower, excludes, find_references, src_key
from .render import END, FACTS, FAILED, IMAGE, NO_MEMORY, READY, TEXT, write_frame

MAX_IMPORTS = 1000

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
    lower = ascii_lower(page)
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
        original = page[src[0] : src[1]]
        if original[:5].lower() == "data:":
            continue
        key = src_key(original)
        if key in keys:
            yield page[done : src[0]]
            yield (key, original)
            done = src[1]
    yield page[done:]


def _send_text(out, text):
    data = text.encode("utf-8", "replace")
    for at in range(0, len(data), _PIECE):
        write_frame(out, TEXT, data[at : at + _PIECE])


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


def _facts(notebook, header):
    """What the plan needs of the notebook, as plain JSON."""
    found = find_references(notebook, base_url=header.get("base_url") or "/")
    most = int(header.get("max_references") or len(found))
    meta = notebook.get("metadata") if isinstance(notebook.get("metadata"), dict) else {}
    ours = meta.get("nbext_pkg") if isinstance(meta.get("nbext_pkg"), dict) else {}
    bundle = ours.get("bundle") if isinstance(ours.get("bundle"), dict) else {}
    return {
        "references": [[r.written, r.path, r.root_relative, r.source] for r in found[:most]],
        "more_references": max(len(found) - most, 0),
        "excludes": excludes(notebook),
        "bundle": {k: v for k, v in bundle.items() if isinstance(v, (str, bool, int))},
        "kernelspec": meta.get("kernelspec"),
        "language_info": meta.get("language_info"),
        # The top-level modules the code imports, for requirements.txt (environment.py).
        "imports": top_level_imports(notebook)[:MAX_IMPORTS],
    }


def _parse(body):
    """The notebook in ``body``, as nbformat reads it (any version, converted to 4, checked
    with only a warning as the server does); ValueError with a short sentence otherwise.
    (nbformat's own reads quotes the whole text in some of its errors.)"""
    import nbformat
    from nbformat.reader import get_version

    try:
        found = json.loads(body)
    except ValueError as error:
        raise ValueError(f"not JSON: {error}") from None
    if not isinstance(found, dict):
        raise ValueError("its JSON is not an object")
    major, minor = get_version(found)
    if major not in nbformat.versions:
        raise ValueError(f"nbformat {major} is not one nbformat knows")
    try:
        notebook = nbformat.convert(nbformat.versions[major].to_notebook_json(found, minor=minor), 4)
    except (AttributeError, KeyError, TypeError) as error:
        raise ValueError(f"the notebook is missing what nbformat expects: {error}") from None
    try:
        nbformat.validate(notebook)
    except nbformat.ValidationError:
        pass  # the notebook server opens such notebooks too, with a warning
    return notebook


def _read(out, state, header, body):
    state.pop("notebook", None)
    try:
        notebook = _parse(body)
    except MemoryError:
        raise
    except Exception as error:  # JSON, schema, encoding: all mean "not a notebook"
        text = str(error).strip().splitlines()
        write_frame(out, FAILED, (text[0][:300] if text else type(error).__name__).encode())
        return
    del body
    state["notebook"] = notebook
    facts = json.dumps(_facts(notebook, header), default=str).encode("utf-8")
    signal.setitimer(signal.ITIMER_REAL, 0)
    write_frame(out, FACTS, facts)
    write_frame(out, END)


def _render(out, state, header):
    notebook = state.get("notebook")
    if notebook is None:
        write_frame(out, FAILED, b"no notebook was read")
        return
    body = None
    if header["html"]:
        if "exporter" not in state:
            from nbconvert import HTMLExporter

            state["exporter"] = HTMLExporter()
        body = state["exporter"].from_notebook_node(_tolerant(notebook))[0]
    signal.setitimer(signal.ITIMER_REAL, 0)  # the work is done; sending may wait on the server
    if body is not None:
        for piece in image_pieces(body, set(header["images"])):
            if isinstance(piece, tuple):
                write_frame(out, IMAGE, json.dumps(piece).encode("utf-8"))
            elif piece:
                _send_text(out, piece)
    state.pop("notebook", None)
    write_frame(out, END)


def _read_exact(stream, n):
    data = stream.read(n) if n else b""
    return data if data is not None and len(data) == n else None


def _die_with(parent_pid):
    """Ask the kernel to end this process when the thread that started it ends (Linux)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:  # it ended before the request took hold
        os._exit(0)


def _serve(fd, memory, zygote_pid, state):
    """A child's life: jobs on the socket ``fd`` until it closes."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _die_with(zygote_pid)
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    # Its default action ends the process, even in the middle of a regular expression.
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    inp, out = os.fdopen(fd, "rb"), os.fdopen(os.dup(fd), "wb")
    write_frame(out, READY)
    out.flush()
    while True:
        line = inp.readline()
        size = _read_exact(inp, 8)
        if not line or size is None:
            return 0  # the server is gone or done with us
        body = _read_exact(inp, struct.unpack(">Q", size)[0])
        if body is None:
            return 0
        header = json.loads(line)
        signal.setitimer(signal.ITIMER_REAL, max(float(header.get("timeout", 60)), 0.001))
        try:
            if header["kind"] == "read":
                _read(out, state, header, body)
            elif header["kind"] == "render":
                _render(out, state, header)
            else:
                state.pop("notebook", None)
                write_frame(out, END)
        except MemoryError:
            state.pop("notebook", None)
            body = None
            write_frame(out, NO_MEMORY, b"the child ran out of memory")
            out.flush()
            return 3
        except Exception as error:  # nbconvert failing costs the HTML copy only
            signal.setitimer(signal.ITIMER_REAL, 0)
            text = str(error).strip().splitlines()
            write_frame(out, FAILED, f"{type(error).__name__}: {text[0][:300] if text else ''}".encode())
        signal.setitimer(signal.ITIMER_REAL, 0)
        out.flush()


def _heavy_imports(state):
    """What the first render would otherwise import, done in the zygote between requests."""

    def nbconvert():
        from nbconvert import HTMLExporter

        state["exporter"] = HTMLExporter()

    def ipython():
        from IPython.core.inputtransformer2 import TransformerManager  # noqa: F401

    def distributions():
        from . import manifest

        manifest.distributions()

    return [nbconvert, ipython, distributions]


def _request(control):
    """(socket fd for the child, its memory limit) of the next fork request; None at EOF."""
    fd_size = struct.calcsize("i")
    message, ancillary, _, _ = control.recvmsg(8, socket.CMSG_LEN(fd_size))
    if len(message) < 8:
        return None
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            return struct.unpack("i", data[:fd_size])[0], struct.unpack(">Q", message)[0]
    return None


def zygote(server_pid, control_fd):
    _die_with(server_pid)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the children
    sys.stdout = sys.stderr  # a stray print must not land anywhere that matters
    control = socket.socket(fileno=control_fd)
    import nbformat  # noqa: F401 - what every job needs, imported before the first fork

    state = {}
    heavy = _heavy_imports(state)
    me = os.getpid()
    while True:
        if heavy and not select.select([control], [], [], 0)[0]:
            try:
                heavy.pop(0)()
            except Exception:  # a child will try again, and say what failed
                pass
            continue
        try:
            request = _request(control)
        except OSError:
            request = None
        if request is None:
            return 0  # the server is gone
        fd, memory = request
        try:
            pid = os.fork()
        except OSError:  # no process to be had: the server is told, and tries again later
            os.close(fd)
            control.sendall(struct.pack(">q", -1))
            continue
        if pid == 0:
            control.close()
            code = 1
            try:
                code = _serve(fd, memory, me, state)
            finally:
                os._exit(code)
        os.close(fd)
        control.sendall(struct.pack(">q", pid))


def main(argv):
    if argv[1:2] == ["zygote"]:
        return zygote(int(argv[2]), int(argv[3]))
    raise SystemExit("usage: python -m nbext_pkg.bundlers.render_child zygote <pid> <fd>")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
