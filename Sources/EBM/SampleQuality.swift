import Foundation
import Tensor

/// How good are samples, measured on features (rows of an (N, D) tensor) of a real and a sampled
/// set, as the literature computes it:
/// - FID (Heusel et al. 2017, pytorch-fid's formula): ‖μ_r − μ_f‖² + Tr(Σ_r + Σ_f − 2·(Σ_r Σ_f)^½),
///   covariances with ddof 1;
/// - KID (Bińkowski et al. 2018): the unbiased MMD² with the kernel k(a, b) = (aᵀb / D + 1)³;
/// - precision and recall (Kynkäänniemi et al. 2019) and density and coverage (Naeem et al. 2020)
///   with k nearest neighbours, as the `prdc` package computes them (strict "closer than").
///
/// Everything accumulates in Double: features are Float32, but FID subtracts traces of similar size
/// and KID averages 10⁵ kernel values of either sign.
public enum SampleQuality {
    /// Features as Double rows, checked: two dimensions, finite, at least `minimum` rows.
    static func rows(_ t: Tensor, _ what: String, minimum: Int) throws -> [[Double]] {
        guard t.rank == 2, t.shape[1] > 0 else { throw JouleError("\(what) features must be an (N, D) tensor, got shape \(t.shape)") }
        let (n, d) = (t.shape[0], t.shape[1])
        guard n >= minimum else { throw JouleError("\(what) features: \(n) rows, at least \(minimum) needed") }
        var out = [[Double]](repeating: [], count: n)
        for i in 0..<n {
            out[i] = (0..<d).map { Double(t.data[i * d + $0]) }
            if let j = out[i].firstIndex(where: { !$0.isFinite }) {
                throw JouleError("\(what) features: row \(i + 1), column \(j + 1) is \(out[i][j]) (features must be finite)")
            }
        }
        return out
    }

    static func sameWidth(_ a: Tensor, _ b: Tensor) throws {
        guard a.rank == 2, b.rank == 2, a.shape[1] == b.shape[1] else {
            throw JouleError("real and sampled features must be (N, D) and (M, D) with the same D, got \(a.shape) and \(b.shape)")
        }
    }

    // MARK: FID

    public static func fid(real: Tensor, fake: Tensor) throws -> Double {
        try sameWidth(real, fake)
        let d = real.shape[1]
        // A covariance of D features needs more than D rows to be of full rank: with fewer, the
        // distance depends on which directions happen to be missing.
        for (t, what) in [(real, "real"), (fake, "sampled")] where t.shape[0] <= d {
            throw JouleError("FID needs more \(what) feature rows than features to estimate a covariance: \(t.shape[0]) rows of \(d) features (draw at least \(d + 1) images)")
        }
        let (r, f) = (try rows(real, "real", minimum: d + 1), try rows(fake, "sampled", minimum: d + 1))
        let (mr, cr) = meanAndCovariance(r), (mf, cf) = meanAndCovariance(f)
        var meanTerm = 0.0
        for i in 0..<d { meanTerm += (mr[i] - mf[i]) * (mr[i] - mf[i]) }
        // Tr((Σ_r Σ_f)^½) = Tr((Σ_r^½ Σ_f Σ_r^½)^½): the matrix inside is symmetric and positive
        // semi-definite, so its square root is found from its eigenvalues; Σ_r Σ_f has the same
        // eigenvalues (it is similar to it), which is what scipy's sqrtm takes the real part of.
        let (values, vectors) = symmetricEigen(cr)
        var root = [Double](repeating: 0, count: d * d)
        for i in 0..<d {
            for j in 0..<d {
                var s = 0.0
                for k in 0..<d { s += vectors[i * d + k] * Swift.max(values[k], 0).squareRoot() * vectors[j * d + k] }
                root[i * d + j] = s
            }
        }
        let inner = multiply(multiply(root, cf, d), root, d)
        let traceRoot = symmetricEigen(inner).values.reduce(0) { $0 + Swift.max($1, 0).squareRoot() }
        var traces = 0.0
        for i in 0..<d { traces += cr[i * d + i] + cf[i * d + i] }
        return meanTerm + traces - 2 * traceRoot
    }

