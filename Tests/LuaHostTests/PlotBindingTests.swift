import Foundation
import Plot
import XCTest

/// joule.plot from Lua: every figure kind is drawn, saved and read back; bad arguments give one
/// located message; the same script gives the same bytes.
final class PlotBindingTests: LuaTestCase {
    /// Reads a PNG the snippet wrote and checks it is a real picture: the size Lua reported and
    /// enough pixels that are not the white background.
    @discardableResult
    func picture(_ name: String, size: [String]? = nil, file: StaticString = #filePath, line: UInt = #line) throws -> PNGImage {
        let path = directory.appendingPathComponent(name).path
        let png = try PNGImage(contentsOf: path)
        if let size {
            XCTAssertEqual("\(png.width)x\(png.height)", "\(size[0])x\(size[1])", "size", file: file, line: line)
        }
        let inked = png.count(in: PixelRect(x: 0, y: 0, width: png.width, height: png.height), otherThan: .white)
        XCTAssertGreaterThan(inked, png.width * png.height / 100, "\(name) looks blank", file: file, line: line)
        return png
    }

    /// Leftovers of atomic writes would be dot files beside the picture.
    func assertNoTemporaryFiles(file: StaticString = #filePath, line: UInt = #line) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        XCTAssertTrue(names.filter { $0.hasPrefix(".") }.isEmpty, "temporary files left: \(names)", file: file, line: line)
    }

    // MARK: every kind

    func testGridKnownCells() throws {
        // Image 1 black (-1), image 2 white (+1), 8×8: upscaled 10×, 2 pixels of grey gutter.
        let size = try lua("""
        local F = joule.tensor.full
        local t = joule.tensor.cat{ F({1, 1, 8, 8}, -1), F({1, 1, 8, 8}, 1), F({2, 1, 8, 8}, 0) }
        local fig = joule.plot.grid(t, { nrow = 2 })
        fig:save(DIR .. '/grid.png')
        return fig:size()
        """)
        let png = try picture("grid.png", size: size)
        XCTAssertEqual(png[40, 40], RGB(0, 0, 0), "first cell is the black image")
        XCTAssertEqual(png[2 + 80 + 2 + 40, 40], RGB(255, 255, 255), "second cell is the white image")
        XCTAssertEqual(png[2 + 40, 2 + 80 + 2 + 40], RGB(128, 128, 128), "third cell is mid grey (0)")
        XCTAssertEqual(png[1, 1], RGB(150, 150, 150), "gutter")
    }

    func testGridPathArgumentAsInTheDesign() throws {
        // joule.plot.grid(chain, "runs/jem/chain.png", { nrow = 9 }): frames (F, N, 1, H, W), saved at once.
        let out = try lua("""
        local frames = joule.tensor.rand(9, 2, 1, 12, 12)
        local fig = joule.plot.grid(frames, DIR .. '/sub/chain.png', { nrow = 9, title = 'chains', row_labels = {'a', 'b'} })
        local w, h = fig:size()
        return tostring(fig), w, h
        """)
        XCTAssertTrue(out[0].hasPrefix("Figure("), out[0])
        try picture("sub/chain.png", size: [out[1], out[2]])
        try assertNoTemporaryFiles()
    }

    func testChains() throws {
        let out = try lua("""
        local frames = joule.tensor.rand(5, 3, 1, 10, 10)
        local fig = joule.plot.chains(frames, DIR .. '/chains.png', { steps = {0, 8, 16, 24, 32}, title = 'SGLD', row_labels = {'0', '1', '2'} })
        return fig:size()
        """)
        try picture("chains.png", size: out)
        let two = try lua("""
        local fig = joule.plot.chains(joule.tensor.rand(5, 3, 1, 10, 10), DIR .. '/chains2.png', { chains = {3, 1}, row_labels = {'c', 'a'} })
        return fig:size()
        """)
        try picture("chains2.png", size: two)
        XCTAssertLessThan(Int(two[1])!, Int(out[1])!, "two chains make a shorter figure than three")
        XCTAssertTrue(luaError("joule.plot.chains(joule.tensor.rand(5, 3, 1, 10, 10), { steps = {0, 8} })")
            .contains("2 step numbers for 5 frames"))
        // xlabel names what the numbers count: the same frames with another footer are another picture,
        // and the default is SGLD's.
        let footers = try lua("""
        local frames = joule.tensor.rand(5, 2, 1, 10, 10)
        local function png(o) return joule.plot.chains(frames, o):png() end
        return png{} == png{ xlabel = 'SGLD step' }, png{} ~= png{ xlabel = 'HMC iteration' }
        """)
        XCTAssertEqual(footers, ["true", "true"])
    }

