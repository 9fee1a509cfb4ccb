import CLua
import Foundation
import Plot
import Tensor

/// joule.plot: every function draws one figure with Sources/Plot and returns it as a `Figure`
/// userdata (`fig:save(path)`, `fig:png()`, `fig:size()`). An optional path right after the data
/// saves the PNG at once: `joule.plot.grid(chain, "runs/jem/chain.png", { nrow = 9 })`.
///
/// Only argument reading lives here; layout and numbers (bins, curves, AUROC) are Plot's.
public enum PlotBinding {
    /// The userdata type name (Lua messages and `typeName` show it).
    public static let typeName = "Figure"

    /// The figure at stack `index` of `L`, if it is one (the notebook kernel displays these inline).
    public static func figure(_ L: OpaquePointer, _ index: Int32) -> Figure? {
        LuaObjects.get(L, index, type: typeName, as: Figure.self)
    }

    /// Options every chart with axes takes.
    static let chartKeys = ["title", "xlabel", "ylabel", "width", "height", "xrange", "yrange", "legend", "grid"]

    /// Sets `joule.plot` in the module table at stack index `module`.
    static func install(_ lua: LuaState, module: Int32) {
        lua.define(figureClass())
        lua_createtable(lua.L, 0, 12)
        defer { lua_setfield(lua.L, module, "plot") }

        plot(lua, "grid", options: ["nrow", "padding", "range", "row_labels", "title", "scale", "blocks", "levels"]) { call, o in
            // grid(images [, path] [, options]): images (N, C, H, W), (N, H, W) or (H, W); or the
            // frames of sampler:sample{ keep_every = k } (F, N, 1, H, W): one chain after another,
            // nrow frames per row (default: all frames of a chain in one row).
            let images = try call.tensor(1)
            var g = GridOptions()
            if let o {
                try readLayout(o, into: &g)
                g.rowLabels = try strings(o, "row_labels")
                g.title = try o.string("title")
                g.blocks = try o.integer("blocks", 1...Int.max, default: 1)
                g.levels = try o.integer("levels", 2...256, default: 256)
            }
            guard images.rank == 5 else { return try Figure.imageGrid(images, options: g) }
            let (f, n) = (images.shape[0], images.shape[1])
            guard f > 0, n > 0 else { throw JouleError("image grid: no frames (shape \(images.shape))") }
            let flat = images.copy()
            try flat.reshape([f * n] + images.shape[2...])
            let perRow = g.nrow ?? f
            // Frame k of chain i is image k·N + i.
            let rows = (0..<n).flatMap { i in
                stride(from: 0, to: f, by: perRow).map { k0 in (k0..<min(f, k0 + perRow)).map { k in k * n + i } }
            }
            return try Figure.imageRows(flat, rows: rows, options: g)
        }

        plot(lua, "chains", options: ["steps", "chains", "title", "xlabel", "range", "row_labels", "padding", "scale"]) { call, o in
            // chains(frames [, path] [, options]): frames (F, N, 1, H, W) as sampler:sample{ keep_every }
            // returns them; one row per chain, the SGLD step under each frame. chains = {1, 5, ...}
            // shows only those chains (positions from 1), in that order.
            var frames = try call.tensor(1)
            var c = ChainOptions()
            if let o {
                if let pick = try o.integers("chains", 1...Int.max) { frames = try chainSubset(frames, pick) }
                c.steps = try o.integers("steps")
                c.title = try o.string("title")
                c.xLabel = try o.string("xlabel") ?? c.xLabel
                c.rowLabels = try strings(o, "row_labels")
                c.padding = try o.integer("padding", 0...64, default: c.padding)
                c.scale = try o.integer("scale", 1...32)
                c.range = try valueRange(o)
            }
            return try Figure.chains(frames, options: c)
        }

        plot(lua, "histogram", options: chartKeys + ["bins", "density", "style"]) { call, o in
            // histogram(sets [, path] [, options]): sets {{ name = "test", values = t }, ...},
            // { test = t, ood = u } (drawn in name order), or one list/Tensor of values.
            let sets: [NamedValues]
            if call.isTensor(1) || isNumberList(call, 1) {
                sets = [NamedValues("values", try numbers(call, 1, call.index(1), "values"))]
            } else {
                sets = try namedSets(call, 1, fields: ["name", "values"], primary: "values") { s in
                    NamedValues(s.name, try s.numbers("values"))
                }
            }
            var h = HistogramOptions()
            if let o {
                h.chart = try chart(o, h.chart)
                h.bins = try o.integer("bins", 1...10_000, default: h.bins)
                h.density = try o.boolean("density") ?? h.density
                if let s = try o.string("style") {
                    guard let style = HistogramStyle(rawValue: s) else {
                        throw call.bad(o.position, message: "field 'style': 'filled' or 'outline' expected, got '\(s)'")
                    }
                    h.style = style
                }
            }
            return try Figure.histogram(sets, options: h)
        }

        plot(lua, "heatmap", options: ["title", "xlabel", "ylabel", "width", "height", "xrange", "yrange", "points", "marks"]) { call, o in
            // heatmap(values [, path] [, options]): values (rows, columns) of a function on a grid over
            // xrange × yrange (default [-1, 1]²; row 1 at the bottom), e.g. model:energy of a meshgrid;
            // points = Tensor (N, 2) of (x, y) drawn on top (SGLD samples), marks = Tensor (M, 2) as
            // red crosses (true centres).
            var h = HeatmapOptions()
            if let o {
                h.chart = try chart(o, h.chart)
                func pairs(_ key: String) throws -> [(Double, Double)] {
                    guard let pts = try o.tensor(key) else { return [] }
                    guard pts.rank == 2, pts.shape[1] == 2 else {
                        throw call.bad(o.position, message: "field '\(key)': (N, 2) tensor expected, got shape \(pts.shape)")
                    }
                    return (0..<pts.shape[0]).map { (Double(pts.data[2 * $0]), Double(pts.data[2 * $0 + 1])) }
                }
                h.points = try pairs("points")
                h.marks = try pairs("marks")
            }
            return try Figure.heatmap(try call.tensor(1), options: h)
        }

        plot(lua, "panels", options: ["ncol", "padding"]) { call, o in
            // panels(figures [, path] [, options]): a list of figures side by side, ncol per row.
            guard call.type(1) == LUA_TTABLE else { throw call.bad(1, "list of figures") }
            let L = call.L
            let figures = try (0..<Int(lua_rawlen(L, 1))).map { i -> Figure in
                lua_rawgeti(L, 1, lua_Integer(i + 1))
                defer { lua_settop(L, -2) }
                guard let f = figure(L, -1) else { throw call.bad(1, message: "element \(i + 1): a Figure expected") }
                return f
            }
            return try Figure.panels(figures, columns: try o?.integer("ncol", 1...Int.max),
                                     padding: try o?.integer("padding", 0...256) ?? 8)
        }

        let lineKeys = chartKeys + ["line_width", "markers", "marks", "mark_label"]
        plot(lua, "lines", options: lineKeys) { call, o in
            // lines(series [, path] [, options]): {{ name = "loss", x = {...}, y = {...} }, ...}
            // (x optional: 1, 2, 3, …) or { loss = ys, acc = ys }.
            let series = try namedSets(call, 1, fields: ["name", "x", "y"], primary: "y") { s -> Series in
                let y = try s.numbers("y")
                guard let x = try s.optionalNumbers("x") else { return Series(s.name, y: y) }
                return Series(s.name, x: x, y: y)
            }
            return try Figure.lines(series, options: try lineOptions(o))
        }

        plot(lua, "run_log", options: lineKeys + ["keys", "x", "names"]) { call, o in
            // run_log(log_path [, path] [, options]): curves of a JSON Lines log (joule.log writes
            // one); keys = {...} picks the series, x the key along the x axis, names = { key =
            // "legend text" } renames series for readers who do not know the keys.
            let log = try call.string(1)
            let keys = try o.flatMap { try strings($0, "keys") }, x = try o?.string("x")
            var options = try lineOptions(o)
            guard let o, let names = try stringMap(o, "names") else {
                return try Figure.runLog(log, keys: keys, x: x, options: options)
            }
            let read = try RunLogSeries.read(log, keys: keys, x: x)
            if let unknown = names.keys.sorted().first(where: { k in !read.series.contains { $0.name == k } }) {
                throw call.bad(o.position, message: "field 'names': no series '\(unknown)' in the plot (series: \(read.series.map(\.name).joined(separator: ", ")))")
            }
            // The defaults Figure.runLog gives: the x key along the axis, the run folder as title.
            options.chart.xLabel = options.chart.xLabel ?? read.xName
            options.chart.title = options.chart.title ?? URL(fileURLWithPath: log).deletingLastPathComponent().lastPathComponent
            return try Figure.lines(read.series.map { s in Series(names[s.name] ?? s.name, x: s.x, y: s.y) }, options: options)
        }

        let curveKeys = chartKeys + ["line_width", "chance"]
        plot(lua, "roc", options: curveKeys) { call, o in
            // roc(sets [, path] [, options]): {{ name = "px vs ood_ta", inside = in_scores,
            // outside = out_scores }, ...} (higher scores = more in-distribution, as joule.ood.scores
            // gives them), or {{ name =, scores =, labels = {0/1...} }, ...}.
            try Figure.roc(try scoredSets(call), options: try curveOptions(o))
        }
        plot(lua, "pr", options: curveKeys) { call, o in
            // pr(sets [, path] [, options]): like roc; precision-recall with the AUPRC in the legend.
            try Figure.precisionRecall(try scoredSets(call), options: try curveOptions(o))
        }

        plot(lua, "confusion", options: ["title", "class_names", "normalize", "show_values", "cell_size"]) { call, o in
            // confusion(counts [, path] [, options]): counts[true + 1][predicted + 1] as
            // joule.metrics.confusion_matrix returns it, or { predictions =, labels =, classes = }.
            var c = ConfusionOptions()
            if let o {
                c.title = try o.string("title")
                c.classNames = try strings(o, "class_names")
                c.normalize = try o.boolean("normalize") ?? c.normalize
                c.showValues = try o.boolean("show_values")
                c.cellSize = try o.integer("cell_size", 4...200)
            }
            let t = try call.table(1)
            if t.has("predictions") || t.has("labels") {
                try t.rejectUnknownKeys(["predictions", "labels", "classes"])
                guard let p = try t.integers("predictions", 0...Int.max), let l = try t.integers("labels", 0...Int.max) else {
                    throw call.bad(1, message: "needs both 'predictions' and 'labels' (class ids from 0)")
                }
                return try Figure.confusionMatrix(predictions: p, labels: l, classes: try t.integer("classes", 1...100_000),
                                                  options: c)
            }
            guard t.length > 0 else { throw call.bad(1, message: "confusion counts: no rows") }
            let rows = try (1...t.length).map { i -> [Int] in
                lua_rawgeti(call.L, t.index, lua_Integer(i))
                defer { lua_settop(call.L, -2) }
                return try LuaTable.integerList(call, 1, lua_gettop(call.L), "row \(i)", 0...Int.max)
            }
            return try Figure.confusionMatrix(rows, options: c)
        }

        plot(lua, "energy_trace", options: chartKeys + ["style"]) { call, o in
            // energy_trace(groups [, path] [, options]): {{ name = "conditional", energies = E,
            // steps = {...} }, ...} or { name = E }, E a (steps, chains) Tensor or a table of rows;
            // or one such Tensor. style "band" (mean ± 1 sd) or "lines" (every chain).
            let groups: [EnergyTrace]
            if call.isTensor(1) {
                groups = [try EnergyTrace("chains", try call.tensor(1))]
            } else {
                groups = try namedSets(call, 1, fields: ["name", "energies", "steps"], primary: "energies") { s in
                    let steps = try s.optionalNumbers("steps")
                    if let t = s.tensor("energies") { return try EnergyTrace(s.name, t, steps: steps) }
                    return EnergyTrace(s.name, energies: try s.rows("energies"), steps: steps)
                }
            }
            var e = EnergyTraceOptions()
            if let o {
                e.chart = try chart(o, e.chart)
                if let s = try o.string("style") {
                    guard let style = EnergyTraceStyle(rawValue: s) else {
                        throw call.bad(o.position, message: "field 'style': 'band' or 'lines' expected, got '\(s)'")
                    }
                    e.style = style
                }
            }
            return try Figure.energyTrace(groups, options: e)
        }
    }

