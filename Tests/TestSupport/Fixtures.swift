import Formats
import Foundation
import Tensor
import XCTest

/// Golden values computed with PyTorch (copied from shared/reference into Tests/Fixtures).
public enum Fixtures {
    public static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures")

    public static func path(_ name: String) -> String { folder.appendingPathComponent(name).path }
    public static func tensor(_ name: String) throws -> Tensor { try Npy.read(path(name))[0].tensor() }
    public static func ints(_ name: String) throws -> [Int] { try Npy.read(path(name))[0].ints() }
}

/// Asserts |a − e| ≤ tol · max|e| elementwise (the reference's "relative to the largest magnitude").
public func assertClose(_ actual: Tensor, _ expected: Tensor, relative tol: Float, _ what: String,
                        file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.shape, expected.shape, "\(what): shape", file: file, line: line)
    guard actual.count == expected.count else { return }
    let scale = max(expected.buffer.map(abs).max() ?? 0, 1e-30)
    var worst: Float = 0, at = 0
    for i in 0..<expected.count where abs(actual[i] - expected[i]) > worst { worst = abs(actual[i] - expected[i]); at = i }
    XCTAssertLessThanOrEqual(worst / scale, tol,
        "\(what): worst difference \(worst) at \(at) (\(actual[at]) vs \(expected[at])), scale \(scale)", file: file, line: line)
}

public func assertClose(_ actual: Tensor, _ expected: Tensor, absolute tol: Float, _ what: String,
                        file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.shape, expected.shape, "\(what): shape", file: file, line: line)
    guard actual.count == expected.count else { return }
    for i in 0..<expected.count where abs(actual[i] - expected[i]) > tol {
        XCTFail("\(what): element \(i) is \(actual[i]), expected \(expected[i]) (tolerance \(tol))", file: file, line: line)
        return
    }
}

/// Runs `body` and checks it throws a JouleError whose message contains `fragment`.
public func assertThrowsMessage(_ fragment: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected an error mentioning '\(fragment)'", file: file, line: line)
    } catch let e as JouleError {
        XCTAssertTrue(e.message.contains(fragment), "error '\(e.message)' does not mention '\(fragment)'", file: file, line: line)
    } catch {
        XCTFail("unexpected error \(error)", file: file, line: line)
    }
}

/// The built `joule` executable: it sits in the same products folder as the test bundle.
public func jouleExecutable() throws -> URL {
    var candidates = [Bundle.main.bundleURL.deletingLastPathComponent(), Bundle.main.bundleURL]
    for b in Bundle.allBundles where b.bundlePath.hasSuffix(".xctest") {
        candidates.append(b.bundleURL.deletingLastPathComponent())
    }
    if let exe = Bundle.main.executableURL { candidates.append(exe.deletingLastPathComponent()) }
    for dir in candidates {
        let url = dir.appendingPathComponent("joule")
        if FileManager.default.isExecutableFile(atPath: url.path) { return url }
    }
    XCTFail("joule executable not found next to the tests in \(candidates.map(\.path))")
    throw XCTSkip("no joule executable")
}
