"""The process that reads a bundle's files through a contents manager rebuilt from
the server's configuration (contents.Reader starts it), so that the manager's own work
on a file (psycopg2 turning a bytea into bytes, base64 both ways) holds this process's
interpreter rather than the server's, and its memory is this process's.

    python -m nbext_pkg.bundlers.contents_child <server pid>

stdin: a pickled {"path": sys.path, "module": ..., "qualname": ..., "config": Config},
then one JSON line per file: {"path": API path, "limit": bytes}. stdout: "ready\\n",
then per file one JSON line, {"size": n} followed by n bytes, or {"reason": r,
"message": m} (a reason of contents.py: missing, unreadable, too-large).
"""

import importlib
import json
import os
import pickle
import sys


def main(server_pid):
    from .render_child import _die_with

    _die_with(server_pid)
    requests, out = sys.stdin.buffer, sys.stdout.buffer
    spec = pickle.load(requests)
    sys.path[:] = spec["path"]
    import threading

    from . import contents
    from .sources import Changed

    target = importlib.import_module(spec["module"])
    for part in spec["qualname"].split("."):
        target = getattr(target, part)
    store = contents.Store(target(config=spec["config"]))
    out.write(b"ready\n")
    out.flush()
    never = threading.Event()
    for line in requests:
        asked = json.loads(line)
        item = _Item(asked["path"])
        try:
            model = store.get(asked["path"], content=True, type="file", format="base64")
            try:
                spool = contents._content(model, item, asked["limit"], never)
            except (OSError, ValueError, TypeError, MemoryError) as error:
                raise contents.Unreadable(f"{item.rel}: {error!r}") from None
            big = len(model.get("content") or "") > contents._TRIM_AFTER
            model = None
        except Changed as error:
            out.write(json.dumps({"reason": error.reason, "message": str(error)}).encode() + b"\n")
            out.flush()
            continue
        with spool:
            size = spool.tell()
            out.write(json.dumps({"size": size}).encode() + b"\n")
            spool.seek(0)
            while True:
                block = spool.read(1024 * 1024)
                if not block:
                    break
                out.write(block)
            out.flush()
        if big:
            store.release()


class _Item:
    def __init__(self, rel):
        self.rel, self.size = rel, -1


if __name__ == "__main__":
    try:
        main(int(sys.argv[1]))
    except (BrokenPipeError, KeyboardInterrupt):
        os._exit(0)
