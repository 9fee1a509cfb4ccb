import Foundation
import Tensor

/// The safetensors format: an 8-byte little-endian header length, a JSON header naming each tensor's
/// dtype, shape and byte range, then the raw data. Joule writes F32 tensors and string metadata,
/// under PyTorch's `state_dict` names, so weights move both ways between Joule and PyTorch.
public struct SafeTensors {
    public var tensors: [String: Tensor]
    public var metadata: [String: String]

    public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The header's size limit, as the reference implementation's (100 MB).
    public static let maxHeaderBytes = 100_000_000
    /// Dimensions past this are refused.
    public static let maxRank = 32

    /// What the header says of one tensor, checked against the file: its bytes are there, in order,
    /// and exactly as many as its dtype and shape need.
    public struct Entry: Equatable {
        public enum DType: String { case f32 = "F32", f64 = "F64", i64 = "I64" }
        public let dtype: DType
        public let shape: [Int]
        /// The byte range in the data section.
        public let range: Range<Int>
        public var count: Int { shape.reduce(1, *) }
        var itemSize: Int { dtype == .f32 ? 4 : 8 }
    }

    /// A file's header, validated, with nothing of its data read yet.
    public struct Header {
        public let entries: [String: Entry]
        public let metadata: [String: String]
        let dataStart: Int
    }

