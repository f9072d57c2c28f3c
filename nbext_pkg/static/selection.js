// nbext_pkg, tree page: what to do with the items ticked in the list.
//
// Three buttons join the tree page's own ones for a selection (Duplicate, Rename,
// ... Delete), and show when they apply, as those do:
//   - Download bundle (#nbext_pkg-bundle-selection): one archive of every ticked file,
//     folder and notebook, through a hidden frame (download.js; a form POST, so that
//     hundreds of names never meet a URL's limit, with the page's _xsrf token);
//   - Save bundle here (#nbext_pkg-save-selection): the same archive written into this
//     folder on the server, under a free name; the list then shows it;
//   - Open bundle (#nbext_pkg-open-bundle), for one ticked .zip, .tar or .tar.gz: the
//     server unpacks it into a new folder beside it, then its notebook opens when it
//     holds exactly one (in the window opened at the click, which popup blockers
//     allow), else the folder is shown; members that do not match the bundle's manifest
//     are listed in a dialog first.
define([
    'jquery',
    'base/js/utils',
    'base/js/dialog',
    './download',
    './new_notebook',
    './settings',
    './i18n'
], function ($, utils, dialog, download_frame, flow, settings, i18n) {
    "use strict";

    var ARCHIVE = /\.(zip|tar|tar\.gz|tgz)$/i;

    var button = function (id, label, title) {
        return $('<button/>')
            .attr({id: id, type: 'button', title: title, 'aria-label': title, 'data-nbext-pkg': id})
            .addClass('btn btn-default btn-xs nbext_pkg-selection-button')
            .css('display', 'none')
            .text(label);
    };

    var status_line = function () {
        var found = $('#nbext_pkg-selection-status');
        if (!found.length) {
            found = $('<span/>').attr({id: 'nbext_pkg-selection-status', role: 'status'})
                .addClass('nbext_pkg-selection-status text-muted');
            $('.dynamic-buttons').append(found);
        }
        return found;
    };

    var say = function (text, for_ms) {
        var line = status_line().text(text);
        clearTimeout(say.timer);
        if (for_ms) {
            say.timer = setTimeout(function () { line.text(''); }, for_ms);
        }
    };

    var failed = function (title, message) {
        dialog.modal({
            title: title,
            body: $('<p/>').text(message),
            buttons: {}
        }).attr('id', 'nbext_pkg-selection-failed');
    };

    var start = function (notebook_list, base_url, loaded) {
        var prefs = settings.DEFAULTS;
        Promise.resolve(loaded).then(function (found) { prefs = found || prefs; });
        var download = button('nbext_pkg-bundle-selection', i18n.t('Download bundle'),
                              i18n.t('Download the ticked files, folders and notebooks as one bundle'));
        var save = button('nbext_pkg-save-selection', i18n.t('Save bundle here'),
                          i18n.t('Save a bundle of the ticked items into this folder'));
        var open = button('nbext_pkg-open-bundle', i18n.t('Open bundle'), i18n.t('Unpack the ticked archive into a new folder beside it'));
        var anchor = $('.dynamic-buttons .delete-button');
        if (anchor.length) {
            anchor.before(download, save, open);
        } else {
            $('.dynamic-buttons').append(download, save, open);
        }

        var ticked = function () {
            return (notebook_list.selected || []).slice();
        };
        var update = function () {
            var items = ticked();
            var shown = items.length > 0 ? 'inline-block' : 'none';
            download.css('display', shown);
            save.css('display', shown);
            var one_archive = items.length === 1 && items[0].type === 'file' && ARCHIVE.test(items[0].name);
            open.css('display', one_archive ? 'inline-block' : 'none');
        };
        // The list calls this on every tick and every reload; the page's own buttons follow it.
        var original = notebook_list._selection_changed;
        notebook_list._selection_changed = function () {
            var result = original.apply(this, arguments);
            update();
            return result;
        };
        update();

        var fields = function (extra) {
            var chosen = settings.for_bundle(prefs, {metadata: {}});
            var out = {
                folder: notebook_list.notebook_path || '',
                names: JSON.stringify(ticked().map(function (item) { return item.name; })),
                format: chosen.bundle_format,
                html: chosen.bundle_html ? '1' : '0',
                requirements: chosen.bundle_requirements ? '1' : '0'
            };
            Object.keys(extra || {}).forEach(function (key) { out[key] = extra[key]; });
            return out;
        };
        var route = function () {
            return utils.url_path_join(base_url, 'nbext_pkg', 'selection');
        };

        download.on('click', function (event) {
            event.preventDefault();
            say(i18n.t('Preparing bundle\u2026'));
            download_frame.start({
                base_url: base_url,
                url: route(),
                fields: fields(),
                kind: 'selection-download',
                on_started: function () { say(i18n.t('Bundle download started'), 4000); },
                on_given_up: function () { say(''); },
                on_failed: function (message) {
                    say('');
                    failed(i18n.t('The bundle could not be made'), message || i18n.t('The bundle could not be made'));
                }
            });
        });

        save.on('click', function (event) {
            event.preventDefault();
            say(i18n.t('Saving bundle\u2026'));
            utils.promising_ajax(route(), {type: 'POST', dataType: 'json', data: fields({save: '1'})})
                .then(function (answer) {
                    say(i18n.t('Bundle saved as %1', answer.name), 8000);
                    $('body').attr('data-nbext-pkg-saved', answer.path);
                    notebook_list.load_list();
                }, function (error) {
                    say('');
                    failed(i18n.t('The bundle could not be saved'), flow.server_message(error));
                });
        });

        open.on('click', function (event) {
            event.preventDefault();
            var items = ticked();
            if (items.length !== 1) {
                return;
            }
            var item = items[0];
            // Opened now, inside the click: a window opened once the answer is in is blocked.
            var win = window.open('', '_blank');
            say(i18n.t('Opening %1\u2026', item.name));
            var url = utils.url_path_join(base_url, 'nbext_pkg', 'open', utils.encode_uri_components(item.path));
            utils.promising_ajax(url, {type: 'POST', dataType: 'json'}).then(function (answer) {
                say(i18n.t('Opened into %1', answer.name), 8000);
                $('body').attr('data-nbext-pkg-opened', answer.path);
                notebook_list.load_list();
                var folder_url = utils.url_path_join(base_url, document.nbclassicPath || '', 'tree',
                                                     utils.encode_uri_components(answer.path));
                var one = answer.notebooks.length === 1 ? answer.notebooks[0] : null;
                var go = function () {
                    if (one && win) {
                        win.location.href = flow.notebook_url(base_url, one);
                    } else {
                        if (win) {
                            win.close();
                        }
                        window.location.href = folder_url;
                    }
                };
                if (answer.mismatches.length || answer.left_out.length) {
                    report(answer, go, win);
                } else {
                    go();
                }
            }, function (error) {
                if (win) {
                    win.close();
                }
                say('');
                failed(i18n.t('The archive could not be opened'), flow.server_message(error));
            });
        });
    };

    /** What did not match the bundle's manifest (and what hidden members stayed out), before
     * the notebook or folder is shown. */
    var report = function (answer, go, win) {
        var body = $('<div/>');
        if (answer.mismatches.length) {
            body.append($('<p/>').text(i18n.t("These members do not match the bundle's manifest:")));
            var list = $('<ul/>').addClass('nbext_pkg-mismatches');
            answer.mismatches.forEach(function (line) { list.append($('<li/>').text(line)); });
            body.append(list);
        }
        if (answer.left_out.length) {
            body.append($('<p/>').text(i18n.t('Left out:')));
            var left = $('<ul/>').addClass('nbext_pkg-left-out');
            answer.left_out.forEach(function (item) {
                left.append($('<li/>').text(item.member + ' (' + item.reason + ')'));
            });
            body.append(left);
        }
        var shown = false;
        var buttons = {};
        buttons[i18n.t('Show it')] = {class: 'btn-primary', click: function () {
            shown = true;
            go();
        }};
        buttons[i18n.t('Close')] = {};
        dialog.modal({
            title: i18n.t('Opened into %1', answer.name),
            body: body,
            buttons: buttons
        }).attr('id', 'nbext_pkg-opened-report').on('hidden.bs.modal', function () {
            // However the dialog went (Close, the x, Escape, a click beside it), the window
            // opened at the click goes too unless the notebook is shown in it.
            if (!shown && win) {
                win.close();
            }
        });
    };

    return {start: start};
});
