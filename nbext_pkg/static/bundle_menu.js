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
    'base/js/utils'
], function (Jupyter, utils) {
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

    /** Take over clicks on our bundler's entry in `menu` (the Download as list). */
    var wire = function (notebook, menu) {
        if (!menu) {
            return;
        }
        menu.addEventListener('click', function (event) {
            var link = event.target.closest('a');
            var bundlers = (notebook.config.data || {}).bundlerextensions || {};
            var ours = bundlers[BUNDLER_ID];
            if (!link || !ours || link.textContent !== ours.label) {
                return;
            }
            event.preventDefault();
            event.stopPropagation();
            download(notebook);
        }, true);
    };

    return {wire: wire, bundle_url: bundle_url};
});
