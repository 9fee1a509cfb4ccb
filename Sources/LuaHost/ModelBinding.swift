import Formats
import CLua
import EBM
import Foundation
import Tensor

/// joule.nn.ShallowCNN{ hidden = 32, classes = 42, seed = n } and joule.nn.load(path).
enum ModelBinding {
    static let typeName = "ShallowCNN"

    static func install(_ lua: LuaState, _ context: JouleContext) {
        lua.define(modelClass())
        lua.setFunction("ShallowCNN", qualified: "joule.nn.ShallowCNN") { call in
            let o = try call.options(1, allowed: ["hidden", "classes", "seed"])
            let model = try ShallowCNN(hidden: try o?.integer("hidden", 1...4096) ?? 32,
                                       classes: try o?.integer("classes", 1...100_000) ?? 42,
                                       rng: try EngineBindings.rng(o, context))
            call.push(object: model, type: typeName); return 1
        }
        lua.setFunction("load", qualified: "joule.nn.load") { call in
            // A weights file, or a folder holding one: a checkpoint folder, or a run folder (its
            // best/, else its last/ checkpoint).
            call.push(object: try ShallowCNN.load(from: weightsFile(try call.string(1))), type: typeName); return 1
        }
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

    static func this(_ call: LuaCall) throws -> ShallowCNN { try call.this(typeName) }

    static func modelClass() -> LuaClass {
        var c = LuaClass(name: typeName)
        c.method("logits") { call in call.push(try this(call).logits(try call.tensor(1))); return 1 }
        c.method("predict") { call in
            // Class ids (0-based, as labels are), not positions.
            call.push(try this(call).logits(try call.tensor(1)).argmaxRows()); return 1
        }
        c.method("energy") { call in
            call.push(try this(call).energy(try call.tensor(1), labels: try EngineBindings.labels(call, 2))); return 1
        }
        c.method("energy_grad") { call in
            let model = try this(call)
            let energy = Tensor(shape: [0])
            // The model reuses its gradient tensor on the next call: Lua gets its own copy.
            let grad = try model.energyGradient(try call.tensor(1), labels: try EngineBindings.labels(call, 2), energy: energy)
            call.push(energy)
            call.push(grad.copy())
            return 2
        }
        c.method("parameters") { call in
            // The live parameter tensors under their PyTorch names: changing one changes the model.
            let model = try this(call)
            call.pushTable { t in for (name, p) in model.namedParameters { t.set(name, p.value) } }
            return 1
        }
        c.method("num_parameters") { call in call.push(try this(call).parameters.reduce(0) { $0 + $1.value.count }); return 1 }
        c.method("save") { call in
            let model = try this(call)
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
            let model = try this(call)
            let path = try call.string(1)
            let shapes = model.namedParameters.map { (name: $0.name, shape: $0.parameter.value.shape) }
            let file = try SafeTensors.read(path) { header in
                // Names and shapes checked before a tensor is allocated.
                for (name, shape) in shapes {
                    guard let e = header.entries[name] else { throw JouleError("missing weight '\(name)'") }
                    guard e.shape == shape else { throw JouleError("weight '\(name)' has shape \(e.shape), the model needs \(shape)") }
                }
                if let extra = header.entries.keys.sorted().first(where: { name in !shapes.contains { $0.name == name } }) {
                    throw JouleError("unknown weight '\(extra.prefix(80))' for ShallowCNN(hidden \(model.hidden), classes \(model.classes))")
                }
            }
            do { try model.load(stateDict: file.tensors) } catch let e as JouleError { throw JouleError("\(path): \(e.message)") }
            call.pushSelf(); return 1
        }
        c.method("hidden") { call in call.push(try this(call).hidden); return 1 }
        c.method("classes") { call in call.push(try this(call).classes); return 1 }
        c.meta("__tostring") { call in
            let m = try call.object(1, typeName, as: ShallowCNN.self)
            call.push("ShallowCNN(hidden \(m.hidden), classes \(m.classes))"); return 1
        }
        OptimBinding.addModelMethods(&c)
        return c
    }
}
