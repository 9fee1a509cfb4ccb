import Console
import Foundation
import LuaHost
import TestSupport
import XCTest

/// The console as a user meets it: `joule` on a pseudo-terminal (see PseudoTerminal), and with
/// standard input from a pipe.
final class ConsoleTests: XCTestCase {
    var directory: URL!
    var terminals: [PseudoTerminal] = []

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("console-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        for t in terminals { t.kill() }
        terminals = []
        try? FileManager.default.removeItem(at: directory)
    }

    /// The environment of a console under test: its own HOME (so history goes to the test's
    /// folder), a terminal type libedit knows.
    var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["HOME"] = directory.path
        env["TERM"] = "xterm"
        env["JOULE_HISTORY"] = nil
        return env
    }

    /// `joule ARGUMENTS` on a fresh pseudo-terminal, its first prompt already shown.
    func console(_ arguments: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws -> PseudoTerminal {
        let t = try PseudoTerminal(try jouleExecutable().path, arguments, environment: environment)
        terminals.append(t)
        t.expect("Ctrl-D to leave", timeout: 30, file: file, line: line)
        t.expect("> ", file: file, line: line)
        return t
    }

    /// Ctrl-D: the console leaves with status 0.
    func leave(_ t: PseudoTerminal, file: StaticString = #filePath, line: UInt = #line) {
        t.waitForPrompt(file: file, line: line)
        t.send("\u{04}")
        XCTAssertEqual(t.wait(timeout: 15), 0, "the console did not leave on Ctrl-D:\n\(t.output)", file: file, line: line)
    }

    // MARK: on a terminal

    func testExpressionPrintsItsValue() throws {
        let t = try console()
        t.send("1 + 2\n")
        t.expect("\n3\r\n")
        t.send("'a' .. 'b', 40 + 2\n")
        t.expect("ab\t42")
        t.send("'×' .. 'é'\n")
        t.expect("×é")
        t.send("{ 1, 2, name = 'x', inner = { y = true } }\n")
        t.expect("{ 1, 2, inner = { y = true }, name = \"x\" }")
        t.send("joule.tensor.ones(2, 3)\n")
        t.expect("Tensor 2×3 float32  min 1  max 1  mean 1")
        t.expect("[1, 1, 1, 1, 1, 1]")
        t.send("x = 5\n")
        t.send("x * 2\n")
        t.expect("10")
        leave(t)
    }

    func testMultiLineFunctionDefinition() throws {
        let t = try console()
        t.send("function square(x)\n")
        t.expect(">> ")
        t.send("  local y = x * x\n")
        t.expect(">> ")
        t.send("  return y\n")
        t.expect(">> ")
        t.send("end\n")
        t.expect("> ")
        t.send("square(7)\n")
        t.expect("49")
        leave(t)
    }

    func testTabCompletesGlobalsAndFields() throws {
        let t = try console()
        // `jou` completes to `joule` (the only global so named), then the line runs.
        t.send("jou\t")
        t.expect("le")
        t.send(".version\n")
        t.expect(JouleModule.version)
        t.send("joule.tensor.zer\t")
        t.expect("os")
        t.send("(3)\n")
        t.expect("Tensor 3 float32")
        leave(t)
    }

    func testErrorKeepsTheSession() throws {
        let t = try console()
        t.send("error('boom')\n")
        t.expect("stdin:1: boom")
        t.send("joule.tensor.zeros(2, -3)\n")
        t.expect("bad argument #2 to 'tensor.zeros'")
        t.send("local x = = 1\n")
        t.expect("unexpected symbol")
        t.send("40 + 2\n")
        t.expect("42")
        leave(t)
    }

    func testCtrlCStopsALongLoopAndThePromptReturns() throws {
        let t = try console()
        t.send("n = 0; while true do n = n + 1 end\n")
        // Let the loop start before interrupting it.
        Thread.sleep(forTimeInterval: 0.5)
        XCTAssertFalse(t.drain(0.3).contains("> "), "the loop did not run")
        t.send("\u{03}")
        t.expect("interrupted")
        t.expect("> ")
        t.send("n > 0\n")
        t.expect("true")
        t.waitForPrompt()
        // Ctrl-C at the prompt drops the typed line and keeps the session.
        t.send("never = 1\u{03}")
        t.expect("> ")
        t.send("never == nil\n")
        t.expect("true")
        leave(t)
    }

    func testHelpShowsDocumentation() throws {
        let t = try console()
        let doc = try XCTUnwrap(JouleDocs.lookup("joule.ebm.SGLD"))
        let signature = String(doc.prefix { $0 != "\n" }.prefix(30))
        t.send("help(joule.ebm.SGLD)\n")
        t.expect(signature)
        t.send("?joule.ebm.SGLD\n")
        t.expect(signature)
        t.send("?no_such_thing\n")
        t.expect("no documentation for 'no_such_thing'")
        leave(t)
    }

    func testHistoryIsSavedAndRecalled() throws {
        let t = try console()
        t.send("print(12345 + 1)\n")
        t.expect("12346")
        leave(t)
        let history = try String(contentsOf: directory.appendingPathComponent(".joule_history"), encoding: .utf8)
        XCTAssertTrue(history.contains("12345"), history)

        // A new session recalls it with the up arrow.
        let u = try console()
        u.send("\u{1B}[A")
        u.expect("12345")
        u.send("\n")
        u.expect("12346")
        leave(u)
    }

    func testScriptThenConsoleWithItsGlobalsAndParameters() throws {
        try """
            local p = joule.params{ steps = 60 }
            answer = p.steps * 2
            """.write(to: directory.appendingPathComponent("setup.lua"), atomically: true, encoding: .utf8)
        let t = try console(["-i", directory.appendingPathComponent("setup.lua").path, "-p", "steps=21"])
        t.send("answer\n")
        t.expect("42")
        leave(t)
    }

    // MARK: from a pipe

    struct Result { var status: Int32; var stdout: String; var stderr: String }

    func piped(_ input: String, _ arguments: [String] = []) throws -> Result {
        let p = Process()
        p.executableURL = try jouleExecutable()
        p.arguments = arguments
        p.currentDirectoryURL = directory
        p.environment = environment
        let inp = Pipe(), out = Pipe(), err = Pipe()
        p.standardInput = inp
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let pid = p.processIdentifier
        DispatchQueue.global().asyncAfter(deadline: .now() + 60) { if p.isRunning { kill(pid, SIGKILL) } }
        inp.fileHandleForWriting.write(input.data(using: .utf8)!)
        try inp.fileHandleForWriting.close()
        // Both pipes drain at once: a child blocked on a full stderr would never close stdout.
        let errors = Drain(err.fileHandleForReading)
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = errors.wait()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                      stderr: String(decoding: e, as: UTF8.self))
    }

    func testPipedInputRunsAsAScript() throws {
        let ok = try piped("print(1)\nlocal t = joule.tensor.ones(2)\nprint(t:sum())\n")
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(ok.stdout, "1\n2.0\n")
        XCTAssertFalse(ok.stdout.contains("> "), "no prompt when input is not a terminal")

        let bad = try piped("print('before')\nlocal function f() error('boom') end\nf()\n")
        XCTAssertEqual(bad.status, 1)
        XCTAssertEqual(bad.stdout, "before\n")
        XCTAssertTrue(bad.stderr.hasPrefix("stdin:2: boom\nstack traceback:"), bad.stderr)
        XCTAssertTrue(bad.stderr.contains("stdin:3: in main chunk"), bad.stderr)

        let syntax = try piped("x = = 1\n")
        XCTAssertEqual(syntax.status, 1)
        XCTAssertTrue(syntax.stderr.hasPrefix("stdin:1:"), syntax.stderr)
    }

    func testPipedInputTakesParameters() throws {
        let ok = try piped("local p = joule.params{ steps = 60 }\nprint(p.steps)\n", ["-p", "steps=5"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(ok.stdout, "5\n")
        let typo = try piped("local p = joule.params{ step_size = 10.0 }\n", ["-p", "stepsize=5"])
        XCTAssertEqual(typo.status, 1)
        XCTAssertTrue(typo.stderr.contains("unknown parameter 'stepsize' (did you mean 'step_size'?)"), typo.stderr)
        let unused = try piped("print(1)\n", ["-p", "steps=5"])
        XCTAssertEqual(unused.status, 1)
        XCTAssertTrue(unused.stderr.contains("never calls joule.params"), unused.stderr)
    }

    func testPipedInputAfterAScriptSeesItsGlobals() throws {
        let good = directory.appendingPathComponent("good.lua").path
        try "x = 7\n".write(toFile: good, atomically: true, encoding: .utf8)
        let ok = try piped("print(x * 6)\n", ["-i", good])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(ok.stdout, "42\n")

        let bad = directory.appendingPathComponent("bad.lua").path
        try "x = 7\nerror('broken')\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let failed = try piped("print('not run')\n", ["-i", bad])
        XCTAssertEqual(failed.status, 1)
        XCTAssertEqual(failed.stdout, "")
        XCTAssertTrue(failed.stderr.hasPrefix("\(bad):2: broken"), failed.stderr)
    }

    // MARK: in process

    func testCompletionsReplaceTheWholeWord() throws {
        let c = Console(host: try ScriptHost(script: nil), historyPath: nil)
        XCTAssertEqual(c.completions(line: "jou", start: 0, end: 3), ["joule"])
        XCTAssertTrue(c.completions(line: "x = joule.ebm.SG", start: 4, end: 16).contains("joule.ebm.SGLD"))
        XCTAssertEqual(c.completions(line: "print('jou", start: 7, end: 10), [])
        XCTAssertEqual(c.completions(line: "'×é', jou", start: 6, end: 9), ["joule"])
        XCTAssertEqual(c.completions(line: "x = jou + 1", start: 4, end: 7), ["joule"])
        XCTAssertEqual(c.completions(line: "nothing_like_this", start: 0, end: 17), [])
        XCTAssertTrue(c.completions(line: "joule.tensor.zeros(2):ma", start: 22, end: 24).isEmpty)
        try c.lua.run(string: "t = joule.tensor.zeros(2)")
        XCTAssertTrue(c.completions(line: "t:ma", start: 0, end: 4).contains("t:matmul"))
    }

    func testValueFormatting() throws {
        let c = Console(host: try ScriptHost(script: nil), historyPath: nil)
        XCTAssertEqual(try c.show("{ 3, 2, 1 }"), "{ 3, 2, 1 }")
        XCTAssertEqual(try c.show("{ a = 'x\\n', [10] = 1, [true] = 2 }"), "{ [10] = 1, a = \"x\\n\", [true] = 2 }")
        XCTAssertEqual(try c.show("{ {{{{1}}}} }"), "{ { { {…} } } }")
        XCTAssertEqual(try c.show("(function() local t = {}; t.self = t; return t end)()"), "{ self = {…cycle} }")
        XCTAssertEqual(try c.show("'plain'"), "plain")
        XCTAssertEqual(try c.show("joule.tensor.new{ { 1, 2 }, { 3, 6 } }"),
                       "Tensor 2×2 float32  min 1  max 6  mean 3\n[1, 2, 3, 6]")
        let long = try c.show("(function() local t = {} for i = 1, 100 do t[i] = i end return t end)()")
        XCTAssertTrue(long.hasPrefix("{\n  1,\n  2,"), long)
        XCTAssertTrue(long.hasSuffix("  40,\n  … (60 more)\n}"), long)
        // A broken __tostring shows as text, not as an error.
        XCTAssertEqual(try c.show("setmetatable({}, { __tostring = function() error('no') end })"), "(unprintable table)")
    }
}

/// Reads a file handle to its end on another thread.
final class Drain: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)
    init(_ handle: FileHandle) {
        DispatchQueue.global().async { self.data = handle.readDataToEndOfFile(); self.done.signal() }
    }
    func wait() -> Data { done.wait(); return data }
}