    /// Frames of the chains at `positions` (from 1) only: a copy, (F, positions.count, …).
    static func chainSubset(_ frames: Tensor, _ positions: [Int]) throws -> Tensor {
        guard frames.rank == 4 || frames.rank == 5 else {
            throw JouleError("chains: expected frames of shape (F, N, 1, H, W) or (F, N, H, W), got \(frames.shape)")
        }
        let (f, n) = (frames.shape[0], frames.shape[1])
        guard !positions.isEmpty else { throw JouleError("chains: the list of chains to show is empty") }
        if let bad = positions.first(where: { $0 > n }) { throw JouleError("chains: chain \(bad) asked for, the frames hold \(n)") }
        let item = n == 0 ? 0 : frames.count / (f * n)
        let out = Tensor(shape: [f, positions.count] + frames.shape[2...])
        for k in 0..<f {
            for (j, i) in positions.enumerated() {
                (out.data + (k * positions.count + j) * item).update(from: frames.data + (k * n + i - 1) * item, count: item)
            }
        }
        return out
    }

    /// Registers `joule.plot.<name>(data [, path] [, options])`: reads the optional path and the
    /// options table (rejecting unknown keys), draws, saves when a path was given, returns the figure.
    private static func plot(_ lua: LuaState, _ name: String, options: [String],
                             _ draw: @escaping (LuaCall, LuaTable?) throws -> Figure) {
        lua.setFunction(name, qualified: "joule.plot.\(name)") { call in
            guard !call.isNil(1) else { throw call.bad(1, message: "data expected, got \(call.got(1))") }
            var optionsAt = 2
            var path: String?
            if call.type(2) == LUA_TSTRING {
                path = try call.string(2)
                optionsAt = 3
            } else if !call.isNil(2) && call.type(2) != LUA_TTABLE {
                throw call.bad(2, "output path (string) or options table")
            }
            if let extra = (optionsAt + 1...max(optionsAt + 1, call.count)).first(where: { !call.isNil($0) }) {
                throw call.bad(extra, message: extra == 3 && optionsAt == 2
                    ? "unexpected argument (the output path comes before the options)"
                    : "unexpected argument: joule.plot.\(name) takes data, an optional path and options")
            }
            let o = try call.options(optionsAt, allowed: options)
            let figure = try draw(call, o)
            if let path { try figure.save(to: path) }
            call.push(object: figure, type: typeName)
            return 1
        }
    }

