// nbext_pkg: the names the page modules share with the Python side.
//
// Written by `python -m nbext_pkg.names` from nbext_pkg/names.py, where each name is
// spelled once: edit that file, then run the command; tests/test_names.py fails,
// naming the entry, while the two differ. The object is strict JSON.
define([], function () {
    "use strict";

    return {
        "nbextension": "nbext_pkg",
        "page_modules": {
            "tree": "nbext_pkg/tree",
            "notebook": "nbext_pkg/notebook"
        },
        "common_section": "common",
        "config_key": "nbext_pkg",
        "settings": {
            "default_kernel": "",
            "remember_kernel": true,
            "open_in": "",
            "bundle_format": "zip",
            "bundle_html": true,
            "bundle_requirements": true
        },
        "embed_origins": "embed_origins",
        "bundler": {
            "id": "nbext_pkg_bundle",
            "label": "Notebook bundle",
            "group": "download"
        },
        "action_prefix": "nbext_pkg",
        "last_kernel_key": "nbext_pkg.last_kernel",
        "messages": {
            "session": "nbext_pkg:session",
            "tree": "nbext_pkg:tree",
            "get_session": "nbext_pkg:get-session",
            "new_notebook": "nbext_pkg:new-notebook"
        },
        "routes": {
            "status": "nbext_pkg/api/status",
            "sessions": "nbext_pkg/api/sessions",
            "kernel_pool": "nbext_pkg/api/kernel_pool",
            "warm": "nbext_pkg/api/warm",
            "bundle": "nbext_pkg/bundle",
            "selection": "nbext_pkg/selection",
            "save": "nbext_pkg/save",
            "open": "nbext_pkg/open"
        }
    };
});
