import Foundation
import TestSupport
import XCTest

/// `joule sweep` as a user runs it: the built binary, in a temporary folder, over quick scripts.
class SweepTestCase: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        // Under /tmp (not a per-user folder): Slurm tasks must see it too.
        directory = URL(fileURLWithPath: "/tmp").appendingPathComponent("joule-sweep-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    struct Result { var status: Int32; var stdout: String; var stderr: String }

    /// Starts `joule ARGS` in the test folder with its output going to files.
    func start(_ arguments: [String]) throws -> (Process, URL, URL) {
        let p = Process()
        p.executableURL = try jouleExecutable()
        p.arguments = arguments
        p.currentDirectoryURL = directory
        let id = UUID().uuidString
        let out = directory.appendingPathComponent(".out-\(id)"), err = directory.appendingPathComponent(".err-\(id)")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = try FileHandle(forWritingTo: err)
        try p.run()
        return (p, out, err)
    }

    func finish(_ started: (Process, URL, URL), seconds: Double = 30) -> Result {
        let (p, out, err) = started
        let pid = p.processIdentifier
        // A hanging sweep is asked to stop (it then stops its runs), and killed later.
        let deadline = DispatchWorkItem { if p.isRunning { kill(pid, SIGTERM) } }
        let hard = DispatchWorkItem { if p.isRunning { kill(pid, SIGKILL) } }
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: deadline)
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds + 15, execute: hard)
        p.waitUntilExit()
        deadline.cancel(); hard.cancel()
        return Result(status: p.terminationStatus, stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    func joule(_ arguments: [String], seconds: Double = 120) throws -> Result {
        finish(try start(arguments), seconds: seconds)
    }

    func write(_ name: String, _ text: String) throws {
        try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
    }

    func read(_ name: String) -> String {
        (try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)) ?? ""
    }

    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path) }

    /// Lines of the count file the test scripts append to when they complete.
    func completions() -> [String] { read("count.txt").split(separator: "\n").map(String.init) }

    /// The summary CSV as rows of named fields (quoted fields may hold commas and newlines).
    func summary(_ output: String) -> [[String: String]] {
        var records: [[String]] = [], fields: [String] = [], cur = "", quoted = false
        var chars = Array(read(output + "/summary.csv")).makeIterator()
        var pending: Character? = nil
        while let ch = pending ?? chars.next() {
            pending = nil
            if quoted {
                if ch == "\"" {
                    if let n = chars.next() { if n == "\"" { cur.append("\"") } else { quoted = false; pending = n } } else { quoted = false }
                } else { cur.append(ch) }
            } else if ch == "\"" { quoted = true }
            else if ch == "," { fields.append(cur); cur = "" }
            else if ch == "\n" { fields.append(cur); cur = ""; records.append(fields); fields = [] }
            else { cur.append(ch) }
        }
        guard let header = records.first else { return [] }
        return records.dropFirst().map { Dictionary(uniqueKeysWithValues: zip(header, $0)) }
    }

    func statuses(_ output: String) -> [String: Int] {
        let runs = directory.appendingPathComponent(output + "/runs")
        var counts: [String: Int] = [:]
        for d in (try? FileManager.default.contentsOfDirectory(atPath: runs.path)) ?? [] {
            let s = (try? String(contentsOf: runs.appendingPathComponent(d + "/status.json"), encoding: .utf8)) ?? ""
            for state in ["finished", "failed", "interrupted", "running", "queued"] where s.contains("\"status\" : \"\(state)\"") {
                counts[state, default: 0] += 1
            }
        }
        return counts
    }

    /// A quick script: reports x*y (+seed) and appends a line to count.txt when it completes.
    let quick = """
        local p = joule.params{ x = 1, y = 0.5, seed = 0, sleep = 0.0 }
        joule.log{ step = 1, value = p.x * p.y }
        if p.sleep > 0 then os.execute("sleep " .. p.sleep) end
        if p.x == 2 and p.y == 2 and os.getenv("FAIL") ~= "no" then error("x=2, y=2 is bad") end
        if p.x == 3 and p.y == 2 and os.getenv("FAIL") ~= "no" then os.exit(3) end
        joule.result{ score = p.x * p.y + p.seed, nested = { x2 = p.x * 2 }, label = "r" .. p.x, ok = true }
        print("done", p.x, p.y)
        local f = io.open("count.txt", "a"); f:write(p.x, " ", p.y, "\\n"); f:close()
        """
}

