import Foundation
import JouleCore

/// An .ipynb notebook (nbformat 4), kept as its JSON so that fields Joule does not know survive a
/// run unchanged. Reading checks the structure and says clearly what is wrong; writing gives
/// nbformat 4.5 (every cell has an id) in nbformat's own layout (one-space indent, sorted keys).
public struct NotebookFile {
    public var json: JSON

    public static let kernelspec: JSON = .object([
        "name": .string("joule"), "display_name": .string("Joule (Lua)"), "language": .string("lua"),
    ])
    public static let languageInfo: JSON = .object([
        "name": .string("lua"), "version": .string("5.4"), "mimetype": .string("text/x-lua"),
        "file_extension": .string(".lua"), "codemirror_mode": .string("lua"), "pygments_lexer": .string("lua"),
    ])

    public init(json: JSON) { self.json = json }

    /// An empty notebook for the Joule kernel.
    public init(cells: [JSON] = []) {
        json = .object([
            "nbformat": .int(4), "nbformat_minor": .int(5), "cells": .array(cells),
            "metadata": .object(["kernelspec": NotebookFile.kernelspec, "language_info": NotebookFile.languageInfo]),
        ])
    }

    public static func read(_ path: String) throws -> NotebookFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw NotebookError("\(path): cannot read the notebook (no such file or not readable)")
        }
        return try parse(data, name: path)
    }

    /// Parses and checks a notebook; `name` prefixes every message.
    public static func parse(_ data: Data, name: String) throws -> NotebookFile {
        let json: JSON
        do { json = try JSON.parse(data) } catch let e as JSON.ParseError {
            throw NotebookError("\(name): not a notebook: malformed JSON (\(e))")
        }
        guard case .object = json else { throw NotebookError("\(name): not a notebook: the top level is not a JSON object") }
        guard let major = json["nbformat"]?.int else { throw NotebookError("\(name): not a notebook: no 'nbformat' version") }
        guard major == 4 else {
            throw NotebookError("\(name): nbformat \(major) is not supported (Joule reads nbformat 4; convert with `jupyter nbconvert --to notebook`)")
        }
        guard let cells = json["cells"]?.array else { throw NotebookError("\(name): not a notebook: no 'cells' list") }
        var seen = Set<String>()
        var fixed: [JSON] = []
        for (k, cell) in cells.enumerated() {
            let label = "\(name): cell \(k + 1)"
            guard case .object = cell else { throw NotebookError("\(label) is not a JSON object") }
            guard let type = cell["cell_type"]?.string else { throw NotebookError("\(label) has no 'cell_type'") }
            guard ["code", "markdown", "raw"].contains(type) else { throw NotebookError("\(label): unknown cell_type '\(type)'") }
            guard let source = cell["source"], source.text != nil else {
                throw NotebookError("\(label) has no 'source' text (a string or a list of strings)")
            }
            _ = source
            if let m = cell["metadata"], m.object == nil { throw NotebookError("\(label): 'metadata' is not an object") }
            var c = cell
            if c["metadata"] == nil { c["metadata"] = .object([:]) }
            if type == "code" {
                if c["outputs"] == nil { c["outputs"] = .array([]) }
                if c["execution_count"] == nil { c["execution_count"] = .null }
            }
            // nbformat 4.5: unique ids of 1–64 characters [A-Za-z0-9-_].
            if let id = c["id"]?.string, NotebookFile.isValidID(id), !seen.contains(id) {
                seen.insert(id)
            } else {
                let id = NotebookFile.newID(avoiding: seen)
                seen.insert(id)
                c["id"] = .string(id)
            }
            fixed.append(c)
        }
        var nb = json
        nb["cells"] = .array(fixed)
        nb["nbformat_minor"] = .int(Swift.max(5, json["nbformat_minor"]?.int ?? 5))
        if nb["metadata"]?.object == nil { nb["metadata"] = .object([:]) }
        return NotebookFile(json: nb)
    }

    public static func isValidID(_ id: String) -> Bool {
        (1...64).contains(id.count) && id.unicodeScalars.allSatisfy {
            ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || $0 == "-" || $0 == "_"
        }
    }

    static func newID(avoiding used: Set<String>) -> String {
        while true {
            let id = String(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(8))
            if !used.contains(id) { return id }
        }
    }

    public var cells: [JSON] {
        get { json["cells"]?.array ?? [] }
        set { json["cells"] = .array(newValue) }
    }

    public var ids: Set<String> { Set(cells.compactMap { $0["id"]?.string }) }

    /// nbformat's layout: one-space indent, sorted keys, a final newline.
    public func serialized() -> Data { Data((json.serialized(indent: 1) + "\n").utf8) }

    /// Written to a temporary name and renamed: a reader never sees half a notebook.
    public func write(to path: String) throws { try AtomicFile.write(serialized(), to: path) }

    /// A cell's tags (metadata.tags).
    public static func tags(_ cell: JSON) -> [String] { cell["metadata"]?["tags"]?.array?.compactMap(\.string) ?? [] }

    /// A code cell.
    public static func codeCell(_ source: String, id: String, tags: [String] = []) -> JSON {
        var metadata: [String: JSON] = [:]
        if !tags.isEmpty { metadata["tags"] = .array(tags.map(JSON.string)) }
        return .object(["cell_type": .string("code"), "id": .string(id), "source": .string(source),
                        "metadata": .object(metadata), "outputs": .array([]), "execution_count": .null])
    }
}

public struct NotebookError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
