"""The browser-test harness: JupyterLab (from PyPI, in the test venv, with the Joule kernelspec
installed there) on 127.0.0.1, and headless Chromium (Debian's chromium + chromium-driver) driven
by selenium. Tests get a `lab` (the server: URL, token, notebook folder, log) and a `page` (the
browser on it, with helpers for notebooks); screenshots and the server log go to the output folder
(runs/browser-tests/ unless BROWSER_TESTS_OUT says otherwise).

The page drives JupyterLab as a user does (menus, dialogs, keys) and reads its state through the
app object JupyterLab exposes to the page with --LabApp.expose_app_in_browser."""
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
JOULE = os.environ.get("JOULE", str(ROOT / ".build/release/joule"))
OUT = Path(os.environ.get("BROWSER_TESTS_OUT", ROOT / "runs/browser-tests"))
TIMEOUT = 60


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A JupyterLab server of its own: notebooks in `root`, its output (and the kernels') in `log`."""

    def __init__(self, root, log):
        self.root, self.log = Path(root), Path(log)
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        # Config, data and runtime of this server only (no user settings, no other kernelspecs).
        home = self.root.parent / "jupyter-home"
        env.update(JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
                   JUPYTER_DATA_DIR=str(Path(sys.prefix) / "share/jupyter"),
                   JUPYTER_PATH=str(Path(sys.prefix) / "share/jupyter"))
        # No "get notified about Jupyter news?" toast over the notebook.
        settings = home / "lab-settings"
        (settings / "@jupyterlab/apputils-extension").mkdir(parents=True, exist_ok=True)
        (settings / "@jupyterlab/apputils-extension/notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False}))
        self.logfile = open(self.log, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
             f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
             f"--ServerApp.root_dir={self.root}", "--LabApp.expose_app_in_browser=True",
             f"--LabApp.user_settings_dir={settings}",
             "--allow-root"],  # CI containers run as root; Jupyter refuses that unless told
            stdout=self.logfile, stderr=subprocess.STDOUT, env=env, cwd=self.root)
        deadline = time.time() + TIMEOUT
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2)
                return
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"JupyterLab did not start:\n{self.log.read_text()}")
                time.sleep(0.2)

    def api(self, path):
        with urllib.request.urlopen(f"{self.url}/api/{path}?token={self.token}", timeout=10) as r:
            return json.load(r)

    def write_notebook(self, name, cells):
        """A notebook for the Joule kernel in the server's folder; `cells` are code sources."""
        nb = {"nbformat": 4, "nbformat_minor": 5,
              "metadata": {"kernelspec": {"name": "joule", "display_name": "Joule (Lua)", "language": "lua"},
                           "language_info": {"name": "lua"}},
              "cells": [{"cell_type": "code", "id": f"c{k}", "metadata": {}, "source": src, "outputs": [],
                         "execution_count": None} for k, src in enumerate(cells)]}
        (self.root / name).write_text(json.dumps(nb, indent=1))
        return name

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.logfile.close()


class Page:
    """Headless Chromium on the lab, with what notebook tests need."""

    # The notebook in the main area, as JupyterLab's app object sees it.
    PANEL = "const app = window.jupyterapp; const panel = app.shell.currentWidget;"

    def __init__(self, lab, shots):
        self.lab, self.shots = lab, Path(shots)
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                    "--window-size=1400,1000", "--no-first-run", "--disable-extensions"):
            options.add_argument(arg)
        service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
        self.driver = webdriver.Chrome(options=options, service=service)
        self.driver.set_script_timeout(TIMEOUT)

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def wait(self, what, condition, timeout=TIMEOUT):
        """Waits until `condition(self)` is truthy; fails with a screenshot named after `what`."""
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(lambda _: condition(self))
        except Exception:
            self.screenshot("timeout-" + what.replace(" ", "-"))
            raise AssertionError(f"timed out waiting for {what}")

    def screenshot(self, name):
        self.shots.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(self.shots / f"{name}.png"))

    def open(self, notebook):
        """Opens a notebook from the server's folder and waits for its kernel to be idle."""
        self.driver.get(f"{self.lab.url}/lab/tree/{notebook}?token={self.lab.token}&reset")
        self.wait("the notebook", lambda p: p.js(
            self.PANEL + "return !!(panel && panel.content && panel.context && panel.context.path === arguments[0])",
            notebook))
        self.wait_kernel("idle")

    def kernel(self):
        """(id, status, connection status) of the notebook's kernel, or None."""
        return self.js(self.PANEL + """
            const k = panel.sessionContext.session && panel.sessionContext.session.kernel;
            return k ? [k.id, k.status, k.connectionStatus] : null;""")

    def wait_kernel(self, status, timeout=TIMEOUT):
        self.wait(f"kernel {status}", lambda p: (p.kernel() or [None, None, None])[1:] == [status, "connected"], timeout)

    def menu(self, menu, entry):
        """Clicks a menu bar item, then the entry labelled `entry` (an ellipsis aside), as a user
        picks Run ▸ Run All Cells."""
        bar = [e for e in self.driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item") if e.text.strip() == menu]
        assert bar, f"no '{menu}' menu"
        bar[0].click()

        def find(p):
            for e in p.driver.find_elements(By.CSS_SELECTOR, ".lm-Menu-item:not(.lm-mod-disabled)"):
                labels = e.find_elements(By.CSS_SELECTOR, ".lm-Menu-itemLabel")
                if e.is_displayed() and labels and labels[0].text.strip().rstrip("…") == entry:
                    return e
            return None
        self.wait(f"menu entry {entry}", find).click()

    def accept_dialog(self):
        """Clicks the accepting button of the dialog now open (e.g. Restart)."""
        button = self.wait("a dialog", lambda p: p.visible(".jp-Dialog .jp-mod-accept"))
        button.click()
        self.wait("the dialog to close", lambda p: not p.driver.find_elements(By.CSS_SELECTOR, ".jp-Dialog"))

    def visible(self, css):
        for e in self.driver.find_elements(By.CSS_SELECTOR, css):
            if e.is_displayed():
                return e
        return None

    def cells(self):
        """Each code cell's execution count and outputs (type, and text or MIME types), from the model."""
        return self.js(self.PANEL + """
            const out = [];
            for (const cell of panel.content.widgets) {
              const m = cell.model;
              if (m.type !== 'code') continue;
              const outputs = [];
              for (let i = 0; i < m.outputs.length; i++) {
                const o = m.outputs.get(i).toJSON();
                outputs.push({type: o.output_type, text: [].concat(o.text || (o.data && o.data['text/plain']) || o.evalue || '').join(''),
                              mimes: Object.keys(o.data || {}), ename: o.ename || null});
              }
              out.push({count: m.executionCount, outputs: outputs});
            }
            return out;""")

    def run_all(self):
        self.menu("Run", "Run All Cells")

    def close(self):
        self.driver.quit()


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    OUT.mkdir(parents=True, exist_ok=True)
    # This run's pictures only (the folder may be the user's: nothing else in it is touched).
    for old in OUT.glob("*.png"):
        old.unlink()
    root = tmp_path_factory.mktemp("lab") / "notebooks"
    root.mkdir()
    server = Lab(root, OUT / "jupyterlab.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser(lab):
    p = Page(lab, OUT)
    yield p
    p.close()


@pytest.fixture
def page(browser, request):
    """The browser, with a screenshot at the end of each test (named after it)."""
    yield browser
    browser.screenshot(request.node.name)
