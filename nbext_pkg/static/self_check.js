// nbext_pkg: is our server part there? The page modules load from the
// nbextensions folder even when the server was started before nbext_pkg was
// installed or enabled; then our routes answer 404. Say so once, at the top of
// the page, with what to do, instead of leaving a menu entry that leads to a 404.
define([
    'jquery',
    'base/js/utils',
    'base/js/dialog',
    './i18n'
], function ($, utils, dialog, i18n) {
    "use strict";

    var NOTICE_ID = 'nbext_pkg-server-missing';
    var checked = {};

    /** Resolves to true when GET <base_url>/nbext_pkg/api/status says it is us. */
    var server_part = function (base_url) {
        if (!checked[base_url]) {
            var url = utils.url_path_join(base_url, 'nbext_pkg', 'api', 'status');
            // utils' ajax sends the xsrf header: JupyterHub's single-user servers
            // refuse cookie-authenticated API calls without it, even GETs.
            checked[base_url] = utils.promising_ajax(url, {dataType: 'json', cache: false}).then(function (data) {
                return !!data && data.name === 'nbext_pkg';
            }, function () {
                return false;
            });
        }
        return checked[base_url];
    };

    var advice = function () {
        return $('<span/>')
            .append($('<span/>').text(i18n.t('This server was started before nbext_pkg was installed or enabled, so Download as > Notebook bundle cannot work yet; New notebook and Session info do. Restart the server (under JupyterHub: File > Hub Control Panel > Stop My Server, then start it again). If this notice stays, run') + ' '))
            .append($('<code/>').text('jupyter nbext_pkg doctor'))
            .append($('<span/>').text(' ' + i18n.t("in the server's Python environment: it says which part is off, and the command that fixes it.")));
    };

    /** The dismissable notice at the top of the page (once). */
    var show_notice = function () {
        if (document.getElementById(NOTICE_ID)) {
            return;
        }
        var box = $('<div/>')
            .attr({id: NOTICE_ID, role: 'alert'})
            .addClass('alert alert-warning nbext_pkg-notice');
        $('<button/>')
            .attr({type: 'button', id: 'nbext_pkg-notice-close', 'aria-label': i18n.t('Close'),
                   title: i18n.t('Close')})
            .addClass('close')
            .text('\u00d7')
            .on('click', function () {
                box.remove();
                $(window).trigger('resize'); // the notebook page sizes its body from the header
            })
            .appendTo(box);
        $('<strong/>').text(i18n.t("nbext_pkg's server part is not running.") + ' ').appendTo(box);
        advice().appendTo(box);
        $('#header').prepend(box);
        $(window).trigger('resize');
    };

    /** What a feature that needs the server part shows when it is missing. */
    var explain = function (keyboard_manager) {
        dialog.modal({
            title: i18n.t("nbext_pkg's server part is not running."),
            body: $('<p/>').append(advice()),
            keyboard_manager: keyboard_manager,
            buttons: {}
        }).attr('id', 'nbext_pkg-server-missing-dialog');
    };

    /** Check once per page; show the notice when the server part is missing. */
    var run = function (base_url) {
        return server_part(base_url).then(function (present) {
            if (!present) {
                show_notice();
            }
            return present;
        });
    };

    return {run: run, server_part: server_part, explain: explain};
});