final class SweepRunTests: SweepTestCase {
    /// A notebook sweep: each run is `joule notebook run NB -o RUN/notebook.ipynb -p ... -p run=RUN`;
    /// its joule.result (or last joule.log line) is collected as for scripts, a failing cell fails
    /// only its run, the source notebook is left as it was, and a misspelt parameter is caught.
    func testNotebookSweep() throws {
        func cell(_ source: String, tags: [String] = []) -> String {
            let quoted = source.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n")
            return #"{"cell_type": "code", "id": "\#(UUID().uuidString.prefix(8).lowercased())", "metadata": {"tags": [\#(tags.map { "\"\($0)\"" }.joined(separator: ","))]}, "execution_count": null, "outputs": [], "source": "\#(quoted)"}"#
        }
        let notebook = """
            {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
            \(cell("x = 1\ny = 0.5\nlog_only = false", tags: ["parameters"])),
            \(cell("if x == 2 and y == 3 then error('x=2, y=3 is bad') end\njoule.log{ step = 1, value = x * y }")),
            \(cell("if not log_only then joule.result{ score = x * y, label = 'r' .. x } end\nprint('done', x, y)"))
            ]}
            """
        try write("nb.ipynb", notebook)
        try write("s.lua", """
            return { notebook = "nb.ipynb", grid = { x = {1, 2}, y = {0.5, 3} }, output = "out",
                     metric = "score", plot = "x" }
            """)
        let r = try joule(["sweep", "s.lua", "--jobs", "2"])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("x=2, y=3 is bad"), r.stdout)
        let rows = summary("out")
        XCTAssertEqual(rows.map { $0["score"]! }, ["3", "1", "0.5", ""], r.stdout)
        XCTAssertEqual(rows.map { $0["status"]! }, ["finished", "finished", "finished", "failed"])
        XCTAssertEqual(rows.first?["label"], "r1")
        XCTAssertEqual(read("nb.ipynb"), notebook, "the source notebook is not written")
        // Each run keeps its executed notebook, with the injected parameters after the parameters cell.
        let runs = directory.appendingPathComponent("out/runs")
        let folders = try FileManager.default.contentsOfDirectory(atPath: runs.path)
        XCTAssertEqual(folders.count, 4)
        for f in folders {
            let out = try String(contentsOf: runs.appendingPathComponent(f + "/notebook.ipynb"), encoding: .utf8)
            XCTAssertTrue(out.contains("injected-parameters"), f)
            XCTAssertEqual(FileManager.default.fileExists(atPath: runs.appendingPathComponent(f + "/log.jsonl").path),
                           !f.hasPrefix("x=2,y=3"), f)
        }
        XCTAssertTrue(exists("out/score_vs_x.png"))
        // Rerunning does no work.
        let again = try joule(["sweep", "s.lua"])
        XCTAssertTrue(again.stdout.contains("3 finished, 1 failed"), again.stdout)

        // Without joule.result, the last joule.log line is the result.
        try write("log.lua", "return { notebook = 'nb.ipynb', params = { log_only = true }, grid = { x = {2} }, output = 'log', metric = 'value' }")
        let logged = try joule(["sweep", "log.lua"])
        XCTAssertEqual(logged.status, 0, logged.stdout + logged.stderr)
        XCTAssertEqual(summary("log").first?["value"], "1")

