"""The reading process of reader.Reader: a copy of the server's contents manager,
rebuilt from its class and the server's configuration, reading files for bundles.

    python -m nbext_pkg.bundlers.contents_child <server pid>

stdin: a pickled {"path": sys.path, "module": ..., "qualname": ..., "config": Config},
then one JSON line per request. {"path": API path, "limit": bytes} is answered with
{"size": n}, n bytes and {"ok": true} (or {"reason": r, "message": m} after the bytes
when the file turned out not whole), or with {"reason": r, "message": m} alone (a reason
of contents.py: missing, unreadable, too-large). {"release": true} (the bundle is over)
closes the manager's idle database connections and is answered {"released": true}.
stdout: "ready" once the manager is built, then the answers.
"""

import importlib
import json
import os
import pickle
import sys
import threading


def _say(out, answer):
    out.write(json.dumps(answer).encode() + b"\n")


def _exact_size(text):
    """The decoded size of base64 text without white space, or None to find out by decoding."""
    if len(text) % 4 or any(c in text for c in "\n\r\t "):
        return None
    return len(text) // 4 * 3 - (2 if text.endswith("==") else 1 if text.endswith("=") else 0)


def _stream(out, text, size, item):
    """Decode straight into the pipe; a damaged slice still sends ``size`` bytes (zeros),
    then says so, so that the other end stays in step."""
    from . import fetch

    sent = 0
    try:
        for at in range(0, len(text), fetch._SLICE):
            piece = text[at : at + fetch._SLICE]
            last = at + fetch._SLICE >= len(text)
            if "=" in (piece[:-2] if last else piece):
                raise fetch.Unreadable(f"{item.rel}: padding in the middle of its base64 content")
            data = fetch._strict_b64(piece)
            out.write(data)
            sent += len(data)
    except Exception as error:  # binascii.Error, Unreadable
        while sent < size:
            filler = min(size - sent, 1024 * 1024)
            out.write(bytes(filler))
            sent += filler
        _say(out, {"reason": "unreadable", "message": f"{item.rel}: {error}"})
        return
    _say(out, {"ok": True})


def serve(store, requests, out):
    from . import fetch
    from .sources import Changed

    never = threading.Event()
    for line in requests:
        asked = json.loads(line)
        if asked.get("release"):
            store.release()
            _say(out, {"released": True})
            out.flush()
            continue
        item = _Item(asked["path"])
        try:
            model = store.get(asked["path"], content=True, type="file", format="base64")
            content = model.get("content")
            big = fetch.is_big(model)
            size = (
                _exact_size(content) if model.get("format") == "base64" and isinstance(content, str) else None
            )
            if size is not None:
                if size > asked["limit"]:
                    raise fetch.TooLarge(f"{item.rel}: {size} bytes, over the limit of {asked['limit']}")
                _say(out, {"size": size})
                _stream(out, content, size, item)
            else:
                with fetch.spool_of(model, item, asked["limit"], never) as spool:
                    _say(out, {"size": spool.tell()})
                    spool.seek(0)
                    block = spool.read(1024 * 1024)
                    while block:
                        out.write(block)
                        block = spool.read(1024 * 1024)
                _say(out, {"ok": True})
            model = content = None
        except Changed as error:
            _say(out, {"reason": error.reason, "message": str(error)})
            big = False
        out.flush()
        if big:
            store.release()


class _Item:
    def __init__(self, rel):
        self.rel, self.size = rel, -1


def main(server_pid):
    from .render_child import _die_with

    _die_with(server_pid)
    # The pipes are the protocol's alone: whatever the manager or a library prints goes
    # to the server's log, and nothing it reads takes a request.
    requests = os.fdopen(os.dup(0), "rb")
    out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    sys.stdin, sys.stdout = open(os.devnull), sys.stderr
    spec = pickle.load(requests)
    sys.path[:] = spec["path"]
    from . import contents

    target = importlib.import_module(spec["module"])
    for part in spec["qualname"].split("."):
        target = getattr(target, part)
    store = contents.Store(target(config=spec["config"]))
    _say(out, "ready")
    out.flush()
    serve(store, requests, out)


if __name__ == "__main__":
    try:
        main(int(sys.argv[1]))
    except (BrokenPipeError, KeyboardInterrupt):
        os._exit(0)
