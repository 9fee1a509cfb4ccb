import Foundation
import JouleCore

/// One parameter value of a run, as a sweep file gives it. Its `text` is what `-p name=text` passes.
public enum ParamValue: Hashable, Sendable {
    case int(Int)
    case double(Double)
    case string(String)
    case bool(Bool)

    public var text: String {
        switch self {
        case .int(let i): return String(i)
        case .double(let d): return "\(d)"
        case .string(let s): return s
        case .bool(let b): return b ? "true" : "false"
        }
    }

    public var number: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .string(let s): return Double(s)
        case .bool: return nil
        }
    }
}

/// How a random-search parameter is drawn.
public enum Distribution: Equatable, Sendable {
    case uniform(Double, Double)
    case logUniform(Double, Double)
    case integer(Int, Int)
    case normal(mean: Double, std: Double)
    case choice([ParamValue])
}

/// Where the runs are executed.
public enum Backend: String, Sendable, CaseIterable {
    case local, slurm
}

/// Options for `--backend slurm`.
public struct SlurmOptions: Equatable, Sendable {
    public var partition: String?
    public var time: String?
    public var cpusPerTask = 1
    public var mem: String?
    /// Further `#SBATCH` options, e.g. "--qos=short".
    public var extra: [String] = []
    /// Seconds between `squeue` polls.
    public var poll = 2.0
    public init() {}
}

/// A sweep file, read and checked.
///
/// ```lua
/// return {
///   script = "scripts/sample.lua",              -- or notebook = "x.ipynb"
///   params = { checkpoint = "runs/jem/model.safetensors" },   -- the same for every run
///   grid = { step_size = {1, 3, 10}, steps = {60, 256} },     -- every combination
///   random = { samples = 8, seed = 0, lr = { log_uniform = {1e-5, 1e-3} } },
///   seeds = {1, 2, 3},        -- or repeats = 3 (seeds 1..3); passed as -p seed=...
///   output = "runs/sweeps/step_size",
///   metric = "auroc", goal = "max",            -- ranks the table
///   plot = { x = "step_size", series = "steps" },
/// }
/// ```
public struct SweepSpec: Sendable {
    public var name: String
    /// The sweep file's path (relative paths in it are tried against the current folder first,
    /// then against the sweep file's folder).
    public var file: String
    public var script: String
    public var isNotebook: Bool
    public var fixed: [String: ParamValue] = [:]
    /// Grid axes in name order, each with its values in the file's order.
    public var grid: [(name: String, values: [ParamValue])] = []
    public var random: [(name: String, distribution: Distribution, digits: Int)] = []
    public var samples = 0
    public var randomSeed: UInt64 = 0
    public var seeds: [Int] = []
    public var seedParameter = "seed"
    public var args: [String] = []
    public var output: String
    public var metric: String?
    public var goal = "max"
    public var plotX: String?
    public var plotSeries: String?
    public var jobs: Int?
    /// Seconds a run may take before it is stopped and counted as failed.
    public var timeout: Double?
    public var slurm = SlurmOptions()

    /// A sweep has at most this many runs (grid points × random samples × seeds).
    public static let maxRuns = 100_000
    static let knownKeys = ["name", "script", "notebook", "params", "grid", "random", "seeds", "repeats",
                            "seed_param", "args", "output", "metric", "goal", "plot", "jobs", "timeout", "slurm"]

