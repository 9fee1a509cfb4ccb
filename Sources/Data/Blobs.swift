import Foundation
import Tensor

/// A small made-up problem a JEM should solve in seconds: 16×16 images of a bright (class 0) or
/// dark (class 1) Gaussian blob at a random place on a noisy mid-grey background, values in [−1, 1].
public enum BlobProblem {
    public static let classNames = ["bright", "dark"]

    public static func make(count: Int, rng: RNG) -> (images: Tensor, labels: [Int]) {
        let s = 16
        let images = Tensor(shape: [count, 1, s, s])
        var labels: [Int] = []
        for n in 0..<count {
            let label = n % 2
            labels.append(label)
            let cx = rng.uniform(4, 12), cy = rng.uniform(4, 12), r = rng.uniform(2, 3.5)
            let amplitude: Float = label == 0 ? 0.9 : -0.9
            for y in 0..<s {
                for x in 0..<s {
                    let d2 = (Float(x) - cx) * (Float(x) - cx) + (Float(y) - cy) * (Float(y) - cy)
                    let v = amplitude * expf(-d2 / (2 * r * r)) + 0.05 * rng.normal()
                    images[n * s * s + y * s + x] = min(max(v, -1), 1)
                }
            }
        }
        return (images, labels)
    }
}
