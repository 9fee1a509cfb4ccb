import Foundation
import Tensor

/// The training state file of a checkpoint (`state.safetensors`), as values: what the trainer
/// saves and what a resume restores. Reading validates everything against what the trainer that
/// resumes expects — names, dtypes and shapes before any tensor is allocated, then counters,
/// generator states and the unfinished epoch — so a crafted or damaged file is refused with one
/// message instead of allocating gigabytes, wrapping a counter or hanging a generator.
public struct TrainingStateFile {
    public static let format = "joule-jem-state-1"
    /// Per-batch stats of an unfinished epoch, in this many columns.
    public static let statColumns = 9
    /// Epochs, steps and optimizer steps are at most this (2^40: far beyond any run, and small
    /// enough that the counters, and Float of them in the schedule, stay exact).
    public static let maxCounter = 1 << 40
    /// An unfinished epoch's order is saved as Float32, exact for indices below 2^24.
    public static let maxEpochImages = 1 << 24

    public struct Buffer {
        public var pools: Int, capacity: Int, imageSize: Int
        public var counts: [Int], heads: [Int]
        /// One (capacity × imageSize) tensor per pool, or an empty one for a pool never filled.
        public var storage: [Tensor]
        public init(pools: Int, capacity: Int, imageSize: Int, counts: [Int], heads: [Int], storage: [Tensor]) {
            self.pools = pools; self.capacity = capacity; self.imageSize = imageSize
            self.counts = counts; self.heads = heads; self.storage = storage
        }
    }

    public struct Epoch {
        public var order: [Int], batchSize: Int, batches: Int
        /// One row of `statColumns` values per finished batch.
        public var stats: [[Float]]
        public init(order: [Int], batchSize: Int, batches: Int, stats: [[Float]]) {
            self.order = order; self.batchSize = batchSize; self.batches = batches; self.stats = stats
        }
    }

    public var epoch: Int, step: Int, optimizerStep: Int
    /// Adam's first and second moments, by parameter name.
    public var moments: [String: (m: Tensor, v: Tensor)]
    public var buffer: Buffer
    /// Generator states (five words, see `RNG.state`) by name; "sampler" is the sampler's.
    public var generators: [String: [UInt64]]
    public var epochInProgress: Epoch?
    /// Other components' parts (the divergence guard's, the sampler's), tensors and metadata under
    /// `Expectation.extraPrefixes`: passed through for that component to validate. Their bytes are
    /// within the file (the byte ranges tile it), so reading them allocates no more than it holds.
    public var extraTensors: [String: Tensor], extraMetadata: [String: String]

    public init(epoch: Int, step: Int, optimizerStep: Int, moments: [String: (m: Tensor, v: Tensor)],
                buffer: Buffer, generators: [String: [UInt64]], extraTensors: [String: Tensor] = [:],
                extraMetadata: [String: String] = [:], epochInProgress: Epoch?) {
        self.epoch = epoch; self.step = step; self.optimizerStep = optimizerStep; self.moments = moments
        self.buffer = buffer; self.generators = generators; self.epochInProgress = epochInProgress
        self.extraTensors = extraTensors; self.extraMetadata = extraMetadata
    }

    /// What the resuming trainer is: the shapes its file must have.
    public struct Expectation {
        public var parameters: [(name: String, shape: [Int])]
        public var pools: Int, capacity: Int, imageSize: Int
        public var generators: [String]
        /// Names under these prefixes are other components' parts (see `extraTensors`).
        public var extraPrefixes: [String]
        public init(parameters: [(name: String, shape: [Int])], pools: Int, capacity: Int, imageSize: Int, generators: [String],
                    extraPrefixes: [String] = []) {
            self.parameters = parameters; self.pools = pools; self.capacity = capacity
            self.imageSize = imageSize; self.generators = generators; self.extraPrefixes = extraPrefixes
        }
    }

    // MARK: Writing

    public func safeTensors() throws -> SafeTensors {
        var tensors = extraTensors
        for (name, (m, v)) in moments {
            tensors["optimizer.exp_avg.\(name)"] = m
            tensors["optimizer.exp_avg_sq.\(name)"] = v
        }
        for (p, t) in buffer.storage.enumerated() where t.count > 0 { tensors["buffer.\(p)"] = t }
        var meta = [
            "format": Self.format, "epoch": "\(epoch)", "step": "\(step)", "optimizer.step": "\(optimizerStep)",
            "buffer.pools": "\(buffer.pools)", "buffer.capacity": "\(buffer.capacity)",
            "buffer.image_size": "\(buffer.imageSize)",
            "buffer.counts": Self.list(buffer.counts), "buffer.heads": Self.list(buffer.heads),
        ]
        for (name, words) in generators { meta["rng.\(name)"] = Self.list(words) }
        meta.merge(extraMetadata) { a, _ in a }
        if let e = epochInProgress {
            guard e.order.count < Self.maxEpochImages else {
                throw JouleError("checkpoint: an epoch over \(e.order.count) images is too large to save")
            }
            let order = Tensor(shape: [e.order.count])
            for (i, v) in e.order.enumerated() { order.data[i] = Float(v) }
            tensors["epoch.order"] = order
            if !e.stats.isEmpty {
                let stats = Tensor(shape: [e.stats.count, Self.statColumns])
                for (i, row) in e.stats.enumerated() {
                    for (j, v) in row.prefix(Self.statColumns).enumerated() { stats.data[i * Self.statColumns + j] = v }
                }
                tensors["epoch.stats"] = stats
            }
            meta["epoch.batch_size"] = "\(e.batchSize)"
            meta["epoch.batches"] = "\(e.batches)"
            meta["epoch.done"] = "\(e.stats.count)"
        }
        return SafeTensors(tensors: tensors, metadata: meta)
    }

