import CLua
import Foundation
import NN

/// Documentation of every `joule` function and method: a signature line and one paragraph. The
/// kernel's `inspect`, the console's `help(...)` / `?name` and the README draw on it.
///
/// Names are qualified as Lua code spells them: `joule.ebm.SGLD` for module functions,
/// `SGLD:sample` for methods of a userdata type (its metatable's `__name`), and the bare type
/// name (`Tensor`) for the type itself.
public enum JouleDocs {
    /// Name → (signature, text).
    public static let entries: [String: (signature: String, text: String)] = {
        var d: [String: (String, String)] = [:]
        // Layers document themselves where they are declared (NN's LayerType).
        for t in LayerType.all { d["joule.nn.\(t.name)"] = (t.signature, t.documentation) }
        for (name, sig, text) in table {
            d[name] = (sig, text)
            // Composed models have the preset's methods.
            if name.hasPrefix("ShallowCNN:") { d["Model" + name.dropFirst("ShallowCNN".count)] = (sig, text) }
        }
        return d
    }()

    /// The documentation of `name` (`joule.ebm.SGLD`, `SGLD:sample`, `Tensor`) as text: the
    /// signature, a blank line, the paragraph; nil when there is none.
    public static func lookup(_ name: String) -> String? {
        var key = name.trimmingCharacters(in: .whitespacesAndNewlines)
        while key.hasSuffix("(") || key.hasSuffix(")") { key.removeLast() }
        if let e = entries[key] { return e.signature + "\n\n" + e.text }
        // `Tensor.add` for `Tensor:add`, `require("joule").x` style `joule.x` already covered.
        if let dot = key.lastIndex(of: "."), let e = entries[key.replacingCharacters(in: dot...dot, with: ":")],
           !key.hasPrefix("joule.") {
            return e.signature + "\n\n" + e.text
        }
        return nil
    }

    /// Documentation for an expression typed at a prompt or under the cursor: a `joule` path
    /// (`joule.ebm.SGLD`), a global or field holding a `joule` function or object (`nn.ShallowCNN`
    /// after `nn = joule.nn`, `model`), or a method on such an object (`model:energy`). Lua is only
    /// read (raw), never run.
    public static func help(_ lua: LuaState, expression: String) -> String? {
        let expr = expression.trimmingCharacters(in: .whitespacesAndNewlines)
        if let d = lookup(expr) { return d }
        let scalars = Array(expr.unicodeScalars)
        guard let path = LuaCompleter.path(before: scalars.count, in: scalars), !path.partial.isEmpty else { return nil }
        let L = lua.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        guard lua_checkstack(L, 64) != 0 else { return nil }
        if path.separator == ":" {
            // model:energy → the type of `model`, then its method.
            guard LuaCompleter.resolve(L, path.owner) else { return nil }
            guard let type = userTypeName(L, -1) else { return nil }
            return lookup("\(type):\(path.partial)")
        }
        guard LuaCompleter.resolve(L, path.owner + [path.partial]) else { return nil }
        return help(lua, valueAt: -1)
    }

    /// Documentation for the value at `index`: a `joule` function (found by identity in the
    /// module), a method of a bound type, or a bound object (its type's documentation).
    public static func help(_ lua: LuaState, valueAt index: Int32) -> String? {
        guard let name = qualifiedName(lua, valueAt: index) else { return nil }
        return lookup(name)
    }

    /// The documented name of the value at `index`, e.g. "joule.ebm.SGLD", "SGLD:sample" or
    /// "Tensor"; nil for values that are not part of the `joule` API.
    public static func qualifiedName(_ lua: LuaState, valueAt index: Int32) -> String? {
        let L = lua.L
        let value = lua_absindex(L, index)
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        guard lua_checkstack(L, 64) != 0 else { return nil }
        if lua_type(L, value) == LUA_TUSERDATA || lua_type(L, value) == LUA_TTABLE,
           let type = userTypeName(L, value), entries[type] != nil {
            return type
        }
        // The module itself and anything in it (three levels: joule.ebm.SGLD).
        lua_getglobal(L, "package")
        guard lua_type(L, -1) == LUA_TTABLE else { return nil }
        lua_pushstring(L, "loaded"); lua_rawget(L, -2)
        guard lua_type(L, -1) == LUA_TTABLE else { return nil }
        lua_pushstring(L, "joule"); lua_rawget(L, -2)
        guard lua_type(L, -1) == LUA_TTABLE else { return nil }
        if lua_rawequal(L, -1, value) != 0 { return "joule" }
        if let found = search(L, lua_gettop(L), value, prefix: "joule", depth: 3) { return found }
        // Methods of the bound types.
        for (name, _, _) in table where !name.contains(".") && !name.contains(":") {
            lua_settop(L, top)
            guard lua_getfield(L, joule_registry_index(), name) == LUA_TTABLE else { continue }
            lua_pushstring(L, "__methods")
            guard lua_rawget(L, -2) == LUA_TTABLE else { continue }
            let methods = lua_gettop(L)
            lua_pushnil(L)
            while lua_next(L, methods) != 0 {
                if lua_type(L, -2) == LUA_TSTRING && lua_rawequal(L, -1, value) != 0 {
                    return "\(name):\(String(cString: lua_tolstring(L, -2, nil)))"
                }
                lua_settop(L, -2)
            }
        }
        return nil
    }

