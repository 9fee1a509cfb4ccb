import Formats
import CLua
import Foundation
import Tensor

/// `joule.tensor` and the `Tensor` userdata. Every computation is a call into the Tensor module;
/// this file only checks arguments and converts between Lua values and tensors.
enum TensorBinding {
    static let typeName = "Tensor"

    /// Pushes the `joule.tensor` table.
    static func install(_ lua: LuaState, _ context: JouleContext) {
        lua.define(tensorClass())
        let L = lua.L
        lua_createtable(L, 0, 12)
        let rng = { context.rng }
        lua.setFunction("zeros", qualified: "tensor.zeros") { call in
            call.push(try Tensor(checkedShape: try call.shape(from: 1))); return 1
        }
        lua.setFunction("ones", qualified: "tensor.ones") { call in
            let t = try Tensor(checkedShape: try call.shape(from: 1), zeroed: false)
            t.fill(1)
            call.push(t); return 1
        }
        lua.setFunction("full", qualified: "tensor.full") { call in
            guard call.type(1) == LUA_TTABLE else { throw call.bad(1, "shape table") }
            let shape = try call.shape(from: 1)
            let value = try call.float(2)
            let t = try Tensor(checkedShape: shape, zeroed: false)
            t.fill(value)
            call.push(t); return 1
        }
        // Every value is drawn, so the tensors start uninitialised (a Lua sampler draws one per step).
        lua.setFunction("randn", qualified: "tensor.randn") { call in
            let t = try Tensor(checkedShape: try call.shape(from: 1), zeroed: false)
            rng().fillNormal(t)
            call.push(t); return 1
        }
        lua.setFunction("rand", qualified: "tensor.rand") { call in
            let t = try Tensor(checkedShape: try call.shape(from: 1), zeroed: false)
            rng().fillUniform(t, 0, 1)
            call.push(t); return 1
        }
        lua.setFunction("new", qualified: "tensor.new") { call in
            call.push(try fromTable(call, 1)); return 1
        }
        lua.setFunction("cat", qualified: "tensor.cat") { call in
            let list = try call.table(1)
            guard list.length > 0 else { throw call.bad(1, message: "list of tensors is empty") }
            let parts = try (1...list.length).map { i -> Tensor in
                lua_rawgeti(call.L, call.index(1), lua_Integer(i))
                defer { lua_settop(call.L, -2) }
                guard let t = LuaObjects.get(call.L, -1, type: typeName, as: Tensor.self) else {
                    throw call.bad(1, message: "element \(i): Tensor expected, got \(LuaCall.got(call.L, -1))")
                }
                return t
            }
            call.push(try Tensor.concatenate(parts)); return 1
        }
        // joule.tensor{...} is joule.tensor.new{...}.
        lua_createtable(L, 0, 1)
        lua.setFunction("__call", qualified: "joule.tensor") { call in
            call.push(try fromTable(call, 2)); return 1
        }
        lua_setmetatable(L, -2)
    }