        // A misspelt parameter fails its run with a suggestion.
        try write("typo.lua", "return { notebook = 'nb.ipynb', grid = { yy = {1} }, output = 'typo' }")
        let typo = try joule(["sweep", "typo.lua"])
        XCTAssertEqual(typo.status, 1)
        XCTAssertTrue(typo.stdout.contains("unknown parameter 'yy' (did you mean 'y'?)"), typo.stdout)
    }

    func testAllResultsCollectedBestFirst() throws {
        try write("quick.lua", quick)
        try write("s.lua", """
            return { script = "quick.lua", grid = { x = {1, 2, 3}, y = {0.5, 1} }, output = "out",
                     metric = "score", goal = "max", plot = "x" }
            """)
        let r = try joule(["sweep", "s.lua", "--jobs", "2"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertEqual(completions().count, 6)
        let rows = summary("out")
        XCTAssertEqual(rows.count, 6)
        XCTAssertEqual(rows.map { $0["score"]! }, ["3", "2", "1.5", "1", "1", "0.5"], r.stdout)
        XCTAssertEqual(rows.map { $0["status"]! }, Array(repeating: "finished", count: 6))
        XCTAssertEqual(rows[0]["nested.x2"], "6")
        XCTAssertEqual(rows[0]["label"], "r3")
        XCTAssertEqual(rows[0]["ok"], "true")
        XCTAssertEqual(rows[0]["x"], "3")
        // Each run has its own folder with its output, log, result and status.
        let run = "out/runs/" + rows[0]["run"]!
        for f in ["stdout.txt", "stderr.txt", "log.jsonl", "result.json", "status.json"] {
            XCTAssertTrue(exists(run + "/" + f), "\(run)/\(f)")
        }
        XCTAssertEqual(read(run + "/log.jsonl"), "{\"step\":1,\"value\":3.0}\n")
        XCTAssertTrue(read(run + "/stdout.txt").contains("done\t3\t1"), read(run + "/stdout.txt"))
        XCTAssertTrue(read(run + "/result.json").contains("\"nested\":{\"x2\":6}"), read(run + "/result.json"))
        // The terminal table: header, best first.
        let table = r.stdout.components(separatedBy: "\n").drop { !$0.hasPrefix("#") }
        XCTAssertTrue(table.first?.hasPrefix("#  x  y    score") ?? false, r.stdout)
        XCTAssertTrue(table.dropFirst(2).first?.contains("finished") ?? false, r.stdout)
        XCTAssertTrue(exists("out/score_vs_x.png"), r.stdout)
    }

    func testFailingRunsAreRecordedAndTheOthersFinish() throws {
        try write("quick.lua", quick)
        try write("s.lua", """
            return { script = "quick.lua", grid = { x = {1, 2, 3}, y = {1, 2} }, output = "out", metric = "score" }
            """)
        let r = try joule(["sweep", "s.lua", "--jobs", "2"])
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.contains("2 of 6 runs failed"), r.stderr)
        XCTAssertEqual(completions().count, 4)
        let rows = summary("out")
        XCTAssertEqual(rows.map { $0["status"]! }, ["finished", "finished", "finished", "finished", "failed", "failed"])
        let errors = rows.suffix(2).map { $0["error"]! }.joined(separator: "\n")
        XCTAssertTrue(errors.contains("quick.lua:4: x=2, y=2 is bad"), errors)
        XCTAssertTrue(errors.contains("exit status 1"), errors)
        XCTAssertTrue(errors.contains("exit status 3"), errors)
        XCTAssertTrue(r.stdout.contains("failed runs:"), r.stdout)
        XCTAssertTrue(r.stdout.contains("x=2, y=2 is bad"), r.stdout)

        // Failed runs are kept on a plain rerun, and rerun with --retry-failed.
        let again = try joule(["sweep", "s.lua"])
        XCTAssertEqual(again.status, 1)
        XCTAssertEqual(completions().count, 4)
        XCTAssertTrue(again.stdout.contains("2 failed (kept; --retry-failed reruns them)"), again.stdout)
        setenv("FAIL", "no", 1)
        defer { unsetenv("FAIL") }
        let retry = try joule(["sweep", "s.lua", "--retry-failed"])
        XCTAssertEqual(retry.status, 0, retry.stdout + retry.stderr)
        XCTAssertEqual(completions().count, 6)
        XCTAssertEqual(summary("out").map { $0["status"]! }, Array(repeating: "finished", count: 6))
        XCTAssertEqual(summary("out").first?["score"], "6")
    }

    func testRerunDoesNoWorkAndNewGridValuesRunAlone() throws {
        try write("quick.lua", quick)
        try write("s.lua", "return { script = 'quick.lua', grid = { x = {1, 2} }, repeats = 2, output = 'out', metric = 'score' }")
        XCTAssertEqual(try joule(["sweep", "s.lua"]).status, 0)
        XCTAssertEqual(completions().count, 4)
        let before = read("out/summary.csv")

        let dry = try joule(["sweep", "s.lua", "--dry-run"])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        XCTAssertTrue(dry.stdout.contains("4 finished, 0 to run"), dry.stdout)
        XCTAssertTrue(dry.stdout.contains("skip  [finished] x=1 seed=1"), dry.stdout)

        let again = try joule(["sweep", "s.lua"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("nothing to run"), again.stdout)
        XCTAssertEqual(completions().count, 4)
        XCTAssertEqual(read("out/summary.csv"), before)

        try write("s.lua", "return { script = 'quick.lua', grid = { x = {1, 2, 5} }, repeats = 2, output = 'out', metric = 'score' }")
        let more = try joule(["sweep", "s.lua", "--dry-run"])
        XCTAssertTrue(more.stdout.contains("run   [new] x=5 seed=2"), more.stdout)
        XCTAssertTrue(more.stdout.contains("-p x=5 -p run=out/runs/x=5,seed=2-"), more.stdout)
        XCTAssertEqual(completions().count, 4, "a dry run runs nothing")
        XCTAssertEqual(try joule(["sweep", "s.lua"]).status, 0)
        XCTAssertEqual(completions().suffix(2), ["5 0.5", "5 0.5"])
        XCTAssertEqual(summary("out").first?["score"], "4.5")
    }

    func testInterruptedSweepResumes() throws {
        try write("quick.lua", quick)
        try write("s.lua", "return { script = 'quick.lua', grid = { x = {1, 4, 5, 6, 7, 8} }, params = { sleep = 0.6 }, output = 'out', metric = 'score' }")
        let started = try start(["sweep", "s.lua", "--jobs", "2"])
        let deadline = Date().addingTimeInterval(60)
        while completions().isEmpty && Date() < deadline { usleep(20_000) }
        usleep(150_000)  // the next runs are under way
        kill(started.0.processIdentifier, SIGINT)
        let r = finish(started)
        XCTAssertEqual(r.status, 130, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("interrupted: run the same command again"), r.stdout)
        let counts = statuses("out")
        let done = counts["finished"] ?? 0
        XCTAssertGreaterThanOrEqual(done, 1)
        XCTAssertLessThan(done, 6)
        XCTAssertGreaterThanOrEqual(counts["interrupted"] ?? 0, 1, "\(counts)")
        XCTAssertNil(counts["running"])
        XCTAssertEqual(completions().count, done)
        XCTAssertTrue(summary("out").contains { $0["status"] == "interrupted" })

        let resumed = try joule(["sweep", "s.lua", "--jobs", "2"])
        XCTAssertEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("\(done) finished, \(6 - done) to run"), resumed.stdout)
        XCTAssertEqual(completions().count, 6, "finished runs are not run again")
        XCTAssertEqual(statuses("out"), ["finished": 6])
    }

    func testAStuckRunTimesOutAndABadScriptIsClear() throws {
        try write("quick.lua", quick)
        try write("s.lua", "return { script = 'quick.lua', grid = { sleep = {0.0, 30} }, timeout = 1, output = 'out' }")
        let t0 = Date()
        let r = try joule(["sweep", "s.lua"])
        XCTAssertLessThan(Date().timeIntervalSince(t0), 20)
        XCTAssertEqual(r.status, 1, r.stdout)
        XCTAssertTrue(r.stdout.contains("timed out"), r.stdout)

        try write("bad.lua", "return { script = 'missing.lua', grid = { x = {1} } }")
        let bad = try joule(["sweep", "bad.lua"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("script missing.lua not found"), bad.stderr)

        try write("nb.lua", "return { notebook = 'x.ipynb', grid = { x = {1} } }")
        let nb = try joule(["sweep", "nb.lua"])
        XCTAssertEqual(nb.status, 1)
        XCTAssertTrue(nb.stderr.contains("notebook x.ipynb not found"), nb.stderr)

        try write("typo.lua", "return { script = 'quick.lua', grid = { stepsize = {1} } }")
        let typo = try joule(["sweep", "typo.lua"])
        XCTAssertEqual(typo.status, 1)
        XCTAssertTrue(typo.stdout.contains("unknown parameter 'stepsize'"), typo.stdout)
    }
}
