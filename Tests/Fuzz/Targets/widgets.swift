import Foundation
import Notebook
import JouleCore

/// A front end's widget `update` messages (any JSON), applied to a model of each kind as the kernel
/// applies them: refused or taken, never a trap (a whole-number double past Int's range once killed
/// the kernel). The first byte chooses the kind; the rest is the message's `state` object, or a list
/// of them applied in turn.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0, let json = try? JSON.parse(Array(UnsafeBufferPointer(start: data + 1, count: size - 1))) else { return 0 }
    let kind = WidgetSpec.kinds[Int(data[0]) % WidgetSpec.kinds.count]
    let m = WidgetModel(id: "m", kind: kind, state: WidgetSpec.state(kind, layout: "l", style: WidgetSpec.styleModel(kind) == nil ? nil : "s")!)
    let updates = json.array ?? [json]
    for u in updates.prefix(64) {
        guard let state = u.object else { continue }
        // A key named in `buffer_paths` arrives as bytes instead (an Image's value).
        let buffers = state["value"] == .string("buffer") ? ["value": Data([1, 2, 3])] : [:]
        let before = m.state
        do { _ = try m.update(state, buffers: buffers) } catch {
            if m.state != before { fatalError("a refused update changed the state: \(error)") }
        }
    }
    _ = m.wire()
    _ = m.saved.serialized()
    return 0
}
