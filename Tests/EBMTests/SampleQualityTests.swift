import EBM
import Foundation
import Tensor
import TestSupport
import XCTest

/// FID, KID, precision/recall and density/coverage against numpy/scipy on four fixed feature sets
/// (`../shared/reference/sample_quality`, copied to Tests/Fixtures/sample_quality): a shifted set,
/// two draws of one distribution, a mode-collapsed sampler and noise.
final class SampleQualityTests: XCTestCase {
    func testMetricsEqualTheReference() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("sample_quality/metrics.json")))
        let reference = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: [String: Double]])
        for (name, expected) in reference.sorted(by: { $0.key < $1.key }) {
            let real = try Fixtures.tensor("sample_quality/\(name)_real.npy")
            let fake = try Fixtures.tensor("sample_quality/\(name)_fake.npy")
            // FID and KID to 1e-4 relative (the reference's stated float32 agreement), with KID's
            // near-zero value for two draws of one distribution compared on the scale of its terms.
            let fid = try SampleQuality.fid(real: real, fake: fake)
            XCTAssertEqual(fid, expected["fid"]!, accuracy: 1e-4 * abs(expected["fid"]!), "\(name): fid")
            let kid = try SampleQuality.kid(real: real, fake: fake)
            XCTAssertEqual(kid, expected["kid"]!, accuracy: 1e-4 * Swift.max(abs(expected["kid"]!), 1), "\(name): kid")
            let m = try SampleQuality.precisionRecall(real: real, fake: fake, k: 3)
            XCTAssertEqual(m.precision, expected["precision"]!, accuracy: 1e-12, "\(name): precision")
            XCTAssertEqual(m.recall, expected["recall"]!, accuracy: 1e-12, "\(name): recall")
            XCTAssertEqual(m.density, expected["density"]!, accuracy: 1e-12, "\(name): density")
            XCTAssertEqual(m.coverage, expected["coverage"]!, accuracy: 1e-12, "\(name): coverage")
        }
    }

    /// A symmetric matrix rebuilt from its eigenvalues and eigenvectors, the square root under FID.
    func testTheFrechetDistanceOfASetToItselfIsZero() throws {
        let real = try Fixtures.tensor("sample_quality/shifted_real.npy")
        XCTAssertEqual(try SampleQuality.fid(real: real, fake: real), 0, accuracy: 1e-8)
        let m = try SampleQuality.precisionRecall(real: real, fake: real)
        XCTAssertEqual([m.precision, m.recall, m.coverage], [1, 1, 1])
    }

    func testBadFeaturesGiveOneClearError() throws {
        let real = try Fixtures.tensor("sample_quality/same_real.npy")
        let few = try Tensor(shape: [10, 64], values: Array(real.array.prefix(640)))
        assertThrowsMessage("FID needs more sampled feature rows than features to estimate a covariance: 10 rows of 64 features (draw at least 65 images)") { _ = try SampleQuality.fid(real: real, fake: few) }
        assertThrowsMessage("same D") { _ = try SampleQuality.kid(real: real, fake: Tensor(shape: [10, 3])) }
        let bad = real.copy()
        bad.data[70] = .nan
        assertThrowsMessage("row 2, column 7 is nan") { _ = try SampleQuality.fid(real: bad, fake: real) }
        assertThrowsMessage("must be (N, D) and (M, D)") { _ = try SampleQuality.precisionRecall(real: Tensor(shape: [4]), fake: real) }
    }
}
