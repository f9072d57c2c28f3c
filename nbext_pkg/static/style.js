// nbext_pkg: our stylesheet (main.css), added to the page by either page module.
define([
    'jquery',
    'require'
], function ($, require) {
    "use strict";

    var load_css = function () {
        $('<link/>').attr({
            rel: 'stylesheet',
            type: 'text/css',
            href: require.toUrl('./main.css')
        }).appendTo('head');
    };

    return {load_css: load_css};
});
