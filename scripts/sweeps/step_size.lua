-- SGLD step size × number of steps, sampling from a trained checkpoint (run scripts/demo first).
--
--   joule sweep scripts/sweeps/step_size.lua [--jobs N] [--backend slurm]
--   CHECKPOINT=runs/main-…/train joule sweep scripts/sweeps/step_size.lua
--
-- Each run draws 168 samples (4 per class) with scripts/sweeps/sample_score.lua (scripts/sample.lua's
-- sampler, plus a result table): their FID, precision, recall and diversity against the test split
-- (scripts/sample_quality.lua's measures), their mean energy and how well energy tells test images
-- from samples. Best runs first: lowest FID. Leaves runs/sweeps/step_size/summary.csv and
-- fid_vs_step_size.png (one line per chain length).

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
  params = { checkpoint = checkpoint, data = os.getenv("DATA") or "data/glyphs", n = 168 },
  grid = {
    step_size = { 1, 3, 10, 30 },
    steps = { 64, 128, 256 },
  },
  output = "runs/sweeps/step_size",
  metric = "fid", goal = "min",
  plot = { x = "step_size", series = "steps" },
  slurm = { time = "00:30:00", cpus_per_task = 2 },
}
