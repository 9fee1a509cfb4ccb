"""NumPy's broadcasting, reductions along an axis, transposes and matmul shapes on float32 inputs,
for Tests/TensorTests/BroadcastTests.swift: python3 Tests/Fixtures/tensor_ops/make_fixtures.py
(NumPy and SciPy; e.g. the venv of Tests/Fixtures/diagnostics/make_fixtures.py)."""
import os

import numpy as np
from scipy.special import logsumexp

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(7)


def save(name, a):
    np.save(os.path.join(here, name + ".npy"), np.ascontiguousarray(a, dtype=np.float32))


a = rng.standard_normal((2, 1, 3)).astype(np.float32)
b = rng.standard_normal((4, 1)).astype(np.float32) + 2    # away from 0: a safe divisor
c = rng.standard_normal((3,)).astype(np.float32)
save("a", a); save("b", b); save("c", c)
# (2, 1, 3) with (4, 1) → (2, 4, 3); with (3,) → (2, 1, 3); and the reverse orders.
save("a_add_b", a + b); save("a_sub_b", a - b); save("a_mul_b", a * b); save("a_div_b", a / b)
save("b_sub_a", b - a); save("c_div_b", c / b)
save("absa_pow_b", np.abs(a) ** b); save("a_sub_c", a - c)

x = rng.standard_normal((3, 4, 5)).astype(np.float32) * 3
x[1, 2, :] += 80   # large values: logsumexp must not overflow
save("x", x)
for axis in range(3):
    save(f"x_sum_{axis}", x.astype(np.float64).sum(axis=axis))
    save(f"x_mean_{axis}", x.astype(np.float64).mean(axis=axis))
    save(f"x_max_{axis}", x.max(axis=axis))
    save(f"x_min_{axis}", x.min(axis=axis))
    save(f"x_logsumexp_{axis}", logsumexp(x.astype(np.float64), axis=axis))
save("x_sum_1_keepdim", x.astype(np.float64).sum(axis=1, keepdims=True))
save("x_transpose_0_2", np.swapaxes(x, 0, 2)); save("x_transpose_1_2", np.swapaxes(x, 1, 2))

m = rng.standard_normal((5, 3)).astype(np.float32)
k = rng.standard_normal((3, 4)).astype(np.float32)
v = rng.standard_normal((3,)).astype(np.float32)
s = rng.standard_normal((2, 5, 3)).astype(np.float32)
save("m", m); save("k", k); save("v", v); save("s", s)
f64 = lambda t: t.astype(np.float64)
save("m_matmul_k", f64(m) @ f64(k)); save("m_matmul_v", f64(m) @ f64(v))
save("v_matmul_k", f64(v) @ f64(k)); save("s_matmul_k", f64(s) @ f64(k))