    func testHistogramForms() throws {
        try lua("""
        local a, b = {}, {}
        for i = 1, 200 do a[i] = math.sin(i) ; b[i] = 2 + math.cos(i) end
        joule.plot.histogram({{ name = 'test', values = a }, { name = 'ood', values = joule.tensor(b) }}, DIR .. '/h1.png',
                             { bins = 20, title = 'energies', xlabel = 'E(x)' })
        joule.plot.histogram({ test = a, ood = b }, DIR .. '/h2.png', { density = false, style = 'outline', legend = 'top_left' })
        joule.plot.histogram(a, DIR .. '/h3.png')
        joule.plot.histogram({ a = {1, 2, 0/0, 1/0, 3} }, DIR .. '/h4.png')
        """)
        for name in ["h1.png", "h2.png", "h3.png", "h4.png"] { try picture(name) }
    }

    func testLinesAndRunLog() throws {
        let log = directory.appendingPathComponent("log.jsonl")
        try """
        {"epoch": 1, "loss": 2.5, "val_acc": 0.2}
        {"epoch": 2, "loss": 1.5, "val_acc": 0.5}
        {"epoch": 3, "loss": 1.1, "val_acc": 0.6}

        """.write(to: log, atomically: true, encoding: .utf8)
        try lua("""
        joule.plot.lines({{ name = 'loss', x = {1, 2, 3}, y = {3, 2, 1.5} }, { name = 'acc', y = {0.1, 0.2, 0.3} }},
                         DIR .. '/lines.png', { title = 'curves', xlabel = 'epoch', width = 500, height = 300, markers = true })
        joule.plot.lines({ loss = {3, 2, 1} }, DIR .. '/lines2.png', { yrange = {0, 4}, line_width = 3, grid = false })
        joule.plot.run_log(DIR .. '/log.jsonl', DIR .. '/log.png', { keys = {'loss'}, x = 'epoch' })
        joule.plot.run_log(DIR .. '/log.jsonl', DIR .. '/log2.png')
        joule.plot.run_log(DIR .. '/log.jsonl', DIR .. '/log3.png', { keys = {'loss', 'val_acc'}, names = { loss = 'total loss' } })
        """)
        let lines = try picture("lines.png")
        XCTAssertEqual(lines.width, 500); XCTAssertEqual(lines.height, 300)
        for name in ["lines2.png", "log.png", "log2.png", "log3.png"] { try picture(name) }
        XCTAssertTrue(luaError("joule.plot.run_log(DIR .. '/log.jsonl', { keys = {'loss'}, names = { los = 'x' } })")
            .contains("field 'names': no series 'los' in the plot (series: loss)"))
        XCTAssertTrue(luaError("joule.plot.run_log(DIR .. '/log.jsonl', { names = { loss = 1 } })")
            .contains("field 'names': string keys and texts expected, got 'loss' = 1"))
        XCTAssertTrue(luaError("joule.plot.run_log(DIR .. '/log.jsonl', { keys = {'los'} })").contains("no numeric key 'los'"))
        XCTAssertTrue(luaError("joule.plot.run_log(DIR .. '/none.jsonl')").contains("cannot read the log"))
    }

    func testROCAndPR() throws {
        try lua("""
        local inside, outside = {}, {}
        for i = 1, 100 do inside[i] = 1 + math.sin(i) ; outside[i] = math.cos(i) end
        local sets = {{ name = 'px', inside = inside, outside = outside },
                      { name = 'py', scores = {0.9, 0.8, 0.3, 0.1}, labels = {1, 0, 1, 0} }}
        joule.plot.roc(sets, DIR .. '/roc.png', { title = 'ROC' })
        joule.plot.pr(sets, DIR .. '/pr.png', { chance = false })
        """)
        try picture("roc.png")
        try picture("pr.png")
    }

