import Foundation
import LuaHost
import XCTest

/// scripts/energies/toys.lua: each toy's energies (up to its constant) and gradients against the
/// closed forms computed here in double precision.
final class ToyEnergiesTests: LuaTestCase {
    static let toys = TrainingTests.scripts.appendingPathComponent("energies/toys.lua").path

    /// Points in the plane, including the origin and points far out in the tails.
    let points: [[Double]] = [[0, 0], [0.3, -0.2], [-0.7, 0.45], [0.05, 0.9], [1.2, -1.1], [-0.4, -0.35]]

    /// Energies (N) and gradients (N, 2) of the toy `make` builds, evaluated in Lua.
    func evaluate(_ make: String) throws -> (energies: [Double], grads: [[Double]]) {
        let x = points.map { "{\($0[0]), \($0[1])}" }.joined(separator: ", ")
        let r = try lua("""
            local toys = dofile('\(Self.toys)')
            local g = \(make)
            local e, d = g:energy_grad(joule.tensor{\(x)})
            local f = function(v) return string.format('%.9g', v) end
            local es, ds = {}, {}
            for i = 1, #e do es[i] = f(e[i]); ds[i] = f(d:get(i, 1)) .. ':' .. f(d:get(i, 2)) end
            local e2 = g:energy(joule.tensor{\(x)})
            return table.concat(es, ','), table.concat(ds, ','), (e2 - e):abs():max()
            """)
        XCTAssertEqual(number(r[2]), 0, "energy and energy_grad agree")
        return (r[0].split(separator: ",").map { Double($0)! },
                r[1].split(separator: ",").map { $0.split(separator: ":").map { Double($0)! } })
    }

    func check(_ make: String, _ closed: ([Double]) -> (Double, [Double]), file: StaticString = #filePath, line: UInt = #line) throws {
        let (e, g) = try evaluate(make)
        for (i, p) in points.enumerated() {
            let (ce, cg) = closed(p)
            // Float32 arithmetic: relative 1e-5 of the magnitudes involved.
            XCTAssertEqual(e[i], ce, accuracy: 1e-5 * max(1, abs(ce)), "E\(p)", file: file, line: line)
            for j in 0..<2 { XCTAssertEqual(g[i][j], cg[j], accuracy: 1e-5 * max(1, abs(cg[0]) + abs(cg[1])), "∂E/∂x\(j + 1) at \(p)", file: file, line: line) }
        }
    }

    func testGaussian() throws {
        let (mu, p) = ([0.2, -0.1], [[8.0, 3.0], [3.0, 5.0]])
        try check("toys.gaussian{ mean = {0.2, -0.1}, precision = {{8, 3}, {3, 5}} }") { x in
            let d = [x[0] - mu[0], x[1] - mu[1]]
            let pd = [p[0][0] * d[0] + p[0][1] * d[1], p[1][0] * d[0] + p[1][1] * d[1]]
            return (0.5 * (d[0] * pd[0] + d[1] * pd[1]), pd)
        }
    }

    func testMixture() throws {
        let means = [[-0.5, 0.0], [0.5, 0.2], [0.0, -0.6]], w = [0.2, 0.5, 0.3], s = 0.3
        try check("toys.mixture{ means = {{-0.5, 0}, {0.5, 0.2}, {0, -0.6}}, weights = {0.2, 0.5, 0.3}, std = 0.3 }") { x in
            let t = zip(means, w).map { m, wk in log(wk) - (pow(x[0] - m[0], 2) + pow(x[1] - m[1], 2)) / (2 * s * s) }
            let top = t.max()!
            let lse = top + log(t.reduce(0) { $0 + exp($1 - top) })
            let r = t.map { exp($0 - lse) }
            let g = (0..<2).map { j in (x[j] - zip(r, means).reduce(0) { $0 + $1.0 * $1.1[j] }) / (s * s) }
            return (-lse, g)
        }
    }

    func testRings() throws {
        let radii = [0.3, 0.7], s = 0.1
        try check("toys.rings{ radii = {0.3, 0.7}, width = 0.1 }") { x in
            let rho = (x[0] * x[0] + x[1] * x[1] + 1e-12).squareRoot()
            let t = radii.map { -pow(rho - $0, 2) / (2 * s * s) }
            let top = t.max()!
            let lse = top + log(t.reduce(0) { $0 + exp($1 - top) })
            let dE = zip(t, radii).reduce(0) { $0 + exp($1.0 - lse) * (rho - $1.1) } / (s * s)
            return (-lse, [dE * x[0] / rho, dE * x[1] / rho])
        }
    }

    func testBanana() throws {
        let (s1, s2, b) = (0.5, 0.2, 1.5)
        try check("toys.banana{ s1 = 0.5, s2 = 0.2, b = 1.5 }") { x in
            let u = x[1] + b * (x[0] * x[0] - s1 * s1)
            return (0.5 * x[0] * x[0] / (s1 * s1) + 0.5 * u * u / (s2 * s2), [x[0] / (s1 * s1) + 2 * b * u * x[0] / (s2 * s2), u / (s2 * s2)])
        }
    }
}
