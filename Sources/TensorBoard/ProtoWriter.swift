/// The protocol-buffer wire format, as much of it as TensorBoard's `Event` needs: varints,
/// 64-bit and 32-bit fixed fields, length-delimited fields (strings, bytes, sub-messages, packed
/// doubles). Writing only; field numbers are those of TensorFlow's event.proto, summary.proto,
/// tensor.proto and tensor_shape.proto (see Event.swift).
struct ProtoWriter {
    private(set) var bytes: [UInt8] = []

    private mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }

    private mutating func key(_ field: Int, _ wireType: UInt64) { varint(UInt64(field) << 3 | wireType) }

    /// int32, int64, enum, bool: negative values as ten-byte two's complement, as protobuf does.
    mutating func int(_ field: Int, _ v: Int64) { key(field, 0); varint(UInt64(bitPattern: v)) }

    mutating func double(_ field: Int, _ v: Double) {
        key(field, 1)
        withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 }
    }

    mutating func float(_ field: Int, _ v: Float) {
        key(field, 5)
        withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 }
    }

    mutating func data(_ field: Int, _ v: [UInt8]) {
        key(field, 2); varint(UInt64(v.count)); bytes += v
    }

    mutating func string(_ field: Int, _ v: String) { data(field, Array(v.utf8)) }

    mutating func message(_ field: Int, _ build: (inout ProtoWriter) -> Void) {
        var inner = ProtoWriter()
        build(&inner)
        data(field, inner.bytes)
    }

    /// `repeated double` in the packed encoding proto3 uses by default.
    mutating func packedDoubles(_ field: Int, _ values: [Double]) {
        var inner: [UInt8] = []
        inner.reserveCapacity(values.count * 8)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { inner += $0 } }
        data(field, inner)
    }
}
