// nbext_pkg: every string the extension shows, in one place.
//
// Strings are looked up by key, so a translation only has to add a table.
// `t(key, a, b, ...)` replaces %1, %2, ... with the arguments (as text: the
// callers put the result into the DOM with .text(), never .html()).
define([], function () {
    "use strict";

    var en = {
        "new_notebook": "New notebook",
        "new_notebook_title": "Create a notebook in this folder and start its kernel right away",
        "new_notebook_with": "Create a notebook with %1 and start its kernel right away",
        "choose_kernel": "Choose the kernel for New notebook",
        "default_kernel_mark": "(default)",
        "kernels_unavailable": "The list of kernels could not be loaded: %1",
        "new_notebook_menu": "New Notebook, Kernel Started",
        "new_notebook_help": "create a new notebook with this notebook's kernel, already started",
        "session_info": "Session info",
        "session_info_menu": "Session Info...",
        "session_info_help": "show the session and kernel of this notebook",
        "create_failed_title": "Creating the notebook failed",
        "create_failed_body": "No notebook could be created in \u201c%1\u201d. The server said:",
        "kernel_failed_title": "The kernel did not start",
        "kernel_failed_body": "The notebook \u201c%1\u201d was created and saved, but its kernel \u201c%2\u201d could not start. The server said:",
        "kernel_failed_hint": "You can open the notebook and pick another kernel from its Kernel menu.",
        "open_notebook": "Open the notebook",
        "close": "Close",
        "field_path": "Notebook path",
        "field_session_id": "Session id",
        "field_kernel_id": "Kernel id",
        "field_kernel_name": "Kernel name",
        "field_display_name": "Kernel display name",
        "field_execution_state": "Execution state",
        "field_connection_file": "Connection file",
        "field_console": "Console command",
        "no_kernel": "This notebook has no running kernel. Start one from the Kernel menu.",
        "unknown": "unknown",
        "copy": "Copy",
        "copied": "Copied",
        "copy_failed": "Could not copy: select the text and copy it by hand.",
        "server_missing_title": "nbext_pkg's server part is not running.",
        "server_missing_body": "This server was started before nbext_pkg was installed or enabled, so Download as > Notebook bundle cannot work yet; New notebook and Session info do. Restart the server (under JupyterHub: File > Hub Control Panel > Stop My Server, then start it again). If this notice stays, run",
        "or": "or",
        "server_missing_check": "in the server's Python environment: nbext_pkg must be listed as enabled and OK.",
        "bundle_needs_server": "Needs nbext_pkg's server part, which is not running: restart the server."
    };

    var t = function (key) {
        var text = Object.prototype.hasOwnProperty.call(en, key) ? en[key] : key;
        var args = Array.prototype.slice.call(arguments, 1);
        return text.replace(/%(\d+)/g, function (whole, n) {
            var value = args[Number(n) - 1];
            return value === undefined ? whole : String(value);
        });
    };

    return {t: t, strings: en};
});