    static func this(_ call: LuaCall) throws -> Figure { try call.this(typeName) }

    static func figureClass() -> LuaClass {
        var c = LuaClass(name: typeName)
        c.method("save") { call in
            // fig:save(path): the PNG through a temporary file and a rename; returns the figure.
            try this(call).save(to: try call.string(1))
            call.pushSelf(); return 1
        }
        c.method("png") { call in
            // fig:png(): the PNG's bytes as a Lua string (what a notebook displays).
            let data = try this(call).pngData()
            data.withUnsafeBytes { raw in _ = lua_pushlstring(call.L, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count) }
            return 1
        }
        c.method("size") { call in
            let f = try this(call)
            call.push(f.width); call.push(f.height); return 2
        }
        c.meta("__tostring") { call in
            let f = try call.object(1, typeName, as: Figure.self)
            call.push("Figure(\(f.width)×\(f.height))"); return 1
        }
        return c
    }

    // MARK: options

    static func strings(_ o: LuaTable, _ key: String) throws -> [String]? {
        guard o.has(key) else { return nil }
        return try o.withField(key) { slot in
            guard lua_type(o.L, slot) == LUA_TTABLE else { throw o.bad("field '\(key)'", "table of strings", slot) }
            return try (0..<Int(lua_rawlen(o.L, slot))).map { i in
                lua_rawgeti(o.L, slot, lua_Integer(i + 1))
                defer { lua_settop(o.L, -2) }
                // Numbers are fine as labels (class ids).
                switch lua_type(o.L, -1) {
                case LUA_TSTRING: return LuaCall.stringValue(o.L, -1)
                case LUA_TNUMBER: return LuaCall.got(o.L, -1)
                default: throw o.bad("field '\(key)' element \(i + 1)", "string", lua_gettop(o.L))
                }
            }
        }
    }