    private static func search(_ L: OpaquePointer, _ table: Int32, _ value: Int32, prefix: String, depth: Int) -> String? {
        var subtables: [String] = []
        lua_pushnil(L)
        while lua_next(L, table) != 0 {
            defer { lua_settop(L, -2) }
            guard lua_type(L, -2) == LUA_TSTRING else { continue }
            let key = String(cString: lua_tolstring(L, -2, nil))
            if lua_rawequal(L, -1, value) != 0 { lua_settop(L, -3); return "\(prefix).\(key)" }
            if lua_type(L, -1) == LUA_TTABLE { subtables.append(key) }
        }
        guard depth > 1 else { return nil }
        for key in subtables.sorted() {
            lua_pushstring(L, key)
            lua_rawget(L, table)
            let sub = lua_gettop(L)
            if let found = search(L, sub, value, prefix: "\(prefix).\(key)", depth: depth - 1) { return found }
            lua_settop(L, sub - 1)
        }
        return nil
    }

    /// The `__name` of the value's metatable (bound userdata types), read raw.
    static func userTypeName(_ L: OpaquePointer, _ index: Int32) -> String? {
        let i = lua_absindex(L, index)
        guard lua_getmetatable(L, i) != 0 else { return nil }
        defer { lua_settop(L, -3) }
        lua_pushstring(L, "__name")
        guard lua_rawget(L, -2) == LUA_TSTRING else { return nil }
        return String(cString: lua_tolstring(L, -1, nil))
    }

    /// Every documented name, sorted (for `help()` with no argument and for tests).
    public static var names: [String] { entries.keys.sorted() }

    // MARK: the text