    static func meanAndCovariance(_ x: [[Double]]) -> ([Double], [Double]) {
        let (n, d) = (x.count, x[0].count)
        var mean = [Double](repeating: 0, count: d)
        for row in x { for j in 0..<d { mean[j] += row[j] } }
        for j in 0..<d { mean[j] /= Double(n) }
        var cov = [Double](repeating: 0, count: d * d)
        for row in x {
            for i in 0..<d {
                let a = row[i] - mean[i]
                for j in i..<d { cov[i * d + j] += a * (row[j] - mean[j]) }
            }
        }
        for i in 0..<d {
            for j in i..<d { cov[i * d + j] /= Double(n - 1); cov[j * d + i] = cov[i * d + j] }
        }
        return (mean, cov)
    }

    static func multiply(_ a: [Double], _ b: [Double], _ d: Int) -> [Double] {
        var c = [Double](repeating: 0, count: d * d)
        for i in 0..<d {
            for k in 0..<d {
                let x = a[i * d + k]
                if x == 0 { continue }
                for j in 0..<d { c[i * d + j] += x * b[k * d + j] }
            }
        }
        return c
    }

    /// Eigenvalues and eigenvectors (columns of `vectors`) of a symmetric d×d matrix, by cyclic
    /// Jacobi rotations: slow for large d (O(d³) a sweep) but accurate to the last bits for the
    /// small, well-conditioned-or-not covariances of feature sets, and needing no LAPACK.
    static func symmetricEigen(_ m: [Double]) -> (values: [Double], vectors: [Double]) {
        let d = Int(Double(m.count).squareRoot())
        var a = m
        var v = [Double](repeating: 0, count: d * d)
        for i in 0..<d { v[i * d + i] = 1 }
        for _ in 0..<100 {
            var off = 0.0, diag = 0.0
            for i in 0..<d {
                diag += a[i * d + i] * a[i * d + i]
                for j in (i + 1)..<Swift.max(i + 1, d) { off += a[i * d + j] * a[i * d + j] }
            }
            if off <= 1e-30 * Swift.max(diag, .leastNormalMagnitude) { break }
            for p in 0..<d {
                for q in (p + 1)..<Swift.max(p + 1, d) {
                    let apq = a[p * d + q]
                    if apq == 0 { continue }
                    let theta = (a[q * d + q] - a[p * d + p]) / (2 * apq)
                    let t = (theta >= 0 ? 1 : -1) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    for k in 0..<d {
                        let (akp, akq) = (a[k * d + p], a[k * d + q])
                        a[k * d + p] = c * akp - s * akq
                        a[k * d + q] = s * akp + c * akq
                    }
                    for k in 0..<d {
                        let (apk, aqk) = (a[p * d + k], a[q * d + k])
                        a[p * d + k] = c * apk - s * aqk
                        a[q * d + k] = s * apk + c * aqk
                    }
                    for k in 0..<d {
                        let (vkp, vkq) = (v[k * d + p], v[k * d + q])
                        v[k * d + p] = c * vkp - s * vkq
                        v[k * d + q] = s * vkp + c * vkq
                    }
                }
            }
        }
        return ((0..<d).map { a[$0 * d + $0] }, v)
    }

    // MARK: KID

    public static func kid(real: Tensor, fake: Tensor) throws -> Double {
        try sameWidth(real, fake)
        let (r, f) = (try rows(real, "real", minimum: 2), try rows(fake, "sampled", minimum: 2))
        let d = Double(real.shape[1])
        func k(_ a: [Double], _ b: [Double]) -> Double {
            var s = 0.0
            for i in 0..<a.count { s += a[i] * b[i] }
            let x = s / d + 1
            return x * x * x
        }
        func within(_ x: [[Double]]) -> Double {
            var s = 0.0
            for i in 0..<x.count { for j in (i + 1)..<Swift.max(i + 1, x.count) { s += k(x[i], x[j]) } }
            return 2 * s / (Double(x.count) * Double(x.count - 1))
        }
        var across = 0.0
        for a in r { for b in f { across += k(a, b) } }
        return within(r) + within(f) - 2 * across / (Double(r.count) * Double(f.count))
    }

    // MARK: Precision, recall, density, coverage

    public struct Manifold: Equatable {
        public var precision, recall, density, coverage: Double
    }

