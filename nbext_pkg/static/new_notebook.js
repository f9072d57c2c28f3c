// nbext_pkg: the New notebook flow, shared by the tree page and the notebook page.
//
// The stock New menu creates the notebook, opens its page, and only then does
// the page ask for a kernel, so page load and kernel start happen one after
// the other. Here the session is requested as soon as the notebook exists,
// and the page is opened once the server has answered that request: the page
// then finds the session (and its kernel) already starting. Waiting for the
// answer matters: the server checks for an existing session and creates one
// in two steps, so a page that asked in between would start a second kernel.
define([
    'jquery',
    'base/js/namespace',
    'base/js/utils',
    'base/js/dialog',
    './i18n',
    './self_check'
], function ($, Jupyter, utils, dialog, i18n, self_check) {
    "use strict";

    // The server's own sentence for a failed request. utils.ajax_error_msg
    // prefers the whole traceback; a person wants one line. For an exception
    // that is not an HTTPError (a kernel that cannot start), notebook 6 says
    // only "Unhandled error", and the traceback's last line names the cause.
    var server_message = function (error) {
        var xhr = error && error.xhr;
        var body = (xhr && xhr.responseJSON) || {};
        var trace = (body.traceback || '').trim().split('\n');
        var cause = trace[trace.length - 1];
        if (body.message && (body.message !== 'Unhandled error' || !cause)) {
            return body.message;
        }
        if (cause) {
            return cause;
        }
        if (xhr && xhr.status) {
            return xhr.status + ' ' + (xhr.statusText || '');
        }
        return String((error && error.message) || error);
    };

    var notebook_url = function (base_url, path) {
        // nbclassic serves its pages under a prefix when Notebook 7 owns /tree.
        return utils.url_path_join(
            base_url, document.nbclassicPath || '', 'notebooks',
            utils.encode_uri_components(path)
        );
    };

    var kernelspecs = function (base_url) {
        return utils.promising_ajax(utils.url_path_join(base_url, 'api/kernelspecs'), {
            dataType: 'json',
            cache: false
        });
    };

    // The session, through nbext_pkg's route, which gives the notebook a warm kernel when
    // the server keeps some (c.NbextPkg.kernel_pool) and otherwise does what POST
    // /api/sessions does; where the server part is not running, the stock route. The name is
    // the notebook's, as the notebook page's own request gives it (jupyter_server makes the
    // kernel's JPY_SESSION_NAME of it).
    var start_session = function (base_url, path, kernel_name) {
        var model = {path: path, type: 'notebook', name: path.split('/').pop(), kernel: {}};
        if (kernel_name) {
            model.kernel.name = kernel_name;
        }
        var post = function (route) {
            return utils.promising_ajax(utils.url_path_join(base_url, route), {
                type: 'POST',
                processData: false,
                cache: false,
                data: JSON.stringify(model),
                contentType: 'application/json',
                dataType: 'json'
            });
        };
        // The page asked at load whether the server part runs; that answer is reused.
        return self_check.server_part(base_url).then(function (present) {
            return post(present ? 'nbext_pkg/api/sessions' : 'api/sessions');
        });
    };

    var alert_box = function (text) {
        return $('<div/>').addClass('alert alert-danger nbext_pkg-server-message').text(text);
    };

    var close_button = function () {
        var buttons = {};
        buttons[i18n.t('Close')] = {'class': 'btn-primary', id: 'nbext_pkg-dialog-close'};
        return buttons;
    };

    var show_create_failed = function (options, error) {
        dialog.modal({
            notebook: options.notebook,
            keyboard_manager: options.keyboard_manager,
            title: i18n.t('Creating the notebook failed'),
            body: $('<div/>').addClass('nbext_pkg-error nbext_pkg-create-failed')
                .append($('<p/>').text(i18n.t('No notebook could be created in \u201c%1\u201d. The server said:', '/' + (options.dir_path || ''))))
                .append(alert_box(server_message(error))),
            buttons: close_button()
        }).attr('id', 'nbext_pkg-error-dialog');
    };

    var show_kernel_failed = function (options, model, kernel_name, error) {
        var buttons = {};
        buttons[i18n.t('Open the notebook')] = {
            id: 'nbext_pkg-open-anyway',
            click: function () {
                window.open(notebook_url(options.base_url, model.path),
                    options.target || Jupyter._target || '_blank');
            }
        };
        $.extend(buttons, close_button());
        dialog.modal({
            notebook: options.notebook,
            keyboard_manager: options.keyboard_manager,
            title: i18n.t('The kernel did not start'),
            body: $('<div/>').addClass('nbext_pkg-error nbext_pkg-kernel-failed')
                .append($('<p/>').text(i18n.t('The notebook \u201c%1\u201d was created and saved, but its kernel \u201c%2\u201d could not start. The server said:', model.path,
                    kernel_name || i18n.t('(default)'))))
                .append(alert_box(server_message(error)))
                .append($('<p/>').text(i18n.t('You can open the notebook and pick another kernel from its Kernel menu.'))),
            buttons: buttons
        }).attr('id', 'nbext_pkg-error-dialog');
    };

    /**
     * Create an untitled notebook in `dir_path`, start its session, then open it.
     *
     * options: base_url, contents (the page's contents service), dir_path,
     * kernel_name (empty for the server's default), target (window name;
     * defaults to the page's own Jupyter._target), and notebook /
     * keyboard_manager when called from a notebook page, so dialogs suspend
     * its shortcuts.
     *
     * Resolves, never rejects: {notebook, session} on success, or
     * {notebook, error} / {error} once the failure has been shown in a dialog.
     */
    var new_notebook = function (options) {
        var target = options.target || Jupyter._target || '_blank';
        // Open the window now, inside the click, or popup blockers step in.
        var win = target === '_self' ? null : window.open('', target);
        var created = null;
        var go = function (url) {
            if (win) {
                win.location = url;
                return null;
            }
            // Leaving this very page: its unsaved changes are saved first (a
            // leave-page prompt may not even show, e.g. in a frame never clicked).
            var notebook = options.notebook;
            if (notebook && notebook.dirty && notebook.writable) {
                return notebook.save_notebook().then(function () {
                    window.location.href = url;
                });
            }
            window.location.href = url;
            return null;
        };
        return options.contents.new_untitled(options.dir_path || '', {type: 'notebook'})
            .then(function (model) {
                created = model;
                return start_session(options.base_url, model.path, options.kernel_name);
            })
            .then(function (session) {
                // The kernel's name goes in the URL, as the stock New menu puts it: a page
                // that finds its session before it knows the kernelspecs would otherwise
                // "change" to the kernel it has once they come, and start another.
                var url = notebook_url(options.base_url, created.path);
                var kernel_name = session && session.kernel && session.kernel.name;
                if (kernel_name) {
                    url += '?kernel_name=' + encodeURIComponent(kernel_name);
                }
                return Promise.resolve(go(url)).then(function () {
                    return {notebook: created, session: session};
                });
            })
            .catch(function (error) {
                if (win) {
                    win.close();
                }
                if (created === null) {
                    show_create_failed(options, error);
                } else {
                    show_kernel_failed(options, created, options.kernel_name, error);
                }
                return {notebook: created, error: server_message(error)};
            });
    };

    /** The kernel a notebook page runs, or the one its metadata names. */
    var current_kernel_name = function (notebook) {
        if (notebook.kernel && notebook.kernel.name) {
            return notebook.kernel.name;
        }
        var spec = notebook.metadata.kernelspec;
        return spec ? spec.name : null;
    };

    return {
        new_notebook: new_notebook,
        current_kernel_name: current_kernel_name,
        kernelspecs: kernelspecs,
        notebook_url: notebook_url,
        server_message: server_message
    };
});