    func testConfusionForms() throws {
        try lua("""
        joule.plot.confusion({{5, 1, 0}, {2, 7, 1}, {0, 0, 9}}, DIR .. '/c1.png', { class_names = {'a', 'b', 'c'}, title = 'confusion' })
        joule.plot.confusion({ predictions = {0, 1, 2, 2}, labels = {0, 1, 1, 2}, classes = 4 }, DIR .. '/c2.png', { normalize = false })
        local m = joule.metrics.confusion_matrix({0, 1, 1}, {0, 1, 0}, 2)
        joule.plot.confusion(m, DIR .. '/c3.png')
        """)
        for name in ["c1.png", "c2.png", "c3.png"] { try picture(name) }
    }

    func testEnergyTrace() throws {
        try lua("""
        local E = joule.tensor.randn(30, 4)
        joule.plot.energy_trace({{ name = 'conditional', energies = E }, { name = 'rows', energies = {{1, 2}, {0, 1}, {-1, 0}}, steps = {0, 10, 20} }},
                                DIR .. '/e1.png', { style = 'lines', title = 'energy' })
        joule.plot.energy_trace(E, DIR .. '/e2.png')
        joule.plot.energy_trace({ uncond = E }, DIR .. '/e3.png')
        """)
        for name in ["e1.png", "e2.png", "e3.png"] { try picture(name) }
    }

    /// A heat map with points and marks, and panels of figures: the panels' size is the cells'
    /// (the largest figure) plus the padding, and each figure's pixels reappear in its cell.
    func testHeatmapMarksAndPanels() throws {
        let r = try lua("""
        local E = joule.tensor.randn(20, 20)
        local a = joule.plot.heatmap(E, { width = 200, height = 180, points = joule.tensor{{0, 0}}, marks = joule.tensor{{0.5, 0.5}, {-0.5, 0.5}} })
        local b = joule.plot.lines({ y = {1, 3, 2} }, { width = 160, height = 120 })
        local p = joule.plot.panels({ a, b, a }, DIR .. '/panels.png', { ncol = 2, padding = 4 })
        a:save(DIR .. '/a.png')
        return p:size()
        """)
        XCTAssertEqual(r.map { number($0) }, [2 * 204 + 4, 2 * 184 + 4])
        let panels = try picture("panels.png", size: ["412", "372"]), a = try picture("a.png")
        // The first and third cells hold the heat map exactly (cells at (4, 4) and (4, 188)).
        for (x0, y0) in [(4, 4), (4, 188)] {
            for y in stride(from: 0, to: a.height, by: 7) { for x in stride(from: 0, to: a.width, by: 7) {
                XCTAssertEqual(panels[x0 + x, y0 + y], a[x, y], "cell at (\(x0), \(y0)), pixel (\(x), \(y))")
            } }
        }
        // Padding and the unused fourth cell stay white.
        XCTAssertEqual(panels[2, 100], .white)
        XCTAssertEqual(panels[300, 300], .white)
        // The marks are red crosses: reddish pixels exist only with marks.
        func reddish(_ image: PNGImage) -> Int {
            var n = 0
            for y in 0..<image.height { for x in 0..<image.width {
                let c = image[x, y]
                if Int(c.r) > 180 && Int(c.g) < 90 && Int(c.b) < 90 { n += 1 }
            } }
            return n
        }
        XCTAssertGreaterThan(reddish(a), 20)
        try lua("joule.plot.heatmap(joule.tensor.randn(20, 20), DIR .. '/plain.png')")
        XCTAssertEqual(reddish(try picture("plain.png")), 0)
        assertError("joule.plot.panels({})", "panels: no figures")
        assertError("joule.plot.panels({ 3 })", "element 1: a Figure expected")
        assertError("joule.plot.panels(joule.plot.lines({ y = {1} }))", "list of figures expected")
        assertError("joule.plot.panels({ joule.plot.lines({ y = {1} }) }, { ncol = 0 })", "field 'ncol'")
        assertError("joule.plot.panels({ joule.plot.lines({ y = {1} }) }, { padding = -1 })", "field 'padding'")
        assertError("joule.plot.heatmap(joule.tensor.zeros(3, 3), { marks = joule.tensor.zeros(3) })", "field 'marks': (N, 2) tensor expected")
    }

