"""Page objects for the tree and notebook pages, with readable waits."""

import os

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

TIMEOUT = 30


class Page:
    def __init__(self, driver, server):
        self.driver = driver
        self.server = server

    def wait(self, condition, message, timeout=TIMEOUT):
        return WebDriverWait(self.driver, timeout).until(condition, message)

    def screenshot(self, name):
        """Save the window as ``name`` in $NBEXT_PKG_SCREENSHOTS, when set (the README's
        pictures: NBEXT_PKG_SCREENSHOTS=docs/img ./scripts/test tests/browser/...)."""
        folder = os.environ.get("NBEXT_PKG_SCREENSHOTS")
        if folder:
            os.makedirs(folder, exist_ok=True)
            self.driver.save_screenshot(os.path.join(folder, name))

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def find(self, css):
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css):
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def visible(self, css, what=None):
        return self.wait(
            EC.visibility_of_element_located((By.CSS_SELECTOR, css)), f"waiting for {what or css} to show"
        )

    def clickable(self, css, what=None):
        return self.wait(
            EC.element_to_be_clickable((By.CSS_SELECTOR, css)), f"waiting for {what or css} to be clickable"
        )

    def gone(self, css, what=None):
        return self.wait(
            EC.invisibility_of_element_located((By.CSS_SELECTOR, css)),
            f"waiting for {what or css} to go away",
        )

    def new_window_after(self, action, what):
        """Run ``action``; switch to the window it opens and return its handle."""
        before = set(self.driver.window_handles)
        action()
        self.wait(lambda d: len(set(d.window_handles) - before) == 1, f"waiting for {what}")
        handle = (set(self.driver.window_handles) - before).pop()
        self.driver.switch_to.window(handle)
        return handle

    def modal(self, css, what):
        """Wait for a Bootstrap dialog to be fully shown (not still fading in)."""
        self.wait(
            lambda d: d.execute_script(
                "var m = document.querySelector(arguments[0]);"
                "return m !== null && m.classList.contains('in') && getComputedStyle(m).opacity === '1';",
                css,
            ),
            f"waiting for {what}",
        )
        return self.find(css)

    def close_modal(self, css, button_css):
        self.clickable(f"{css} {button_css}").click()
        self.wait(lambda d: not d.find_elements(By.CSS_SELECTOR, css), f"waiting for {css} to close")


class TreePage(Page):
    def open(self, path=""):
        self.driver.get(self.server.page_url("tree", path))
        # The list is drawn once the folder's contents came back (model_list is set by the
        # drawing); when the server refused them, the list says why and so does the test.
        listed = self.wait(
            lambda d: d.execute_script(
                "var list = window.Jupyter && Jupyter.notebook_list;"
                "return list && list.model_list ? {error: list.error_msg || null} : null;"
            ),
            f"waiting for the tree page to list {path or 'the root folder'}",
        )
        assert listed["error"] is None, f"the tree page could not list {path!r}: {listed['error']}"
        self.visible("#nbext_pkg-new-notebook", "the New notebook button")
        return self

    def wait_kernels(self):
        self.wait(
            lambda d: d.find_elements(By.CSS_SELECTOR, "#nbext_pkg-kernel-menu li[data-kernel-name]"),
            "waiting for the kernel menu to fill",
        )
        self.wait(
            lambda d: d.find_element(By.ID, "nbext_pkg-new-notebook").get_attribute("data-kernel-name"),
            "waiting for the button to know its kernel",
        )

    def kernel_items(self):
        return [
            (li.get_attribute("id"), li.get_attribute("data-kernel-name"), li.text.strip())
            for li in self.find_all("#nbext_pkg-kernel-menu li[data-kernel-name]")
        ]

    def button_kernel(self):
        return self.find("#nbext_pkg-new-notebook").get_attribute("data-kernel-name")

    def click_new(self):
        self.clickable("#nbext_pkg-new-notebook", "the New notebook button").click()

    def pick_kernel(self, name):
        self.clickable("#nbext_pkg-kernel-toggle", "the kernel menu toggle").click()
        self.clickable(f"#nbext_pkg-kernel-{name} a", f"the {name} kernel entry").click()

    def row(self, name):
        """The list's row for the item called ``name``."""
        return self.wait(
            lambda d: next(
                (
                    row
                    for row in d.find_elements(By.CSS_SELECTOR, "#notebook_list .list_item")
                    if row.find_elements(By.CSS_SELECTOR, ".item_name")
                    and row.find_element(By.CSS_SELECTOR, ".item_name").text == name
                ),
                None,
            ),
            f"waiting for {name} in the list",
        )

    def tick(self, *names):
        """Tick the items called ``names`` in the list, as a person clicks their boxes."""
        for name in names:
            box = self.row(name).find_element(By.CSS_SELECTOR, "input[type=checkbox]")
            if not box.is_selected():
                box.click()
        self.wait(
            lambda d: (
                sorted(
                    d.execute_script(
                        "return Jupyter.notebook_list.selected.map(function (i) { return i.name; });"
                    )
                )
                == sorted(names)
            ),
            f"waiting for {names} to be ticked",
        )

    def selection_button(self, mark):
        """One of nbext_pkg's selection buttons, by its data-nbext-pkg mark, once it shows."""
        return self.clickable(f'.dynamic-buttons button[data-nbext-pkg="{mark}"]', f"the {mark} button")

    def shown_selection_buttons(self):
        return sorted(
            b.get_attribute("data-nbext-pkg")
            for b in self.find_all(".dynamic-buttons button.nbext_pkg-selection-button")
            if b.is_displayed()
        )