    public init(_ value: SweepValue, file: String) throws {
        self.file = file
        let stem = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        guard case .table(_, let f) = value else { throw JouleError("\(file): a sweep file must return a table") }
        func fail(_ message: String) -> JouleError { JouleError("\(file): \(message)") }
        for k in f.keys.sorted() where !SweepSpec.knownKeys.contains(k) {
            throw fail("unknown field '\(k)'\(suggestion(for: k, among: SweepSpec.knownKeys))")
        }
        func string(_ key: String) throws -> String? {
            guard let v = f[key] else { return nil }
            guard case .string(let s) = v, !s.isEmpty else { throw fail("'\(key)' must be a non-empty string, got \(v.typeName)") }
            return s
        }
        func number(_ key: String, _ v: SweepValue?) throws -> Double? {
            guard let v else { return nil }
            guard let d = v.number else { throw fail("'\(key)' must be a number, got \(v.typeName)") }
            return d
        }
        func positiveInt(_ key: String, _ v: SweepValue?) throws -> Int? {
            guard let v else { return nil }
            guard case .int(let i) = v, i > 0 else { throw fail("'\(key)' must be a positive integer") }
            return i
        }

        name = try string("name") ?? stem
        switch (try string("script"), try string("notebook")) {
        case (nil, nil): throw fail("names no script (script = \"scripts/x.lua\") or notebook (notebook = \"x.ipynb\")")
        case (.some, .some): throw fail("names both a script and a notebook; a sweep runs one of them")
        case (let s?, nil): script = s; isNotebook = s.hasSuffix(".ipynb")
        case (nil, let n?): script = n; isNotebook = true
        }

        if let p = f["params"] {
            guard case .table(let list, let fields) = p, list.isEmpty else { throw fail("'params' must be a table of name = value") }
            for (k, v) in fields {
                guard let pv = v.parameter else { throw fail("params.\(k) must be a number, string or boolean, got a table") }
                fixed[k] = pv
            }
        }

        if let g = f["grid"] {
            guard case .table(let list, let fields) = g, list.isEmpty else { throw fail("'grid' must be a table of name = {values}") }
            for k in fields.keys.sorted() {
                let values: [ParamValue]
                switch fields[k]! {
                case .table(let l, let named):
                    guard named.isEmpty, !l.isEmpty else { throw fail("grid.\(k) must be a non-empty list of values") }
                    values = try l.map { v in
                        guard let pv = v.parameter else { throw fail("grid.\(k) holds a table; values must be numbers, strings or booleans") }
                        return pv
                    }
                case let v: values = [v.parameter!]
                }
                var seen = Set<String>()
                for v in values where !seen.insert(v.text).inserted { throw fail("grid.\(k) lists \(v.text) twice") }
                grid.append((k, values))
            }
        }

        if let r = f["random"] {
            guard case .table(let list, var fields) = r, list.isEmpty else { throw fail("'random' must be a table: { samples = N, name = { uniform = {a, b} }, ... }") }
            guard let n = try positiveInt("random.samples", fields.removeValue(forKey: "samples")) else {
                throw fail("random search needs random.samples = N (how many points to draw)")
            }
            guard n <= SweepSpec.maxRuns else { throw fail("random.samples is \(n); a sweep has at most \(SweepSpec.maxRuns) runs") }
            samples = n
            if let s = fields.removeValue(forKey: "seed") {
                guard case .int(let i) = s else { throw fail("random.seed must be an integer") }
                randomSeed = UInt64(bitPattern: Int64(i))
            }
            guard !fields.isEmpty else { throw fail("random search names no parameter") }
            for k in fields.keys.sorted() {
                random.append(try SweepSpec.distribution(k, fields[k]!, fail: fail))
            }
        }

        if let s = f["seeds"] {
            guard case .table(let l, let named) = s, named.isEmpty, !l.isEmpty else { throw fail("'seeds' must be a list of integers") }
            seeds = try l.map { v in
                guard case .int(let i) = v else { throw fail("'seeds' must be a list of integers, got a \(v.typeName)") }
                return i
            }
            if f["repeats"] != nil { throw fail("give either seeds = {...} or repeats = N, not both") }
        } else if let n = try positiveInt("repeats", f["repeats"]) {
            guard n <= SweepSpec.maxRuns else { throw fail("repeats is \(n); a sweep has at most \(SweepSpec.maxRuns) runs") }
            seeds = Array(1...n)
        }
        // The number of runs, refused before anything is enumerated when it is absurd.
        var runs = 1
        for factor in grid.map(\.values.count) + [max(samples, 1), max(seeds.count, 1)] {
            let (p, overflow) = runs.multipliedReportingOverflow(by: factor)
            guard !overflow, p <= SweepSpec.maxRuns else {
                throw fail("the sweep has \(grid.map { "\($0.values.count)" }.joined(separator: " × "))\(grid.isEmpty ? "" : " × ")\(max(samples, 1)) × \(max(seeds.count, 1)) runs, more than \(SweepSpec.maxRuns); split it into smaller sweeps")
            }
            runs = p
        }
        seedParameter = try string("seed_param") ?? "seed"

        if let a = f["args"] {
            guard case .table(let l, let named) = a, named.isEmpty else { throw fail("'args' must be a list of strings") }
            args = l.map { v in v.parameter?.text ?? "" }
        }
        output = try string("output") ?? "runs/sweeps/\(stem)"
        metric = try string("metric")
        goal = try string("goal") ?? "max"
        guard goal == "max" || goal == "min" else { throw fail("'goal' must be \"max\" or \"min\", got \"\(goal)\"") }
        switch f["plot"] {
        case nil: break
        case .string(let x)?: plotX = x
        case .table(let l, let fields)? where l.isEmpty:
            for k in fields.keys where !["x", "series"].contains(k) { throw fail("unknown field plot.\(k)\(suggestion(for: k, among: ["x", "series"]))") }
            if case .string(let x)? = fields["x"] { plotX = x } else { throw fail("plot.x must name a parameter") }
            if let s = fields["series"] {
                guard case .string(let name) = s else { throw fail("plot.series must name a parameter") }
                plotSeries = name
            }
        default: throw fail("'plot' must name a parameter (plot = \"step_size\") or be { x = ..., series = ... }")
        }
        jobs = try positiveInt("jobs", f["jobs"])
        timeout = try number("timeout", f["timeout"])
        if let t = timeout, !(t > 0) { throw fail("'timeout' must be a positive number of seconds") }

        if let s = f["slurm"] {
            guard case .table(let l, let fields) = s, l.isEmpty else { throw fail("'slurm' must be a table of options") }
            let known = ["partition", "time", "cpus_per_task", "mem", "extra", "poll"]
            for k in fields.keys.sorted() where !known.contains(k) { throw fail("unknown field slurm.\(k)\(suggestion(for: k, among: known))") }
            if case .string(let p)? = fields["partition"] { slurm.partition = p }
            if case .string(let t)? = fields["time"] { slurm.time = t }
            if case .string(let m)? = fields["mem"] { slurm.mem = m }
            if let c = try positiveInt("slurm.cpus_per_task", fields["cpus_per_task"]) { slurm.cpusPerTask = c }
            if let p = try number("slurm.poll", fields["poll"]) { slurm.poll = Swift.max(0.1, p) }
            if case .table(let l, _)? = fields["extra"] { slurm.extra = l.compactMap { $0.parameter?.text } }
        }

        // Names must be unambiguous across the ways of setting them.
        var owner: [String: String] = [:]
        func claim(_ name: String, _ by: String) throws {
            if name == "run" { throw fail("\(by) sets 'run', which the sweep chooses (each run gets its own folder)") }
            if let o = owner[name] { throw fail("parameter '\(name)' is set by both \(o) and \(by)") }
            owner[name] = by
        }
        for k in fixed.keys.sorted() { try claim(k, "params") }
        for g in grid { try claim(g.name, "grid") }
        for r in random { try claim(r.name, "random") }
        if !seeds.isEmpty { try claim(seedParameter, "seeds") }
        let varying = grid.map(\.name) + random.map(\.name) + (seeds.isEmpty ? [] : [seedParameter])
        // Every name and value travels to its run as a program argument (and into a Slurm job script
        // as a shell word): neither can hold a NUL byte, so one is refused here, before any run starts.
        func noNUL(_ what: String, _ text: String) throws {
            if text.utf8.contains(0) { throw fail("\(what) holds a NUL byte, which no program argument (nor shell word) can hold") }
        }
        try noNUL("'script'", script)
        try noNUL("'output'", output)
        try noNUL("'name'", name)
        try noNUL("'seed_param'", seedParameter)
        for (k, v) in fixed { try noNUL("params.\(k)", k); try noNUL("params.\(k)", v.text) }
        for g in grid { try noNUL("grid.\(g.name)", g.name); for v in g.values { try noNUL("grid.\(g.name)", v.text) } }
        for r in random {
            try noNUL("random.\(r.name)", r.name)
            if case .choice(let values) = r.distribution { for v in values { try noNUL("random.\(r.name)", v.text) } }
        }
        for a in args { try noNUL("'args'", a) }
        for (what, p) in [("plot.x", plotX), ("plot.series", plotSeries)] {
            if let p, !varying.contains(p) {
                throw fail("\(what) names '\(p)', which the sweep does not vary\(suggestion(for: p, among: varying))")
            }
        }
    }

