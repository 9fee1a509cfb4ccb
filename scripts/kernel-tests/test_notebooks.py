"""Every notebook in notebooks/ run twice — by `joule notebook run` and by nbclient through the Joule
kernel — with the same parameters: both outputs validate as nbformat, and they agree (printed text,
cell values, errors, the kinds of pictures; numbers to a relative 1e-4, never timings)."""
import copy
import math
import re
import subprocess
import time
import uuid

import nbclient
import nbformat
import pytest

from conftest import JOULE, NOTEBOOKS


def lua_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lua_value(v):
    return lua_string(v) if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)


def inject(nb, params):
    """papermill's convention, as `joule notebook run -p` applies it: a cell tagged
    injected-parameters right after the cell tagged parameters."""
    nb = copy.deepcopy(nb)
    fields = [f"{k} = {lua_value(v)}" for k, v in params.items()]
    src = "\n".join(["-- Parameters injected by joule notebook run -p"] + fields
                    + ["joule.set_params{ " + ", ".join(fields) + " }"])
    cell = nbformat.v4.new_code_cell(src, metadata={"tags": ["injected-parameters"]})
    cell.id = uuid.uuid4().hex[:8]
    at = next((i + 1 for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])), 0)
    nb.cells.insert(at, cell)
    return nb


NUMBER = re.compile(r"-?\d+\.\d+(?:[eE][-+]?\d+)?|-?\d+[eE][-+]?\d+")


def same_text(a, b):
    """Equal but for the last digits of floating-point numbers."""
    na, nb_ = NUMBER.findall(a), NUMBER.findall(b)
    if NUMBER.sub("#", a) != NUMBER.sub("#", b) or len(na) != len(nb_):
        return False
    return all(math.isclose(float(x), float(y), rel_tol=1e-4, abs_tol=1e-6) for x, y in zip(na, nb_))


def summary(nb):
    """Per code cell: stdout text, values, picture kinds, errors (stderr holds progress timings)."""
    out = []
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        stdout, items = "", []
        for o in c.outputs:
            if o.output_type == "stream" and o.name == "stdout":
                stdout += o.text
            elif o.output_type in ("execute_result", "display_data"):
                items.append((o.output_type, sorted(o.data), o.data.get("text/plain", "")))
            elif o.output_type == "error":
                items.append(("error", o.ename, o.evalue))
        out.append((stdout, items))
    return out


def assert_same_outputs(a, b):
    sa, sb = summary(a), summary(b)
    assert len(sa) == len(sb)
    for k, (x, y) in enumerate(zip(sa, sb)):
        assert same_text(x[0], y[0]), f"cell {k + 1}: stdout differs:\n{x[0]}\n---\n{y[0]}"
        assert len(x[1]) == len(y[1]), f"cell {k + 1}: outputs differ: {x[1]} vs {y[1]}"
        for p, q in zip(x[1], y[1]):
            assert p[:2] == q[:2] and same_text(str(p[2]), str(q[2])), f"cell {k + 1}: {p} vs {q}"
    # Notebooks are about pictures: every one shows some, and no cell failed.
    assert any("image/png" in item[1] for _, items in sa for item in items if item[0] != "error")
    assert not any(item[0] == "error" for _, items in sa for item in items)


# Each notebook must stay quick: the tests run it three times (here, by nbclient, by papermill).
SECONDS_PER_NOTEBOOK = 60


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_the_same_both_ways(path, notebook_params, joule_run, tmp_path):
    # 1. joule notebook run -p (conftest.joule_run, in its own working folder).
    a = joule_run(path)
    nbformat.validate(a)

    # 2. nbclient through the kernel, with the same injected cell.
    nb = inject(nbformat.read(path, as_version=4), notebook_params)
    client = nbclient.NotebookClient(nb, kernel_name="joule", timeout=600, resources={"metadata": {"path": str(tmp_path)}})
    started = time.monotonic()
    client.execute()
    seconds = time.monotonic() - started
    nbformat.write(nb, tmp_path / "b.ipynb")
    b = nbformat.read(tmp_path / "b.ipynb", as_version=4)
    nbformat.validate(b)
    assert_same_outputs(a, b)
    assert seconds < SECONDS_PER_NOTEBOOK, f"{path.name} took {seconds:.0f} s through the kernel"


def test_parameters_are_injected_after_the_parameters_cell(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("steps = 3\nname = 'default'", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("print(steps * 2, name)")]
    src = tmp_path / "p.ipynb"
    nbformat.write(nb, src)
    r = subprocess.run([JOULE, "notebook", "run", str(src), "-o", str(tmp_path / "out.ipynb"), "-p", "steps=5", "-p", "name=it's"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    nbformat.validate(out)
    assert out.cells[1].metadata["tags"] == ["injected-parameters"]
    assert out.cells[2].outputs[0].text == "10\tit's\n"


def test_first_error_stops_the_run_and_the_notebook_is_still_written(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print('one')"), nbformat.v4.new_code_cell("error('two')"),
                nbformat.v4.new_code_cell("print('three')")]
    src = tmp_path / "e.ipynb"
    nbformat.write(nb, src)
    r = subprocess.run([JOULE, "notebook", "run", str(src), "-o", str(tmp_path / "out.ipynb")], capture_output=True, text=True)
    assert r.returncode == 1
    assert "two" in r.stderr
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    nbformat.validate(out)
    assert [o.output_type for o in out.cells[1].outputs] == ["error"]
    assert out.cells[2].outputs == [] and out.cells[2].execution_count is None
    # --allow-errors runs on and exits 0.
    r = subprocess.run([JOULE, "notebook", "run", str(src), "-o", str(tmp_path / "out2.ipynb"), "--allow-errors"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    out = nbformat.read(tmp_path / "out2.ipynb", as_version=4)
    assert out.cells[2].outputs[0].text == "three\n"


@pytest.mark.parametrize("content,message", [
    ("{ not json", "malformed JSON"),
    ('{"nbformat": 4, "metadata": {}}', "no 'cells' list"),
    ('{"nbformat": 4, "cells": [{"cell_type": "code"}]}', "cell 1 has no 'source'"),
])
def test_malformed_notebook_gives_a_clear_error(tmp_path, content, message):
    src = tmp_path / "bad.ipynb"
    src.write_text(content)
    r = subprocess.run([JOULE, "notebook", "run", str(src), "-o", str(tmp_path / "out.ipynb")], capture_output=True, text=True)
    assert r.returncode == 1
    assert message in r.stderr and "bad.ipynb" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "out.ipynb").exists()
