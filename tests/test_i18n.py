"""The strings the page modules show, the gettext way (scripts/catalogues.py): every
``i18n.t('...')`` text is in each catalogue and translated there, no catalogue entry is
unused, the compiled JSON and the template match the .po files, and static/i18n.js
picks the language the notebook's own strings are in."""

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
STATIC = REPO / "nbext_pkg" / "static"

spec = importlib.util.spec_from_file_location("catalogues", REPO / "scripts" / "catalogues.py")
catalogues = importlib.util.module_from_spec(spec)
spec.loader.exec_module(catalogues)


def po(lang):
    return catalogues.po_path(lang).read_text(encoding="utf-8")


def test_there_is_a_simplified_chinese_catalogue():
    assert catalogues.languages() == ["zh_CN"]


def test_every_string_in_use_is_translated_and_every_entry_is_used():
    strings = catalogues.js_strings()
    assert "New notebook" in strings and "Session info" in strings, sorted(strings)
    for lang in catalogues.languages():
        assert catalogues.problems(lang, po(lang), strings) == []


def test_the_compiled_catalogues_and_the_template_are_up_to_date():
    for path, text in catalogues.outputs(catalogues.js_strings()).items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name} is stale: run scripts/catalogues.py"
    # ... and the script's own check says so too.
    assert catalogues.main(["--check"]) == 0


def test_every_compiled_catalogue_has_its_po_and_i18n_js_lists_them():
    shipped = sorted(p.name[len("i18n.") : -len(".json")] for p in STATIC.glob("i18n.*.json"))
    assert shipped == catalogues.languages()
    source = (STATIC / "i18n.js").read_text(encoding="utf-8")
    listed = re.search(r"var CATALOGUES = \[(.*?)\];", source).group(1)
    assert re.findall(r"'([A-Za-z_]+)'", listed) == catalogues.languages()


def test_the_chinese_catalogue_is_chinese_and_keeps_the_placeholders():
    _, entries = catalogues.parse_po(po("zh_CN"))
    assert len(entries) == len(catalogues.js_strings())
    for entry in entries:
        assert re.search(r"[\u4e00-\u9fff]", entry["msgstr"]), entry["msgid"]
        assert not entry["fuzzy"], entry["msgid"]
    compiled = json.loads((STATIC / "i18n.zh_CN.json").read_text(encoding="utf-8"))
    data = compiled["locale_data"]["nbext_pkg"]
    assert compiled["domain"] == "nbext_pkg"
    assert data[""] == {"domain": "nbext_pkg", "lang": "zh_CN", "plural_forms": "nplurals=1; plural=0;"}
    assert data["New notebook"] == ["新建笔记本"]
    assert data["Create a notebook with %1 and start its kernel right away"] == [
        "用 %1 新建笔记本，并立即启动其内核"
    ]


# The pieces of the script, on made-up input, so each check is seen to bite.


def test_calls_are_read_with_their_escapes_and_a_call_without_a_literal_is_refused(tmp_path):
    (tmp_path / "a.js").write_text(
        "x(i18n.t('Opening %1\\u2026', name), i18n.t(\"it's\"), i18n.t( 'a \\'b\\''));\n"
        "// not a call: i18n.tt('no')\n",
        encoding="utf-8",
    )
    (tmp_path / "b.js").write_text("i18n.t('Close'); i18n.t(\"it's\");\n", encoding="utf-8")
    assert catalogues.js_strings(tmp_path) == {
        "Opening %1…": ["a.js"],
        "it's": ["a.js", "b.js"],
        "a 'b'": ["a.js"],
        "Close": ["b.js"],
    }
    (tmp_path / "c.js").write_text("var x = 1;\ni18n.t(key);\n", encoding="utf-8")
    with pytest.raises(catalogues.CatalogueError, match=r"c\.js:2: .*string literal"):
        catalogues.js_strings(tmp_path)


PO = r"""# a comment
msgid ""
msgstr ""
"Language: zh_CN\n"
"Plural-Forms: nplurals=1; plural=0;\n"

#: nbext_pkg/static/a.js
msgid "Open"
msgstr "打开"

#, fuzzy
msgid "Close"
msgstr "关闭"

msgid ""
"Two "
"lines \"quoted\"\n"
msgstr "两行"
msgid "Empty"
msgstr ""

#~ msgid "Gone"
#~ msgstr "走了"
"""


def test_the_po_reader_reads_headers_continuations_escapes_and_flags():
    header, entries = catalogues.parse_po(PO)
    assert header == {"Language": "zh_CN", "Plural-Forms": "nplurals=1; plural=0;"}
    assert entries == [
        {"msgid": "Open", "msgstr": "打开", "fuzzy": False},
        {"msgid": "Close", "msgstr": "关闭", "fuzzy": True},
        {"msgid": 'Two lines "quoted"\n', "msgstr": "两行", "fuzzy": False},
        {"msgid": "Empty", "msgstr": "", "fuzzy": False},
    ]
    twice = 'msgid "a"\nmsgstr "b"\nmsgid "a"\nmsgstr "c"\n'
    for broken in ('msgid "a"\nmsgid_plural "b"\n', 'msgstr "x"\n', twice):
        with pytest.raises(catalogues.CatalogueError):
            catalogues.parse_po(broken)


def test_the_writer_and_the_reader_agree():
    entries = [('Say "hi"\\\n\tnow', "说“嗨”", ["a.js"]), ("%1 of %2", "%2 中的 %1", ["a.js", "b.js"])]
    text = catalogues.write_po({"Language": "zh_CN"}, entries, "comment")
    header, read = catalogues.parse_po(text)
    assert header == {"Language": "zh_CN"}
    assert [(e["msgid"], e["msgstr"]) for e in read] == [(m, s) for m, s, _ in entries]
    assert "#: nbext_pkg/static/a.js nbext_pkg/static/b.js" in text


