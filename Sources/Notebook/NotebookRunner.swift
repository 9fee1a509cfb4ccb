import Foundation
import LuaHost
import JouleCore

/// Runs a notebook's Lua code cells in order in one `LuaSession` (`joule notebook run`), with
/// papermill's conventions for parameters.
public final class NotebookRunner {
    public struct Report {
        public var notebook: NotebookFile
        /// The first failing cell (1-based position among all cells) and its error; nil when all ran.
        public var failure: (cell: Int, error: CellError)?
        public var executed: Int
    }

    /// `-p key=value` texts: injected as a cell of Lua assignments (`key = value`) tagged
    /// `injected-parameters` right after the cell tagged `parameters` (at the top when there is
    /// none), and also seen by `joule.params`.
    public let parameters: [String]
    public let allowErrors: Bool
    /// Echo each cell's outputs on the terminal as it runs.
    public var echo: ((String) -> Void)?

    public init(parameters: [String] = [], allowErrors: Bool = false) {
        self.parameters = parameters
        self.allowErrors = allowErrors
    }

    public func run(_ input: NotebookFile, path: String? = nil) throws -> Report {
        var nb = input
        // With a cell tagged parameters, the injected cell gives the values to the notebook (its
        // globals, and joule.params through joule.set_params), as papermill's cell does through
        // the kernel; the host itself sees only the names it reads (`run`: the run folder). Without
        // one, joule.params sees every -p value, as in a script.
        let keys = try Parameters(parameters).overrides.map(\.key)
        let parametersCell = input.cells.firstIndex { NotebookFile.tags($0).contains("parameters") }
        let hostParameters = parametersCell == nil ? parameters
            : parameters.filter { p in Parameters.hostNames.contains(String(p.prefix { $0 != "=" })) }
        let session = try LuaSession(parameters: hostParameters, notebookPath: path)
        if !parameters.isEmpty { nb.cells = try NotebookRunner.inject(parameters, into: nb.cells, ids: nb.ids) }
        var cells = nb.cells
        var count = 0
        var failure: (Int, CellError)?
        let collector = Collector()
        session.sink = collector
        for k in cells.indices {
            guard cells[k]["cell_type"]?.string == "code" else { continue }
            var cell = cells[k]
            cell["outputs"] = .array([])
            cell["execution_count"] = .null
            if failure != nil {
                // Cells after a failure stay unrun (outputs cleared), as papermill leaves them.
                cells[k] = cell
                continue
            }
            let source = cell["source"]?.text ?? ""
            count += 1
            collector.outputs = []
            let started = Date()
            var outcome: CellOutcome
            if NotebookFile.tags(cell).contains("injected-parameters"), let p = parametersCell,
               let unknown = NotebookRunner.unknownParameter(keys, session: session, parametersSource: input.cells[p]["source"]?.text ?? "") {
                // A -p name that the parameters cell neither sets nor declares is a typo.
                outcome = CellOutcome(result: nil, error: CellError(ename: "JouleError", evalue: unknown, traceback: [unknown]))
            } else {
                outcome = session.execute(source, name: "cell[\(count)]")
            }
            let ended = Date()
            var outputs = collector.take()
            if let result = outcome.result {
                outputs.append(.object(["output_type": .string("execute_result"), "execution_count": .int(count),
                                        "data": .object(result), "metadata": .object([:])]))
            }
            if let e = outcome.error {
                outputs.append(.object(["output_type": .string("error"), "ename": .string(e.ename),
                                        "evalue": .string(e.evalue), "traceback": .array(e.traceback.map(JSON.string))]))
                if !allowErrors { failure = (k + 1, e) }
            }
            cell["outputs"] = .array(outputs)
            cell["execution_count"] = .int(count)
            var metadata = cell["metadata"]?.object ?? [:]
            var execution = metadata["execution"]?.object ?? [:]
            execution["iopub.execute_input"] = .string(NotebookRunner.timestamp(started))
            execution["iopub.status.busy"] = .string(NotebookRunner.timestamp(started))
            execution["shell.execute_reply"] = .string(NotebookRunner.timestamp(ended))
            execution["iopub.status.idle"] = .string(NotebookRunner.timestamp(ended))
            metadata["execution"] = .object(execution)
            cell["metadata"] = .object(metadata)
            cells[k] = cell
            echo?(NotebookRunner.summary(cell, number: count))
        }
        nb.cells = cells
        var meta = nb.json["metadata"]?.object ?? [:]
        meta["kernelspec"] = NotebookFile.kernelspec
        meta["language_info"] = NotebookFile.languageInfo
        // The widgets' last state, as nbclient's store_widget_state saves it: the notebook shows
        // them when opened.
        meta["widgets"] = session.widgets.metadata
        nb.json["metadata"] = .object(meta)
        return Report(notebook: nb, failure: failure.map { (cell: $0.0, error: $0.1) }, executed: count)
    }

    /// The error for the first `-p` name that the cell tagged `parameters` (run just before) neither
    /// assigns as a global nor declares with `joule.params`, with a suggestion; nil when all are
    /// known. Names the host itself reads (`run`) are always accepted.
    public static func unknownParameter(_ keys: [String], session: LuaSession, parametersSource: String) -> String? {
        let declared = session.declaredParameterNames()
        let known = Set(assignedNames(parametersSource) + declared)
        for key in keys where !known.contains(key) && !Parameters.hostNames.contains(key) && !session.hasGlobal(key) {
            let candidates = Array(known).sorted()
            var hint = suggestion(for: key, among: candidates)
            if hint.isEmpty && !candidates.isEmpty { hint = " (known: \(candidates.joined(separator: ", ")))" }
            return "unknown parameter '\(key)'\(hint): the cell tagged parameters neither sets nor declares it"
        }
        return nil
    }

