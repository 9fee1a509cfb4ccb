-- A small residual energy network: two stages of a convolution and a residual block
-- (x + conv·SiLU·conv(x)), global average pooling, a linear layer to the logits.
--
--   joule run scripts/train_jem.lua -p model=scripts/models/residual_ebm.lua
return function(o)
  local nn = joule.nn
  local w, classes, c = o.hidden or 16, o.classes or 42, o.channels or 1
  local function block(n)
    return nn.Residual(nn.Sequential{ nn.Conv2d(n, n, 3, { padding = 1 }), nn.SiLU(), nn.Conv2d(n, n, 3, { padding = 1 }) })
  end
  return nn.Sequential{
    nn.Conv2d(c, w, 3, { stride = 2, padding = 1 }), nn.SiLU(), block(w), nn.SiLU(),
    nn.Conv2d(w, 2 * w, 3, { stride = 2, padding = 1 }), nn.SiLU(), block(2 * w), nn.SiLU(),
    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2 * w, classes),
  }
end
