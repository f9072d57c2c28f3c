// nbext_pkg: the Session info dialog of the notebook page.
//
// Every value is read from the live page objects (Jupyter.notebook.session,
// .kernel) when the dialog opens and again whenever the kernel or session
// changes while it is open, so a restart or a kernel change shows at once.
define([
    'jquery',
    'base/js/utils',
    'base/js/dialog',
    './i18n'
], function ($, utils, dialog, i18n) {
    "use strict";

    var FIELDS = [
        'path', 'session_id', 'kernel_id', 'kernel_name', 'display_name',
        'execution_state', 'connection_file', 'console'
    ];

    // Each field's label, written out so the catalogue script finds every string.
    var label = function (field) {
        return {
            path: i18n.t('Notebook path'),
            session_id: i18n.t('Session id'),
            kernel_id: i18n.t('Kernel id'),
            kernel_name: i18n.t('Kernel name'),
            display_name: i18n.t('Kernel display name'),
            execution_state: i18n.t('Execution state'),
            connection_file: i18n.t('Connection file'),
            console: i18n.t('Console command')
        }[field];
    };

    // The kernel's execution state as the page's events report it, per
    // kernel id; the server is asked only for a kernel we have not heard from.
    var states = {};
    var STATE_EVENTS = {
        'kernel_starting.Kernel': 'starting',
        'kernel_restarting.Kernel': 'restarting',
        'kernel_autorestarting.Kernel': 'restarting',
        'kernel_ready.Kernel': 'idle',
        'kernel_idle.Kernel': 'idle',
        'kernel_busy.Kernel': 'busy',
        'kernel_dead.Kernel': 'dead',
        'kernel_killed.Session': 'dead',
        'kernel_disconnected.Kernel': 'disconnected'
    };
    var REFRESH_EVENTS = Object.keys(STATE_EVENTS).concat([
        'kernel_created.Session', 'kernel_connected.Kernel',
        'kernel_dead.Session', 'notebook_renamed.Notebook', 'spec_changed.Kernel'
    ]).join(' ');

    var watch = function (events) {
        Object.keys(STATE_EVENTS).forEach(function (name) {
            events.on(name, function (event, data) {
                var kernel = data && data.kernel;
                if (kernel && kernel.id) {
                    states[kernel.id] = STATE_EVENTS[name];
                }
            });
        });
    };

    var display_name = function (notebook, kernel_name) {
        var specs = (notebook.kernel_selector && notebook.kernel_selector.kernelspecs) || {};
        if (specs[kernel_name]) {
            return specs[kernel_name].spec.display_name;
        }
        var meta = notebook.metadata.kernelspec;
        return meta && meta.name === kernel_name ? meta.display_name : null;
    };

    /** The values the dialog shows; null where there is no session or kernel. */
    var collect = function (notebook) {
        var session = notebook.session;
        var kernel = notebook.kernel || (session && session.kernel);
        var kernel_id = kernel ? kernel.id : null;
        var connection_file = kernel_id ? 'kernel-' + kernel_id + '.json' : null;
        return {
            path: notebook.notebook_path,
            session_id: session ? session.id : null,
            kernel_id: kernel_id,
            kernel_name: kernel ? kernel.name : null,
            display_name: kernel ? display_name(notebook, kernel.name) : null,
            execution_state: kernel_id ? (states[kernel_id] || null) : null,
            connection_file: connection_file,
            console: connection_file ? 'jupyter console --existing ' + connection_file : null
        };
    };

    var copy_text = function (text) {
        if (navigator.clipboard && window.isSecureContext) {
            return navigator.clipboard.writeText(text);
        }
        // Plain http on a host name is not a secure context: the old way.
        return new Promise(function (resolve, reject) {
            var area = $('<textarea/>').val(text).css({position: 'fixed', opacity: 0}).appendTo('body');
            area[0].select();
            var ok = document.execCommand('copy');
            area.remove();
            if (ok) {
                resolve();
            } else {
                reject(new Error('copy refused'));
            }
        });
    };

    var build_table = function () {
        var table = $('<table/>').addClass('table table-condensed nbext_pkg-session-table');
        FIELDS.forEach(function (field) {
            var row = $('<tr/>').attr('data-field', field).appendTo(table);
            $('<th/>').text(label(field)).appendTo(row);
            $('<td/>').append($('<code/>').addClass('nbext_pkg-value')).appendTo(row);
            var copy = $('<button/>')
                .attr({type: 'button', title: i18n.t('Copy'), 'aria-label': i18n.t('Copy') + ': ' + label(field)})
                .addClass('btn btn-default btn-xs nbext_pkg-copy')
                .append($('<i/>').addClass('fa fa-clipboard'));
            $('<td/>').append(copy).appendTo(row);
            copy.on('click', function () {
                var value = row.find('.nbext_pkg-value').text();
                copy_text(value).then(function () {
                    copy.attr('title', i18n.t('Copied')).addClass('nbext_pkg-copied');
                }).catch(function () {
                    copy.attr('title', i18n.t('Could not copy: select the text and copy it by hand.')).addClass('nbext_pkg-copy-failed');
                });
            });
        });
        return table;
    };

    var render = function (body, values) {
        FIELDS.forEach(function (field) {
            var row = body.find('tr[data-field="' + field + '"]');
            var value = values[field];
            row.find('.nbext_pkg-value').text(value === null ? '' : value);
            row.find('.nbext_pkg-copy').prop('disabled', value === null);
            row.toggleClass('nbext_pkg-empty', value === null);
        });
        // A shut-down kernel keeps its ids in the page; say it is not running.
        body.find('.nbext_pkg-no-kernel').toggle(
            values.kernel_id === null || values.execution_state === 'dead');
    };

    /**
     * The kernel's state as the server has it, for a kernel this page has heard nothing
     * from (its module loaded after the kernel's last event); resolves once `collect`
     * has it, or null when there is no kernel.
     */
    var learn_state = function (notebook) {
        var kernel = notebook.kernel;
        if (!kernel || !kernel.id || states[kernel.id]) {
            return Promise.resolve(kernel && kernel.id ? states[kernel.id] : null);
        }
        var url = utils.url_path_join(notebook.base_url, 'api/kernels',
            encodeURIComponent(kernel.id));
        return utils.promising_ajax(url, {dataType: 'json', cache: false}).then(function (model) {
            if (!states[model.id]) {
                states[model.id] = model.execution_state;
            }
            return states[model.id];
        });
    };

    var ask_state = function (notebook, body) {
        var kernel = notebook.kernel;
        if (!kernel || !kernel.id || states[kernel.id]) {
            return;
        }
        learn_state(notebook).then(function () {
            render(body, collect(notebook));
        }).catch(function () {
            body.find('tr[data-field="execution_state"] .nbext_pkg-value').text(i18n.t('unknown'));
        });
    };

    /** Open the dialog for `notebook`; it follows the session while open. */
    var show = function (notebook, keyboard_manager) {
        var body = $('<div/>').addClass('nbext_pkg-session-info')
            .append($('<p/>').addClass('alert alert-warning nbext_pkg-no-kernel').text(i18n.t('This notebook has no running kernel. Start one from the Kernel menu.')))
            .append(build_table());
        var refresh = function () {
            render(body, collect(notebook));
            ask_state(notebook, body);
        };
        refresh();
        var buttons = {};
        buttons[i18n.t('Close')] = {'class': 'btn-primary', id: 'nbext_pkg-session-info-close'};
        var modal = dialog.modal({
            notebook: notebook,
            keyboard_manager: keyboard_manager,
            title: i18n.t('Session info'),
            body: body,
            buttons: buttons
        }).attr('id', 'nbext_pkg-session-info-dialog');
        notebook.events.on(REFRESH_EVENTS, refresh);
        modal.on('hidden.bs.modal', function () {
            notebook.events.off(REFRESH_EVENTS, refresh);
        });
        return modal;
    };

    return {
        show: show,
        watch: watch,
        collect: collect,
        learn_state: learn_state,
        FIELDS: FIELDS,
        STATE_EVENT_NAMES: Object.keys(STATE_EVENTS).join(' ')
    };
});
