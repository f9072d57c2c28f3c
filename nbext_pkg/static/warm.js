// nbext_pkg, tree page: while the page is idle, fetch the notebook page's static
// files into the browser's cache, so the first notebook opened from here does not
// wait for them (the notebook page's main script alone is about 3 MB).
//
// Only files the server lets browsers keep (their URLs carry ?v=<hash>, as the
// notebook page's own do) are asked for, at the browser's lowest priority
// (<link rel=prefetch>); the notebook page uses them exactly as before.
define(['base/js/utils'], function (utils) {
    "use strict";

    var later = window.requestIdleCallback || function (callback) {
        return setTimeout(callback, 1000);
    };

    var prefetch = function (urls) {
        urls.forEach(function (url) {
            var seen = Array.prototype.some.call(document.querySelectorAll('link[rel="prefetch"]'),
                function (link) { return link.getAttribute('href') === url; });
            if (!seen) {
                var link = document.createElement('link');
                link.rel = 'prefetch';
                link.href = url;
                link.setAttribute('data-nbext-pkg', 'warm');
                link.setAttribute('data-nbext-pkg-state', 'loading');
                link.onload = function () { link.setAttribute('data-nbext-pkg-state', 'loaded'); };
                link.onerror = function () { link.setAttribute('data-nbext-pkg-state', 'failed'); };
                document.head.appendChild(link);
            }
        });
    };

    /** Once the page is idle, warm the notebook page's files; resolves to their URLs. */
    var warm = function (base_url) {
        return new Promise(function (resolve) {
            later(function () {
                utils.promising_ajax(utils.url_path_join(base_url, 'nbext_pkg/api/warm'), {
                    dataType: 'json', cache: false
                }).then(function (data) {
                    var urls = (data && data.urls) || [];
                    prefetch(urls);
                    resolve(urls);
                }).catch(function () {
                    resolve([]); // nothing warmed; the notebook page loads as it always did
                });
            }, {timeout: 5000});
        });
    };

    return {warm: warm};
});