    /// A table of string keys to string values.
    static func stringMap(_ o: LuaTable, _ key: String) throws -> [String: String]? {
        guard o.has(key) else { return nil }
        return try o.withField(key) { slot in
            let L = o.L
            guard lua_type(L, slot) == LUA_TTABLE else { throw o.bad("field '\(key)'", "table { key = 'text' }", slot) }
            var map: [String: String] = [:]
            lua_pushnil(L)
            while lua_next(L, slot) != 0 {
                defer { lua_settop(L, -2) }
                guard lua_type(L, -2) == LUA_TSTRING, lua_type(L, -1) == LUA_TSTRING else {
                    let k = lua_type(L, -2) == LUA_TSTRING ? "'\(LuaCall.stringValue(L, -2))'" : LuaCall.got(L, -2)
                    let got = "\(k) = \(LuaCall.got(L, -1))"
                    throw o.call.bad(o.position, message: "field '\(key)': string keys and texts expected, got \(got)")
                }
                map[LuaCall.stringValue(L, -2)] = LuaCall.stringValue(L, -1)
            }
            return map
        }
    }

    /// `range = { lo, hi }`, "auto" or "per_image".
    static func valueRange(_ o: LuaTable) throws -> ValueRange {
        guard o.has("range") else { return .fixed(-1, 1) }
        if let s = try? o.string("range") {
            switch s {
            case "auto": return .auto
            case "per_image": return .perImage
            default: throw o.call.bad(o.position, message: "field 'range': {lo, hi}, 'auto' or 'per_image' expected, got '\(s)'")
            }
        }
        let r = try pair(o, "range")!
        return .fixed(r.lowerBound, r.upperBound)
    }

