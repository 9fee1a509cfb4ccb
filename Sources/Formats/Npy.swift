import Foundation
import Tensor

/// One array of a NumPy `.npy` file (format 1.0, 2.0 or 3.0; little-endian; C order).
public struct NpyArray {
    public enum DType: String {
        case uint8 = "u1", int32 = "i4", int64 = "i8", float32 = "f4", float64 = "f8"
        var size: Int { switch self { case .uint8: 1; case .int32, .float32: 4; case .int64, .float64: 8 } }
    }
    public let shape: [Int]
    public let dtype: DType
    /// The raw little-endian element bytes.
    public let bytes: Data

    public var count: Int { shape.reduce(1, *) }

    /// `bytes` must hold the elements of `shape` (the parser checks that before it gets here): the
    /// accessors read `count` elements.
    public init(shape: [Int], dtype: DType, bytes: Data) {
        precondition(Npy.byteCount(shape, itemSize: dtype.size).map { $0 <= bytes.count } ?? false, "NpyArray: \(bytes.count) bytes for shape \(shape)")
        self.shape = shape; self.dtype = dtype; self.bytes = bytes
    }

    /// Elements as Double, whatever the stored type.
    public func doubles() -> [Double] {
        bytes.withUnsafeBytes { raw -> [Double] in
            switch dtype {
            case .uint8: return (0..<count).map { Double(raw[$0]) }
            case .int32: return (0..<count).map { Double(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self))) }
            case .int64: return (0..<count).map { Double(Int64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: Int64.self))) }
            case .float32: return (0..<count).map { Double(Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)))) }
            case .float64: return (0..<count).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))) }
            }
        }
    }

    public func tensor() -> Tensor {
        let t = Tensor(shape: shape)
        if dtype == .float32 {
            bytes.withUnsafeBytes { raw in
                for i in 0..<count { t.data[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
            }
        } else {
            for (i, v) in doubles().enumerated() { t.data[i] = Float(v) }
        }
        return t
    }

    /// Elements as integers; an error for floating-point arrays with fractional values.
    public func ints() throws -> [Int] {
        try doubles().map { v in
            guard v.rounded() == v, abs(v) < 9e15 else { throw JouleError("expected integer values, found \(v)") }
            return Int(v)
        }
    }

    public init(_ tensor: Tensor) {
        var d = Data(count: tensor.count * 4)
        d.withUnsafeMutableBytes { raw in
            for i in 0..<tensor.count { raw.storeBytes(of: tensor.data[i].bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self) }
        }
        self.init(shape: tensor.shape, dtype: .float32, bytes: d)
    }

    public init(ints: [Int], shape: [Int]? = nil) {
        var d = Data(count: ints.count * 8)
        d.withUnsafeMutableBytes { raw in
            for (i, v) in ints.enumerated() { raw.storeBytes(of: Int64(v).littleEndian, toByteOffset: i * 8, as: Int64.self) }
        }
        self.init(shape: shape ?? [ints.count], dtype: .int64, bytes: d)
    }

    public init(uint8 values: [UInt8], shape: [Int]) {
        self.init(shape: shape, dtype: .uint8, bytes: Data(values))
    }
}

/// Reading and writing `.npy` files, including files with several arrays appended one after another
/// (the course stores a split as images, then labels, in one file).
public enum Npy {
    private static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]

    public static func read(_ path: String) throws -> [NpyArray] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw JouleError("\(path): cannot read file (missing or unreadable)")
        }
        do { return try parse(data) } catch let e as JouleError { throw JouleError("\(path): \(e.message)") }
    }

    /// All arrays in `data`, in order.
    public static func parse(_ data: Data) throws -> [NpyArray] {
        let bytes = [UInt8](data)
        var arrays: [NpyArray] = []
        var pos = 0
        while pos < bytes.count {
            let (array, next) = try parseOne(bytes, at: pos)
            arrays.append(array)
            pos = next
        }
        if arrays.isEmpty { throw JouleError("empty file, not a .npy array") }
        return arrays
    }

    /// Dimensions past this are refused (NumPy's own limit is 64).
    public static let maxRank = 32
    /// Headers past this are refused: NumPy writes about a hundred bytes, and format 2.0's 4-byte
    /// length would otherwise let a file make the parser copy gigabytes of "header".
    public static let maxHeaderBytes = 1 << 20

    private static func parseOne(_ b: [UInt8], at start: Int) throws -> (NpyArray, Int) {
        guard b.count - start >= 10, Array(b[start..<start + 6]) == magic else {
            throw JouleError("not a .npy array at byte \(start) (bad magic)")
        }
        let major = b[start + 6]
        var pos = start + 8
        let headerLength: Int
        switch major {
        case 1:
            headerLength = Int(b[pos]) | Int(b[pos + 1]) << 8; pos += 2
        case 2, 3:
            guard b.count - pos >= 4 else { throw JouleError("truncated .npy header") }
            headerLength = (0..<4).reduce(0) { $0 | Int(b[pos + $1]) << (8 * $1) }; pos += 4
        default:
            throw JouleError("unsupported .npy format version \(major)")
        }
        guard headerLength <= maxHeaderBytes else {
            throw JouleError(".npy header of \(headerLength) bytes (at most \(maxHeaderBytes))")
        }
        guard b.count - pos >= headerLength else { throw JouleError("truncated .npy header") }
        guard let header = String(bytes: b[pos..<pos + headerLength], encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw JouleError("unreadable .npy header")
        }
        pos += headerLength
        let (descr, fortran, shape) = try parseHeader(header)
        guard !fortran else { throw JouleError("Fortran-order arrays are not supported; save with C order") }
        var code = descr
        if let first = code.first, "<|=".contains(first) { code.removeFirst() }
        else if code.first == ">" { throw JouleError("big-endian dtype '\(descr)' is not supported") }
        if code == "b1" { code = "u1" }
        guard let dtype = NpyArray.DType(rawValue: code) else {
            throw JouleError("unsupported dtype '\(descr)' (supported: u1, i4, i8, f4, f8)")
        }
        // Element count and byte size with checked arithmetic, compared with the bytes present
        // before anything is copied: a shape like (2^62 + 1, 1, 1) must not wrap to a small size.
        let available = b.count - pos
        guard let size = byteCount(shape, itemSize: dtype.size), size <= available else {
            throw JouleError("truncated array data: shape \(shape) of \(descr) needs \(byteCountText(shape, itemSize: dtype.size)) bytes, file has \(available)")
        }
        return (NpyArray(shape: shape, dtype: dtype, bytes: Data(b[pos..<pos + size])), pos + size)
    }

    /// The bytes `shape` of `itemSize`-byte elements takes, or nil when that is not an Int.
    public static func byteCount(_ shape: [Int], itemSize: Int) -> Int? {
        var n = itemSize
        for d in shape {
            guard d >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            n = p
        }
        return n
    }

    private static func byteCountText(_ shape: [Int], itemSize: Int) -> String {
        byteCount(shape, itemSize: itemSize).map(String.init) ?? "more than \(Int.max)"
    }

    /// Parses the Python dict literal of a .npy header.
    private static func parseHeader(_ h: String) throws -> (String, Bool, [Int]) {
        func value(of key: String) throws -> Substring {
            guard let r = h.range(of: "'\(key)':") else { throw JouleError("malformed .npy header: no '\(key)'") }
            return h[r.upperBound...].drop { $0 == " " }
        }
        let d = try value(of: "descr")
        guard d.first == "'", let end = d.dropFirst().firstIndex(of: "'") else { throw JouleError("malformed .npy header descr") }
        let descr = String(d[d.index(after: d.startIndex)..<end])
        let fortran = try value(of: "fortran_order").hasPrefix("True")
        let s = try value(of: "shape")
        guard s.first == "(", let close = s.firstIndex(of: ")") else { throw JouleError("malformed .npy header shape") }
        let dims = s[s.index(after: s.startIndex)..<close].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard dims.count <= maxRank else { throw JouleError(".npy shape of \(dims.count) dimensions (at most \(maxRank))") }
        let shape = try dims.map { d -> Int in
            guard let v = Int(d), v >= 0 else { throw JouleError("malformed .npy shape dimension '\(d.prefix(40))'") }
            return v
        }
        return (descr, fortran, shape)
    }

    /// The bytes of one array in format 1.0.
    public static func encode(_ a: NpyArray) -> Data {
        let dims = a.shape.map(String.init).joined(separator: ", ") + (a.shape.count == 1 ? "," : "")
        let descr = a.dtype == .uint8 ? "|u1" : "<" + a.dtype.rawValue
        var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (\(dims)), }"
        let total = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        var out = Data(magic + [1, 0])
        let n = header.utf8.count
        out.append(contentsOf: [UInt8(n & 0xFF), UInt8(n >> 8)])
        out.append(header.data(using: .ascii)!)
        out.append(a.bytes)
        return out
    }

    /// Writes the arrays one after another (atomically: temporary name, then rename).
    public static func write(_ arrays: [NpyArray], to path: String) throws {
        var d = Data()
        for a in arrays { d.append(encode(a)) }
        try AtomicFile.write(d, to: path)
    }
}
