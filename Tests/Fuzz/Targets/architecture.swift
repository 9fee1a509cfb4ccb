import ArchitectureFiles
import Foundation
import NN
import Tensor

/// A checkpoint's architecture JSON (the metadata `joule.nn.load` rebuilds a network from), under
/// a small parameter budget as a weights file of that size would give: built, checked, described,
/// written back (which must rebuild to the same JSON), and run forward and backward on one small
/// input whose workload (see `Workload`) is small, checking that the walk of shapes predicts the run.
/// Errors are fine; a crash, an allocation past the limit, a hang or a wrong prediction is a finding.
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
    // (channels-last, as modules see them) with the first convolution's channels.
    let first = net.allModules.first { $0 is Linear || $0 is Conv2d }
    let x: Tensor
    if let l = first as? Linear { x = Tensor(shape: [1, l.inFeatures], repeating: 0.5) }
    else { x = Tensor(shape: [1, 7, 7, (first as? Conv2d)?.inChannels ?? 2], repeating: 0.5) }
    // The bound on the work a network may ask for: found by walking shapes, without running. A
    // network past it is what the loader refuses; one within it runs here only when small enough
    // for a fuzzer's time (ASan makes every multiply-add dear): a kernel of 1024 over 1024 pixels
    // of padding is within no bound, and must be caught by the walk, never by running it.
    let w = net.workload(after: Workload(shape: Array(x.shape.dropFirst())))
    guard w.operations <= 2e7, w.floats <= 2e6 else {
        precondition(w.operations <= Workload.maxOperations && w.floats <= Workload.maxFloats
                     || (try? w.check("fuzz")) == nil, "a workload past the bounds passes the check")
        return 0
    }
    guard let y = try? net.forward(x) else { return 0 }
    // What the walk predicts is what runs: a forward pass that succeeds was judged to fit, with
    // the output's shape, so the bound counts the work that really happens.
    precondition(w.fits && w.shape == Array(y.shape.dropFirst()),
                 "the workload walk predicted \(w.shape) (fits: \(w.fits)), the forward pass gave \(y.shape): \(text)")
    _ = try? net.backward(Tensor(shape: y.shape, repeating: 1), needInputGradient: true)
    return 0
}
