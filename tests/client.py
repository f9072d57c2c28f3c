"""One client for a notebook server's HTTP side, as the tests call it: page URLs,
the REST API with a token, the sessions and kernels it runs.

``harness.NotebookServer`` (a server subprocess of ours) and ``hub.UserServer``
(a single-user server behind JupyterHub's proxy) are both this client; they
differ only in where the server is and what to say when it does not answer.
"""

from urllib.parse import quote

import requests


def url_path(path):
    """Percent-encode a contents path for a URL, keeping its slashes."""
    return quote(path, safe="/")


class ServerClient:
    """A server at ``url`` (its root: ending with the base URL and a slash), called
    with ``token`` in the Authorization header, through one requests session."""

    def __init__(self, url, token):
        self.url = url
        self.token = token
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"token {token}"

    def page_url(self, *parts):
        """A page (``tree``, ``notebooks``) for contents ``parts``, each percent-encoded."""
        return self.url + "/".join(url_path(p) for p in parts if p != "")

    def state(self):
        """A sentence on the server's health, for an error message when it does not answer."""
        return ""

    def api(self, method, path, expect=None, **kwargs):
        """Call the REST API; ``path`` is already URL-encoded (``api/sessions``). With
        ``expect``, any other status fails the test with the server's answer."""
        kwargs.setdefault("timeout", 30)
        try:
            response = self.http.request(method, self.url + path, **kwargs)
        except requests.RequestException as error:
            raise AssertionError(f"{method} {path}: {error!r}; {self.state()}") from error
        if expect is not None and response.status_code != expect:
            raise AssertionError(
                f"{method} {path}: expected {expect}, got {response.status_code}: {response.text[:3000]}"
            )
        return response

    def sessions(self):
        return self.api("GET", "api/sessions", expect=200).json()

    def kernels(self):
        return self.api("GET", "api/kernels", expect=200).json()

    def close(self):
        self.http.close()
