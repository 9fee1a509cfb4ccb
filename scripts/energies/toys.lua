-- Analytic toy distributions as energies written in Lua (joule.ebm.Energy), for the samplers,
-- joule.ood and joule.ebm.diagnostics:
--   local toys = dofile("scripts/energies/toys.lua")
--   local g = toys.mixture{ means = {{-0.5, 0}, {0.5, 0}}, std = 0.15 }
-- Each has energy and energy_grad written with joule.tensor arithmetic (a batch x (N, D) in,
-- energies (N) and ∂E/∂x (N, D) out). Energies are up to an additive constant.
local toys = {}

local function tensor(v) return type(v) == "table" and joule.tensor(v) or v end

-- N(mean, precision⁻¹): E(x) = ½ (x − μ)ᵀ P (x − μ), ∂E/∂x = P (x − μ) (P symmetric positive definite).
function toys.gaussian(o)
  local mu, P = tensor(o.mean), tensor(o.precision)
  return joule.ebm.Energy{ shape = { #mu }, energy_grad = function(x)
    local d = x - mu
    local dP = d:matmul(P)
    return 0.5 * (dP * d):sum(2), dP
  end }
end

-- A mixture of isotropic Gaussians with means (K, D), one std and weights (K, default equal):
-- E(x) = −log Σ_k w_k exp(−‖x − μ_k‖² / 2σ²); ∂E/∂x = (x − Σ_k r_k μ_k) / σ², with r the
-- components' responsibilities (the softmax of the log terms).
function toys.mixture(o)
  local means = tensor(o.means)
  local K, D = means:size(1), means:size(2)
  local s2 = (o.std or 0.1) ^ 2
  local logw = (o.weights and tensor(o.weights) or joule.tensor.ones(K) / K):log()
  local mm, mt = (means * means):sum(2), means:transpose()
  local function terms(x)   -- (N, K): log w_k − ‖x − μ_k‖² / 2σ²
    local sq = (x * x):sum(2, true) + mm - 2 * x:matmul(mt)
    return logw - sq / (2 * s2)
  end
  return joule.ebm.Energy{ shape = { D },
    energy = function(x) return -terms(x):logsumexp(2) end,
    energy_grad = function(x)
      local t = terms(x)
      local lse = t:logsumexp(2, true)
      local r = (t - lse):exp()
      return -lse:reshape(-1), (x - r:matmul(means)) / s2
    end }
end

-- Concentric rings of the given radii and width in D dimensions (default 2): a mixture over
-- radii of N(‖x‖; r_k, σ²). ‖x‖ is smoothed to √(‖x‖² + 10⁻¹²) so that the gradient at 0 is finite
-- (and exactly the gradient of that energy).
function toys.rings(o)
  local radii = tensor(o.radii or { 0.4, 0.8 })
  local s2 = (o.width or 0.05) ^ 2
  local function parts(x)
    local rho = ((x * x):sum(2, true) + 1e-12):sqrt()   -- (N, 1)
    return rho, -((rho - radii) ^ 2) / (2 * s2)          -- (N, R)
  end
  return joule.ebm.Energy{ shape = { o.dim or 2 },
    energy = function(x) local _, t = parts(x); return -t:logsumexp(2) end,
    energy_grad = function(x)
      local rho, t = parts(x)
      local lse = t:logsumexp(2, true)
      local q = (t - lse):exp()
      local dE = (q * (rho - radii)):sum(2, true) / s2    -- ∂E/∂‖x‖, (N, 1)
      return -lse:reshape(-1), dE * x / rho
    end }
end

-- A banana (Haario et al.'s twisted Gaussian) in the plane: x₁ ~ N(0, s₁²) and
-- x₂ | x₁ ~ N(−b (x₁² − s₁²), s₂²): E = x₁² / 2s₁² + u² / 2s₂² with u = x₂ + b (x₁² − s₁²).
function toys.banana(o)
  local s1, s2, b = o.s1 or 0.5, o.s2 or 0.1, o.b or 2
  local e1, e2 = joule.tensor{ 1, 0 }, joule.tensor{ 0, 1 }
  local function parts(x)
    local x1, x2 = x:matmul(e1), x:matmul(e2)            -- the columns, (N)
    return x1, x2 + b * (x1 * x1 - s1 * s1)
  end
  return joule.ebm.Energy{ shape = { 2 },
    energy = function(x) local x1, u = parts(x); return 0.5 * (x1 * x1) / (s1 * s1) + 0.5 * (u * u) / (s2 * s2) end,
    energy_grad = function(x)
      local x1, u = parts(x)
      local g1 = x1 / (s1 * s1) + 2 * b * u * x1 / (s2 * s2)
      local g2 = u / (s2 * s2)
      local e = 0.5 * (x1 * x1) / (s1 * s1) + 0.5 * (u * u) / (s2 * s2)
      return e, g1:reshape(-1, 1) * e1 + g2:reshape(-1, 1) * e2
    end }
end

return toys
