// nbext_pkg: File > Download as > Notebook bundle, through nbext_pkg's own route.
//
// The stock menu item points at <base_url>/bundle/<path>, whose handler
// decodes the path twice (a folder named "%41" becomes "A": 404), and which
// nbclassic does not serve at all. The entry stays where the notebook put it;
// a click on it is taken over, before the stock handler sees it, and goes to
// <base_url>/nbext_pkg/bundle/<path>?format=zip, after saving unsaved changes
// as the stock menu does.
define([
    'base/js/namespace',
    'base/js/utils',
    './self_check',
    './settings',
    './i18n'
], function (Jupyter, utils, self_check, settings, i18n) {
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

    var download = function (notebook, prefs) {
        var win = window.open('', Jupyter._target || '_blank');
        var go = function () { win.location = bundle_url(notebook, prefs); };
        if (notebook.dirty && notebook.writable) {
            notebook.save_notebook().then(go).catch(function () { win.close(); });
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
            if (missing) {
                self_check.explain(notebook.keyboard_manager);
            } else {
                download(notebook, prefs);
            }
        }, true);
    };

    return {wire: wire, bundle_url: bundle_url};
});
