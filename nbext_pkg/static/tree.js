// nbext_pkg, tree page: only wires up the parts, each in its own module: the New
// notebook button and its kernel menu (kernel_menu.js, the flow itself in
// new_notebook.js), the selection's buttons (selection.js), the notice of a
// server not restarted (self_check.js), the warm-up (warm.js) and the embedding
// page (embed.js).
define([
    'jquery',
    'base/js/namespace',
    'base/js/utils',
    './new_notebook',
    './kernel_menu',
    './selection',
    './embed',
    './self_check',
    './settings',
    './style',
    './warm'
], function ($, Jupyter, utils, flow, kernel_menu, selection, embed, self_check, settings, style, warm) {
    "use strict";

    var load = function () {
        var notebook_list = Jupyter.notebook_list;
        if (!notebook_list) {
            return; // not the tree page
        }
        style.load_css();
        var base_url = utils.get_body_data('baseUrl');

        var prefs = settings.DEFAULTS;
        var loaded = settings.load(base_url, 'tree').then(function (found) {
            prefs = found;
            return found;
        });

        var run = function (kernel_name) {
            // Read the folder at click time: the page navigates without reloading.
            return flow.new_notebook({
                base_url: base_url,
                contents: notebook_list.contents,
                dir_path: notebook_list.notebook_path || '',
                kernel_name: kernel_name,
                target: settings.target(prefs)
            });
        };

        kernel_menu.start(base_url, $('#new-buttons'), loaded, run);

        // Download bundle, Save bundle here and Open bundle for the ticked items.
        selection.start(notebook_list, base_url, loaded);

        // A server not restarted since the install: say so at the top of the page. Where
        // the server part runs, warm the notebook page's files once this page is idle.
        self_check.run(base_url).then(function (present) {
            if (present) {
                warm.warm(base_url);
            }
        });

        // In a frame whose parent is an allowed origin: report the folder shown to it.
        embed.start_tree(notebook_list, base_url);
    };

    return {load_ipython_extension: load};
});
