-- One point of the step-size sweep (scripts/sweeps/step_size.lua): draws SGLD samples from a trained
-- checkpoint as scripts/sample.lua does (fresh uniform-noise starts, classes in turn), and reports
-- with joule.result{...}:
--   sample_energy  mean unconditional energy E(x) of the final samples
--   test_energy    mean E(x) of the test images (the level real data sits at)
--   energy_gap     sample_energy - test_energy
--   auroc, auprc   how well the energy score px = -E(x) tells test images from the samples, the samples
--                  taken as the out-of-distribution set: 0.5 = samples as typical as real data by their
--                  energy, 1 = every sample looks out of distribution, 0 = every sample has lower
--                  energy than real data (the sampler overshoots into what the model over-likes)
--   separability   |2·auroc − 1|: 0 = samples indistinguishable from test images by energy, 1 = apart
--   fid, kid, precision, recall, density, coverage, class_fidelity, diversity
--                  the samples' quality against the test split through the shipped feature network
--                  (scripts/sample_quality.lua's measures; -p features="" leaves them out). FID needs more
--                  samples than its 64 features: n = 168 is 4 per class of the 42.
--
--   joule run scripts/sweeps/sample_score.lua -p checkpoint=RUN_OR_FILE [-p step_size=5] [-p steps=256]
local p = joule.params{
  checkpoint = "",
  data = "data/glyphs",
  n = 168,
  features = "features/glyphs.safetensors",
  steps = 256,
  step_size = 10.0, noise = 0.005, grad_clip = 0.03,
  conditional = true,
  image_size = 56,
  max_images = 512,         -- test images scored (0: all)
  batch_size = 256,
  seed = 1,
}
if p.checkpoint == "" then error("give the trained weights: -p checkpoint=FILE (a model.safetensors or a run folder)") end
joule.seed(p.seed)
local model = joule.nn.load(p.checkpoint)
local classes = model:classes()
local conditional = p.conditional and classes > 1
local sampler = joule.ebm.SGLD{
  model = model, steps = p.steps, step_size = p.step_size, noise = p.noise, grad_clip = p.grad_clip,
  conditional = conditional, image_size = p.image_size,
}
local labels
if conditional then
  labels = {}
  for i = 1, p.n do labels[i] = (i - 1) % classes end
end
local samples = sampler:sample{ n = p.n, labels = labels }
local run = joule.run_dir()
samples:save_npy(run .. "/samples.npy")
if joule.plot then joule.plot.grid(samples, run .. "/samples.png", { nrow = math.min(p.n, 14) }) end

local test = joule.data.load_split(p.data .. "/test.npy").images
if p.max_images > 0 and test:size(1) > p.max_images then test = test:slice(1, p.max_images) end
local px_test = joule.ood.scores(model, test, "px", p.batch_size)
local px_samples = joule.ood.scores(model, samples, "px", p.batch_size)
local function mean(v) local s = 0; for _, x in ipairs(v) do s = s + x end; return s / #v end
local auroc, auprc = joule.ood.separation(px_test, px_samples)
local sample_energy, test_energy = -mean(px_samples), -mean(px_test)
print(string.format("step_size %g, %d steps: sample energy %.4g (test %.4g), AUROC test vs samples %.4f",
  p.step_size, p.steps, sample_energy, test_energy, auroc))
local result = { sample_energy = sample_energy, test_energy = test_energy, energy_gap = sample_energy - test_energy,
                 auroc = auroc, auprc = auprc, separability = math.abs(2 * auroc - 1), n = p.n }
if p.features ~= "" then
  local real = joule.data.load_split(p.data .. "/test.npy")
  local q = joule.metrics.sample_quality(samples, real.images, conditional and { labels = labels, real_labels = real.labels, features = p.features }
                                                                            or { features = p.features })
  for _, k in ipairs({ "fid", "kid", "precision", "recall", "density", "coverage", "class_fidelity", "diversity" }) do result[k] = q[k] end
  print(string.format("FID %.2f, precision %.3f, recall %.3f%s", q.fid, q.precision, q.recall,
    q.diversity and string.format(", diversity %.3f", q.diversity) or ""))
end
joule.result(result)
