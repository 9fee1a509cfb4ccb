-- The Jupyter kernel's and `joule notebook run`'s helpers: how a cell's values are shown (through
-- the one value printer every Lua front end uses), joule.params tables that a parameters cell can
-- change afterwards, joule.display / clear_output, and io.read from the front end.
local display_value, clear, input, print_value, convert = ...
-- text, png-or-nil for a value: figures (joule.plot) are pictures.
local function represent(v)
  -- io.write returns its file: that is no value to show.
  if v == io.stdout or v == io.stderr then return nil, nil end
  local mt = getmetatable(v)
  if type(v) == "userdata" and type(mt) == "table" and rawget(mt, "__name") == "Figure" then
    return tostring(v), v:png()
  end
  if joule.widgets.is_widget(v) then return tostring(v), nil, rawget(v, "id") end
  if type(v) == "string" then return v, nil end
  return print_value(v), nil
end
-- joule.params remembers the tables it returned (and their defaults), so that joule.set_params,
-- the last line of an injected-parameters cell (-p or papermill), can change them afterwards.
local params, declared = joule.params, setmetatable({}, { __mode = "k" })
joule.params = function(defaults)
  local ok, values = pcall(params, defaults)
  if not ok then error(values, 2) end
  local kinds = {}
  for k, v in pairs(defaults) do kinds[k] = v end
  declared[values] = kinds
  return values
end
-- Values converted to the type of their default by the one conversion -p key=value uses
-- (convert(key, value, default), LuaHost/Params.swift).
joule.set_params = function(values)
  if type(values) ~= "table" then
    error("bad argument #1 to 'joule.set_params' (table expected, got " .. type(values) .. ")", 2)
  end
  for t, defaults in pairs(declared) do
    for k, v in pairs(values) do
      if defaults[k] ~= nil then
        -- A wrong value is the caller's mistake: the message points at its line, not this one.
        local ok, value = pcall(convert, k, v, defaults[k])
        if not ok then error(value, 2) end
        t[k] = value
      end
    end
  end
end
joule.display = function(...)
  for i = 1, select("#", ...) do display_value((select(i, ...))) end
end
joule.clear_output = function(wait) clear(wait and true or false) end
local function read1(fmt)
  if fmt == nil then fmt = "l" end
  if type(fmt) == "string" then fmt = fmt:gsub("^%*", ""):sub(1, 1) end
  local line = input("", false)
  if line == nil then return nil end
  if fmt == "n" then return tonumber(line)
  elseif fmt == "a" then return line
  elseif fmt == "L" then return line .. "\n"
  elseif type(fmt) == "number" then return line:sub(1, fmt)
  else return line end
end
io.read = function(...)
  local n = select("#", ...)
  if n == 0 then return read1("l") end
  local out = {}
  for i = 1, n do out[i] = read1((select(i, ...))) end
  return table.unpack(out, 1, n)
end
local file_methods = getmetatable(io.stdin).__index
local file_read = file_methods.read
file_methods.read = function(f, ...)
  if f == io.stdin then return io.read(...) end
  return file_read(f, ...)
end
-- The names joule.params declared so far (for checking -p names).
local function declared_names()
  local out = {}
  for _, kinds in pairs(declared) do for k in pairs(kinds) do out[#out + 1] = k end end
  return out
end
return represent, declared_names
