/// The protocol-buffer wire format, as much of it as TensorBoard's `Event` needs: varints,
/// 64-bit and 32-bit fixed fields, length-delimited fields (strings, bytes, sub-messages, packed
/// doubles). Writing only; field numbers are those of TensorFlow's event.proto, summary.proto,
/// tensor.proto and tensor_shape.proto (see Event.swift).
///
/// The encoding is proto3's canonical one, as protobuf's own serializers write it: a plain field that
/// holds its default (0, empty) is left out; `keep` writes it anyway, for members of a `oneof` and
/// elements of repeated fields, which are written whatever they hold.
struct ProtoWriter {
    private(set) var bytes: [UInt8] = []

    private mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { bytes.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        bytes.append(UInt8(v))
    }

    private mutating func key(_ field: Int, _ wireType: UInt64) { varint(UInt64(field) << 3 | wireType) }

    /// int32, int64, enum, bool: negative values as ten-byte two's complement, as protobuf does.
    mutating func int(_ field: Int, _ v: Int64, keep: Bool = false) {
        guard keep || v != 0 else { return }
        key(field, 0); varint(UInt64(bitPattern: v))
    }

    /// −0.0 is not the default (its bits are not zero), as protobuf's serializers see it.
    mutating func double(_ field: Int, _ v: Double, keep: Bool = false) {
        guard keep || v.bitPattern != 0 else { return }
        key(field, 1)
        withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 }
    }

    mutating func float(_ field: Int, _ v: Float, keep: Bool = false) {
        guard keep || v.bitPattern != 0 else { return }
        key(field, 5)
        withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 }
    }

    mutating func data(_ field: Int, _ v: [UInt8], keep: Bool = false) {
        guard keep || !v.isEmpty else { return }
        key(field, 2); varint(UInt64(v.count)); bytes += v
    }

    mutating func string(_ field: Int, _ v: String, keep: Bool = false) { data(field, Array(v.utf8), keep: keep) }

    /// A sub-message is written once set, even when empty.
    mutating func message(_ field: Int, _ build: (inout ProtoWriter) -> Void) {
        var inner = ProtoWriter()
        build(&inner)
        data(field, inner.bytes, keep: true)
    }

    /// `repeated double` in the packed encoding proto3 uses by default.
    mutating func packedDoubles(_ field: Int, _ values: [Double]) {
        var inner: [UInt8] = []
        inner.reserveCapacity(values.count * 8)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { inner += $0 } }
        data(field, inner)
    }
}
