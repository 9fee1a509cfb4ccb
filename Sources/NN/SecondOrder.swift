import Tensor

// Second order by Pearlmutter's R-operator (forward over reverse): R{z} = d/dr z(x + r·v) at r = 0,
// the weights held. Every module carries the tangents of its forward and backward passes:
//
//   forward   y = F(x)          R{y} = J_F(x) · R{x}
//   backward  ∂L/∂x = J_Fᵀ g     R{∂L/∂x} = J_Fᵀ R{g} + (∂J_Fᵀ/∂x · R{x}) g
//   weights   ∂L/∂θ             R{∂L/∂θ}
//
// For E(x) at the top (g = ∂E/∂f and its tangent from the logits' tangent), R{∂E/∂x} is the input
// Hessian of E times v, and R{∂E/∂θ} = ∂/∂θ [vᵀ ∂E/∂x]: the weight gradient of a loss of ∂E/∂x
// (score matching, gradient penalties) with v its gradient to ∂E/∂x. Linear layers (Linear, Conv2d,
// the poolings, Flatten) apply their first-order maps to the tangents, through the same GEMMs;
// their weight tangents are R{g}ᵀ·x + gᵀ·R{x}. Elementwise activations need f'' besides f'.
// Kinks follow the first-order choices, as PyTorch's double backward does: ReLU's slope at 0 is 0,
// MaxPool's gradient goes to the first largest input of a window, and so does its tangent.

/// The second-order workspaces of an elementwise layer y = f(x) whose forward pass keeps the
/// slope f'(x): the output's tangent f'·R{x}, the curvature term f''·R{x} the backward tangent
/// needs, and the input gradient's tangent. The layer supplies f' and f''.
final class PointwiseTangents {
    let outputTangent = Tensor(shape: [0])
    /// f''(x) · R{x}, from the latest tangent forward.
    let curvature = Tensor(shape: [0])
    let gradInputTangent = Tensor(shape: [0])
    /// Whether `curvature` belongs to the latest forward pass (a plain one clears it).
    var current = false

    /// The tangents of y = f(x) for `derivatives(x)` = (f'(x), f''(x)); run before the layer's own
    /// forward pass, which may overwrite x in place.
    func forward(_ input: Tensor, tangent: Tensor, _ what: String,
                 derivatives: (Float) -> (slope: Float, curvature: Float)) throws -> Tensor {
        try requireSameShape(tangent, input, "\(what) tangent")
        try outputTangent.resize(input.shape)
        try curvature.resize(input.shape)
        let (x, v, ry, c) = (input.data, tangent.data, outputTangent.data, curvature.data)
        Parallel.chunks(input.count, minChunk: 16384) { r in
            for i in r {
                let (d, dd) = derivatives(x[i])
                ry[i] = d * v[i]
                c[i] = dd * v[i]
            }
        }
        return outputTangent
    }

    /// R{∂L/∂x} = f''·R{x}·g + f'·R{g}; run before the layer's own backward pass, which may
    /// overwrite g in place.
    func backward(_ gradOutput: Tensor, tangent: Tensor, slope: Tensor, _ what: String) throws -> Tensor {
        guard current else { throw JouleError("\(what): second-order backward before a tangent forward") }
        try requireSameShape(gradOutput, curvature, "\(what) backward")
        try requireSameShape(tangent, curvature, "\(what) backward tangent")
        try gradInputTangent.resize(gradOutput.shape)
        let (g, rg, d, c, out) = (gradOutput.data, tangent.data, slope.data, curvature.data, gradInputTangent.data)
        Parallel.chunks(gradOutput.count, minChunk: 16384) { r in for i in r { out[i] = c[i] * g[i] + d[i] * rg[i] } }
        return gradInputTangent
    }
}
