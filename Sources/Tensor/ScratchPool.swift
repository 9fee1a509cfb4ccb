import Foundation

/// Buffers lent to one caller at a time, grown to the largest size asked: a tile's bf16 copy of A,
/// a GEMM's packed B, without an allocation per call (128 KB at a time would go to mmap and back on
/// every call). Several threads may borrow at once; each gets a buffer of its own.
final class ScratchPool<Element>: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [(pointer: UnsafeMutablePointer<Element>, count: Int)] = []

    func with<R>(count: Int, _ body: (UnsafeMutablePointer<Element>) throws -> R) rethrows -> R {
        lock.lock()
        var buffer = free.popLast()
        lock.unlock()
        if let b = buffer, b.count < count { b.pointer.deallocate(); buffer = nil }
        let b = buffer ?? (UnsafeMutablePointer<Element>.allocate(capacity: Swift.max(count, 1)), count)
        defer { lock.lock(); free.append(b); lock.unlock() }
        return try body(b.pointer)
    }

    deinit { for b in free { b.pointer.deallocate() } }
}
