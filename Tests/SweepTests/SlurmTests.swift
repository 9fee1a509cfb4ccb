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

    /// A Slurm that starts tasks at once can finish them before `sbatch` has returned (CI saw it:
    /// allocated 3 ms after submission, done 50 ms later). Their outcomes must survive. Real Slurm
    /// gives that order only sometimes, so here an `sbatch` on PATH runs the array's tasks itself,
    /// as Slurm would (same script, same variables), before printing the job id.
    func testTasksEndingBeforeSbatchReturnsKeepTheirOutcome() throws {
        let bin = directory.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let tools = [
            "sbatch": #"""
                #!/bin/bash
                # sbatch --parsable SCRIPT: runs every task of SCRIPT's --array now, then prints the job id.
                script=${@: -1}
                last=$(sed -n 's/^#SBATCH --array=0-\([0-9]*\).*/\1/p' "$script")
                dir=$(sed -n 's/^#SBATCH --chdir=//p' "$script")
                for i in $(seq 0 "$last"); do
                  (cd "$dir" && SLURM_ARRAY_JOB_ID=77 SLURM_ARRAY_TASK_ID=$i SLURM_JOB_ID=$((78 + i)) bash "$script" >/dev/null 2>&1)
                done
                echo 77
                """#,
            "squeue": "#!/bin/bash\nexit 0\n",                          // the job has left the queue
            "sacct": "#!/bin/bash\necho 'no accounting' >&2; exit 1\n",   // as on a bare Slurm
        ]
        for (name, text) in tools {
            let url = bin.appendingPathComponent(name)
            try text.write(to: url, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
        }
        let oldPath = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        setenv("PATH", bin.path + ":" + oldPath, 1)
        defer { setenv("PATH", oldPath, 1) }

        try write("quick.lua", quick)
        try write("s.lua", "return { script = 'quick.lua', grid = { x = {1, 2} }, params = { y = 2.0 }, output = 'out', metric = 'score', slurm = { poll = 0.1 } }")
        let r = try joule(["sweep", "s.lua", "--backend", "slurm"], seconds: 60)
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("submitted Slurm job 77"), r.stdout)
        let rows = summary("out")
        XCTAssertEqual(rows.map { $0["status"]! }, ["finished", "failed"], r.stdout + r.stderr)
        XCTAssertEqual(completions(), ["1 2"])
        guard rows.count == 2 else { return }
        XCTAssertEqual(rows[0]["score"], "2")
        XCTAssertTrue(rows[1]["error"]!.contains("x=2, y=2 is bad"), rows[1]["error"]!)
        XCTAssertTrue(read("out/runs/" + rows[0]["run"]! + "/status.json").contains("\"slurm_job\" : \"77_0\""))
    }
}
