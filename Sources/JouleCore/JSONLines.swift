import Foundation

/// JSON Lines as `joule.log` writes a run's `log.jsonl`: one object per line. The one reader of such
/// logs, for the sweep's results (a run's last line) and the training-curve pictures (every line).
public enum JSONLines {
    /// The objects of the file at `path`, in order; blank lines are skipped, any other line that is
    /// not a JSON object is an error naming its line.
    public static func objects(atPath path: String) throws -> [[String: JSON]] {
        guard let data = FileManager.default.contents(atPath: path) else { throw JouleError("\(path): cannot read the log") }
        return try objects(in: data, path: path)
    }

    public static func objects(in data: Data, path: String) throws -> [[String: JSON]] {
        var out: [[String: JSON]] = []
        for (n, line) in data.split(separator: 10, omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
            let value: JSON
            do { value = try JSON.parse(Data(line)) } catch {
                throw JouleError("\(path):\(n + 1): not a JSON object (\(error))")
            }
            guard case .object(let o) = value else { throw JouleError("\(path):\(n + 1): not a JSON object") }
            out.append(o)
        }
        return out
    }
}