    /// `{ lo, hi }` with lo < hi, both finite.
    static func pair(_ o: LuaTable, _ key: String) throws -> ClosedRange<Double>? {
        guard o.has(key) else { return nil }
        return try o.withField(key) { slot in
            let L = o.L
            guard lua_type(L, slot) == LUA_TTABLE, lua_rawlen(L, slot) == 2 else {
                throw o.bad("field '\(key)'", "{lo, hi}", slot)
            }
            let v = try (1...2).map { i -> Double in
                lua_rawgeti(L, slot, lua_Integer(i))
                defer { lua_settop(L, -2) }
                guard lua_type(L, -1) == LUA_TNUMBER else { throw o.bad("field '\(key)' element \(i)", "number", lua_gettop(L)) }
                return lua_tonumberx(L, -1, nil)
            }
            guard v[0].isFinite, v[1].isFinite, v[0] < v[1] else {
                throw o.call.bad(o.position, message: "field '\(key)': {lo, hi} with finite lo < hi expected, got {\(formatNumber(v[0])), \(formatNumber(v[1]))}")
            }
            return v[0]...v[1]
        }
    }

    static func chart(_ o: LuaTable, _ base: ChartOptions) throws -> ChartOptions {
        var c = base
        c.title = try o.string("title") ?? c.title
        c.xLabel = try o.string("xlabel") ?? c.xLabel
        c.yLabel = try o.string("ylabel") ?? c.yLabel
        c.width = try o.integer("width", 1...Int.max, default: c.width)
        c.height = try o.integer("height", 1...Int.max, default: c.height)
        c.xRange = try pair(o, "xrange") ?? c.xRange
        c.yRange = try pair(o, "yrange") ?? c.yRange
        c.grid = try o.boolean("grid") ?? c.grid
        if let s = try o.string("legend") {
            let names: [(String, LegendPlacement)] = [("auto", .auto), ("top_right", .topRight), ("top_left", .topLeft),
                                                      ("bottom_right", .bottomRight), ("bottom_left", .bottomLeft), ("none", .none)]
            guard let p = names.first(where: { $0.0 == s })?.1 else {
                throw o.call.bad(o.position, message: "field 'legend': one of \(names.map { "'\($0.0)'" }.joined(separator: ", ")) expected, got '\(s)'\(suggestion(for: s, among: names.map(\.0)))")
            }
            c.legend = p
        }
        return c
    }

