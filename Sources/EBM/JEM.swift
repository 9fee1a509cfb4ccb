import Foundation
import NN
import Tensor

/// Joint Energy-based Model training: the classifier's logits define p(y|x) and, through
/// E(x) = −logsumexp f(x), p(x). One step is
///   px  = α·mean(f_r² + f_s²) + mean(f_s) − mean(f_r)   (f = −E; r real, s sampled by SGLD)
///   pyx = cross-entropy(f(x_r), y);  loss = px + λ·pyx,
/// then global gradient-norm clipping and Adam.
public final class JEM {
    public struct Config: Equatable {
        public var alpha: Float = 0.1
        public var lambda: Float = 1
        /// Standard deviation of the noise added to real images before the px term.
        public var realNoise: Float = 0.005
        public var lr: Float = 1e-4
        public var lrStep = 2
        public var lrGamma: Float = 0.97
        public var clip: Float = 0.1
        public var beta1: Float = 0
        public var beta2: Float = 0.999
        public init() {}
    }

    /// The five terms of the loss, as the reference names them.
    public struct Terms: Equatable {
        public var reg, cdiv, px, pyx, total: Float
    }

    public struct StepStats {
        public var terms: Terms
        public var gradNorm: Float
        public var accuracy: Float
        public var energyReal: Float
        public var energySampled: Float

        /// Every field averaged over steps (an epoch's summary); nil for no steps.
        public static func mean(_ steps: [StepStats]) -> StepStats? {
            guard !steps.isEmpty else { return nil }
            func m(_ f: (StepStats) -> Float) -> Float { Float(steps.reduce(0.0) { $0 + Double(f($1)) } / Double(steps.count)) }
            return StepStats(terms: Terms(reg: m { $0.terms.reg }, cdiv: m { $0.terms.cdiv }, px: m { $0.terms.px },
                                          pyx: m { $0.terms.pyx }, total: m { $0.terms.total }),
                             gradNorm: m(\.gradNorm), accuracy: m(\.accuracy),
                             energyReal: m(\.energyReal), energySampled: m(\.energySampled))
        }
    }

    public struct Evaluation {
        public var accuracy: Double
        public var meanEnergyReal: Double
        public var meanEnergySampled: Double
        /// Contrastive divergence: mean E(sampled) − mean E(real).
        public var contrastiveDivergence: Double
        public var predictions: [Int]
    }

    public let model: EnergyModel
    public let sampler: ChainSampler
    public let config: Config
    public let optimizer: Adam
    public let scheduler: StepLR
    /// Rolls training back when it diverges (see `DivergenceGuard`); nil: unguarded.
    public var divergenceGuard: DivergenceGuard?
    public private(set) var epoch = 0
    public private(set) var step = 0

    /// What each step minimises: JEM's contrastive maximum likelihood (with α and λ of the
    /// configuration) unless another objective is given.
    public let objective: TrainingObjective
    // Workspaces of evaluation.
    private let lse = Tensor(shape: [0])
    private let softmax = Tensor(shape: [0])
    /// Predicted classes of the real batch, and mean f = −E of both batches, in the latest loss evaluation.
    private var realPredictions: [Int] = []
    private var meanF = (real: 0.0, sampled: 0.0)

    public init(model: EnergyModel, sampler: ChainSampler, config: Config = Config(), objective: TrainingObjective? = nil) throws {
        guard sampler.model === model else { throw JouleError("JEM: the sampler must sample from the trained model") }
        guard config.alpha >= 0, config.lambda >= 0, config.lr > 0, config.clip > 0, config.lrStep > 0, config.realNoise >= 0 else {
            throw JouleError("JEM: alpha, lambda and real_noise must be ≥ 0; lr, clip and lr_step > 0")
        }
        self.model = model
        self.sampler = sampler
        self.config = config
        self.objective = objective ?? ContrastiveML(alpha: config.alpha, lambda: config.lambda)
        optimizer = Adam(parameters: (model.namedParameters + self.objective.ownParameters.map { ("objective.\($0.name)", $0.parameter) }).map(\.parameter),
                         lr: config.lr, beta1: config.beta1, beta2: config.beta2)
        scheduler = StepLR(baseLR: config.lr, stepSize: config.lrStep, gamma: config.lrGamma)
    }

    /// What the optimizer trains: the model's parameters, then the objective's own ("objective.<name>").
    public var trainedParameters: [(name: String, parameter: Parameter)] {
        model.namedParameters + objective.ownParameters.map { ("objective.\($0.name)", $0.parameter) }
    }

