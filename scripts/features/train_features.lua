-- Trains the feature network that Joule's sample-quality measures (FID, KID, precision/recall,
-- density/coverage, class fidelity, diversity) compute their features with: a plain classifier of
-- the built-in glyph corpus, FP32, no SGLD. Inception's ImageNet features mean nothing for
-- 15th-century glyphs; as MNIST papers do with a small classifier, the features come from a
-- network trained on the data itself, once, with its weights committed (features/glyphs.safetensors)
-- so that every user's FID is computed with the same features.
--
--   joule run scripts/features/train_features.lua [-p data=data/glyphs] [-p out=features/glyphs.safetensors]
--
-- Deterministic: seeded initialisation and batch order; the same kernels give the same weights.
-- The features of an image are the input of the last layer (the classifier's head): `feature_dim`
-- numbers after a SiLU, times the file's feature_scale. 64 of them, so that a FID (which needs more samples than features) is
-- meaningful from a few hundred samples; 8 per class of the 42 classes already suffice.
local p = joule.params{
  data = "data/glyphs",
  out = "features/glyphs.safetensors",
  epochs = 8,
  batch_size = 64,
  lr = 1e-3,
  lr_step = 3, lr_gamma = 0.3,
  feature_dim = 64,
  seed = 7,
}
joule.seed(p.seed)
local nn = joule.nn
local train = joule.data.load_split(p.data .. "/train.npy")
local val = joule.data.load_split(p.data .. "/val.npy")
local test = joule.data.load_split(p.data .. "/test.npy")
local classes = 0
for _, y in ipairs(train.labels) do if y + 1 > classes then classes = y + 1 end end
local shape = train.images:shape()

-- Somewhat stronger than the course's ShallowCNN: max pooling, stride-1 3×3 convolutions on the
-- pooled maps, four times the width at the end, and a hidden layer before the head.
local model = nn.Sequential{
  nn.Conv2d(shape[2], 32, 5, { stride = 2, padding = 2 }), nn.SiLU(), nn.MaxPool2d(2),
  nn.Conv2d(32, 64, 3, { padding = 1 }), nn.SiLU(), nn.MaxPool2d(2),
  nn.Conv2d(64, 128, 3, { padding = 1 }), nn.SiLU(),
  nn.Conv2d(128, 128, 3, { padding = 1 }), nn.SiLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
  nn.Linear(128, p.feature_dim), nn.SiLU(),
  nn.Linear(p.feature_dim, classes),
  input_shape = { shape[2], shape[3], shape[4] },
}
print(("feature network: %d parameters, %d features, %d classes, trained on %s (%d images)"):format(
  model:num_parameters(), p.feature_dim, classes, train.path, train.n))

local adam = joule.optim.Adam{ model = model, lr = p.lr }
local schedule = joule.optim.StepLR{ optimizer = adam, step_size = p.lr_step, gamma = p.lr_gamma }

local function accuracy(split)
  local correct = 0
  for x, y in joule.data.batches(split, 256, { shuffle = false }) do
    local pred = model:predict(x)
    for i = 1, #y do if pred[i] == y[i] then correct = correct + 1 end end
  end
  return correct / split.n
end

for epoch = 1, p.epochs do
  local loss_sum, count = 0, 0
  local bar = joule.progress(math.ceil(train.n / p.batch_size), ("epoch %d/%d"):format(epoch, p.epochs))
  for x, y in joule.data.batches(train, p.batch_size, { seed = p.seed * 1000 + epoch }) do
    model:zero_grad()
    local loss, grad = nn.cross_entropy(model:logits(x), y)
    model:backward(x, grad)
    adam:step()
    loss_sum, count = loss_sum + loss, count + 1
    bar:update(count)
  end
  bar:done()
  schedule:step()
  joule.log{ epoch = epoch, loss = loss_sum / count, val_acc = accuracy(val) }
end

local test_acc = accuracy(test)
joule.log{ event = "final", test_acc = test_acc, val_acc = accuracy(val) }
os.execute("mkdir -p '" .. p.out:match("^(.*)/[^/]*$") .. "'")
local info = { purpose = "features", feature_layer = "input of the last Linear", feature_dim = tostring(p.feature_dim),
               test_accuracy = ("%.4f"):format(test_acc), data = p.data, seed = tostring(p.seed) }
model:save(p.out, info)
-- The features' scale: one over the root mean square of the training images' features, so that
-- feature values are about 1 (as Inception's are) and KID's cubic kernel stays on its usual scale.
local f = joule.metrics.features(train.images, { features = p.out })
info.feature_scale = ("%.6g"):format(1 / math.sqrt((f * f):mean()))
model:save(p.out, info)
print(("wrote %s: test accuracy %.2f%%, feature scale %s"):format(p.out, 100 * test_acc, info.feature_scale))