    /// The layout options of an image grid (nrow, padding, scale, range), for joule.plot.grid and
    /// joule.tb.image alike.
    static func readLayout(_ o: LuaTable, into g: inout GridOptions) throws {
        g.nrow = try o.integer("nrow", 1...Int.max)
        g.padding = try o.integer("padding", 0...64, default: g.padding)
        g.scale = try o.integer("scale", 1...32) ?? g.scale
        g.range = try valueRange(o)
    }

    static func lineOptions(_ o: LuaTable?) throws -> LineOptions {
        var l = LineOptions()
        guard let o else { return l }
        l.chart = try chart(o, l.chart)
        l.lineWidth = try o.number("line_width") ?? l.lineWidth
        l.markers = try o.boolean("markers")
        if o.has("marks") {
            l.marks = try o.withField("marks") { try numbers(o.call, o.position, $0, "field 'marks'") }
            guard l.marks.count <= 10_000 else { throw o.call.bad(o.position, message: "field 'marks': at most 10000 marks") }
        }
        l.markLabel = try o.string("mark_label") ?? l.markLabel
        return l
    }

    static func curveOptions(_ o: LuaTable?) throws -> CurveOptions {
        var c = CurveOptions()
        guard let o else { return c }
        c.chart = try chart(o, c.chart)
        c.lineWidth = try o.number("line_width") ?? c.lineWidth
        c.chance = try o.boolean("chance") ?? c.chance
        return c
    }

    // MARK: data

    /// Numbers at stack `slot`: a Tensor (any shape, flattened) or a table of numbers.
    static func numbers(_ call: LuaCall, _ position: Int, _ slot: Int32, _ what: String) throws -> [Double] {
        let L = call.L
        if let t = LuaObjects.get(L, slot, type: TensorBinding.typeName, as: Tensor.self) { return t.array.map(Double.init) }
        guard lua_type(L, slot) == LUA_TTABLE else {
            throw call.bad(position, message: "\(what): table of numbers or Tensor expected, got \(LuaCall.got(L, slot))")
        }
        return try (0..<Int(lua_rawlen(L, slot))).map { i in
            lua_rawgeti(L, slot, lua_Integer(i + 1))
            defer { lua_settop(L, -2) }
            guard lua_type(L, -1) == LUA_TNUMBER else {
                throw call.bad(position, message: "\(what) element \(i + 1): number expected, got \(LuaCall.got(L, -1))")
            }
            return lua_tonumberx(L, -1, nil)
        }
    }

    /// A non-empty table whose first element is a number (one unnamed set of values).
    static func isNumberList(_ call: LuaCall, _ n: Int) -> Bool {
        guard call.type(n) == LUA_TTABLE else { return false }
        lua_rawgeti(call.L, call.index(n), 1)
        defer { lua_settop(call.L, -2) }
        return lua_type(call.L, -1) == LUA_TNUMBER
    }

