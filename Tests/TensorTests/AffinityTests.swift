import Foundation
import Tensor
import XCTest

/// Workers pinned one per CPU inside a parallel region (`Affinity`), and every thread back on all
/// of the process's CPUs after it: the pinning must never outlive the region.
final class AffinityTests: XCTestCase {
    func testRegionsPinOneWorkerPerCPUAndReleaseThem() throws {
        #if os(Linux)
        // What the kernel says this process may use.
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") })
        var listed: [Int] = []
        for range in line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces).split(separator: ",") {
            let ends = range.split(separator: "-").compactMap { Int($0) }
            listed += Array(ends[0]...(ends.count > 1 ? ends[1] : ends[0]))
        }
        XCTAssertEqual(Affinity.allowed, listed)
        XCTAssertEqual(Affinity.current(), listed, "outside a region the thread runs anywhere allowed")
        try XCTSkipUnless(Affinity.enabled && Parallel.cores > 1, "one CPU (or JOULE_PIN_THREADS=0): nothing is pinned")
        let parts = min(Parallel.cores, Affinity.allowed.count)
        let seen = ThreadSafeList()
        Parallel.split(parts, parts: parts) { part, _ in seen.append((part, Affinity.current())) }
        XCTAssertEqual(seen.items.count, parts)
        XCTAssertTrue(seen.items.allSatisfy { $0.1.count == 1 && listed.contains($0.1[0]) }, "each part on one allowed CPU: \(seen.items)")
        XCTAssertEqual(Set(seen.items.map { $0.1[0] }).count, parts, "no two parts on one CPU: \(seen.items)")
        XCTAssertEqual(Affinity.current(), listed, "released after the region")
        // The pool's threads are released too: a later region's parts see one CPU each again, and
        // work outside regions on those threads is not confined.
        let after = ThreadSafeList()
        DispatchQueue.concurrentPerform(iterations: parts) { p in after.append((p, Affinity.current())) }
        XCTAssertTrue(after.items.allSatisfy { $0.1 == listed }, "\(after.items)")
        #else
        throw XCTSkip("thread affinity is Linux's")
        #endif
    }
}

private final class ThreadSafeList: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [(Int, [Int])] = []
    func append(_ x: (Int, [Int])) { lock.withLock { list.append(x) } }
    var items: [(Int, [Int])] { lock.withLock { list } }
}
