import Foundation
import LuaHost
import Tensor
import TestSupport
import XCTest

/// Absurd counts from Lua are errors naming the allowed range; memory that cannot be had is an
/// error naming the size; one Ctrl-C stops each long-running path.
final class HostileArgumentTests: LuaTestCase {
    static let model = """
        local m = joule.nn.ShallowCNN{ hidden = 2, classes = 2, seed = 1 }
        local s = joule.ebm.SGLD{ model = m, steps = 1, image_size = 8, buffer_per_class = 2 }

        """

    func testCountsOutsideTheirRangesAreErrors() {
        let cases: [(String, String)] = [
            ("joule.ebm.JEM{ model = m, sampler = s }:evaluate({ images = joule.tensor.rand(2, 1, 8, 8), labels = {0, 1} }, { samples = math.maxinteger })",
             "field 'samples': integer in 0...100000"),
            ("joule.ebm.JEM{ model = m, sampler = s }:evaluate({ images = joule.tensor.rand(2, 1, 8, 8), labels = {0, 1} }, { samples = 2^40 })",
             "field 'samples': integer in 0...100000"),
            ("s:sample{ n = 1, steps = 2^53 }", "field 'steps': integer in 0...1000000"),
            ("s:run(joule.tensor.rand(1, 1, 8, 8), { steps = 2^53 })", "field 'steps': integer in 0...1000000"),
            ("s:sample{ n = math.maxinteger }", "field 'n': integer in 1...100000"),
            ("joule.ebm.SGLD{ model = m, buffer_per_class = 2^58 }", "field 'buffer_per_class': integer in 1...1000000"),
            ("joule.ebm.SGLD{ model = m, steps = 2^53 }", "field 'steps': integer in 0...1000000"),
            ("joule.ebm.SGLD{ model = joule.nn.ShallowCNN{ hidden = 2, classes = 5000 }, buffer_per_class = 1000000 }", "too large (at most 2147483648 values)"),
            ("s:sample{ n = 100000, steps = 1000000, keep_every = 1 }", "raise keep_every"),
            ("s:sample_buffer(2^53, {0})", "integer in 1...100000"),
            ("joule.tensor.zeros(2^40, 2^40)", "too large"),
            // 4 × (2^62 + 64) wraps to 256, this tensor's count.
            ("joule.tensor.rand(4, 1, 8, 8):reshape({ (1 << 62) + 64, 4 })", "cannot reshape [4, 1, 8, 8] (256 values)"),
            ("joule.tensor.rand(4, 1, 8, 8):reshape({ -1, (1 << 62) + 64, 4 })", "cannot reshape [4, 1, 8, 8] (256 values)"),
            ("joule.nn.ShallowCNN{ hidden = 4096, classes = 100000 }", "has 7980451488 parameters (31921805952 bytes)"),
            ("joule.metrics.accuracy(joule.tensor.full({2}, math.huge), joule.tensor.full({2}, math.huge))", "labels element 1: integer expected, got inf"),
            ("joule.metrics.accuracy(joule.tensor.full({2}, -math.huge), {0, 0})", "got -inf"),
        ]
        for (code, message) in cases {
            let e = luaError(Self.model + code)
            XCTAssertTrue(e.contains(message), "\(code): \(e)")
        }
    }

    /// Under a memory limit a tensor that cannot be had is a Lua error naming its size.
    func testTensorBeyondMemoryIsALuaErrorNamingTheSize() throws {
        let (status, e) = try runUnderMemoryLimit("local t = joule.tensor.zeros(1 << 30)\n")
        XCTAssertEqual(status, 1, e)
        XCTAssertTrue(e.contains("big.lua:1: ") && e.contains("cannot allocate a tensor of shape [1073741824]: 4294967296 bytes"), e)
    }

