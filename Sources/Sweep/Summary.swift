import Foundation
import JouleCore

/// One line of the summary: a run, what happened to it and what it reported.
public struct SummaryRow: Sendable {
    public let run: RunSpec
    /// finished, failed, interrupted, running, queued, or pending (never started).
    public let state: String
    public let status: RunStatus?
    public let results: [String: ResultValue]
}

/// The table of a sweep: best runs first by the metric; failed and unfinished runs last.
public struct Summary: Sendable {
    public let rows: [SummaryRow]
    public let parameterNames: [String]
    public let varying: [String]
    public let resultKeys: [String]
    public let metric: String?
    public let goal: String

    public init(runs: [RunSpec], spec: SweepSpec) {
        var rows: [SummaryRow] = []
        for run in runs {
            let status = RunStatus.read(run)
            var results: [String: ResultValue] = [:]
            if let r = try? Results.read(run) { results = r }
            rows.append(SummaryRow(run: run, state: status?.state.rawValue ?? "pending", status: status, results: results))
        }
        metric = spec.metric
        goal = spec.goal
        parameterNames = Array(Set(runs.flatMap { $0.params.map(\.name) })).sorted()
        varying = runs.first?.varying ?? []
        var keys = Set(rows.flatMap { $0.results.keys })
        if let m = spec.metric { keys.remove(m) }
        resultKeys = (spec.metric.map { [$0] } ?? []) + keys.sorted()
        let rank: (SummaryRow) -> Int = { r in
            switch r.state {
            case "finished": return 0
            case "failed": return 2
            default: return 3
            }
        }
        let m = spec.metric, maximize = spec.goal == "max"
        self.rows = rows.enumerated().sorted { a, b in
            let (ra, rb) = (rank(a.element), rank(b.element))
            if ra != rb { return ra < rb }
            if let m {
                let va = a.element.results[m]?.number.flatMap { $0.isNaN ? nil : $0 }
                let vb = b.element.results[m]?.number.flatMap { $0.isNaN ? nil : $0 }
                switch (va, vb) {
                case let (x?, y?) where x != y: return maximize ? x > y : x < y
                case (.some, nil): return true
                case (nil, .some): return false
                default: break
                }
            }
            return a.offset < b.offset
        }.map(\.element)
    }

    public var counts: [String: Int] { Dictionary(grouping: rows, by: \.state).mapValues(\.count) }

    /// The CSV: key columns (run folder, status), every parameter, every result, then time and error.
    public func csv() -> String {
        var lines = [(["run", "status"] + parameterNames + resultKeys + ["seconds", "exit_status", "error"]).map(csvField).joined(separator: ",")]
        for r in rows {
            var f = [r.run.slug, r.state]
            f += parameterNames.map { r.run.value($0)?.text ?? "" }
            f += resultKeys.map { r.results[$0]?.csv ?? "" }
            f.append(r.status?.seconds.map { String(format: "%.2f", $0) } ?? "")
            f.append(r.status?.exitStatus.map(String.init) ?? r.status?.signal.map { "signal \($0)" } ?? "")
            f.append(r.state == "finished" ? "" : (r.status?.error ?? ""))
            lines.append(f.map(csvField).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The table for the terminal: rank, varying parameters, the metric and a few other results,
    /// status; then the errors of failed runs.
    public func table(maxResultColumns: Int = 5) -> String {
        let shownResults = Array(resultKeys.filter { k in rows.contains { $0.results[k]?.number != nil } || k == metric }.prefix(maxResultColumns))
        let header = ["#"] + varying + shownResults + ["status", "time"]
        var body: [[String]] = []
        for (i, r) in rows.enumerated() {
            var line = [r.state == "finished" ? String(i + 1) : "-"]
            line += varying.map { r.run.value($0)?.text ?? "" }
            line += shownResults.map { r.results[$0]?.short ?? "" }
            line.append(r.state)
            line.append(r.status?.seconds.map { String(format: "%.1fs", $0) } ?? "")
            body.append(line)
        }
        var widths = header.map(\.count)
        for l in body { for (j, c) in l.enumerated() { widths[j] = Swift.max(widths[j], c.count) } }
        func format(_ l: [String]) -> String {
            l.enumerated().map { j, c in
                let pad = String(repeating: " ", count: widths[j] - c.count)
                // Numbers right-aligned, text left-aligned.
                return Double(c) != nil || j == 0 ? pad + c : c + pad
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }
        var out = [format(header), format(widths.map { String(repeating: "-", count: $0) })] + body.map(format)
        let failed = rows.filter { $0.state == "failed" }
        if !failed.isEmpty {
            out.append("")
            out.append("failed runs:")
            for r in failed {
                out.append("  \(r.run.label)  (\(r.run.directory))")
                // The message, not the Lua traceback under it (that stays in the CSV and stderr.txt).
                var lines: [Substring] = [], inTrace = false
                for l in (r.status?.error ?? "no status recorded").split(separator: "\n") {
                    if l == "stack traceback:" { inTrace = true; continue }
                    if inTrace && l.hasPrefix("\t") { continue }
                    inTrace = false
                    lines.append(l)
                }
                for l in lines.suffix(4) { out.append("    " + l) }
            }
        }
        return out.joined(separator: "\n")
    }

    /// Lines for a plot of `metric` against parameter `x`: one per value of `series` (or per
    /// combination of the other varying parameters, seeds averaged). Only finished runs with a
    /// numeric metric and a numeric x count.
    public func plotSeries(x: String, metric: String, series: String?, seedParameter: String?) -> [(name: String, x: [Double], y: [Double])] {
        let others = series.map { [$0] } ?? varying.filter { $0 != x && $0 != seedParameter }
        var groups: [String: [Double: [Double]]] = [:]
        var order: [String] = []
        for r in rows where r.state == "finished" {
            guard let xv = r.run.value(x)?.number, let y = r.results[metric]?.number, y.isFinite else { continue }
            let name = others.map { "\($0)=\(r.run.value($0)?.text ?? "")" }.joined(separator: " ")
            if groups[name] == nil { order.append(name) }
            groups[name, default: [:]][xv, default: []].append(y)
        }
        return order.sorted { a, b in
            // Numeric order of the series parameter where there is one.
            let na = Double(a.split(separator: "=").last ?? ""), nb = Double(b.split(separator: "=").last ?? "")
            if others.count == 1, let na, let nb { return na < nb }
            return a < b
        }.map { name in
            let pts = groups[name]!.sorted { $0.key < $1.key }
            return (name.isEmpty ? metric : name, pts.map(\.key), pts.map { $0.value.reduce(0, +) / Double($0.value.count) })
        }
    }
}

func csvField(_ s: String) -> String {
    guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
    return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}
