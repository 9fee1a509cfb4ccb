import Formats
import CLua
import EBM
import Foundation
import NN
import Tensor

/// A network as Lua holds it: a module (`joule.nn.Conv2d(...)`, `joule.nn.Sequential{...}`, a
/// preset) and, once it is used as an energy model, the `EnergyNet` around it. Pieces of a
/// network (a lone SiLU) are modules too; only a whole network needs to give logits.
final class LuaModel {
    let module: Module
    let inputShape: [Int]?
    private var built: EnergyNet?

    init(_ module: Module, inputShape: [Int]? = nil) { self.module = module; self.inputShape = inputShape }
    init(_ net: EnergyNet) { module = net.root; inputShape = net.inputShape; built = net }

    /// PyTorch's training mode (see `EnergyNet.training`), on the modules themselves, so that a
    /// piece of a network (a lone SpectralNorm) has one too.
    var training: Bool {
        get { built?.training ?? module.allModules.lazy.compactMap { $0 as? ModeDependent }.first?.training ?? true }
        set {
            if let built { built.training = newValue }
            for case let m as ModeDependent in module.allModules { m.training = newValue }
        }
    }

    /// The energy model of this network (made on first use).
    func net() throws -> EnergyNet {
        if let built { return built }
        let n = try EnergyNet(module, inputShape: inputShape)
        built = n
        return n
    }
}

/// The model object of joule.nn (logits, energy, energy_grad, parameters, save, load, …),
/// joule.nn.ShallowCNN{ hidden = 32, classes = 42, seed = n } and joule.nn.load(path).
/// The preset's objects are of type "ShallowCNN", other networks' of type "Model"; both have the
/// same methods and go wherever a model is asked for.
enum ModelBinding {
    static let presetType = "ShallowCNN"
    static let typeName = "Model"

    static func install(_ lua: LuaState, _ context: JouleContext) {
        lua.define(modelClass(presetType))
        lua.define(modelClass(typeName))
        lua.setFunction("ShallowCNN", qualified: "joule.nn.ShallowCNN") { call in
            let o = try call.options(1, allowed: ["hidden", "classes", "seed"])
            let model = try ShallowCNN(hidden: try o?.integer("hidden", 1...4096) ?? 32,
                                       classes: try o?.integer("classes", 1...100_000) ?? 42,
                                       rng: try EngineBindings.rng(o, context))
            push(call, model); return 1
        }
        lua.setFunction("load", qualified: "joule.nn.load") { call in
            // A weights file, or a folder holding one: a checkpoint folder, or a run folder (its
            // best/, else its last/ checkpoint). With a model file, the network that file makes
            // (given the file's numeric metadata: classes, hidden, channels) takes the weights.
            let path = weightsFile(try call.string(1))
            guard !call.isNil(2) else { push(call, try EnergyNets.load(from: path)); return 1 }
            let file = try SafeTensors.read(path)
            try LayerBinding.modelFromFile(call, try call.string(2)) {
                call.pushTable { t in
                    for key in ["classes", "hidden", "channels"] { if let v = file.metadata[key].flatMap({ Int($0) }) { t.set(key, v) } }
                }
            }
            let model = try ModelBinding.model(call.L, -1)!.net()
            do { try model.load(stateDict: file.tensors) } catch let e as JouleError { throw JouleError("\(path): \(e.message)") }
            model.training = false   // a model from a file starts in evaluation mode
            return 1
        }
        LayerBinding.install(lua, context)
    }

    static func push(_ call: LuaCall, _ net: EnergyNet) {
        call.push(object: LuaModel(net), type: net is ShallowCNN ? presetType : typeName)
    }

