"""joule.ebm.diagnostics against live ArviZ: a Lua script run by the built joule binary samples
chains of energies written in Lua with SGLD, writes the kept frames, their energies and its
diagnostics, and ArviZ's bulk ESS and rank R-hat of the same frames must agree to 1e-6 relative
(every coordinate of the chains' state, and the energy)."""
import subprocess
import textwrap

import arviz as az
import numpy as np
import pytest

from conftest import JOULE

# A correlated 2-D Gaussian (chains that mix), the same with chains started far apart that barely
# move (R-hat well above 1), and a 1×3×3 "image" state (frames (F, N, C, H, W)).
CASES = {
    "gaussian": dict(shape="{2}", dim=2, steps=400, keep=4, n=4, eta=2e-3, spread=0.05),
    "unmixed": dict(shape="{2}", dim=2, steps=60, keep=2, n=3, eta=1e-5, spread=0.6),
    "image": dict(shape="{1, 3, 3}", dim=9, steps=200, keep=5, n=5, eta=2e-3, spread=0.05),
}

SCRIPT = """
local out = arg[1]
local D = {dim}
-- A Gaussian with precision P = 30 on the diagonal and 15 off it: correlated coordinates.
local P = joule.tensor.full({{D, D}}, 15)
for i = 1, D do P:set(i, i, 30) end
local g = joule.ebm.Energy{{ shape = {shape}, energy_grad = function(x)
  local flat = x:reshape(#x, D)
  local d = flat:matmul(P)
  return 0.5 * (d * flat):sum(2), d:reshape(x:shape())
end }}
local eta = {eta}
local s = joule.ebm.SGLD{{ model = g, steps = {steps}, step_size = eta, noise = math.sqrt(2 * eta), grad_clip = 1e9,
                          conditional = false, seed = 11 }}
joule.seed(5)
local x = (joule.tensor.randn({n}, D) * {spread}):reshape({n}, table.unpack({shape}))
local frames = s:run(x, {{ keep_every = {keep} }})
frames:save_npy(out .. '/frames.npy')
local d = joule.ebm.diagnostics(frames, {{ model = g }})
d.energy.trace:save_npy(out .. '/trace.npy')
local f = io.open(out .. '/diagnostics.txt', 'w')
for j = 1, #d.ess do f:write(string.format('%.17g %.17g\\n', d.ess[j], d.rhat[j])) end
f:write(string.format('%.17g %.17g\\n', d.energy.ess, d.energy.rhat))
f:close()
"""


def relative(a, b):
    return abs(a - b) / abs(b)


@pytest.mark.parametrize("name", sorted(CASES))
def test_diagnostics_equal_arviz(name, tmp_path):
    case = CASES[name]
    script = tmp_path / "diagnostics.lua"
    script.write_text(textwrap.dedent(SCRIPT.format(**case)))
    r = subprocess.run([JOULE, "run", str(script), "-p", f"run={tmp_path / 'run'}", "--", str(tmp_path)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    frames = np.load(tmp_path / "frames.npy").astype(np.float64)
    draws, chains = frames.shape[:2]
    assert draws == case["steps"] // case["keep"] + 1 and chains == case["n"]
    # ArviZ takes chain × draw; each coordinate of the state is one variable.
    posterior = frames.reshape(draws, chains, -1).transpose(1, 0, 2)
    lines = (tmp_path / "diagnostics.txt").read_text().split("\n")[:-1]
    values = [tuple(float(v) for v in line.split()) for line in lines]
    assert len(values) == case["dim"] + 1
    for j in range(case["dim"]):
        ess, rhat = values[j]
        assert relative(ess, az.ess(posterior[:, :, j], method="bulk")) < 1e-6, f"coordinate {j + 1} ESS"
        assert relative(rhat, az.rhat(posterior[:, :, j], method="rank")) < 1e-6, f"coordinate {j + 1} R-hat"
    trace = np.load(tmp_path / "trace.npy").astype(np.float64).T
    assert relative(values[-1][0], az.ess(trace, method="bulk")) < 1e-6, "energy ESS"
    assert relative(values[-1][1], az.rhat(trace, method="rank")) < 1e-6, "energy R-hat"
    if name == "unmixed":
        assert max(v[1] for v in values[:-1]) > 1.1, "chains started apart and barely moved must show it"