    static let table: [(String, String, String)] = [
        ("joule", "joule",
         "The module every script and notebook sees as a global (also `require \"joule\"`): tensors (joule.tensor), models (joule.nn), sampling and training (joule.ebm), data (joule.data), metrics (joule.metrics), OOD scores (joule.ood), pictures (joule.plot), parameters, logging and run folders."),
        ("joule.version", "joule.version  (string)", "Joule's version, e.g. \"0.1.0\"."),
        ("joule.seed", "joule.seed(n)",
         "Reseeds the module's random generator, which draws joule.tensor.rand/randn and the default seed of every object made without an explicit `seed` option; the same seed gives the same numbers run after run."),
        ("joule.load_npy", "joule.load_npy(path) → Tensor, ...",
         "Reads every array of a .npy file (format 1.0–3.0, little-endian u8/i32/i64/f32/f64, C order) as Float32 tensors, in file order; the course's split files hold the images, then the labels."),
        ("joule.interrupted", "joule.interrupted() → boolean",
         "True once the user pressed Ctrl-C (or a notebook front end asked to interrupt): a loop can finish its step, save and stop. A second interrupt stops the script at once."),
        ("joule.params", "joule.params{ name = default, ... } → table",
         "Declares the script's parameters with their defaults and returns their values: `-p key=value` on the command line (or `joule notebook run -p`) overrides a default, converted to the default's type; an unknown name is an error with a suggestion. In a notebook, call it in the cell tagged `parameters`."),
        ("joule.set_params", "joule.set_params{ name = value, ... }",
         "In a notebook or the Jupyter kernel: gives new values to parameters that joule.params{...} declared earlier in the session (in the tables it returned), converted to the defaults' types; other names are left alone. The cell that `joule notebook run -p` or papermill (python/joule_papermill.py) injects ends with it, so both runners give joule.params the same values as the injected globals."),
        ("joule.log", "joule.log{ key = value, ... }",
         "Appends one JSON line to the run folder's log.jsonl, writes its numbers as TensorBoard scalars (at its `step`, else the count of lines; a line with an `event` name files them under `<event>/<key>`) and prints `key=value` pairs on the terminal (numbers to four digits). Values may be numbers, strings, booleans, tables or one-element tensors."),
        ("joule.tb", "joule.tb",
         "TensorBoard: images, histograms and text into the run folder's events.out.tfevents.* file, which `tensorboard --logdir runs` shows while the run goes on (joule.log's numbers go there as scalars by themselves). Each function takes a tag, a value and options; `step` defaults to the step of the latest joule.log line (its `step` field, else the count of lines)."),
        ("joule.tb.scalar", "joule.tb.scalar(tag, number [, { step }])",
         "Adds one scalar to the run's TensorBoard events."),
        ("joule.tb.image", "joule.tb.image(tag, figure or images [, { step, nrow, padding, range, scale }]) → width, height",
         "Adds a picture to the run's TensorBoard events: a joule.plot figure as drawn, or a tensor of images (H, W), (N, H, W), (N, 1, H, W) or (N, 3, H, W) laid out as joule.plot.grid does (one image at its own size); returns the PNG's size."),
        ("joule.tb.histogram", "joule.tb.histogram(tag, values [, { step, bins }]) → count",
         "Adds a histogram (default 30 equal-width bins over the values' range) of a tensor or list of numbers to the run's TensorBoard events; NaN and infinities are left out. Returns how many values it holds."),
        ("joule.tb.text", "joule.tb.text(tag, string [, { step }])",
         "Adds text (shown as Markdown in TensorBoard's Text tab) to the run's TensorBoard events."),
        ("joule.tb.path", "joule.tb.path() → path",
         "The run's TensorBoard event file, created (with its version record) on first use."),
        ("joule.result", "joule.result{ key = value, ... } → path",
         "Writes the run's result table to <run folder>/result.json (atomically; a later call replaces it) and returns the path; `joule sweep` collects these tables into its summary."),
        ("joule.save_json", "joule.save_json(path, value)",
         "Writes a value (tables, numbers, strings, booleans, tensors) as JSON to `path`, through a temporary file and a rename."),
        ("joule.run_dir", "joule.run_dir() → path",
         "The run folder (`-p run=DIR`, by default runs/<script>-<date-time>), created on first use."),
        ("joule.progress", "joule.progress(total [, label]) → Progress",
         "A progress bar on a terminal (plain lines otherwise): call bar:update([n] [, info]) as work completes and bar:done([info]) at the end."),
        ("joule.display", "joule.display(value, ...)",
         "In a notebook or the Jupyter kernel: shows each value as an output of the cell — a figure (from joule.plot) as an inline PNG, anything else as its text. (Scripts save figures with fig:save(path) instead.)"),

        // joule.tensor
        ("joule.tensor", "joule.tensor{ {1, 2}, {3, 4} } → Tensor",
         "The tensor library. Called as a function it builds a tensor from nested tables of numbers (same as joule.tensor.new). Tensors are Float32, contiguous, row-major; images are N×C×H×W with pixels in [-1, 1]."),
        ("joule.tensor.new", "joule.tensor.new(table_or_tensor) → Tensor",
         "A tensor from nested tables of numbers (rows of equal length), or a copy of a tensor."),
        ("joule.tensor.zeros", "joule.tensor.zeros(d1, d2, ...) or zeros{d1, d2, ...} → Tensor", "A tensor of the given shape filled with 0."),
        ("joule.tensor.ones", "joule.tensor.ones(d1, d2, ...) or ones{d1, d2, ...} → Tensor", "A tensor of the given shape filled with 1."),
        ("joule.tensor.full", "joule.tensor.full({d1, d2, ...}, value) → Tensor", "A tensor of the given shape filled with `value`."),
        ("joule.tensor.randn", "joule.tensor.randn(d1, d2, ...) → Tensor",
         "Standard normal samples from the module's generator (see joule.seed)."),
        ("joule.tensor.rand", "joule.tensor.rand(d1, d2, ...) → Tensor",
         "Uniform samples in [0, 1) from the module's generator (see joule.seed)."),
        ("joule.tensor.cat", "joule.tensor.cat{ t1, t2, ... } → Tensor",
         "Concatenates tensors along the first dimension; the other dimensions must agree."),
        ("Tensor", "Tensor",
         "An N-dimensional Float32 array. Arithmetic with + - * / (with tensors of the same shape or numbers), t[i] for 1-D tensors, #t for the first dimension; methods: shape, size, dim, numel, get, set, item, slice, index, reshape, copy, fill, zero, add, sub, mul, div, matmul, clamp, exp, log, sqrt, abs, tanh, sigmoid, sum, mean, min, max, norm, argmax, totable, save_npy."),
        ("Tensor:shape", "t:shape() → {d1, d2, ...}", "The dimensions as a Lua list."),
        ("Tensor:size", "t:size(d) → integer", "The size of dimension `d` (counting from 1)."),
        ("Tensor:dim", "t:dim() → integer", "The number of dimensions."),
        ("Tensor:numel", "t:numel() → integer", "The number of elements."),
        ("Tensor:get", "t:get(i, j, ...) → number", "The element at 1-based indices, one per dimension."),
        ("Tensor:set", "t:set(i, j, ..., value) → t", "Sets the element at 1-based indices; returns the tensor."),
        ("Tensor:item", "t:item() → number", "The value of a one-element tensor."),
        ("Tensor:slice", "t:slice(first [, last]) → Tensor",
         "Items first…last (1-based, both included) along the first dimension, as a new tensor."),
        ("Tensor:index", "t:index{ i1, i2, ... } → Tensor", "The listed items (1-based) along the first dimension, in that order."),
        ("Tensor:reshape", "t:reshape(d1, d2, ...) or t:reshape{...} → Tensor",
         "The same elements in a new shape; one dimension may be -1 (inferred)."),
        ("Tensor:copy", "t:copy() → Tensor", "An independent copy."),
        ("Tensor:fill", "t:fill(value) → t", "Sets every element to `value` in place."),
        ("Tensor:zero", "t:zero() → t", "Sets every element to 0 in place."),
        ("Tensor:add", "t:add(other) → Tensor", "Elementwise sum with a tensor of the same shape or a number (also t + other)."),
        ("Tensor:sub", "t:sub(other) → Tensor", "Elementwise difference with a tensor or a number (also t - other)."),
        ("Tensor:mul", "t:mul(other) → Tensor", "Elementwise product with a tensor or a number (also t * other)."),
        ("Tensor:div", "t:div(other) → Tensor", "Elementwise quotient by a tensor or a number (also t / other)."),
        ("Tensor:matmul", "t:matmul(other) → Tensor", "Matrix product of two 2-D tensors (BLAS)."),
        ("Tensor:clamp", "t:clamp(lo, hi) → Tensor", "Each element limited to [lo, hi]."),
        ("Tensor:exp", "t:exp() → Tensor", "Elementwise e^x."),
        ("Tensor:log", "t:log() → Tensor", "Elementwise natural logarithm."),
        ("Tensor:sqrt", "t:sqrt() → Tensor", "Elementwise square root."),
        ("Tensor:abs", "t:abs() → Tensor", "Elementwise absolute value."),
        ("Tensor:tanh", "t:tanh() → Tensor", "Elementwise hyperbolic tangent."),
        ("Tensor:sigmoid", "t:sigmoid() → Tensor", "Elementwise logistic function 1 / (1 + e^-x)."),
        ("Tensor:sum", "t:sum() → number", "The sum of all elements (accumulated in double precision)."),
        ("Tensor:mean", "t:mean() → number", "The mean of all elements."),
        ("Tensor:min", "t:min() → number", "The smallest element."),
        ("Tensor:max", "t:max() → number", "The largest element."),
        ("Tensor:norm", "t:norm() → number", "The Euclidean (Frobenius) norm."),
        ("Tensor:argmax", "t:argmax() → {i1, i2, ...}", "For each row of a 2-D tensor, the 1-based position of its largest element."),
        ("Tensor:totable", "t:totable() → table", "Nested Lua tables mirroring the shape (a number for a 0-D tensor)."),
        ("Tensor:save_npy", "t:save_npy(path)", "Writes the tensor as a float32 .npy file."),

        // joule.nn
        ("joule.nn", "joule.nn", "Networks composed of modules with PyTorch's semantics and state_dict names — Conv2d, Linear, SiLU, ReLU, LeakyReLU, ELU, Tanh, Sigmoid, AvgPool2d, MaxPool2d, AdaptiveAvgPool2d, Flatten, Sequential, Residual — any of which is an energy model; the preset joule.nn.ShallowCNN (the course's network); joule.nn.load (any of them from a weights file); losses joule.nn.cross_entropy and joule.nn.logsumexp."),
        ("joule.nn.ShallowCNN", "joule.nn.ShallowCNN{ hidden = 32, classes = 42, seed = n } → ShallowCNN",
         "The course's CNN: five strided convolutions with Swish, global average pooling and a linear layer giving logits f(x) for `classes` classes; initialised as PyTorch does. Energies: E(x) = −logsumexp f(x), E(x, y) = −f(x)[y]; `classes = 1` is a plain EBM. A preset of the joule.nn modules (scripts/models/shallow_cnn.lua writes it out), with the course's names cnn_layers.N.* and fc_layers.1.*."),
        ("joule.nn.load", "joule.nn.load(path [, model_file]) → model",
         "A model from a safetensors weights file, or from a folder holding one: a checkpoint, or a run folder (its best/, else its last/ checkpoint). Composed networks are rebuilt from the architecture Joule stores in the file's metadata; a ShallowCNN also from PyTorch's own files (by its parameter names). With `model_file` (a Lua file, see joule.nn.from_file), that file's network takes the weights; a function it returns gets the file's classes, hidden and channels metadata."),
        ("joule.nn.from_file", "joule.nn.from_file(path [, options]) → model",
         "The model a Lua file returns (scripts/models/ has some). A file may instead return a function of an options table, which is called with `options`; the scripts' `-p model=FILE.lua` passes { classes, channels, hidden }."),
        ("joule.nn.Sequential", "joule.nn.Sequential{ m1, m2, ... [, names = {...}] [, input_shape = {C, H, W} or {D}] } → Model",
         "The modules in order; their parameters are named 0.weight, 1.bias, … as in PyTorch (or by `names`). A network that ends with (N, C) logits is an energy model: model:energy, SGLD, JEM, OOD scores, optimisers and checkpoints take it. `input_shape` declares the inputs (SGLD starts chains there); a network starting with Linear declares its own. A module object stands in one place of a network (make another for a second layer; weights are not shared), and networks nest at most 64 levels deep."),
        ("joule.nn.Residual", "joule.nn.Residual(m) → Model", "x + m(x), a residual block; m's parameters are named body.*, as in PyTorch."),
        ("Model", "Model",
         "A network of joule.nn modules, usable as an energy model. Methods: logits, predict, energy, energy_grad, parameters, num_parameters, save, load, classes, input_shape, summary, zero_grad, backward, grads."),
        ("ShallowCNN", "ShallowCNN",
         "The energy model. Methods: logits, predict, energy, energy_grad, parameters, num_parameters, save, load, hidden, classes, zero_grad, backward, grads."),
        ("ShallowCNN:logits", "model:logits(x) → Tensor (N, C)", "The logits f(x) for a batch of inputs x: images (N, C, H, W) (the ShallowCNN's are (N, 1, 56, 56)) or vectors (N, D)."),
        ("ShallowCNN:predict", "model:predict(x) → { class ids }", "The most likely class of each image (class ids from 0, as labels are)."),
        ("ShallowCNN:energy", "model:energy(x [, labels]) → Tensor (N)",
         "Energies of a batch: E(x) = −logsumexp_y f(x)[y], or with labels the class-conditional E(x, y) = −f(x)[y]. Lower energy means more likely."),
        ("ShallowCNN:energy_grad", "model:energy_grad(x [, labels]) → energy, grad",
         "Energies and their gradient ∂E/∂x with respect to the input in one forward and backward pass (what SGLD uses); the gradient has x's shape."),
        ("ShallowCNN:parameters", "model:parameters() → { name = Tensor }",
         "The live parameter tensors under their PyTorch names (conv layers, linear); changing one changes the model."),
        ("ShallowCNN:num_parameters", "model:num_parameters() → integer", "The number of trainable scalars."),
        ("ShallowCNN:save", "model:save(path [, metadata])",
         "Writes the weights as safetensors with PyTorch names (and hyperparameters plus `metadata` strings, numbers or booleans), atomically."),
        ("ShallowCNN:load", "model:load(path) → model", "Loads weights from a safetensors file (or the folder of a checkpoint or run, as joule.nn.load) into this model; every parameter must be there with its shape, and the message names the first that is not."),
        ("ShallowCNN:hidden", "model:hidden() → integer", "The width h of the first convolution (a ShallowCNN's only)."),
        ("ShallowCNN:input_shape", "model:input_shape() → {C, H, W} or {D} or nil", "The shape of one input, when the model declares one."),
        ("ShallowCNN:summary", "model:summary() → string", "The modules, one a line, with their names and arguments."),
        ("ShallowCNN:classes", "model:classes() → integer", "The number of classes C (logits per image)."),
        ("ShallowCNN:zero_grad", "model:zero_grad()", "Sets every parameter's gradient to zero, before accumulating a new step's."),
        ("ShallowCNN:backward", "model:backward(x, grad_logits)",
         "Runs x forward and accumulates every parameter's gradient of a loss whose gradient to logits(x) is `grad_logits` (N, C) — e.g. the second result of joule.nn.cross_entropy."),
        ("ShallowCNN:grads", "model:grads() → { name = Tensor }", "The live gradient tensors under the parameters' PyTorch names."),
        ("joule.nn.cross_entropy", "joule.nn.cross_entropy(logits, labels) → loss, grad_logits",
         "Mean softmax cross-entropy of (N, C) logits against class ids (0-based), as F.cross_entropy, and its gradient with respect to the logits."),
        ("joule.nn.logsumexp", "joule.nn.logsumexp(logits) → lse, softmax",
         "logsumexp of each row of (N, C) logits (−E(x) of a JEM), and the rows' softmax (its gradient)."),

        // joule.optim
        ("joule.optim", "joule.optim",
         "Optimisers for training steps written in Lua: joule.optim.Adam, joule.optim.StepLR and joule.optim.clip_grad_norm (the pieces joule.ebm.JEM uses inside)."),
        ("joule.optim.Adam", "joule.optim.Adam{ model = m, lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8 } → Adam",
         "Adam over the model's parameters with PyTorch's update rule. Methods: step() applies one update from the accumulated gradients, zero_grad(), lr([new]) reads or sets the rate, steps() counts updates."),
        ("joule.optim.StepLR", "joule.optim.StepLR{ optimizer = adam, step_size = 1, gamma = 0.1 } → StepLR",
         "Multiplies the optimizer's rate by gamma every step_size epochs. Methods: step() after each epoch (returns the new rate), lr()."),
        ("Adam", "Adam", "An Adam optimiser (joule.optim.Adam). Methods: step, zero_grad, lr, steps."),
        ("Adam:step", "adam:step()", "One Adam update of every parameter from its accumulated gradient."),
        ("Adam:zero_grad", "adam:zero_grad()", "Sets the gradients of the optimiser's parameters to zero."),
        ("Adam:lr", "adam:lr([new]) → rate", "The learning rate; with an argument, sets it first."),
        ("Adam:steps", "adam:steps() → integer", "How many updates have been applied (Adam's bias correction counts them)."),
        ("StepLR", "StepLR", "A step schedule of an optimiser's rate (joule.optim.StepLR). Methods: step, lr."),
        ("StepLR:step", "schedule:step() → rate", "Ends an epoch: the rate becomes base·gamma^⌊epochs/step_size⌋; returns it."),
        ("StepLR:lr", "schedule:lr() → rate", "The optimiser's current rate."),
        ("joule.optim.clip_grad_norm", "joule.optim.clip_grad_norm(model, max_norm) → norm",
         "Scales all gradients so their global L2 norm is at most max_norm, as torch.nn.utils.clip_grad_norm_; returns the norm before clipping."),

        // joule.ebm
        ("joule.ebm", "joule.ebm", "Sampling and training: joule.ebm.SGLD (Langevin sampler with replay buffer) and joule.ebm.JEM (joint energy-based model training)."),
        ("joule.ebm.SGLD", "joule.ebm.SGLD{ model = m, steps = 60, step_size = 10, noise = 0.005, grad_clip = 0.03, ... } → SGLD",
         "A stochastic-gradient Langevin sampler for `model` with a replay buffer. Each step: x ← clamp(x + noise·ε), g ← clamp(∂E/∂x, ±grad_clip), x ← clamp(x − step_size·g) in [−1, 1]. Other options: step_decay, fresh_fraction (0.05: chains restarted from noise), init ('uniform' or 'gaussian', init_std), conditional, buffer_per_class (128), shape ({C, H, W} or {D}: one chain's shape; by default the model's input shape), image_size (s: shape {1, s, s}), precision ('fp32' or 'bf16': the steps' convolutions in bfloat16 with FP32 accumulation, where the CPU has AVX512-BF16; the model itself and its training stay FP32), seed."),
        ("SGLD", "SGLD", "A Langevin sampler with replay buffer. Methods: sample, run, step, sample_buffer, buffer_size, config."),
        ("SGLD:sample", "sampler:sample{ n = 8, labels = {...}, steps = 256, keep_every = 32 } → final [, frames]",
         "Draws `n` new samples from fresh noise (class-conditional when labels are given), running `steps` steps. With keep_every k it also returns the chain's frames (F, N, 1, H, W) every k steps and at the end, for joule.plot.chains."),
        ("SGLD:run", "sampler:run(x [, { labels, steps, keep_every }]) → [frames]",
         "Runs SGLD on the batch x in place (from wherever x starts); returns the frames when keep_every is given."),
        ("SGLD:step", "sampler:step(x, eps [, { labels, step_size }])",
         "One SGLD step on x in place with the given noise ε (same shape as x): for writing your own sampler loop in Lua."),
        ("SGLD:sample_buffer", "sampler:sample_buffer(n [, labels]) → Tensor",
         "The synthesized batch of a JEM step: chains drawn from the replay buffer (a fraction fresh), run for `steps` steps and stored back."),
        ("SGLD:buffer_size", "sampler:buffer_size() → integer", "How many chains the replay buffer holds now."),
        ("SGLD:config", "sampler:config() → table", "The sampler's settings: steps, step_size, step_decay, noise, grad_clip, fresh_fraction, conditional, buffer_per_class, shape, precision (and running_precision: what this CPU runs)."),
        ("joule.ebm.JEM", "joule.ebm.JEM{ model = m, sampler = s, alpha = 0.1, lambda = 1, lr = 1e-4, lr_step = 2, lr_gamma = 0.97, clip = 0.1 } → JEM",
         "Joint energy-based model training: loss = px + λ·pyx with px = α·mean(f_r² + f_s²) + mean(f_s) − mean(f_r) over real and sampled batches and pyx the cross-entropy; Adam (betas beta1 = 0, beta2 = 0.999), StepLR(lr_step, lr_gamma), global gradient-norm clipping. Other options: real_noise, seed, and guard = { every = 50, energy_max = 1000, gap_max = 100, window = 20, lr_factor = 0.5, extra_steps = 0, max_rollbacks = 4 } (the divergence guard, on by default; guard = false turns it off): fit_epoch checks each step for a non-finite loss, energy or gradient norm, |mean energy| above energy_max, or a mean |E(sampled) − E(real)| over `window` steps above gap_max, and then rolls back to the last good state (kept at each epoch's start and every `every` steps), reseeds the sampler, multiplies the learning rate by lr_factor and adds extra_steps SGLD steps; after max_rollbacks rollbacks in a row it raises an error."),
        ("JEM", "JEM", "A JEM trainer. Methods: step, fit_epoch, evaluate, save_checkpoint, load_checkpoint, epoch, steps, lr, rollbacks."),
        ("JEM:step", "jem:step(images, labels) → stats",
         "One training step on a batch: samples from the buffer, computes the losses, updates the model. Stats: loss, px, pyx, reg, cdiv, grad_norm, accuracy, energy_real, energy_sampled."),
        ("JEM:fit_epoch", "jem:fit_epoch(split [, { batch_size = 32, max_batches = n, progress = true, stop_on_interrupt = true, log = false }]) → stats",
         "One epoch over a split table ({ images, labels }) in seeded shuffled batches; returns the epoch's mean stats (with `interrupted = true` when an interrupt stopped it after a step; the next call continues the epoch) and `rollbacks`, the divergence guard's events this epoch (each also printed; with log = true appended to the run's log.jsonl as { event = \"rollback\", step, rolled_back_to, check, quantity, value, lr_before, lr_after, sgld_steps_before, sgld_steps_after })."),
        ("JEM:evaluate", "jem:evaluate(split [, { batch_size = 256, samples = 32 }]) → { accuracy, energy_real, energy_sampled, cdiv, predictions }",
         "Classification accuracy and mean energies of real and freshly sampled images on a split."),
        ("JEM:save_checkpoint", "jem:save_checkpoint(dir [, info])",
         "Writes dir/model.safetensors (weights, hyperparameters, `info`) and dir/state.safetensors (optimizer, schedule, replay buffer, generators) so a run can resume exactly."),
        ("JEM:load_checkpoint", "jem:load_checkpoint(dir) → info",
         "Restores everything save_checkpoint wrote (a checkpoint folder or a run folder's last/); returns the saved info."),
        ("JEM:epoch", "jem:epoch() → integer", "Completed epochs."),
        ("JEM:steps", "jem:steps() → integer", "Completed training steps."),
        ("JEM:lr", "jem:lr() → number", "The learning rate of the next step: the schedule's for the current epoch, times the guard's factor after rollbacks."),
        ("JEM:rollbacks", "jem:rollbacks() → integer", "How many times the divergence guard rolled training back."),

        // joule.data
        ("joule.data", "joule.data", "Data in the course layout (train, val, test, ood_ta, ood_tb .npy files) and batches. A split is a table { images = Tensor (N, 1, 56, 56), labels = { class ids }, n, path }."),
        ("joule.data.load", "joule.data.load(dir) → { train, val, test, ood_ta, ood_tb }",
         "Every split of a folder in the course layout, transformed as the course does (per-image min-max, resize shorter side to 56 with antialiasing, center crop, [-1, 1]). Make a stand-in folder with `joule data glyphs`. A folder of images with one subfolder per class (PNG, JPEG, TIFF) is imported in memory as `joule data import` does with its defaults (70/15/15, seed 0, greyscale) → { train, val, test }; a folder that command made gives train, val, test and its ood_* sets."),
        ("joule.data.load_split", "joule.data.load_split(path) → split", "One .npy split file (images, then optional labels, then for images of different sizes their (N, 2) sizes), transformed as joule.data.load does."),
        ("joule.data.batches", "joule.data.batches(split, size [, { shuffle = true, drop_last = false, seed = n }]) → iterator",
         "For `for x, y, i in joule.data.batches(split, 32) do ... end`: batches of images (a Tensor) and their labels, seeded shuffling."),
        ("Batches", "Batches", "The iterator joule.data.batches returns; #it is the number of batches."),

        // joule.metrics, joule.ood
        ("joule.metrics", "joule.metrics", "Classification and detection metrics: accuracy, per_class_accuracy, confusion_matrix, calibration_error, auroc, auprc (as scikit-learn computes them, ties included)."),
        ("joule.metrics.accuracy", "joule.metrics.accuracy(predictions, labels) → number", "The fraction of predictions equal to the labels."),
        ("joule.metrics.auroc", "joule.metrics.auroc(scores, labels) → number", "Area under the ROC curve of scores for binary labels (1 = positive), ties as scikit-learn's roc_auc_score."),
        ("joule.metrics.auprc", "joule.metrics.auprc(scores, labels) → number", "Area under the precision-recall curve (scikit-learn's average_precision_score)."),
        ("joule.metrics.confusion_matrix", "joule.metrics.confusion_matrix(predictions, labels, classes) → rows",
         "Counts: m[y + 1][p + 1] is the number of images of class y predicted as p."),
        ("joule.metrics.per_class_accuracy", "joule.metrics.per_class_accuracy(predictions, labels, classes) → list",
         "Accuracy per class: [y + 1] is class y's accuracy (nan for a class with no images)."),
        ("joule.metrics.calibration_error", "joule.metrics.calibration_error(confidences, predictions, labels [, bins = 15]) → number",
         "Expected calibration error over equal-width confidence bins."),
        ("joule.ood", "joule.ood", "Out-of-distribution scores (larger = more in-distribution) and their separation."),
        ("joule.ood.scores", "joule.ood.scores(model, images, 'px' | 'py' | 'mass' [, batch_size]) → list",
         "Per-image scores: px = −E(x) (unnormalised log density), py = the largest softmax probability, mass = −‖∂E/∂x‖ (flat regions score high)."),
        ("joule.ood.separation", "joule.ood.separation(in_scores, out_scores) → auroc, auprc",
         "How well the scores separate in-distribution (positive) from out-of-distribution images."),

        // Progress
        ("Progress", "Progress", "A progress bar (joule.progress). Methods: update, done."),
        ("Progress:update", "bar:update([n] [, info])", "Marks `n` items done (default: one more); info is a string or a table of named values."),
        ("Progress:done", "bar:done([info])", "Finishes the bar's line."),

        // joule.plot
        ("joule.plot", "joule.plot",
         "Pictures as figures: grid, chains, histogram, lines, run_log, roc, pr, confusion, energy_trace. Each takes its data, an optional output path and an options table, and returns a Figure; fig:save(path) writes the PNG, and a notebook shows a figure inline when it is a cell's value or passed to joule.display."),
        ("joule.plot.heatmap", "joule.plot.heatmap(values [, path] [, { xrange, yrange, points, title, xlabel, ylabel, width, height }]) → Figure",
         "A function of the plane on a grid, in viridis (dark = low): values (rows, columns) over xrange × yrange (default [-1, 1]², row 1 at the bottom), e.g. the energy of a 2-D model on a meshgrid; points (N, 2) — SGLD samples — drawn on top."),
        ("joule.plot.grid", "joule.plot.grid(images [, path] [, { nrow, padding, range, row_labels, title, scale, blocks, levels }]) → Figure",
         "A grid of images from an (N, C, H, W), (N, H, W) or (H, W) tensor (C = 1 grey, 3 colour, any other count channel by channel, each a grey tile), filled row by row (nrow per row), or the frames of sampler:sample{ keep_every = k } (F, N, 1, H, W), one chain after another. range: {lo, hi} (default {-1, 1}), 'auto' or 'per_image'."),
        ("joule.plot.chains", "joule.plot.chains(frames [, path] [, { steps, chains, title, range, row_labels, padding, scale }]) → Figure",
         "Sampling chains from (F, N, 1, H, W) frames (as SGLD:sample returns with keep_every): one row per chain, the SGLD step under each frame; chains = {1, 5, ...} shows only those chains."),
        ("joule.plot.histogram", "joule.plot.histogram(sets [, path] [, { bins = 40, density = true, style, title, xlabel, ylabel, width, height, ... }]) → Figure",
         "Overlaid histograms with a legend — the course's figure of ID and OOD energies. sets is {{ name = 'test', values = t }, ...}, { test = t, ood = u } (drawn in name order), or one list or tensor of values."),
        ("joule.plot.lines", "joule.plot.lines(series [, path] [, { title, xlabel, ylabel, width, height, ... }]) → Figure",
         "A line chart: series is {{ name = 'loss', x = {...}, y = {...} }, ...} (x optional: 1, 2, 3, …, the list's indices) or { loss = ys, acc = ys }."),
        ("joule.plot.run_log", "joule.plot.run_log(log_path [, path] [, { keys = {...}, x = 'epoch', names = {...}, title, ... }]) → Figure",
         "Curves of the numbers a run logged with joule.log (its log.jsonl): keys picks the series, x the key along the x axis, names = { key = 'legend text' } renames series."),
        ("joule.plot.roc", "joule.plot.roc(sets [, path] [, { title, ... }]) → Figure",
         "ROC curves with the AUROC in the legend: sets is {{ name = 'px vs ood_ta', inside = in_scores, outside = out_scores }, ...} (higher scores = more in-distribution, as joule.ood.scores gives them) or {{ name =, scores =, labels = {0/1, ...} }, ...}."),
        ("joule.plot.pr", "joule.plot.pr(sets [, path] [, { title, ... }]) → Figure",
         "Precision-recall curves with the AUPRC in the legend; sets as for joule.plot.roc."),
        ("joule.plot.confusion", "joule.plot.confusion(counts [, path] [, { title, class_names, normalize, show_values, cell_size }]) → Figure",
         "A confusion-matrix heat map from counts[true + 1][predicted + 1] (as joule.metrics.confusion_matrix returns them) or { predictions =, labels =, classes = }."),
        ("joule.plot.energy_trace", "joule.plot.energy_trace(groups [, path] [, { style = 'band', title, ... }]) → Figure",
         "Energy against SGLD step: groups is {{ name = 'conditional', energies = E, steps = {...} }, ...}, { name = E } or one E, each E a (steps, chains) tensor or a table of rows; style 'band' (mean ± 1 sd) or 'lines' (every chain)."),
        ("Figure", "Figure", "A rendered picture (every joule.plot function returns one). Methods: save, png, size. A notebook cell whose value is a figure shows it inline."),
        ("Figure:save", "fig:save(path) → fig", "Writes the PNG to `path` through a temporary file and a rename; returns the figure."),
        ("Figure:png", "fig:png() → string", "The PNG bytes as a Lua string (the same figure always gives the same bytes)."),
        ("Figure:size", "fig:size() → width, height", "The size in pixels."),
        ("joule.widgets", "joule.widgets",
         "Live controls for notebooks (ipywidgets 8 in JupyterLab): IntSlider, FloatSlider, FloatLogSlider, Dropdown, Checkbox, Button, Label, Output, Image, HBox, VBox, and interact. `w.value` reads and sets a control's value (setting it updates the page and runs its callbacks); w:on_change(function(value, w) ... end), button:on_click(function(b) ... end), output:capture(f), output:clear(), image:set(png_path | figure | tensor), w:close() (removes it from the page). Show one with joule.display(w) or as a cell's value. Outside a notebook they print a short text form."),
        ("joule.widgets.IntSlider", "joule.widgets.IntSlider{ description, min = 0, max = 100, step = 1, value = 0 } → Widget",
         "A slider of integers; other ipywidgets options too (readout, continuous_update, orientation, disabled)."),
        ("joule.widgets.FloatSlider", "joule.widgets.FloatSlider{ description, min = 0, max = 100, step = 0.1, value = 0, readout_format = '.2f' } → Widget",
         "A slider of numbers."),
        ("joule.widgets.FloatLogSlider", "joule.widgets.FloatLogSlider{ description, min = 0, max = 4, base = 10, step = 0.1, value = 1 } → Widget",
         "A slider on a log scale: min, max and step are exponents of `base`, the value is the number itself (min = -3, max = 0: 0.001 to 1)."),
        ("joule.widgets.Dropdown", "joule.widgets.Dropdown{ description, options = {...}, value } → Widget",
         "A choice among strings (the value is the chosen one; the first by default)."),
        ("joule.widgets.Checkbox", "joule.widgets.Checkbox{ description, value = false } → Widget", "A checkbox; its value is a boolean."),
        ("joule.widgets.Button", "joule.widgets.Button{ description, button_style, icon } → Widget",
         "A button: button:on_click(function(b) ... end) runs on every click (b:click() clicks it from Lua)."),
        ("joule.widgets.Label", "joule.widgets.Label{ value = '' } → Widget", "A line of text; set `label.value` to change it."),
        ("joule.widgets.Output", "joule.widgets.Output{} → Widget",
         "An output area: out:capture(function() ... end) sends what the function prints or displays (figures too) and its error, if any, into the area; out:clear() empties it."),
        ("joule.widgets.Image", "joule.widgets.Image{ value = png_path | figure | tensor, width, height } → Widget",
         "A picture: image:set(png_path | figure | tensor) replaces it (a tensor of images is shown as a grid)."),
        ("joule.widgets.HBox", "joule.widgets.HBox{ children = { w1, w2, ... } } → Widget", "Widgets side by side."),
        ("joule.widgets.VBox", "joule.widgets.VBox{ children = { w1, w2, ... } } → Widget", "Widgets one under the other."),
        ("joule.widgets.interact", "joule.widgets.interact(function(values) ... end, { name = {min, max [, step]} | {'a', 'b', ...} | boolean | widget, ... }) → VBox",
         "A control per name (sorted by name: integer ranges give an IntSlider, other ranges a FloatSlider, lists of strings a Dropdown, booleans a Checkbox; or pass a widget) above an Output area, shown at once. The function runs now and after every change with a table of the controls' values; the figure (or other value) it returns is shown in the area, and its error too. box.controls[name] and box.output are the parts."),
        ("joule.widgets.is_widget", "joule.widgets.is_widget(value) → boolean", "Whether a value is a widget."),
        ("joule.widgets.superseded", "joule.widgets.superseded() → boolean",
         "Inside a widget's callback: true when a newer change of that widget is already waiting (a long callback can return early; the newer change runs it again). False elsewhere and outside the kernel."),
        ("joule.clear_output", "joule.clear_output([wait])",
         "In a notebook, clears the current cell's outputs (with wait = true, only when the next output arrives: for a picture that updates in place). Does nothing outside a notebook."),
    ]
}