    static func tensorClass() -> LuaClass {
        var c = LuaClass(name: typeName)
        c.method("shape") { call in call.push(try call.this().shape); return 1 }
        c.method("size") { call in
            let t = try call.this()
            let d = try call.integer(1, 1...Swift.max(1, t.rank))
            guard d <= t.rank else { throw call.bad(1, message: "dimension \(d) of a \(t.rank)-D tensor") }
            call.push(t.shape[d - 1]); return 1
        }
        c.method("dim") { call in call.push(try call.this().rank); return 1 }
        c.method("numel") { call in call.push(try call.this().count); return 1 }
        c.method("get") { call in
            let t = try call.this()
            call.push(t[try t.offset(of: try indices(call, t, count: t.rank))]); return 1
        }
        c.method("set") { call in
            let t = try call.this()
            let o = try t.offset(of: try indices(call, t, count: t.rank))
            t[o] = try call.float(t.rank + 1)
            call.pushSelf(); return 1
        }
        c.method("item") { call in
            let t = try call.this()
            guard t.count == 1 else { throw JouleError("item() needs a tensor of one element, got shape \(t.shape)") }
            call.push(t[0]); return 1
        }
        c.method("slice") { call in
            // Lua-style: 1-based, both ends included.
            let t = try call.this()
            guard let n = t.shape.first else { throw JouleError("cannot slice a 0-D tensor") }
            let first = try call.integer(1, 1...Swift.max(1, n))
            let last = try call.integer(2, first...Swift.max(first, n), default: first)
            guard last <= n else { throw call.bad(2, message: "end \(last) beyond the \(n) items") }
            call.push(try t.items((first - 1)..<last)); return 1
        }
        c.method("index") { call in
            let t = try call.this()
            guard let n = t.shape.first else { throw JouleError("cannot index a 0-D tensor") }
            let list = try call.table(1).integers(1...Swift.max(1, n))
            call.push(try t.gather(list.map { $0 - 1 })); return 1
        }
        c.method("reshape") { call in
            let t = try call.this()
            var dims: [Int]
            if call.type(1) == LUA_TTABLE {
                dims = try call.table(1).integers(-1...Int.max)
                guard !dims.isEmpty else { throw call.bad(1, message: "shape table is empty") }
            } else {
                dims = try (1...Swift.max(1, call.count)).map { try call.integer($0, -1...Int.max) }
            }
            call.push(try t.reshaped(dims)); return 1
        }
        c.method("copy") { call in call.push(try call.this().copy()); return 1 }
        c.method("fill") { call in
            let t = try call.this()
            t.fill(try call.float(1))
            call.pushSelf(); return 1
        }
        c.method("zero") { call in try call.this().zero(); call.pushSelf(); return 1 }
        for (name, op) in arithmetic { c.method(name) { call in call.push(try apply(op, call.this(), Operand(call, 1))); return 1 } }
        c.method("matmul") { call in
            let t = try call.this(), m = try call.tensor(1)
            if t.rank >= 1, m.rank == 2 { try checkResult(t.shape.dropLast() + [m.shape[1]], "matmul") }
            call.push(try t.matmul(m)); return 1
        }
        c.method("clamp") { call in
            let t = try call.this()
            let lo = try call.float(1), hi = try call.float(2)
            guard lo <= hi else { throw call.bad(2, message: "upper bound \(hi) below lower bound \(lo)") }
            call.push(t.clamped(lo, hi)); return 1
        }
        for f in Tensor.UnaryFunction.allCases {
            c.method(f.rawValue) { call in call.push(try call.this().applying(f)); return 1 }
        }
        // Without a dimension: one number over the whole tensor; with one: a tensor reduced along it.
        let wholeTensor: [(Tensor.Reduction, (Tensor) -> Double)] = [
            (.sum, { $0.sumDouble() }), (.mean, { Double($0.mean()) }), (.min, { Double($0.min()) }),
            (.max, { Double($0.max()) }), (.logsumexp, { Double($0.logSumExp()) }),
        ]
        for (reduction, whole) in wholeTensor {
            c.method(reduction.rawValue) { call in
                let t = try call.this()
                if call.isNil(1) { call.push(whole(t)); return 1 }
                call.push(try t.reduced(reduction, along: try dimension(call, 1, t), keepDim: try call.boolean(2, default: false)))
                return 1
            }
        }
        c.method("transpose") { call in
            // t:transpose() swaps the last two dimensions; t:transpose(d1, d2) any two.
            let t = try call.this()
            guard t.rank >= 2 || !call.isNil(1) else { throw JouleError("transpose: a \(t.rank)-D tensor of shape \(t.shape) has no two dimensions to swap") }
            let d0 = call.isNil(1) ? t.rank - 2 : try dimension(call, 1, t)
            let d1 = call.isNil(1) ? t.rank - 1 : try dimension(call, 2, t)
            call.push(try t.transposed(d0, d1)); return 1
        }
        c.method("pow") { call in
            call.push(try apply(.pow, call.this(), Operand(call, 1))); return 1
        }
        c.method("norm") { call in call.push(try call.this().norm()); return 1 }
        c.method("argmax") { call in
            // 1-based class indices per row, as Lua counts.
            call.push(try call.this().argmaxRows().map { $0 + 1 }); return 1
        }
        c.method("totable") { call in pushTable(call.L, try call.this()); return 1 }
        c.method("save_npy") { call in
            try Npy.write([NpyArray(try call.this())], to: try call.string(1))
            return 0
        }

        c.meta("__tostring") { call in call.push(try call.tensor(1).description); return 1 }
        c.meta("__len") { call in
            let t = try call.tensor(1)
            call.push(t.shape.first ?? 1); return 1
        }
        c.meta("__unm") { call in call.push(try call.tensor(1).negated()); return 1 }
        for (name, op) in arithmetic + [("pow", .pow)] {
            c.meta("__" + name) { call in
                // Either operand may be the number: 2 - t is t:subtracted(from: 2).
                if call.isTensor(1) { return try pushing(call, apply(op, call.tensor(1), Operand(call, 2))) }
                let s = try call.float(1), t = try call.tensor(2)
                return pushing(call, t.combined(op, s, reversed: true))
            }
        }
        let methodNames = c.methods.map(\.0)
        c.fallbackIndex = { call in
            // t[i] reads element i of a 1-D tensor; other keys are unknown methods.
            guard call.type(2) == LUA_TNUMBER else {
                if call.type(2) == LUA_TSTRING {
                    let key = LuaCall.stringValue(call.L, 2)
                    throw JouleError("Tensor has no method '\(key)'\(suggestion(for: key, among: methodNames))")
                }
                call.pushNil(); return 1
            }
            let t = try call.tensor(1)
            call.push(t[try elementOffset(call, t)]); return 1
        }
        c.meta("__newindex") { call in
            let t = try call.tensor(1)
            guard call.type(2) == LUA_TNUMBER else {
                throw JouleError("cannot set field \(call.got(2) == "string" ? "'\(LuaCall.stringValue(call.L, 2))'" : call.got(2)) of a Tensor")
            }
            let o = try elementOffset(call, t)
            t[o] = try call.float(3)
            return 0
        }
        return c
    }

