import Foundation
import NN
import Tensor

/// A checkpoint's architecture JSON (the metadata `joule.nn.load` rebuilds a network from), under
/// a small parameter budget as a weights file of that size would give: built, checked, described,
/// written back (which must rebuild to the same JSON), and run forward and backward on one small
/// input. Errors are fine; a crash, an allocation past the limit or a hang is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let json = try? JSON.parse(Array(UnsafeBufferPointer(start: data, count: size))),
          let net = try? Architecture.build(json, rng: RNG(seed: 0), parameterBudget: 1 << 16) else { return 0 }
    guard (try? Architecture.check(net)) != nil else { return 0 }
    _ = Architecture.describe(net)
    let text = net.architecture.serialized()
    guard let again = try? Architecture.build(try JSON.parse(text), rng: RNG(seed: 1)) else {
        fatalError("a built network's own architecture does not rebuild: \(text)")
    }
    precondition(again.architecture.serialized() == text, "architecture changed on a round trip: \(text)")
    // One input of a shape the first layer takes: (1, D) vectors for a Linear, else 7×7 images
    // (channels-last, as modules see them) with the first convolution's channels. Only small
    // geometries run (odd ones among them: kernels past the input, strides past the kernel), as a
    // kernel of 1024 over 1024 pixels of padding is legal, only slow, and would read as a hang.
    let small = net.allModules.allSatisfy { m in
        if let c = m as? Conv2d { return c.kernel <= 9 && c.padding <= 8 && c.stride <= 9 }
        if let p = m as? Pool2d { return p.kernel <= 9 && p.stride <= 9 }
        return true
    }
    guard small else { return 0 }
    let first = net.allModules.first { $0 is Linear || $0 is Conv2d }
    let x: Tensor
    if let l = first as? Linear { x = Tensor(shape: [1, l.inFeatures], repeating: 0.5) }
    else { x = Tensor(shape: [1, 7, 7, (first as? Conv2d)?.inChannels ?? 2], repeating: 0.5) }
    guard let y = try? net.forward(x) else { return 0 }
    _ = try? net.backward(Tensor(shape: y.shape, repeating: 1), needInputGradient: true)
    return 0
}
