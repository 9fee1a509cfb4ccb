import ArchitectureFiles
import NN
import Tensor

extension EnergyNet {
    /// A new model like this one with every Conv2d and Linear wrapped in a `SpectralNorm` (what
    /// applying PyTorch's `spectral_norm` to each gives): rebuilt from the architecture with each
    /// such node wrapped, this model's weights copied in as the originals, u and v drawn from `rng`
    /// as PyTorch draws them (normalised standard normals, then 15 power iterations, in the order
    /// of the modules). Layers already wrapped keep their u and v. The new model is in training mode.
    public func spectrallyNormalised(rng: RNG) throws -> EnergyNet {
        let net = try EnergyNet(try Architecture.build(SpectralNorm.wrappingEveryLayer(root.architecture), rng: RNG(seed: 0)),
                                inputShape: inputShape)
        let mine = Dictionary(uniqueKeysWithValues: namedParameters.map { ($0.name, $0.parameter.value) } + namedBuffers.map { ($0.name, $0.tensor) })
        let original = "parametrizations.weight.original"
        for (name, p) in net.namedParameters {
            // "a.parametrizations.weight.original" was "a.weight" unless it was wrapped already.
            let source = mine[name] ?? (name.hasSuffix(original) ? mine[String(name.dropLast(original.count)) + "weight"] : nil)
            guard let source, source.shape == p.value.shape else { throw JouleError("spectral_norm: no weight for '\(name)'") }
            p.value.data.update(from: source.data, count: source.count)
            p.value.touch()
        }
        // Buffers of layers that were wrapped already come along; the new layers' are drawn, in
        // the order of the modules.
        var byU: [ObjectIdentifier: SpectralNorm] = [:]
        for case let sn as SpectralNorm in net.root.allModules { byU[ObjectIdentifier(sn.state.u)] = sn }
        for (name, t) in net.namedBuffers {
            if let source = mine[name] {
                t.data.update(from: source.data, count: source.count)
                t.touch()
            } else if let sn = byU[ObjectIdentifier(t)] {
                sn.initialize(rng: rng)
            }
        }
        net.training = true
        return net
    }
}
