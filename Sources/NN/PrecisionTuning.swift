import Foundation
import JouleCore
import Tensor

/// `precision = "auto"`: for each convolution shape, the arithmetic in which a sampler's passes run
/// faster on this CPU, FP32 or bf16, measured once and remembered in a small JSON file.
///
/// Why measure rather than decide from the CPU's name: whether bf16 pays depends on the CPU and on
/// the layer. `vdpbf16ps` does two products per lane, but on an Intel Xeon without AMX it has half
/// the throughput of FP32 FMA (bf16 is slower there), and on Zen 4 a stride-1 3×3 layer runs
/// Winograd F(2×2, 3×3) in either arithmetic with FP32 transforms, which bf16's faster products
/// do not speed up: which wins depends on the channels and the map size. Measuring the two real
/// layers is the one rule that holds on every CPU, and it makes auto never slower than FP32 beyond
/// the noise of the measurement (bf16 must win by `margin`).
///
/// What is measured is what a sampler runs per layer: the forward pass and the input gradient of
/// `images` images on one core (`Parallel.alone`), since SGLD hands its chains out in pieces of a
/// few images to each core. The best of `rounds` interleaved rounds of each, so that a core taken
/// for a moment by another process costs both alike.
///
/// The file (`cacheFile`: `$JOULE_CACHE_DIR`, else `$XDG_CACHE_HOME/joule`, else `~/.cache/joule`,
/// then `precision.json`) holds the CPU it was measured on and the kernels' revision; on another CPU
/// (a shared home folder on a cluster) or after the kernels changed its entries are measured again. A file Joule did not write is ignored with a warning and
/// replaced: nothing in it can do more than choose between two correct arithmetics.
public enum PrecisionTuning {
    /// A convolution layer as a sampler runs it: its geometry and the size of its input maps.
    public struct Shape: Hashable, Sendable, CustomStringConvertible {
        public let inChannels, outChannels, kernel, stride, padding, height, width: Int

        public init(inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int, height: Int, width: Int) {
            self.inChannels = inChannels; self.outChannels = outChannels; self.kernel = kernel
            self.stride = stride; self.padding = padding; self.height = height; self.width = width
        }

        public var description: String {
            "Conv2d \(inChannels)→\(outChannels) k\(kernel) s\(stride) p\(padding) on \(height)×\(width)"
        }
        /// The file's key for this shape.
        var key: String { "\(inChannels)>\(outChannels) k\(kernel) s\(stride) p\(padding) \(height)x\(width)" }
    }

    /// Seconds per piece (forward and input gradient of `images` images) in each arithmetic.
    public struct Measurement: Sendable, Equatable {
        public let fp32: Double, bf16: Double
        public init(fp32: Double, bf16: Double) { self.fp32 = fp32; self.bf16 = bf16 }
        /// bf16 only when it is faster by at least `margin`: a tie goes to FP32's exact arithmetic.
        public var choice: Precision { bf16 < fp32 * (1 - PrecisionTuning.margin) ? .bf16 : .fp32 }
    }

    /// How much faster bf16 must be to be chosen (5 %: above the rounds' spread on a quiet core).
    public static let margin = 0.05
    /// Images per measured piece: a few, as SGLD's pieces are (2–4 chains); 4 keeps each timed call
    /// well above the clock's resolution on small maps.
    public static let images = 4
    public static let rounds = 5

    /// How a shape is measured; tests put a function of their own here.
    nonisolated(unsafe) public static var measure: (Shape) throws -> Measurement = measureLayers

    /// The arithmetic a layer of this shape samples in under auto: FP32 where bf16 cannot run here
    /// (no AVX512-BF16, an FP32 kernel family forced) or does not serve the shape, else the faster.
    public static func choice(for shape: Shape) -> Precision {
        guard Precision.bf16Unavailable == nil,
              BF16Convolution.serves(inChannels: shape.inChannels, outChannels: shape.outChannels) else { return .fp32 }
        return lock.withLock {
            loadOnce()
            if let known = entries[shape.key] { return known.choice }
            let m: Measurement
            do { m = try measure(shape) } catch {
                warn("precision auto: measuring \(shape) failed (\(error)); it samples in FP32")
                return .fp32
            }
            entries[shape.key] = m
            save()
            return m.choice
        }
    }

    /// What `joule version` says about auto.
    public static var summary: String {
        if let why = Precision.bf16Unavailable { return "auto runs FP32 here (bf16: \(why))" }
        let count = lock.withLock { loadOnce(); return entries.count }
        return "auto: per convolution shape the faster of FP32 and bf16, measured on this CPU "
            + "(\(count) shape\(count == 1 ? "" : "s") measured, in \(cacheFile ?? "memory only"))"
    }

    // MARK: Measuring