    /// The weights file `path` names (see joule.nn.load).
    static func weightsFile(_ path: String) -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else { return path }
        let file = TrainingCheckpoint.weightsFile
        for candidate in ["\(path)/\(file)", "\(path)/best/\(file)", "\(path)/last/\(file)"]
        where FileManager.default.fileExists(atPath: candidate) { return candidate }
        return "\(path)/\(file)"
    }

    /// The model at stack slot `slot`, if it holds one.
    static func model(_ L: OpaquePointer, _ slot: Int32) -> LuaModel? {
        LuaObjects.get(L, slot, type: presetType, as: LuaModel.self) ?? LuaObjects.get(L, slot, type: typeName, as: LuaModel.self)
    }

    /// The model argument `n` of a call.
    static func model(_ call: LuaCall, _ n: Int) throws -> LuaModel {
        guard let m = model(call.L, call.index(n)) else { throw call.bad(n, typeName) }
        return m
    }

    /// The model in field `key` of an options table.
    static func model(_ o: LuaTable, required key: String) throws -> LuaModel {
        if let m = try? o.object(key, presetType, as: LuaModel.self) { return m }
        return try o.object(required: key, typeName, as: LuaModel.self)
    }

    static func this(_ call: LuaCall) throws -> LuaModel {
        guard let m = model(call.L, 1) else { throw LuaArgumentError(position: 0, message: "\(typeName) expected, got \(LuaCall.got(call.L, 1))") }
        return m
    }

    static func net(_ call: LuaCall) throws -> EnergyNet { try this(call).net() }

    static func modelClass(_ name: String) -> LuaClass {
        var c = LuaClass(name: name)
        c.method("logits") { call in call.push(try net(call).logits(try call.tensor(1))); return 1 }
        c.method("predict") { call in
            // Class ids (0-based, as labels are), not positions.
            call.push(try net(call).logits(try call.tensor(1)).argmaxRows()); return 1
        }
        c.method("energy") { call in
            call.push(try net(call).energy(try call.tensor(1), labels: try EngineBindings.labels(call, 2))); return 1
        }
        c.method("energy_grad") { call in
            let model = try net(call)
            let energy = Tensor(shape: [0])
            // The model reuses its gradient tensor on the next call: Lua gets its own copy.
            let grad = try model.energyGradient(try call.tensor(1), labels: try EngineBindings.labels(call, 2), energy: energy)
            call.push(energy)
            call.push(grad.copy())
            return 2
        }
        c.method("hvp") { call in
            // The input Hessian of E times v, exact (forward over reverse); Lua gets its own copy.
            let model = try net(call)
            call.push(try model.hessianVectorProduct(try call.tensor(1), try call.tensor(2), labels: try EngineBindings.labels(call, 3)).copy())
            return 1
        }
        c.method("parameters") { call in
            // The live parameter tensors under their PyTorch names: changing one changes the model.
            let module = try this(call).module
            call.pushTable { t in for (name, p) in module.namedParameters { t.set(name, p.value) } }
            return 1
        }
        c.method("num_parameters") { call in call.push(try this(call).module.parameters.reduce(0) { $0 + $1.value.count }); return 1 }
        c.method("save") { call in
            let model = try net(call)
            let path = try call.string(1)
            var metadata: [String: String] = [:]
            if !call.isNil(2) {
                let t = try call.table(2)
                for key in try LuaJSON.tableKeys(call.L, t.index) {
                    lua_pushstring(call.L, key); lua_rawget(call.L, t.index)
                    defer { lua_settop(call.L, -2) }
                    guard [LUA_TSTRING, LUA_TNUMBER, LUA_TBOOLEAN].contains(lua_type(call.L, -1)) else {
                        throw call.bad(2, message: "metadata '\(key)': string, number or boolean expected, got \(LuaCall.got(call.L, -1))")
                    }
                    metadata[key] = LuaJSON.short(call.L, -1)
                }
            }
            try model.save(to: path, metadata: metadata)
            return 0
        }
        c.method("load") { call in
            // Weights into this model (shapes must match); joule.nn.load makes a model from a file.
            // A folder stands for the weights file in it (as for joule.nn.load).
            let model = try net(call)
            let path = weightsFile(try call.string(1))
            // Parameters and buffers (spectral normalisation's u, v), as a saved file holds them.
            let shapes = model.stateShapes
            let file = try SafeTensors.read(path) { header in
                // Names and shapes checked before a tensor is allocated, in the model's order, so
                // that the message names the first parameter where file and model differ.
                for (name, shape) in shapes {
                    guard let e = header.entries[name] else { throw JouleError("missing weight '\(name)' (the checkpoint is of another architecture)") }
                    guard e.shape == shape else { throw JouleError("weight '\(name)' has shape \(e.shape), the model needs \(shape)") }
                }
                if let extra = header.entries.keys.sorted().first(where: { name in !shapes.contains { $0.name == name } }) {
                    throw JouleError("unknown weight '\(extra.prefix(80))' for this model")
                }
            }
            do { try model.load(stateDict: file.tensors) } catch let e as JouleError { throw JouleError("\(path): \(e.message)") }
            call.pushSelf(); return 1
        }
        c.method("hidden") { call in
            guard let m = try net(call) as? ShallowCNN else { throw JouleError("hidden(): only a ShallowCNN has a hidden width") }
            call.push(m.hidden); return 1
        }
        c.method("train") { call in
            // PyTorch's model.train([mode]): training mode unless `mode` is false.
            let mode = call.isNil(1) ? true : try call.boolean(1)
            try this(call).training = mode
            call.pushSelf(); return 1
        }
        c.method("eval") { call in try this(call).training = false; call.pushSelf(); return 1 }
        c.method("training") { call in call.push(try this(call).training); return 1 }
        c.method("classes") { call in call.push(try net(call).classes); return 1 }
        c.method("input_shape") { call in
            let m = try this(call)
            guard let s = m.inputShape ?? (try? m.net())?.inputShape else { lua_pushnil(call.L); return 1 }
            call.push(s); return 1
        }
        c.method("summary") { call in call.push(Architecture.describe(try this(call).module)); return 1 }
        c.meta("__tostring") { call in
            guard let m = model(call.L, 1) else { call.push(name); return 1 }
            if let s = try? m.net() as? ShallowCNN { call.push("ShallowCNN(hidden \(s.hidden), classes \(s.classes))"); return 1 }
            let count = m.module.parameters.reduce(0) { $0 + $1.value.count }
            call.push("\(m.module.summary) (\(count) parameters)"); return 1
        }
        OptimBinding.addModelMethods(&c)
        return c
    }
}