    static func distribution(_ name: String, _ v: SweepValue, fail: (String) -> JouleError) throws
        -> (name: String, distribution: Distribution, digits: Int) {
        let kinds = ["uniform", "log_uniform", "int", "normal", "choice"]
        switch v {
        case .table(let list, _) where !list.isEmpty:
            // A plain list is a choice among its values.
            return (name, .choice(try list.map { guard let p = $0.parameter else { throw fail("random.\(name): values must be scalars") }; return p }), 4)
        case .table(_, var fields):
            var digits = 4
            if let d = fields.removeValue(forKey: "digits") {
                guard case .int(let i) = d, (1...17).contains(i) else { throw fail("random.\(name).digits must be an integer in 1...17") }
                digits = i
            }
            guard fields.count == 1, let (kind, arg) = fields.first else {
                throw fail("random.\(name) must be one of { \(kinds.joined(separator: " = {...} | ")) = {...} }")
            }
            guard kinds.contains(kind) else { throw fail("random.\(name): unknown distribution '\(kind)'\(suggestion(for: kind, among: kinds))") }
            guard case .table(let args, _) = arg, !args.isEmpty else { throw fail("random.\(name).\(kind) must be a list") }
            if kind == "choice" {
                return (name, .choice(try args.map { guard let p = $0.parameter else { throw fail("random.\(name): values must be scalars") }; return p }), digits)
            }
            let nums = args.compactMap(\.number)
            guard nums.count == 2, args.count == 2 else { throw fail("random.\(name).\(kind) must be {a, b}: two numbers") }
            let (a, b) = (nums[0], nums[1])
            guard a.isFinite, b.isFinite, (b - a).isFinite else { throw fail("random.\(name).\(kind) needs finite numbers, got {\(a), \(b)}") }
            switch kind {
            case "uniform":
                guard a < b else { throw fail("random.\(name).uniform needs a < b") }
                return (name, .uniform(a, b), digits)
            case "log_uniform":
                guard a > 0, a < b else { throw fail("random.\(name).log_uniform needs 0 < a < b") }
                return (name, .logUniform(a, b), digits)
            case "int":
                // Within ±2^53 (where doubles are exact integers): b − a + 1 cannot overflow when drawn.
                guard a.rounded() == a, b.rounded() == b, a <= b, abs(a) <= 0x1p53, abs(b) <= 0x1p53 else {
                    throw fail("random.\(name).int needs integers a <= b within ±2^53")
                }
                return (name, .integer(Int(a), Int(b)), digits)
            default:
                guard b > 0 else { throw fail("random.\(name).normal needs {mean, std} with std > 0") }
                return (name, .normal(mean: a, std: b), digits)
            }
        default:
            throw fail("random.\(name) must be a distribution table such as { uniform = {0, 1} } or a list of choices")
        }
    }
}
