-- Draws new images from a trained model with SGLD, from fresh (uniform noise) starts.
--
--   joule run scripts/sample.lua -p checkpoint=RUN_OR_FILE [-p steps=256] [-p step_size=5] ...
--
-- checkpoint: a model.safetensors file, or a run folder (its best/, else last/ checkpoint).
-- -p model=FILE.lua builds the network that file returns (scripts/models/) and loads the weights into
-- it, for weights saved without their architecture (PyTorch's); by default the file rebuilds it.
-- Conditional sampling (default for a classifier) samples E(x, y) for the classes in turn
-- (or only -p class=K); -p conditional=false samples the unconditional E(x).
-- Writes into the run folder: samples.npy (N, C, H, W), labels.npy (the class of each chain; -1 when
-- unconditional), energies.npy (E of each final sample), and with keep_every > 0 chain.npy
-- (frames, N, C, H, W: the start, every keep_every-th step, the end).
local p = joule.params{
  checkpoint = "",
  model = "",               -- a Lua file returning the network; "": the checkpoint's own
  n = 64,
  steps = 256,
  step_size = 10.0, step_decay = 1.0, noise = 0.005, grad_clip = 0.03,
  precision = "fp32",       -- "bf16": the convolutions in bfloat16 with FP32 accumulation
  conditional = true,
  class = -1,               -- with conditional sampling: only this class id (0-based); -1: all in turn
  keep_every = 32,          -- keep the chain every k steps; 0: only the final samples
  image_size = 56,          -- the side of the images sampled (the channels are the model's)
  seed = 1,
}
if p.checkpoint == "" then error("give the trained weights: -p checkpoint=FILE (a model.safetensors or a run folder)") end
joule.seed(p.seed)
local model = joule.nn.load(p.checkpoint, p.model ~= "" and p.model or nil)
local classes = model:classes()
local conditional = p.conditional and classes > 1
local declared = model:input_shape()
local shape = declared and #declared == 1 and declared or { declared and declared[1] or 1, p.image_size, p.image_size }
local sampler = joule.ebm.SGLD{
  model = model, steps = p.steps, step_size = p.step_size, step_decay = p.step_decay, noise = p.noise,
  grad_clip = p.grad_clip, conditional = conditional, shape = shape, precision = p.precision,
}

local labels
if conditional then
  if p.class >= classes then error(string.format("class %d: the model has classes 0..%d", p.class, classes - 1)) end
  labels = {}
  for i = 1, p.n do labels[i] = p.class >= 0 and p.class or (i - 1) % classes end
end
print(string.format("sampling %d chains of %d steps from %s (%s, %s)", p.n, p.steps, p.checkpoint,
  conditional and (p.class >= 0 and ("class " .. p.class) or "classes in turn") or "unconditional", tostring(sampler)))
local started = os.time()
local samples, chain = sampler:sample{ n = p.n, labels = labels, keep_every = p.keep_every > 0 and p.keep_every or nil }
local energies = model:energy(samples, labels)

local run = joule.run_dir()
samples:save_npy(run .. "/samples.npy")
local ids = {}
for i = 1, p.n do ids[i] = labels and labels[i] or -1 end
joule.tensor.new(ids):save_npy(run .. "/labels.npy")
energies:save_npy(run .. "/energies.npy")
if chain then chain:save_npy(run .. "/chain.npy") end
if joule.plot then
  joule.plot.grid(samples, run .. "/samples.png", { nrow = math.min(p.n, 16) })
  if chain then
    -- Frame f shows step (f - 1)·keep_every, the last one the final step; the first 8 chains only.
    local steps, shown = {}, {}
    for f = 1, chain:size(1) do steps[f] = math.min((f - 1) * p.keep_every, p.steps) end
    for i = 1, math.min(p.n, 8) do shown[i] = i end
    joule.plot.chains(chain, run .. "/chain.png", { steps = steps, chains = shown })
  end
end
print(string.format("mean energy of the samples %.4g (%d s)", energies:mean(), os.difftime(os.time(), started)))
print("samples: " .. run .. "/samples.npy, labels.npy, energies.npy" .. (chain and ", chain.npy" or "")
  .. (joule.plot and "; pictures: samples.png" .. (chain and ", chain.png" or "") or ""))
