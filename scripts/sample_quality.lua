-- How good are a model's samples? Draws samples per class (and unconditional ones) from a checkpoint
-- and scores them against a real split with the shipped feature network (features/glyphs.safetensors).
--
--   joule run scripts/sample_quality.lua -p checkpoint=RUN_OR_FILE [-p out=FILE.json] [-p per_class=8] ...
--
-- Writes JSON (default <run folder>/sample_quality.json), the numbers for the class-conditional
-- samples at the top level:
--   fid, kid            distances between the feature distributions of samples and real images
--                       (lower is better; KID is unbiased, ≈ 0 for the same distribution)
--   precision, recall   the share of samples that look like some real image / of real images that some
--                       sample resembles (Kynkäänniemi et al. 2019, k = 3 neighbours)
--   density, coverage   Naeem et al. 2020's robust versions of the two
--   class_fidelity      the share of samples the feature network classifies as the class asked for
--   diversity           mean pairwise feature distance within a class, samples over real images
--                       (1: as varied as the data; near 0: copies of one sample), averaged over classes
-- and `unconditional` (the same for samples of E(x) alone), `floor` (the same numbers for the
-- validation split against the real split: what a perfect sampler would score with this many images),
-- `diversity_per_class`, the sampler's settings, the feature file and the wall time.
-- FID needs more images than features (64): per_class × classes must exceed that.
local p = joule.params{
  checkpoint = "",
  model = "",               -- a Lua file returning the network; "": the checkpoint's own
  data = "data/glyphs",
  split = "test",           -- the real images compared with
  features = "features/glyphs.safetensors",
  per_class = 8,            -- class-conditional samples per class
  unconditional = 336,      -- samples of E(x) alone (0: none)
  steps = 256,
  step_size = 10.0, noise = 0.005, grad_clip = 0.03,
  chains = 256,             -- chains per sampler call (bounds memory)
  k = 3,                    -- neighbours for precision/recall/density/coverage
  out = "",
  seed = 1,
}
if p.checkpoint == "" then error("give the trained weights: -p checkpoint=FILE (a model.safetensors or a run folder)") end
joule.seed(p.seed)
local started = os.time()
local model = joule.nn.load(p.checkpoint, p.model ~= "" and p.model or nil)
local classes = model:classes()
local real = joule.data.load_split(p.data .. "/" .. p.split .. ".npy")
if not real.labels then error(real.path .. ": no labels (class fidelity and diversity need them)") end
local declared = model:input_shape()
local shape = declared or { real.images:size(2), real.images:size(3), real.images:size(4) }

local function draw(n, labels)
  local sampler = joule.ebm.SGLD{ model = model, steps = p.steps, step_size = p.step_size, noise = p.noise,
                                  grad_clip = p.grad_clip, conditional = labels ~= nil, shape = shape }
  local parts = {}
  for first = 1, n, p.chains do
    local last = math.min(first + p.chains - 1, n)
    local part = labels and table.move(labels, first, last, 1, {}) or nil
    parts[#parts + 1] = sampler:sample{ n = last - first + 1, labels = part }
    io.stdout:write(string.format("\r  %d of %d samples drawn", last, n)); io.stdout:flush()
  end
  io.stdout:write("\n")
  return #parts == 1 and parts[1] or joule.tensor.cat(parts)
end

local function copy(q)
  local out = {}
  for k, v in pairs(q) do out[k] = v end
  return out
end

local result = { checkpoint = p.checkpoint, data = p.data, split = p.split, features = p.features,
                 sampler = { name = "sgld", steps = p.steps, step_size = p.step_size, noise = p.noise, grad_clip = p.grad_clip } }
if classes > 1 then
  local labels = {}
  for c = 0, classes - 1 do for _ = 1, p.per_class do labels[#labels + 1] = c end end
  print(string.format("sampling %d chains (%d per class) of %d steps from %s", #labels, p.per_class, p.steps, p.checkpoint))
  local samples = draw(#labels, labels)
  local q = joule.metrics.sample_quality(samples, real.images, { labels = labels, real_labels = real.labels, features = p.features, k = p.k })
  for k, v in pairs(q) do result[k] = v end
  result.per_class = p.per_class
  samples:save_npy(joule.run_dir() .. "/quality_samples.npy")
end
if p.unconditional > 0 then
  print(string.format("sampling %d unconditional chains of %d steps", p.unconditional, p.steps))
  local samples = draw(p.unconditional, nil)
  local q = joule.metrics.sample_quality(samples, real.images, { features = p.features, k = p.k })
  if classes == 1 then for k, v in pairs(q) do result[k] = v end else result.unconditional = copy(q) end
end
-- The floor: real images of another split scored the same way, as many as the samples.
local val = joule.data.load_split(p.data .. "/val.npy")
local n_floor = math.min(val.n, classes > 1 and classes * p.per_class or p.unconditional)
if n_floor > 64 and val.labels then
  local idx = {}
  for i = 1, n_floor do idx[i] = math.floor((i - 1) * val.n / n_floor) + 1 end
  local vl = {}
  for i, j in ipairs(idx) do vl[i] = val.labels[j] end
  result.floor = copy(joule.metrics.sample_quality(val.images:index(idx), real.images,
    { labels = vl, real_labels = real.labels, features = p.features, k = p.k }))
  result.floor.diversity_per_class = nil
end
result.seconds = os.difftime(os.time(), started)

local out = p.out ~= "" and p.out or joule.run_dir() .. "/sample_quality.json"
joule.save_json(out, result)
local function line(name, q)
  if not q or not q.fid then return end
  print(string.format("%-14s FID %7.2f  KID %7.4f  precision %.3f  recall %.3f  density %.3f  coverage %.3f%s", name,
    q.fid, q.kid, q.precision, q.recall, q.density, q.coverage,
    q.class_fidelity and string.format("  class fidelity %.3f  diversity %.3f", q.class_fidelity, q.diversity) or ""))
end
line(classes > 1 and "conditional" or "samples", result)
line("unconditional", result.unconditional)
line("floor (val)", result.floor)
print("sample quality: " .. out)
