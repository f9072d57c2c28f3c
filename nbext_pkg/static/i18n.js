// nbext_pkg: the extension's strings, in the language the notebook shows its own in.
//
// As in the notebook, a string is written in English where it is used,
// `t('New notebook')`, and the English text is the key into a gettext
// catalogue per language (nbext_pkg/locale/<lang>/LC_MESSAGES/nbext_pkg.po),
// compiled by scripts/catalogues.py into the Jed 1.x JSON beside this file
// (i18n.<lang>.json), the shape of the notebook's own nbjs.json. A string a
// catalogue lacks is shown in English.
//
// The language: notebook 6.5 and nbclassic put their JavaScript translations
// into the page as document.nbjs_translations (base/js/i18n makes its Jed
// instance from it), merged from the catalogues they have for the browser's
// Accept-Language, most preferred last, an "en" clearing what came before.
// That data names no language (its header holds only the domain), so: if it
// translates nothing, the notebook speaks English and so do we (nbclassic on
// jupyter_server ships no nbjs catalogue); if it does, we take the browser's
// most preferred language we have a catalogue for, walking the same list the
// header is made from (navigator.languages) and stopping at "en" as the
// notebook does. The catalogue must be known before this module is defined,
// which is why the page's data is read here rather than through base/js/i18n.
//
// `t(text, a, b, ...)` replaces %1, %2, ... with the arguments (as text: the
// callers put the result into the DOM as text, never as markup).
(function () {
    "use strict";

    // One compiled catalogue per .po file; tests/test_i18n.py keeps them in step.
    var CATALOGUES = ['zh_CN'];
    var DOMAIN = 'nbext_pkg';

    var language = function (nbjs, preferred) {
        var data = nbjs && nbjs.locale_data && nbjs.locale_data[nbjs.domain];
        var translated = !!data && Object.keys(data).some(function (key) { return key !== ''; });
        if (!translated) {
            return 'en';
        }
        for (var i = 0; i < preferred.length; i++) {
            var code = String(preferred[i]).replace('-', '_').toLowerCase();
            if (code === 'en') {
                return 'en';
            }
            for (var j = 0; j < CATALOGUES.length; j++) {
                if (CATALOGUES[j].toLowerCase() === code) {
                    return CATALOGUES[j];
                }
            }
        }
        return 'en';
    };

    var lang = language(document.nbjs_translations,
                        navigator.languages || [navigator.language || navigator.userLanguage || 'en']);
    var deps = ['jed'];
    if (lang !== 'en') {
        deps.push('json!./i18n.' + lang + '.json');
    }

    define(deps, function (Jed, catalogue) {
        var english = {domain: DOMAIN, locale_data: {}};
        english.locale_data[DOMAIN] = {'': {domain: DOMAIN, lang: 'en'}};
        var jed = new Jed(catalogue || english);

        var t = function (text) {
            var args = Array.prototype.slice.call(arguments, 1);
            return jed.gettext(text).replace(/%(\d+)/g, function (whole, n) {
                var value = args[Number(n) - 1];
                return value === undefined ? whole : String(value);
            });
        };

        return {t: t, lang: lang};
    });
})();
