// nbext_pkg: File > Download as > Notebook bundle, through nbext_pkg's own route.
//
// The stock menu item points at <base_url>/bundle/<path>, whose handler
// decodes the path twice (a folder named "%41" becomes "A": 404), and which
// nbclassic does not serve at all. The entry stays where the notebook put it;
// a click on it is taken over, before the stock handler sees it, and goes to
// <base_url>/nbext_pkg/bundle/<path>?format=zip, after saving unsaved changes
// as the stock menu does.
//
// The download runs in a hidden frame of this page, so the notebook's own
// notification area can say "Preparing bundle..." while the server plans it
// (the HTML copy is rendered and the length computed before the first byte).
// The request carries a token that the server sends back as a cookie with the
// bundle's headers: when the cookie appears, the browser's own download has
// begun (with its total size: the response has a Content-Length). A failure
// before the first byte loads the server's JSON answer into the frame instead;
// its sentence is shown in a dialog.
define([
    'jquery',
    'base/js/namespace',
    'base/js/utils',
    'base/js/dialog',
    './self_check',
    './settings',
    './i18n'
], function ($, Jupyter, utils, dialog, self_check, settings, i18n) {
    "use strict";

    var BUNDLER_ID = 'nbext_pkg_bundle';

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
            notebook.base_url, 'nbext_pkg', 'bundle',
            utils.encode_uri_components(notebook.notebook_path)
        ) + query;
    };

    var COOKIE = 'nbext_pkg_download';
    var GIVE_UP_MS = 10 * 60 * 1000;

    var notice = function () {
        var area = Jupyter.notification_area;
        if (!area) {
            return null;
        }
        return area.widget('nbext_pkg') || area.new_notification_widget('nbext_pkg');
    };

    var cookie_holds = function (token) {
        return document.cookie.split(';').some(function (part) {
            return part.trim() === COOKIE + '=' + token;
        });
    };

    /** Take the cookie back: same name and path as the server gave it (its base URL,
     * already URL-encoded as the page has it; one that could end the attribute is left
     * to expire by itself, two minutes on). */
    var forget_cookie = function (notebook) {
        var path = utils.url_path_join(notebook.base_url, '/');
        if (/[;,\s]/.test(path)) {
            return;
        }
        document.cookie = COOKIE + '=; Max-Age=0; Path=' + path + '; SameSite=Strict';
    };

    /** What the server said in the frame's document (its JSON error), or null. */
    var sentence = function (frame) {
        try {
            var text = frame.contentDocument.body.textContent;
            var answer = JSON.parse(text);
            return answer.message || answer.reason || text;
        } catch (e) {
            return null;
        }
    };

    var failed = function (notebook, message) {
        dialog.modal({
            title: i18n.t('bundle_failed_title'),
            body: $('<p/>').text(message),
            keyboard_manager: notebook.keyboard_manager,
            notebook: notebook,
            buttons: {}
        }).attr('id', 'nbext_pkg-bundle-failed');
    };

    /** Download the bundle through a hidden frame, with the notification area saying
     * what happens until the browser's download begins. */
    var fetch_in_frame = function (notebook, prefs) {
        var token = Math.random().toString(36).slice(2, 12) + Date.now().toString(36);
        var widget = notice();
        if (widget) {
            widget.set_message(i18n.t('bundle_preparing'));
        }
        var frame = document.createElement('iframe');
        frame.style.display = 'none';
        frame.setAttribute('data-nbext-pkg', 'bundle-download');
        var started = Date.now();
        var settled = false;
        var settle = function () {
            settled = true;
            frame.setAttribute('data-nbext-pkg-settled', 'true');
            clearInterval(poll);
            forget_cookie(notebook);
        };
        var poll = setInterval(function () {
            if (settled) {
                return;
            }
            if (cookie_holds(token)) {
                settle();
                if (widget) {
                    widget.set_message(i18n.t('bundle_started'), 3000);
                }
            } else if (Date.now() - started > GIVE_UP_MS) {
                settle();
                if (widget) {
                    widget.hide();
                }
            }
        }, 200);
        // A download never loads a document into the frame: a load is the server's error.
        frame.addEventListener('load', function () {
            if (settled || cookie_holds(token)) {
                return;
            }
            var message = sentence(frame);
            settle();
            if (widget) {
                widget.hide();
            }
            failed(notebook, message || i18n.t('bundle_failed_title'));
        });
        // Frames of earlier downloads that have begun (the browser has them now) or failed.
        Array.prototype.forEach.call(
            document.querySelectorAll('iframe[data-nbext-pkg-settled]'),
            function (old) { old.parentNode.removeChild(old); });
        frame.src = bundle_url(notebook, prefs) + '&download_token=' + encodeURIComponent(token);
        document.body.appendChild(frame);
    };

    var download = function (notebook, prefs) {
        var go = function () { fetch_in_frame(notebook, prefs); };
        if (notebook.dirty && notebook.writable) {
            notebook.save_notebook().then(go).catch(function () {});
        } else {
            go();
        }
    };

    var our_entry = function (notebook, link) {
        if (!link) {
            return false;
        }
        if (link.getAttribute('data-nbext-pkg') === 'bundle') {
            return true;
        }
        var bundlers = (notebook.config.data || {}).bundlerextensions || {};
        var ours = bundlers[BUNDLER_ID];
        return !!(ours && link.textContent === ours.label);
    };

    /** Mark our entry (the notebook adds it once its config is in) and give it
     * the page's language: the registered label is English. */
    var label = function (notebook, menu) {
        return notebook.config.loaded.then(function () {
            return new Promise(function (resolve) {
                setTimeout(function () {
                    var found = null;
                    Array.prototype.forEach.call(menu.querySelectorAll('li > a'), function (link) {
                        if (our_entry(notebook, link)) {
                            link.setAttribute('data-nbext-pkg', 'bundle');
                            link.textContent = i18n.t('bundle_menu');
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
        var entry = label(notebook, menu);
        Promise.all([Promise.resolve(present), entry]).then(function (results) {
            missing = results[0] === false;
            var link = results[1];
            if (missing && link) {
                link.parentNode.classList.add('disabled');
                link.setAttribute('title', i18n.t('bundle_needs_server'));
            }
        });
        menu.addEventListener('click', function (event) {
            var link = event.target.closest('a');
            if (!our_entry(notebook, link)) {
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

    return {wire: wire, bundle_url: bundle_url};
});