    /// + - * / and ^ (as methods add, sub, mul, div and the metamethods __add … __pow): a tensor
    /// operand broadcasts (NumPy's rules), a number applies to every element.
    static let arithmetic: [(String, Tensor.BinaryOperation)] = [("add", .add), ("sub", .sub), ("mul", .mul), ("div", .div)]

    static func apply(_ op: Tensor.BinaryOperation, _ t: Tensor, _ o: Operand) throws -> Tensor {
        guard let other = o.tensor else { return t.combined(op, o.scalar) }
        // Broadcasting can multiply sizes: (N, 1) + (1, M) is N·M values, refused past the cap.
        try checkResult(try Tensor.broadcastShape(t.shape, other.shape, op.rawValue), op.rawValue)
        return try t.combined(op, other)
    }

    /// A result of at most `LuaCall.maxElements` values, as every tensor Lua makes.
    static func checkResult(_ shape: [Int], _ op: String) throws {
        guard let n = Tensor.elementCount(shape), n <= LuaCall.maxElements else {
            throw JouleError("\(op): the result would have shape \(shape), more than \(LuaCall.maxElements) elements")
        }
    }

    /// A dimension argument, counted from 1 as Lua counts (negative: from the end, -1 the last),
    /// made zero-based.
    static func dimension(_ call: LuaCall, _ n: Int, _ t: Tensor) throws -> Int {
        let d = try call.integer(n)
        // (A 0-D tensor, such as a vector times a vector, has no dimension at all.)
        guard t.rank > 0, (1...t.rank).contains(d) || (-t.rank...(-1)).contains(d) else {
            throw call.bad(n, message: "dimension \(d) out of range for a \(t.rank)-D tensor of shape \(t.shape) (1…\(t.rank), or -1 for the last)")
        }
        return d > 0 ? d - 1 : d + t.rank
    }

    /// The right-hand side of an arithmetic operation: a tensor or a number.
    struct Operand {
        let tensor: Tensor?
        let scalar: Float
        init(_ call: LuaCall, _ n: Int) throws {
            if call.type(n) == LUA_TNUMBER {
                tensor = nil
                scalar = Float(lua_tonumberx(call.L, call.index(n), nil))
            } else if let t = LuaObjects.get(call.L, call.index(n), type: typeName, as: Tensor.self) {
                tensor = t
                scalar = 0
            } else {
                throw call.bad(n, "Tensor or number")
            }
        }
    }

    static func pushing(_ call: LuaCall, _ t: Tensor) -> Int32 { call.push(t); return 1 }

