import Foundation
import JouleCore

/// The Slurm task manifest as JSON (the file `joule sweep MANIFEST --task I` reads in each task).
extension TaskManifest {
    var json: JSON {
        .object([
            "joule": .string(joule), "script": .string(script), "notebook": .bool(notebook), "args": .strings(args),
            "workingDirectory": .string(workingDirectory), "environment": .object(environment.mapValues(JSON.string)),
            "output": .string(output),
            "runs": .array(runs.map { .object(["params": .array($0.params.map(JSON.strings)), "varying": .strings($0.varying)]) }),
        ])
    }

    init(json data: Data, path: String) throws {
        let bad = JouleError("\(path): not a task manifest written by joule sweep")
        guard let j = try? JSON.parse(data), let joule = j["joule"]?.string, let script = j["script"]?.string,
              let notebook = j["notebook"]?.bool, let args = j["args"]?.strings, let wd = j["workingDirectory"]?.string,
              let env = j["environment"]?.object, let output = j["output"]?.string, let runs = j["runs"]?.array else { throw bad }
        var environment: [String: String] = [:]
        for (k, v) in env { guard let s = v.string else { throw bad }; environment[k] = s }
        var entries: [Entry] = []
        for r in runs {
            // Each parameter is a [name, value] pair (TaskManifest.run reads both).
            guard let ps = r["params"]?.array, let varying = r["varying"]?.strings else { throw bad }
            var params: [[String]] = []
            for p in ps { guard let pair = p.strings, pair.count == 2 else { throw bad }; params.append(pair) }
            entries.append(Entry(params: params, varying: varying))
        }
        self.init(joule: joule, script: script, notebook: notebook, args: args, workingDirectory: wd,
                  environment: environment, output: output, runs: entries)
    }
}