    /// The tensors and metadata of the file at `path`. `check` sees the validated header before any
    /// tensor is allocated: a caller that knows what it expects (a model's names and shapes) refuses
    /// a file there, so a small file declaring huge tensors costs nothing.
    public static func read(_ path: String, check: ((Header) throws -> Void)? = nil) throws -> SafeTensors {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw JouleError("\(path): cannot read file (missing or unreadable)")
        }
        do { return try parse(data, check: check) } catch let e as JouleError { throw JouleError("\(path): \(e.message)") }
    }

    public static func parse(_ data: Data, check: ((Header) throws -> Void)? = nil) throws -> SafeTensors {
        let b = [UInt8](data)
        let h = try header(b)
        try check?(h)
        var out = SafeTensors(metadata: h.metadata)
        for (name, e) in h.entries {
            let t = Tensor(shape: e.shape)
            b.withUnsafeBytes { raw in
                let base = h.dataStart + e.range.lowerBound
                for i in 0..<e.count {
                    switch e.dtype {
                    case .f32: t.data[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: base + 4 * i, as: UInt32.self)))
                    case .f64: t.data[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: base + 8 * i, as: UInt64.self))))
                    case .i64: t.data[i] = Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: base + 8 * i, as: Int64.self)))
                    }
                }
            }
            out.tensors[name] = t
        }
        return out
    }

    /// The header of a file's bytes, checked as the reference implementation checks it: a length
    /// within the cap and the file, a JSON object, string metadata, and tensors whose byte ranges
    /// fit their dtype and shape, follow one another without gaps or overlaps from 0, and end where
    /// the file ends. All sizes with checked arithmetic.
    public static func header(_ b: [UInt8]) throws -> Header {
        guard b.count >= 8 else { throw JouleError("truncated safetensors file (no header length)") }
        let n = (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[$1]) << (8 * UInt64($1)) }
        guard n <= UInt64(maxHeaderBytes) else {
            throw JouleError("safetensors header of \(n) bytes (at most \(maxHeaderBytes))")
        }
        guard n <= UInt64(b.count - 8) else { throw JouleError("truncated safetensors file (header of \(n) bytes)") }
        let dataStart = 8 + Int(n)
        guard let json = (try? JSON.parse(Array(b[8..<dataStart])))?.object else {
            throw JouleError("malformed safetensors header (not a JSON object)")
        }
        var metadata: [String: String] = [:]
        var entries: [String: Entry] = [:]
        for (name, entry) in json {
            if name == "__metadata__" {
                guard let m = entry.object else { throw JouleError("safetensors __metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v.string else { throw JouleError("safetensors metadata '\(k.prefix(80))' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            let shown = name.count > 80 ? name.prefix(80) + "…" : Substring(name)
            guard let dtypeName = entry["dtype"]?.string, let shapeValues = entry["shape"]?.array,
                  let offsetValues = entry["data_offsets"]?.array else {
                throw JouleError("malformed safetensors entry '\(shown)' (needs dtype, shape and data_offsets)")
            }
            guard let dtype = Entry.DType(rawValue: dtypeName) else {
                throw JouleError("tensor '\(shown)' has dtype \(dtypeName.prefix(20)); supported: F32, F64, I64")
            }
            guard shapeValues.count <= maxRank, let shape = integers(shapeValues), shape.allSatisfy({ $0 >= 0 }) else {
                throw JouleError("tensor '\(shown)': shape is not a list of at most \(maxRank) non-negative integers")
            }
            guard offsetValues.count == 2, let offsets = integers(offsetValues), offsets[0] >= 0, offsets[0] <= offsets[1] else {
                throw JouleError("tensor '\(shown)': data_offsets must be two ordered non-negative integers")
            }
            let size = Npy.byteCount(shape, itemSize: dtype == .f32 ? 4 : 8)
            guard let size, offsets[1] - offsets[0] == size else {
                throw JouleError("tensor '\(shown)': byte range \(offsets) does not fit shape \(shape) \(dtype.rawValue)")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, range: offsets[0]..<offsets[1])
        }
        // The byte ranges tile the data section exactly, as the reference reader demands.
        var end = 0
        for (name, e) in entries.sorted(by: { ($0.value.range.lowerBound, $0.value.range.upperBound) < ($1.value.range.lowerBound, $1.value.range.upperBound) }) {
            guard e.range.lowerBound == end else {
                throw JouleError("tensor '\(name.prefix(80))': byte range \(e.range.lowerBound)..<\(e.range.upperBound) \(e.range.lowerBound < end ? "overlaps another tensor" : "leaves a gap after byte \(end)")")
            }
            end = e.range.upperBound
        }
        let dataBytes = b.count - dataStart
        guard end == dataBytes else {
            throw JouleError(end > dataBytes ? "tensors need \(end) bytes of data, the file has \(dataBytes) (truncated; does not fit)"
                                             : "\(dataBytes - end) bytes after the last tensor's data")
        }
        return Header(entries: entries, metadata: metadata, dataStart: dataStart)
    }

    /// JSON integers as Ints when every one is an integer that fits (not 1.5 or 1.0, not 2^63, not true).
    private static func integers(_ values: [JSON]) -> [Int]? {
        var out: [Int] = []
        for v in values {
            guard case .int(let i) = v else { return nil }
            out.append(i)
        }
        return out
    }

    /// The file's bytes: tensors in name order, F32.
    public func encoded() throws -> Data {
        var header: [String: JSON] = [:]
        if !metadata.isEmpty { header["__metadata__"] = .object(metadata.mapValues(JSON.string)) }
        var offset = 0
        let names = tensors.keys.sorted()
        var position: [String: Int] = ["__metadata__": -1]
        for (k, name) in names.enumerated() {
            let t = tensors[name]!
            header[name] = .object(["dtype": .string("F32"), "shape": .ints(t.shape), "data_offsets": .ints([offset, offset + 4 * t.count])])
            position[name] = k
            offset += 4 * t.count
        }
        // The header lists the metadata first and then the tensors in the order of their data, as
        // the reference writer does; other keys (inside an entry, in the metadata) follow sorted.
        let order = position
        var json = Array(JSON.object(header).serialized(JSON.Style(keyOrder: { a, b in
            let x = order[a] ?? Int.max, y = order[b] ?? Int.max
            return x != y ? x < y : a < b
        })).utf8)
        // Pad the header with spaces to 8 bytes so the data is aligned, as the reference writer does.
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        var out = Data()
        var n = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(contentsOf: json)
        out.reserveCapacity(out.count + offset)
        for name in names {
            let t = tensors[name]!
            var le = [UInt32](repeating: 0, count: t.count)
            for i in 0..<t.count { le[i] = t.data[i].bitPattern.littleEndian }
            le.withUnsafeBytes { out.append(contentsOf: $0) }
        }
        return out
    }

    public func write(to path: String) throws { try AtomicFile.write(try encoded(), to: path) }
}
