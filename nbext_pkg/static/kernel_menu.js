// nbext_pkg, tree page: the New notebook button and its kernel menu. The menu lists
// the installed kernels, the server's default first; the kernel picked there is
// used for that notebook and remembered (local storage) for the button.
define([
    'jquery',
    './new_notebook',
    './i18n',
    './names'
], function ($, flow, i18n, names) {
    "use strict";

    var LAST_KERNEL_KEY = names.last_kernel_key;

    // localStorage can be switched off or full; remembering is a nicety.
    var remembered = function () {
        try {
            return window.localStorage.getItem(LAST_KERNEL_KEY);
        } catch (e) {
            return null;
        }
    };
    var remember = function (name) {
        try {
            window.localStorage.setItem(LAST_KERNEL_KEY, name);
        } catch (e) {
            // Not fatal: the choice then lasts as long as the page.
        }
    };

    var build_group = function () {
        var group = $('<div/>').addClass('btn-group nbext_pkg-new-group');
        $('<button/>')
            .attr({id: 'nbext_pkg-new-notebook', type: 'button', title: i18n.t('Create a notebook in this folder and start its kernel right away')})
            .addClass('btn btn-default btn-xs')
            .append($('<i/>').addClass('fa fa-file-o'))
            .append($('<span/>').addClass('nbext_pkg-label').text(' ' + i18n.t('New notebook')))
            .appendTo(group);
        $('<button/>')
            .attr({
                id: 'nbext_pkg-kernel-toggle',
                type: 'button',
                title: i18n.t('Choose the kernel for New notebook'),
                'aria-label': i18n.t('Choose the kernel for New notebook'),
                'data-toggle': 'dropdown',
                'aria-haspopup': 'true'
            })
            .addClass('btn btn-default btn-xs dropdown-toggle')
            .append($('<span/>').addClass('caret'))
            .appendTo(group);
        $('<ul/>')
            .attr({id: 'nbext_pkg-kernel-menu', role: 'menu'})
            .addClass('dropdown-menu dropdown-menu-right')
            .appendTo(group);
        return group;
    };

    var sorted_specs = function (data) {
        // The server's default kernel first, then by display name.
        return Object.keys(data.kernelspecs).map(function (name) {
            return data.kernelspecs[name];
        }).sort(function (a, b) {
            if (a.name === data['default']) { return -1; }
            if (b.name === data['default']) { return 1; }
            return a.spec.display_name.localeCompare(b.spec.display_name);
        });
    };

    /**
     * Put the button and its menu before `anchor`. `loaded` resolves to the settings
     * (settings.js); `run(kernel_name)` makes the notebook.
     */
    var start = function (base_url, anchor, loaded, run) {
        var group = build_group();
        anchor.before(group);
        var menu = group.find('#nbext_pkg-kernel-menu');
        var button = group.find('#nbext_pkg-new-notebook');
        var state = {kernel: null, specs: {}};

        var choose = function (name) {
            state.kernel = name;
            var spec = state.specs[name];
            button.attr('title', spec ? i18n.t('Create a notebook with %1 and start its kernel right away', spec.spec.display_name)
                                      : i18n.t('Create a notebook in this folder and start its kernel right away'));
            button.attr('data-kernel-name', name || '');
            menu.find('li').removeClass('nbext_pkg-chosen');
            menu.find('li').filter(function () {
                return $(this).attr('data-kernel-name') === name;
            }).addClass('nbext_pkg-chosen');
        };

        button.on('click', function (event) {
            event.preventDefault();
            run(state.kernel);
        });

        Promise.all([flow.kernelspecs(base_url), loaded]).then(function (results) {
            var data = results[0];
            var prefs = results[1];
            sorted_specs(data).forEach(function (ks) {
                var label = ks.spec.display_name;
                var item = $('<li/>')
                    .attr({id: 'nbext_pkg-kernel-' + ks.name, 'data-kernel-name': ks.name, role: 'none'});
                var link = $('<a/>')
                    .attr({href: '#', role: 'menuitem', title: i18n.t('Create a notebook with %1 and start its kernel right away', label)})
                    .append($('<i/>').addClass('fa fa-check nbext_pkg-check'))
                    .append($('<span/>').text(' ' + label))
                    .appendTo(item);
                if (ks.name === data['default']) {
                    link.append($('<span/>').addClass('text-muted').text(' ' + i18n.t('(default)')));
                }
                link.on('click', function (event) {
                    event.preventDefault();
                    choose(ks.name);
                    if (prefs.remember_kernel) {
                        remember(ks.name);
                    }
                    run(ks.name);
                });
                menu.append(item);
            });
            state.specs = data.kernelspecs;
            // The kernel picked last time, then the configured default, then the server's.
            var last = prefs.remember_kernel ? remembered() : null;
            var configured = prefs.default_kernel;
            choose(last && state.specs[last] ? last :
                   configured && state.specs[configured] ? configured : data['default']);
        }).catch(function (error) {
            menu.append($('<li/>').addClass('disabled nbext_pkg-kernels-error').append(
                $('<a/>').attr('href', '#').text(i18n.t('The list of kernels could not be loaded: %1', flow.server_message(error)))
            ));
        });
    };

    return {start: start};
});
