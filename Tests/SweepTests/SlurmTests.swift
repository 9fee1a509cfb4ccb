import Foundation
import XCTest

/// The Slurm backend against a real Slurm (scripts/test starts a single-node one with scripts/slurm-up).
final class SlurmTests: SweepTestCase {
    func testJobArrayRunsEndToEnd() throws {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        guard path.split(separator: ":").contains(where: { FileManager.default.isExecutableFile(atPath: "\($0)/sbatch") }) else {
            throw XCTSkip("sbatch not found: Slurm is not installed (scripts/test installs and starts it with scripts/slurm-up)")
        }
        try write("quick.lua", quick)
        try write("s.lua", """
            return { script = "quick.lua", grid = { x = {1, 4, 5} }, output = "out", metric = "score",
                     slurm = { poll = 0.3, time = "00:05:00" } }
            """)
        let r = try joule(["sweep", "s.lua", "--backend", "slurm", "--jobs", "2"], seconds: 180)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("submitted Slurm job"), r.stdout)
        let rows = summary("out")
        XCTAssertEqual(rows.map { $0["status"]! }, ["finished", "finished", "finished"], r.stdout)
        XCTAssertEqual(rows.map { $0["score"]! }, ["2.5", "2", "0.5"])
        XCTAssertEqual(completions().count, 3)
        guard rows.count == 3 else { return }   // failed above; indexing would crash the whole suite
        let status = read("out/runs/" + rows[0]["run"]! + "/status.json")
        XCTAssertTrue(status.contains("\"backend\" : \"slurm\"") && status.contains("\"slurm_job\""), status)
        let scripts = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("out/slurm").path)
        let job = try XCTUnwrap(scripts.first { $0.hasSuffix(".sh") })
        XCTAssertTrue(read("out/slurm/" + job).contains("#SBATCH --array=0-2%2"))

        // Finished runs are not submitted again.
        let again = try joule(["sweep", "s.lua", "--backend", "slurm"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("nothing to run"), again.stdout)
        XCTAssertFalse(again.stdout.contains("submitted"), again.stdout)
    }

    func testFailingTaskIsRecorded() throws {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        guard path.split(separator: ":").contains(where: { FileManager.default.isExecutableFile(atPath: "\($0)/sbatch") }) else {
            throw XCTSkip("sbatch not found: Slurm is not installed (scripts/test installs and starts it with scripts/slurm-up)")
        }
        try write("quick.lua", quick)
        try write("s.lua", "return { script = 'quick.lua', grid = { x = {1, 2} }, params = { y = 2.0 }, output = 'out', metric = 'score', slurm = { poll = 0.3 } }")
        let r = try joule(["sweep", "s.lua", "--backend", "slurm"], seconds: 180)
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        let rows = summary("out")
        XCTAssertEqual(rows.map { $0["status"]! }, ["finished", "failed"], r.stdout + r.stderr)
        guard rows.count == 2 else { return }
        XCTAssertTrue(rows[1]["error"]!.contains("x=2, y=2 is bad"), rows[1]["error"]!)
    }
}
