// nbext_pkg: a download through a hidden frame of the page, for the notebook page's bundle
// (a GET) and the tree page's selection (a form POST: hundreds of names do not fit in a URL).
//
// The request carries a token that the server sends back as a cookie with the archive's
// headers: when the cookie appears, the browser's own download has begun. A failure before
// the first byte loads the server's JSON answer into the frame instead; its sentence goes
// to `on_failed`.
define(['base/js/utils'], function (utils) {
    "use strict";

    var COOKIE = 'nbext_pkg_download';
    var GIVE_UP_MS = 10 * 60 * 1000;

    var cookie_holds = function (token) {
        return document.cookie.split(';').some(function (part) {
            return part.trim() === COOKIE + '=' + token;
        });
    };

    /** The value of the cookie `name` (the server's _xsrf token), or ''. */
    var cookie = function (name) {
        var found = '';
        document.cookie.split(';').forEach(function (part) {
            var at = part.indexOf('=');
            if (at > 0 && part.slice(0, at).trim() === name) {
                found = part.slice(at + 1).trim();
            }
        });
        return found;
    };

    /** Take the cookie back: same name and path as the server gave it (its base URL,
     * already URL-encoded as the page has it; one that could end the attribute is left
     * to expire by itself, two minutes on). */
    var forget_cookie = function (base_url) {
        var path = utils.url_path_join(base_url, '/');
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

    /** Whether the frame holds only its first, empty document (a frame made without a
     * URL reports a load of that before the form's answer comes). */
    var blank = function (frame) {
        try {
            return frame.contentWindow.location.href === 'about:blank';
        } catch (e) {
            return false;
        }
    };

    /**
     * Start a download. `how`: {base_url, url, fields (for a POST: {name: value}; the
     * _xsrf token is added), kind (the frame's data-nbext-pkg), on_started(), on_failed(message),
     * on_given_up()}.
     */
    var start = function (how) {
        var token = Math.random().toString(36).slice(2, 12) + Date.now().toString(36);
        var name = 'nbext_pkg-frame-' + token;
        var frame = document.createElement('iframe');
        frame.style.display = 'none';
        frame.name = name;
        frame.setAttribute('data-nbext-pkg', how.kind || 'bundle-download');
        var started = Date.now();
        var settled = false;
        var settle = function () {
            settled = true;
            frame.setAttribute('data-nbext-pkg-settled', 'true');
            clearInterval(poll);
            forget_cookie(how.base_url);
        };
        var poll = setInterval(function () {
            if (settled) {
                return;
            }
            if (cookie_holds(token)) {
                settle();
                if (how.on_started) { how.on_started(); }
            } else if (Date.now() - started > GIVE_UP_MS) {
                settle();
                if (how.on_given_up) { how.on_given_up(); }
            }
        }, 200);
        // A download never loads a document into the frame: a load is the server's error.
        frame.addEventListener('load', function () {
            if (settled || cookie_holds(token) || blank(frame)) {
                return;
            }
            var message = sentence(frame);
            settle();
            if (how.on_failed) { how.on_failed(message); }
        });
        // Frames of earlier downloads that have begun (the browser has them now) or failed.
        Array.prototype.forEach.call(
            document.querySelectorAll('iframe[data-nbext-pkg-settled]'),
            function (old) { old.parentNode.removeChild(old); });
        if (!how.fields) {
            frame.src = how.url + (how.url.indexOf('?') >= 0 ? '&' : '?') +
                'download_token=' + encodeURIComponent(token);
            document.body.appendChild(frame);
            return;
        }
        document.body.appendChild(frame);
        var form = document.createElement('form');
        form.method = 'POST';
        form.action = how.url;
        form.target = name;
        form.style.display = 'none';
        var fields = {_xsrf: cookie('_xsrf'), download_token: token};
        Object.keys(how.fields).forEach(function (key) { fields[key] = how.fields[key]; });
        Object.keys(fields).forEach(function (key) {
            var input = document.createElement('input');
            input.type = 'hidden';
            input.name = key;
            input.value = fields[key];
            form.appendChild(input);
        });
        document.body.appendChild(form);
        form.submit();
        form.parentNode.removeChild(form);
    };

    return {start: start, cookie: cookie};
});
