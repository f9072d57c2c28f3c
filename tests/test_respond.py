"""bundlers/respond.py's parts that need no server: the download's headers, where the
files are, the limit on bundles at once, and what a request names."""

import pytest

from nbext_pkg.bundlers.respond import content_disposition, local_root


@pytest.mark.parametrize(
    "name, header",
    [
        ("plain.zip", "attachment; filename=\"plain.zip\"; filename*=UTF-8''plain.zip"),
        (
            'résumé "x".zip',
            "attachment; filename=\"r_sum_ _x_.zip\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22x%22.zip",
        ),
    ],
)
def test_download_names_survive_proxies(name, header):
    assert content_disposition(name) == header


def test_a_contents_manager_off_this_disk_has_no_local_root():
    class RemoteContents:
        root_dir = "/"

    assert local_root(RemoteContents()) is None
