// ESLint for the notebook page modules in nbext_pkg/static/: eslint's
// recommended rules. ./scripts/test installs eslint and the two packages
// required here under the virtual environment and points NODE_PATH at them;
// pre-commit's node hooks set NODE_PATH to their own install the same way.
// (CommonJS, so that require() follows NODE_PATH: an ES module's import would
// look only in node_modules folders above this file.)
const js = require("@eslint/js");
const globals = require("globals");

module.exports = [
    js.configs.recommended,
    {
        files: ["nbext_pkg/static/*.js"],
        languageOptions: {
            // requirejs modules loaded by a <script> tag, not ES modules.
            sourceType: "script",
            globals: {
                ...globals.browser,
                // define, require
                ...globals.amd,
                // $, jQuery
                ...globals.jquery,
                // What the notebook page puts on window besides.
                requirejs: "readonly",
                Jupyter: "readonly",
                IPython: "readonly",
            },
        },
        rules: {
            // ES5's catch needs a name even where the error is not looked at
            // (the modules are written as the notebook's own are).
            "no-unused-vars": ["error", {caughtErrors: "none"}],
        },
    },
];