    /// Names a Lua chunk assigns at the start of a line (`name = ...`, `a, b = ...`), not locals.
    public static func assignedNames(_ source: String) -> [String] {
        var names: [String] = []
        for line in source.components(separatedBy: "\n") {
            guard let eq = line.range(of: "="), !line[eq.upperBound...].hasPrefix("=") else { continue }
            let lhs = line[..<eq.lowerBound]
            guard !lhs.contains("~"), !lhs.contains("<"), !lhs.contains(">") else { continue }
            let parts = lhs.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.allSatisfy({ p in
                guard let f = p.unicodeScalars.first, !(f >= "0" && f <= "9") else { return false }
                return p.unicodeScalars.allSatisfy(LuaCompleter.isIdentifierScalar) && !LuaCompleter.keywords.contains(p)
            }) else { continue }
            names += parts
        }
        return names
    }

    /// The cell of `-p` assignments, placed after the `parameters` cell; an earlier injected cell
    /// (from a previous run) is replaced. It ends with `joule.set_params{...}`, so tables that
    /// `joule.params` returned see the values too when the output notebook runs again elsewhere (in
    /// Jupyter, say); papermill's cells for Joule (python/joule_papermill.py) end the same way.
    public static func inject(_ pairs: [String], into cells: [JSON], ids: Set<String>) throws -> [JSON] {
        var lines = ["-- Parameters injected by joule notebook run -p"]
        var fields: [String] = []
        for pair in pairs {
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else {
                throw NotebookError("parameter '\(pair)' is not of the form key=value")
            }
            let key = String(pair[..<eq]), value = String(pair[pair.index(after: eq)...])
            guard let first = key.unicodeScalars.first, !(first >= "0" && first <= "9"),
                  key.unicodeScalars.allSatisfy(LuaCompleter.isIdentifierScalar), !LuaCompleter.keywords.contains(key) else {
                throw NotebookError("parameter '\(key)' is not a Lua name")
            }
            // Numbers and booleans as such, anything else as the string it is, byte for byte.
            let literal = LuaLiteral.parameter(value)
            lines.append("\(key) = \(literal)")
            fields.append("\(key) = \(literal)")
        }
        lines.append("joule.set_params{ " + fields.joined(separator: ", ") + " }")
        var out = cells.filter { !NotebookFile.tags($0).contains("injected-parameters") }
        let cell = NotebookFile.codeCell(lines.joined(separator: "\n"), id: NotebookFile.newID(avoiding: ids),
                                         tags: ["injected-parameters"])
        if let p = out.firstIndex(where: { NotebookFile.tags($0).contains("parameters") }) {
            out.insert(cell, at: p + 1)
        } else {
            out.insert(cell, at: 0)
        }
        return out
    }

    static func timestamp(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: d)
    }

    /// One line per cell for the terminal.
    static func summary(_ cell: JSON, number: Int) -> String {
        let outputs = cell["outputs"]?.array ?? []
        if let e = outputs.first(where: { $0["output_type"]?.string == "error" }) {
            return "cell \(number): error: \(e["evalue"]?.string ?? "")"
        }
        let pictures = outputs.filter { $0["data"]?["image/png"] != nil }.count
        return "cell \(number): ok" + (pictures > 0 ? " (\(pictures) picture\(pictures == 1 ? "" : "s"))" : "")
    }

    /// Collects a cell's outputs in order; consecutive text on the same stream is one output, as
    /// Jupyter front ends merge it.
    final class Collector: CellOutputSink {
        var outputs: [JSON] = []
        private var clearPending = false
        private let lock = NSLock()

        func take() -> [JSON] {
            lock.lock(); defer { lock.unlock() }
            let o = outputs
            outputs = []
            clearPending = false
            return o
        }

        private func add(_ o: JSON) {
            if clearPending { outputs = []; clearPending = false }
            outputs.append(o)
        }

        func stream(name: String, text: String) {
            lock.lock(); defer { lock.unlock() }
            if !clearPending, let last = outputs.last, last["output_type"]?.string == "stream",
               last["name"]?.string == name, let old = last["text"]?.string {
                outputs[outputs.count - 1]["text"] = .string(old + text)
                return
            }
            add(.object(["output_type": .string("stream"), "name": .string(name), "text": .string(text)]))
        }

        func display(data: [String: JSON]) {
            lock.lock(); defer { lock.unlock() }
            add(.object(["output_type": .string("display_data"), "data": .object(data), "metadata": .object([:])]))
        }

        func clearOutput(wait: Bool) {
            lock.lock(); defer { lock.unlock() }
            if wait { clearPending = true } else { outputs = [] }
        }

        func error(_ e: CellError) {
            lock.lock(); defer { lock.unlock() }
            add(.object(["output_type": .string("error"), "ename": .string(e.ename), "evalue": .string(e.evalue),
                         "traceback": .array(e.traceback.map(JSON.string))]))
        }

        func input(prompt: String, password: Bool) throws -> String {
            throw JouleError("io.read: a notebook run by `joule notebook run` has no input (set values with -p instead)")
        }
    }
}
