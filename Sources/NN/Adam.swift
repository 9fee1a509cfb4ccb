import Foundation
import Tensor

/// Adam with PyTorch's update rule (no weight decay, no amsgrad).
public final class Adam {
    public let parameters: [Parameter]
    public var lr: Float
    public let beta1, beta2, eps: Float
    public private(set) var step = 0
    /// First and second moments, one pair per parameter (part of the training state).
    public let m: [Tensor]
    public let v: [Tensor]

    public init(parameters: [Parameter], lr: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8) {
        self.parameters = parameters
        self.lr = lr; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
        m = parameters.map { Tensor(shape: $0.value.shape) }
        v = parameters.map { Tensor(shape: $0.value.shape) }
    }

    public func update() {
        step += 1
        let bc1 = 1 - pow(beta1, Float(step))
        let bc2Sqrt = (1 - pow(beta2, Float(step))).squareRoot()
        let stepSize = lr / bc1
        for (k, p) in parameters.enumerated() {
            let (w, g, m, v) = (p.value.data, p.grad.data, self.m[k].data, self.v[k].data)
            for i in 0..<p.value.count {
                m[i] = beta1 * m[i] + (1 - beta1) * g[i]
                v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
                let denom = v[i].squareRoot() / bc2Sqrt + eps
                w[i] -= stepSize * m[i] / denom
            }
            p.value.touch()
        }
    }

    /// Restores the step count of a saved optimizer (the moments are restored through `m` and `v`).
    public func restore(step: Int) { self.step = step }
}

/// StepLR: the learning rate is multiplied by `gamma` every `stepSize` epochs.
public struct StepLR {
    public let baseLR: Float
    public let stepSize: Int
    public let gamma: Float
    public init(baseLR: Float, stepSize: Int, gamma: Float) {
        self.baseLR = baseLR; self.stepSize = stepSize; self.gamma = gamma
    }
    /// The rate for a 0-based epoch.
    public func lr(epoch: Int) -> Float { baseLR * pow(gamma, Float(epoch / Swift.max(stepSize, 1))) }
}

public enum GradientClipping {
    /// Scales all gradients so their global L2 norm is at most `maxNorm`, as
    /// `torch.nn.utils.clip_grad_norm_`; returns the norm before clipping.
    @discardableResult
    public static func clipGlobalNorm(_ parameters: [Parameter], maxNorm: Float) -> Float {
        let norm = Float(parameters.reduce(0.0) { $0 + $1.grad.sumOfSquares() }.squareRoot())
        let coef = Swift.min(maxNorm / (norm + 1e-6), 1)
        for p in parameters { p.grad.scale(by: coef) }
        return norm
    }
}
