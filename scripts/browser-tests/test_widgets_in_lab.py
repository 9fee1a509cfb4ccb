"""Live widgets in JupyterLab (ipywidgets 8 from PyPI in this environment): notebook 08 as it is, run
all; the step-size slider moved with the keyboard reruns the sampler, and the Image widget under it
shows other bytes, with no error anywhere; saved and reopened, the page shows the same picture again
(the models' state fetched back from the kernel). The screenshot (widgets.png in the output folder)
is the README's."""
import hashlib
import shutil
import subprocess

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

from conftest import JOULE, ROOT

NOTEBOOK = "08-interactive-sampling.ipynb"

# The Image widget's picture (the one in the VBox of the sampler's controls) as a SHA-256 of its
# bytes, read back from its blob URL; null until it is drawn.
IMAGE_BYTES = """
    const done = arguments[arguments.length - 1];
    const img = document.querySelector('.jp-OutputArea .widget-image');
    if (!img || !img.src) { done(null); return; }
    fetch(img.src).then(r => r.arrayBuffer()).then(b => crypto.subtle.digest('SHA-256', b))
      .then(h => done([...new Uint8Array(h)].map(x => x.toString(16).padStart(2, '0')).join('')))
      .catch(() => done(null));"""


def image_hash(page):
    return page.driver.execute_async_script(IMAGE_BYTES)


def label_text(page):
    """The sampler's energy line (a Label widget; descriptions are .widget-label too)."""
    return page.js("""
        const l = [...document.querySelectorAll('.jp-OutputArea .widget-label')].find(e => e.textContent.startsWith('mean E'));
        return l ? l.textContent : null;""")


def slider_readout(page, description):
    return page.js("""
        for (const s of document.querySelectorAll('.jp-OutputArea .widget-slider')) {
          const d = s.querySelector('.widget-label');
          if (d && d.textContent.trim() === arguments[0]) return s.querySelector('.widget-readout').textContent.trim();
        }
        return null;""", description)


def test_moving_the_step_size_slider_redraws_the_samples(lab, page):
    # The notebook as it is; its default data folder made next to it (the kernel runs there).
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, lab.root / NOTEBOOK)
    subprocess.run([JOULE, "data", "glyphs", "--out", str(lab.root / "data/glyphs-small"), "--count", "600"],
                   check=True, capture_output=True)
    page.open(NOTEBOOK)
    page.run_all()
    page.wait("every cell run", lambda p: all(c["count"] for c in p.cells()) and p.kernel()[1] == "idle", timeout=120)
    cells = page.cells()
    assert not [o for c in cells for o in c["outputs"] if o["type"] == "error"], cells
    # The widgets rendered: the sliders, the dropdown, the sampler's picture and its energy line.
    page.wait("the widgets", lambda p: p.js("return document.querySelectorAll('.jp-OutputArea .widget-slider').length >= 4"))
    before = page.wait("the samples' picture", image_hash)
    energy = label_text(page)
    assert energy and energy.startswith("mean E(x, y) of the samples: "), energy
    readout = slider_readout(page, "step size")
    assert readout, readout

    # Focus the step-size slider's handle and press → twice (each step: 0.25 of a decade).
    handle = page.js("""
        for (const s of document.querySelectorAll('.jp-OutputArea .widget-slider')) {
          const d = s.querySelector('.widget-label');
          if (d && d.textContent.trim() === 'step size') return s.querySelector('.noUi-handle');
        }
        return null;""")
    assert handle is not None
    page.js("arguments[0].scrollIntoView({block: 'center'}); arguments[0].focus();", handle)
    ActionChains(page.driver).send_keys(Keys.ARROW_RIGHT).pause(0.3).send_keys(Keys.ARROW_RIGHT).perform()
    page.wait("the slider's new value", lambda p: slider_readout(p, "step size") not in (None, readout))
    after = page.wait("a new picture", lambda p: (lambda h: h if h and h != before else None)(image_hash(p)), timeout=60)
    page.wait("the kernel idle", lambda p: p.kernel()[1] == "idle")
    after = image_hash(page)
    assert after != before
    page.wait("a new energy line", lambda p: label_text(p) != energy)
    # No error: not in the cells, not in a widget's output, not on the page.
    cells = page.cells()
    assert not [o for c in cells for o in c["outputs"] if o["type"] == "error"]
    assert not page.js("return document.querySelectorAll('.jp-OutputArea-output[data-mime-type*=\"stderr\"], .jp-RenderedText[data-mime-type*=\"error\"]').length")
    # The picture for the README: the controls and the samples.
    page.js("""
        const box = document.querySelector('.jp-OutputArea .widget-slider').closest('.widget-vbox');
        box.scrollIntoView({block: 'start'});
        const scroller = box.closest('.jp-WindowedPanel-outer');
        if (scroller) scroller.scrollTop -= 160;  // the end of the cell's code too""")
    page.wait("the scrolled page to settle", lambda p: p.js("return new Promise(r => requestAnimationFrame(() => r(true)))"))
    page.screenshot("widgets")

    # Saved and reloaded, the page gets every model's state back from the kernel (the control
    # comm's request_states): the same picture, not "Error displaying widget".
    page.driver.execute_async_script(page.PANEL + "panel.context.save().then(() => arguments[arguments.length - 1](true));")
    page.open(NOTEBOOK)
    page.js(page.PANEL + """
        const i = panel.content.widgets.findIndex(c => c.model.sharedModel.getSource().includes('function resample'));
        panel.content.activeCellIndex = i; panel.content.scrollToItem(i);""")
    page.wait("the widgets again", lambda p: image_hash(p) == after, timeout=60)
    assert "Error displaying widget" not in page.js("return document.body.innerText")
    assert slider_readout(page, "step size") not in (None, readout)