    public static func measureLayers(_ s: Shape) throws -> Measurement {
        let rng = RNG(seed: 20261204)
        let fp32 = Conv2d(s.inChannels, s.outChannels, kernel: s.kernel, stride: s.stride, padding: s.padding, rng: rng)
        guard let bf16 = fp32.replica() as? Conv2d else { throw JouleError("a Conv2d replica is a Conv2d") }
        bf16.run(in: .bf16)
        let x = Tensor(shape: [images, s.height, s.width, s.inChannels])
        rng.fillUniform(x, -1, 1)
        return try Parallel.alone {
            let y = try fp32.forward(x)
            let gy = Tensor(shape: y.shape)
            rng.fillUniform(gy, -1, 1)
            func seconds(_ layer: Conv2d, _ reps: Int) throws -> Double {
                let start = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<reps {
                    _ = try layer.forward(x)
                    _ = try layer.backwardInput(gy)
                }
                return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 / Double(reps)
            }
            // The first calls pack the weights (and warm the caches); then rounds of at least 2 ms.
            _ = try seconds(fp32, 1); _ = try seconds(bf16, 1)
            let reps = Swift.max(1, Int(0.002 / Swift.max(try seconds(fp32, 1), 1e-7)))
            var best = (fp32: Double.infinity, bf16: Double.infinity)
            for _ in 0..<rounds {
                best.fp32 = Swift.min(best.fp32, try seconds(fp32, reps))
                best.bf16 = Swift.min(best.bf16, try seconds(bf16, reps))
            }
            return Measurement(fp32: best.fp32, bf16: best.bf16)
        }
    }

    // MARK: The file

    private static let lock = NSLock()
    nonisolated(unsafe) private static var entries: [String: Measurement] = [:]
    nonisolated(unsafe) private static var loaded = false
    nonisolated(unsafe) private static var warned = Set<String>()

    /// Where the measurements are kept; nil keeps them in memory only.
    nonisolated(unsafe) public static var cacheFile: String? = defaultCacheFile()

    public static func defaultCacheFile() -> String? {
        let env = ProcessInfo.processInfo.environment
        let folder: String
        if let d = env["JOULE_CACHE_DIR"], !d.isEmpty { folder = d }
        else if let d = env["XDG_CACHE_HOME"], !d.isEmpty { folder = d + "/joule" }
        else if let h = env["HOME"], !h.isEmpty { folder = h + "/.cache/joule" }
        else { return nil }
        return folder + "/precision.json"
    }

    /// Forgets what was measured and reads `file` next (tests; nil: memory only).
    public static func reset(cacheFile file: String?) {
        lock.withLock { entries = [:]; loaded = false; warned = []; cacheFile = file }
    }

    /// This CPU, as the file records it: the kernel's name for it and its family, model and stepping
    /// (two CPUs of one name may differ in microcode, not in what this measures).
    public static let cpu: String = {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown CPU" }
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty { break }   // the first processor is enough
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        return ["model name", "cpu family", "model", "stepping"].map { fields[$0] ?? "?" }.joined(separator: " / ")
    }()

    /// Files larger than this are not a cache Joule wrote.
    public static let maxFileBytes = 1 << 20

    private static func loadOnce() {
        guard !loaded else { return }
        loaded = true
        guard let path = cacheFile, FileManager.default.fileExists(atPath: path) else { return }
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            if let size = attributes[.size] as? Int, size > maxFileBytes { throw JouleError("larger than \(maxFileBytes) bytes") }
            let json = try JSON.parse(try Data(contentsOf: URL(fileURLWithPath: path)))
            guard json["format"]?.string == format else { throw JouleError("no \"format\": \"\(format)\"") }
            // Another CPU's, or measured with other kernels: measured again here.
            guard json["cpu"]?.string == cpu, json["kernels"]?.int == kernelRevision else { return }
            guard let shapes = json["shapes"]?.object else { throw JouleError("no \"shapes\" object") }
            for (key, value) in shapes {
                guard let f = value["fp32_s"]?.double, let b = value["bf16_s"]?.double, f.isFinite, b.isFinite, f > 0, b > 0 else {
                    throw JouleError("shape '\(key)' has no positive fp32_s and bf16_s")
                }
                entries[key] = Measurement(fp32: f, bf16: b)
            }
        } catch {
            entries = [:]
            warn("ignoring \(path) (\((error as? JouleError)?.message ?? "\(error)")); auto measures again and replaces it")
        }
    }

    static let format = "joule precision cache 1"
    /// Which kernels the measurements are of: raised whenever a kernel family's speed for some
    /// shape changes (2: Winograd's products in bf16; 3: bf16 panels of 16 columns), so that no
    /// file measured before says which is faster now.
    public static let kernelRevision = 3

    private static func save() {
        guard let path = cacheFile else { return }
        let shapes = entries.mapValues { m -> JSON in
            .object(["fp32_s": .double(m.fp32), "bf16_s": .double(m.bf16), "choice": .string(m.choice.rawValue)])
        }
        let json = JSON.object(["format": .string(format), "cpu": .string(cpu), "kernels": .int(kernelRevision),
                                "shapes": .object(shapes)])
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try AtomicFile.write(json.fileData(), to: path)
        } catch {
            warn("cannot write \(path) (\((error as? JouleError)?.message ?? "\(error)")); auto measures again in each process")
        }
    }

    private static func warn(_ message: String) {
        guard warned.insert(message).inserted else { return }
        FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
    }
}

extension Conv2d {
    /// This layer as `PrecisionTuning` measures it, once a forward pass has told its input size.
    public var tuningShape: PrecisionTuning.Shape? {
        inputSize.map {
            PrecisionTuning.Shape(inChannels: inChannels, outChannels: outChannels, kernel: kernel, stride: stride,
                                  padding: padding, height: $0.height, width: $0.width)
        }
    }
}
