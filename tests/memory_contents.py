"""A contents manager that keeps notebooks in memory, not on this machine's
disk: the kind of server (S3, a database) where a bundle cannot read the files
a notebook refers to. Only what the bundle route needs is here."""

import base64
import datetime
import json
import os

import nbformat
from jupyter_server.services.contents.manager import ContentsManager as ServerContentsManager
from notebook.services.contents.manager import ContentsManager
from tornado import web
from traitlets import Bool, Dict, List, Unicode
from traitlets.config import Configurable


def seed_trait():
    return Unicode(help="A JSON file {path: notebook JSON text} loaded at start.").tag(config=True)


class MemoryStore:
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.store = json.loads(open(self.seed).read()) if self.seed else {}
        self.now = datetime.datetime.now(datetime.timezone.utc)

    def _model(self, path, kind):
        return {
            "name": path.rsplit("/", 1)[-1],
            "path": path,
            "type": kind,
            "format": None,
            "mimetype": None,
            "content": None,
            "created": self.now,
            "last_modified": self.now,
            "writable": True,
        }

    def dir_exists(self, path):
        path = path.strip("/")
        return path == "" or any(p.startswith(path + "/") for p in self.store)

    def file_exists(self, path=""):
        return path.strip("/") in self.store

    def is_hidden(self, path):
        return any(part.startswith(".") for part in path.split("/"))

    def get(self, path, content=True, type=None, format=None):
        path = path.strip("/")
        if path in self.store:
            model = self._model(path, "notebook")
            if content:
                model["content"] = nbformat.reads(self.store[path], as_version=4)
                model["format"] = "json"
            return model
        if self.dir_exists(path):
            model = self._model(path, "directory")
            if content:
                model["content"], model["format"] = [], "json"
            return model
        raise web.HTTPError(404, f"No such file or directory: {path}")

    def save(self, model, path):
        path = path.strip("/")
        self.store[path] = nbformat.writes(nbformat.from_dict(model["content"]))
        return self.get(path, content=False)

    def delete_file(self, path):
        self.store.pop(path.strip("/"), None)

    def rename_file(self, old_path, new_path):
        self.store[new_path.strip("/")] = self.store.pop(old_path.strip("/"))


class MemoryContentsManager(MemoryStore, ContentsManager):
    """For notebook 6's server."""

    seed = seed_trait()


class ServerMemoryContentsManager(MemoryStore, ServerContentsManager):
    """For jupyter_server (nbclassic)."""

    seed = seed_trait()


class HangingContentsManager(ServerMemoryContentsManager):
    """Its folder listings never answer (a store whose connection hangs)."""

    def get(self, path, content=True, type=None, format=None):
        if type == "directory" and content:
            import threading

            threading.Event().wait()  # an answer that never comes
        return super().get(path, content=content, type=type, format=format)


class FolderStore(Configurable):
    """A contents manager over a folder, configured by traitlets alone and keeping no
    state of its own: what contents.Reader can rebuild in another process. Records
    the calls it answers in this process."""

    folder = Unicode(help="The folder whose files it serves.").tag(config=True)
    damaged = List(help="Paths whose base64 content it spoils half-way.").tag(config=True)
    listed_sizes = Dict(help="Sizes its listings give (wrongly) for these paths.").tag(config=True)
    noisy = Bool(False, help="Print on standard output at every call, as libraries do.").tag(config=True)
    wrapped = Bool(False, help="Base64 in lines of 76, as notebook 6's file manager gives it.").tag(
        config=True
    )

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = []

    def is_hidden(self, path):
        return False

    def get(self, path, content=True, type=None, format=None):
        self.calls.append((path, content, type))
        if self.noisy:
            print(f"FolderStore: {path}\n" + "x" * 5000, flush=True)
        full = os.path.join(self.folder, path)
        name = path.rsplit("/", 1)[-1]
        if os.path.isdir(full):
            model = {"name": name, "path": path, "type": "directory", "content": None}
            if content:
                model["content"] = [
                    {
                        "name": n,
                        "path": f"{path}/{n}".strip("/"),
                        "type": "directory" if os.path.isdir(os.path.join(full, n)) else "file",
                    }
                    for n in sorted(os.listdir(full))
                ]
                for entry in model["content"]:
                    if entry["path"] in self.listed_sizes:
                        entry["size"] = self.listed_sizes[entry["path"]]
            return model
        if os.path.isfile(full):
            model = {"name": name, "path": path, "type": "file", "content": None}
            if content:
                with open(full, "rb") as f:
                    model["content"], model["format"] = base64.b64encode(f.read()).decode(), "base64"
                if self.wrapped:
                    text = model["content"]
                    model["content"] = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))
                if path in self.damaged:
                    half = len(model["content"]) // 8 * 4
                    model["content"] = model["content"][:half] + "@@@@" + model["content"][half + 4 :]
            return model
        raise web.HTTPError(404, f"No such file: {path}")
