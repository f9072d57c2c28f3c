"""nbext_pkg: install with ``pip install .``; that alone enables every part.

The metadata is in pyproject.toml. This file adds only what PEP 621 cannot say:
the data files that put the front-end and its enabling configuration in place.
"""

from pathlib import Path

from setuptools import setup

HERE = Path(__file__).parent


def files_in(folder):
    return sorted(str(p.relative_to(HERE)) for p in (HERE / folder).iterdir() if p.is_file())


# Where `pip install` puts the front-end files and the enabling configuration,
# relative to the environment's prefix: the same places
# `jupyter nbextension install --sys-prefix` and `... enable --sys-prefix` use.
data_files = [
    ("share/jupyter/nbextensions/nbext_pkg", files_in("nbext_pkg/static")),
    ("etc/jupyter/nbconfig/tree.d", files_in("jupyter-config/nbconfig/tree.d")),
    ("etc/jupyter/nbconfig/notebook.d", files_in("jupyter-config/nbconfig/notebook.d")),
    (
        "etc/jupyter/jupyter_notebook_config.d",
        files_in("jupyter-config/jupyter_notebook_config.d"),
    ),
    ("etc/jupyter/jupyter_server_config.d", files_in("jupyter-config/jupyter_server_config.d")),
]

setup(data_files=data_files)
