import CAffinity
import Foundation

/// One worker per CPU while a parallel region runs (`Parallel.split`), and the thread's own CPUs again after.
///
/// Why: Linux balances the number of runnable threads per CPU, not processes. With another process
/// running one thread on this 2-core machine there are three threads for two CPUs, and the balancer
/// is as content with both of our workers on one CPU (the other process alone on the other) as with
/// one of ours beside it: measured, a JEM iteration got 1.09 CPUs of the 2 and took 1.78× its quiet
/// time. Pinned, each CPU holds one of our workers, the other process's thread shares one of them,
/// and the pieces the slower worker does not take go to the other (`Parallel.pieces`): ≈ 1.55×.
/// Pinned only inside a region and only to the CPUs the process may use (a `taskset` or a Slurm
/// cpuset is respected), so serial work and other threads are placed as the system likes.
/// `JOULE_PIN_THREADS=0` turns it off.
public enum Affinity {
    /// The CPUs this process may run on, as read at start: the mask restored after a region.
    private static let allowedMask: [UInt8]? = readMask()

    /// The CPUs this process may run on, in order; empty where affinity cannot be read (macOS).
    public static let allowed: [Int] = allowedMask.map(cpus(in:)) ?? []

    /// The CPUs the calling thread may run on now; empty where affinity cannot be read.
    public static func current() -> [Int] { readMask().map(cpus(in:)) ?? [] }

    public static let enabled: Bool = ProcessInfo.processInfo.environment["JOULE_PIN_THREADS"] != "0" && allowed.count > 1

    private static func readMask() -> [UInt8]? {
        var mask = [UInt8](repeating: 0, count: 128)
        return joule_get_affinity(&mask, Int32(mask.count)) == 0 ? mask : nil
    }

    private static func cpus(in mask: [UInt8]) -> [Int] {
        (0..<(mask.count * 8)).filter { mask[$0 / 8] & (1 << ($0 % 8)) != 0 }
    }

    /// Whether a region of `parts` workers is pinned: one CPU each, so no more parts than CPUs.
    static func pins(parts: Int) -> Bool { enabled && parts <= allowed.count }

    /// Where a region's parts go: part p on allowed CPU (first + p) mod count, `first` the CPU the
    /// calling thread (which runs a part itself) is on now, so that pinning rarely moves a thread —
    /// a move costs tens of microseconds, which the 2-D MLP's 0.3 ms steps notice.
    static func firstCPU() -> Int {
        let cpu = Int(joule_current_cpu())
        return allowed.firstIndex(of: cpu) ?? 0
    }

    /// The calling thread on allowed CPU (first + part) mod count only.
    static func pin(part: Int, first: Int) { _ = joule_pin_thread(Int32(allowed[(first + part) % allowed.count])) }

    /// The calling thread on every allowed CPU again.
    static func release() {
        guard let mask = allowedMask else { return }
        _ = mask.withUnsafeBufferPointer { joule_set_affinity($0.baseAddress!, Int32($0.count)) }
    }
}
