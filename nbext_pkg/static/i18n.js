// nbext_pkg: every string the extension shows, in English and Simplified Chinese.
//
// The language is the one the notebook's own JavaScript strings are in:
// notebook 6.5 and nbclassic pick those from the browser's Accept-Language
// (document.nbjs_translations, read through base/js/i18n). When the notebook
// shows its own strings in Simplified Chinese, so do we; otherwise English.
//
// `t(key, a, b, ...)` replaces %1, %2, ... with the arguments (as text: the
// callers put the result into the DOM as text, never as markup).
define(['base/js/i18n'], function (nb_i18n) {
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
        "server_missing_check": "in the server's Python environment: it says which part is off, and the command that fixes it.",
        "bundle_needs_server": "Needs nbext_pkg's server part, which is not running: restart the server.",
        "bundle_menu": "Notebook bundle (%1)",
        "bundle_preparing": "Preparing bundle\u2026",
        "bundle_started": "Bundle download started",
        "bundle_failed_title": "The bundle could not be made",
        "bundle_saving": "Saving bundle\u2026",
        "bundle_saved": "Bundle saved as %1",
        "save_failed_title": "The bundle could not be saved",
        "save_bundle_menu": "Save Bundle to This Folder",
        "save_bundle_help": "write this notebook's bundle into its folder on the server",
        "selection_bundle": "Download bundle",
        "selection_bundle_title": "Download the ticked files, folders and notebooks as one bundle",
        "selection_save": "Save bundle here",
        "selection_save_title": "Save a bundle of the ticked items into this folder",
        "open_bundle": "Open bundle",
        "open_bundle_title": "Unpack the ticked archive into a new folder beside it",
        "opening": "Opening %1\u2026",
        "opened": "Opened into %1",
        "opened_mismatches": "These members do not match the bundle's manifest:",
        "opened_left_out": "Left out:",
        "opened_show": "Show it",
        "open_failed_title": "The archive could not be opened"
    };

    var zh_CN = {
        "new_notebook": "\u65b0\u5efa\u7b14\u8bb0\u672c",
        "new_notebook_title": "\u5728\u6b64\u6587\u4ef6\u5939\u4e2d\u65b0\u5efa\u7b14\u8bb0\u672c\uff0c\u5e76\u7acb\u5373\u542f\u52a8\u5176\u5185\u6838",
        "new_notebook_with": "\u7528 %1 \u65b0\u5efa\u7b14\u8bb0\u672c\uff0c\u5e76\u7acb\u5373\u542f\u52a8\u5176\u5185\u6838",
        "choose_kernel": "\u9009\u62e9\u201c\u65b0\u5efa\u7b14\u8bb0\u672c\u201d\u4f7f\u7528\u7684\u5185\u6838",
        "default_kernel_mark": "\uff08\u9ed8\u8ba4\uff09",
        "kernels_unavailable": "\u65e0\u6cd5\u52a0\u8f7d\u5185\u6838\u5217\u8868\uff1a%1",
        "new_notebook_menu": "\u65b0\u5efa\u7b14\u8bb0\u672c\uff08\u5185\u6838\u5df2\u542f\u52a8\uff09",
        "new_notebook_help": "\u7528\u6b64\u7b14\u8bb0\u672c\u7684\u5185\u6838\u65b0\u5efa\u7b14\u8bb0\u672c\uff0c\u5185\u6838\u5df2\u542f\u52a8",
        "session_info": "\u4f1a\u8bdd\u4fe1\u606f",
        "session_info_menu": "\u4f1a\u8bdd\u4fe1\u606f...",
        "session_info_help": "\u663e\u793a\u6b64\u7b14\u8bb0\u672c\u7684\u4f1a\u8bdd\u548c\u5185\u6838",
        "create_failed_title": "\u65b0\u5efa\u7b14\u8bb0\u672c\u5931\u8d25",
        "create_failed_body": "\u65e0\u6cd5\u5728\u201c%1\u201d\u4e2d\u65b0\u5efa\u7b14\u8bb0\u672c\u3002\u670d\u52a1\u5668\u8fd4\u56de\uff1a",
        "kernel_failed_title": "\u5185\u6838\u672a\u80fd\u542f\u52a8",
        "kernel_failed_body": "\u7b14\u8bb0\u672c\u201c%1\u201d\u5df2\u521b\u5efa\u5e76\u4fdd\u5b58\uff0c\u4f46\u5176\u5185\u6838\u201c%2\u201d\u672a\u80fd\u542f\u52a8\u3002\u670d\u52a1\u5668\u8fd4\u56de\uff1a",
        "kernel_failed_hint": "\u4f60\u53ef\u4ee5\u6253\u5f00\u8be5\u7b14\u8bb0\u672c\uff0c\u5e76\u5728\u201c\u5185\u6838\u201d\u83dc\u5355\u4e2d\u9009\u62e9\u5176\u4ed6\u5185\u6838\u3002",
        "open_notebook": "\u6253\u5f00\u7b14\u8bb0\u672c",
        "close": "\u5173\u95ed",
        "field_path": "\u7b14\u8bb0\u672c\u8def\u5f84",
        "field_session_id": "\u4f1a\u8bdd ID",
        "field_kernel_id": "\u5185\u6838 ID",
        "field_kernel_name": "\u5185\u6838\u540d\u79f0",
        "field_display_name": "\u5185\u6838\u663e\u793a\u540d\u79f0",
        "field_execution_state": "\u6267\u884c\u72b6\u6001",
        "field_connection_file": "\u8fde\u63a5\u6587\u4ef6",
        "field_console": "\u63a7\u5236\u53f0\u547d\u4ee4",
        "no_kernel": "\u6b64\u7b14\u8bb0\u672c\u6ca1\u6709\u6b63\u5728\u8fd0\u884c\u7684\u5185\u6838\u3002\u8bf7\u5728\u201c\u5185\u6838\u201d\u83dc\u5355\u4e2d\u542f\u52a8\u4e00\u4e2a\u3002",
        "unknown": "\u672a\u77e5",
        "copy": "\u590d\u5236",
        "copied": "\u5df2\u590d\u5236",
        "copy_failed": "\u65e0\u6cd5\u590d\u5236\uff1a\u8bf7\u9009\u4e2d\u6587\u5b57\u540e\u624b\u52a8\u590d\u5236\u3002",
        "server_missing_title": "nbext_pkg \u7684\u670d\u52a1\u5668\u90e8\u5206\u672a\u8fd0\u884c\u3002",
        "server_missing_body": "\u6b64\u670d\u52a1\u5668\u5728\u5b89\u88c5\u6216\u542f\u7528 nbext_pkg \u4e4b\u524d\u5c31\u5df2\u542f\u52a8\uff0c\u56e0\u6b64\u201c\u4e0b\u8f7d\u4e3a > \u7b14\u8bb0\u672c\u6253\u5305\u201d\u6682\u65f6\u65e0\u6cd5\u4f7f\u7528\uff1b\u201c\u65b0\u5efa\u7b14\u8bb0\u672c\u201d\u548c\u201c\u4f1a\u8bdd\u4fe1\u606f\u201d\u4e0d\u53d7\u5f71\u54cd\u3002\u8bf7\u91cd\u542f\u670d\u52a1\u5668\uff08\u5728 JupyterHub \u4e0a\uff1a\u6587\u4ef6 > Hub \u63a7\u5236\u9762\u677f > Stop My Server\uff0c\u7136\u540e\u91cd\u65b0\u542f\u52a8\uff09\u3002\u5982\u679c\u6b64\u63d0\u793a\u4ecd\u7136\u5b58\u5728\uff0c\u8bf7\u5728\u670d\u52a1\u5668\u7684 Python \u73af\u5883\u4e2d\u8fd0\u884c",
        "server_missing_check": "\uff1a\u5b83\u4f1a\u6307\u51fa\u54ea\u4e00\u90e8\u5206\u672a\u542f\u7528\uff0c\u4ee5\u53ca\u4fee\u590d\u6240\u9700\u7684\u547d\u4ee4\u3002",
        "bundle_needs_server": "\u9700\u8981 nbext_pkg \u7684\u670d\u52a1\u5668\u90e8\u5206\uff0c\u4f46\u5b83\u672a\u8fd0\u884c\uff1a\u8bf7\u91cd\u542f\u670d\u52a1\u5668\u3002",
        "bundle_menu": "\u7b14\u8bb0\u672c\u6253\u5305 (%1)",
        "bundle_preparing": "\u6b63\u5728\u51c6\u5907\u6253\u5305\u2026",
        "bundle_started": "\u6253\u5305\u4e0b\u8f7d\u5df2\u5f00\u59cb",
        "bundle_failed_title": "\u65e0\u6cd5\u751f\u6210\u6253\u5305",
        "bundle_saving": "\u6b63\u5728\u4fdd\u5b58\u6253\u5305\u2026",
        "bundle_saved": "\u6253\u5305\u5df2\u4fdd\u5b58\u4e3a %1",
        "save_failed_title": "\u65e0\u6cd5\u4fdd\u5b58\u6253\u5305",
        "save_bundle_menu": "\u5c06\u6253\u5305\u4fdd\u5b58\u5230\u6b64\u6587\u4ef6\u5939",
        "save_bundle_help": "\u5c06\u6b64\u7b14\u8bb0\u672c\u7684\u6253\u5305\u5199\u5165\u670d\u52a1\u5668\u4e0a\u5176\u6240\u5728\u7684\u6587\u4ef6\u5939",
        "selection_bundle": "\u4e0b\u8f7d\u6253\u5305",
        "selection_bundle_title": "\u5c06\u9009\u4e2d\u7684\u6587\u4ef6\u3001\u6587\u4ef6\u5939\u548c\u7b14\u8bb0\u672c\u4e0b\u8f7d\u4e3a\u4e00\u4e2a\u6253\u5305",
        "selection_save": "\u5728\u6b64\u4fdd\u5b58\u6253\u5305",
        "selection_save_title": "\u5c06\u9009\u4e2d\u9879\u76ee\u7684\u6253\u5305\u4fdd\u5b58\u5230\u6b64\u6587\u4ef6\u5939",
        "open_bundle": "\u6253\u5f00\u6253\u5305",
        "open_bundle_title": "\u5c06\u9009\u4e2d\u7684\u538b\u7f29\u5305\u89e3\u538b\u5230\u65c1\u8fb9\u7684\u65b0\u6587\u4ef6\u5939",
        "opening": "\u6b63\u5728\u6253\u5f00 %1\u2026",
        "opened": "\u5df2\u89e3\u538b\u5230 %1",
        "opened_mismatches": "\u4ee5\u4e0b\u6210\u5458\u4e0e\u6253\u5305\u6e05\u5355\u4e0d\u7b26\uff1a",
        "opened_left_out": "\u672a\u89e3\u538b\uff1a",
        "opened_show": "\u663e\u793a",
        "open_failed_title": "\u65e0\u6cd5\u6253\u5f00\u538b\u7f29\u5305"
    };

    // "Upload" is in every notebook 6.5 / nbclassic Simplified Chinese catalogue.
    var language = function () {
        try {
            if (nb_i18n && nb_i18n.msg && nb_i18n.msg._('Upload') === '\u4e0a\u4f20') {
                return 'zh-CN';
            }
        } catch (e) {
            // no notebook translations on this page: English
        }
        return 'en';
    };
    var lang = language();
    var table = lang === 'zh-CN' ? zh_CN : en;

    var t = function (key) {
        var text = Object.prototype.hasOwnProperty.call(table, key) ? table[key] :
            (Object.prototype.hasOwnProperty.call(en, key) ? en[key] : key);
        var args = Array.prototype.slice.call(arguments, 1);
        return text.replace(/%(\d+)/g, function (whole, n) {
            var value = args[Number(n) - 1];
            return value === undefined ? whole : String(value);
        });
    };

    return {t: t, lang: lang, strings: {en: en, 'zh-CN': zh_CN}};
});