    /// The loss of real images (with labels) against sampled ones under the trainer's objective, with
    /// every parameter's gradient accumulated (gradients are zeroed first).
    ///
    /// A training step is a training-mode pass whatever the model's mode: the mode-dependent state
    /// (spectral normalisation's u, v) advances exactly once here, then the objective's passes
    /// (ContrastiveML's real and sampled forwards, a penalty's, …) run in evaluation mode: the same
    /// as PyTorch's one training-mode forward of the joint batch. The caller's mode is restored
    /// afterwards (a script keeps its model in evaluation mode so that validation does not advance).
    public func lossAndGradients(real: Tensor, labels: [Int], sampled: Tensor?) throws -> Terms {
        let mode = model.training
        model.beginTrainingStep()
        model.training = false
        defer { model.training = mode }
        let r = try objective.lossAndGradients(model: model, real: real, labels: labels, sampled: sampled)
        realPredictions = r.predictions
        meanF = r.meanF
        return r.terms
    }

    /// One training step on a batch: sample, loss, clip, Adam.
    public func step(_ images: Tensor, labels: [Int]) throws -> StepStats {
        // The real batch goes along: contrastive divergence starts its chains there. Sampling runs
        // in evaluation mode (as JEM's and IGEBM's reference code do, f.eval() around it): its
        // passes leave spectral normalisation's u, v as they are.
        let mode = model.training
        model.training = false
        let sampledOrError = Result { objective.needsSamples ? try sampler.sampleForTraining(real: images, labels: sampler.conditional ? labels : nil) : nil }
        model.training = mode
        let sampled = try sampledOrError.get()
        let real = images.copy()
        if config.realNoise > 0 {
            // Noised and clamped back into the pixel range, as the course's template and the UvA
            // tutorial do (`real.add_(noise).clamp_(-1, 1)`): sampled images never leave [−1, 1] either.
            for i in 0..<real.count {
                real.data[i] = Swift.min(Swift.max(real.data[i] + config.realNoise * sampler.rng.normal(), -1), 1)
            }
        }
        optimizer.lr = learningRate
        let terms = try lossAndGradients(real: real, labels: labels, sampled: sampled)
        let accuracy = try Metrics.accuracy(predictions: realPredictions, labels: labels)
        let gradNorm = GradientClipping.clipGlobalNorm(trainedParameters.map(\.parameter), maxNorm: config.clip)
        optimizer.update()
        step += 1
        // Energies of this step's batches come from the loss's own forward pass: E = −f.
        return StepStats(terms: terms, gradNorm: gradNorm, accuracy: Float(accuracy),
                         energyReal: Float(-meanF.real), energySampled: Float(-meanF.sampled))
    }

    /// The learning rate of the next step: the schedule's, times the guard's factor from rollbacks.
    public var learningRate: Float { scheduler.lr(epoch: epoch) * (divergenceGuard?.lrScale ?? 1) }

    /// Marks the end of an epoch (the learning-rate schedule counts epochs).
    public func endEpoch() { epoch += 1 }

    /// Restores counters from a saved training state.
    public func restore(epoch: Int, step: Int) { self.epoch = epoch; self.step = step }

    /// Classification accuracy, mean energy of the split's images, and of `sampledCount` fresh
    /// samples drawn by the sampler.
    public func evaluate(_ images: Tensor, labels: [Int], batchSize: Int = 256, sampledCount: Int = 32) throws -> Evaluation {
        let n = images.shape.first ?? 0
        guard n > 0, labels.count == n else { throw JouleError("evaluate: \(labels.count) labels for \(n) images") }
        guard batchSize > 0 else { throw JouleError("evaluate: batch size must be positive") }
        var predictions: [Int] = []
        var energySum = 0.0
        let e = Tensor(shape: [0])
        guard (0...sampler.maxChains).contains(sampledCount) else {
            throw JouleError("evaluate: samples must be in 0...\(sampler.maxChains), got \(sampledCount)")
        }
        for start in stride(from: 0, to: n, by: batchSize) {
            try Interruption.check()
            let batch = try images.items(start..<min(start + batchSize, n))
            let logits = try model.forwardLogits(batch)
            predictions += try logits.argmaxRows()
            try Energies.compute(of: logits, labels: nil, into: e, gradLogits: nil, lse: lse, softmax: softmax)
            energySum += e.sumDouble()
        }
        let meanReal = energySum / Double(n)
        var meanSampled = Double.nan
        if sampledCount > 0 {
            let labels = sampler.conditional ? (0..<sampledCount).map { _ in sampler.rng.int(model.classes) } : nil
            let s = try sampler.sample(count: sampledCount, labels: labels, steps: nil, keepEvery: nil).final
            meanSampled = try model.energy(s).sumDouble() / Double(sampledCount)
        }
        return Evaluation(accuracy: try Metrics.accuracy(predictions: predictions, labels: labels),
                          meanEnergyReal: meanReal, meanEnergySampled: meanSampled,
                          contrastiveDivergence: meanSampled - meanReal, predictions: predictions)
    }