    /// A composed network whose activations outgrow memory (a wide convolution over a large batch:
    /// 512×26×26×4096 floats, 5.3 GiB) fails at the script's line naming the layer, and leaves the
    /// model usable on a batch that fits.
    func testLayerOutputBeyondMemoryIsALuaErrorNamingTheLayer() throws {
        let (status, e) = try runUnderMemoryLimit("""
            local nn = joule.nn
            local m = nn.Sequential{ nn.Conv2d(1, 4096, 3), nn.SiLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4096, 1) }
            local ok, err = pcall(function() return m:logits(joule.tensor.zeros{512, 1, 28, 28}) end)
            io.stderr:write("first: ", tostring(err), "\\n")
            io.stderr:write("small: ", m:logits(joule.tensor.zeros{2, 1, 28, 28}):size(1), "\\n")
            m:energy_grad(joule.tensor.zeros{512, 1, 56, 56})
            """)
        XCTAssertEqual(status, 1, e)
        XCTAssertTrue(e.contains("first: big.lua:3: layer 0 (Conv2d 1→4096): out of memory: cannot allocate a tensor of shape [512, 26, 26, 4096]"), e)
        XCTAssertTrue(e.contains("small: 2\n"), e)
        // energy_grad shares the batch out over the cores in pieces (`Parallel.pieces`, 16 of 32 images
        // here), so it needs far less than the whole batch's 5.3 GiB: on 56×56 images a piece's
        // convolution output alone is 1.5 GiB per core. Which layer of a piece runs out first depends
        // on the piece size (the convolution's output, or the slopes SiLU keeps beside it); either way
        // the message names the line and the layer.
        XCTAssertNotNil(e.range(of: #"big\.lua:6: layer [0-9]+ \((Conv2d 1→4096|SiLU)\): out of memory"#, options: .regularExpression), e)
    }

    /// Runs `script` as big.lua under 3 GiB of address space (enough to start, not for 4 GiB of
    /// tensor); returns the exit status (after checking it was an exit, not a crash) and stderr.
    private func runUnderMemoryLimit(_ script: String) throws -> (Int32, String) {
        try script.write(toFile: directory.appendingPathComponent("big.lua").path, atomically: true, encoding: .utf8)
        let r = try joule(["run", "big.lua"], timeout: 60, shell: "ulimit -v 3145728")
        XCTAssertTrue(r.exited, r.stderr)
        return (r.status, r.stderr)
    }

    /// Starts `joule` with `arguments`, waits for "ready" on stdout, sends one SIGINT (a second
    /// after `second` seconds when given) and returns the exit status and stderr.
    /// With `marker`, waits for that file instead.
    func interrupt(_ arguments: [String], second: Double? = nil, marker: String? = nil) throws -> (Int32, String) {
        let (p, out, err) = try startJoule(arguments, timeout: 60)
        if let marker {
            while !FileManager.default.fileExists(atPath: marker) && p.isRunning { usleep(20_000) }
        } else {
            var seen = ""
            while !seen.contains("ready") {
                let d = out.fileHandleForReading.availableData
                if d.isEmpty { break }
                seen += String(decoding: d, as: UTF8.self)
            }
        }
        // The script is inside its long call by now (the Lua between "ready" and it takes microseconds).
        usleep(300_000)
        kill(p.processIdentifier, SIGINT)
        if let second {
            usleep(useconds_t(second * 1e6))
            XCTAssertTrue(p.isRunning, "a polite script stopped at the first interrupt")
            kill(p.processIdentifier, SIGINT)
        }
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit, e)
        return (p.terminationStatus, e)
    }

    func script(_ name: String, _ code: String) throws -> String {
        let path = directory.appendingPathComponent(name).path
        try code.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testOneInterruptStopsALuaLoop() throws {
        let (status, e) = try interrupt(["run", try script("spin.lua", "print('ready') io.stdout:flush()\nwhile true do end\n")])
        XCTAssertEqual(status, 130)
        XCTAssertTrue(e.contains("spin.lua:2: interrupted"), e)
    }

    func testOneInterruptStopsAnSGLDRun() throws {
        let (status, e) = try interrupt(["run", try script("sample.lua", Self.model + """
            print('ready') io.stdout:flush()
            s:sample{ n = 2, steps = 1000000 }
            print('finished')
            """)])
        XCTAssertEqual(status, 130)
        XCTAssertTrue(e.contains("sample.lua:4: interrupted"), e)
        XCTAssertFalse(e.contains("finished"))
    }

    /// An evaluation draws samples with SGLD: the interrupt stops it inside that long call.
    func testOneInterruptStopsAnEvaluation() throws {
        let (status, e) = try interrupt(["run", try script("evaluate.lua", Self.model + """
            local jem = joule.ebm.JEM{ model = m, sampler = joule.ebm.SGLD{ model = m, steps = 1000000, image_size = 8 } }
            print('ready') io.stdout:flush()
            jem:evaluate({ images = joule.tensor.rand(4, 1, 8, 8), labels = { 0, 1, 0, 1 } }, { samples = 8 })
            """)])
        XCTAssertEqual(status, 130)
        XCTAssertTrue(e.contains("evaluate.lua:5: interrupted"), e)
    }

    /// A script that handles interrupts (it asked joule.interrupted()) keeps running after the
    /// first one, and a second stops it even in a loop that no longer asks.
    func testPoliteScriptStopsAtTheSecondInterrupt() throws {
        let (status, e) = try interrupt(["run", try script("polite.lua", """
            joule.interrupted()
            print('ready') io.stdout:flush()
            while true do end
            """)], second: 0.3)
        XCTAssertEqual(status, 130)
        XCTAssertTrue(e.contains("polite.lua:3: interrupted"), e)
    }

    func testOneInterruptStopsALoopingNotebookCell() throws {
        let nb = directory.appendingPathComponent("loop.ipynb").path
        try #"{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code", "id": "a", "metadata": {}, "outputs": [], "source": "io.open('started', 'w'):close()\nwhile true do end"}]}"#
            .write(toFile: nb, atomically: true, encoding: .utf8)
        let (status, e) = try interrupt(["notebook", "run", nb, "-o", directory.appendingPathComponent("out.ipynb").path],
                                        marker: directory.appendingPathComponent("started").path)
        XCTAssertEqual(status, 130, e)
        XCTAssertTrue(e.contains("interrupted"), e)
    }
}
