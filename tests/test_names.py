"""nbext_pkg/names.py is the one place each shared name is spelled: static/names.js,
jupyter-config/, static/settings.js and the nbextension yaml files say the same, and the
page modules and the Python modules take the names from there instead of spelling them.
Each failure says which file and which entry differ, and how to fix it."""

import ast
import json
import re
from pathlib import Path

import yaml
from harness import REPO

from nbext_pkg import install, names

STATIC = REPO / "nbext_pkg" / "static"
REGENERATE = "edit nbext_pkg/names.py only, then run `python -m nbext_pkg.names`"


def names_js_object(text):
    found = re.search(r"\n    return (\{.*\n    \});\n\}\);\n\Z", text, re.S)
    assert found, f"static/names.js is not in the shape names.py writes: {REGENERATE}"
    return json.loads(found.group(1))


def differences(ours, theirs, where=""):
    """Every entry (dotted path) where ``theirs`` differs from ``ours``."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        out = []
        for key in sorted(set(ours) | set(theirs), key=str):
            if key not in theirs:
                out.append(f"{where}{key}: missing (names.py: {ours[key]!r})")
            elif key not in ours:
                out.append(f"{where}{key}: not in names.py ({theirs[key]!r})")
            else:
                out += differences(ours[key], theirs[key], f"{where}{key}.")
        return out
    return [] if ours == theirs else [f"{where.rstrip('.')}: names.py says {ours!r}, the file {theirs!r}"]


def test_names_js_says_what_names_py_says():
    text = (STATIC / "names.js").read_text(encoding="utf-8")
    wrong = differences(names.for_the_page(), names_js_object(text))
    assert not wrong, f"static/names.js differs from names.py ({REGENERATE}): " + "; ".join(wrong)
    assert text == names.names_js(), f"static/names.js is not as names.py writes it: {REGENERATE}"


def test_jupyter_config_enables_what_the_install_hooks_declare():
    folder = REPO / "jupyter-config"
    expected = install.packaged_config()
    found = {str(p.relative_to(folder)): json.loads(p.read_text()) for p in folder.rglob("*.json")}
    assert sorted(found) == sorted(expected), f"jupyter-config/ holds other files ({REGENERATE})"
    for rel, data in expected.items():
        wrong = differences(data, found[rel])
        assert not wrong, f"jupyter-config/{rel} differs from the install hooks ({REGENERATE}): " + "; ".join(
            wrong
        )


def test_setup_py_installs_each_packaged_config_folder_where_jupyter_reads_it():
    tree = ast.parse((REPO / "setup.py").read_text())
    (listed,) = [n.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "data_files"]
    pairs = {(t.elts[0].value, t.elts[1].args[0].value) for t in listed.elts}
    for rel in install.packaged_config():
        folder = Path(rel).parent.as_posix()
        assert (f"etc/jupyter/{folder}", f"jupyter-config/{folder}") in pairs, f"setup.py leaves out {folder}"


def settings_js_keys(block):
    source = (STATIC / "settings.js").read_text(encoding="utf-8")
    body = re.search(r"\n    var " + block + r" = \{\n(.*?)\n    \};", source, re.S)
    assert body, f"static/settings.js has no {block} table"
    return re.findall(r"^        (\w+):", body.group(1), re.M)


def test_settings_js_checks_exactly_the_settings_names_py_lists():
    assert settings_js_keys("CHECK") == list(names.SETTINGS), (
        "static/settings.js's CHECK must check each setting of names.SETTINGS, in its order"
    )
    source = (STATIC / "settings.js").read_text(encoding="utf-8")
    assert "var DEFAULTS = names.settings;" in source, "settings.js takes its defaults from names.js"


def test_the_configurators_yaml_files_name_our_modules_and_settings():
    for section, require in names.PAGE_MODULES.items():
        (card,) = [
            y
            for y in (yaml.safe_load(p.read_text()) for p in STATIC.glob("*.yaml"))
            if y["Section"] == section
        ]
        assert card["Main"] == require.split("/", 1)[1] + ".js", f"the {section} yaml card's Main"
        for parameter in card.get("Parameters", []):
            prefix, _, key = parameter["name"].partition(".")
            assert prefix == names.CONFIG_KEY and key in names.SETTINGS, (
                f"the {section} yaml card's {parameter['name']} is not a setting of names.py"
            )
            default = names.SETTINGS[key]
            assert parameter["default"] == default, f"{parameter['name']}'s default is not {default!r}"


# Quoted spellings other files may still hold, each with its reason.
LEFT = {
    ("warm.js", "nbext_pkg/api/warm"): "outside this change; it should take names.routes.warm",
    ("new_notebook.js", "nbext_pkg/api/sessions"): "outside this change; should take names.routes.sessions",
}


def spelled_names():
    values = [
        *names.PAGE_MODULES.values(),
        names.BUNDLER_ID,
        *names.MESSAGES.values(),
        *names.ROUTES.values(),
        names.LAST_KERNEL_KEY,
    ]
    return sorted(set(values))


def test_the_page_modules_take_the_names_from_names_js():
    spelled = []
    for module in sorted(STATIC.glob("*.js")):
        if module.name == "names.js":
            continue
        # Comments may show a name (embed.js documents its messages); code may not spell one.
        text = re.sub(r"/\*.*?\*/|//[^\n]*", "", module.read_text(encoding="utf-8"), flags=re.S)
        for value in spelled_names():
            if (f"'{value}'" in text or f'"{value}"' in text) and (module.name, value) not in LEFT:
                spelled.append(f"{module.name} spells {value!r}")
    assert not spelled, "use names.js instead: " + "; ".join(spelled)
    assert all((STATIC / name).is_file() for name, _ in LEFT), "a file LEFT names is gone"


def test_the_python_modules_take_the_names_from_names_py():
    spelled = []
    for module in sorted((REPO / "nbext_pkg").rglob("*.py")):
        if module.name == "names.py":
            continue
        text = module.read_text(encoding="utf-8")
        for value in spelled_names() + [names.BUNDLER_LABEL, names.BUNDLER_MODULE]:
            if f'"{value}"' in text or f"'{value}'" in text:
                spelled.append(f"{module.relative_to(REPO)} spells {value!r}")
    assert not spelled, "use nbext_pkg.names instead: " + "; ".join(spelled)
