import JouleCore

/// Any bytes through the one JSON parser; what it accepts must write and read back unchanged: the
/// text parses to the same value, and writing that again gives the same text.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let value = try? JSON.parse(Array(UnsafeBufferPointer(start: data, count: size))) else { return 0 }
    for style in [JSON.Style.compact, .file] {
        let text = value.serialized(style)
        guard let again = try? JSON.parse(text) else { preconditionFailure("written JSON does not parse: \(text.prefix(200))") }
        precondition(again.serialized(style) == text, "JSON changed on a round trip: \(text.prefix(200))")
    }
    return 0
}