    /// `t[i]` only makes sense for 1-D tensors; other ranks say what to use instead.
    static func elementOffset(_ call: LuaCall, _ t: Tensor) throws -> Int {
        guard t.rank == 1 else {
            throw JouleError("t[i] indexes 1-D tensors; this one has shape \(t.shape): use t:get(i, j, ...) or t:slice(i)")
        }
        guard let i = LuaCall.integerValue(call.L, 2) else {
            throw JouleError("tensor index must be an integer, got \(call.got(2))")
        }
        return try t.offset(of: [i - 1])
    }

    /// Reads `count` 1-based indices starting at argument 1 and makes them 0-based.
    static func indices(_ call: LuaCall, _ t: Tensor, count: Int) throws -> [Int] {
        try (0..<count).map { d in try call.integer(d + 1, 1...Swift.max(1, t.shape[d])) - 1 }
    }

    /// A tensor from nested tables of numbers (rows of equal length), or a copy of a tensor.
    static func fromTable(_ call: LuaCall, _ n: Int) throws -> Tensor {
        if let t = try? call.tensor(n) { return t.copy() }
        guard call.type(n) == LUA_TTABLE else { throw call.bad(n, "table of numbers") }
        let L = call.L
        guard lua_checkstack(L, 40) != 0 else { throw JouleError("Lua stack exhausted") }
        var shape: [Int] = []
        // The shape is read down the first elements, then every element is checked against it.
        var probe = call.index(n)
        lua_pushvalue(L, probe)
        while lua_type(L, -1) == LUA_TTABLE {
            let len = Int(lua_rawlen(L, -1))
            guard len > 0 else { lua_settop(L, -2); throw call.bad(n, message: "empty table at depth \(shape.count + 1)") }
            guard shape.count < 16 else { lua_settop(L, -2); throw call.bad(n, message: "tables nested deeper than 16") }
            shape.append(len)
            lua_rawgeti(L, -1, 1)
            lua_copy(L, -1, -2)
            lua_settop(L, -2)
        }
        lua_settop(L, -2)
        try LuaCall.checkSize(shape, call, n)
        var values: [Float] = []
        values.reserveCapacity(shape.reduce(1, *))
        func walk(_ depth: Int, _ path: String) throws {
            let len = Int(lua_rawlen(L, -1))
            guard len == shape[depth] else {
                throw call.bad(n, message: "ragged table: \(path.isEmpty ? "the outer table" : "element " + path) has \(len) entries, expected \(shape[depth])")
            }
            for i in 1...len {
                lua_rawgeti(L, -1, lua_Integer(i))
                defer { lua_settop(L, -2) }
                let here = path.isEmpty ? "[\(i)]" : path + "[\(i)]"
                if depth + 1 < shape.count {
                    guard lua_type(L, -1) == LUA_TTABLE else {
                        throw call.bad(n, message: "element \(here): table expected, got \(LuaCall.got(L, -1))")
                    }
                    try walk(depth + 1, here)
                } else {
                    guard lua_type(L, -1) == LUA_TNUMBER else {
                        throw call.bad(n, message: "element \(here): number expected, got \(LuaCall.got(L, -1))")
                    }
                    values.append(Float(lua_tonumberx(L, -1, nil)))
                }
            }
        }
        probe = call.index(n)
        lua_pushvalue(L, probe)
        defer { lua_settop(L, -2) }
        try walk(0, "")
        return try Tensor(shape: shape, values: values)
    }

    /// Nested tables mirroring the tensor's shape (a number for a 0-D tensor).
    static func pushTable(_ L: OpaquePointer, _ t: Tensor) {
        if t.rank == 0 { lua_pushnumber(L, Double(t[0])); return }
        _ = lua_checkstack(L, Int32(t.rank) + 4)
        var offset = 0
        func build(_ d: Int) {
            lua_createtable(L, Int32(t.shape[d]), 0)
            for i in 0..<t.shape[d] {
                if d + 1 == t.rank {
                    lua_pushnumber(L, Double(t[offset])); offset += 1
                } else {
                    build(d + 1)
                }
                lua_rawseti(L, -2, lua_Integer(i + 1))
            }
        }
        build(0)
    }
}

extension LuaCall {
    /// `self` of a Tensor method.
    func this() throws -> Tensor { try this(TensorBinding.typeName) }
}

