"""Shared by the notebook tests: the joule binary, a small glyph corpus, the parameters every
notebook runs with, and each notebook's `joule notebook run` output (made once, compared by both
test_notebooks.py and test_papermill.py)."""
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
JOULE = os.environ.get("JOULE", str(ROOT / ".build/release/joule"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# joule_papermill lives in python/ (users put it on PYTHONPATH the same way).
sys.path.insert(0, str(ROOT / "python"))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("data") / "glyphs"
    subprocess.run([JOULE, "data", "glyphs", "--out", str(d), "--count", "600"], check=True, capture_output=True)
    return d


@pytest.fixture(scope="session")
def notebook_params(data_dir):
    """What every notebook runs with: the corpus, and a seed other than the notebooks' default (so
    a runner that dropped parameters would give other numbers)."""
    return {"data": str(data_dir), "seed": 2}


@pytest.fixture(scope="session")
def joule_run(tmp_path_factory, notebook_params):
    """path → the notebook as `joule notebook run -p ...` wrote it (run once per notebook, in a
    working folder of its own: notebooks may write runs/)."""
    cache = {}

    def run(path):
        if path not in cache:
            work = tmp_path_factory.mktemp("joule-run-" + path.stem)
            out = work / "out.ipynb"
            args = [x for k, v in notebook_params.items() for x in ("-p", f"{k}={v}")]
            r = subprocess.run([JOULE, "notebook", "run", str(path), "-o", str(out), "-q"] + args,
                               cwd=work, capture_output=True, text=True)
            assert r.returncode == 0, r.stderr
            cache[path] = nbformat.read(out, as_version=4)
        return cache[path]

    return run
