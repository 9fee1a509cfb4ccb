import ArgumentParser
import Foundation
import LuaHost
import Plot
import Sweep
import Tensor

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Run a script or notebook over a grid or random search of parameters, here or on Slurm.",
        discussion: """
            SWEEP.lua returns a table: script (or notebook), grid = { name = {values} }, \
            random = { samples = N, name = { uniform = {a, b} } }, seeds = {...} or repeats = N, \
            params (the same for every run), output, metric, goal ("max" or "min"), \
            plot = { x = name }. Each run is `joule run SCRIPT -p name=value ... -p run=DIR` (for a \
            notebook `joule notebook run NB -o DIR/notebook.ipynb -p ... -p run=DIR`) in its \
            own folder under OUTPUT/runs; a run's result is the table it passes to joule.result{...}. \
            Finished runs are skipped when the sweep is run again; Ctrl-C stops the runs in flight \
            (recorded as interrupted) and keeps the finished ones. At the end: OUTPUT/summary.csv, \
            a table best runs first, and a plot of the metric against a parameter.
            """)

    @Argument(help: "The sweep file (Lua returning a table).")
    var sweep: String

    @Option(help: "Runs at a time (default: the sweep's jobs, else the number of cores; on Slurm, tasks at a time).")
    var jobs: Int?

    @Flag(help: "Run again the runs that failed before.")
    var retryFailed = false

    @Flag(help: "Show what would run (and the Slurm job script) without running anything.")
    var dryRun = false

    @Option(help: "Where runs execute: local or slurm (a job array submitted with sbatch).")
    var backend: String = "local"

    @Option(help: .hidden)
    var task: Int?

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        guard Backend(rawValue: backend) != nil else {
            throw ValidationError("--backend must be one of \(Backend.allCases.map(\.rawValue).joined(separator: ", ")), got '\(backend)'")
        }
    }

    func run() throws {
        if let task {
            // One task of a Slurm job array: SWEEP is the task manifest the sweep wrote.
            do {
                let status = try Sweeper.runTask(manifest: sweep, index: task)
                if status != 0 { throw ExitCode(status) }
            } catch let e as JouleError {
                fail("joule sweep --task: \(e.message)")
            }
            return
        }
        do {
            let spec = try SweepSpec.load(sweep)
            var options = SweepOptions()
            options.jobs = jobs
            options.retryFailed = retryFailed
            options.dryRun = dryRun
            options.backend = Backend(rawValue: backend)!
            options.notebookAvailable = Joule.configuration.subcommands.contains { $0.configuration.commandName == "notebook" }
            let sweeper = Sweeper(spec: spec, options: options)
            sweeper.plotter = SweepCommand.drawPlot
            let outcome = try sweeper.execute()
            if outcome.interrupted { throw ExitCode(130) }
            if outcome.failed > 0 {
                FileHandle.standardError.write(Data("joule sweep: \(outcome.failed) of \(outcome.total) runs failed\n".utf8))
                throw ExitCode(1)
            }
        } catch let e as JouleError {
            if LuaState.interruptRequested { FileHandle.standardError.write(Data("joule sweep: \(e.message)\n".utf8)); throw ExitCode(130) }
            fail("joule sweep: \(e.message)")
        }
    }

    private func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data((message + "\n").utf8))
        Foundation.exit(1)
    }

    /// The metric against a parameter, one line per series; a parameter spanning more than two
    /// decades is drawn on a log10 axis.
    static let drawPlot: @Sendable ([(name: String, x: [Double], y: [Double])], String, String, String, String) throws -> Void = {
        series, xName, yName, title, path in
        let xs = series.flatMap(\.x)
        let logScale = (xs.min() ?? 0) > 0 && (xs.max() ?? 0) / (xs.min() ?? 1) > 100
        let lines = series.map { s in Series(s.name, x: logScale ? s.x.map { log10($0) } : s.x, y: s.y) }
        let options = LineOptions(chart: ChartOptions(title: title, xLabel: logScale ? "log10(\(xName))" : xName, yLabel: yName))
        try Figure.lines(lines, options: options).save(to: path)
    }
}
