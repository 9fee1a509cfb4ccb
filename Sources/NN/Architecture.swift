import Tensor

/// The rules of a network's composition and its description: how deep, how many modules and
/// parameters, the range of a layer's settings, and the text form. Networks are rebuilt from the
/// JSON their modules describe themselves with (`Module.architecture`) by `Architecture.build`, in
/// the ArchitectureFiles target: that JSON comes from files, so it is read with Swift's checks.
public enum Architecture {
    /// At most this many parameters (4 GiB of Float32) and this deep a nesting.
    public static let maxParameters = 1 << 30
    public static let maxDepth = 64
    /// At most this many modules in a network, counting containers.
    public static let maxModules = 100_000
    /// A layer's real-valued setting (LeakyReLU's slope, ELU's alpha) lies within ±this: it is
    /// stored as Float32 (whose largest value is about 3.4e38) and printed into checkpoints, and a
    /// setting that Lua accepts must load back from the file it was saved to.
    public static let maxSetting = 1e30

    /// The one check of a layer's real-valued setting, for Lua's constructors and the loader.
    public static func setting(_ x: Double, _ what: String) throws -> Float {
        // Compared as Float32, the value kept: a saved setting (printed from the Float) reads back
        // to the same Float, which passes again.
        guard x.isFinite, abs(Float(x)) <= Float(maxSetting) else {
            throw JouleError("\(what) must be a finite number within ±\(maxSetting), got \(x)")
        }
        return Float(x)
    }

    /// The modules, one line each, indented by nesting, as PyTorch prints a network:
    /// `(0) Conv2d(bias true, in 3, kernel 3, out 16, padding 1, stride 1)`.
    public static func describe(_ m: Module) -> String {
        func lines(_ m: Module, _ name: String, _ depth: Int) -> [String] {
            let pad = String(repeating: "  ", count: depth)
            let arch = m.architecture.object ?? [:]
            let child = (arch["type"]?.string).flatMap { LayerType.named[$0]?.child }
            let args = arch.keys.sorted().filter { !["type", "modules", "names"].contains($0) && $0 != child }
                .map { "\($0) \(arch[$0]!)" }.joined(separator: ", ")
            let head = pad + (name.isEmpty ? "" : "(\(name)) ") + (arch["type"]?.string ?? m.summary) + (args.isEmpty ? "" : "(\(args))")
            if let s = m as? Sequential { return [head] + zip(s.names, s.modules).flatMap { lines($1, $0, depth + 1) } }
            if let child, let c = m.children.first { return [head] + lines(c, child, depth + 1) }
            return [head]
        }
        return lines(m, "", 0).joined(separator: "\n")
    }

    /// Checks that `network` is a tree of distinct module objects at most `maxDepth` levels deep.
    /// A module keeps its latest input and output (Module's contract), so one object in two places
    /// would read its own output as input and give the first place's backward the wrong input; and
    /// checkpoints hold `maxDepth` levels (deeper trees would also run Swift's stack out in the
    /// recursive forward). Checked as each container is made, so every walk over a network (this
    /// one included: it stops at the first repeat) is linear in its size.
    public static func check(_ network: Module) throws {
        var seen = Set<ObjectIdentifier>()
        func visit(_ m: Module, level: Int) throws {
            guard level <= maxDepth else {
                throw JouleError("the network is more than \(maxDepth) levels deep (as deep as a checkpoint holds)")
            }
            guard seen.insert(ObjectIdentifier(m)).inserted else {
                throw JouleError("the same \(m.summary) module appears twice in the network: each place needs a module of its own")
            }
            guard seen.count <= maxModules else {
                throw JouleError("the network has more than \(maxModules) modules (as many as a checkpoint holds)")
            }
            for c in m.children { try visit(c, level: level + 1) }
        }
        try visit(network, level: 1)
    }
}
