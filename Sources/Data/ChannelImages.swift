import Formats
import Foundation
import Tensor

/// Images of C channels as NumPy and PyTorch store them, for networks other than the course's:
/// (N, H, W, C) uint8 (the CIFAR / NumPy convention) becomes (N, C, H, W) with v / 127.5 − 1, and
/// (N, C, H, W) float32 or float64 (C > 1) is taken as it is, in [−1, 1] already. No resizing:
/// the network sees the stored size. One-channel (N, H, W) and (N, 1, H, W) arrays keep the
/// course transform (see `CourseTransform`).
public enum ChannelImages {
    /// The images of `array` when it is stored in one of these layouts; nil for the course's.
    public static func images(_ array: NpyArray) throws -> Tensor? {
        let s = array.shape
        guard s.count == 4, s[1] != 1 else { return nil }
        switch array.dtype {
        case .uint8:
            let (n, h, w, c) = (s[0], s[1], s[2], s[3])
            guard c >= 1, c <= 64 else { throw JouleError("(N, H, W, C) uint8 images with C = \(c): expected 1 to 64 channels") }
            let out = Tensor(shape: [n, c, h, w])
            let hw = h * w
            array.bytes.withUnsafeBytes { raw in
                let src = raw.bindMemory(to: UInt8.self)
                for i in 0..<n {
                    for p in 0..<hw {
                        for ch in 0..<c { out.data[(i * c + ch) * hw + p] = Float(src[(i * hw + p) * c + ch]) / 127.5 - 1 }
                    }
                }
            }
            return out
        case .float32, .float64:
            let t = array.tensor()
            for i in 0..<t.count where !(t.data[i] >= -1 && t.data[i] <= 1) {
                throw JouleError("(N, C, H, W) float images must lie in [-1, 1]; value \(t.data[i]) at \(i) (scale them as the network expects before saving)")
            }
            return t
        case .int32, .int64:
            throw JouleError("images must be uint8, float32 or float64, got \(array.dtype.name)")
        }
    }
}
