-- Classification metrics of a trained model on a split (default: the test split).
--
--   joule run scripts/evaluate.lua -p checkpoint=RUN_OR_FILE [-p data=DIR] [-p out=FILE] [-p attack=pgd]
--
-- -p model=FILE.lua builds the network that file returns (scripts/models/) and loads the weights into
-- it, for weights saved without their architecture (PyTorch's); by default the file rebuilds it.
-- Writes JSON (default <run folder>/evaluate.json): accuracy, per_class_accuracy (list: entry k is
-- class id k; null for a class absent from the split), confusion_matrix (rows: true class, columns:
-- predicted), calibration_error (expected calibration error, 15 bins), mean_energy, n.
-- -p attack=pgd adds robustness (the JEM paper's claim): accuracy under projected-gradient attacks on
-- each image's cross-entropy, L∞ and L2, at the epsilons of -p linf_eps and -p l2_eps (pixels in [-1, 1],
-- so L∞ 0.0314 is 4/255 of the [0, 1] range), attack_steps steps each, on the first attack_n images:
-- JSON key pgd = { n, steps, linf = { { epsilon, accuracy }, … }, l2 = { … } }. An image counts as
-- correct at ε only if it survives every attack up to ε, so accuracy never rises with ε.
local p = joule.params{
  checkpoint = "",
  model = "",               -- a Lua file returning the network; "": the checkpoint's own
  data = "data/glyphs",
  split = "test",
  out = "",
  batch_size = 256,
  bins = 15,
  attack = "",              -- "pgd": accuracy under L∞ and L2 PGD attacks
  linf_eps = "0,0.0078,0.0157,0.0314,0.0627",
  l2_eps = "0,0.25,0.5,1,2",
  attack_steps = 10,
  attack_n = 512,
}
if p.attack ~= "" and p.attack ~= "pgd" then error("unknown attack '" .. p.attack .. "' (pgd is the one there is)") end
if p.checkpoint == "" then error("give the trained weights: -p checkpoint=FILE (a model.safetensors or a run folder)") end
local model = joule.nn.load(p.checkpoint, p.model ~= "" and p.model or nil)
local set = joule.data.load_split(p.data .. "/" .. p.split .. ".npy")
if not set.labels then error(set.path .. ": no labels to evaluate against") end
local classes = model:classes()

local predictions, energy = {}, 0
for first = 1, set.n, p.batch_size do
  local x = set.images:slice(first, math.min(first + p.batch_size - 1, set.n))
  for _, y in ipairs(model:predict(x)) do predictions[#predictions + 1] = y end
  energy = energy + model:energy(x):sum()
end
-- Confidence = the largest softmax probability (the OOD score "py").
local confidence = joule.ood.scores(model, set.images, "py", p.batch_size)

local result = {
  checkpoint = p.checkpoint, data = p.data, split = p.split, n = set.n, classes = classes,
  accuracy = joule.metrics.accuracy(predictions, set.labels),
  per_class_accuracy = joule.metrics.per_class_accuracy(predictions, set.labels, classes),
  confusion_matrix = joule.metrics.confusion_matrix(predictions, set.labels, classes),
  calibration_error = joule.metrics.calibration_error(confidence, predictions, set.labels, p.bins),
  mean_energy = energy / set.n,
}
if p.attack == "pgd" then
  local function list(text, name)
    local eps = {}
    for item in text:gmatch("[^,]+") do
      local v = tonumber(item)
      if not v or v < 0 or v ~= v then error(string.format("-p %s: '%s' is not a non-negative number", name, item)) end
      eps[#eps + 1] = v
    end
    return eps
  end
  local n = math.min(p.attack_n, set.n)
  local x, y = set.images:slice(1, n), table.move(set.labels, 1, n, 1, {})
  result.pgd = { n = n, steps = p.attack_steps }
  for _, norm in ipairs({ "linf", "l2" }) do
    local eps = list(norm == "linf" and p.linf_eps or p.l2_eps, norm .. "_eps")
    local acc = joule.metrics.robust_accuracy(model, x, y, { epsilons = eps, norm = norm, steps = p.attack_steps })
    result.pgd[norm] = {}
    local shown = {}
    for i, e in ipairs(eps) do
      result.pgd[norm][i] = { epsilon = e, accuracy = acc[i] }
      shown[i] = string.format("%g: %.3f", e, acc[i])
    end
    print(string.format("PGD %s (%d images, %d steps), accuracy at ε %s", norm, n, p.attack_steps, table.concat(shown, ", ")))
  end
end
local out = p.out ~= "" and p.out or joule.run_dir() .. "/evaluate.json"
joule.save_json(out, result)
print(string.format("%s (%d images): accuracy %.4f, calibration error %.4f, mean energy %.4g",
  set.path, set.n, result.accuracy, result.calibration_error, result.mean_energy))
print("metrics: " .. out)
