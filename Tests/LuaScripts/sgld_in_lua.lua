-- A Lua-written SGLD step, built from the low-level API, equals the built-in step given the same
-- noise: the course's update x ← clamp(x + σε); g ← clamp(∂E/∂x, −c, c); x ← clamp(x − ηg).
local T = joule.tensor
local model = joule.nn.ShallowCNN{ hidden = 4, classes = 3, seed = 7 }
local sigma, c, eta = 0.005, 0.03, 10
-- FP32 sampling: the Lua step runs the model itself, in FP32 (auto may choose bf16 for the sampler's layers).
local sampler = joule.ebm.SGLD{ model = model, noise = sigma, grad_clip = c, step_size = eta, seed = 1, precision = "fp32" }

joule.seed(5)
local x = T.rand(4, 1, 56, 56) * 2 - 1
local eps = T.randn(4, 1, 56, 56)
local labels = {0, 2, 1, 0}

local mine = (x + eps * sigma):clamp(-1, 1)
local _, g = model:energy_grad(mine, labels)
mine = (mine - g:clamp(-c, c) * eta):clamp(-1, 1)

local theirs = x:copy()
sampler:step(theirs, eps, { labels = labels })
-- The gradient step is small next to the noise here, so measure against the step itself.
local step = (theirs - (x + eps * sigma):clamp(-1, 1)):abs():max()
local d = (mine - theirs):abs():max()
assert(step > 0, "the gradient step moved nothing")
assert(d <= 1e-3 * step, string.format("Lua SGLD step differs from the built-in one by %g (step %g)", d, step))
