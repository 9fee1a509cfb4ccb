import Dispatch
import Foundation

/// Splits 0..<n into one contiguous chunk per core and runs them concurrently.
public enum Parallel {
    public static let cores = Swift.max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Calls `body(range)` for disjoint ranges covering 0..<n; runs inline when the work is small.
    @inline(__always)
    public static func chunks(_ n: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        let parts = Swift.min(cores, Swift.max(1, n / Swift.max(minChunk, 1)))
        if parts <= 1 { body(0..<n); return }
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            body((n * p / parts)..<(n * (p + 1) / parts))
        }
    }
}
