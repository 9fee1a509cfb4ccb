-- Out-of-distribution detection by energy: scores the test split (in distribution) and the OOD sets
-- ood_ta, ood_tb and Gaussian noise under px (-E(x)), py (max softmax) and mass (-|dE/dx|), and
-- measures how well each score separates test from each set (AUROC, AUPRC; test is the positive class).
--
--   joule run scripts/ood.lua -p checkpoint=RUN_OR_FILE [-p data=DIR] [-p out=FILE]
--
-- -p model=FILE.lua builds the network that file returns (scripts/models/) and loads the weights into
-- it, for weights saved without their architecture (PyTorch's); by default the file rebuilds it.
-- Writes JSON (default <run folder>/ood.json): auroc.<set>.<score>, auprc.<set>.<score> and
-- mean_score.<set>.<score>, for sets ood_ta, ood_tb, noise and scores px, py, mass.
local p = joule.params{
  checkpoint = "",
  model = "",               -- a Lua file returning the network; "": the checkpoint's own
  data = "data/glyphs",
  out = "",
  noise_std = 1.0,          -- Gaussian noise images: N(0, noise_std^2) clamped to [-1, 1]
  max_images = 0,           -- use at most this many images of each set; 0: all
  batch_size = 256,
  seed = 1,
}
if p.checkpoint == "" then error("give the trained weights: -p checkpoint=FILE (a model.safetensors or a run folder)") end
joule.seed(p.seed)
local model = joule.nn.load(p.checkpoint, p.model ~= "" and p.model or nil)

local function images(name)
  local s = joule.data.load_split(p.data .. "/" .. name .. ".npy")
  if p.max_images > 0 and s.n > p.max_images then return s.images:slice(1, p.max_images) end
  return s.images
end
local sets = { test = images("test"), ood_ta = images("ood_ta"), ood_tb = images("ood_tb") }
local shape = sets.test:shape()
sets.noise = (joule.tensor.randn(shape) * p.noise_std):clamp(-1, 1)

local names, scores = { "test", "ood_ta", "ood_tb", "noise" }, { "px", "py", "mass" }
local values, result = {}, { checkpoint = p.checkpoint, data = p.data, auroc = {}, auprc = {}, mean_score = {}, n = {} }
for _, set in ipairs(names) do
  values[set], result.mean_score[set] = {}, {}
  result.n[set] = sets[set]:size(1)
  for _, score in ipairs(scores) do
    local v = joule.ood.scores(model, sets[set], score, p.batch_size)
    local sum = 0
    for _, x in ipairs(v) do sum = sum + x end
    values[set][score], result.mean_score[set][score] = v, sum / #v
  end
end
for _, set in ipairs(names) do
  if set ~= "test" then
    result.auroc[set], result.auprc[set] = {}, {}
    for _, score in ipairs(scores) do
      result.auroc[set][score], result.auprc[set][score] = joule.ood.separation(values.test[score], values[set][score])
    end
    print(string.format("test vs %-6s  AUROC px %.4f  py %.4f  mass %.4f   AUPRC px %.4f  py %.4f  mass %.4f", set,
      result.auroc[set].px, result.auroc[set].py, result.auroc[set].mass,
      result.auprc[set].px, result.auprc[set].py, result.auprc[set].mass))
  end
end
local out = p.out ~= "" and p.out or joule.run_dir() .. "/ood.json"
joule.save_json(out, result)
print("metrics: " .. out)