extension TensorBinding {
    /// The documentation of what this file binds (name, signature, paragraph), read by `JouleDocs`.
    static let documentation: [(String, String, String)] = [
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
     "An N-dimensional Float32 array. Arithmetic with + - * / ^ (with numbers, or tensors whose shapes broadcast as NumPy's do: aligned from the last dimension, each pair of sizes equal or one of them 1, so a batch (N, D) minus a mean (D) or divided by a column (N, 1) works), t[i] for 1-D tensors, #t for the first dimension; methods: shape, size, dim, numel, get, set, item, slice, index, reshape, transpose, copy, fill, zero, add, sub, mul, div, pow, matmul, clamp, exp, log, sqrt, abs, tanh, sigmoid, sum, mean, min, max, logsumexp (each over the whole tensor, or along a dimension), norm, argmax, totable, save_npy."),
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
    ("Tensor:add", "t:add(other) → Tensor", "Elementwise sum with a number or a tensor whose shape broadcasts with t's (NumPy's rules; also t + other)."),
    ("Tensor:sub", "t:sub(other) → Tensor", "Elementwise difference with a number or a broadcasting tensor (also t - other)."),
    ("Tensor:mul", "t:mul(other) → Tensor", "Elementwise product with a number or a broadcasting tensor (also t * other)."),
    ("Tensor:div", "t:div(other) → Tensor", "Elementwise quotient by a number or a broadcasting tensor (also t / other)."),
    ("Tensor:pow", "t:pow(p) → Tensor", "Elementwise power t^p with a number or a broadcasting tensor p (also t ^ p; 2 ^ t raises 2 to each element)."),
    ("Tensor:matmul", "t:matmul(other) → Tensor",
     "Matrix product (BLAS) with NumPy's shapes: (M, K)·(K, N) → (M, N), e.g. a batch (N, D) times a matrix (D, D); (M, K)·(K) → (M); (K)·(K, N) → (N); a stack (…, M, K)·(K, N) → (…, M, N)."),
    ("Tensor:transpose", "t:transpose([d1, d2]) → Tensor", "A copy with two dimensions exchanged: the last two by default, or d1 and d2 (counted from 1; -1 is the last)."),
    ("Tensor:clamp", "t:clamp(lo, hi) → Tensor", "Each element limited to [lo, hi]."),
    ("Tensor:exp", "t:exp() → Tensor", "Elementwise e^x."),
    ("Tensor:log", "t:log() → Tensor", "Elementwise natural logarithm."),
    ("Tensor:sqrt", "t:sqrt() → Tensor", "Elementwise square root."),
    ("Tensor:abs", "t:abs() → Tensor", "Elementwise absolute value."),
    ("Tensor:tanh", "t:tanh() → Tensor", "Elementwise hyperbolic tangent."),
    ("Tensor:sigmoid", "t:sigmoid() → Tensor", "Elementwise logistic function 1 / (1 + e^-x)."),
    ("Tensor:sum", "t:sum([dim [, keepdim]]) → number or Tensor",
     "The sum of all elements as a number; with `dim` (counted from 1; -1 is the last) a tensor summed along that dimension, which goes away (or stays with size 1 when keepdim is true): a batch's energies (N) from (N, D) terms are t:sum(2). Accumulated in double precision."),
    ("Tensor:mean", "t:mean([dim [, keepdim]]) → number or Tensor", "The mean of all elements, or along `dim` (as t:sum)."),
    ("Tensor:min", "t:min([dim [, keepdim]]) → number or Tensor", "The smallest element, or the smallest along `dim` (as t:sum; NaN if any is NaN)."),
    ("Tensor:max", "t:max([dim [, keepdim]]) → number or Tensor", "The largest element, or the largest along `dim` (as t:sum; NaN if any is NaN)."),
    ("Tensor:logsumexp", "t:logsumexp([dim [, keepdim]]) → number or Tensor",
     "log Σ exp over all elements, or along `dim` (as t:sum), computed stably (shifted by the largest value): a mixture's energy is −(logits):logsumexp(2)."),
    ("Tensor:norm", "t:norm() → number", "The Euclidean (Frobenius) norm."),
    ("Tensor:argmax", "t:argmax() → {i1, i2, ...}", "For each row of a 2-D tensor, the 1-based position of its largest element."),
    ("Tensor:totable", "t:totable() → table", "Nested Lua tables mirroring the shape (a number for a 0-D tensor)."),
    ("Tensor:save_npy", "t:save_npy(path)", "Writes the tensor as a float32 .npy file."),
    ]
}
