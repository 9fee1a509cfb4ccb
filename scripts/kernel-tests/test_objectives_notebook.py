"""Notebook 10 learns what it says it learns: its tables (printed by the last code cell, here from the run
with the tests' seed) are parsed and held against the mixture. The bounds are stated once, below, with why.

The mixture: four Gaussians of σ = 0.1 at (±0.5, ±0.5), equal weights; the grid step is 0.025."""
import subprocess

import nbformat
import pytest

from conftest import JOULE, ROOT

NOTEBOOK = ROOT / "notebooks/10-objectives.ipynb"
OBJECTIVES = ["ml", "dsm", "ssm", "nce"]
# A learned mode counts as found within three grid steps (0.075 = ¾σ) of its centre.
MODE_DISTANCE = 0.075
# Spread = mean squared distance of a sample to its nearest centre = 2s² for modes of standard deviation s.
# The samples' s must be within 20 % of the density each objective aims at: σ for ML, SSM and NCE, and
# √(σ² + σ_n²) = √2·σ for DSM with one noise level σ_n = σ (it fits the data convolved with its noise).
SPREAD_TARGET = {"ml": 0.02, "dsm": 0.04, "ssm": 0.02, "nce": 0.02}
STD_TOLERANCE = 0.2
# The samples' mean and covariance against the mixture's (0 and 0.26·I; DSM's target 0.27·I). Chains never cross
# the ≈12-nat barriers, so each sample's mode is the basin its chain started in: the moments carry the error of
# those fractions (a fraction off by 0.1 moves a mean coordinate by 0.05 and cov xy by 0.025), hence loose bounds.
MEAN_TOLERANCE = 0.15
COV_TOLERANCE = 0.08
# NCE's noise covers every mode, so it is the one objective that learns the weights: the learned density's mass
# near each centre within [0.15, 0.40] (the truth: 0.25).
NCE_MASS = (0.15, 0.40)


def tables(nb):
    text = "".join(o.text for c in nb.cells if c.cell_type == "code" for o in c.outputs
                   if o.output_type == "stream" and o.name == "stdout")
    modes_at, samples_at = text.index("Modes\n"), text.index("Samples (")
    rows = {}
    for section, name in ((text[modes_at:samples_at], "modes"), (text[samples_at:], "samples")):
        for line in section.splitlines():
            fields = line.split()
            if fields and fields[0] in OBJECTIVES + ["true"]:
                rows.setdefault(fields[0], {})[name] = [float(v) for v in fields[1:]]
    return rows


@pytest.fixture(scope="module")
def rows(joule_run):
    return tables(joule_run(NOTEBOOK))


def test_every_objective_finds_the_four_modes_and_no_other(rows):
    for name in OBJECTIVES:
        d1, d2, d3, d4, minima, _, _ = rows[name]["modes"]
        assert minima == 4, f"{name}: {minima:.0f} grid minima of E, the mixture has 4"
        assert max(d1, d2, d3, d4) <= MODE_DISTANCE, f"{name}: a centre's nearest minimum is {max(d1, d2, d3, d4)} away"


def test_samples_spread_as_each_objective_aims_and_dsm_smooths(rows):
    spread = {name: rows[name]["samples"][5] for name in OBJECTIVES}
    for name in OBJECTIVES:
        lo, hi = SPREAD_TARGET[name] * (1 - STD_TOLERANCE) ** 2, SPREAD_TARGET[name] * (1 + STD_TOLERANCE) ** 2
        assert lo <= spread[name] <= hi, f"{name}: spread {spread[name]} outside [{lo:.4f}, {hi:.4f}]"
    assert spread["dsm"] > max(spread[n] for n in OBJECTIVES if n != "dsm"), spread


def test_sample_moments_near_the_mixture(rows):
    for name in OBJECTIVES:
        mx, my, cxx, cxy, cyy = rows[name]["samples"][:5]
        var = 0.25 + SPREAD_TARGET[name] / 2   # ¼Σμₖ² per coordinate plus the modes' own variance
        assert abs(mx) <= MEAN_TOLERANCE and abs(my) <= MEAN_TOLERANCE, f"{name}: mean ({mx}, {my})"
        for v, want in ((cxx, var), (cxy, 0), (cyy, var)):
            assert abs(v - want) <= COV_TOLERANCE, f"{name}: covariance entry {v}, the target's {want}"


def test_nce_learns_the_mode_weights(rows):
    p_min, p_max = rows["nce"]["modes"][5:7]
    assert NCE_MASS[0] <= p_min and p_max <= NCE_MASS[1], f"nce: mass per mode from {p_min} to {p_max}"


def pictures(nb):
    return [o.data["image/png"] for c in nb.cells if c.cell_type == "code" for o in c.outputs
            if o.output_type in ("execute_result", "display_data") and "image/png" in o.data]


def test_a_rerun_gives_the_same_pictures_and_tables(joule_run, notebook_params, tmp_path):
    """Seeded throughout: a second run with the same parameters draws the same PNG bytes and prints the same tables."""
    first = joule_run(NOTEBOOK)
    args = [x for k, v in notebook_params.items() for x in ("-p", f"{k}={v}")]
    r = subprocess.run([JOULE, "notebook", "run", str(NOTEBOOK), "-o", str(tmp_path / "again.ipynb"), "-q"] + args,
                       cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    again = nbformat.read(tmp_path / "again.ipynb", as_version=4)
    assert len(pictures(first)) == 2 and pictures(first) == pictures(again)
    assert tables(first) == tables(again)


def test_tables_are_parsed():
    """The parser reads what the notebook prints (a table format change must not make the checks vacuous)."""
    nb = nbformat.v4.new_notebook()
    out = nbformat.v4.new_output("stream", name="stdout", text=(
        "Modes\n      d(μ1) d(μ2) d(μ3) d(μ4)  minima   p min   p max\n"
        "ml     0.025  0.035  0.025  0.025       4   0.083   0.420\n"
        "true   0.000  0.000  0.000  0.000       4   0.250   0.250\n\n"
        "Samples (512 MALA chains each)\n        mean x   mean y   cov xx   cov xy   cov yy   spread   w min   w max  accept\n"
        "ml      0.0511   0.0131   0.2623   0.0649   0.2638   0.0232   0.174   0.348   0.962\n"))
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [out]
    nb.cells = [cell]
    r = tables(nb)
    assert r["ml"]["modes"] == [0.025, 0.035, 0.025, 0.025, 4, 0.083, 0.420]
    assert r["ml"]["samples"][5] == 0.0232 and len(r["ml"]["samples"]) == 9
    assert r["true"]["modes"][4] == 4
