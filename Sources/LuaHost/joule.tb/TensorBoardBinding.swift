import CLua
import Foundation
import Plot
import Tensor
import TensorBoard

/// A run's TensorBoard events: one `events.out.tfevents.*` file in the run folder, opened when the
/// first event is written, and the step that events without one are filed under.
public final class RunEvents {
    private unowned let folder: RunFolder
    private var file: EventFile?
    /// The step of the latest `joule.log` line: its `step` field, else the number of lines so far.
    public private(set) var step: Int64 = 0
    private var lines: Int64 = 0

    init(folder: RunFolder) { self.folder = folder }

    /// The event file's path (opening it).
    public func path() throws -> String { try open().path }

    private func open() throws -> EventFile {
        if let file { return file }
        let f = try EventFile(folder: try folder.path())
        file = f
        return f
    }

    public func write(_ values: [SummaryValue], step: Int64?) throws {
        try open().write(values, step: step ?? self.step)
    }

    /// A `joule.log` line's numbers as scalars, one event per line.
    func log(_ scalars: [(String, Double)], step: Int64?) throws {
        lines += 1
        self.step = step ?? lines
        guard !scalars.isEmpty else { return }
        try write(scalars.map { SummaryValue(tag: $0.0, .scalar(Float($0.1))) }, step: self.step)
    }

    /// The value at `i` as a scalar: a number or a one-element tensor.
    static func scalar(_ L: OpaquePointer, _ i: Int32) -> Double? {
        switch lua_type(L, i) {
        case LUA_TNUMBER: return lua_tonumberx(L, i, nil)
        default:
            if let t = LuaObjects.get(L, i, type: TensorBinding.typeName, as: Tensor.self), t.count == 1 { return Double(t[0]) }
            return nil
        }
    }
}

/// joule.tb: images, histograms, text and scalars for TensorBoard, into the run's event file
/// (joule.log's numbers go there by themselves). Each takes a tag, a value and an options table
/// with `step` (default: the step of the latest joule.log line).
enum TensorBoardBinding {
    static func install(_ lua: LuaState, _ context: JouleContext, module: Int32) {
        let L = lua.L
        lua_createtable(L, 0, 6)
        defer { lua_setfield(L, module, "tb") }
        let events = { context.run.events }

        lua.setFunction("scalar", qualified: "joule.tb.scalar") { call in
            let (tag, o) = try tagAndOptions(call, [])
            guard let v = RunEvents.scalar(call.L, call.index(2)) else { throw call.bad(2, "number") }
            try events().write([SummaryValue(tag: tag, .scalar(Float(v)))], step: try step(o))
            return 0
        }
        lua.setFunction("image", qualified: "joule.tb.image") { call in
            // image(tag, figure or images [, options]) → width, height of the PNG written.
            let (tag, o) = try tagAndOptions(call, ["nrow", "padding", "range", "scale"])
            let figure: Figure
            if let f = PlotBinding.figure(call.L, call.index(2)) {
                if let o, let k = ["nrow", "padding", "range", "scale"].first(where: { o.has($0) }) {
                    throw call.bad(3, message: "option '\(k)' is for tensors; a figure is logged as drawn")
                }
                figure = f
            } else {
                var images = try call.tensor(2)
                if images.rank == 2 { images = images.copy(); try images.reshape([1] + images.shape) }
                let single = images.rank == 3 || (images.rank == 4 && images.shape[0] == 1)
                var g = GridOptions(padding: single ? 0 : 2, scale: 1)
                if let o { try PlotBinding.readLayout(o, into: &g) }
                figure = try Figure.imageGrid(images, options: g)
            }
            let png = try figure.pngData()
            let grey = figure.canvas.pixels.withUnsafeBufferPointer { p in
                stride(from: 0, to: p.count, by: 3).allSatisfy { p[$0] == p[$0 + 1] && p[$0] == p[$0 + 2] }
            }
            try events().write([SummaryValue(tag: tag, .image(png: Array(png), width: figure.width, height: figure.height,
                                                              colorspace: grey ? 1 : 3))], step: try step(o))
            call.push(figure.width); call.push(figure.height)
            return 2
        }
        lua.setFunction("histogram", qualified: "joule.tb.histogram") { call in
            // histogram(tag, values [, { bins, step }]) → how many finite values it holds.
            let (tag, o) = try tagAndOptions(call, ["bins"])
            let values = try PlotBinding.numbers(call, 2, call.index(2), "values")
            let h = Histogram(values.lazy.map { Float($0) }, bins: try o?.integer("bins", 1...10_000) ?? 30)
            try events().write([SummaryValue(tag: tag, .histogram(h))], step: try step(o))
            call.push(h.count)
            return 1
        }
        lua.setFunction("text", qualified: "joule.tb.text") { call in
            let (tag, o) = try tagAndOptions(call, [])
            try events().write([SummaryValue(tag: tag, .text(try call.string(2)))], step: try step(o))
            return 0
        }
        lua.setFunction("path", qualified: "joule.tb.path") { call in
            call.push(try events().path()); return 1
        }
    }

    static func tagAndOptions(_ call: LuaCall, _ keys: [String]) throws -> (String, LuaTable?) {
        let tag = try call.string(1)
        guard !tag.isEmpty else { throw call.bad(1, message: "tag must not be empty") }
        guard !call.isNil(2) else { throw call.bad(2, message: "value expected, got \(call.got(2))") }
        if call.count > 3 { throw call.bad(4, message: "unexpected argument: takes a tag, a value and options") }
        return (tag, try call.options(3, allowed: keys + ["step"]))
    }

    static func step(_ o: LuaTable?) throws -> Int64? {
        try o?.integer("step", 0...Int.max).map(Int64.init)
    }
}

extension TensorBoardBinding {
    /// The documentation of what this file binds (name, signature, paragraph), read by `JouleDocs`.
    static let documentation: [(String, String, String)] = [
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
    ]
}
