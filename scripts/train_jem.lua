-- Trains a JEM (or, with classes=1, a plain EBM) on a folder in the course layout.
--
--   joule run scripts/train_jem.lua [-p data=DIR] [-p epochs=N] [-p run=DIR] [-p resume=DIR] ...
--                                   [-p model=scripts/models/residual_ebm.lua]
--
-- Defaults are the course's: batch 32, Adam lr 1e-4 with betas (0, 0.999), StepLR(2, 0.97),
-- alpha 0.1, lambda 1, gradient-norm clip 0.1; SGLD with 60 steps of size 10, noise 0.005,
-- gradient clip 0.03, a replay buffer of 128 chains per class, 5% fresh starts.
-- Writes into the run folder: log.jsonl (one line per epoch), best/ (the checkpoint with the best
-- validation accuracy) and last/ (the latest), each holding model.safetensors (weights, PyTorch
-- names) and state.safetensors (optimizer, schedule, replay buffer, generators).
-- Every tb_every epochs (and after the last) it adds to the run's TensorBoard events (tensorboard
-- --logdir runs) a grid of class-conditional samples, an SGLD chain, and the energy histograms of
-- real, sampled, noise and OOD images; joule.log's numbers become TensorBoard curves by themselves.
-- With the pictures, the diagnostics of their chains (the energy's ESS and R-hat, the median and
-- smallest ESS and the largest R-hat over pixels, the mean acceptance) as TensorBoard curves
-- diagnostics/energy_ess and so on, and one printed line.
-- Every fid_every epochs (and after the last; 0: never) the epoch's log line also holds the sample
-- quality of fid_per_class samples per class against the validation split (scripts/sample_quality.lua's
-- measures: fid, kid, precision, recall, density, coverage, class_fidelity, diversity).
-- -p resume=DIR continues a run from its last/ checkpoint (DIR: the run folder or a checkpoint
-- folder) and ends with the same numbers as a run that never stopped. Ctrl-C finishes the current
-- step, saves last/ and exits with status 130.
-- -p model=FILE.lua trains the network that file returns (see scripts/models/; a file returning a
-- function gets { classes, channels, hidden }); by default the course's ShallowCNN.
-- -p spectral_norm=true wraps every Conv2d and Linear of that network in spectral normalisation
-- (PyTorch's spectral_norm: one power iteration per training step; the checkpoints hold the
-- weights as <layer>.parametrizations.weight.original with u and v, loadable in PyTorch).
-- The divergence guard (-p guard=false turns it off) checks every step for a non-finite loss,
-- energies beyond guard_energy_max or a runaway gap between sampled and real energies (mean over
-- guard_window steps beyond guard_gap_max); it then rolls back to the last good state (kept every
-- guard_every steps), reseeds the sampler, multiplies the learning rate by guard_lr_factor, adds
-- guard_extra_steps SGLD steps, and logs { event = "rollback", ... } in log.jsonl. After
-- guard_max_rollbacks rollbacks in a row it stops with an error; last/ keeps the last good epoch.
-- -p sampler=sgld|mala|hmc|annealed chooses the sampler (default the course's SGLD; the others take
-- mc_step_size (their h or ε), and mala adapt_steps/target_acceptance, hmc leapfrog/mass, annealed t0);
-- -p start=replay|noise|cd|pcd where each training step's chains start (replay buffer, fresh noise,
-- the real batch (contrastive divergence), persistent chains). Resume continues either exactly.
local p = joule.params{
  data = "data/glyphs",
  epochs = 10,
  batch_size = 32,
  max_batches = 0,          -- batches per epoch (drawn from the whole shuffled split); 0: all
  lr = 1e-4, lr_step = 2, lr_gamma = 0.97,
  alpha = 0.1, lambda = 1.0, clip = 0.1,
  model = "",               -- a Lua file returning the network; "": joule.nn.ShallowCNN
  hidden = 32,
  classes = 0,              -- 0: from the labels (max + 1); 1: a plain EBM (labels ignored, px only)
  conditional = true,       -- class-conditional SGLD (one buffer per class); ignored for classes=1
  buffer_per_class = 128,
  steps = 60, step_size = 10.0, noise = 0.005, grad_clip = 0.03, fresh_fraction = 0.05,
  precision = "auto",       -- SGLD's passes: per layer the faster of "fp32" and "bf16" (bfloat16 convolutions) on this CPU; the update stays FP32
  sampler = "sgld",         -- "sgld", "mala", "hmc" or "annealed" (joule.ebm.sampler)
  start = "replay",         -- training chains start from: "replay", "noise", "cd" (the real batch) or "pcd" (persistent)
  mc_step_size = 0.0001,    -- mala/hmc/annealed: their step size (h, ε); sgld uses step_size
  adapt_steps = 0, target_acceptance = 0.574,   -- mala: step-size warm-up
  leapfrog = 10, mass = 1.0,                    -- hmc
  t0 = 10.0,                                    -- annealed: the first step's temperature
  eval_samples = 32,        -- SGLD samples drawn per validation to measure their energy
  seed = 1,
  resume = "",
  progress = true,
  guard = true,
  guard_every = 50, guard_energy_max = 1000.0, guard_gap_max = 100.0, guard_window = 20,
  guard_lr_factor = 0.5, guard_extra_steps = 0, guard_max_rollbacks = 4,
  tb_every = 5,             -- TensorBoard pictures every this many epochs and after the last; 0: none
  fid_every = 0,            -- sample quality (FID, KID, precision/recall, …) every this many epochs; 0: never
  fid_per_class = 4,        -- samples per class for it (more than 64 in all: the features' count)
  features = "features/glyphs.safetensors",  -- the feature network it uses (made for the built-in corpus)
  -- The objective (README, "Training objectives"): ml (contrastive maximum likelihood with SGLD
  -- samples), dsm (denoising score matching, noise level sigma), ssm (sliced score matching by
  -- finite differences, ssm_eps and projections), nce (noise-contrastive estimation against a
  -- Gaussian fitted to the training images, nce_ratio noise images per real one); gp > 0 adds the gradient penalty gp·mean‖∂E/∂x‖²
  -- on the real batch (and on the sampled one with gp_sampled). Saved in checkpoints: a resume must match.
  objective = "ml", sigma = 0.1, ssm_eps = 0.1, projections = 1, nce_ratio = 1, gp = 0.0, gp_sampled = false,
  -- Spectral normalisation of every Conv2d and Linear (PyTorch's spectral_norm, one power
  -- iteration per training step); its u, v are saved in checkpoints under PyTorch's names.
  spectral_norm = false,
}

joule.seed(p.seed)
local found = io.open(p.data .. "/train.npy")
if found then found:close() elseif p.data == "data/glyphs" then
  error("data/glyphs/train.npy is missing: make the built-in corpus with `joule data glyphs` (scripts/demo does), or pass -p data=DIR")
end
local train = joule.data.load_split(p.data .. "/train.npy")
local val = joule.data.load_split(p.data .. "/val.npy")
if not (train.labels and val.labels) then error(p.data .. ": train.npy and val.npy need labels") end

local classes = p.classes
if classes == 0 then
  -- The classes the folder declares (classes.json), so that a class without training images still
  -- gets its logit; without a declaration, the largest label + 1.
  local names = joule.data.classes(p.data)
  local declared = names and #names or 0
  for _, y in ipairs(train.labels) do
    if names and y >= declared then
      error(string.format("%s: a training label %d, but classes.json names %d classes (labels 0…%d)", p.data, y, declared, declared - 1))
    end
    if y + 1 > classes then classes = y + 1 end
  end
  classes = math.max(classes, declared)
end
local ebm = classes == 1
if ebm then
  -- A plain EBM: one logit, E(x) = -f(x); every image is "class 0", so only px trains.
  local function zeros(n) local z = {} for i = 1, n do z[i] = 0 end return z end
  train = { images = train.images, labels = zeros(train.n), n = train.n }
  val = { images = val.images, labels = zeros(val.n), n = val.n }
end

local shape = { train.images:size(2), train.images:size(3), train.images:size(4) }
local model
if p.model ~= "" then
  model = joule.nn.from_file(p.model, { classes = classes, channels = shape[1], hidden = p.hidden })
  if model:classes() ~= classes then
    error(string.format("%s: the network gives %d logits, the data has %d classes", p.model, model:classes(), classes))
  end
else
  if shape[1] ~= 1 then
    error(string.format("%s: images of %d channels; the ShallowCNN reads one: give -p model=FILE.lua (e.g. scripts/models/residual_ebm.lua)", p.data, shape[1]))
  end
  model = joule.nn.ShallowCNN{ hidden = p.hidden, classes = classes }
end
if p.spectral_norm then
  -- Every convolution and linear layer spectrally normalised (README, "Spectral normalisation").
  -- A resumed run wraps the same network, whose names the checkpoint's weights (u, v included)
  -- then fill. Evaluation mode: validation and pictures leave u, v alone; each training step
  -- advances them once (the JEM trainer does, whatever the mode).
  model = joule.nn.spectral_norm(model)
  model:eval()
end
-- The sampler's options: those every sampler takes, then its own.
local function sampler_options(o)
  o.model, o.steps, o.shape, o.precision = model, p.steps, shape, p.precision
  if p.sampler == "sgld" then
    o.step_size, o.noise, o.grad_clip = p.step_size, p.noise, p.grad_clip
  elseif p.sampler == "mala" then
    o.step_size, o.adapt_steps, o.target_acceptance = p.mc_step_size, p.adapt_steps, p.target_acceptance
  elseif p.sampler == "hmc" then
    o.step_size, o.leapfrog, o.mass = p.mc_step_size, p.leapfrog, p.mass
  elseif p.sampler == "annealed" then
    o.step_size, o.t0 = p.mc_step_size, p.t0
  end
  return o
end
local sampler = joule.ebm.sampler(p.sampler, sampler_options{
  fresh_fraction = p.fresh_fraction, conditional = p.conditional and not ebm,
  buffer_per_class = p.buffer_per_class, start = p.start,
})
local jem = joule.ebm.JEM{
  model = model, sampler = sampler, alpha = p.alpha, lambda = ebm and 0 or p.lambda,
  lr = p.lr, lr_step = p.lr_step, lr_gamma = p.lr_gamma, clip = p.clip,
  guard = p.guard and { every = p.guard_every, energy_max = p.guard_energy_max, gap_max = p.guard_gap_max,
                        window = p.guard_window, lr_factor = p.guard_lr_factor, extra_steps = p.guard_extra_steps,
                        max_rollbacks = p.guard_max_rollbacks },
  objective = p.objective, sigma = p.sigma, eps = p.ssm_eps, projections = p.projections,
  nce_data = p.objective == "nce" and train.images or nil, ratio = p.nce_ratio,
  gp = p.gp, gp_sampled = p.gp_sampled,
}

local run = joule.run_dir()
local best, best_epoch = -math.huge, 0
if p.resume ~= "" then
  local info = jem:load_checkpoint(p.resume)
  best, best_epoch = info.best_metric or best, info.best_epoch or 0
  print(string.format("resumed %s: %d epochs and %d steps done", p.resume, jem:epoch(), jem:steps()))
end
print(string.format("training %s on %s: %d images, %d classes, %s; run folder %s",
  ebm and "an EBM" or "a JEM", p.data, train.n, classes, tostring(model), run))
io.stdout:flush()

local function info(epoch)
  -- hidden and channels: what a model file's function takes (joule.nn.load(path, file) passes them back).
  return { script = "train_jem.lua", data = p.data, epoch = epoch, best_metric = best, best_epoch = best_epoch,
           hidden = p.hidden, channels = shape[1] }
end

-- TensorBoard pictures, as the UvA tutorial's callbacks draw them. They come from a sampler of their
-- own (own generator, chains from noise), so drawing them changes nothing in the training run.
local tb_sampler = p.tb_every > 0 and joule.ebm.sampler(p.sampler, sampler_options{
  conditional = p.conditional and not ebm, buffer_per_class = 1, seed = p.seed + 7919,
})
local ood_file = p.data .. "/ood_ta.npy"
local ood = p.tb_every > 0 and io.open(ood_file) and joule.data.load_split(ood_file)
local function first(t, n) return t:size(1) > n and t:slice(1, n) or t end

local function tensorboard()
  -- Every 8th step kept (33 frames): the picture shows every 4th of them (steps 0, 32, …, 256), the
  -- diagnostics use the second half (17 draws; the first half is the way from noise).
  local step, n, k = jem:steps(), 16, 8
  local labels, names = {}, {}
  for i = 1, n do labels[i] = (i - 1) * classes // n; names[i] = tostring(labels[i]) end
  local conditional = p.conditional and not ebm
  local x, frames = tb_sampler:sample{ n = n, labels = conditional and labels or nil, steps = 256, keep_every = k }
  joule.tb.image("samples/generated", x, { step = step, nrow = 8, scale = 2 })
  if conditional then joule.tb.text("samples/classes", "row by row: classes " .. table.concat(names, ", "), { step = step }) end
  local shown, steps = {}, {}
  for f = 1, frames:size(1), 4 do shown[#shown + 1] = f; steps[#steps + 1] = math.min((f - 1) * k, 256) end
  local counts = ({ sgld = "SGLD step", mala = "MALA step", hmc = "HMC iteration", annealed = "annealed Langevin step" })[p.sampler]
  joule.tb.image("samples/chain", joule.plot.chains(frames:index(shown), { chains = { 1, 2, 3, 4 }, steps = steps, xlabel = counts }),
                 { step = step })
  -- How well these chains mixed, as TensorBoard curves diagnostics/energy_ess, … (not in log.jsonl: its
  -- lines are the epochs, which resume and sweeps compare). The chains are of different classes, so
  -- R-hat also measures how the classes' energies differ. Cheap: the frames exist, the energies of
  -- 17 × 16 of them are new.
  local d = joule.ebm.diagnostics(frames, { model = model, labels = conditional and labels or nil, warmup = frames:size(1) // 2 })
  local acceptance = tb_sampler.acceptance and tb_sampler:acceptance()
  local mean_acceptance
  if acceptance then
    mean_acceptance = 0
    for _, a in ipairs(acceptance) do mean_acceptance = mean_acceptance + a / #acceptance end
  end
  local values = { energy_ess = d.energy.ess, energy_rhat = d.energy.rhat, ess_median = d.ess_median, ess_min = d.ess_min,
                  rhat_max = d.rhat_max, acceptance = mean_acceptance }
  for _, key in ipairs{ "energy_ess", "energy_rhat", "ess_median", "ess_min", "rhat_max", "acceptance" } do
    if values[key] then joule.tb.scalar("diagnostics/" .. key, values[key], { step = step }) end
  end
  print(string.format("chains of the TensorBoard pictures (%d × %d draws): energy ESS %.1f, R-hat %.3f; pixels: ESS median %.1f, R-hat max %.3f",
    d.chains, d.draws, d.energy.ess, d.energy.rhat, d.ess_median, d.rhat_max))
  joule.tb.histogram("energy/real", model:energy(first(val.images, 256)), { step = step })
  joule.tb.histogram("energy/sampled", model:energy(x), { step = step })
  joule.tb.histogram("energy/noise", model:energy(tb_sampler:sample{ n = 64, steps = 0 }), { step = step })
  if ood then joule.tb.histogram("energy/ood_ta", model:energy(first(ood.images, 256)), { step = step }) end
end

-- Sample quality on the validation split: fid, kid, precision, … join the epoch's log line (and so its
-- TensorBoard curves). The chains come from a sampler seeded by the epoch, from noise: no effect on
-- training, and a resumed run logs the same numbers as one that never stopped.
local function sample_quality(epoch)
  local conditional = p.conditional and not ebm
  local sampler = joule.ebm.SGLD{
    model = model, steps = 256, step_size = p.step_size, noise = p.noise, grad_clip = p.grad_clip,
    conditional = conditional, buffer_per_class = 1, shape = shape, seed = p.seed * 1000 + epoch + 104729, precision = p.precision,
  }
  local labels = {}
  for c = 0, classes - 1 do for _ = 1, p.fid_per_class do labels[#labels + 1] = c end end
  local x = sampler:sample{ n = #labels, labels = conditional and labels or nil }
  local q = joule.metrics.sample_quality(x, val.images, conditional and { labels = labels, real_labels = val.labels, features = p.features }
                                                                       or { features = p.features })
  return { fid = q.fid, kid = q.kid, precision = q.precision, recall = q.recall, density = q.density,
           coverage = q.coverage, class_fidelity = q.class_fidelity, diversity = q.diversity }
end

local stopped = false
for epoch = jem:epoch() + 1, p.epochs do
  local started = os.time()
  local lr = jem:lr()
  local s = jem:fit_epoch(train, { batch_size = p.batch_size, progress = p.progress, log = true,
                                   max_batches = p.max_batches > 0 and p.max_batches or nil })
  if s.interrupted then stopped = true; break end
  -- MALA's and HMC's mean acceptance over the chains of the epoch's last step (SGLD has none: nil, not logged).
  local acceptance
  if sampler.acceptance and sampler:acceptance() then
    acceptance = 0
    for _, a in ipairs(sampler:acceptance()) do acceptance = acceptance + a end
    acceptance = acceptance / #sampler:acceptance()
  end
  local v = jem:evaluate(val, { samples = p.eval_samples })
  -- Best by validation accuracy; a plain EBM has no classes to tell apart, so its latest is its best.
  local score = ebm and epoch or v.accuracy
  if score > best then best, best_epoch = score, epoch end
  local line = { epoch = epoch, step = jem:steps(), lr = lr, loss = s.loss, px = s.px, pyx = s.pyx,
                 train_acc = s.accuracy, val_acc = v.accuracy, energy_real = v.energy_real,
                 energy_sampled = v.energy_sampled, cdiv = v.cdiv, grad_norm = s.grad_norm, acceptance = acceptance }
  -- Never fatal: a measure that cannot be taken costs a warning, not the run.
  if p.fid_every > 0 and (epoch % p.fid_every == 0 or epoch == p.epochs) then
    local ok, q = pcall(sample_quality, epoch)
    if ok then for k, v in pairs(q) do line[k] = v end
    else io.stderr:write("warning: sample quality of epoch ", epoch, " skipped: ", tostring(q), "\n") end
  end
  joule.log(line)
  if best_epoch == epoch then jem:save_checkpoint(run .. "/best", info(epoch)) end
  jem:save_checkpoint(run .. "/last", info(epoch))
  -- After the checkpoints, and never fatal: a picture that cannot be drawn costs a warning, not the run.
  if p.tb_every > 0 and (epoch % p.tb_every == 0 or epoch == p.epochs) then
    local ok, err = pcall(tensorboard)
    if not ok then io.stderr:write("warning: TensorBoard pictures of epoch ", epoch, " skipped: ", tostring(err), "\n") end
  end
  print(string.format("epoch %d done in %d s", epoch, os.difftime(os.time(), started)))
  if joule.interrupted() then stopped = true; break end
end

if stopped then
  -- Ctrl-C: the step in progress finished; keep everything so -p resume continues exactly here.
  jem:save_checkpoint(run .. "/last", info(jem:epoch()))
  print(string.format("interrupted after step %d: saved %s/last (continue with -p resume=%s)", jem:steps(), run, run))
else
  print(string.format("done: best validation accuracy %.4f (epoch %d)", best == -math.huge and 0 / 0 or best, best_epoch))
  print("checkpoints: " .. run .. "/best, " .. run .. "/last; log: " .. run .. "/log.jsonl")
end
