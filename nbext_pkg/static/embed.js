// nbext_pkg: talking to a page that embeds the notebook in a frame.
//
// Nothing happens unless the page runs in a frame AND the frame's parent is
// one of the exact origins listed in the `common` nbconfig section:
//   {"nbext_pkg": {"embed_origins": ["https://portal.example.org"]}}
// Messages then go to that origin only (it is the postMessage targetOrigin,
// never "*"), and only messages from the parent window, from a listed origin,
// of a known shape are acted upon. Anything else is ignored and logged once.
//
// Notebook page: {type: "nbext_pkg:session", path, session_id, kernel_id,
// kernel_name, execution_state} once the kernel is ready, then after restarts,
// kernel changes, renames and execution state changes (coalesced).
// Tree page: {type: "nbext_pkg:tree", path} on navigation.
// Both accept {type: "nbext_pkg:new-notebook", kernel_name?}; the notebook
// page also {type: "nbext_pkg:get-session"}.
define([
    'base/js/events',
    'base/js/utils',
    'services/config',
    './new_notebook',
    './session_info'
], function (events, utils, configmod, flow, session_info) {
    "use strict";

    var SESSION = 'nbext_pkg:session';
    var TREE = 'nbext_pkg:tree';
    var GET_SESSION = 'nbext_pkg:get-session';
    var NEW_NOTEBOOK = 'nbext_pkg:new-notebook';
    // A burst of cells flips busy/idle many times a second: the parent hears
    // the state at most this often, and always the last one.
    var COALESCE_MS = 100;

    var framed = function () {
        try {
            return window.parent !== window;
        } catch (e) {
            return true;
        }
    };

    /** The embedding page's origin, as the browser reports it. */
    var parent_origin = function () {
        var ancestors = window.location.ancestorOrigins;
        if (ancestors && ancestors.length) {
            return ancestors[0];
        }
        try {
            return document.referrer ? new URL(document.referrer).origin : null;
        } catch (e) {
            return null;
        }
    };

    /** Exact origins from config; anything else (a "*", a bad URL) is dropped. */
    var allowed_origins = function (base_url) {
        var common = new configmod.ConfigSection('common', {base_url: base_url});
        common.load();
        return common.loaded.then(function () {
            var listed = ((common.data || {}).nbext_pkg || {}).embed_origins;
            if (!Array.isArray(listed)) {
                return [];
            }
            var origins = [];
            listed.forEach(function (entry) {
                var origin;
                try {
                    origin = typeof entry === 'string' && entry !== '*' ? new URL(entry).origin : null;
                } catch (e) {
                    origin = null;
                }
                if (origin && origin !== 'null') {
                    origins.push(origin);
                } else {
                    console.warn('nbext_pkg: embed_origins entry ignored (not an exact origin):', entry);
                }
            });
            return origins;
        });
    };

    var only_keys = function (data, keys) {
        return Object.keys(data).every(function (key) {
            return keys.indexOf(key) !== -1;
        });
    };

    /**
     * Listen to the parent. `handlers` maps a message type to
     * {keys: [allowed keys], run: function (data)}; `run` may return false
     * to reject the message as malformed.
     */
    var listen = function (origin, handlers) {
        // origin: the embedding page's origin when it is allowed, else null (then
        // every message is ignored, and that is logged once).
        var warned = false;
        var ignore = function (why, event) {
            if (!warned) {
                warned = true;
                console.warn('nbext_pkg: ignored a message (' + why + ') from', event.origin,
                             '; further ignored messages are not logged');
            }
        };
        window.addEventListener('message', function (event) {
            if (event.source === window) {
                return; // the page's own messages (some libraries post to themselves)
            }
            if (origin === null || event.origin !== origin || event.source !== window.parent) {
                return ignore('not from the embedding page of an allowed origin', event);
            }
            var data = event.data;
            var handler = data && typeof data === 'object' && typeof data.type === 'string' &&
                Object.prototype.hasOwnProperty.call(handlers, data.type) ? handlers[data.type] : null;
            if (!handler || !only_keys(data, handler.keys)) {
                return ignore('unknown shape', event);
            }
            Promise.resolve(handler.run(data)).then(function (ok) {
                if (ok === false) {
                    ignore('malformed ' + data.type, event);
                }
            });
        });
    };

    /**
     * Whether the embedding page may hear from us. When not, say so once, and
     * listen anyway, so that its messages are logged (once) as ignored.
     */
    var permitted = function (origin, allowed) {
        if (origin && allowed.indexOf(origin) !== -1) {
            return true;
        }
        console.warn('nbext_pkg: the embedding page\'s origin', origin,
                     'is not in embed_origins; nothing is sent to it and its messages are ignored');
        listen(null, {});
        return false;
    };

    /** Resolves to whether `name` is absent, or a non-empty string naming an installed kernelspec. */
    var kernel_name_ok = function (base_url, data) {
        if (!Object.prototype.hasOwnProperty.call(data, 'kernel_name')) {
            return Promise.resolve(true);
        }
        var name = data.kernel_name;
        if (typeof name !== 'string' || name === '') {
            return Promise.resolve(false);
        }
        return flow.kernelspecs(base_url).then(function (specs) {
            return Object.prototype.hasOwnProperty.call((specs || {}).kernelspecs || {}, name);
        }, function () {
            return false;
        });
    };

    /** A New notebook request from the parent: checked, one at a time, in this frame. */
    var new_notebook_handler = function (base_url, options_for) {
        var busy = false;
        return {
            keys: ['type', 'kernel_name'],
            run: function (data) {
                if (busy) {
                    return true; // one is already on its way; the frame will navigate
                }
                return kernel_name_ok(base_url, data).then(function (ok) {
                    if (!ok || busy) {
                        return ok;
                    }
                    busy = true;
                    var options = options_for(data.kernel_name);
                    options.target = '_self';
                    return flow.new_notebook(options).then(function (result) {
                        if (result.error !== undefined) {
                            busy = false;
                        }
                        return true;
                    });
                });
            }
        };
    };

    /**
     * In a frame whose parent's origin is allowed, call `start(origin)`; resolves
     * to that origin, or null (not framed, or not allowed: then only listened to).
     */
    var when_allowed = function (base_url, start) {
        if (!framed()) {
            return Promise.resolve(null);
        }
        var origin = parent_origin();
        return allowed_origins(base_url).then(function (allowed) {
            if (!permitted(origin, allowed)) {
                return null;
            }
            start(origin);
            return origin;
        });
    };

    /** Notebook page: report the session to the parent and answer it. */
    var start_notebook = function (notebook) {
        return when_allowed(notebook.base_url, function (origin) {
            var post = function () {
                var v = session_info.collect(notebook);
                window.parent.postMessage({
                    type: SESSION,
                    path: v.path,
                    session_id: v.session_id,
                    kernel_id: v.kernel_id,
                    kernel_name: v.kernel_name,
                    execution_state: v.execution_state
                }, origin);
                return JSON.stringify(v);
            };
            var ready = false;
            var last = null;
            var timer = null;
            var forced = false;
            var flush = function () {
                timer = null;
                var now = JSON.stringify(session_info.collect(notebook));
                if (forced || now !== last) {
                    last = post();
                }
                forced = false;
            };
            var schedule = function (force) {
                if (!ready) {
                    return;
                }
                forced = forced || !!force;
                if (timer === null) {
                    timer = setTimeout(flush, COALESCE_MS);
                }
            };
            var kernel = notebook.kernel;
            var became_ready = function () {
                ready = true;
                schedule(true);
            };
            notebook.events.on('kernel_ready.Kernel', became_ready);
            notebook.events.on('kernel_created.Session notebook_renamed.Notebook', function () {
                schedule(true);
            });
            notebook.events.on(session_info.STATE_EVENT_NAMES, function () {
                schedule(false);
            });
            if (kernel && kernel.info_reply && kernel.is_connected && kernel.is_connected()) {
                // Ready before this module loaded: its events are gone, so the first
                // report waits for the state the server has.
                session_info.learn_state(notebook).then(became_ready, became_ready);
            }
            var handlers = {};
            handlers[GET_SESSION] = {
                keys: ['type'],
                run: function () {
                    last = post();
                    return true;
                }
            };
            handlers[NEW_NOTEBOOK] = new_notebook_handler(notebook.base_url, function (kernel_name) {
                return {
                    base_url: notebook.base_url,
                    contents: notebook.contents,
                    dir_path: utils.url_path_split(notebook.notebook_path)[0],
                    kernel_name: kernel_name || flow.current_kernel_name(notebook) || '',
                    notebook: notebook,
                    keyboard_manager: notebook.keyboard_manager
                };
            });
            listen(origin, handlers);
        });
    };

    /** Tree page: report the folder shown and accept New notebook requests. */
    var start_tree = function (notebook_list, base_url) {
        return when_allowed(base_url, function (origin) {
            var last = null;
            var report = function () {
                var path = notebook_list.notebook_path || '';
                if (path !== last) {
                    last = path;
                    window.parent.postMessage({type: TREE, path: path}, origin);
                }
            };
            events.on('draw_notebook_list.NotebookList', report);
            report();
            var handlers = {};
            handlers[NEW_NOTEBOOK] = new_notebook_handler(base_url, function (kernel_name) {
                return {
                    base_url: base_url,
                    contents: notebook_list.contents,
                    dir_path: notebook_list.notebook_path || '',
                    kernel_name: kernel_name || ''
                };
            });
            listen(origin, handlers);
        });
    };

    return {start_notebook: start_notebook, start_tree: start_tree};
});
