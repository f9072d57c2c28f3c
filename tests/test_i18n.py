"""Every string key the page modules use exists in English and in Simplified
Chinese, and the Chinese table is in Chinese."""

import json
import re
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "nbext_pkg" / "static"


def table(name):
    source = (STATIC / "i18n.js").read_text(encoding="utf-8")
    body = re.search(r"var " + name + r" = (\{.*?\n    \});", source, re.S).group(1)
    return json.loads(body)  # the tables are plain JSON objects


def test_both_tables_have_the_same_keys():
    assert set(table("en")) == set(table("zh_CN"))


def test_every_key_the_modules_use_exists():
    used = set()
    for module in STATIC.glob("*.js"):
        text = module.read_text(encoding="utf-8")
        used |= set(re.findall(r"i18n\.t\('([a-z_]+)'\)", text))
        used |= set(re.findall(r"i18n\.t\('([a-z_]+)',", text))
        if "i18n.t('field_' + field)" in text:  # session_info.js: one key per field
            fields = re.search(r"var FIELDS = \[(.*?)\];", text, re.S).group(1)
            used |= {"field_" + f for f in re.findall(r"'([a-z_]+)'", fields)}
    assert used and used <= set(table("en")), used - set(table("en"))
    assert set(table("en")) - used == set(), "keys nobody uses"


def test_the_chinese_table_is_chinese_and_keeps_the_placeholders():
    en, zh = table("en"), table("zh_CN")
    for key, text in zh.items():
        assert re.search(r"[\u4e00-\u9fff]", text), key
        assert sorted(re.findall(r"%\d", text)) == sorted(re.findall(r"%\d", en[key])), key
