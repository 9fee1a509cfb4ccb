-- A spectrally normalised ShallowCNN trained a few JEM steps in Joule, saved, with its evaluation-mode
-- logits of a batch: what scripts/torch-checks/spectral-norm loads into PyTorch.
local p = joule.params{ out = "" }
assert(p.out ~= "", "give -p out=DIR")
joule.seed(11)
local m = joule.nn.spectral_norm(joule.nn.ShallowCNN{ hidden = 8, classes = 5 })
local x = joule.tensor.rand(6, 1, 56, 56) * 2 - 1
local s = joule.ebm.SGLD{ model = m, steps = 2, buffer_per_class = 4 }
local jem = joule.ebm.JEM{ model = m, sampler = s, lr = 1e-2 }
m:eval()
jem:fit_epoch({ images = x, labels = { 0, 1, 2, 3, 4, 0 } }, { batch_size = 3, progress = false })
m:save(p.out .. "/sn.safetensors")
x:save_npy(p.out .. "/x.npy")
m:logits(x):save_npy(p.out .. "/logits.npy")
