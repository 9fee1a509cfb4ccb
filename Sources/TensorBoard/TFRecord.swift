import Foundation

/// TFRecord framing, the container of TensorBoard's event files: per record a little-endian
/// uint64 length, the masked CRC-32C of those 8 bytes, the data, the masked CRC-32C of the data.
/// A reader stops at the first record that is cut short or fails a checksum, so a file whose
/// writer was killed mid-record still reads up to the last whole record.
public enum TFRecord {
    public static func frame(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 16)
        let length = withUnsafeBytes(of: UInt64(data.count).littleEndian) { Array($0) }
        out += length
        append32(CRC32C.masked(CRC32C.checksum(length)), to: &out)
        out += data
        append32(CRC32C.masked(CRC32C.checksum(data)), to: &out)
        return out
    }

    static func append32(_ v: UInt32, to out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out += $0 }
    }

    /// The records of `bytes` up to the first incomplete or corrupt one (tests and tools read
    /// files back with this; sizes are compared with the bytes present before anything is read).
    public static func records(_ bytes: [UInt8]) -> (records: [[UInt8]], clean: Bool) {
        var out: [[UInt8]] = []
        var i = 0
        func u32(_ at: Int) -> UInt32 {
            UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
        }
        while i < bytes.count {
            guard bytes.count - i >= 12 else { return (out, false) }
            var length: UInt64 = 0
            for k in 0..<8 { length |= UInt64(bytes[i + k]) << (8 * UInt64(k)) }
            guard CRC32C.masked(CRC32C.checksum(bytes[i..<(i + 8)])) == u32(i + 8) else { return (out, false) }
            let rest = UInt64(bytes.count - i - 12)
            guard rest >= 4, length <= rest - 4 else { return (out, false) }
            let start = i + 12, end = start + Int(length)
            let data = Array(bytes[start..<end])
            guard CRC32C.masked(CRC32C.checksum(data)) == u32(end) else { return (out, false) }
            out.append(data)
            i = end + 4
        }
        return (out, true)
    }
}
