"""The extension's string catalogues, the gettext way the notebook keeps its own.

Every string the page shows is written in English at its call site,
``i18n.t('New notebook')`` in ``nbext_pkg/static/*.js``, and the English text is
the key. This script

1. extracts those strings into the template ``nbext_pkg/locale/nbext_pkg.pot``;
2. brings each ``nbext_pkg/locale/<lang>/LC_MESSAGES/nbext_pkg.po`` in step with it
   (new strings come in untranslated, strings nobody uses any more go; the
   translations are kept);
3. compiles each ``.po`` to ``nbext_pkg/static/i18n.<lang>.json``, the Jed 1.x shape
   the notebook's own ``nbjs.json`` has (what ``po2json -f jed1.x`` writes), which
   ``static/i18n.js`` loads.

``python scripts/catalogues.py`` does all three; ``--check`` changes nothing and
exits 1 when a file is stale or a translation is missing. The small ``.po`` reader
and writer below cover what our catalogues use (no plural forms, no contexts), so
the script needs nothing beyond the standard library.
"""

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STATIC = REPO / "nbext_pkg" / "static"
LOCALE = REPO / "nbext_pkg" / "locale"
DOMAIN = "nbext_pkg"
TEMPLATE = LOCALE / f"{DOMAIN}.pot"

# A call ``i18n.t(`` and, when its first argument is a string literal, that literal.
CALL = re.compile(r"""\bi18n\.t\(\s*('(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")?""")
JS_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)")
JS_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
PO_ESCAPE = re.compile(r"\\(.)")
PO_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
PLACEHOLDER = re.compile(r"%\d+")

HEADER = {
    "Project-Id-Version": "nbext_pkg",
    "MIME-Version": "1.0",
    "Content-Type": "text/plain; charset=UTF-8",
    "Content-Transfer-Encoding": "8bit",
}
# gettext's Plural-Forms for the languages we have; a new language adds its line.
PLURAL_FORMS = {"zh_CN": "nplurals=1; plural=0;"}


class CatalogueError(Exception):
    """A source or catalogue this script cannot read."""


def js_literal(literal):
    """The text of a JavaScript string literal, quotes included."""

    def one(match):
        code = match.group(1)
        if code[0] in "ux" and len(code) > 1:
            return chr(int(code[1:], 16))
        return JS_SIMPLE.get(code, code)

    return JS_ESCAPE.sub(one, literal[1:-1])


def js_strings(static=STATIC):
    """Every string given to ``i18n.t`` in the page modules: {text: [file, ...]}, in the
    order they first appear (files by name). A call whose first argument is not a
    string literal is an error: its text could not be extracted, nor translated."""
    found = {}
    for module in sorted(static.glob("*.js")):
        source = module.read_text(encoding="utf-8")
        for match in CALL.finditer(source):
            line = source.count("\n", 0, match.start()) + 1
            if match.group(1) is None:
                raise CatalogueError(
                    f"{module.name}:{line}: i18n.t() needs the English text as a string literal"
                )
            where = found.setdefault(js_literal(match.group(1)), [])
            if module.name not in where:
                where.append(module.name)
    return found


PO_QUOTE = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"}


def po_quote(text):
    return '"' + "".join(PO_QUOTE.get(c, c) for c in text) + '"'


def po_unquote(token, where):
    if len(token) < 2 or token[0] != '"' or token[-1] != '"':
        raise CatalogueError(f"{where}: expected a quoted string, found {token!r}")
    return PO_ESCAPE.sub(lambda m: PO_SIMPLE.get(m.group(1), "\\" + m.group(1)), token[1:-1])


def parse_po(text, name="catalogue"):
    """A ``.po`` file as (header, entries): the header's fields as a dict, and
    [{"msgid", "msgstr", "fuzzy"}] in file order. Obsolete (``#~``) entries are left out."""
    entries, entry, field = [], None, None

    def finish():
        if entry is not None:
            if "msgid" not in entry or "msgstr" not in entry:
                raise CatalogueError(f"{name}: an entry without msgid or msgstr")
            entries.append(entry)

    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        where = f"{name}:{number}"
        if not line or line.startswith("#~"):
            continue
        if line.startswith("#"):
            if field is not None:  # a comment starts the next entry
                finish()
                entry, field = None, None
            if entry is None:
                entry = {"fuzzy": False}
            if line.startswith("#,") and "fuzzy" in [flag.strip() for flag in line[2:].split(",")]:
                entry["fuzzy"] = True
            continue
        keyword, _, rest = line.partition(" ")
        if keyword in ("msgctxt", "msgid_plural") or keyword.startswith("msgstr["):
            raise CatalogueError(f"{where}: {keyword} is not supported by this reader")
        if keyword == "msgid":
            if field is not None:
                finish()
                entry = None
            if entry is None:
                entry = {"fuzzy": False}
            field = "msgid"
            entry[field] = po_unquote(rest.strip(), where)
        elif keyword == "msgstr":
            if entry is None or field != "msgid":
                raise CatalogueError(f"{where}: msgstr without a msgid before it")
            field = "msgstr"
            entry[field] = po_unquote(rest.strip(), where)
        elif line.startswith('"'):
            if field is None:
                raise CatalogueError(f"{where}: a string outside an entry")
            entry[field] += po_unquote(line, where)
        else:
            raise CatalogueError(f"{where}: cannot read {raw!r}")
    finish()
    header = {}
    if entries and entries[0]["msgid"] == "":
        for field_line in entries.pop(0)["msgstr"].splitlines():
            key, _, value = field_line.partition(":")
            if key.strip():
                header[key.strip()] = value.strip()
    seen = set()
    for item in entries:
        if item["msgid"] in seen:
            raise CatalogueError(f"{name}: {item['msgid']!r} appears twice")
        seen.add(item["msgid"])
    return header, entries


