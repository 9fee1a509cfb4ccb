import Foundation
import Sweep
import Tensor
import XCTest

/// What a sweep writes for a shell: every value arrives byte for byte as one word, and nothing from a
/// spec runs as a command (a newline in a grid value once ended a comment line of the Slurm script).
final class ShellTextTests: SweepTestCase {
    /// Runs `script` (bytes) with `shell` and returns its standard output.
    func output(of script: [UInt8], shell: String) throws -> [UInt8] {
        let file = directory.appendingPathComponent("words-\(UUID().uuidString).sh")
        try Data(script).write(to: file)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: shell)
        p.arguments = [file.path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, shell)
        return Array(data)
    }

    /// Any bytes but NUL, written as a word into a script that `printf %s WORD`s them: sh and bash
    /// print the very bytes (NUL separates the words in the output, since no word holds one).
    func testWordsOfArbitraryBytesReadBackThroughARealShell() throws {
        var cases: [[UInt8]] = [[], Array("plain-word_1.0".utf8), Array("it's".utf8), Array("''".utf8), Array("a\nb".utf8),
                                Array("$(touch pwned)`id`;|&<>*?~#!{}[]\\\"".utf8), [0xff, 0xfe, 0x80], Array(" \t\r\n".utf8),
                                Array("-n".utf8), Array("%s%%".utf8)]
        var state: UInt64 = 0x5EED
        func draw() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let hard = Array("'\"\\$`!\n;&|()<> \t*?#~=%-".utf8) + [1, 0x7f, 0x80, 0xff]
        for _ in 0..<1500 {
            let n = Int(draw() % 24)
            cases.append((0..<n).map { _ in
                let b = draw() % 2 == 0 ? hard[Int(draw() % UInt64(hard.count))] : UInt8(truncatingIfNeeded: draw())
                return b == 0 ? 1 : b
            })
        }
        var script: [UInt8] = []
        for c in cases { script += Array("printf %s ".utf8) + (try ShellText.word(c)) + Array("\nprintf '\\000'\n".utf8) }
        for shell in ["/bin/sh", "/bin/bash"] where FileManager.default.isExecutableFile(atPath: shell) {
            let words = try output(of: script, shell: shell).split(separator: 0, omittingEmptySubsequences: false).dropLast().map(Array.init)
            XCTAssertEqual(words.count, cases.count, shell)
            for (w, c) in zip(words, cases) where w != c { XCTFail("\(shell): \(c) came back as \(w)"); break }
        }
        XCTAssertFalse(exists("pwned"))
        XCTAssertThrowsError(try ShellText.word([0x61, 0, 0x62])) { XCTAssertTrue("\($0)".contains("NUL"), "\($0)") }
    }

    /// The Slurm script of a sweep whose values and names hold newlines, quotes and `$(...)`: every
    /// line is a comment, a directive or one of the script's own commands, and bash runs none of the
    /// values (the script is run here with a stand-in `joule` that prints its arguments).
    func testSlurmScriptRunsNothingFromTheSpec() throws {
        try write("quick.lua", quick)
        try write("s.lua", #"""
            return { script = "quick.lua", output = "out", name = "n\ntouch pwned-name",
                     grid = { x = {1, "a\ntouch pwned-grid\n#", "$(touch pwned-sub)'\"`touch pwned-tick`"} } }
            """#)
        let r = try joule(["sweep", "s.lua", "--backend", "slurm", "--dry-run"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let script = try XCTUnwrap(r.stdout.components(separatedBy: "Slurm job script (not submitted):\n").last)
        // The script, less the blank line the console adds after it.
        let lines = script.split(separator: "\n", omittingEmptySubsequences: false).dropLast(2)
        XCTAssertEqual(lines.first, "#!/bin/bash")
        for line in lines where !line.hasPrefix("#") {
            XCTAssertTrue(line == "set -u" || line.hasPrefix("export ") || line.hasPrefix("exec "), "a command from the spec: \(line)")
        }
        XCTAssertTrue(script.contains(#"#   1: x=a\x0atouch pwned-grid\x0a# -> "#), script)
        // Run as Slurm would, with the exec'd joule a stand-in that only records its arguments.
        let fake = directory.appendingPathComponent("fake-joule")
        try "#!/bin/sh\nprintf '%s\\n' \"$@\" > args.txt\n".write(to: fake, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake.path)
        let exec = try XCTUnwrap(lines.last { $0.hasPrefix("exec ") })
        let runnable = lines.dropLast().joined(separator: "\n") + "\nexec " + fake.path + exec.dropFirst(5).drop { $0 != " " } + "\n"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", runnable]
        p.currentDirectoryURL = directory
        p.environment = ["SLURM_ARRAY_TASK_ID": "1", "PATH": "/usr/bin:/bin"]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        XCTAssertTrue(read("args.txt").hasPrefix("sweep\n"), read("args.txt"))
        for name in ["pwned-name", "pwned-grid", "pwned-sub", "pwned-tick"] { XCTAssertFalse(exists(name), name) }
    }

    /// sbatch must read a directive's value as it is: one with a control character is refused, with
    /// the option named, and nothing is written; a NUL in any value is refused when the spec is read.
    func testControlCharactersInDirectivesAndNULsAreRefused() throws {
        try write("quick.lua", quick)
        for (field, value) in [("partition", #""debug\nhostname""#), ("time", #""1:00\r""#), ("mem", #""1G\27""#)] {
            try write("s.lua", "return { script = 'quick.lua', output = 'out', grid = { x = {1, 2} }, slurm = { \(field) = \(value) } }")
            let r = try joule(["sweep", "s.lua", "--backend", "slurm", "--dry-run"])
            XCTAssertEqual(r.status, 1, r.stdout)
            XCTAssertTrue(r.stderr.contains("slurm.\(field) holds a control character"), r.stderr)
        }
        try write("s.lua", "return { script = 'quick.lua', output = 'out', grid = { x = {1, 2} }, slurm = { extra = { '--qos=a\\nid' } } }")
        let extra = try joule(["sweep", "s.lua", "--backend", "slurm", "--dry-run"])
        XCTAssertTrue(extra.stderr.contains("slurm.extra holds a control character"), extra.stderr)
        try write("s.lua", "return { script = 'quick.lua', output = 'out', grid = { x = {1, 'a\\0b'} } }")
        let nul = try joule(["sweep", "s.lua", "--dry-run"])
        XCTAssertEqual(nul.status, 1, nul.stdout)
        XCTAssertTrue(nul.stderr.contains("grid.x holds a NUL byte"), nul.stderr)
        XCTAssertFalse(exists("out"))
    }
}
