import ArchitectureFiles
import EBM
import Foundation
import NN
import Tensor
import TestSupport
import XCTest

/// Networks composed of modules: the PyTorch reference models, checkpoints of any architecture,
/// the ShallowCNN preset against the same network built from its description, replicas, errors.
/// Each test runs once per FP32 kernel family this machine runs (`KernelFamilies.each`).
final class ComposedModelTests: XCTestCase {
    /// Failures name the kernel family forced when they happened (see `KernelFamilies.each`).
    override func recordFailure(withDescription description: String, inFile filePath: String, atLine lineNumber: Int,
                                expected: Bool) {
        super.recordFailure(withDescription: KernelFamilies.label(description), inFile: filePath, atLine: lineNumber,
                            expected: expected)
    }

    private func reference(_ name: String) throws -> EnergyNet {
        let root = try Architecture.build(try JSON.parse(ComposedReference.architectures[name]!), rng: RNG(seed: 3))
        let net = try EnergyNet(root)
        try ComposedReference.loadWeights(name, into: net)
        return net
    }

    func testReferenceModelsMatchPyTorch() throws { try KernelFamilies.each(self) {
        for name in ComposedReference.models { try ComposedReference.check(name, try reference(name)) }
    } }

    func testParameterNamesAndShapesArePyTorchs() throws { try KernelFamilies.each(self) {
        let json = try JSON.parse(String(contentsOfFile: Fixtures.path("composed/models.json"), encoding: .utf8))
        for name in ComposedReference.models {
            let expected = json[name]!["parameters"]!.object!.mapValues { $0.array!.map { $0.int! } }
            let net = try reference(name)
            XCTAssertEqual(Dictionary(uniqueKeysWithValues: net.namedParameters.map { ($0.name, $0.parameter.value.shape) }), expected, name)
            XCTAssertEqual(net.classes, json[name]!["classes"]!.int!, name)
        }
    } }

