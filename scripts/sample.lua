-- Draws new images from a trained model with SGLD (or -p sampler=mala|hmc|annealed), from fresh
-- (uniform noise) starts.
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
-- -p sampler=mala|hmc|annealed samples with that sampler (mc_step_size is its h or ε; mala
-- adapt_steps/target_acceptance, hmc leapfrog/mass, annealed t0) and prints the mean acceptance.
-- -p start= is accepted for symmetry with train_jem.lua; new samples always start from noise.
-- With keep_every > 0 it also says how well the chains mixed (joule.ebm.diagnostics on the kept frames
-- after the first warmup of them; -1: the first half): the ESS and R-hat of the energy, the smallest and
-- median ESS and the largest R-hat over the pixels, and the mean acceptance, printed and written to
-- diagnostics.json in the run folder. Chains of different classes sample different energies, so their
-- R-hat also measures how the classes differ: -p class=K gives the R-hat of one target.
local p = joule.params{
  checkpoint = "",
  model = "",               -- a Lua file returning the network; "": the checkpoint's own
  n = 64,
  steps = 256,
  step_size = 10.0, step_decay = 1.0, noise = 0.005, grad_clip = 0.03,
  precision = "auto",       -- per layer the faster of "fp32" and "bf16" (bfloat16 convolutions, FP32 accumulation) on this CPU
  sampler = "sgld",         -- "sgld", "mala", "hmc" or "annealed" (joule.ebm.sampler)
  start = "noise",          -- fresh samples start from noise (the only start without training)
  mc_step_size = 0.0001,    -- mala/hmc/annealed: their step size (h, ε)
  adapt_steps = 0, target_acceptance = 0.574, leapfrog = 10, mass = 1.0, t0 = 10.0,
  conditional = true,
  class = -1,               -- with conditional sampling: only this class id (0-based); -1: all in turn
  keep_every = 8,           -- keep the chain every k steps (chain.png shows at most 9 of them); 0: only the final samples
  warmup = -1,              -- kept frames the diagnostics leave out; -1: the first half
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
if p.start ~= "noise" then
  error(string.format("start '%s': new samples start from noise (replay, cd and pcd are starts of training steps)", p.start))
end
local o = { model = model, steps = p.steps, conditional = conditional, shape = shape, precision = p.precision }
if p.sampler == "sgld" then
  o.step_size, o.step_decay, o.noise, o.grad_clip = p.step_size, p.step_decay, p.noise, p.grad_clip
elseif p.sampler == "mala" then
  o.step_size, o.adapt_steps, o.target_acceptance = p.mc_step_size, p.adapt_steps, p.target_acceptance
elseif p.sampler == "hmc" then
  o.step_size, o.leapfrog, o.mass = p.mc_step_size, p.leapfrog, p.mass
elseif p.sampler == "annealed" then
  o.step_size, o.t0 = p.mc_step_size, p.t0
end
local sampler = joule.ebm.sampler(p.sampler, o)

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
local acceptance = sampler.acceptance and sampler:acceptance()
local mean_acceptance
if acceptance then
  local sum = 0
  for _, a in ipairs(acceptance) do sum = sum + a end
  mean_acceptance = sum / #acceptance
  print(string.format("mean acceptance %.3f over %d chains", mean_acceptance, #acceptance))
end

-- How well the kept chains mixed. The diagnostics need 4 draws and 2 chains after the warm-up.
local diagnostics
if chain then
  local frames = chain:size(1)
  local warmup = p.warmup >= 0 and p.warmup or frames // 2
  -- Never fatal: chains that went non-finite still leave their samples on disk (and say why here).
  local ok, d = false, nil
  if frames - warmup >= 4 and p.n >= 2 then
    ok, d = pcall(joule.ebm.diagnostics, chain, { model = model, labels = labels, warmup = warmup })
    if not ok then print("diagnostics skipped: " .. tostring(d)) end
  end
  if ok then
    local classes_seen = {}
    for _, y in ipairs(labels or {}) do classes_seen[y] = true end
    local mixed = next(classes_seen) ~= nil and next(classes_seen, next(classes_seen)) ~= nil
    diagnostics = { warmup = warmup, draws = d.draws, chains = d.chains, keep_every = p.keep_every,
                    energy = { ess = d.energy.ess, rhat = d.energy.rhat },
                    ess_min = d.ess_min, ess_median = d.ess_median, rhat_max = d.rhat_max,
                    acceptance = mean_acceptance, acceptance_per_chain = acceptance, chains_of_several_classes = mixed }
    print(string.format("diagnostics of %d chains × %d kept frames (after %d left out): energy ESS %.1f, R-hat %.3f; "
      .. "pixels: ESS median %.1f, min %.1f, R-hat max %.3f%s", d.chains, d.draws, warmup, d.energy.ess, d.energy.rhat,
      d.ess_median, d.ess_min, d.rhat_max, mixed and " (chains of several classes: R-hat includes their differences)" or ""))
  elseif frames - warmup < 4 or p.n < 2 then
    print(string.format("diagnostics need 4 kept frames after the %d left out and 2 chains: %d frames, %d chains (a smaller keep_every)",
      warmup, frames, p.n))
  end
end

local run = joule.run_dir()
samples:save_npy(run .. "/samples.npy")
local ids = {}
for i = 1, p.n do ids[i] = labels and labels[i] or -1 end
joule.tensor.new(ids):save_npy(run .. "/labels.npy")
energies:save_npy(run .. "/energies.npy")
if chain then chain:save_npy(run .. "/chain.npy") end
if diagnostics then joule.save_json(run .. "/diagnostics.json", diagnostics) end
if joule.plot then
  joule.plot.grid(samples, run .. "/samples.png", { nrow = math.min(p.n, 16) })
  if chain then
    -- At most 9 frames, evenly spaced, and the last; frame f is step (f - 1)·keep_every (the last one
    -- the final step); the first 8 chains only.
    local frames, steps, shown = {}, {}, {}
    local every = math.max(1, math.ceil((chain:size(1) - 1) / 8))
    for f = 1, chain:size(1), every do frames[#frames + 1] = f end
    if frames[#frames] ~= chain:size(1) then frames[#frames + 1] = chain:size(1) end
    for i, f in ipairs(frames) do steps[i] = math.min((f - 1) * p.keep_every, p.steps) end
    for i = 1, math.min(p.n, 8) do shown[i] = i end
    local counts = ({ sgld = "SGLD step", mala = "MALA step", hmc = "HMC iteration", annealed = "annealed Langevin step" })[p.sampler]
    joule.plot.chains(chain:index(frames), run .. "/chain.png", { steps = steps, chains = shown, xlabel = counts })
  end
end
print(string.format("mean energy of the samples %.4g (%d s)", energies:mean(), os.difftime(os.time(), started)))
print("samples: " .. run .. "/samples.npy, labels.npy, energies.npy" .. (chain and ", chain.npy" or "")
  .. (diagnostics and ", diagnostics.json" or "")
  .. (joule.plot and "; pictures: samples.png" .. (chain and ", chain.png" or "") or ""))