    /// One named set while it is read: fields of `{ name = ..., values = ... }`, or the value of a
    /// `{ name = values }` entry standing for the primary field.
    struct NamedSet {
        let call: LuaCall
        let position: Int
        let label: String
        let name: String
        let table: Int32?
        let value: Int32?
        let primary: String
        var L: OpaquePointer { call.L }

        /// Runs `body` with the field's stack slot, nil when absent.
        func with<R>(_ key: String, _ body: (Int32?) throws -> R) rethrows -> R {
            guard let table else { return try body(key == primary ? value : nil) }
            lua_pushstring(L, key)
            lua_rawget(L, table)
            defer { lua_settop(L, -2) }
            return try body(lua_type(L, -1) == LUA_TNIL ? nil : lua_gettop(L))
        }

        func missing(_ key: String) -> LuaArgumentError {
            call.bad(position, message: "\(label): field '\(key)' is missing")
        }

        func optionalNumbers(_ key: String) throws -> [Double]? {
            try with(key) { s in try s.map { try PlotBinding.numbers(call, position, $0, "\(label): field '\(key)'") } }
        }

        func numbers(_ key: String) throws -> [Double] {
            guard let v = try optionalNumbers(key) else { throw missing(key) }
            return v
        }

        func tensor(_ key: String) -> Tensor? {
            with(key) { s in s.flatMap { LuaObjects.get(L, $0, type: TensorBinding.typeName, as: Tensor.self) } }
        }

        func integers(_ key: String, _ range: ClosedRange<Int>) throws -> [Int] {
            try with(key) { s in
                guard let s else { throw missing(key) }
                return try LuaTable.integerList(call, position, s, "\(label): field '\(key)'", range)
            }
        }

        /// A table of rows of numbers.
        func rows(_ key: String) throws -> [[Double]] {
            try with(key) { s in
                guard let s else { throw missing(key) }
                guard lua_type(L, s) == LUA_TTABLE else {
                    throw call.bad(position, message: "\(label): field '\(key)': Tensor or table of rows expected, got \(LuaCall.got(L, s))")
                }
                return try (0..<Int(lua_rawlen(L, s))).map { i in
                    lua_rawgeti(L, s, lua_Integer(i + 1))
                    defer { lua_settop(L, -2) }
                    return try PlotBinding.numbers(call, position, lua_gettop(L), "\(label): field '\(key)' row \(i + 1)")
                }
            }
        }
    }

    /// The named sets of argument `n`: a list `{{ name = ..., <fields> }, ...}`, or a map
    /// `{ name = <primary field> }` read in name order (Lua tables have none of their own).
    static func namedSets<T>(_ call: LuaCall, _ n: Int, fields: [String], primary: String,
                             _ read: (NamedSet) throws -> T) throws -> [T] {
        let t = try call.table(n)
        let L = call.L
        if t.length > 0 {
            return try (1...t.length).map { i in
                lua_rawgeti(L, t.index, lua_Integer(i))
                defer { lua_settop(L, -2) }
                let slot = lua_gettop(L)
                guard lua_type(L, slot) == LUA_TTABLE, LuaObjects.get(L, slot, type: TensorBinding.typeName, as: Tensor.self) == nil else {
                    throw call.bad(n, message: "set \(i): table { name = ..., \(primary) = ... } expected, got \(LuaCall.got(L, slot))")
                }
                let set = LuaTable(call: call, position: n, index: slot)
                do { try set.rejectUnknownKeys(fields) } catch let e as LuaArgumentError {
                    throw call.bad(n, message: "set \(i): \(e.message.replacingOccurrences(of: "option", with: "field"))")
                }
                let name = try set.string("name") ?? "\(i)"
                return try read(NamedSet(call: call, position: n, label: "set \(i) ('\(name)')", name: name,
                                         table: slot, value: nil, primary: primary))
            }
        }
        // A map: collect the names first, then read each value.
        var names: [String] = []
        lua_pushnil(L)
        while lua_next(L, t.index) != 0 {
            lua_settop(L, -2)
            guard lua_type(L, -1) == LUA_TSTRING else {
                let got = LuaCall.got(L, -1)
                lua_settop(L, -2)
                throw call.bad(n, message: "set names must be strings, got \(got)")
            }
            names.append(LuaCall.stringValue(L, -1))
        }
        guard !names.isEmpty else { throw call.bad(n, message: "no data sets (the table is empty)") }
        return try names.sorted().map { name in
            lua_pushstring(L, name)
            lua_rawget(L, t.index)
            defer { lua_settop(L, -2) }
            return try read(NamedSet(call: call, position: n, label: "set '\(name)'", name: name, table: nil,
                                     value: lua_gettop(L), primary: primary))
        }
    }

