local W, I = {}, {}         -- the public module; its internals (for the backend, in the registry)
local kinds = { "IntSlider", "FloatSlider", "FloatLogSlider", "Dropdown", "Checkbox", "Button", "Label",
                "Output", "Image", "HBox", "VBox" }
local objects = {}          -- id -> widget (widgets live as long as the session)
local Widget = {}           -- methods
local mt = { __name = "Widget" }

-- The text backend: values in Lua tables, display prints.
local text = {}
do
  local states, count = {}, 0
  function text.create(kind, props)
    count = count + 1
    local id = kind .. "#" .. count
    local s = { description = "" }
    for k, v in pairs(props) do s[k] = v end
    states[id] = s
    return id
  end
  function text.get(id, key) return states[id][key] end
  function text.set(id, key, value) states[id][key] = value end
  function text.set_bytes(id, key, bytes) states[id][key] = bytes end
  function text.capture_begin() end
  function text.capture_end() end
  function text.clear() end
  function text.pending() return false end
  function text.close() end
end
I.backend = text

local function is_widget(v) return getmetatable(v) == mt end
W.is_widget = is_widget

local function short(v)
  if type(v) == "string" then return string.format("%q", v) end
  if math.type(v) == "float" then return string.format("%.4g", v) end
  return tostring(v)
end