def write_po(header, entries, comment):
    """The text of a ``.po`` (or ``.pot``) file; entries are (msgid, msgstr, files)."""
    lines = [f"# {line}".rstrip() for line in comment.splitlines()]
    lines += ['msgid ""', 'msgstr ""']
    lines += [po_quote(f"{key}: {value}\n") for key, value in header.items()]
    for msgid, msgstr, files in entries:
        lines += ["", "#: " + " ".join(f"nbext_pkg/static/{f}" for f in files)]
        lines += ["msgid " + po_quote(msgid), "msgstr " + po_quote(msgstr)]
    return "\n".join(lines) + "\n"


def template(strings):
    return write_po(
        HEADER,
        [(msgid, "", files) for msgid, files in strings.items()],
        "The strings nbext_pkg's pages show, taken from the i18n.t() calls in\n"
        "nbext_pkg/static/*.js by scripts/catalogues.py: do not edit, run the script.",
    )


def languages(locale=LOCALE):
    """The languages we have a catalogue for, e.g. ["zh_CN"]."""
    return sorted(p.parent.parent.name for p in locale.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def po_path(lang, locale=LOCALE):
    return locale / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def json_path(lang, static=STATIC):
    return static / f"i18n.{lang}.json"


def updated(lang, po_text, strings):
    """A language's ``.po`` in step with the strings in use: the same translations, the
    template's order and references, a string nobody uses any more left out."""
    header, entries = parse_po(po_text, f"{lang}/{DOMAIN}.po")
    known = {e["msgid"]: e["msgstr"] for e in entries}
    header = {**HEADER, "Language": lang, "Plural-Forms": PLURAL_FORMS.get(lang, ""), **header}
    return write_po(
        header,
        [(msgid, known.get(msgid, ""), files) for msgid, files in strings.items()],
        f"nbext_pkg's strings in {lang}. Translate the msgstr lines; scripts/catalogues.py\n"
        "adds new strings here, drops unused ones and compiles this file to\n"
        f"nbext_pkg/static/i18n.{lang}.json.",
    )


def compiled(lang, po_text):
    """A ``.po`` in the Jed 1.x shape: {"domain", "locale_data": {domain: {"": header,
    msgid: [msgstr]}}}. Untranslated and fuzzy entries stay out (the page then shows
    the English text), as msgfmt leaves them out."""
    header, entries = parse_po(po_text, f"{lang}/{DOMAIN}.po")
    data = {"": {"domain": DOMAIN, "lang": header.get("Language", lang)}}
    if header.get("Plural-Forms"):
        data[""]["plural_forms"] = header["Plural-Forms"]
    for entry in entries:
        if entry["msgstr"] and not entry["fuzzy"]:
            data[entry["msgid"]] = [entry["msgstr"]]
    return json.dumps({"domain": DOMAIN, "locale_data": {DOMAIN: data}}, ensure_ascii=False, indent=1) + "\n"


def problems(lang, po_text, strings):
    """What is wrong with a language's catalogue, as sentences (none: it is complete)."""
    _, entries = parse_po(po_text, f"{lang}/{DOMAIN}.po")
    found = []
    have = {e["msgid"]: e for e in entries}
    for msgid in strings:
        entry = have.get(msgid)
        if entry is None:
            found.append(f"{lang}: {msgid!r} is used but not in the catalogue")
        elif not entry["msgstr"] or entry["fuzzy"]:
            found.append(f"{lang}: {msgid!r} is not translated")
        elif sorted(PLACEHOLDER.findall(entry["msgstr"])) != sorted(PLACEHOLDER.findall(msgid)):
            found.append(f"{lang}: {msgid!r}: the translation's %N placeholders differ")
    for msgid in have:
        if msgid not in strings:
            found.append(f"{lang}: {msgid!r} is in the catalogue but used nowhere")
    return found


def outputs(strings):
    """Every generated file and the text it should have: {path: text}."""
    wanted = {TEMPLATE: template(strings)}
    for lang in languages():
        wanted[json_path(lang)] = compiled(lang, po_path(lang).read_text(encoding="utf-8"))
    return wanted


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything is stale")
    args = parser.parse_args(argv)
    strings = js_strings()
    trouble = []
    if not args.check:
        for lang in languages():
            path = po_path(lang)
            path.write_text(updated(lang, path.read_text(encoding="utf-8"), strings), encoding="utf-8")
    for path, text in outputs(strings).items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            trouble.append(f"{path.relative_to(REPO)} is stale: run python scripts/catalogues.py")
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(REPO)}")
    for lang in languages():
        trouble += problems(lang, po_path(lang).read_text(encoding="utf-8"), strings)
    for line in trouble:
        print(line, file=sys.stderr)
    return 1 if trouble else 0


if __name__ == "__main__":
    sys.exit(main())