extension ModelBinding {
    /// The documentation of what this file binds (name, signature, paragraph), read by `JouleDocs`.
    static let documentation: [(String, String, String)] = [
    ("joule.nn.ShallowCNN", "joule.nn.ShallowCNN{ hidden = 32, classes = 42, seed = n } → ShallowCNN",
     "The course's CNN: five strided convolutions with Swish, global average pooling and a linear layer giving logits f(x) for `classes` classes; initialised as PyTorch does. Energies: E(x) = −logsumexp f(x), E(x, y) = −f(x)[y]; `classes = 1` is a plain EBM. A preset of the joule.nn modules (scripts/models/shallow_cnn.lua writes it out), with the course's names cnn_layers.N.* and fc_layers.1.*."),
    ("joule.nn.load", "joule.nn.load(path [, model_file]) → model",
     "A model from a safetensors weights file, or from a folder holding one: a checkpoint, or a run folder (its best/, else its last/ checkpoint). Composed networks are rebuilt from the architecture Joule stores in the file's metadata; a ShallowCNN also from PyTorch's own files (by its parameter names). With `model_file` (a Lua file, see joule.nn.from_file), that file's network takes the weights; a function it returns gets the file's classes, hidden and channels metadata."),
    ("Model", "Model",
     "A network of joule.nn modules, usable as an energy model. Methods: logits, predict, energy, energy_grad, hvp, parameters, num_parameters, save, load, train, eval, training, classes, input_shape, summary, zero_grad, backward, grads."),
    ("ShallowCNN", "ShallowCNN",
     "The energy model. Methods: logits, predict, energy, energy_grad, hvp, parameters, num_parameters, save, load, train, eval, training, hidden, classes, zero_grad, backward, grads."),
    ("ShallowCNN:logits", "model:logits(x) → Tensor (N, C)", "The logits f(x) for a batch of inputs x: images (N, C, H, W) (the ShallowCNN's are (N, 1, 56, 56)) or vectors (N, D)."),
    ("ShallowCNN:predict", "model:predict(x) → { class ids }", "The most likely class of each image (class ids from 0, as labels are)."),
    ("ShallowCNN:energy", "model:energy(x [, labels]) → Tensor (N)",
     "Energies of a batch: E(x) = −logsumexp_y f(x)[y], or with labels the class-conditional E(x, y) = −f(x)[y]. Lower energy means more likely."),
    ("ShallowCNN:energy_grad", "model:energy_grad(x [, labels]) → energy, grad",
     "Energies and their gradient ∂E/∂x with respect to the input in one forward and backward pass (what SGLD uses); the gradient has x's shape."),
    ("ShallowCNN:hvp", "model:hvp(x, v [, labels]) → Tensor",
     "The input Hessian of each input's energy times v, ∂/∂x [vᵀ ∂E/∂x], exact (forward over reverse through every layer, as PyTorch's double backward), of x's shape: E(x), or with labels E(x, y). v has x's shape."),
    ("ShallowCNN:parameters", "model:parameters() → { name = Tensor }",
     "The live parameter tensors under their PyTorch names (conv layers, linear); changing one changes the model."),
    ("ShallowCNN:num_parameters", "model:num_parameters() → integer", "The number of trainable scalars."),
    ("ShallowCNN:save", "model:save(path [, metadata])",
     "Writes the weights as safetensors with PyTorch names (and hyperparameters plus `metadata` strings, numbers or booleans), atomically."),
    ("ShallowCNN:load", "model:load(path) → model", "Loads weights from a safetensors file (or the folder of a checkpoint or run, as joule.nn.load) into this model; every parameter must be there with its shape, and the message names the first that is not."),
    ("ShallowCNN:hidden", "model:hidden() → integer", "The width h of the first convolution (a ShallowCNN's only)."),
    ("ShallowCNN:input_shape", "model:input_shape() → {C, H, W} or {D} or nil", "The shape of one input, when the model declares one."),
    ("ShallowCNN:summary", "model:summary() → string", "The modules, one a line, with their names and arguments."),
    ("ShallowCNN:train", "model:train([mode]) → model",
     "Training mode, as PyTorch's model.train() (`mode` false: evaluation mode). It matters only to spectrally normalised layers: in training mode each logits, energy, energy_grad and hvp call advances their power iteration (u, v) once before computing; a JEM trainer's step advances them once per step whatever its passes. New models are in training mode; models loaded from files in evaluation mode."),
    ("ShallowCNN:eval", "model:eval() → model", "Evaluation mode, as PyTorch's model.eval(): spectrally normalised layers keep their u, v and use the σ they give."),
    ("ShallowCNN:training", "model:training() → boolean", "Whether the model is in training mode (see model:train)."),
    ("ShallowCNN:classes", "model:classes() → integer", "The number of classes C (logits per image)."),
    ("ShallowCNN:zero_grad", "model:zero_grad()", "Sets every parameter's gradient to zero, before accumulating a new step's."),
    ("ShallowCNN:backward", "model:backward(x, grad_logits)",
     "Runs x forward and accumulates every parameter's gradient of a loss whose gradient to logits(x) is `grad_logits` (N, C) — e.g. the second result of joule.nn.cross_entropy."),
    ("ShallowCNN:grads", "model:grads() → { name = Tensor }", "The live gradient tensors under the parameters' PyTorch names."),
    ]
}