mt.__tostring = function(w)
  local b, kind = I.backend, rawget(w, "kind")
  local parts = {}
  if kind == "HBox" or kind == "VBox" then
    for _, c in ipairs(rawget(w, "children")) do parts[#parts + 1] = tostring(c) end
    return kind .. "(" .. table.concat(parts, ", ") .. ")"
  end
  local d = b.get(rawget(w, "id"), "description")
  if d and d ~= "" then parts[#parts + 1] = "description=" .. short(d) end
  if kind == "Image" then
    local png = b.get(rawget(w, "id"), "value")
    parts[#parts + 1] = (type(png) == "string" and #png or 0) .. " bytes of png"
  elseif kind ~= "Button" and kind ~= "Output" then
    parts[#parts + 1] = "value=" .. short(w.value)
  end
  return kind .. "(" .. table.concat(parts, ", ") .. ")"
end

mt.__index = function(w, key)
  if Widget[key] then return Widget[key] end
  local id = rawget(w, "id")
  if key == "value" and rawget(w, "kind") == "Dropdown" then
    local i = I.backend.get(id, "index")
    return i and rawget(w, "options")[i + 1] or nil
  end
  if key == "children" then return rawget(w, "children") end
  return I.backend.get(id, key)
end

local running = nil         -- the widget whose callbacks run now
local function notify(w, value)
  local outer = running
  running = w
  for _, f in ipairs(rawget(w, "callbacks")) do
    local ok, err = xpcall(f, debug.traceback, value, w)
    if not ok then running = outer; error(err, 0) end
  end
  running = outer
end

-- Inside a callback: whether a newer change of its widget waits (a long callback can return
-- early; that change runs it again).
function W.superseded()
  return running ~= nil and I.backend.pending(rawget(running, "id")) or false
end

mt.__newindex = function(w, key, value)
  local id, kind = rawget(w, "id"), rawget(w, "kind")
  if key == "value" and kind == "Dropdown" then
    local index
    for i, o in ipairs(rawget(w, "options")) do if o == value then index = i - 1 end end
    if index == nil then error("Dropdown has no option " .. short(value), 2) end
    if index ~= I.backend.get(id, "index") then I.backend.set(id, "index", index); notify(w, value) end
    return
  end
  if key == "value" and kind == "Image" then return w:set(value) end
  local old = I.backend.get(id, key)
  if math.type(old) == "integer" and math.type(value) == "float" and value == math.floor(value) then
    value = math.tointeger(value)
  end
  I.backend.set(id, key, value)
  if key == "value" and old ~= value then notify(w, value) end
end

function Widget:on_change(f)
  if type(f) ~= "function" then error("bad argument #1 to 'on_change' (function expected, got " .. type(f) .. ")", 2) end
  local cbs = rawget(self, "callbacks")
  cbs[#cbs + 1] = f
  return self
end

function Widget:on_click(f)
  if type(f) ~= "function" then error("bad argument #1 to 'on_click' (function expected, got " .. type(f) .. ")", 2) end
  local cbs = rawget(self, "clicks")
  cbs[#cbs + 1] = f
  return self
end

function Widget:click()
  for _, f in ipairs(rawget(self, "clicks")) do f(self) end
end

-- Output: prints, figures and errors of `f` go into the area (an error is shown there, not raised).
function Widget:capture(f)
  local id = rawget(self, "id")
  I.backend.capture_begin(id)
  local ok, err = xpcall(f, debug.traceback)
  I.backend.capture_end(id, not ok and tostring(err) or nil)
  return ok, err
end

function Widget:clear() I.backend.clear(rawget(self, "id")) end

-- Removes the widget from the page (its comm closed); its object stays but shows nothing.
function Widget:close()
  local id = rawget(self, "id")
  I.backend.close(id)
  objects[id] = nil
end

-- Image: a PNG file's path, a figure, or a tensor of images (shown as a grid).
local function to_png(x, level)
  if type(x) == "string" then
    if x:sub(1, 8) == "\137PNG\r\n\26\n" then return x end
    local f = io.open(x, "rb")
    if not f then error("Image: cannot read " .. x, level + 1) end
    local png = f:read("a"); f:close()
    return png
  end
  local name = type(x) == "userdata" and getmetatable(x) and getmetatable(x).__name
  if name == "Figure" then return x:png() end
  if name == "Tensor" then return joule.plot.grid(x):png() end
  error("Image: expected a PNG file's path, a figure or a tensor, got " .. type(x), level + 1)
end

function Widget:set(x)
  I.backend.set_bytes(rawget(self, "id"), "value", to_png(x, 2))
end

local function make(kind, props)
  props = props or {}
  if type(props) ~= "table" then error("joule.widgets." .. kind .. ": expected a table of options, got " .. type(props), 3) end
  local p, extra = {}, {}
  for k, v in pairs(props) do p[k] = v end
  if (kind == "IntSlider" or kind == "FloatSlider" or kind == "FloatLogSlider") and p.step ~= nil
     and not (type(p.step) == "number" and p.step > 0 and p.step < math.huge) then
    error("joule.widgets." .. kind .. ": step must be a positive number, got " .. tostring(p.step), 3)
  end
  if kind == "Dropdown" then
    local options = p.options or {}
    local labels = {}
    for i, o in ipairs(options) do labels[i] = tostring(o) end
    extra.options = labels
    local index = #labels > 0 and 0 or nil
    if p.value ~= nil then
      index = nil
      for i, o in ipairs(labels) do if o == tostring(p.value) then index = i - 1 end end
      if index == nil then error("joule.widgets.Dropdown: value " .. short(p.value) .. " is not among the options", 3) end
    end
    p.options, p.value = nil, nil
    p._options_labels, p.index = labels, index
  elseif kind == "HBox" or kind == "VBox" then
    local children = {}
    for i, c in ipairs(p.children or {}) do
      if not is_widget(c) then error("joule.widgets." .. kind .. ": child " .. i .. " is not a widget", 3) end
      children[i] = c
    end
    extra.children = children
    local refs = {}
    for i, c in ipairs(children) do refs[i] = "IPY_MODEL_" .. rawget(c, "id") end
    p.children = refs
  end
  if kind == "Image" then p.value = p.value ~= nil and to_png(p.value, 3) or "" end
  local ok, id = pcall(I.backend.create, kind, p)
  if not ok then error(id, 3) end
  local w = setmetatable({ id = id, kind = kind, callbacks = {}, clicks = {} }, mt)
  for k, v in pairs(extra) do rawset(w, k, v) end
  objects[id] = w
  return w
end

for _, kind in ipairs(kinds) do
  -- Not a tail call: make's errors (level 3) then point at the line that made the widget.
  W[kind] = function(props) local w = make(kind, props); return w end
end

-- The front end changed `key` (already in the backend's state).
function I.changed(id, key, value)
  local w = objects[id]
  if not w then return end
  if key == "index" and rawget(w, "kind") == "Dropdown" then notify(w, w.value)
  elseif key == "value" then notify(w, value) end
end

function I.clicked(id)
  local w = objects[id]
  if w then w:click() end
end

-- interact(f, { name = spec, ... }): a control per name (sorted by name; {lo, hi [, step]} a
-- slider — integers an IntSlider —, a list of strings a Dropdown, a boolean a Checkbox, or a
-- widget), and an Output area below them where f(values) runs again after every change, its
-- returned figure (or other value) shown there.
function W.interact(f, spec)
  if type(f) ~= "function" then error("bad argument #1 to 'joule.widgets.interact' (function expected, got " .. type(f) .. ")", 2) end
  if type(spec) ~= "table" then error("bad argument #2 to 'joule.widgets.interact' (table expected, got " .. type(spec) .. ")", 2) end
  local names = {}
  for k in pairs(spec) do names[#names + 1] = k end
  table.sort(names)
  local controls, byname = {}, {}
  for _, name in ipairs(names) do
    local s, c = spec[name], nil
    if is_widget(s) then c = s
    elseif type(s) == "boolean" then c = W.Checkbox{ description = name, value = s }
    elseif type(s) == "table" and type(s[1]) == "string" then c = W.Dropdown{ description = name, options = s, value = s.value }
    elseif type(s) == "table" and type(s[1]) == "number" and type(s[2]) == "number" then
      local lo, hi, step = s[1], s[2], s[3]
      -- A step of 0 (or NaN, or below 0) would divide by zero placing the value, and no slider moves by it.
      if step ~= nil and not (type(step) == "number" and step > 0 and step < math.huge) then
        error("joule.widgets.interact: '" .. tostring(name) .. "' needs a positive step, got " .. tostring(step), 2)
      end
      if not (lo <= hi) then
        error("joule.widgets.interact: '" .. tostring(name) .. "' needs min <= max, got {" .. tostring(lo) .. ", " .. tostring(hi) .. "}", 2)
      end
      if math.type(lo) == "integer" and math.type(hi) == "integer" and (step == nil or math.type(step) == "integer") then
        step = step or 1
        c = W.IntSlider{ description = name, min = lo, max = hi, step = step, value = s.value or lo + ((hi - lo) // 2 // step) * step }
      else
        c = W.FloatSlider{ description = name, min = lo, max = hi, step = step or (hi > lo and (hi - lo) / 100 or 1), value = s.value or (lo + hi) / 2 }
      end
    else
      error("joule.widgets.interact: '" .. tostring(name) .. "' needs {min, max [, step]}, a list of choices, a boolean or a widget", 2)
    end
    controls[#controls + 1] = c
    byname[name] = c
  end
  local out = W.Output{}
  local function run()
    local args = {}
    for name, c in pairs(byname) do args[name] = c.value end
    out:clear()
    out:capture(function()
      local r = f(args)
      if r ~= nil then joule.display(r) end
    end)
  end
  for _, c in ipairs(controls) do c:on_change(run) end
  local children = {}
  for i, c in ipairs(controls) do children[i] = c end
  children[#children + 1] = out
  local box = W.VBox{ children = children }
  rawset(box, "controls", byname)
  rawset(box, "output", out)
  joule.display(box)
  run()
  return box
end

-- Outside a notebook, joule.display prints (the notebook's own replaces it).
if joule.display == nil then
  joule.display = function(...)
    for i = 1, select("#", ...) do print(tostring((select(i, ...)))) end
  end
end
joule.widgets = W
return I