    /// Score sets of roc/pr: { name, inside, outside } or { name, scores, labels }.
    static func scoredSets(_ call: LuaCall) throws -> [ScoredSet] {
        try namedSets(call, 1, fields: ["name", "inside", "outside", "scores", "labels"], primary: "") { s in
            if try s.optionalNumbers("scores") != nil {
                return ScoredSet(s.name, scores: try s.numbers("scores"), labels: try s.integers("labels", 0...1))
            }
            let inside = try s.numbers("inside"), outside = try s.numbers("outside")
            guard !inside.isEmpty, !outside.isEmpty else {
                throw call.bad(1, message: "\(s.label): 'inside' and 'outside' need at least one score each (got \(inside.count) and \(outside.count))")
            }
            return ScoredSet(s.name, inDistribution: inside, outOfDistribution: outside)
        }
    }
}

extension PlotBinding {
    /// The documentation of what this file binds (name, signature, paragraph), read by `JouleDocs`.
    static let documentation: [(String, String, String)] = [
    // joule.plot
    ("joule.plot", "joule.plot",
     "Pictures as figures: grid, chains, histogram, lines, run_log, roc, pr, confusion, energy_trace, heatmap, and panels to put figures side by side. Each takes its data, an optional output path and an options table, and returns a Figure; fig:save(path) writes the PNG, and a notebook shows a figure inline when it is a cell's value or passed to joule.display."),
    ("joule.plot.heatmap", "joule.plot.heatmap(values [, path] [, { xrange, yrange, points, marks, title, xlabel, ylabel, width, height }]) → Figure",
     "A function of the plane on a grid, in viridis (dark = low): values (rows, columns) over xrange × yrange (default [-1, 1]², row 1 at the bottom), e.g. the energy of a 2-D model on a meshgrid; points (N, 2) — SGLD samples — drawn on top as white dots, marks (M, 2) — e.g. the true centres of a mixture — as red crosses."),
    ("joule.plot.panels", "joule.plot.panels(figures [, path] [, { ncol = #figures, padding = 8 }]) → Figure",
     "Figures side by side in one picture: figures is a list of Figures (any joule.plot results), placed ncol per row (default: one row) in cells as large as the largest, padding white pixels (0…256) between and around them."),
    ("joule.plot.grid", "joule.plot.grid(images [, path] [, { nrow, padding, range, row_labels, title, scale, blocks, levels }]) → Figure",
     "A grid of images from an (N, C, H, W), (N, H, W) or (H, W) tensor (C = 1 grey, 3 colour, any other count channel by channel, each a grey tile), filled row by row (nrow per row), or the frames of sampler:sample{ keep_every = k } (F, N, 1, H, W), one chain after another. range: {lo, hi} (default {-1, 1}), 'auto' or 'per_image'."),
    ("joule.plot.chains", "joule.plot.chains(frames [, path] [, { steps, chains, title, xlabel, range, row_labels, padding, scale }]) → Figure",
     "Sampling chains from (F, N, 1, H, W) frames (as SGLD:sample returns with keep_every): one row per chain, the SGLD step under each frame (xlabel names what the numbers count for another sampler, e.g. 'HMC iteration'); chains = {1, 5, ...} shows only those chains."),
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
    ]
}