def test_compiling_leaves_out_fuzzy_and_untranslated_entries():
    data = json.loads(catalogues.compiled("zh_CN", PO))
    assert data == {
        "domain": "nbext_pkg",
        "locale_data": {
            "nbext_pkg": {
                "": {"domain": "nbext_pkg", "lang": "zh_CN", "plural_forms": "nplurals=1; plural=0;"},
                "Open": ["打开"],
                'Two lines "quoted"\n': ["两行"],
            }
        },
    }


def test_problems_name_missing_unused_untranslated_and_changed_placeholders():
    text = catalogues.write_po(
        {}, [("Open", "打开", []), ("Old", "旧", []), ("Empty", "", []), ("Saved as %1", "已保存", [])], ""
    )
    strings = {"Open": [], "New": [], "Empty": [], "Saved as %1": []}
    assert catalogues.problems("zh_CN", text, strings) == [
        "zh_CN: 'New' is used but not in the catalogue",
        "zh_CN: 'Empty' is not translated",
        "zh_CN: 'Saved as %1': the translation's %N placeholders differ",
        "zh_CN: 'Old' is in the catalogue but used nowhere",
    ]


def test_updating_keeps_translations_adds_new_strings_and_drops_unused_ones():
    text = catalogues.write_po({"Language": "zh_CN"}, [("Open", "打开", []), ("Old", "旧", [])], "")
    text = catalogues.updated("zh_CN", text, {"New": ["b.js"], "Open": ["a.js"]})
    header, entries = catalogues.parse_po(text)
    assert header["Language"] == "zh_CN" and header["Plural-Forms"] == "nplurals=1; plural=0;"
    assert [(e["msgid"], e["msgstr"]) for e in entries] == [("New", ""), ("Open", "打开")]


# static/i18n.js itself, run in node with the notebook's own Jed and a stand-in page.

NODE = r"""
const fs = require('fs'), vm = require('vm');
const [i18n, jed, static_dir, cases] = process.argv.slice(2);
const Jed = require(jed);
const out = [];
for (const c of JSON.parse(cases)) {
    let defined;
    const context = {
        document: {nbjs_translations: c.nbjs},
        navigator: {languages: c.languages},
        define: (deps, factory) => { defined = {deps, factory}; },
    };
    vm.runInNewContext(fs.readFileSync(i18n, 'utf8'), context);
    const args = defined.deps.map((dep) => dep === 'jed' ? Jed
        : JSON.parse(fs.readFileSync(static_dir + '/' + dep.replace(/^json!\.\//, ''), 'utf8')));
    const module = defined.factory(...args);
    out.push({deps: defined.deps, lang: module.lang, texts: c.texts.map((t) => module.t(...t))});
}
console.log(JSON.stringify(out));
"""


def nbjs(entries):
    """document.nbjs_translations as notebook 6.5 writes it (combine_translations)."""
    return {"domain": "nbjs", "locale_data": {"nbjs": {"": {"domain": "nbjs"}, **entries}}}


def run_i18n_js(cases):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (./scripts/test installs it)")
    nbclassic = pytest.importorskip("nbclassic")
    jed = Path(nbclassic.__file__).parent / "static" / "components" / "jed" / "jed.js"
    answer = subprocess.run(
        [node, "-e", NODE, "-", str(STATIC / "i18n.js"), str(jed), str(STATIC), json.dumps(cases)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(answer.stdout)


TEXTS = [["New notebook"], ["Bundle saved as %1", "a.zip"], ["Not in any catalogue, %2 %1", "x", "y"]]
CHINESE = nbjs({"Upload": ["上传"]})
EMPTY = nbjs({})


def test_i18n_js_speaks_chinese_when_the_notebook_does_and_english_otherwise():
    results = run_i18n_js(
        [
            {"nbjs": CHINESE, "languages": ["zh-CN"], "texts": TEXTS},
            # the notebook found no catalogue (English browser, nbclassic on jupyter_server)
            {"nbjs": EMPTY, "languages": ["zh-CN"], "texts": TEXTS},
            {"nbjs": EMPTY, "languages": ["en-US"], "texts": TEXTS},
            {"nbjs": None, "languages": ["zh-CN"], "texts": TEXTS},
        ]
    )
    zh, *english = results
    assert zh == {
        "deps": ["jed", "json!./i18n.zh_CN.json"],
        "lang": "zh_CN",
        "texts": ["新建笔记本", "打包已保存为 a.zip", "Not in any catalogue, y x"],
    }
    for result in english:
        assert result == {
            "deps": ["jed"],
            "lang": "en",
            "texts": ["New notebook", "Bundle saved as a.zip", "Not in any catalogue, y x"],
        }


def test_i18n_js_walks_the_browsers_languages_as_the_notebook_does():
    texts = [["Close"]]
    results = run_i18n_js(
        [
            # The notebook translates (French, say): our most preferred catalogue wins.
            {"nbjs": CHINESE, "languages": ["fr-FR", "zh-CN"], "texts": texts},
            {"nbjs": CHINESE, "languages": ["zh_cn"], "texts": texts},
            # A plain "en" clears the notebook's list of what comes after it.
            {"nbjs": CHINESE, "languages": ["en", "zh-CN"], "texts": texts},
            # "zh" alone or Traditional Chinese: no catalogue of ours.
            {"nbjs": CHINESE, "languages": ["zh-TW", "zh"], "texts": texts},
        ]
    )
    assert [(r["lang"], r["texts"]) for r in results] == [
        ("zh_CN", ["关闭"]),
        ("zh_CN", ["关闭"]),
        ("en", ["Close"]),
        ("en", ["Close"]),
    ]