    public static func precisionRecall(real: Tensor, fake: Tensor, k: Int = 3) throws -> Manifold {
        try sameWidth(real, fake)
        guard k >= 1, k <= 1000 else { throw JouleError("precision_recall: k must be in 1...1000, got \(k)") }
        let (r, f) = (try rows(real, "real", minimum: k + 1), try rows(fake, "sampled", minimum: k + 1))
        func distance(_ a: [Double], _ b: [Double]) -> Double {
            var s = 0.0
            for i in 0..<a.count { s += (a[i] - b[i]) * (a[i] - b[i]) }
            return s.squareRoot()
        }
        /// Each point's distance to its k-th nearest other point of the same set.
        func radii(_ x: [[Double]]) -> [Double] {
            x.indices.map { i in
                var ds = x.indices.map { distance(x[i], x[$0]) }
                ds.sort()
                return ds[k]   // ds[0] is the point itself
            }
        }
        let (rr, fr) = (radii(r), radii(f))
        let across = r.map { a in f.map { distance(a, $0) } }   // [real][fake]
        var precise = 0, dense = 0
        for j in f.indices {
            var inside = 0
            for i in r.indices where across[i][j] < rr[i] { inside += 1 }
            if inside > 0 { precise += 1 }
            dense += inside
        }
        var recalled = 0, covered = 0
        for i in r.indices {
            if f.indices.contains(where: { across[i][$0] < fr[$0] }) { recalled += 1 }
            if (across[i].min() ?? .infinity) < rr[i] { covered += 1 }
        }
        return Manifold(precision: Double(precise) / Double(f.count), recall: Double(recalled) / Double(r.count),
                        density: Double(dense) / (Double(k) * Double(f.count)), coverage: Double(covered) / Double(r.count))
    }

    // MARK: Class fidelity and within-class diversity

    /// The share of class-conditional samples that a classifier (the feature network's head)
    /// assigns to the class they were drawn for.
    public static func classFidelity(predicted: [Int], asked: [Int]) throws -> Double {
        guard predicted.count == asked.count, !asked.isEmpty else {
            throw JouleError("class fidelity: \(predicted.count) predictions for \(asked.count) samples")
        }
        return Double(zip(predicted, asked).filter { $0 == $1 }.count) / Double(asked.count)
    }

    public struct Diversity {
        /// The mean over classes of `perClass` (the classes that have a ratio).
        public var ratio: Double
        /// Per class id: mean pairwise feature distance of its samples over that of its real images;
        /// nil where either has fewer than two.
        public var perClass: [Double?]
    }

    /// Within-class diversity: for each class, the mean pairwise feature distance of its samples
    /// relative to that of its real images. 1 is as varied as the data; collapsed samples (near
    /// copies of one another) go towards 0 however good each one looks, which precision cannot see.
    public static func diversity(fake: Tensor, fakeLabels: [Int], real: Tensor, realLabels: [Int], classes: Int) throws -> Diversity {
        try sameWidth(real, fake)
        let (f, r) = (try rows(fake, "sampled", minimum: 1), try rows(real, "real", minimum: 1))
        guard fakeLabels.count == f.count, realLabels.count == r.count else {
            throw JouleError("diversity: \(fakeLabels.count) labels for \(f.count) samples, \(realLabels.count) for \(r.count) real images")
        }
        guard classes > 0, (fakeLabels + realLabels).allSatisfy({ $0 >= 0 && $0 < classes }) else {
            throw JouleError("diversity: labels must lie in 0..<\(classes)")
        }
        func meanDistance(_ x: [[Double]]) -> Double? {
            guard x.count >= 2 else { return nil }
            var s = 0.0
            for i in 0..<x.count {
                for j in (i + 1)..<x.count {
                    var d = 0.0
                    for k in 0..<x[i].count { d += (x[i][k] - x[j][k]) * (x[i][k] - x[j][k]) }
                    s += d.squareRoot()
                }
            }
            return s / Double(x.count * (x.count - 1) / 2)
        }
        var perClass = [Double?](repeating: nil, count: classes)
        for c in 0..<classes {
            let fc = f.indices.filter { fakeLabels[$0] == c }.map { f[$0] }
            let rc = r.indices.filter { realLabels[$0] == c }.map { r[$0] }
            if let a = meanDistance(fc), let b = meanDistance(rc), b > 0 { perClass[c] = a / b }
        }
        let known = perClass.compactMap { $0 }
        guard !known.isEmpty else {
            throw JouleError("diversity: no class has two samples and two real images")
        }
        return Diversity(ratio: known.reduce(0, +) / Double(known.count), perClass: perClass)
    }
}
