// nbext_pkg, notebook page: actions, toolbar buttons and menu items for
// New notebook, Session info and Save Bundle to This Folder. Registered as actions
// so users can bind keys to them (nbext_pkg:new-notebook,
// nbext_pkg:show-session-info, nbext_pkg:save-bundle-here).
define([
    'jquery',
    'base/js/namespace',
    'base/js/utils',
    './new_notebook',
    './session_info',
    './bundle_menu',
    './embed',
    './self_check',
    './settings',
    './i18n',
    './names',
    './style'
], function ($, Jupyter, utils, flow, session_info, bundle_menu, embed, self_check, settings,
             i18n, names, style) {
    "use strict";

    var PREFIX = names.action_prefix;

    var menu_item = function (id, text, action_name) {
        return $('<li/>').attr({id: id, role: 'none'}).append(
            $('<a/>').attr({href: '#', role: 'menuitem'}).text(text).on('click', function (event) {
                event.preventDefault();
                Jupyter.actions.call(action_name);
            })
        );
    };

    // New notebook opens the page with ?kernel_name= (new_notebook.js says why). Once
    // the page has read it, it leaves the address: a reload or a bookmark later must
    // take the kernel the notebook has then, not the one it was created with.
    var forget_kernel_name = function () {
        var url = new URL(window.location.href);
        if (url.searchParams.has('kernel_name')) {
            url.searchParams.delete('kernel_name');
            window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
        }
    };

    var load = function () {
        var notebook = Jupyter.notebook;
        if (!notebook || !Jupyter.actions) {
            return; // not the notebook page
        }
        if (notebook._fully_loaded) {
            forget_kernel_name();
        } else {
            notebook.events.one('notebook_loaded.Notebook', forget_kernel_name);
        }
        style.load_css();
        session_info.watch(notebook.events);
        var prefs = settings.DEFAULTS;
        var loaded = settings.load(notebook.base_url, 'notebook', notebook.config).then(function (found) {
            prefs = found;
            return found;
        });

        var new_action = Jupyter.actions.register({
            icon: 'fa-file-o',
            help: i18n.t("create a new notebook with this notebook's kernel, already started"),
            help_index: 'zz-nbext_pkg-1',
            handler: function () {
                return flow.new_notebook({
                    base_url: notebook.base_url,
                    contents: notebook.contents,
                    dir_path: utils.url_path_split(notebook.notebook_path)[0],
                    kernel_name: flow.current_kernel_name(notebook),
                    target: settings.target(prefs),
                    notebook: notebook,
                    keyboard_manager: notebook.keyboard_manager
                });
            }
        }, 'new-notebook', PREFIX);

        var info_action = Jupyter.actions.register({
            icon: 'fa-info-circle',
            help: i18n.t('show the session and kernel of this notebook'),
            help_index: 'zz-nbext_pkg-2',
            handler: function () {
                session_info.show(notebook, notebook.keyboard_manager);
            }
        }, 'show-session-info', PREFIX);

        var save_action = Jupyter.actions.register({
            icon: 'fa-archive',
            help: i18n.t("write this notebook's bundle into its folder on the server"),
            help_index: 'zz-nbext_pkg-3',
            handler: function () {
                loaded.then(function (found) { bundle_menu.save_here(notebook, found); });
            }
        }, 'save-bundle-here', PREFIX);

        Jupyter.toolbar.add_buttons_group([
            {action: new_action, id: 'nbext_pkg-new-notebook-button'},
            {action: info_action, id: 'nbext_pkg-session-info-button'}
        ], 'nbext_pkg-toolbar');

        $('#file_menu #new_notebook').after(
            menu_item('nbext_pkg-new-notebook-menu', i18n.t('New Notebook, Kernel Started'), new_action));
        // Without our server part (a server not restarted since the install) the
        // page says so, and the bundle entry explains itself instead of a 404.
        var present = self_check.run(notebook.base_url);
        bundle_menu.wire(notebook, document.getElementById('download_menu'), present, loaded);
        $('#file_menu #download_menu').parent().after(
            menu_item('nbext_pkg-save-bundle-menu', i18n.t('Save Bundle to This Folder'), save_action));

        $('#kernel_menu').append(
            $('<li/>').addClass('divider').attr('role', 'none'),
            menu_item('nbext_pkg-session-info-menu', i18n.t('Session Info...'), info_action));

        // In a frame whose parent is an allowed origin: report the session to it.
        embed.start_notebook(notebook);
    };

    return {load_ipython_extension: load};
});
