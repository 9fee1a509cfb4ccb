import Tensor

/// What a kind of layer declares once, for every place that makes one: its name (PyTorch's, which
/// is also the Lua constructor `joule.nn.<name>` and the `"type"` of its architecture JSON), its
/// arguments with their ranges and defaults, its documentation, the parameters it will allocate,
/// and how to make the module. The Lua constructors (LuaHost's one generic binding), the loader
/// of checkpoints (`Architecture.build`) and the documentation all read these declarations, so a
/// range is checked the same way whether the value comes from a script or a file, and a new layer
/// is one new file: its module and its `LayerType`, listed in `LayerType.all`.
public struct LayerType {
    /// One argument: its key in the architecture JSON (and the Lua options table), where Lua
    /// passes it, what values it takes, and its default (nil: required, or decided by `make`).
    public struct Argument {
        public enum Kind {
            case integer(ClosedRange<Int>)
            /// A real-valued setting within `Architecture.maxSetting`, kept as Float32.
            case setting
            case boolean
        }
        public let key: String
        public let kind: Kind
        /// The Lua positional argument (1-based), or nil when it goes in the options table.
        public let position: Int?
        public let defaultValue: Value?
        /// Optional even without a default (the layer decides: a pooling's stride is its kernel).
        public let optional: Bool

        public init(_ key: String, _ kind: Kind, position: Int? = nil, default value: Value? = nil, optional: Bool = false) {
            self.key = key; self.kind = kind; self.position = position; self.defaultValue = value
            self.optional = optional || value != nil
        }
    }

    public enum Value: Equatable {
        case integer(Int), setting(Float), boolean(Bool)
    }

    /// The arguments of one layer, read and range-checked.
    public struct Arguments {
        public var values: [String: Value] = [:]
        public init() {}
        public func integer(_ key: String) -> Int? { if case .integer(let v)? = values[key] { return v }; return nil }
        public func setting(_ key: String) -> Float? { if case .setting(let v)? = values[key] { return v }; return nil }
        public func boolean(_ key: String) -> Bool? { if case .boolean(let v)? = values[key] { return v }; return nil }
    }

    public let name: String
    public let arguments: [Argument]
    /// Its Lua signature and one paragraph, as `JouleDocs` shows them.
    public let signature: String
    public let documentation: String
    /// The shapes of the parameters it will allocate (checked against the limits before `make`).
    public let parameters: (Arguments) -> [[Int]]
    /// The module; `rng` draws its initial weights.
    public let make: (Arguments, RNG) throws -> Module
    /// Whether it draws random initial values (its Lua constructor then takes a `seed` option).
    public let drawsWeights: Bool
    /// For a kind that wraps one module (Residual's "body", SpectralNorm's "module"): the child's
    /// key in the architecture JSON (in Lua the child is the first argument), and how the wrapper
    /// is made of the child, built first; `make` is then not called.
    public let child: String?
    public let wrap: ((Arguments, Module, RNG) throws -> Module)?

    public init(_ name: String, arguments: [Argument] = [], signature: String, documentation: String,
                parameters: ((Arguments) -> [[Int]])? = nil,
                make: @escaping (Arguments, RNG) throws -> Module) {
        self.name = name; self.arguments = arguments; self.signature = signature; self.documentation = documentation
        self.parameters = parameters ?? { _ in [] }; self.drawsWeights = parameters != nil; self.make = make
        child = nil; wrap = nil
    }

    /// A kind that wraps one module, under the key `child` (see `wrap`); `drawsValues`: whether
    /// making it draws random values (it then takes a `seed` option in Lua).
    public init(_ name: String, wrapping child: String, arguments: [Argument] = [], drawsValues: Bool = false,
                signature: String, documentation: String, wrap: @escaping (Arguments, Module, RNG) throws -> Module) {
        self.name = name; self.arguments = arguments; self.signature = signature; self.documentation = documentation
        parameters = { _ in [] }; drawsWeights = drawsValues; self.child = child; self.wrap = wrap
        make = { _, _ in throw JouleError("\(name) wraps a module: give it one") }
    }

    /// The wrapping kinds' child keys, for walks over architecture JSON.
    public static var childKeys: Set<String> { Set(all.compactMap(\.child)) }

    /// The one check of an argument's value, wherever it comes from (a Lua call, a file): what the
    /// caller found as an integer, a number or a Bool; the message says what it must be.
    public func check(_ arg: Argument, integer: Int? = nil, number: Double? = nil, boolean: Bool? = nil) throws -> Value {
        switch arg.kind {
        case .integer(let range):
            guard let i = integer, range.contains(i) else { throw JouleError("must be an integer in \(range)") }
            return .integer(i)
        case .setting:
            guard let x = number ?? integer.map(Double.init) else { throw JouleError("must be a number") }
            return .setting(try Architecture.setting(x, "the setting"))
        case .boolean:
            guard let b = boolean else { throw JouleError("must be true or false") }
            return .boolean(b)
        }
    }

    /// The parameter count `parameters` gives, or an error past `limit` (checked arithmetic: the
    /// shapes come from files).
    public func parameterCount(_ a: Arguments, limit: Int = Architecture.maxParameters) throws -> Int {
        var total = 0
        for shape in parameters(a) {
            var n = 1
            for d in shape {
                let (p, overflow) = n.multipliedReportingOverflow(by: d)
                guard !overflow, p <= limit else { throw JouleError("a \(name) of \(shape.map(String.init).joined(separator: "×")) weights is too large") }
                n = p
            }
            let (t, overflow) = total.addingReportingOverflow(n)
            guard !overflow, t <= limit else { throw JouleError("a \(name) with \(t) parameters is too large") }
            total = t
        }
        return total
    }

    /// Every layer kind, by name. A new layer adds its `LayerType` here.
    public static let all: [LayerType] = [Conv2d.layer, Linear.layer, Swish.layer, GELU.layer] + Activation.layers
        + Pool2d.layers + [AdaptiveAvgPool2d.layer, Flatten.layer, Residual.layer, SpectralNorm.layer]

    public static let named: [String: LayerType] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })
}
