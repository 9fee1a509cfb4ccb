import Foundation

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

    public static func read(_ path: String) throws -> SafeTensors {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw JouleError("\(path): cannot read file (missing or unreadable)")
        }
        do { return try parse(data) } catch let e as JouleError { throw JouleError("\(path): \(e.message)") }
    }

    public static func parse(_ data: Data) throws -> SafeTensors {
        let b = [UInt8](data)
        guard b.count >= 8 else { throw JouleError("truncated safetensors file (no header length)") }
        let n = (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[$1]) << (8 * UInt64($1)) }
        guard n <= UInt64(b.count - 8) else { throw JouleError("truncated safetensors file (header of \(n) bytes)") }
        let bodyStart = 8 + Int(n)
        guard let json = try? JSONSerialization.jsonObject(with: Data(b[8..<bodyStart])) as? [String: Any] else {
            throw JouleError("malformed safetensors header (not a JSON object)")
        }
        var out = SafeTensors()
        for (name, entry) in json {
            if name == "__metadata__" {
                out.metadata = (entry as? [String: String]) ?? [:]
                continue
            }
            guard let e = entry as? [String: Any], let dtype = e["dtype"] as? String,
                  let shape = e["shape"] as? [Int], let offsets = e["data_offsets"] as? [Int], offsets.count == 2 else {
                throw JouleError("malformed safetensors entry '\(name)'")
            }
            let size: Int
            switch dtype {
            case "F32": size = 4
            case "F64", "I64": size = 8
            default: throw JouleError("tensor '\(name)' has dtype \(dtype); supported: F32, F64, I64")
            }
            let count = shape.reduce(1, *)
            let (lo, hi) = (offsets[0], offsets[1])
            guard shape.allSatisfy({ $0 >= 0 }), lo >= 0, hi - lo == count * size, bodyStart + hi <= b.count else {
                throw JouleError("tensor '\(name)': byte range \(offsets) does not fit shape \(shape) \(dtype) in a file of \(b.count) bytes")
            }
            let t = Tensor(shape: shape)
            b.withUnsafeBytes { raw in
                let base = bodyStart + lo
                for i in 0..<count {
                    switch dtype {
                    case "F32": t.data[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: base + 4 * i, as: UInt32.self)))
                    case "F64": t.data[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: base + 8 * i, as: UInt64.self))))
                    default: t.data[i] = Float(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: base + 8 * i, as: Int64.self)))
                    }
                }
            }
            out.tensors[name] = t
        }
        return out
    }

    /// The file's bytes: tensors in name order, F32.
    public func encoded() throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.count]]
            offset += 4 * t.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad the header with spaces to 8 bytes so the data is aligned, as the reference writer does.
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        var out = Data()
        var n = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(json)
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
