local max_depth, max_items, width = ...
local keywords = {}
for w in ("and break do else elseif end false for function goto if in local nil not or repeat return then true until while"):gmatch("%a+") do
  keywords[w] = true
end
local function is_name(k) return type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil and not keywords[k] end
local function meta_field(v, name)
  local mt = getmetatable(v)
  if type(mt) == "table" then return rawget(mt, name) end
end
local function show(v)
  local ok, s = pcall(tostring, v)
  if ok and type(s) == "string" then return s end
  return "(unprintable " .. type(v) .. ")"
end
local function quote(s)
  return (string.format("%q", s):gsub("\\\n", "\\n"))
end
local function num(x) return string.format("%.4g", x) end

local function tensor(t)
  local ok, shape = pcall(function() return t:shape() end)
  if not ok or type(shape) ~= "table" then return show(t) end
  local dims = {}
  for i, d in ipairs(shape) do dims[i] = tostring(d) end
  local s = "Tensor " .. (#dims > 0 and table.concat(dims, "×") or "()") .. " float32"
  local okn, n = pcall(function() return t:numel() end)
  if okn and type(n) == "number" and n > 0 then
    local okm, lo, hi, mean = pcall(function() return t:min(), t:max(), t:mean() end)
    if okm then s = s .. "  min " .. num(lo) .. "  max " .. num(hi) .. "  mean " .. num(mean) end
  end
  local values = show(t):match("%[(.*)%]")
  if values then s = s .. "\n[" .. values .. "]" end
  return s
end

local function key_order(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then
    if ta == "number" then return true elseif tb == "number" then return false end
    if ta == "string" then return true elseif tb == "string" then return false end
    return ta < tb
  end
  if ta == "number" or ta == "string" then return a < b end
  return show(a) < show(b)
end

local repr
local function table_repr(t, depth, indent, seen)
  if next(t) == nil then return "{}" end
  if seen[t] then return "{…cycle}" end
  if depth >= max_depth then return "{…}" end
  seen[t] = true
  local parts, count = {}, 0
  local n = rawlen(t)
  for i = 1, n do
    count = count + 1
    if count > max_items then break end
    parts[#parts + 1] = repr(rawget(t, i), depth + 1, indent .. "  ", seen)
  end
  local keys = {}
  for k in next, t do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then keys[#keys + 1] = k end
  end
  table.sort(keys, key_order)
  for _, k in ipairs(keys) do
    count = count + 1
    if count > max_items then break end
    local name = is_name(k) and k or "[" .. repr(k, max_depth, "", seen) .. "]"
    parts[#parts + 1] = name .. " = " .. repr(rawget(t, k), depth + 1, indent .. "  ", seen)
  end
  local total = n + #keys
  if total > max_items then parts[#parts + 1] = "… (" .. (total - max_items) .. " more)" end
  seen[t] = nil
  local line = "{ " .. table.concat(parts, ", ") .. " }"
  if #line + #indent <= width and not line:find("\n") then return line end
  local inner = indent .. "  "
  return "{\n" .. inner .. table.concat(parts, ",\n" .. inner) .. "\n" .. indent .. "}"
end

repr = function(v, depth, indent, seen)
  local tv = type(v)
  if tv == "string" then return quote(v) end
  if tv == "table" then
    if meta_field(v, "__tostring") ~= nil then return show(v) end
    return table_repr(v, depth, indent, seen)
  end
  return show(v)
end

-- The top level: strings as they are (as print shows them), tensors summarised.
return function(v)
  if type(v) == "string" then return v end
  if type(v) == "userdata" and meta_field(v, "__name") == "Tensor" then return tensor(v) end
  return repr(v, 0, "", {})
end