    // MARK: the figure object

    func testPngBytesEqualTheFileAndAreDeterministic() throws {
        let script = """
        joule.seed(7)
        local t = joule.tensor.randn(6, 1, 9, 9)
        local fig = joule.plot.grid(t, { title = 'same', range = 'auto' })
        fig:save(DIR .. '/NAME.png')
        local f = io.open(DIR .. '/NAME.png', 'rb'); local bytes = f:read('a'); f:close()
        local h = joule.plot.histogram({ x = {1, 2, 2, 3} }, DIR .. '/NAME-h.png')
        return bytes == fig:png(), #fig:png(), fig:png():sub(2, 4)
        """
        let first = try lua(script.replacingOccurrences(of: "NAME", with: "a"))
        XCTAssertEqual(first[0], "true")
        XCTAssertEqual(first[2], "PNG")
        try lua(script.replacingOccurrences(of: "NAME", with: "b"))
        for (a, b) in [("a.png", "b.png"), ("a-h.png", "b-h.png")] {
            let da = try Data(contentsOf: directory.appendingPathComponent(a))
            let db = try Data(contentsOf: directory.appendingPathComponent(b))
            XCTAssertEqual(da, db, "\(a) and \(b) differ")
        }
        try assertNoTemporaryFiles()
    }

    func testFigureOutlivesCollection() throws {
        let out = try lua("""
        local fig = joule.plot.lines({ y = {1, 2, 3} })
        collectgarbage(); collectgarbage()
        return #fig:png() > 100, select('#', fig:size())
        """)
        XCTAssertEqual(out, ["true", "2"])
    }

    // MARK: bad arguments: one located message each, never a crash

    func assertError(_ code: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        let message = luaError(code, file: file, line: line)
        XCTAssertTrue(message.hasPrefix("snippet.lua:1: "), "not located: \(message)", file: file, line: line)
        XCTAssertTrue(message.contains(expected), "\(message) lacks \(expected)", file: file, line: line)
    }

