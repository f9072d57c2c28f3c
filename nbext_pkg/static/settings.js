// nbext_pkg: the front end's settings, in one place.
//
// Each setting is looked up in layers, the later winning:
//   1. the defaults (names.js, from nbext_pkg/names.py, where each is explained);
//   2. the `nbext_pkg` key of the `common` nbconfig section;
//   3. the `nbext_pkg` key of the page's own section (`tree` or `notebook`),
//      which is what the Nbextensions configurator writes;
//   4. for the bundle settings only, the notebook's metadata
//      {"nbext_pkg": {"bundle": {"format": ..., "html": ..., "requirements": ...}}}.
// Values the configurator stores as text ("true", "false") are read as such;
// a value that makes no sense is ignored (with a console warning) and the
// layer below it stands.
// The origins an embedding page may have (embed_origins) are read from the
// `common` section only, by `embed_origins` below.
define([
    'services/config',
    './names'
], function (configmod, names) {
    "use strict";

    var DEFAULTS = names.settings;

    var as_bool = function (value) {
        if (value === true || value === 'true' || value === '1' || value === 1) {
            return true;
        }
        if (value === false || value === 'false' || value === '0' || value === 0) {
            return false;
        }
        return undefined;
    };

    var CHECK = {
        default_kernel: function (v) { return typeof v === 'string' ? v.trim() : undefined; },
        remember_kernel: as_bool,
        open_in: function (v) { return ['', 'new-tab', 'same-tab'].indexOf(v) !== -1 ? v : undefined; },
        bundle_format: function (v) { return ['zip', 'tar', 'tar.gz'].indexOf(v) >= 0 ? v : undefined; },
        bundle_html: as_bool,
        bundle_requirements: as_bool
    };

    var apply = function (settings, layer, where) {
        if (!layer || typeof layer !== 'object') {
            return;
        }
        Object.keys(layer).forEach(function (key) {
            if (!Object.prototype.hasOwnProperty.call(CHECK, key)) {
                return; // not ours (or a later version's): left alone
            }
            var value = CHECK[key](layer[key]);
            if (value === undefined) {
                console.warn('nbext_pkg: setting ' + key + ' in ' + where + ' ignored:', layer[key]);
            } else {
                settings[key] = value;
            }
        });
    };

    var section = function (name, base_url, existing) {
        var config = existing || new configmod.ConfigSection(name, {base_url: base_url});
        if (!existing) {
            config.load();
        }
        return config.loaded.then(function () {
            return (config.data || {})[names.config_key];
        }, function () {
            return undefined;
        });
    };

    /**
     * Resolves to the settings for a page: `page_section` is 'tree' or 'notebook';
     * `existing` the page's own ConfigSection when it has one loading already.
     */
    var load = function (base_url, page_section, existing) {
        return Promise.all([
            section(names.common_section, base_url),
            section(page_section, base_url, existing)
        ]).then(function (layers) {
            var settings = {};
            Object.keys(DEFAULTS).forEach(function (key) { settings[key] = DEFAULTS[key]; });
            apply(settings, layers[0], 'nbconfig common');
            apply(settings, layers[1], 'nbconfig ' + page_section);
            return settings;
        });
    };

    /** The bundle settings for one notebook: its metadata over `settings`. */
    var for_bundle = function (settings, notebook) {
        var out = {
            bundle_format: settings.bundle_format,
            bundle_html: settings.bundle_html,
            bundle_requirements: settings.bundle_requirements
        };
        var meta = ((notebook.metadata || {})[names.config_key] || {}).bundle;
        if (meta && typeof meta === 'object') {
            apply(out, strip({
                bundle_format: meta.format,
                bundle_html: meta.html,
                bundle_requirements: meta.requirements
            }), 'the notebook metadata');
        }
        return out;
    };

    var strip = function (layer) {
        Object.keys(layer).forEach(function (key) {
            if (layer[key] === undefined) {
                delete layer[key];
            }
        });
        return layer;
    };

    /** The window target New notebook uses, or undefined for the notebook's own. */
    var target = function (settings) {
        return {'new-tab': '_blank', 'same-tab': '_self'}[settings.open_in];
    };

    /** Resolves to the exact origins listed in the `common` section's embed_origins;
     * anything else (a "*", a bad URL) is dropped with a console warning. */
    var embed_origins = function (base_url) {
        return section(names.common_section, base_url).then(function (ours) {
            var listed = (ours || {})[names.embed_origins];
            if (!Array.isArray(listed)) {
                return [];
            }
            var origins = [];
            listed.forEach(function (entry) {
                var origin;
                try {
                    origin = typeof entry === 'string' && entry !== '*' ? new URL(entry).origin : null;
                } catch (e) {
                    origin = null;
                }
                if (origin && origin !== 'null') {
                    origins.push(origin);
                } else {
                    console.warn('nbext_pkg: embed_origins entry ignored (not an exact origin):', entry);
                }
            });
            return origins;
        });
    };

    return {
        load: load, for_bundle: for_bundle, target: target, embed_origins: embed_origins, DEFAULTS: DEFAULTS
    };
});
