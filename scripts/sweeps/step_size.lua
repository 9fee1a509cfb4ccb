-- SGLD step size × number of steps, sampling from a trained checkpoint (run scripts/demo first).
--
--   joule sweep scripts/sweeps/step_size.lua [--jobs N] [--backend slurm]
--   CHECKPOINT=runs/main-…/train joule sweep scripts/sweeps/step_size.lua
--
-- Each run draws samples with scripts/sweeps/sample_score.lua (scripts/sample.lua's sampler, plus a
-- result table): the samples' mean energy and how well energy tells test images from samples
-- (AUROC 0.5: as typical as real data; below 0.5 the sampler overshoots to energies lower than real
-- images have). Best runs first: lowest separability |2·AUROC − 1|. Leaves
-- runs/sweeps/step_size/summary.csv and separability_vs_step_size.png (one line per chain length).

-- The newest checkpoint of the quick start (scripts/demo), unless CHECKPOINT names one.
local function newest(pattern)
  local ls = io.popen("ls -d " .. pattern .. " 2>/dev/null | sort | tail -n 1")
  local found = ls:read("l")
  ls:close()
  return found
end
local checkpoint = os.getenv("CHECKPOINT") or newest("runs/main-*/train")
if not checkpoint then
  error("no trained checkpoint: run scripts/demo first (it trains runs/main-…/train), or set CHECKPOINT=…")
end

return {
  script = "scripts/sweeps/sample_score.lua",
  params = { checkpoint = checkpoint, data = os.getenv("DATA") or "data/glyphs", n = 42 },
  grid = {
    step_size = { 1, 3, 10, 30 },
    steps = { 64, 128, 256 },
  },
  output = "runs/sweeps/step_size",
  metric = "separability", goal = "min",
  plot = { x = "step_size", series = "steps" },
  slurm = { time = "00:30:00", cpus_per_task = 2 },
}
