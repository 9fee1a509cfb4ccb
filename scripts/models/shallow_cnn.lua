-- The course's ShallowCNN written out in joule.nn modules: the same network, names and numbers as
-- joule.nn.ShallowCNN{ hidden, classes } (a test checks they agree to the last bit).
--
--   joule run scripts/train_jem.lua -p model=scripts/models/shallow_cnn.lua
--
-- Scripts call the function with { classes, channels, hidden } from their data and parameters.
return function(o)
  local nn = joule.nn
  local h, classes, c = o.hidden or 32, o.classes or 42, o.channels or 1
  return nn.Sequential{
    nn.Sequential{
      nn.Conv2d(c, h, 5, { stride = 2, padding = 4 }), nn.SiLU(),
      nn.Conv2d(h, 2 * h, 3, { stride = 2, padding = 1 }), nn.SiLU(),
      nn.Conv2d(2 * h, 4 * h, 3, { stride = 2, padding = 1 }), nn.SiLU(),
      nn.Conv2d(4 * h, 4 * h, 3, { stride = 2, padding = 1 }), nn.SiLU(),
      nn.Conv2d(4 * h, 4 * h, 3, { stride = 2, padding = 1 }), nn.SiLU(),
      nn.AdaptiveAvgPool2d(1),
    },
    nn.Sequential{ nn.Flatten(), nn.Linear(4 * h, classes) },
    names = { "cnn_layers", "fc_layers" },     -- the course's PyTorch names: cnn_layers.0.weight, …
    input_shape = { c, 56, 56 },
  }
end
