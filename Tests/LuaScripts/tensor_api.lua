-- Identities of the tensor API, checked from Lua. Run by LuaScriptTests (each failing check names
-- its line).
local T = joule.tensor

local function close(a, b, tol, what)
  local d = (a - b):abs():max()
  assert(d <= (tol or 0), string.format("%s: differ by %g", what or "tensors", d))
end

joule.seed(123)
local a, b = T.randn(3, 4), T.rand(3, 4) + 0.5
close(a + b - b, a, 1e-6, "a + b - b")
close(a * b / b, a, 1e-6, "a * b / b")
close(-(-a), a, 0, "double negation")
close(2 * a, a + a, 0, "2a")
close(a:reshape(4, 3):reshape(3, 4), a, 0, "reshape round trip")
close(T.new(a:totable()), a, 0, "totable round trip")
close(T.cat{ a:slice(1, 1), a:slice(2, 3) }, a, 0, "slice and cat")
close(a:index{3, 2, 1}:index{3, 2, 1}, a, 0, "index twice reverses")
assert(math.abs(a:sum() - a:mean() * a:numel()) < 1e-4, "sum = mean * numel")
assert(a:clamp(-0.5, 0.5):max() <= 0.5 and a:clamp(-0.5, 0.5):min() >= -0.5, "clamp bounds")
assert(math.abs(a:norm() ^ 2 - (a * a):sum()) < 1e-3, "norm^2 = sum of squares")
close(T.ones(2, 3):matmul(T.ones(3, 5)), T.full({2, 5}, 3), 0, "matmul of ones")

-- Determinism: the same seed, the same numbers.
joule.seed(9); local r1 = T.randn(100)
joule.seed(9); local r2 = T.randn(100)
close(r1, r2, 0, "seeded randn")

-- Errors are values a script can catch, with the binding and the argument named.
local ok, msg = pcall(T.zeros, 2, -3)
assert(not ok and msg:find("bad argument #2 to 'tensor.zeros' %(positive integer expected, got %-3%)"), msg)
ok, msg = pcall(function() return a + T.ones(2) end)
assert(not ok and msg:find("tensor_api.lua:%d+:"), msg)
ok, msg = pcall(function() return a:get(4, 1) end)
assert(not ok and msg:find("integer in 1...3 expected, got 4"), msg)
