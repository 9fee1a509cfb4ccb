import Dispatch
import Foundation

/// Work split over the cores. Regions do not nest: a parallel loop started inside another one
/// runs inline on its worker, so the outermost split (for example SGLD's chain groups) owns the cores.
/// For the same reason GEMMs inside a region run single-threaded.
public enum Parallel {
    public static let cores = Swift.max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Set while a parallel region runs. Only the thread that starts regions (the host's main
    /// thread) writes it; workers only read it.
    nonisolated(unsafe) private static var inRegion = false

    /// Runs `body` on this thread as one worker of a region would run it: parallel loops and GEMMs
    /// inside stay on this thread. For measuring what one piece of a split costs on one core
    /// (`PrecisionTuning`), not for work.
    public static func alone<T>(_ body: () throws -> T) rethrows -> T {
        if inRegion { return try body() }
        return try region(body)
    }

    /// Calls `body(part, range)` for `parts` disjoint contiguous ranges covering 0..<n, concurrently.
    public static func split(_ n: Int, parts requested: Int, _ body: (Int, Range<Int>) -> Void) {
        let parts = Swift.min(requested, n)
        if parts <= 1 || inRegion { body(0, 0..<n); return }
        region {
            // One worker per CPU while the region runs (see `Affinity`: steadier on a busy machine).
            let pin = Affinity.pins(parts: parts), first = pin ? Affinity.firstCPU() : 0
            DispatchQueue.concurrentPerform(iterations: parts) { p in
                if pin { Affinity.pin(part: p, first: first) }
                body(p, (n * p / parts)..<(n * (p + 1) / parts))
                if pin { Affinity.release() }
            }
        }
    }

    /// `body` as a region: nested loops run inline and BLAS single-threaded until it returns.
    private static func region<T>(_ body: () throws -> T) rethrows -> T {
        inRegion = true
        let blasThreads = BLAS.threads
        if blasThreads != 1 { BLAS.setThreads(1) }
        defer {
            if blasThreads != 1 { BLAS.setThreads(blasThreads) }
            inRegion = false
        }
        return try body()
    }

    /// Calls `body(worker, range)` for `pieces` disjoint contiguous ranges covering 0..<n, handed out
    /// one at a time to `workers` concurrent workers as each finishes its previous piece. On a busy
    /// machine a worker whose core another process shares takes fewer pieces, where fixed parts
    /// (`split`) would make everyone wait for its share; the ranges themselves do not depend on
    /// timing, so work whose pieces write disjoint results gives the same bits either way.
    /// `worker` (0..<workers) indexes per-worker workspaces.
    public static func pieces(_ n: Int, pieces requested: Int, workers: Int, _ body: (Int, Range<Int>) -> Void) {
        let pieces = Swift.min(requested, n)
        let workers = Swift.min(workers, pieces)
        // One worker has nothing to balance: it takes the whole range in one call, as `split` does
        // (inside another region, e.g. a convolution within SGLD's chain groups, larger calls mean
        // larger GEMMs).
        if workers <= 1 || inRegion { body(0, 0..<n); return }
        let queue = PieceQueue(count: pieces)
        split(workers, parts: workers) { worker, _ in
            while let p = queue.next() { body(worker, (n * p / pieces)..<(n * (p + 1) / pieces)) }
        }
    }

    /// Calls `body(range)` for one chunk of 0..<n per core; inline when chunks would be smaller than `minChunk`.
    @inline(__always)
    public static func chunks(_ n: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        split(n, parts: Swift.min(cores, Swift.max(1, n / Swift.max(minChunk, 1)))) { _, r in body(r) }
    }
}

/// The next piece to hand out (a lock around a counter: pieces are few and each is much work).
private final class PieceQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var taken = 0
    private let count: Int
    init(count: Int) { self.count = count }
    func next() -> Int? {
        lock.withLock {
            guard taken < count else { return nil }
            taken += 1
            return taken - 1
        }
    }
}

/// The first error thrown by any task of a parallel region, rethrown once the region is over.
public final class FirstError: @unchecked Sendable {
    private let lock = NSLock()
    private var error: Error?
    public init() {}
    public func record(_ e: Error) { lock.withLock { if error == nil { error = e } } }
    public func rethrow() throws { if let error { throw error } }
}
