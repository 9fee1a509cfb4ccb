"""The Joule kernel as a JupyterLab user meets it: the launcher's logo, Run All with inline figures,
Tab completion and Shift-Tab help, Run All stopping at a failing cell, and ten restarts (some
while a cell runs, some after interrupting it) that never crash the kernel."""
import json
import re
import subprocess
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from conftest import JOULE, ROOT

# What in the server's log (the kernels' standard error goes there too) means a kernel crashed or
# died: libzmq's assertion, a Swift crash report, Jupyter's restarter bringing back a dead kernel.
CRASH = re.compile(r"Assertion failed|swift-runtime|Fatal error|Crash|Segmentation fault|KernelRestarter|died")


# Makes the last cell the active one (the code after it sees `app` and `panel`).
SELECT_LAST = ("const app = window.jupyterapp; const panel = app.shell.currentWidget;"
               "panel.content.activeCellIndex = panel.content.widgets.length - 1;")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("data") / "glyphs"
    subprocess.run([JOULE, "data", "glyphs", "--out", str(d), "--count", "600"], check=True, capture_output=True)
    return d


def test_the_launcher_shows_the_kernel_logo(lab, page):
    spec = lab.api("kernelspecs")["kernelspecs"]["joule"]
    assert {"logo-64x64", "logo-svg"} <= set(spec["resources"]), spec["resources"]
    page.driver.get(f"{lab.url}/lab?token={lab.token}&reset")
    page.wait("the app", lambda p: p.js("return !!(window.jupyterapp && window.jupyterapp.shell)"))
    page.js("window.jupyterapp.commands.execute('launcher:create');")
    logo = page.wait("the launcher's Joule tile", lambda p: p.js("""
        const card = [...document.querySelectorAll('.jp-LauncherCard')].find(c => c.title.includes('Joule'));
        const img = card && card.querySelector('img');
        return img && img.complete && img.naturalWidth > 0 ? img.getAttribute('src') : null;"""))
    assert "kernelspecs/joule/logo" in logo
    page.screenshot("launcher")


