import NN
import Tensor

/// Networks rebuilt from the JSON their modules describe themselves with (`Module.architecture`),
/// as checkpoints store it: `{"type": "Sequential", "modules": [{"type": "Conv2d", "in": 3, ...}, ...]}`.
/// The JSON comes from files, so this target keeps Swift's overflow and bounds checks (NN runs
/// -Ounchecked), every number is range-checked by the layer's own declaration (`LayerType`), and
/// the size of the network is bounded before anything is allocated.
extension Architecture {
    /// `parameterBudget` below `maxParameters`: the most the network may have, as when it comes
    /// with a file of weights that holds no more values (nothing larger is then allocated).
    public static func build(_ json: JSON, rng: RNG, parameterBudget: Int = maxParameters) throws -> Module {
        var budget = Swift.min(parameterBudget, maxParameters)
        let limit = budget
        var modules = maxModules
        do {
            return try build(json, rng: rng, depth: 0, budget: &budget, modules: &modules)
        } catch is ParameterBudgetExceeded {
            throw JouleError("architecture: more than \(limit) parameters" + (limit < maxParameters ? ", the values its weights file holds" : ""))
        }
    }
    private struct ParameterBudgetExceeded: Error {}

    private static func build(_ json: JSON, rng: RNG, depth: Int, budget: inout Int, modules left: inout Int) throws -> Module {
        guard depth < maxDepth else { throw JouleError("architecture nested more than \(maxDepth) deep") }
        guard left > 0 else { throw JouleError("architecture: more than \(maxModules) modules") }
        left -= 1
        guard let o = json.object, let type = o["type"]?.string else { throw JouleError("architecture: a module without a \"type\"") }
        if let layer = LayerType.named[type] {
            // A layer reads its arguments as its declaration says (the checks Lua's constructors make).
            var args = LayerType.Arguments()
            for arg in layer.arguments {
                guard let v = o[arg.key] else {
                    if let d = arg.defaultValue { args.values[arg.key] = d; continue }
                    if arg.optional { continue }
                    throw JouleError("architecture: \(type) needs \"\(arg.key)\"")
                }
                let number: Double? = switch v { case .int(let i): Double(i); case .double(let d): d; default: nil }
                do {
                    args.values[arg.key] = try layer.check(arg, integer: v.int, number: number, boolean: v.bool)
                } catch let e as JouleError {
                    throw JouleError("architecture: \(type) \"\(arg.key)\" \(e.message)")
                }
            }
            if let key = layer.child, let wrap = layer.wrap {
                // A kind that wraps one module: the child first, then the wrapper (which checks
                // what it wraps).
                guard let child = o[key] else { throw JouleError("architecture: \(type) needs \"\(key)\"") }
                let module = try build(child, rng: rng, depth: depth + 1, budget: &budget, modules: &left)
                do { return try wrap(args, module, rng) } catch let e as JouleError { throw JouleError("architecture: \(e.message)") }
            }
            guard let count = try? layer.parameterCount(args, limit: budget) else { throw ParameterBudgetExceeded() }
            budget -= count
            return try layer.make(args, rng)
        }
        switch type {
        case "Sequential":
            guard let list = o["modules"]?.array, list.count <= maxModules else { throw JouleError("architecture: Sequential needs a \"modules\" list") }
            let modules = try list.map { try build($0, rng: rng, depth: depth + 1, budget: &budget, modules: &left) }
            var names: [String]?
            if let n = o["names"] {
                guard let a = n.array?.compactMap(\.string), a.count == n.array?.count else {
                    throw JouleError("architecture: Sequential \"names\" must be a list of strings")
                }
                do { try Sequential.checkNames(a, count: modules.count) } catch { throw JouleError("architecture: Sequential \"names\": \(error)") }
                names = a
            }
            return Sequential(modules, names: names)
        default:
            throw JouleError("architecture: unknown module type '\(type)'")
        }
    }
}
