import Tensor

extension Tensor {
    /// The shape in a message, as the user wrote the tensor: modules pass images channels-last,
    /// (N, H, W, C), while scripts and PyTorch say (N, C, H, W), so a 4-D shape is printed in that
    /// order; others as they are.
    var shapeText: String {
        let s = rank == 4 ? [shape[0], shape[3], shape[1], shape[2]] : shape
        return "(" + s.map(String.init).joined(separator: ", ") + ")"
    }
}
