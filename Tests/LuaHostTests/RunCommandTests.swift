import Formats
import Foundation
import LuaHost
import Tensor
import TestSupport
import XCTest

/// The built `joule` executable, run as a user would.
final class RunCommandTests: LuaTestCase {
    func script(_ name: String, _ code: String) throws -> String {
        try code.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        return name
    }

    func testFailingScriptPrintsLocationAndTracebackAndExitsNonZero() throws {
        let s = try script("fail.lua", "print('before')\nlocal function inner() error('boom') end\ninner()\n")
        let r = try joule(["run", s])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdout, "before\n")
        XCTAssertTrue(r.stderr.hasPrefix("fail.lua:2: boom\nstack traceback:"), r.stderr)
        XCTAssertTrue(r.stderr.contains("fail.lua:3: in main chunk"), r.stderr)
    }

    func testBindingErrorFromTheCommandLine() throws {
        let s = try script("bad.lua", "local t = joule.tensor.zeros(2, -3)\n")
        let r = try joule(["run", s])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.hasPrefix("bad.lua:1: bad argument #2 to 'tensor.zeros' (positive integer expected, got -3)"), r.stderr)
    }

    func testParametersArgumentsAndRunFolder() throws {
        let s = try script("ok.lua", """
            local p = joule.params{ step_size = 10.0, steps = 60 }
            print(p.step_size, p.steps, table.concat(arg, ' '), arg[0])
            joule.log{ step = 1, loss = 0.5 }
            """)
        let r = try joule(["run", s, "-p", "step_size=5", "-p", "run=out", "--", "x", "-y"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("5.0\t60\tx -y\tok.lua\n"), r.stdout)
        XCTAssertTrue(r.stdout.contains("step=1  loss=0.5"), r.stdout)
        let log = try String(contentsOf: directory.appendingPathComponent("out/log.jsonl"), encoding: .utf8)
        XCTAssertEqual(log, "{\"step\":1,\"loss\":0.5}\n")

        let bad = try joule(["run", s, "-p", "stepsize=5"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.hasPrefix("ok.lua:1: unknown parameter 'stepsize' (did you mean 'step_size'?)"), bad.stderr)

        let malformed = try joule(["run", s, "-p", "step_size"])
        XCTAssertEqual(malformed.status, 1)
        XCTAssertTrue(malformed.stderr.contains("not of the form key=value"), malformed.stderr)
    }

    func testDefaultRunFolderAndMissingScript() throws {
        let s = try script("named.lua", "print(joule.run_dir())")
        let r = try joule(["run", s])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("runs/named-"), r.stdout)
        let missing = try joule(["run", "absent.lua"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("cannot open absent.lua"), missing.stderr)
    }

    func testVersionNamesLua() throws {
        let r = try joule(["version"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains(LuaState.release) && LuaState.release.hasPrefix("Lua 5.4"), r.stdout)
    }

    /// `joule version` names the build's target and the GEMM kernel family; JOULE_KERNELS forces one,
    /// and a name it does not know (or a family this CPU or build cannot run) stops joule with the reason.
    func testVersionNamesTheKernelFamilyAndJOULE_KERNELSForcesOne() throws {
        let plain = try joule(["version"], shell: "unset JOULE_KERNELS")
        XCTAssertTrue(plain.stdout.contains("\ntarget: \(BuildTarget.current.description)\n"), plain.stdout)
        XCTAssertTrue(plain.stdout.contains("GEMM kernels: default"), plain.stdout)
        let forced = try joule(["version"], shell: "export JOULE_KERNELS=portable")
        XCTAssertTrue(forced.stdout.contains("GEMM kernels: portable (JOULE_KERNELS from the environment)"), forced.stdout)
        let unknown = try joule(["version"], shell: "export JOULE_KERNELS=mkl")
        XCTAssertEqual(unknown.status, 2)
        XCTAssertTrue(unknown.stderr.contains("JOULE_KERNELS=mkl: unknown kernel family 'mkl'"), unknown.stderr)
        for f in Kernels.families {
            guard let why = f.unavailableReason else { continue }
            let refused = try joule(["version"], shell: "export JOULE_KERNELS=\(f.name)")
            XCTAssertEqual(refused.status, 2)
            XCTAssertTrue(refused.stderr.contains(why), refused.stderr)
        }
    }

    /// A writer killed in the middle of saving leaves either the previous complete file or none:
    /// never a truncated file under the real name.
    func testKilledWriterLeavesNoPartialFile() throws {
        let n = 4_000_000
        let s = try script("writer.lua", """
            local t = joule.tensor.ones(\(n))
            t:save_npy('big.npy')
            io.stdout:write('first\\n'); io.stdout:flush()
            while true do t:save_npy('big.npy') end
            """)
        let (p, out, _) = try startJoule(["run", s])
        // Wait for the first complete file, then kill during one of the rewrites.
        _ = out.fileHandleForReading.availableData
        usleep(useconds_t.random(in: 150_000...400_000))
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        let arrays = try Npy.read(directory.appendingPathComponent("big.npy").path)
        XCTAssertEqual(arrays.first?.shape, [n])
        XCTAssertEqual(arrays.first?.tensor().sum(), Float(n))
    }

    func testInterruptLetsTheScriptFinishItsStepAndExitNonZero() throws {
        // A script that asks joule.interrupted() handles interrupts: the first one only raises the flag.
        let s = try script("loop.lua", """
            joule.interrupted()
            io.stdout:write('ready\\n'); io.stdout:flush()
            local steps = 0
            while not joule.interrupted() do steps = steps + 1 end
            joule.tensor.ones(2):save_npy('saved.npy')
            print('saved after', steps)
            """)
        let (p, out, err) = try startJoule(["run", s])
        _ = out.fileHandleForReading.availableData
        kill(p.processIdentifier, SIGINT)
        let rest = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 130)
        XCTAssertTrue(rest.contains("saved after"), rest)
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent("saved.npy").path))
    }

    func testSecondInterruptStopsARunawayScript() throws {
        let s = try script("spin.lua", "joule.interrupted() io.stdout:write('ready\\n'); io.stdout:flush()\nwhile true do end\n")
        let (p, out, err) = try startJoule(["run", s])
        _ = out.fileHandleForReading.availableData
        kill(p.processIdentifier, SIGINT)
        usleep(100_000)
        kill(p.processIdentifier, SIGINT)
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 130)
        XCTAssertTrue(e.hasPrefix("spin.lua:2: interrupted"), e)
    }
}
