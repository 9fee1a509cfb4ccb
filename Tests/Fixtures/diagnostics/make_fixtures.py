"""Chains and ArviZ's bulk ESS and rank R-hat of them, for Tests/EBMTests/DiagnosticsTests.swift.

Run with a Python that has arviz (python3 -m venv /tmp/az && /tmp/az/bin/pip install arviz):
    /tmp/az/bin/python Tests/Fixtures/diagnostics/make_fixtures.py
It writes, next to itself, one chains × draws float64 .npy per case, frames.npy (float32 draws ×
chains × coordinates, as a sampler keeps them) and expected.json with ArviZ's numbers.
"""
import json
import os

import arviz as az
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20261204)


def ar1(chains, draws, phi, mean=0.0, scale=1.0):
    """AR(1) chains x_t = phi x_{t-1} + sqrt(1 - phi^2) e_t, stationary N(mean, scale^2)."""
    x = np.empty((chains, draws))
    x[:, 0] = rng.standard_normal(chains)
    e = rng.standard_normal((chains, draws))
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + np.sqrt(1 - phi * phi) * e[:, t]
    return mean + scale * x


cases = {
    "ar1_fast": ar1(4, 1000, 0.3),
    "ar1_slow": ar1(4, 1000, 0.95),
    "ar1_antithetic": ar1(4, 500, -0.6),
    "shifted_means": ar1(4, 500, 0.5) + np.array([[0.0], [0.0], [0.4], [1.0]]),
    "different_scales": ar1(4, 400, 0.2) * np.array([[1.0], [1.0], [1.0], [4.0]]),
    "cauchy": rng.standard_cauchy((3, 300)),
    "ties": rng.poisson(2.0, (3, 200)).astype(float),
    "short_odd": ar1(2, 7, 0.5),
    "shortest": ar1(3, 4, 0.1),
    "long": ar1(2, 8000, 0.9),
    "one_chain": ar1(1, 600, 0.7),
}

expected = {"cases": []}
for name, x in cases.items():
    np.save(os.path.join(here, name + ".npy"), x)
    ess = float(az.ess(x, method="bulk"))
    rhat = float(az.rhat(x, method="rank"))
    expected["cases"].append({"name": name, "ess": ess, "rhat": None if np.isnan(rhat) else rhat})

# Frames as a sampler keeps them: draws × chains × coordinates, float32; ArviZ gets them as
# chains × draws × coordinates in float64 (the same values).
frames = np.stack([ar1(5, 60, phi) for phi in (0.0, 0.5, 0.9)], axis=-1).transpose(1, 0, 2)
frames[:, 3:, 2] += 0.8   # two chains off in the last coordinate: R-hat > 1 there
frames = frames.astype(np.float32)
np.save(os.path.join(here, "frames.npy"), frames)
posterior = frames.astype(np.float64).transpose(1, 0, 2)
expected["frames"] = {
    "ess": [float(az.ess(posterior[:, :, j], method="bulk")) for j in range(posterior.shape[2])],
    "rhat": [float(az.rhat(posterior[:, :, j], method="rank")) for j in range(posterior.shape[2])],
}
expected["arviz"] = az.__version__

with open(os.path.join(here, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
    f.write("\n")