class NotebookPage(Page):
    def open(self, path, ours=True):
        """Open a notebook; ``ours`` False for a page without nbext_pkg's modules."""
        self.driver.get(self.server.page_url("notebooks", path))
        return self.wait_loaded(ours)

    def wait_loaded(self, ours=True):
        self.wait(
            lambda d: d.execute_script(
                "return !!(window.Jupyter && Jupyter.notebook && Jupyter.notebook._fully_loaded)"
            ),
            "waiting for the notebook to load",
        )
        if ours:
            self.visible("#nbext_pkg-toolbar", "nbext_pkg's toolbar buttons")
        return self

    def wait_kernel(self):
        self.wait(
            lambda d: d.execute_script(
                "var k = Jupyter.notebook.kernel;"
                "return !!(k && k.is_connected() && k.info_reply && k.info_reply.status === 'ok');"
            ),
            "waiting for the kernel to be ready",
        )
        return self

    @property
    def path(self):
        return self.js("return Jupyter.notebook.notebook_path")

    def page_ids(self):
        return self.js(
            "var n = Jupyter.notebook; return {session_id: n.session && n.session.id,"
            " kernel_id: n.kernel && n.kernel.id, kernel_name: n.kernel && n.kernel.name};"
        )

    def menu(self, menu_link_css, item_css):
        self.clickable(menu_link_css, "the menu").click()
        self.clickable(item_css, f"the menu item {item_css}").click()

    # File > Download as. The entries are found by the data-nbext-pkg mark that
    # bundle_menu.js gives ours, never by their label (which follows the language and
    # the format); the stock entry, before our module marks it, by its bundler id.

    def open_download_menu(self):
        """Open File > Download as (a submenu that opens on hover); return the submenu."""
        self.clickable("#filelink", "the File menu").click()
        submenu = self.find("#download_menu")
        ActionChains(self.driver).move_to_element(submenu.find_element(By.XPATH, "..")).perform()
        return self.visible("#download_menu", "the Download as submenu")

    def download_as_entry(self, kind="bundle"):
        """Open File > Download as; return the entry marked ``data-nbext-pkg=kind`` once
        our module has marked it (and fail if more than one is)."""
        self.open_download_menu()
        css = f'#download_menu a[data-nbext-pkg="{kind}"]'
        entry = self.visible(css, f'the Download as entry marked "{kind}"')
        marked = self.find_all(css)
        assert len(marked) == 1, f'{len(marked)} Download as entries marked "{kind}"'
        return entry

    def stock_download_as_entry(self, bundler_id):
        """Open File > Download as; return the entry the notebook itself added for the bundler
        ``bundler_id`` (it has no mark: the one labelled as the page's config registers it)."""
        self.open_download_menu()
        return self.wait(
            lambda d: d.execute_script(
                "var data = Jupyter.notebook.config.data || {};"
                "var ours = (data.bundlerextensions || {})[arguments[0]];"
                "if (!ours) { return null; }"
                "var found = Array.prototype.filter.call("
                "  document.querySelectorAll('#download_menu li > a'),"
                "  function (a) { return a.textContent === ours.label; });"
                "return found.length === 1 ? found[0] : null;",
                bundler_id,
            ),
            f"waiting for the notebook's own Download as entry for {bundler_id}",
        )

    def download_as_labels(self):
        """The labels of every entry in the open Download as submenu, in order."""
        return [a.text for a in self.find_all("#download_menu li a")]

    def choose(self, entry):
        """Click a menu entry as a person does: the pointer moves onto it first."""
        ActionChains(self.driver).move_to_element(entry).click().perform()

    def download_as(self, kind="bundle"):
        """File > Download as > the entry marked ``kind`` (ours: "bundle")."""
        self.choose(self.download_as_entry(kind))

    def record_notices(self):
        """From now on, keep every text the notification area's nbext_pkg widget shows
        (read with ``notices()``), however briefly it is shown."""
        self.js(
            "window.__nbext_notices = [];"
            "var area = Jupyter.notification_area;"
            "var w = area.widget('nbext_pkg') || area.new_notification_widget('nbext_pkg');"
            "var set = w.set_message.bind(w);"
            "w.set_message = function (msg) { window.__nbext_notices.push(String(msg));"
            "  return set.apply(null, arguments); };"
        )

    def notices(self):
        return self.js("return window.__nbext_notices || [];")

    def open_session_info(self):
        self.menu("#kernellink", "#nbext_pkg-session-info-menu a")
        return self.modal("#nbext_pkg-session-info-dialog", "the Session info dialog")

    def session_info_values(self):
        return self.js(
            "var out = {};"
            "document.querySelectorAll('#nbext_pkg-session-info-dialog tr[data-field]').forEach("
            "  function (row) {"
            "    out[row.dataset.field] = row.querySelector('.nbext_pkg-value').textContent; });"
            "return out;"
        )
