import Foundation
import Tensor

/// PyTorch's default initialisation of Conv2d and Linear layers.
public enum Init {
    /// kaiming_uniform_(a = √5): U(±bound) with bound = gain · √(3 / fan_in), gain = √(2 / (1 + a²)),
    /// which works out to U(±1/√fan_in).
    public static func kaimingUniform(shape: [Int], fanIn: Int, rng: RNG) -> Tensor {
        let gain = (2.0 / (1.0 + 5.0)).squareRoot()
        let bound = Float(gain * (3.0 / Double(fanIn)).squareRoot())
        let t = Tensor(shape: shape)
        rng.fillUniform(t, -bound, bound)
        return t
    }

    /// Bias: U(±1/√fan_in).
    public static func biasUniform(count: Int, fanIn: Int, rng: RNG) -> Tensor {
        let bound = Float(1 / Double(fanIn).squareRoot())
        let t = Tensor(shape: [count])
        rng.fillUniform(t, -bound, bound)
        return t
    }
}
