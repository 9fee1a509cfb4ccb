-- joule run params_and_log.lua -p epochs=4 -p name=probe -p noisy=true
local p = joule.params{ epochs = 2, lr = 1e-4, name = "default", noisy = false }
assert(math.type(p.epochs) == "integer" and p.epochs == 4, "epochs override")
assert(p.lr == 1e-4 and math.type(p.lr) == "float", "lr keeps its default")
assert(p.name == "probe" and p.noisy == true, "string and boolean overrides")
for epoch = 1, p.epochs do joule.log{ epoch = epoch, loss = 1 / epoch, name = p.name } end
local lines = 0
for line in io.lines(joule.run_dir() .. "/log.jsonl") do
  lines = lines + 1
  assert(line:find('^{"epoch":' .. lines .. ','), line)
end
assert(lines == p.epochs, "one JSON line per log call")
