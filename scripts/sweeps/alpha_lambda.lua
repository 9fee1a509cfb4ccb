-- JEM's alpha (weight of the energy-magnitude regulariser) × lambda (weight of the classifier's
-- cross-entropy), for short trainings with scripts/train_jem.lua.
--
--   joule sweep scripts/sweeps/alpha_lambda.lua [--jobs N] [--backend slurm]
--
-- train_jem.lua logs one line per epoch; without a joule.result table the sweep takes each run's last
-- log line as its result (val_acc, energy_real, energy_sampled, loss, ...). Best first: validation
-- accuracy. Leaves runs/sweeps/alpha_lambda/summary.csv and val_acc_vs_alpha.png (one line per lambda).
-- Needs the glyph corpus in data/glyphs (scripts/demo or `joule data glyphs --out data/glyphs`).
return {
  script = "scripts/train_jem.lua",
  -- The quick start's short preset, shortened further: 2 epochs of 30 batches, 20 SGLD steps.
  params = { data = os.getenv("DATA") or "data/glyphs", epochs = 2, max_batches = 30, steps = 20,
             lr = 0.001, eval_samples = 16 },
  grid = {
    alpha = { 0.01, 0.1, 1.0 },
    lambda = { 0.5, 1.0, 2.0 },
  },
  output = "runs/sweeps/alpha_lambda",
  metric = "val_acc", goal = "max",
  plot = { x = "alpha", series = "lambda" },
  slurm = { time = "01:00:00", cpus_per_task = 2 },
}
