-- An energy function of points in the plane, E(x) = −f(x) with f a two-hidden-layer SiLU MLP:
-- the classic toy EBM (one output: a plain EBM; more: a JEM over that many classes).
return function(o)
  local nn = joule.nn
  local h = o.hidden or 64
  return nn.Sequential{ nn.Linear(2, h), nn.SiLU(), nn.Linear(h, h), nn.SiLU(), nn.Linear(h, o.classes or 1) }
end