    func testCheckpointRebuildsAnyArchitecture() throws { try KernelFamilies.each(self) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("joule-\(getpid())-composed.safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        for name in ComposedReference.models {
            let net = try reference(name)
            try net.save(to: path, metadata: ["epoch": "1"])
            let back = try EnergyNets.load(from: path)
            XCTAssertFalse(back is ShallowCNN)
            XCTAssertEqual(back.namedParameters.map(\.name), net.namedParameters.map(\.name))
            let x = try ComposedReference.tensor(name, "x.npy")
            XCTAssertEqual(try back.logits(x).array, try net.logits(x).array, "\(name) after a round trip")
        }
        // A ShallowCNN checkpoint comes back as the preset.
        let cnn = try ShallowCNN(hidden: 4, classes: 3, rng: RNG(seed: 1))
        try cnn.save(to: path)
        XCTAssertEqual((try EnergyNets.load(from: path) as? ShallowCNN)?.hidden, 4)
    } }

    func testCheckpointMismatchNamesTheFirstDifferingParameter() throws { try KernelFamilies.each(self) {
        let net = try reference("cnn3")
        var weights = net.stateDict()
        weights["3.weight"] = Tensor(shape: [32, 16, 3, 3])
        weights["11.weight"] = Tensor(shape: [10, 4])
        assertThrowsMessage("weight '3.weight' has shape [32, 16, 3, 3], the model needs [32, 16, 4, 4]") { try net.load(stateDict: weights) }
        weights = net.stateDict(); weights.removeValue(forKey: "2.body.2.bias")
        assertThrowsMessage("missing weight '2.body.2.bias'") { try net.load(stateDict: weights) }
        // Nothing was copied by the failed loads.
        let x = try ComposedReference.tensor("cnn3", "x.npy")
        assertClose(try net.logits(x), try ComposedReference.tensor("cnn3", "logits.npy"), relative: 1e-5, "logits after failed loads")
    } }

    /// The preset and the same network built from its own description, on the same weights.
    func testShallowCNNFromItsArchitectureIsThePreset() throws { try KernelFamilies.each(self) {
        let preset = try ShallowCNN.load(from: Fixtures.path("shallowcnn_h32_c42.safetensors"))
        let rebuilt = try EnergyNet(try Architecture.build(preset.root.architecture, rng: RNG(seed: 9)))
        try rebuilt.load(stateDict: preset.stateDict())
        let x = try Fixtures.tensor("x.npy")
        XCTAssertEqual(try rebuilt.logits(x).array, try preset.logits(x).array)
        let (e1, e2) = (Tensor(shape: [0]), Tensor(shape: [0]))
        XCTAssertEqual(try rebuilt.energyGradient(x, labels: nil, energy: e1).array, try preset.energyGradient(x, labels: nil, energy: e2).array)
        XCTAssertEqual(e1.array, e2.array)
    } }

    /// A batch split over per-core replicas gives what the shares give one by one.
    func testReplicasGiveTheSameResultsAsOneModel() throws { try KernelFamilies.each(self) {
        for name in ["cnn3", "cnn1"] {
            let net = try reference(name)
            let x4 = try ComposedReference.tensor(name, "x.npy")
            let x = try Tensor.concatenate([x4, x4, x4, x4])   // 16 inputs: split over the cores
            let e = Tensor(shape: [0]), e4 = Tensor(shape: [0])
            let g = try net.energyGradient(x, labels: nil, energy: e).copy()
            let g4 = try net.energyGradient(x4, labels: nil, energy: e4).copy()
            for k in 0..<4 {
                assertClose(try g.items(k * 4..<(k + 1) * 4), g4, relative: 1e-6, "\(name): gradient of share \(k)")
                assertClose(try e.items(k * 4..<(k + 1) * 4), e4, relative: 1e-6, "\(name): energy of share \(k)")
            }
        }
    } }

    func testShapeErrorsNameTheLayer() throws { try KernelFamilies.each(self) {
        let rng = RNG(seed: 1)
        let net = try EnergyNet(Sequential([Conv2d(3, 16, kernel: 3, rng: rng), Swish(), Conv2d(8, 32, kernel: 3, rng: rng),
                                            AdaptiveAvgPool2d(), Flatten(), Linear(32, 2, rng: rng)]))
        assertThrowsMessage("layer 2 (Conv2d 8→32): expected 8 input channels, got 16") { _ = try net.logits(Tensor(shape: [1, 3, 9, 9])) }
        let res = try EnergyNet(Sequential([Conv2d(1, 4, kernel: 3, rng: rng),
                                            Residual(Sequential([Conv2d(4, 4, kernel: 3, padding: 1, rng: rng), Swish(), Conv2d(5, 4, kernel: 3, rng: rng)])),
                                            Flatten(), Linear(4, 2, rng: rng)]))
        assertThrowsMessage("layer 1.body.2 (Conv2d 5→4): expected 5 input channels, got 4") { _ = try res.logits(Tensor(shape: [2, 1, 3, 3])) }
        let flat = try EnergyNet(Sequential([Conv2d(1, 4, kernel: 3, rng: rng), Flatten(), Linear(4, 2, rng: rng)]))
        assertThrowsMessage("layer 2 (Linear 4→2): expected input (N, 4), got (2, 36)") { _ = try flat.logits(Tensor(shape: [2, 1, 5, 5])) }
        // Shapes in messages are in the order the user wrote them, (N, C, H, W), not the layers' channels-last.
        let shrink = try EnergyNet(Sequential([Residual(Conv2d(1, 2, kernel: 3, rng: rng)), Flatten(), Linear(72, 2, rng: rng)]))
        assertThrowsMessage("layer 0 (Residual): the body maps (1, 1, 8, 8) to (1, 2, 6, 6); a residual block needs the same shape") {
            _ = try shrink.logits(Tensor(shape: [1, 1, 8, 8]))
        }
        assertThrowsMessage("layer 0 (Conv2d 1→4): expected images (N, C, H, W), got shape (2, 9)") { _ = try flat.logits(Tensor(shape: [2, 9])) }
        assertThrowsMessage("appears twice") { let c = Conv2d(1, 1, kernel: 1, rng: rng); _ = try EnergyNet(Sequential([c, c, Flatten(), Linear(1, 1, rng: rng)])) }
        assertThrowsMessage("end it with a Linear layer or give its input shape") { _ = try EnergyNet(Sequential([Conv2d(1, 1, kernel: 1, rng: rng), Flatten()])) }
        assertThrowsMessage("expected inputs of shape (N, 2)") { _ = try reference("mlp2d").logits(Tensor(shape: [3, 3])) }
    } }

    func testHostileArchitecturesAreRefused() throws { try KernelFamilies.each(self) {
        for (json, fragment) in [
            (#"{"type": "Conv2d", "in": 3, "out": 16}"#, "Conv2d needs \"kernel\""),
            (#"{"type": "Linear", "in": 1048576, "out": 1048576}"#, "more than"),
            (#"{"type": "Linear", "in": -2, "out": 3}"#, "\"in\" must be an integer"),
            (#"{"type": "Sequential", "modules": [{"type": "Bogus"}]}"#, "unknown module type 'Bogus'"),
            (#"{"type": "LeakyReLU", "negative_slope": "x"}"#, "must be a number"),
            (#"{"type": "Sequential", "modules": [{"type": "ReLU"}], "names": ["a", "b"]}"#, "1 names expected, one per module"),
            (#"{"type": "Sequential", "modules": [{"type": "ReLU"}, {"type": "ReLU"}], "names": ["a", "a"]}"#, "must be distinct"),
        ] {
            assertThrowsMessage(fragment) { _ = try Architecture.build(try JSON.parse(json), rng: RNG(seed: 0)) }
        }
        var deep = #"{"type": "ReLU"}"#
        for _ in 0..<100 { deep = #"{"type": "Residual", "body": "# + deep + "}" }
        assertThrowsMessage("nested more than") { _ = try Architecture.build(try JSON.parse(deep), rng: RNG(seed: 0)) }

        // A weights file whose metadata describes a network of 2^30 parameters (4 GiB) over three
        // values: refused from the header, before the network is built.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("big-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try EnergyNet(Sequential([Linear(2, 1, rng: RNG(seed: 1))]))
            .save(to: path, metadata: ["architecture": #"{"type": "Linear", "in": 65536, "out": 16384, "bias": false}"#])
        assertThrowsMessage("architecture: more than 3 parameters, the values its weights file holds") { _ = try EnergyNets.load(from: path) }
    } }
}
