-- A report of a trained run: pictures and numbers a newcomer can read without the code.
--
--   joule run scripts/report.lua -p run=RUNDIR [-p data=DIR] [-p checkpoint=RUN_OR_FILE]
--
-- RUNDIR is a run folder of the main job (scripts/demo: RUNDIR/train/ holds the training log and
-- checkpoints; samples/, evaluate.json, ood.json and sample_quality.json are reused when present) or a folder that
-- scripts/train_jem.lua wrote itself. Writes RUNDIR/report/: report.md (start there), metrics.json
-- and the PNGs it links — training curves, sample grids, sampling chains, energy traces, OOD
-- histograms and ROC curves for each score, and a confusion matrix. Prints the report's path.
-- -p model=FILE.lua builds the network that file returns (scripts/models/) and loads the weights into
-- it, for weights saved without their architecture (PyTorch's); by default the file rebuilds it.
local p = joule.params{
  checkpoint = "",          -- default: RUNDIR/train if it exists, else RUNDIR
  model = "",               -- a Lua file returning the network; "": the checkpoint's own
  data = "data/glyphs",
  classes_shown = 8,        -- classes in the real-versus-sampled grid (spread over all classes)
  per_class = 4,            -- real images and samples per class in that grid
  unconditional = 36,       -- samples drawn from E(x) alone
  steps = 256, step_size = 10.0, noise = 0.005, grad_clip = 0.03,
  keep_every = 8,           -- frames kept for the energy trace; the chain strips show every 4th
  chains = 4,               -- chains shown per strip
  noise_std = 1.0,          -- the noise OOD set, as scripts/ood.lua makes it
  max_images = 0,           -- images per set for the OOD scores; 0: all
  batch_size = 256,
  seed = 1,
}
joule.seed(p.seed)
local run = joule.run_dir()
local out = run .. "/report"

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end
local function isdir(path) return exists(path .. "/.") end
local function pick(...)
  for _, path in ipairs({ ... }) do if exists(path) then return path end end
end

local checkpoint = p.checkpoint ~= "" and p.checkpoint or (isdir(run .. "/train") and run .. "/train" or run)
local model = joule.nn.load(checkpoint, p.model ~= "" and p.model or nil)
local classes = model:classes()
local conditional = classes > 1
print(string.format("report on %s (%s, %d classes)", checkpoint, tostring(model), classes))
io.stdout:flush()

-- Class names: the first column of the corpus's class_counts.csv, else the class ids.
local names = {}
local csv = io.open(p.data .. "/class_counts.csv")
if csv then
  local header = true
  for line in csv:lines() do
    if not header then names[#names + 1] = line:match("^([^,]*)") end
    header = false
  end
  csv:close()
end
if #names ~= classes then names = {} for c = 1, classes do names[c] = tostring(c - 1) end end

local figures, notes, metrics = {}, {}, { checkpoint = checkpoint, data = p.data, classes = classes }
-- Draws one figure; a figure that cannot be made (a log without that key) becomes a note instead.
local function figure(file, draw)
  local ok, err = pcall(draw, out .. "/" .. file)
  if ok then figures[file] = true else notes[#notes + 1] = file .. " was not drawn: " .. tostring(err) end
  return ok
end

-- 1. Training curves --------------------------------------------------------------------------
local log = pick(run .. "/train/log.jsonl", run .. "/log.jsonl", checkpoint .. "/log.jsonl")
local last = {}
if log then
  -- Epoch lines (the last one is the summary) and the guard's rollback events, at the epoch they fell in:
  -- epoch e-1 + the fraction of epoch e's steps done (the x axis counts epochs).
  local epochs, events = {}, {}
  local function fields(line)
    local t = {}
    for k, v in line:gmatch('"([%w_]+)":(-?[%d%.eE+-]+)') do t[k] = tonumber(v) end
    for k, v in line:gmatch('"([%w_]+)":"([^"]*)"') do t[k] = v end
    return t
  end
  for line in io.lines(log) do
    if line:find('"event":"rollback"', 1, true) then events[#events + 1] = fields(line)
    elseif line:find("%S") and not line:find('"event":', 1, true) then last.line = line; epochs[#epochs + 1] = fields(line) end
  end
  for k, v in (last.line or ""):gmatch('"([%w_]+)":(-?[%d%.eE+-]+)') do last[k] = tonumber(v) end
  local marks = {}
  for _, e in ipairs(events) do
    local before, x = { epoch = 0, step = 0 }, nil
    for _, l in ipairs(epochs) do
      if l.step and l.epoch then
        if e.step <= l.step then x = before.epoch + (e.step - before.step) / math.max(l.step - before.step, 1); break end
        before = l
      end
    end
    e.x = x or before.epoch
    marks[#marks + 1] = e.x
  end
  local mark_options = #marks > 0 and { marks = marks, mark_label = "guard rollback" } or {}
  local function with_marks(o) for k, v in pairs(mark_options) do o[k] = v end return o end
  metrics.rollbacks = events
  figure("training_loss.png", function(path)
    joule.plot.run_log(log, path, with_marks { keys = { "loss", "px", "pyx" }, x = "epoch", title = "Training loss per epoch",
                                   ylabel = "loss (lower is better)",
                                   names = { loss = "total loss = px + pyx", px = "px: generative part",
                                             pyx = "pyx: classifier (cross-entropy)" } })
  end)
  figure("training_accuracy.png", function(path)
    joule.plot.run_log(log, path, with_marks { keys = { "train_acc", "val_acc" }, x = "epoch", title = "Classification accuracy",
                                   ylabel = "fraction correct", yrange = { 0, 1 },
                                   names = { train_acc = "training batches", val_acc = "validation split" } })
  end)
  figure("training_energy.png", function(path)
    joule.plot.run_log(log, path, with_marks { keys = { "energy_real", "energy_sampled" }, x = "epoch",
                                   title = "Energy of real images and of SGLD samples", ylabel = "mean energy E(x)",
                                   names = { energy_real = "real images", energy_sampled = "SGLD samples" } })
  end)
  metrics.training = last
  last.line = nil
else
  notes[#notes + 1] = "no training log (log.jsonl) found in " .. run .. ": no training curves"
end

-- 2. Samples and chains -------------------------------------------------------------------------
local test = joule.data.load_split(p.data .. "/test.npy")
local size, channels = test.images:size(3), test.images:size(2)
local function sampler(cond)
  return joule.ebm.SGLD{ model = model, steps = p.steps, step_size = p.step_size, noise = p.noise,
                         grad_clip = p.grad_clip, conditional = cond, shape = { channels, size, size } }
end
local steps_of = function(frames, every)
  local s = {}
  for f = 1, frames:size(1) do s[f] = math.min((f - 1) * every, p.steps) end
  return s
end
-- Every 4th kept frame (and the last) for the strips.
local function thinned(frames)
  local idx, n = {}, frames:size(1)
  for f = 1, n, 4 do idx[#idx + 1] = f end
  if idx[#idx] ~= n then idx[#idx + 1] = n end
  local steps, all = {}, steps_of(frames, p.keep_every)
  for i, f in ipairs(idx) do steps[i] = all[f] end
  return frames:index(idx), steps
end
-- E(x) of every chain at every kept frame: rows of the energy trace.
local function frame_energies(frames)
  local rows, n = {}, frames:size(2)
  for f = 1, frames:size(1) do
    local x = frames:slice(f):reshape(n, channels, size, size)
    rows[f] = model:energy(x):totable()
  end
  return rows
end

-- How well chains mixed: ESS and R-hat of their energies (the rows frame_energies computed) and of
-- their pixels, on the second half of the kept frames (the first is the way from noise).
local function mixing(frames, energies)
  local warmup = frames:size(1) // 2
  if frames:size(1) - warmup < 4 or frames:size(2) < 2 then return nil end
  local ok, d = pcall(joule.ebm.diagnostics, frames, { warmup = warmup })
  local ok2, e = pcall(joule.ebm.diagnostics, joule.tensor(energies), { warmup = warmup })
  if not (ok and ok2) then   -- non-finite chains: a note, not a failed report
    notes[#notes + 1] = "no mixing diagnostics: " .. tostring(ok and e or d)
    return nil
  end
  return { warmup = warmup, draws = d.draws, chains = d.chains, energy_ess = e.ess[1], energy_rhat = e.rhat[1],
           ess_median = d.ess_median, ess_min = d.ess_min, rhat_max = d.rhat_max }
end

local traces = {}
local t0 = os.time()
if conditional then
  -- Classes spread over the whole range; per row: real test images of the class, then samples of it.
  local shown, labels = {}, {}
  local k = math.min(p.classes_shown, classes)
  for i = 1, k do shown[i] = math.floor((i - 1) * classes / k) end
  for _, c in ipairs(shown) do for _ = 1, p.per_class do labels[#labels + 1] = c end end
  local samples, frames = sampler(true):sample{ n = #labels, labels = labels, keep_every = p.keep_every }
  local parts, row_labels = {}, {}
  for i, c in ipairs(shown) do
    local real = {}
    for j, y in ipairs(test.labels) do
      if y == c and #real < p.per_class then real[#real + 1] = j end
    end
    while #real < p.per_class do real[#real + 1] = real[#real] or 1 end
    local mine = {}
    for j = 1, p.per_class do mine[j] = (i - 1) * p.per_class + j end
    parts[#parts + 1] = test.images:index(real)
    parts[#parts + 1] = samples:index(mine)
    row_labels[i] = "class " .. names[c + 1]
  end
  figure("samples_conditional.png", function(path)
    joule.plot.grid(joule.tensor.cat(parts), path, { nrow = 2 * p.per_class, row_labels = row_labels,
      title = string.format("Per row: %d real test images, then %d samples of that class", p.per_class, p.per_class) })
  end)
  local strip, strip_steps = thinned(frames)
  local picked, picked_labels = {}, {}
  for i = 1, math.min(p.chains, k) do
    picked[i] = (i - 1) * p.per_class + 1
    picked_labels[i] = "class " .. names[labels[picked[i]] + 1]
  end
  figure("chains_conditional.png", function(path)
    joule.plot.chains(strip, path, { steps = strip_steps, chains = picked, row_labels = picked_labels,
      title = "Class-conditional SGLD chains: noise turns into glyphs" })
  end)
  traces[#traces + 1] = { name = "class given", energies = frame_energies(frames),
                          steps = steps_of(frames, p.keep_every) }
  metrics.mixing_conditional = mixing(frames, traces[#traces].energies)
  metrics.samples_conditional = { n = #labels, mean_energy = model:energy(samples):mean() }
end

local usamples, uframes = sampler(false):sample{ n = p.unconditional, keep_every = p.keep_every }
figure("samples_unconditional.png", function(path)
  joule.plot.grid(usamples, path, { title = conditional and "Unconditional samples: SGLD on E(x), no class given"
                                                         or "Samples: SGLD on E(x)" })
end)
local ustrip, ustrip_steps = thinned(uframes)
local upicked = {}
for i = 1, math.min(p.chains, p.unconditional) do upicked[i] = i end
figure("chains_unconditional.png", function(path)
  joule.plot.chains(ustrip, path, { steps = ustrip_steps, chains = upicked, title = "Unconditional SGLD chains" })
end)
traces[#traces + 1] = { name = "no class given", energies = frame_energies(uframes), steps = steps_of(uframes, p.keep_every) }
metrics.mixing_unconditional = mixing(uframes, traces[#traces].energies)
metrics.samples_unconditional = { n = p.unconditional, mean_energy = model:energy(usamples):mean() }

-- Real images for reference: where the chains should end up.
metrics.reference_energy = model:energy(test.images:slice(1, math.min(test.n, 256))):mean()
figure("energy_trace.png", function(path)
  joule.plot.energy_trace(traces, path, {
    title = string.format("Energy of SGLD chains (real test images: %.2f)", metrics.reference_energy),
    ylabel = "energy E(x) (lower = more like the data)" })
end)

-- The main job's sample.lua output (one chain per class), when present.
local samples_dir = pick(run .. "/samples/samples.npy") and run .. "/samples"
if samples_dir then
  local s = joule.load_npy(samples_dir .. "/samples.npy")
  local ids = exists(samples_dir .. "/labels.npy") and joule.load_npy(samples_dir .. "/labels.npy"):totable() or {}
  local per_row = math.min(s:size(1), 14)
  local row_labels = {}
  for r = 1, math.ceil(s:size(1) / per_row) do
    local a, b = ids[(r - 1) * per_row + 1], ids[math.min(r * per_row, s:size(1))]
    row_labels[r] = (a and a >= 0 and names[a + 1] and b and names[b + 1]) and (names[a + 1] .. " – " .. names[b + 1]) or ""
  end
  figure("samples_per_class.png", function(path)
    joule.plot.grid(s, path, { nrow = per_row, row_labels = ids[1] and ids[1] >= 0 and row_labels or nil,
                               title = "One sample per class (scripts/sample.lua), classes in order" })
  end)
end
print(string.format("samples and chains drawn (%d s)", os.difftime(os.time(), t0)))
io.stdout:flush()

-- 3. Out-of-distribution detection -------------------------------------------------------------
t0 = os.time()
local function images(name)
  local path = p.data .. "/" .. name .. ".npy"
  if not exists(path) then return nil end
  local s = joule.data.load_split(path)
  if p.max_images > 0 and s.n > p.max_images then return s.images:slice(1, p.max_images) end
  return s.images
end
local sets = { test = images("test"), ood_ta = images("ood_ta"), ood_tb = images("ood_tb") }
sets.noise = (joule.tensor.randn(sets.test:shape()) * p.noise_std):clamp(-1, 1)
local set_names = {}
for _, n in ipairs({ "test", "ood_ta", "ood_tb", "noise" }) do if sets[n] then set_names[#set_names + 1] = n end end
local score_names = conditional and { "px", "py", "mass" } or { "px", "mass" }
local what = {
  px = "px = −E(x): low energy means the model finds the image likely",
  py = "py = the largest class probability: confident classification means in-distribution",
  mass = "mass = −‖∂E/∂x‖: a flat energy landscape around the image means in-distribution",
}
local scores = {}
for _, n in ipairs(set_names) do
  scores[n] = {}
  for _, s in ipairs(score_names) do scores[n][s] = joule.ood.scores(model, sets[n], s, p.batch_size) end
end
metrics.ood = { auroc = {}, auprc = {} }
for _, s in ipairs(score_names) do
  local curves = {}
  metrics.ood.auroc[s], metrics.ood.auprc[s] = {}, {}
  for _, n in ipairs(set_names) do
    if n ~= "test" then
      metrics.ood.auroc[s][n], metrics.ood.auprc[s][n] = joule.ood.separation(scores.test[s], scores[n][s])
      curves[#curves + 1] = { name = "test vs " .. n, inside = scores.test[s], outside = scores[n][s] }
    end
  end
  figure("roc_" .. s .. ".png", function(path)
    joule.plot.roc(curves, path, { title = "Telling test images from OOD ones by " .. s })
  end)
end
-- The course's figure: energies (not px = −E) of each set.
local energy_sets = {}
for _, n in ipairs(set_names) do
  local e = {}
  for i, v in ipairs(scores[n].px) do e[i] = -v end
  energy_sets[#energy_sets + 1] = { name = n, values = e }
end
figure("ood_energy_histogram.png", function(path)
  joule.plot.histogram(energy_sets, path, { title = "Energy E(x) of in-distribution (test) and OOD images",
                                            xlabel = "energy E(x) (lower = more like the training data)" })
end)
for _, s in ipairs(score_names) do
  if s ~= "px" then
    local hs = {}
    for _, n in ipairs(set_names) do hs[#hs + 1] = { name = n, values = scores[n][s] } end
    figure("ood_" .. s .. "_histogram.png", function(path)
      joule.plot.histogram(hs, path, { title = "Score " .. s .. " of in-distribution (test) and OOD images",
                                       xlabel = s .. " (higher = more in-distribution)" })
    end)
  end
end
print(string.format("OOD scores and curves done (%d s)", os.difftime(os.time(), t0)))

-- 4. Classification on the test split ----------------------------------------------------------
if conditional and test.labels then
  local predictions = {}
  for first = 1, test.n, p.batch_size do
    for _, y in ipairs(model:predict(test.images:slice(first, math.min(first + p.batch_size - 1, test.n)))) do
      predictions[#predictions + 1] = y
    end
  end
  local confidence = joule.ood.scores(model, test.images, "py", p.batch_size)
  local per_class = joule.metrics.per_class_accuracy(predictions, test.labels, classes)
  metrics.test = {
    n = test.n,
    accuracy = joule.metrics.accuracy(predictions, test.labels),
    calibration_error = joule.metrics.calibration_error(confidence, predictions, test.labels),
    per_class_accuracy = per_class,
  }
  figure("confusion.png", function(path)
    joule.plot.confusion({ predictions = predictions, labels = test.labels, classes = classes }, path,
      { class_names = names, title = "Test split: true class (rows) against predicted class (columns)" })
  end)
end
-- Sample quality: scripts/sample_quality.lua's numbers when the run has them (scripts/demo makes them).
local quality_file = pick(run .. "/sample_quality.json", checkpoint .. "/sample_quality.json")
if quality_file then
  metrics.sample_quality = joule.load_json(quality_file)
else
  notes[#notes + 1] = "no sample_quality.json in " .. run .. ": run scripts/sample_quality.lua -p checkpoint=" .. checkpoint
    .. " -p out=" .. run .. "/sample_quality.json for FID, precision/recall and diversity"
end
joule.save_json(out .. "/metrics.json", metrics)

-- 5. report.md ---------------------------------------------------------------------------------
local md = {}
local function say(fmt, ...) md[#md + 1] = select("#", ...) > 0 and string.format(fmt, ...) or fmt end
local function img(file, caption)
  if figures[file] then say("![%s](%s)", caption, file); say("") end
end
local function f3(x) return x and (x ~= x and "–" or string.format("%.3f", x)) or "–" end

say("# Report: %s", run)
say("")
say("Model: `%s` from `%s`, trained on `%s`. A %s: one network gives both class scores (logits f(x)) and an",
    tostring(model), checkpoint, p.data, conditional and "Joint Energy-based Model (JEM)" or "energy-based model (EBM)")
say("energy E(x) = −logsumexp f(x) that is low for images like the training data. New images are drawn by")
say("SGLD: start from noise and repeatedly step downhill on the energy with a little noise added.")
say("All numbers are in [metrics.json](metrics.json).")
say("")
say("**At a glance.**")
if metrics.test then say("- Test accuracy %s (chance: %.3f).", f3(metrics.test.accuracy), 1 / classes) end
for _, n in ipairs(set_names) do
  if n ~= "test" then
    local best, by = -1, "?"
    for _, s in ipairs(score_names) do
      local a = metrics.ood.auroc[s][n]
      if a > best then best, by = a, s end
    end
    say("- Test vs %s: best AUROC %s (score %s).", n, f3(best), by)
  end
end
say(string.format("- Samples end at energy %.2f (real images: %.2f).",
  (metrics.samples_conditional or metrics.samples_unconditional).mean_energy, metrics.reference_energy))
say("")
if log then
  say("## Training")
  say("")
  if last.epoch then
    say("After %d epochs: loss %s, training accuracy %s, validation accuracy %s.", last.epoch, f3(last.loss),
        f3(last.train_acc), f3(last.val_acc))
    say("")
  end
  say("The loss is px (the generative part: pushes real images' energy down and samples' energy up) plus pyx")
  say("(cross-entropy of the classifier). Both should fall; px can go negative and wobble, which is normal.")
  say("")
  img("training_loss.png", "training loss")
  img("training_accuracy.png", "accuracy")
  say("Energy of real images and of the sampler's images. When the two stay close, the sampler produces")
  say("images the model cannot tell from real ones; a growing gap means the samples lag behind.")
  say("")
  img("training_energy.png", "energies during training")
  if #metrics.rollbacks > 0 then
    say("**Rollbacks.** The divergence guard undid training %d time%s (dashed red lines above): each time a check",
        #metrics.rollbacks, #metrics.rollbacks == 1 and "" or "s")
    say("fired it went back to the last good state, reseeded the sampler and went on with the changes listed.")
    say("")
    say("| step | check | value | back to step | learning rate | SGLD steps |")
    say("| --- | --- | --- | --- | --- | --- |")
    for _, e in ipairs(metrics.rollbacks) do
      say("| %d | %s | %s = %.4g | %d | %.3g → %.3g | %d → %d |", e.step, e.check, e.quantity, e.value or 0 / 0, e.rolled_back_to,
          e.lr_before, e.lr_after, e.sgld_steps_before, e.sgld_steps_after)
    end
    say("")
  end
end
say("## What the model draws")
say("")
if conditional then
  say("Each row is one class: the left %d are real test images, the right %d were drawn by SGLD from noise", p.per_class, p.per_class)
  say("with the class given (%d steps, step size %g). Good samples look like the real ones beside them.", p.steps, p.step_size)
  say("")
  img("samples_conditional.png", "real and sampled images per class")
end
say("Samples with no class given: SGLD on E(x) alone, so the model picks what to draw.")
say("")
img("samples_unconditional.png", "unconditional samples")
img("samples_per_class.png", "one sample per class")
say("A few chains frame by frame: the number under each frame is the SGLD step. Structure should appear")
say("from the noise within the first steps and then sharpen.")
say("")
img("chains_conditional.png", "conditional chains")
img("chains_unconditional.png", "unconditional chains")
say("The energy of the chains as they sample (mean and spread over chains). It should fall to about the")
say("energy of real test images (%.2f, in the title). Chains ending far above it draw images the model finds", metrics.reference_energy)
say("unlikely; chains ending far below it found images the model likes more than real ones (it is not trained")
say("enough to tell), which usually shows as blank or blotchy samples.")
say("")
img("energy_trace.png", "energy during sampling")
local mc, mu = metrics.mixing_conditional, metrics.mixing_unconditional
if mc or mu then
  say("How well the chains mixed, on the second half of their kept frames (the first half is the way from noise):")
  say("the effective sample size (ESS) counts how many independent draws the correlated ones are worth, and R-hat")
  say("compares the chains (near 1, below 1.01, when they sample the same distribution; far above, when each is")
  say("stuck where it started). Bulk ESS and rank-normalised split R-hat as ArviZ computes them (`joule.ebm.diagnostics`).")
  say("")
  say("| chains | draws × chains | energy ESS | energy R-hat | pixel ESS (median, min) | largest pixel R-hat | acceptance |")
  say("| --- | --- | --- | --- | --- | --- | --- |")
  -- NaN (no coordinate moved) shows as a dash.
  local function num(x, fmt) return (x and x == x) and string.format(fmt, x) or "–" end
  local function row(name, m, acceptance)
    say("| %s | %s × %s | %s | %s | %s, %s | %s | %s |", name, num(m.draws, "%d"), num(m.chains, "%d"), num(m.energy_ess, "%.1f"),
        num(m.energy_rhat, "%.3f"), num(m.ess_median, "%.1f"), num(m.ess_min, "%.1f"), num(m.rhat_max, "%.3f"), acceptance)
  end
  if mc then row("class given (classes differ, so R-hat also compares classes)", mc, "– (SGLD)") end
  if mu then row("no class given", mu, "– (SGLD)") end
  say("")
  say("A low ESS and an R-hat far above 1 say the chains are still near where they started: more steps, a larger")
  say("step, or another sampler (`-p sampler=mala|hmc`, which also have an acceptance rate). `scripts/sample.lua`")
  say("prints these numbers for any sampler.")
  say("")
end
local q = metrics.sample_quality
if q and q.fid then
  local real, u = q.floor or {}, q.unconditional or {}
  say("## How good are the samples?")
  say("")
  say("Numbers from `scripts/sample_quality.lua` ([%s](../%s)): %s, compared with the %d real images of the", quality_file:match("[^/]*$"),
      quality_file:sub(#run + 2), q.per_class and string.format("%d class-conditional samples per class and %d unconditional ones", q.per_class, u.n or 0)
      or string.format("%d samples", q.n or 0), q.n_real or 0)
  say("%s split through the features of a classifier trained on the corpus (`%s`), as FID uses Inception's", q.split or "test", q.features or "?")
  say("features for photographs. The column *real* scores as many validation images the same way: what a perfect")
  say("sampler would reach with this many images.")
  say("")
  say("| measure | samples | unconditional | real | what it says |")
  say("| --- | --- | --- | --- | --- |")
  local function cell(x, fmt) return x and (x ~= x and "–" or string.format(fmt or "%.3f", x)) or "–" end
  local rows = {
    { "FID", "fid", "%.1f", "distance between the feature distributions (lower is better)" },
    { "KID", "kid", "%.4f", "the same, unbiased (≈ 0 for the same distribution)" },
    { "precision", "precision", nil, "share of samples that look like some real image" },
    { "recall", "recall", nil, "share of real images that some sample resembles" },
    { "density", "density", nil, "precision counting how many real neighbours vouch for a sample" },
    { "coverage", "coverage", nil, "share of real images with a sample close by" },
    { "class fidelity", "class_fidelity", nil, "share of samples classified as the class asked for" },
    { "diversity", "diversity", nil, "spread of a class's samples over that of its real images (1: as varied)" },
  }
  for _, r in ipairs(rows) do
    say("| %s | %s | %s | %s | %s |", r[1], cell(q[r[2]], r[3]), cell(u[r[2]], r[3]), cell(real[r[2]], r[3]), r[4])
  end
  say("")
  -- The verdict in words, against what real images score.
  local words = {}
  if real.recall and q.recall < 0.5 * real.recall and q.diversity and q.diversity < 0.75 then
    words[#words + 1] = string.format("**The samples are collapsed**: recall %.2f and diversity %.2f are far below the real images' %.2f and %.2f, so a class's samples are near copies of one another and cover little of what the class looks like (coverage %.2f).",
      q.recall, q.diversity, real.recall, real.diversity or 1, q.coverage)
  elseif q.diversity and q.diversity < 0.75 then
    words[#words + 1] = string.format("The samples vary less than real glyphs (diversity %.2f): a class's samples resemble one another.", q.diversity)
  elseif q.diversity then
    words[#words + 1] = string.format("The samples vary about as much as real glyphs (diversity %.2f, recall %.2f).", q.diversity, q.recall)
  elseif real.recall and q.recall < 0.5 * real.recall then
    words[#words + 1] = string.format("The samples cover little of the data: recall %.2f against the real images' %.2f.", q.recall, real.recall)
  else
    words[#words + 1] = string.format("The samples cover the data about as well as real images do (recall %.2f).", q.recall)
  end
  if real.precision and q.precision >= 0.8 * real.precision then
    words[#words + 1] = string.format("Most look like real glyphs (precision %.2f; real images %.2f).", q.precision, real.precision)
  else
    words[#words + 1] = string.format("Many look unlike any real glyph (precision %.2f; real images %.2f).", q.precision, real.precision or 0 / 0)
  end
  if q.class_fidelity then
    words[#words + 1] = string.format("%.0f%% are read as the class asked for (real images: %.0f%%, the feature classifier's accuracy).",
      100 * q.class_fidelity, 100 * (real.class_fidelity or 0 / 0))
  end
  if real.fid then words[#words + 1] = string.format("FID %.1f is %.0f× that of real images (%.1f).", q.fid, q.fid / real.fid, real.fid) end
  say(table.concat(words, " "))
  say("")
end
say("## Telling in-distribution from out-of-distribution images")
say("")
say("Test images come from the training distribution; ood_ta and ood_tb are other glyph sets and noise is")
say("random pixels. A score separates them when it is high for test images and low for the others. AUROC is")
say("the chance that a random test image scores higher than a random OOD image: 1 is perfect, 0.5 is chance.")
say("")
local header = "| score | " .. table.concat((function() local t = {} for _, n in ipairs(set_names) do if n ~= "test" then t[#t + 1] = "AUROC test vs " .. n end end return t end)(), " | ") .. " |"
say(header)
say("|" .. string.rep(" --- |", #set_names))
for _, s in ipairs(score_names) do
  local cells = {}
  for _, n in ipairs(set_names) do if n ~= "test" then cells[#cells + 1] = f3(metrics.ood.auroc[s][n]) end end
  say("| %s | %s |", s, table.concat(cells, " | "))
end
say("")
say("An AUROC below 0.5 means the score is backwards for that set: the model finds those OOD images *more*")
say("typical than its own test images.")
say("")
for _, s in ipairs(score_names) do say("- %s", what[s]) end
say("")
say("The energies of each set: in-distribution images should sit to the left (low energy), OOD sets to the right.")
say("")
img("ood_energy_histogram.png", "energy histograms")
for _, s in ipairs(score_names) do img("roc_" .. s .. ".png", "ROC for " .. s) end
for _, s in ipairs(score_names) do img("ood_" .. s .. "_histogram.png", s .. " histograms") end
if metrics.test then
  say("## Classification")
  say("")
  say("Test accuracy %s on %d images; expected calibration error %s (how far the confidence is from the", f3(metrics.test.accuracy),
      metrics.test.n, f3(metrics.test.calibration_error))
  say("actual accuracy; 0 is perfectly calibrated). The matrix shows, for each true class (row), which class")
  say("the model predicted, as a fraction of that row: a bright diagonal is good, bright cells off it are confusions.")
  say("")
  local order = {}
  for c = 1, classes do if metrics.test.per_class_accuracy[c] == metrics.test.per_class_accuracy[c] then order[#order + 1] = c end end
  table.sort(order, function(a, b) return metrics.test.per_class_accuracy[a] < metrics.test.per_class_accuracy[b] end)
  local worst = {}
  for i = 1, math.min(5, #order) do worst[i] = string.format("%s (%s)", names[order[i]], f3(metrics.test.per_class_accuracy[order[i]])) end
  if #worst > 0 then say("Hardest classes: %s.", table.concat(worst, ", ")); say("") end
  img("confusion.png", "confusion matrix")
end
local others = {}
for _, f in ipairs({ "evaluate.json", "ood.json" }) do if exists(run .. "/" .. f) then others[#others + 1] = "[" .. f .. "](../" .. f .. ")" end end
if #others > 0 then say("The main job's own numbers: %s.", table.concat(others, ", ")); say("") end
if #notes > 0 then
  say("## Notes")
  say("")
  for _, n in ipairs(notes) do say("- %s", n) end
end
local f = assert(io.open(out .. "/.report.md.tmp", "w"))
f:write(table.concat(md, "\n"), "\n")
f:close()
assert(os.rename(out .. "/.report.md.tmp", out .. "/report.md"))
for _, n in ipairs(notes) do print("note: " .. n) end
print("report: " .. out .. "/report.md")
