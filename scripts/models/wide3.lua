-- A CIFAR-like residual energy network on 3×32×32 inputs (the benchmark suite's `wide3`, as
-- ../shared/bench/torch_sgld_nets.py defines it): a stride-1 3×3 convolution and a residual block at
-- width w, then two stages that halve the resolution and double the width, global average pooling,
-- a linear layer to the logits. Stride-1 padded 3×3 convolutions on 32×32 maps carry most of its work.
--
--   joule run scripts/train_jem.lua -p model=scripts/models/wide3.lua -p hidden=16   (3-channel data)
return function(o)
  local nn = joule.nn
  local w, classes, c = o.hidden or 16, o.classes or 10, o.channels or 3
  local function block(n)
    return nn.Residual(nn.Sequential{ nn.Conv2d(n, n, 3, { padding = 1 }), nn.SiLU(), nn.Conv2d(n, n, 3, { padding = 1 }) })
  end
  return nn.Sequential{
    nn.Conv2d(c, w, 3, { padding = 1 }), nn.SiLU(), block(w), nn.SiLU(),
    nn.Conv2d(w, 2 * w, 3, { stride = 2, padding = 1 }), nn.SiLU(), block(2 * w), nn.SiLU(),
    nn.Conv2d(2 * w, 4 * w, 3, { stride = 2, padding = 1 }), nn.SiLU(), block(4 * w), nn.SiLU(),
    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * w, classes),
  }
end