    /// The epoch a `fitEpoch` left early (asked to stop between batches): its batch order, how many
    /// batches it has, and the stats of those already done. The next `fitEpoch` continues it, so a
    /// stopped and resumed run takes exactly the steps of an uninterrupted one.
    public struct EpochProgress {
        public var order: [Int]
        public var batchSize: Int
        public var batches: Int
        public var stats: [StepStats]
        public init(order: [Int], batchSize: Int, batches: Int, stats: [StepStats]) {
            self.order = order; self.batchSize = batchSize; self.batches = batches; self.stats = stats
        }
    }

    /// The unfinished epoch, if `fitEpoch` stopped early (part of the training state).
    public internal(set) var epochInProgress: EpochProgress?

    /// One pass over a training split in shuffled batches (at most `maxBatches` of them, drawn from
    /// the whole shuffled split); `onBatch(done, total, stats)` reports progress. When `shouldStop`
    /// answers true after a batch, the epoch stops there, unfinished (see `epochInProgress`), and the
    /// stats so far are returned; the next call continues it (same split and batch size).
    /// With a `divergenceGuard`, a step that fires one of its checks is undone with the steps since the
    /// last good state, those batches are redone, and `onRollback` reports it; the stats returned are
    /// those of the steps kept.
    public func fitEpoch(_ images: Tensor, labels: [Int], batchSize: Int = 32, maxBatches: Int? = nil, rng: RNG,
                         shouldStop: (() -> Bool)? = nil,
                         onBatch: ((Int, Int, StepStats) -> Void)? = nil,
                         onRollback: ((DivergenceGuard.Event) -> Void)? = nil) throws -> [StepStats] {
        let n = images.shape.first ?? 0
        guard n > 0, labels.count == n else { throw JouleError("fit_epoch: \(labels.count) labels for \(n) images") }
        guard batchSize > 0 else { throw JouleError("fit_epoch: batch size must be positive") }
        if let m = maxBatches, m <= 0 { throw JouleError("fit_epoch: max_batches must be positive, got \(m)") }
        var progress: EpochProgress
        if let p = epochInProgress {
            guard p.order.count == n, p.batchSize == batchSize else {
                throw JouleError("fit_epoch: the unfinished epoch ran over \(p.order.count) images in batches of \(p.batchSize); continue it with the same split and batch size (got \(n) images, batches of \(batchSize))")
            }
            progress = p
            // A training state saved without the guard's good state: the present one is good.
            if let g = divergenceGuard, g.snapshot == nil { g.keep(self, batch: p.stats.count) }
        } else {
            // The last incomplete batch is dropped, as the course's loader does.
            let batches = Swift.min(n / batchSize, maxBatches ?? Int.max)
            guard batches > 0 else { throw JouleError("fit_epoch: \(n) images make no batch of \(batchSize)") }
            progress = EpochProgress(order: rng.permutation(n), batchSize: batchSize, batches: batches, stats: [])
            divergenceGuard?.keep(self, batch: 0)
        }
        while progress.stats.count < progress.batches {
            let k = progress.stats.count
            let idx = Array(progress.order[(k * batchSize)..<((k + 1) * batchSize)])
            let stats = try step(try images.gather(idx), labels: idx.map { labels[$0] })
            if let g = divergenceGuard {
                if let fired = g.check(stats) {
                    let event = try g.rollBack(self, firedBy: fired, at: step)
                    progress.stats.removeLast(progress.stats.count - g.snapshot!.batch)
                    epochInProgress = progress
                    onRollback?(event)
                    if shouldStop?() == true { return progress.stats }
                    continue
                }
                if (k + 1) % g.config.every == 0 { g.keep(self, batch: k + 1) }
            }
            progress.stats.append(stats)
            epochInProgress = progress
            onBatch?(k + 1, progress.batches, stats)
            if progress.stats.count < progress.batches, shouldStop?() == true { return progress.stats }
        }
        epochInProgress = nil
        endEpoch()
        return progress.stats
    }
}
