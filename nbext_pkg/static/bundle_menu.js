// nbext_pkg: File > Download as > Notebook bundle, through nbext_pkg's own route.
//
// The stock menu item points at <base_url>/bundle/<path>, whose handler
// decodes the path twice (a folder named "%41" becomes "A": 404), and which
// nbclassic does not serve at all. The entry stays where the notebook put it;
// a click on it is taken over, before the stock handler sees it, and goes to
// <base_url>/nbext_pkg/bundle/<path>?format=zip, after saving unsaved changes
// as the stock menu does. The entry is found once, by the bundler id the
// notebook's own click handler carries, and marked data-nbext-pkg="bundle"; its
// label names the format a click downloads (.zip, .tar or .tar.gz).
//
// The download runs in a hidden frame of this page (download.js), so the
// notebook's own notification area can say "Preparing bundle..." while the
// server plans it (the HTML copy is rendered and the length computed before the
// first byte), then "Bundle download started" (with its total size: the
// response has a Content-Length). A failure before the first byte is shown in a
// dialog with the server's sentence.
//
// File > Save Bundle to This Folder writes the same bundle beside the notebook
// on the server (POST nbext_pkg/save/<path>) and says where it went.
define([
    'jquery',
    'base/js/namespace',
    'base/js/utils',
    'base/js/dialog',
    './download',
    './new_notebook',
    './self_check',
    './settings',
    './i18n',
    './names'
], function ($, Jupyter, utils, dialog, download_frame, flow, self_check, settings, i18n, names) {
    "use strict";

    var BUNDLER_ID = names.bundler.id;

    /** Our route, with the bundle settings: `prefs` (nbconfig) under the notebook's metadata. */
    var bundle_url = function (notebook, prefs) {
        var chosen = settings.for_bundle(prefs || settings.DEFAULTS, notebook);
        var query = '?format=' + encodeURIComponent(chosen.bundle_format);
        if (!chosen.bundle_html) {
            query += '&html=0';
        }
        if (!chosen.bundle_requirements) {
            query += '&requirements=0';
        }
        return utils.url_path_join(
            notebook.base_url, names.routes.bundle,
            utils.encode_uri_components(notebook.notebook_path)
        ) + query;
    };

    var notice = function () {
        var area = Jupyter.notification_area;
        if (!area) {
            return null;
        }
        return area.widget('nbext_pkg') || area.new_notification_widget('nbext_pkg');
    };

    var failed = function (notebook, message) {
        dialog.modal({
            title: i18n.t('The bundle could not be made'),
            body: $('<p/>').text(message),
            keyboard_manager: notebook.keyboard_manager,
            notebook: notebook,
            buttons: {}
        }).attr('id', 'nbext_pkg-bundle-failed');
    };

    /** Download the bundle through a hidden frame (download.js), with the notification
     * area saying what happens until the browser's download begins. */
    var fetch_in_frame = function (notebook, prefs) {
        var widget = notice();
        if (widget) {
            widget.set_message(i18n.t('Preparing bundle\u2026'));
        }
        download_frame.start({
            base_url: notebook.base_url,
            url: bundle_url(notebook, prefs),
            on_started: function () {
                if (widget) {
                    widget.set_message(i18n.t('Bundle download started'), 3000);
                }
            },
            on_given_up: function () {
                if (widget) {
                    widget.hide();
                }
            },
            on_failed: function (message) {
                if (widget) {
                    widget.hide();
                }
                failed(notebook, message || i18n.t('The bundle could not be made'));
            }
        });
    };

    /** The bundle's choices as form fields: format, html, requirements. */
    var bundle_fields = function (chosen) {
        return {
            format: chosen.bundle_format,
            html: chosen.bundle_html ? '1' : '0',
            requirements: chosen.bundle_requirements ? '1' : '0'
        };
    };

    /** File > Save Bundle to This Folder: the bundle written beside the notebook on the
     * server, under a free name; the notification area says which. */
    var save_here = function (notebook, prefs) {
        var widget = notice();
        var go = function () {
            if (widget) {
                widget.set_message(i18n.t('Saving bundle\u2026'));
            }
            var url = utils.url_path_join(notebook.base_url, names.routes.save,
                                          utils.encode_uri_components(notebook.notebook_path));
            var chosen = settings.for_bundle(prefs || settings.DEFAULTS, notebook);
            return utils.promising_ajax(url, {
                type: 'POST', dataType: 'json', data: bundle_fields(chosen)
            }).then(function (answer) {
                if (widget) {
                    widget.set_message(i18n.t('Bundle saved as %1', answer.name), 5000);
                }
                $('body').attr('data-nbext-pkg-saved', answer.path);
                return answer;
            }, function (error) {
                if (widget) {
                    widget.hide();
                }
                dialog.modal({
                    title: i18n.t('The bundle could not be saved'),
                    body: $('<p/>').text(flow.server_message(error)),
                    keyboard_manager: notebook.keyboard_manager,
                    notebook: notebook,
                    buttons: {}
                }).attr('id', 'nbext_pkg-save-failed');
            });
        };
        if (notebook.dirty && notebook.writable) {
            return notebook.save_notebook().then(go).catch(function () {});
        }
        return go();
    };

    var download = function (notebook, prefs) {
        var go = function () { fetch_in_frame(notebook, prefs); };
        if (notebook.dirty && notebook.writable) {
            notebook.save_notebook().then(go).catch(function () {});
        } else {
            go();
        }
    };

    var our_entry = function (link) {
        return !!link && link.getAttribute('data-nbext-pkg') === 'bundle';
    };

    /** The bundler id behind an entry the notebook added to Download as, as its own click
     * handler gives it: the handler builds <base_url>/bundle/<path>?bundler=<id> and hands
     * it to the menu bar's _new_window, which is stood in for while it runs (nothing opens). */
    var bundler_of = function (link) {
        var menubar = Jupyter.menubar;
        if (!menubar || typeof menubar._new_window !== 'function') {
            return null;
        }
        var own = Object.prototype.hasOwnProperty.call(menubar, '_new_window') ? menubar._new_window : null;
        var url = null;
        menubar._new_window = function (given) { url = String(given); };
        try {
            $(link).triggerHandler('click');
        } catch (e) {
            url = null;
        } finally {
            if (own) {
                menubar._new_window = own;
            } else {
                delete menubar._new_window;
            }
        }
        var found = url && /[?&]bundler=([^&#]*)/.exec(url);
        return found ? decodeURIComponent(found[1]) : null;
    };

    /** The entry's text, in the page's language, with the format a click downloads. */
    var relabel = function (notebook, link, prefs) {
        var chosen = settings.for_bundle(prefs || settings.DEFAULTS, notebook);
        link.textContent = i18n.t('Notebook bundle (%1)', '.' + chosen.bundle_format);
    };

    /** Find our entry (the notebook adds it once its config is in) by its bundler id,
     * mark it data-nbext-pkg="bundle" once, and label it once the settings are in: the
     * registered label is English and names no format. */
    var label = function (notebook, menu, loaded_settings) {
        return Promise.all([notebook.config.loaded, loaded_settings]).then(function (results) {
            return new Promise(function (resolve) {
                setTimeout(function () {
                    var found = null;
                    // The notebook's bundler entries are the items it adds without an id.
                    Array.prototype.forEach.call(menu.querySelectorAll('li:not([id]) > a'), function (link) {
                        if (bundler_of(link) === BUNDLER_ID) {
                            link.setAttribute('data-nbext-pkg', 'bundle');
                            relabel(notebook, link, results[1]);
                            found = link;
                        }
                    });
                    resolve(found);
                }, 0);
            });
        });
    };

    /**
     * Take over clicks on our bundler's entry in `menu` (the Download as list).
     * `present` resolves to whether our server part answers; when it does not,
     * the entry is greyed out and a click explains why instead of a 404.
     */
    var wire = function (notebook, menu, present, loaded_settings) {
        if (!menu) {
            return;
        }
        var missing = false;
        var prefs = null;
        Promise.resolve(loaded_settings).then(function (found) {
            prefs = found || null;
        });
        var entry = label(notebook, menu, Promise.resolve(loaded_settings));
        Promise.all([Promise.resolve(present), entry]).then(function (results) {
            missing = results[0] === false;
            var link = results[1];
            if (missing && link) {
                link.parentNode.classList.add('disabled');
                link.setAttribute('title', i18n.t("Needs nbext_pkg's server part, which is not running: restart the server."));
            }
            if (link) {
                // The notebook's metadata can change the format: say it afresh as the menu opens.
                $(menu).closest('.dropdown').on('show.bs.dropdown', function () {
                    relabel(notebook, link, prefs);
                });
            }
        });
        menu.addEventListener('click', function (event) {
            var link = event.target.closest('a');
            if (!our_entry(link)) {
                return;
            }
            event.preventDefault();
            event.stopPropagation();
            // The menu's own handler does not see the click: close the menu as it would.
            $(link).closest('.dropdown.open').removeClass('open');
            if (missing) {
                self_check.explain(notebook.keyboard_manager);
            } else {
                download(notebook, prefs);
            }
        }, true);
    };

    return {wire: wire, bundle_url: bundle_url, save_here: save_here, bundle_fields: bundle_fields};
});