    func testBadArguments() {
        let t = "joule.tensor.zeros(2, 1, 4, 4)"
        assertError("joule.plot.grid('x')", "bad argument #1 to 'joule.plot.grid' (Tensor expected, got string)")
        assertError("joule.plot.grid()", "bad argument #1 to 'joule.plot.grid' (data expected, got no value)")
        assertError("joule.plot.grid(\(t), 5)", "bad argument #2 to 'joule.plot.grid' (output path (string) or options table expected, got 5)")
        assertError("joule.plot.grid(\(t), { nrows = 2 })", "unknown option 'nrows' (did you mean 'nrow'?)")
        assertError("joule.plot.grid(\(t), { nrow = 0 })", "field 'nrow': positive integer expected, got 0")
        assertError("joule.plot.grid(\(t), { range = {1, -1} })", "field 'range': {lo, hi} with finite lo < hi expected")
        assertError("joule.plot.grid(\(t), { range = {0/0, 1} })", "field 'range': {lo, hi} with finite lo < hi expected, got {nan, 1}")
        assertError("joule.plot.grid(\(t), { range = 'autp' })", "'auto' or 'per_image' expected, got 'autp'")
        assertError("joule.plot.grid(\(t), { nrow = 1, row_labels = {'a'} })", "1 row labels for 2 rows")
        assertError("joule.plot.grid(\(t), { row_labels = {{}} })", "field 'row_labels' element 1: string expected, got table")
        assertError("joule.plot.grid(joule.tensor.zeros(4))", "expected images of shape (N, C, H, W)")
        assertError("joule.plot.grid(\(t), DIR .. '/x.png', {}, 4)", "bad argument #4 to 'joule.plot.grid' (unexpected argument")
        assertError("joule.plot.grid(\(t), {}, 'x.png')", "bad argument #3 to 'joule.plot.grid' (unexpected argument (the output path comes before the options))")
        assertError("joule.plot.chains(joule.tensor.zeros(2, 4, 4))", "expected frames of shape")
        assertError("joule.plot.chains(joule.tensor.zeros(3, 2, 1, 4, 4), { chains = {3} })", "chain 3 asked for, the frames hold 2")
        assertError("joule.plot.chains(joule.tensor.zeros(3, 2, 1, 4, 4), { chains = {0} })", "field 'chains' element 1: positive integer expected, got 0")
        assertError("joule.plot.histogram({})", "no data sets")
        assertError("joule.plot.histogram({ a = {} })", "set 'a' is empty")
        assertError("joule.plot.histogram({ a = {0/0, 1/0} })", "has no finite values")
        assertError("joule.plot.histogram({ a = {1, 'x'} })", "set 'a': field 'values' element 2: number expected, got string")
        assertError("joule.plot.histogram({{ name = 'a', value = {1} }})", "set 1: unknown field 'value' (did you mean 'values'?)")
        assertError("joule.plot.histogram({{ name = 'a' }})", "set 1 ('a'): field 'values' is missing")
        assertError("joule.plot.histogram({ 'a' })", "set 1: table { name = ..., values = ... } expected, got string")
        assertError("joule.plot.histogram({1, 2}, { bins = 0 })", "field 'bins': integer in 1...10000 expected, got 0")
        assertError("joule.plot.histogram({1, 2}, { style = 'bars' })", "'filled' or 'outline' expected, got 'bars'")
        assertError("joule.plot.histogram({1, 2}, { legend = 'topright' })", "did you mean 'top_right'?")
        assertError("joule.plot.histogram({1, 2}, { width = 10 })", "figure size 10×480 is out of range")
        assertError("joule.plot.histogram({1, 2}, { xrange = {1} })", "field 'xrange': {lo, hi} expected")
        assertError("joule.plot.lines({{ name = 'a', x = {1, 2}, y = {1} }})", "series 'a' has 2 x values but 1 y values")
        assertError("joule.plot.lines({ a = {0/0} })", "no point has finite x and y")
        assertError("joule.plot.lines(joule.tensor.zeros(3))", "table expected, got Tensor")
        assertError("joule.plot.roc({{ name = 'px', inside = {1, 0/0}, outside = {0} }})", "set 'px': scores contain NaN")
        assertError("joule.plot.roc({{ name = 'px', inside = {}, outside = {0} }})", "need at least one score each (got 0 and 1)")
        assertError("joule.plot.roc({{ name = 'px', scores = {1, 2}, labels = {1, 2} }})", "field 'labels' element 2: integer in 0...1 expected, got 2")
        assertError("joule.plot.pr({})", "no data sets")
        assertError("joule.plot.confusion({})", "no rows")
        assertError("joule.plot.confusion({{1, 2}, {3}})", "must be square")
        assertError("joule.plot.confusion({{1, -2}, {3, 4}})", "row 1 element 2: non-negative integer expected, got -2")
        assertError("joule.plot.confusion({ predictions = {0, 1} })", "needs both 'predictions' and 'labels'")
        assertError("joule.plot.confusion({ predictions = {0, 5}, labels = {0, 1}, classes = 2 })", "class 5 is outside 0..<2")
        assertError("joule.plot.energy_trace({ a = {{1, 2}, {1}} })", "every step needs 2 chain energies")
        assertError("joule.plot.energy_trace({ a = {{0/0}} })", "no finite energies")
        assertError("joule.plot.energy_trace(joule.tensor.zeros(3, 2), { style = 'dots' })", "'band' or 'lines' expected, got 'dots'")
        assertError("joule.plot.run_log(3)", "bad argument #1 to 'joule.plot.run_log' (string expected, got 3)")
        assertError("local f = joule.plot.lines({ y = {1} }); f:save(3)", "bad argument #1 to 'Figure:save' (string expected, got 3)")
        assertError("local f = joule.plot.lines({ y = {1} }); f.save('x.png')", "bad self for 'Figure:save'")
        assertError("local f = joule.plot.lines({ y = {1} }); f:save('')", "figure: empty output path")
        assertError("joule.plot.lines({ y = {1} }, '')", "figure: empty output path")
    }

    func testSaveIntoAFileFails() throws {
        try "x".write(to: directory.appendingPathComponent("file"), atomically: true, encoding: .utf8)
        assertError("joule.plot.lines({ y = {1} }, DIR .. '/file/x.png')", "x.png")
    }
}
