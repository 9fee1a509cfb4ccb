-- The pinned reproduction's table (scripts/reproduce runs this last): gathers a run's evaluate.json,
-- ood.json, sample_quality.json and training log into reproduction.json, and writes reproduction.md
-- with the committed reference run (scripts/reproduction/reference.json) beside it.
local p = joule.params{
  run = "", cpu = "unknown", cores = 0, commit = "unknown", settings = "",
  train_seconds = 0, total_seconds = 0,
  reference = "scripts/reproduction/reference.json",
}
if p.run == "" then error("give the reproduction's run folder: -p run=runs/reproduce-…") end
local function read(name)
  local ok, v = pcall(joule.load_json, p.run .. "/" .. name)
  if not ok then error(p.run .. "/" .. name .. " is missing or unreadable: run scripts/reproduce (" .. tostring(v) .. ")") end
  return v
end
local ev, ood, q = read("evaluate.json"), read("ood.json"), read("sample_quality.json")
local best_val, epochs = nil, 0
for line in io.lines(p.run .. "/train/log.jsonl") do
  if not line:find('"event":', 1, true) then
    local e = tonumber(line:match('"epoch":(%d+)'))
    local v = tonumber(line:match('"val_acc":(-?[%d%.eE+-]+)'))
    if e and v then epochs = e; best_val = math.max(best_val or v, v) end
  end
end

local r = {
  commit = p.commit, cpu = p.cpu, cores = p.cores, settings = p.settings, epochs = epochs,
  train_seconds = p.train_seconds, total_seconds = p.total_seconds,
  test_accuracy = ev.accuracy, calibration_error = ev.calibration_error, best_val_accuracy = best_val,
  pgd = ev.pgd, auroc = ood.auroc, auprc = ood.auprc,
  sample_quality = { fid = q.fid, kid = q.kid, precision = q.precision, recall = q.recall, density = q.density,
                     coverage = q.coverage, class_fidelity = q.class_fidelity, diversity = q.diversity,
                     unconditional_fid = q.unconditional and q.unconditional.fid, floor_fid = q.floor and q.floor.fid,
                     floor_recall = q.floor and q.floor.recall },
}
joule.save_json(p.run .. "/reproduction.json", r)

local ref = nil
do
  local f = io.open(p.reference)
  if f then f:close(); ref = joule.load_json(p.reference) end
end
local rows = {}
local function row(name, get, fmt)
  local function show(t)
    if not t then return "–" end
    local ok, v = pcall(get, t)
    return (ok and type(v) == "number") and string.format(fmt or "%.4f", v) or "–"
  end
  rows[#rows + 1] = string.format("| %s | %s | %s |", name, show(r), show(ref))
end
row("training time (s)", function(t) return t.train_seconds end, "%d")
row("whole reproduction (s)", function(t) return t.total_seconds end, "%d")
row("best validation accuracy", function(t) return t.best_val_accuracy end)
row("test accuracy", function(t) return t.test_accuracy end)
row("expected calibration error", function(t) return t.calibration_error end)
for _, set in ipairs({ "ood_ta", "ood_tb", "noise" }) do
  for _, s in ipairs({ "px", "py", "mass" }) do
    row(string.format("AUROC test vs %s (%s)", set, s), function(t) return t.auroc[set][s] end)
  end
end
for _, k in ipairs({ "fid", "kid", "precision", "recall", "density", "coverage", "class_fidelity", "diversity", "unconditional_fid", "floor_fid" }) do
  row("sample quality: " .. k:gsub("_", " "), function(t) return t.sample_quality[k] end)
end
for _, norm in ipairs({ "linf", "l2" }) do
  for i = 1, 5 do
    row(string.format("PGD %s accuracy, ε #%d", norm, i), function(t) return t.pgd[norm][i].accuracy end)
  end
end
local md = {
  "# Pinned reproduction",
  "",
  string.format("This run: commit %s, %s (%s cores), settings: %s.", p.commit, p.cpu, tostring(p.cores), p.settings == "" and "the course's (train_jem.lua defaults)" or p.settings),
  ref and string.format("Reference: commit %s, %s (%s cores), settings: %s.", ref.commit, ref.cpu, tostring(ref.cores), ref.settings == "" and "the course's" or ref.settings) or "No reference run committed.",
  "",
  "| measure | this run | reference |",
  "| --- | --- | --- |",
}
for _, l in ipairs(rows) do md[#md + 1] = l end
local f = assert(io.open(p.run .. "/reproduction.md", "w"))
f:write(table.concat(md, "\n"), "\n")
f:close()
print(table.concat(md, "\n"))
print("\nreproduction: " .. p.run .. "/reproduction.json, reproduction.md (commit it as " .. p.reference .. " to pin a new reference)")
