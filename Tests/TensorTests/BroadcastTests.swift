import Foundation
import Tensor
import TestSupport
import XCTest

/// Broadcasting arithmetic, reductions along a dimension, transposes and matmul's shapes against
/// NumPy on the same float32 inputs (Tests/Fixtures/tensor_ops/make_fixtures.py).
final class BroadcastTests: XCTestCase {
    func fixture(_ name: String) throws -> Tensor { try Fixtures.tensor("tensor_ops/\(name).npy") }

    func testArithmeticBroadcastsAsNumPy() throws {
        let (a, b, c) = (try fixture("a"), try fixture("b"), try fixture("c"))
        // + - * / are correctly rounded in float32, as NumPy's: equal values.
        XCTAssertEqual(try a.adding(b).shape, [2, 4, 3])
        for (name, t) in [("a_add_b", try a.adding(b)), ("a_sub_b", try a.subtracting(b)), ("a_mul_b", try a.multiplying(b)),
                          ("a_div_b", try a.dividing(b)), ("b_sub_a", try b.subtracting(a)), ("c_div_b", try c.dividing(b)),
                          ("a_sub_c", try a.subtracting(c))] {
            let e = try fixture(name)
            XCTAssertEqual(t.shape, e.shape, name)
            XCTAssertEqual(t.array, e.array, name)
        }
        assertClose(try a.applying(.abs).combined(.pow, b), try fixture("absa_pow_b"), relative: 1e-6, "|a| ^ b")
    }

    func testShapesThatDoNotBroadcastAreAClearError() {
        assertThrowsMessage("mul: shapes [4, 3] and [2, 3] do not broadcast") { _ = try Tensor(shape: [4, 3]).multiplying(Tensor(shape: [2, 3])) }
        assertThrowsMessage("dimension 2 of the result would need 3 and 2") { _ = try Tensor(shape: [5, 3]).adding(Tensor(shape: [2])) }
    }

    func testReductionsAlongADimensionAsNumPy() throws {
        let x = try fixture("x")
        for d in 0..<3 {
            for r in Tensor.Reduction.allCases {
                let e = try fixture("x_\(r.rawValue)_\(d)")
                let t = try x.reduced(r, along: d)
                XCTAssertEqual(t.shape, e.shape, "\(r) along \(d)")
                // Accumulated in double and rounded once, as the float64 reference is.
                assertClose(t, e, relative: 1e-6, "\(r) along \(d)")
            }
            XCTAssertEqual(try x.reduced(.sum, along: d - 3).array, try x.reduced(.sum, along: d).array, "dimension \(d - 3) counts from the end")
        }
        let kept = try x.reduced(.sum, along: 1, keepDim: true)
        XCTAssertEqual(kept.shape, [3, 1, 5])
        assertClose(kept, try fixture("x_sum_1_keepdim"), relative: 1e-6, "sum keepdim")
        assertThrowsMessage("sum: dimension 3 out of range for a 3-D tensor") { _ = try x.reduced(.sum, along: 3) }
    }

    func testLogSumExpHandlesInfinitiesAndNaN() throws {
        let t = try Tensor(shape: [3, 2], values: [-.infinity, -.infinity, .infinity, 1, .nan, 0])
        let r = try t.reduced(.logsumexp, along: 1)
        XCTAssertEqual(r[0], -.infinity)
        XCTAssertEqual(r[1], .infinity)
        XCTAssertTrue(r[2].isNaN)
        XCTAssertTrue(try t.reduced(.max, along: 1)[2].isNaN, "max propagates NaN")
        // The same along the first dimension (columns of rows, reduced row by row).
        let c = try t.transposed(0, 1)
        for r in Tensor.Reduction.allCases {
            let rows = try t.reduced(r, along: 1), columns = try c.reduced(r, along: 0)
            XCTAssertEqual(columns.shape, [3], "\(r)")
            for i in 0..<3 {
                XCTAssertTrue(columns[i] == rows[i] || (columns[i].isNaN && rows[i].isNaN), "\(r) of column \(i): \(columns[i]) vs \(rows[i])")
            }
        }
        // NaN after a larger value, and before one: max and min see it either way.
        let late = try Tensor(shape: [3, 2], values: [5, 1, .nan, 2, 7, 3])
        for r in [Tensor.Reduction.max, .min, .sum, .logsumexp] {
            let v = try late.reduced(r, along: 0)
            XCTAssertTrue(v[0].isNaN, "\(r) with NaN in the middle of a column")
            XCTAssertFalse(v[1].isNaN, "\(r) of a column without NaN")
        }
        XCTAssertEqual(try Tensor(shape: [2], values: [1000, 1000]).logSumExp(), 1000 + log(2), accuracy: 1e-3)
    }

    func testTransposeAsNumPy() throws {
        let x = try fixture("x")
        XCTAssertEqual(try x.transposed(0, 2).array, try fixture("x_transpose_0_2").array)
        XCTAssertEqual(try x.transposed(0, 2).shape, [5, 4, 3])
        XCTAssertEqual(try x.transposed(1, 2).array, try fixture("x_transpose_1_2").array)
        XCTAssertEqual(try x.transposed(-1, 1).array, try fixture("x_transpose_1_2").array)
        XCTAssertEqual(try x.transposed(1, 1).array, x.array)
    }

    func testMatmulShapesAsNumPy() throws {
        let (m, k, v, s) = (try fixture("m"), try fixture("k"), try fixture("v"), try fixture("s"))
        for (name, t) in [("m_matmul_k", try m.matmul(k)), ("m_matmul_v", try m.matmul(v)), ("v_matmul_k", try v.matmul(k)),
                          ("s_matmul_k", try s.matmul(k))] {
            let e = try fixture(name)
            XCTAssertEqual(t.shape, e.shape, name)
            assertClose(t, e, relative: 1e-5, name)
        }
        assertThrowsMessage("matmul: shapes [5, 3] and [4, 3] do not chain") { _ = try m.matmul(Tensor(shape: [4, 3])) }
        assertThrowsMessage("the second one or two") { _ = try m.matmul(s) }
    }
}
