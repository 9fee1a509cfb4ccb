-- Classification metrics of a trained model on a split (default: the test split).
--
--   joule run scripts/evaluate.lua -p checkpoint=RUN_OR_FILE [-p data=DIR] [-p out=FILE]
--
-- -p model=FILE.lua builds the network that file returns (scripts/models/) and loads the weights into
-- it, for weights saved without their architecture (PyTorch's); by default the file rebuilds it.
-- Writes JSON (default <run folder>/evaluate.json): accuracy, per_class_accuracy (list: entry k is
-- class id k; null for a class absent from the split), confusion_matrix (rows: true class, columns:
-- predicted), calibration_error (expected calibration error, 15 bins), mean_energy, n.
local p = joule.params{
  checkpoint = "",
  model = "",               -- a Lua file returning the network; "": the checkpoint's own
  data = "data/glyphs",
  split = "test",
  out = "",
  batch_size = 256,
  bins = 15,
}
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
local out = p.out ~= "" and p.out or joule.run_dir() .. "/evaluate.json"
joule.save_json(out, result)
print(string.format("%s (%d images): accuracy %.4f, calibration error %.4f, mean energy %.4g",
  set.path, set.n, result.accuracy, result.calibration_error, result.mean_energy))
print("metrics: " .. out)
