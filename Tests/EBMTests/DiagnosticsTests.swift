import EBM
import Formats
import Foundation
import Tensor
import TestSupport
import XCTest

/// Bulk ESS and rank R-hat against ArviZ's own numbers on the same chains
/// (Tests/Fixtures/diagnostics/make_fixtures.py wrote both).
final class DiagnosticsTests: XCTestCase {
    struct Case { let name: String; let ess: Double; let rhat: Double? }

    static func expected() throws -> JSON {
        try JSON.parse(Data(contentsOf: URL(fileURLWithPath: Fixtures.path("diagnostics/expected.json"))))
    }

    static func cases() throws -> [Case] {
        try XCTUnwrap(expected()["cases"]?.array).map { c in
            Case(name: try XCTUnwrap(c["name"]?.string), ess: try XCTUnwrap(c["ess"]?.double), rhat: c["rhat"]?.double)
        }
    }

    /// chains × draws, float64, as the script saved them.
    static func chains(_ name: String) throws -> [[Double]] {
        let a = try Npy.read(Fixtures.path("diagnostics/\(name).npy"))[0]
        let (m, n) = (a.shape[0], a.shape[1])
        let v = a.doubles()
        return (0..<m).map { c in Array(v[(c * n)..<((c + 1) * n)]) }
    }

    func assertRelative(_ actual: Double, _ expected: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertLessThanOrEqual(abs(actual - expected), 1e-6 * abs(expected), "\(what): \(actual), ArviZ \(expected)", file: file, line: line)
    }

    func testBulkESSEqualsArviZ() throws {
        let cases = try Self.cases()
        XCTAssertGreaterThanOrEqual(cases.count, 10)
        for c in cases { assertRelative(try Diagnostics.bulkESS(Self.chains(c.name)), c.ess, "\(c.name) ESS") }
    }

    func testRankRhatEqualsArviZ() throws {
        for c in try Self.cases() {
            guard let rhat = c.rhat else { continue }   // one chain: ArviZ gives NaN, Joule an error (below)
            assertRelative(try Diagnostics.rankRhat(Self.chains(c.name)), rhat, "\(c.name) R-hat")
        }
    }

    /// The fixtures cover what the diagnostics are for: chains that mix worse have a smaller ESS,
    /// anticorrelated ones a larger ESS than their draws, and chains that disagree an R-hat above 1.01.
    func testFixturesSpanTheCasesThatMatter() throws {
        let byName = Dictionary(uniqueKeysWithValues: try Self.cases().map { ($0.name, $0) })
        XCTAssertLessThan(try XCTUnwrap(byName["ar1_slow"]).ess, try XCTUnwrap(byName["ar1_fast"]).ess / 10)
        XCTAssertGreaterThan(try XCTUnwrap(byName["ar1_antithetic"]).ess, 4 * 500)
        XCTAssertGreaterThan(try XCTUnwrap(byName["shifted_means"]?.rhat), 1.05)
        XCTAssertGreaterThan(try XCTUnwrap(byName["different_scales"]?.rhat), 1.05)
    }

    func testFramesGiveOneValuePerCoordinateAsArviZ() throws {
        let frames = try Fixtures.tensor("diagnostics/frames.npy")
        let e = try Self.expected()["frames"]
        let ess = try XCTUnwrap(e?["ess"]?.array).compactMap(\.double)
        let rhat = try XCTUnwrap(e?["rhat"]?.array).compactMap(\.double)
        let s = try Diagnostics.summary(frames: frames)
        XCTAssertEqual(s.draws, frames.shape[0])
        XCTAssertEqual(s.chains, frames.shape[1])
        XCTAssertEqual(s.ess.count, 3)
        for j in 0..<3 {
            assertRelative(s.ess[j], ess[j], "coordinate \(j + 1) ESS")
            assertRelative(s.rhat[j], rhat[j], "coordinate \(j + 1) R-hat")
        }
        // Images are coordinates too: the same frames as (F, N, 3, 1, 1) give the same numbers.
        let images = try frames.reshaped(frames.shape + [1, 1])
        let t = try Diagnostics.summary(frames: images)
        XCTAssertEqual(t.ess, s.ess)
        XCTAssertEqual(t.rhat, s.rhat)
    }