def test_run_all_renders_figures_and_completion_and_help_work(lab, page, corpus):
    # Notebook 01 as it is, with the parameters cell pointing at a small corpus.
    nb = json.loads((ROOT / "notebooks/01-data.ipynb").read_text())
    for cell in nb["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            cell["source"] = f'data = "{corpus}"\nseed = 1'
    (lab.root / "01-data.ipynb").write_text(json.dumps(nb))
    page.open("01-data.ipynb")
    page.run_all()
    n = len([c for c in nb["cells"] if c["cell_type"] == "code"])
    page.wait("every cell run", lambda p: all(c["count"] for c in p.cells()) and p.kernel()[1] == "idle")
    cells = page.cells()
    assert [c["count"] for c in cells] == list(range(1, n + 1))
    assert not [o for c in cells for o in c["outputs"] if o["type"] == "error"]
    pictures = page.wait("figures drawn", lambda p: p.js("""
        const imgs = [...document.querySelectorAll('.jp-OutputArea-output img')];
        return imgs.length >= 3 && imgs.every(i => i.complete && i.naturalWidth > 0) ? imgs.length : 0;"""))
    assert pictures >= 3
    page.screenshot("run-all-notebook-01")

    # A new cell at the end: Tab lists joule.tensor's rand and randn.
    page.js(SELECT_LAST + "app.commands.execute('notebook:insert-cell-below');")
    editor = page.wait("the new cell's editor", lambda p: p.visible(".jp-Cell.jp-mod-active .cm-content"))
    editor.click()
    editor.send_keys("x = joule.tensor.ra")
    editor.send_keys(Keys.TAB)
    items = page.wait("the completion list", lambda p: [e.text for e in p.driver.find_elements(
        By.CSS_SELECTOR, ".jp-Completer .jp-Completer-item .jp-Completer-match") if e.is_displayed()])
    assert {"rand", "randn"} <= set(items), items
    page.screenshot("completion")
    editor.send_keys(Keys.ESCAPE)
    # Shift-Tab on joule.ebm.SGLD: the documentation, its signature rendered as code (Markdown).
    page.js(SELECT_LAST + "app.commands.execute('notebook:enter-edit-mode');")
    editor = page.wait("the editor", lambda p: p.visible(".jp-Cell.jp-mod-active .cm-content"))
    editor.send_keys(Keys.END, Keys.ENTER, "joule.ebm.SGLD")
    editor.send_keys(Keys.SHIFT, Keys.TAB)
    tip = page.wait("the help tooltip", lambda p: p.visible(".jp-Tooltip"))
    assert "joule.ebm.SGLD" in tip.text
    assert tip.find_elements(By.CSS_SELECTOR, "pre, code"), "the signature is not rendered as code"
    page.screenshot("help-tooltip")
    editor.send_keys(Keys.ESCAPE)


def test_run_all_stops_at_the_failing_cell(lab, page):
    # JupyterLab makes Run All's requests a few milliseconds apart; a cell that fails within a
    # millisecond can fail before the next request is even made, and a request made after the
    # failure is not queued behind it (the kernel runs it, as ipykernel would). The failing cell
    # takes 0.2 s, as a real one does, so that the third request is queued when it fails.
    slow_error = "local t = os.clock() while os.clock() - t < 0.2 do end error('two fails')"
    page.open(lab.write_notebook("error-stops.ipynb", ["print('one')", slow_error, "print('three')"]))
    page.run_all()
    page.wait("the error", lambda p: any(o["type"] == "error" for o in p.cells()[1]["outputs"]))
    page.wait_kernel("idle")
    # Had the third cell been run, it would have been by now (it takes a millisecond).
    time.sleep(1.0)
    first, second, third = page.cells()
    assert [o["text"] for o in first["outputs"]] == ["one\n"]
    assert second["outputs"][0]["ename"] == "LuaError" and "two fails" in second["outputs"][0]["text"]
    assert third["count"] is None and third["outputs"] == []
    prompts = [e.text for e in page.driver.find_elements(By.CSS_SELECTOR, ".jp-Cell .jp-InputPrompt")]
    assert prompts[2] == "[ ]:", prompts
    page.screenshot("run-all-stopped")


def run_cell(page, index):
    page.js("const app = window.jupyterapp; const panel = app.shell.currentWidget;"
            "panel.content.activeCellIndex = arguments[0]; app.commands.execute('notebook:run-cell');", index)


def test_ten_restarts_some_after_interrupts_never_crash(lab, page):
    page.open(lab.write_notebook("restarts.ipynb", ["n = 0\nwhile true do n = n + 1 end", "print('alive')"]))
    for k in range(10):
        if k % 2 == 0:
            run_cell(page, 0)
            page.wait_kernel("busy")
            time.sleep(0.3)
            if k % 4 == 0:
                page.menu("Kernel", "Interrupt Kernel")
                page.wait("the interrupt", lambda p: any(o["ename"] == "Interrupted" for o in p.cells()[0]["outputs"]))
        page.js("window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs');")
        page.menu("Kernel", "Restart Kernel")
        page.accept_dialog()
        page.wait_kernel("idle")
        run_cell(page, 1)
        # Count 1: a new kernel answered (the old one had counted further).
        page.wait(f"the kernel to answer after restart {k + 1}",
                  lambda p: p.cells()[1]["count"] == 1 and [o["text"] for o in p.cells()[1]["outputs"]] == ["alive\n"])
        if k in (0, 9):
            page.screenshot(f"after-restart-{k + 1}")
    log = lab.log.read_text()
    assert not CRASH.findall(log), log
    assert log.count("Kernel restarted") >= 10, log


def test_io_read_asks_with_the_text_written_before_it(lab, page):
    page.open(lab.write_notebook("input.ipynb", ["io.write('your name? ')\nlocal name = io.read()\nprint('hello ' .. name)",
                                                 "return io.read()"]))
    run_cell(page, 0)
    box = page.wait("the input box", lambda p: p.visible(".jp-Stdin-input"))
    prompt = page.driver.find_elements(By.CSS_SELECTOR, ".jp-Stdin-prompt")[-1].text
    assert prompt.strip() == "your name?", prompt
    page.screenshot("input-prompt")
    box.send_keys("Ada", Keys.ENTER)
    page.wait("the answer", lambda p: any("hello Ada" in o["text"] for o in p.cells()[0]["outputs"]))
    # Nothing written before it: the box says "input".
    run_cell(page, 1)
    page.wait("the second input box", lambda p: p.visible(".jp-Stdin-input"))
    assert page.driver.find_elements(By.CSS_SELECTOR, ".jp-Stdin-prompt")[-1].text.strip() == "input"
    page.visible(".jp-Stdin-input").send_keys("x", Keys.ENTER)
    page.wait("the value", lambda p: p.cells()[1]["count"] is not None)