    // MARK: Reading

    /// Reads and validates the state file at `path` for a trainer shaped as `expected`.
    public static func read(_ path: String, expected: Expectation) throws -> TrainingStateFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw JouleError("\(path): cannot read file (missing or unreadable)")
        }
        do { return try parse(data, expected: expected) } catch let e as JouleError { throw JouleError("\(path): \(e.message)") }
    }

    /// A state file's bytes, validated for a trainer shaped as `expected`.
    public static func parse(_ data: Data, expected: Expectation) throws -> TrainingStateFile {
        // Names, dtypes and shapes against the trainer before a single tensor is allocated.
        let file = try SafeTensors.parse(data) { header in
            let meta = header.metadata
            guard meta["format"] == format else {
                throw JouleError("not a Joule training state (format \(meta["format"].map { "'\($0.prefix(40))'" } ?? "missing"), expected '\(format)')")
            }
            var known = Set<String>()
            for (name, shape) in expected.parameters {
                for key in ["optimizer.exp_avg.\(name)", "optimizer.exp_avg_sq.\(name)"] {
                    guard header.entries[key]?.shape == shape else {
                        throw JouleError("optimizer moments of '\(name)' missing or not of shape \(shape) (the checkpoint is of another model)")
                    }
                    known.insert(key)
                }
            }
            let rows = expected.capacity.multipliedReportingOverflow(by: expected.imageSize)
            for p in 0..<expected.pools {
                let key = "buffer.\(p)"
                guard let e = header.entries[key] else { continue }
                guard !rows.overflow, e.count == rows.partialValue else {
                    throw JouleError("replay buffer pool \(p) has shape \(e.shape), this sampler's pools hold \(expected.capacity) images of \(expected.imageSize) values")
                }
                known.insert(key)
            }
            if let order = header.entries["epoch.order"] {
                guard order.shape.count == 1, order.shape[0] < maxEpochImages else {
                    throw JouleError("the unfinished epoch's order has shape \(order.shape); expected one dimension of fewer than \(maxEpochImages)")
                }
                known.insert("epoch.order")
                if let stats = header.entries["epoch.stats"] {
                    guard stats.shape.count == 2, stats.shape[1] == statColumns, stats.shape[0] <= order.shape[0] else {
                        throw JouleError("the unfinished epoch's stats have shape \(stats.shape); expected (batches done, \(statColumns))")
                    }
                    known.insert("epoch.stats")
                }
            }
            for p in expected.extraPrefixes { for k in header.entries.keys where k.hasPrefix(p) { known.insert(k) } }
            if let extra = header.entries.keys.sorted().first(where: { !known.contains($0) }) {
                throw JouleError("unexpected tensor '\(extra.prefix(80))' (the checkpoint is of another model or sampler)")
            }
        }
        return try decode(file, expected: expected)
    }

    private static func decode(_ file: SafeTensors, expected: Expectation) throws -> TrainingStateFile {
        let meta = file.metadata
        func int(_ key: String, _ range: ClosedRange<Int>) throws -> Int {
            guard let s = meta[key], let v = Int(s) else { throw JouleError("metadata '\(key)' missing or not an integer") }
            guard range.contains(v) else { throw JouleError("metadata '\(key)' is \(v), outside \(range.lowerBound)...\(range.upperBound)") }
            return v
        }
        func ints(_ key: String, count: Int, _ range: ClosedRange<Int>) throws -> [Int] {
            guard let s = meta[key] else { throw JouleError("metadata '\(key)' missing") }
            let parts = s.isEmpty ? [] : s.split(separator: ",", omittingEmptySubsequences: false)
            let v = parts.compactMap { Int($0) }
            guard v.count == parts.count, v.count == count else {
                throw JouleError("metadata '\(key)' is not a list of \(count) integers")
            }
            guard v.allSatisfy(range.contains) else { throw JouleError("metadata '\(key)' has a value outside \(range.lowerBound)...\(range.upperBound)") }
            return v
        }
        func words(_ name: String) throws -> [UInt64] {
            guard let s = meta["rng.\(name)"] else { throw JouleError("no generator state 'rng.\(name)'") }
            let parts = s.split(separator: ",", omittingEmptySubsequences: false)
            let v = parts.compactMap { UInt64($0) }
            guard v.count == 5, parts.count == 5 else { throw JouleError("generator state 'rng.\(name)' is malformed (five integers expected)") }
            // xoshiro256** never leaves the all-zero state: from there it draws zeros forever (and
            // rejection loops over its draws never end).
            guard v[0] | v[1] | v[2] | v[3] != 0 else { throw JouleError("generator state 'rng.\(name)' is all zeros (not a state a generator can be in)") }
            // The fifth word: a waiting normal (bit 32 set, a finite Float in the low 32 bits) or 0.
            if v[4] != 0 {
                guard v[4] >> 32 == 1, Float(bitPattern: UInt32(truncatingIfNeeded: v[4])).isFinite else {
                    throw JouleError("generator state 'rng.\(name)' is malformed (bad waiting normal)")
                }
            }
            return v
        }

        let epoch = try int("epoch", 0...maxCounter), step = try int("step", 0...maxCounter)
        let optimizerStep = try int("optimizer.step", 0...maxCounter)
        let pools = try int("buffer.pools", 0...Int.max), capacity = try int("buffer.capacity", 0...Int.max)
        let imageSize = try int("buffer.image_size", 0...Int.max)
        guard pools == expected.pools, capacity == expected.capacity, imageSize == expected.imageSize else {
            throw JouleError("the saved replay buffer (\(pools) pools of \(capacity) images of \(imageSize) values) does not fit this sampler's (\(expected.pools) of \(expected.capacity) of \(expected.imageSize)); use the same conditional, buffer_per_class and image size")
        }
        let counts = try ints("buffer.counts", count: pools, 0...capacity)
        let heads = try ints("buffer.heads", count: pools, 0...max(capacity - 1, 0))
        let storage = (0..<pools).map { file.tensors["buffer.\($0)"] ?? Tensor(shape: [0]) }
        for p in 0..<pools where counts[p] > 0 && storage[p].count == 0 {
            throw JouleError("replay buffer pool \(p) counts \(counts[p]) images but none are saved")
        }
        var moments: [String: (m: Tensor, v: Tensor)] = [:]
        for (name, _) in expected.parameters {
            moments[name] = (file.tensors["optimizer.exp_avg.\(name)"]!, file.tensors["optimizer.exp_avg_sq.\(name)"]!)
        }
        var generators: [String: [UInt64]] = [:]
        for name in Set(expected.generators + ["sampler"]) { generators[name] = try words(name) }

        var progress: Epoch?
        if let order = file.tensors["epoch.order"] {
            let n = order.count
            let batchSize = try int("epoch.batch_size", 1...max(n, 1)), batches = try int("epoch.batches", 1...max(n, 1))
            let done = try int("epoch.done", 0...(batches - 1))
            let (covered, overflow) = batches.multipliedReportingOverflow(by: batchSize)
            let stats = file.tensors["epoch.stats"] ?? Tensor(shape: [0, statColumns])
            guard !overflow, covered <= n, stats.shape == [done, statColumns] else {
                throw JouleError("the unfinished epoch's record is inconsistent (\(batches) batches of \(batchSize) over \(n) images, \(done) done, stats \(stats.shape))")
            }
            // The order is a permutation of the split's images: every index once.
            var seen = [Bool](repeating: false, count: n)
            var indices: [Int] = []
            indices.reserveCapacity(n)
            for i in 0..<n {
                let f = order.data[i]
                guard f.isFinite, f >= 0, f < Float(n), f.rounded() == f, !seen[Int(f)] else {
                    throw JouleError("the unfinished epoch's order is not a permutation of 0..<\(n) (entry \(i) is \(f))")
                }
                seen[Int(f)] = true
                indices.append(Int(f))
            }
            let c = statColumns
            progress = Epoch(order: indices, batchSize: batchSize, batches: batches,
                             stats: (0..<done).map { i in Array(UnsafeBufferPointer(start: stats.data + i * c, count: c)) })
        } else if meta["epoch.batches"] != nil {
            throw JouleError("the unfinished epoch's order is missing")
        }
        func extra(_ key: String) -> Bool { expected.extraPrefixes.contains { key.hasPrefix($0) } }
        return TrainingStateFile(epoch: epoch, step: step, optimizerStep: optimizerStep, moments: moments,
                                 buffer: Buffer(pools: pools, capacity: capacity, imageSize: imageSize,
                                                counts: counts, heads: heads, storage: storage),
                                 generators: generators,
                                 extraTensors: file.tensors.filter { extra($0.key) },
                                 extraMetadata: meta.filter { extra($0.key) },
                                 epochInProgress: progress)
    }

    private static func list<T: BinaryInteger>(_ v: [T]) -> String { v.map { "\($0)" }.joined(separator: ",") }
}
