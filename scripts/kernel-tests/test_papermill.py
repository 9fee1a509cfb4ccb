"""papermill runs Joule notebooks with parameters through the kernel, with python/joule_papermill.py's
Lua translator: the injected cell is there and tagged, the parameters take effect — as plain globals
and through joule.params — exactly as with `joule notebook run -p`, and the output validates. With the
package installed (`pip install ./python`), the plain `papermill` command and `papermill.execute_notebook`
do all of it without naming joule_papermill."""
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import papermill
import pytest

import joule_papermill
from conftest import JOULE, NOTEBOOKS, ROOT
from test_notebooks import assert_same_outputs

T = joule_papermill.LuaTranslator


def test_translator_is_registered_for_lua_and_the_joule_kernel():
    from papermill.translators import papermill_translators
    assert papermill_translators.find_translator("joule", "lua") is T
    assert papermill_translators.find_translator("other", "lua") is T


def test_python_values_become_lua_literals(tmp_path):
    values = {
        "s": 'say "hi"\\ \n\tünïcode', "n": None, "t": True, "f": False, "i": -42, "big": 2**70,
        "x": 1e-05, "y": 3.0, "inf": math.inf, "ninf": -math.inf, "nan": math.nan,
        "l": [1, "two", [3.5, None, False]], "d": {"a": 1, "not a name": "v", "end": {"k": [1]}}, "e": [], "ed": {},
    }
    assert T.translate(values["s"]) == '"say \\"hi\\"\\\\ \\n\\tünïcode"'
    assert T.translate(None) == "nil" and T.translate(True) == "true" and T.translate(-42) == "-42"
    assert T.translate(1e-05) == "1e-05" and T.translate(math.inf) == "math.huge"
    assert T.translate({"a": 1, "end": 2}) == '{ a = 1, ["end"] = 2 }'
    assert T.comment("Parameters") == "-- Parameters" and T.assign("a", "1") == "a = 1"
    # Lua reads every literal back as the same value.
    lines = [f"{k} = {T.translate(v)}" for k, v in values.items()] + [
        "assert(s == 'say \"hi\"\\\\ \\n\\tünïcode')",
        "assert(n == nil and t == true and f == false and math.type(i) == 'integer' and i == -42)",
        "assert(math.type(big) == 'float' and big == 2^70 and x == 1e-05 and math.type(y) == 'float')",
        "assert(inf == math.huge and ninf == -math.huge and nan ~= nan)",
        "assert(#l == 3 and l[2] == 'two' and l[3][1] == 3.5 and l[3][2] == nil and l[3][3] == false)",
        "assert(d.a == 1 and d['not a name'] == 'v' and d['end'].k[1] == 1 and next(e) == nil and next(ed) == nil)",
        "print('ok')",
    ]
    (tmp_path / "lit.lua").write_text("\n".join(lines) + "\n")
    r = subprocess.run([JOULE, "run", str(tmp_path / "lit.lua")], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "ok\n", r.stderr


def test_every_type_is_translated_by_joule_byte_for_byte(tmp_path):
    """Tuples, paths and bytes once went to papermill's generic fallback, which does not escape `"`:
    a value closed the Lua string and os.execute ran. Every type is Joule's own now, and Lua reads
    back the very bytes, whatever they hold (quotes, control bytes, a digit after one, invalid UTF-8)."""
    attack = '"); os.execute("touch pwned") --'
    strings = {
        "tuple_s": (attack,), "path": Path("/tmp") / attack, "raw": attack.encode(), "ctl": b"\x012\x1f99\x00\r\n\\",
        "invalid": b"\xff\xfe\xc0\x80\xed\xa0\x80\xf4\x90\x80\x80\xe2\x82", "surrogate": "caf\udcc3\udca9",
        "utf8": "ünïcode ✓ \U0001d11e \u0085", "bytearray": bytearray(b'"]]'), "memory": memoryview(b"\\'"),
    }
    expected = {k: (v[0].encode() if isinstance(v, tuple) else os.fsencode(v) if isinstance(v, Path)
                    else v.encode("utf-8", "surrogateescape") if isinstance(v, str) else bytes(v)) for k, v in strings.items()}
    lines = [f"{k} = {T.translate(v)}" for k, v in strings.items()]
    lines += [f'io.open({T.translate(str(tmp_path / k))}, "wb"):write(type({k}) == "table" and {k}[1] or {k}):close()' for k in strings]
    lines += [f"t = {T.translate((1, (2.5, None, 'x'), {'k': (True,)}, -2**63, 2**63))}",
              "assert(t[1] == 1 and t[2][1] == 2.5 and t[2][2] == nil and t[2][3] == 'x' and t[3].k[1] == true)",
              "assert(t[4] == math.mininteger and math.type(t[4]) == 'integer' and t[5] == 2^63)",
              "print('ok')"]
    (tmp_path / "lit.lua").write_text("\n".join(lines) + "\n")
    r = subprocess.run([JOULE, "run", str(tmp_path / "lit.lua")], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == "ok\n", r.stderr
    for k, want in expected.items():
        assert (tmp_path / k).read_bytes() == want, k
    assert not (tmp_path / "pwned").exists()
    # Text with a control byte and a digit after it: the escape never takes the digit.
    assert T.translate("\x012") == '"\\0012"'
    # What Lua cannot hold is refused, never handed to a fallback.
    for bad in ({1, 2}, object(), "\ud800", {None: 1}):
        with pytest.raises((TypeError, ValueError)):
            T.translate(bad)


def test_reading_a_parameters_cell_is_linear():
    """16,000 unclosed `joule.params{` on one line took more than 20 s (a backtracking expression)."""
    for source in ["joule.params{" * 16000, "x = 1\n" + "joule.params{ a = 1 " * 16000,
                   "joule.params{ a = 1 }\n" * 16000, "a = " + " " * 200000 + "x", "p = joule.params{" + "," * 200000 + "}"]:
        start = time.monotonic()
        T.inspect(nbformat.v4.new_code_cell(source))
        assert time.monotonic() - start < 2, source[:40]
    cell = nbformat.v4.new_code_cell("x = 1\np = joule.params{ a = 2 } y = 3\nq = joule.params{ b = 'c',\n d = 4 }\nz = 5 -- last")
    assert [(p.name, p.default, p.help) for p in T.inspect(cell)] == [
        ("x", "1", ""), ("z", "5", "last"), ("a", "2", ""), ("b", "'c'", ""), ("d", "4", "")]


def test_codify_ends_with_set_params_and_rejects_non_names():
    assert T.codify({"steps": 5, "name": "x"}) == (
        '-- Parameters\nsteps = 5\nname = "x"\njoule.set_params{ steps = 5, name = "x" }\n')
    with pytest.raises(ValueError):
        T.codify({"not a name": 1})


def test_inspect_reads_the_parameters_cell():
    cell = nbformat.v4.new_code_cell('data = "data/glyphs-small"  -- the corpus\nhidden = 16\nlr = 3e-3\nflag = true\nlocal x = 1\n'
                                     'p = joule.params{ steps = 60,\n  name = "x" }')
    got = [(p.name, p.inferred_type_name, p.default, p.help) for p in T.inspect(cell)]
    assert got == [("data", "str", '"data/glyphs-small"', "the corpus"), ("hidden", "int", "16", ""),
                   ("lr", "float", "3e-3", ""), ("flag", "bool", "true", ""), ("steps", "int", "60", ""),
                   ("name", "str", '"x"', "")]


def injected_cell_follows_parameters_cell(nb):
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    at = next(i for i, t in enumerate(tags) if "parameters" in t)
    assert "injected-parameters" in tags[at + 1], tags
    assert sum("injected-parameters" in t for t in tags) == 1
    return nb.cells[at + 1]


def test_globals_and_joule_params_see_the_same_values_in_both_runners(tmp_path):
    """The parameters cell may set globals or call joule.params: papermill's injected cell and
    `joule notebook run -p` give both the same values."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "joule", "language": "lua", "display_name": "Joule (Lua)"}})
    nb.cells = [
        nbformat.v4.new_code_cell('steps = 3\nname = "default"\np = joule.params{ lr = 0.1, epochs = 2, flag = false }',
                                  metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell('print(steps * 2, name, p.lr, math.type(p.epochs), p.epochs, p.flag)'),
    ]
    src = tmp_path / "p.ipynb"
    nbformat.write(nb, src)
    params = {"steps": 5, "name": "it's", "lr": 0.25, "epochs": 4, "flag": True}
    expected = "10\tit's\t0.25\tinteger\t4\ttrue\n"

    out = tmp_path / "pm.ipynb"
    papermill.execute_notebook(str(src), str(out), parameters=params, kernel_name="joule", progress_bar=False)
    pm = nbformat.read(out, as_version=4)
    nbformat.validate(pm)
    cell = injected_cell_follows_parameters_cell(pm)
    assert "steps = 5" in cell.source and "joule.set_params{" in cell.source
    assert pm.cells[-1].outputs[0].text == expected

    r = subprocess.run([JOULE, "notebook", "run", str(src), "-o", str(tmp_path / "jr.ipynb")]
                       + [x for k, v in params.items() for x in ("-p", f"{k}={str(v).lower() if isinstance(v, bool) else v}")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    jr = nbformat.read(tmp_path / "jr.ipynb", as_version=4)
    assert jr.cells[-1].outputs[0].text == expected


def test_command_line_entry(tmp_path, data_dir):
    """`python -m joule_papermill IN OUT -p key value`: papermill's CLI with the translator (and the
    joule kernel unless -k names one)."""
    out = tmp_path / "01.ipynb"
    r = subprocess.run([sys.executable, "-m", "joule_papermill", str(NOTEBOOKS[0]), str(out), "-p", "data", str(data_dir),
                        "-p", "seed", "2", "--cwd", str(tmp_path)], capture_output=True, text=True,
                       env={**__import__("os").environ, "PYTHONPATH": str(ROOT / "python")})
    assert r.returncode == 0, r.stderr
    nb = nbformat.read(out, as_version=4)
    nbformat.validate(nb)
    assert f'data = "{data_dir}"' in injected_cell_follows_parameters_cell(nb).source
    assert "train     420 images" in "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)


# The papermill command and a Python without python/ on its path: what `pip install ./python` gives a
# user (scripts/test-jupyter installs it so), with the translator registered by the entry point alone.
PAPERMILL = str(Path(sys.executable).parent / "papermill")
INSTALLED = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def test_entry_point_registers_the_translator_without_importing_joule_papermill(tmp_path):
    r = subprocess.run([sys.executable, "-c", "import papermill.translators as t, sys; "
                        "print(t.papermill_translators.find_translator('joule', 'lua').__name__, 'joule_papermill' in sys.modules)"],
                       capture_output=True, text=True, cwd=tmp_path, env=INSTALLED)
    assert r.returncode == 0 and r.stdout == "LuaTranslator True\n", r.stderr


def test_plain_execute_notebook(tmp_path):
    """papermill.execute_notebook in a program that never names joule_papermill."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "joule", "language": "lua", "display_name": "Joule (Lua)"}})
    nb.cells = [nbformat.v4.new_code_cell("epochs = 3", metadata={"tags": ["parameters"]}),
                nbformat.v4.new_code_cell("print(epochs * 2)")]
    nbformat.write(nb, tmp_path / "in.ipynb")
    r = subprocess.run([sys.executable, "-c", "import papermill; papermill.execute_notebook('in.ipynb', 'out.ipynb', "
                        "parameters={'epochs': 5}, kernel_name='joule', progress_bar=False)"],
                       capture_output=True, text=True, cwd=tmp_path, env=INSTALLED)
    assert r.returncode == 0, r.stderr
    assert nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[-1].outputs[0].text == "10\n"


def test_plain_help_notebook_lists_parameters():
    nb = next(p for p in NOTEBOOKS if p.stem.startswith("04"))
    r = subprocess.run([PAPERMILL, "--help-notebook", "-k", "joule", str(nb)], capture_output=True, text=True, env=INSTALLED)
    assert r.returncode == 0, r.stderr
    assert "Parameters inferred for notebook" in r.stdout, r.stdout
    for name in ("data", "epochs", "seed"):
        assert any(line.strip().startswith(name + ":") for line in r.stdout.splitlines()), (name, r.stdout)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_plain_papermill_runs_each_notebook_like_joule_notebook_run(path, notebook_params, joule_run, tmp_path):
    """`papermill -k joule IN OUT -p data D -p seed 2`: the notebook finds its data only through the
    `data` parameter (it runs in an empty folder), and with `seed` its numbers match those of
    `joule notebook run -p` with the same values."""
    out = tmp_path / "pm.ipynb"
    args = [x for k, v in notebook_params.items() for x in ("-p", k, str(v))]
    r = subprocess.run([PAPERMILL, "-k", "joule", str(path), str(out), *args, "--cwd", str(tmp_path), "--no-progress-bar"],
                       capture_output=True, text=True, env=INSTALLED)
    assert r.returncode == 0, r.stderr
    nb = nbformat.read(out, as_version=4)
    nbformat.validate(nb)
    cell = injected_cell_follows_parameters_cell(nb)
    assert f'data = "{notebook_params["data"]}"' in cell.source and "seed = 2" in cell.source
    assert_same_outputs(joule_run(path), nb)