    func testAutocovarianceByFFTEqualsTheDirectSum() {
        let x = (0..<37).map { sin(Double($0) * 0.7) + Double($0 % 5) / 3 }
        let mu = x.reduce(0, +) / Double(x.count)
        let acov = Diagnostics.autocovariance(x)
        for lag in [0, 1, 2, 17, 36] {
            let direct = (0..<(x.count - lag)).reduce(0.0) { $0 + (x[$1] - mu) * (x[$1 + lag] - mu) } / Double(x.count)
            XCTAssertEqual(acov[lag], direct, accuracy: 1e-12, "lag \(lag)")
        }
    }

    func testNormalQuantileInvertsTheCDF() {
        for p in [1e-9, 0.001, 0.02425, 0.1, 0.5, 0.77, 0.97575, 0.999, 1 - 1e-7] {
            let x = Diagnostics.normalQuantile(p)
            XCTAssertEqual(0.5 * erfc(-x / 2.0.squareRoot()), p, accuracy: 1e-15 + 1e-13 * p, "p = \(p)")
        }
        XCTAssertEqual(Diagnostics.normalQuantile(0.5), 0, accuracy: 1e-15)
    }

    func testBadInputIsAClearError() throws {
        let four = [[0.1, 0.2, 0.3, 0.4], [0.2, 0.1, 0.5, 0.3]]
        assertThrowsMessage("at least 4 draws per chain, got 3") { _ = try Diagnostics.bulkESS(four.map { Array($0.prefix(3)) }) }
        assertThrowsMessage("needs at least 2, got 1") { _ = try Diagnostics.rankRhat([four[0]]) }
        assertThrowsMessage("draw 3 of chain 2 is nan") { _ = try Diagnostics.rankRhat([four[0], [0.1, 0.2, .nan, 0.3]]) }
        assertThrowsMessage("chains of different lengths") { _ = try Diagnostics.bulkESS([four[0], [1, 2, 3, 4, 5]]) }
        let frames = Tensor(shape: [5, 2, 3])
        frames[2 * 6 + 1 * 3 + 2] = .infinity
        assertThrowsMessage("frame 3, chain 2, coordinate 3 is inf") { _ = try Diagnostics.summary(frames: frames) }
        assertThrowsMessage("needs at least 2, got 1") { _ = try Diagnostics.summary(frames: Tensor(shape: [5, 1, 3])) }
        assertThrowsMessage("at least 4 draws per chain, got 2") { _ = try Diagnostics.summary(frames: Tensor(shape: [2, 4, 3])) }
        assertThrowsMessage("draws × chains × state") { _ = try Diagnostics.summary(frames: Tensor(shape: [8])) }
    }

    /// A coordinate that never moves (a pixel clamped at 1 in every chain): every draw counts and
    /// R-hat is undefined (0/0), as in ArviZ.
    func testAConstantCoordinateHasFullESSAndNoRhat() throws {
        let chains = [[Double]](repeating: [1, 1, 1, 1, 1, 1], count: 3)
        XCTAssertEqual(try Diagnostics.bulkESS(chains), 18)
        XCTAssertTrue(try Diagnostics.rankRhat(chains).isNaN)
    }

    func testEnergyTraceOfAModel() throws {
        let model = try ShallowCNN(hidden: 4, classes: 3, rng: RNG(seed: 1))
        let rng = RNG(seed: 2)
        let frames = Tensor(shape: [4, 2, 1, 56, 56])
        rng.fillUniform(frames, -1, 1)
        let trace = try Diagnostics.energyTrace(model: model, frames: frames, labels: [0, 2])
        XCTAssertEqual(trace.shape, [4, 2])
        let third = try frames.items(2..<3)
        try third.reshape([2, 1, 56, 56])
        let e = try model.energy(third, labels: [0, 2])
        XCTAssertEqual(trace[2 * 2 + 1], e[1])
        assertThrowsMessage("1 labels for 2 chains") { _ = try Diagnostics.energyTrace(model: model, frames: frames, labels: [0]) }
    }
}
