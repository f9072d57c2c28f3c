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
    './i18n'
], function (Jupyter, utils, self_check, i18n) {
    "use strict";

    var BUNDLER_ID = 'nbext_pkg_bundle';

    var bundle_url = function (notebook) {
        return utils.url_path_join(
            notebook.base_url, 'nbext_pkg', 'bundle',
            utils.encode_uri_components(notebook.notebook_path)
        ) + '?format=zip';
    };

    var download = function (notebook) {
        var win = window.open('', Jupyter._target || '_blank');
        var go = function () { win.location = bundle_url(notebook); };
        if (notebook.dirty && notebook.writable) {
            notebook.save_notebook().then(go).catch(function () { win.close(); });
        } else {
            go();
        }
    };

    var our_entry = function (notebook, link) {
        var bundlers = (notebook.config.data || {}).bundlerextensions || {};
        var ours = bundlers[BUNDLER_ID];
        return !!(link && ours && link.textContent === ours.label);
    };

    /**
     * Take over clicks on our bundler's entry in `menu` (the Download as list).
     * `present` resolves to whether our server part answers; when it does not,
     * the entry is greyed out and a click explains why instead of a 404.
     */
    var wire = function (notebook, menu, present) {
        if (!menu) {
            return;
        }
        var missing = false;
        Promise.resolve(present).then(function (ok) {
            missing = ok === false;
            if (!missing) {
                return;
            }
            notebook.config.loaded.then(function () {
                // The notebook adds the entry once its config is in: look after that.
                setTimeout(function () {
                    Array.prototype.forEach.call(menu.querySelectorAll('li > a'), function (link) {
                        if (our_entry(notebook, link)) {
                            link.parentNode.classList.add('disabled');
                            link.setAttribute('title', i18n.t('bundle_needs_server'));
                        }
                    });
                }, 0);
            });
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
                download(notebook);
            }
        }, true);
    };

    return {wire: wire, bundle_url: bundle_url};
});
