/// TensorBoard's `Event` records, encoded as TensorFlow's protocol buffers define them
/// (tensorflow/core/util/event.proto, framework/summary.proto, tensor.proto, tensor_shape.proto).
/// Only the fields Joule writes are here; their numbers are the protos' own.
public struct Event {
    public var wallTime: Double
    public var step: Int64
    public var what: What

    public enum What {
        /// The first record of every file: "brain.Event:2".
        case fileVersion(String)
        case summary([SummaryValue])
    }

    public init(wallTime: Double, step: Int64, _ what: What) {
        self.wallTime = wallTime; self.step = step; self.what = what
    }

    /// Event: wall_time = 1 (double), step = 2 (int64), oneof { file_version = 3, summary = 5 }.
    public func encoded() -> [UInt8] {
        var w = ProtoWriter()
        w.double(1, wallTime)
        w.int(2, step)
        switch what {
        case .fileVersion(let v): w.string(3, v, keep: true)
        case .summary(let values):
            // Summary: repeated Value value = 1.
            w.message(5) { s in for v in values { s.message(1) { v.encode(into: &$0) } } }
        }
        return w.bytes
    }
}

/// One `Summary.Value`: a tag and what it holds.
public struct SummaryValue {
    public var tag: String
    public var kind: Kind

    public enum Kind {
        case scalar(Float)
        /// PNG bytes and their size; colorspace 1 grey, 3 RGB, 4 RGBA.
        case image(png: [UInt8], width: Int, height: Int, colorspace: Int)
        case histogram(Histogram)
        /// A string tensor with the "text" plugin's metadata, as tf.summary.text writes it.
        case text(String)
    }

    public init(tag: String, _ kind: Kind) { self.tag = tag; self.kind = kind }

    /// Value: tag = 1, metadata = 9, oneof { simple_value = 2, image = 4, histo = 5, tensor = 8 }.
    func encode(into w: inout ProtoWriter) {
        w.string(1, tag)
        switch kind {
        case .scalar(let v): w.float(2, v, keep: true)
        case .image(let png, let width, let height, let colorspace):
            // Image: height = 1, width = 2, colorspace = 3, encoded_image_string = 4.
            w.message(4) { m in
                m.int(1, Int64(height)); m.int(2, Int64(width)); m.int(3, Int64(colorspace)); m.data(4, png)
            }
        case .histogram(let h):
            // HistogramProto: min = 1, max = 2, num = 3, sum = 4, sum_squares = 5, bucket_limit = 6, bucket = 7.
            w.message(5) { m in
                m.double(1, h.min); m.double(2, h.max); m.double(3, Double(h.count)); m.double(4, h.sum)
                m.double(5, h.sumSquares); m.packedDoubles(6, h.bucketLimits); m.packedDoubles(7, h.bucketCounts)
            }
        case .text(let s):
            // TensorProto: dtype = 1 (DT_STRING = 7), tensor_shape = 2 (a scalar: no dims), string_val = 8.
            w.message(8) { t in
                t.int(1, 7)
                t.message(2) { _ in }
                t.string(8, s, keep: true)  // an element of a repeated field
            }
            // SummaryMetadata: plugin_data = 1 { plugin_name = 1 }. Fields in number order, as
            // protobuf writes them.
            w.message(9) { m in m.message(1) { p in p.string(1, "text") } }
        }
    }
}

/// A histogram as TensorBoard stores one: bucket i counts the values in
/// (bucketLimits[i-1], bucketLimits[i]] (the first from −∞), as TensorFlow's histogram summaries do.
public struct Histogram {
    public var min: Double
    public var max: Double
    public var count: Int
    public var sum: Double
    public var sumSquares: Double
    public var bucketLimits: [Double]
    public var bucketCounts: [Double]

    /// `bins` equal-width buckets over the finite values' range (non-finite values are left out:
    /// TensorBoard cannot place them). No finite values give an empty histogram.
    public init<S: Sequence>(_ values: S, bins: Int) where S.Element == Float {
        let finite = values.lazy.map(Double.init).filter { $0.isFinite }
        var lo = Double.infinity, hi = -Double.infinity, n = 0, s = 0.0, s2 = 0.0
        for v in finite { lo = Swift.min(lo, v); hi = Swift.max(hi, v); n += 1; s += v; s2 += v * v }
        count = n; sum = s; sumSquares = s2
        guard n > 0 else {
            min = 0; max = 0; bucketLimits = []; bucketCounts = []
            return
        }
        min = lo; max = hi
        let k = Swift.max(1, bins)
        // A constant sample gets one bucket around it, so the chart has a bar to draw: of unit
        // width, or wider where a unit is below the value's precision (a diverged model's energies
        // of 1e20 all alike), and never past the largest Double.
        let half = Swift.max(0.5, abs(lo) * 0x1p-20)
        let (a, b) = hi > lo ? (lo, hi) : (Swift.max(lo - half, -.greatestFiniteMagnitude), Swift.min(lo + half, .greatestFiniteMagnitude))
        // Halves, so that b − a of values of opposite signs near the largest Double stays finite.
        let span = b / 2 - a / 2
        bucketLimits = (1...k).map { $0 == k ? b : 2 * (a / 2 + span * (Double($0) / Double(k))) }
        var counts = [Double](repeating: 0, count: k)
        for v in finite {
            // Right-closed buckets: a value on an edge belongs to the bucket that edge closes.
            // (span is 0 only for two neighbouring subnormals: one bucket then holds them.)
            let position = span > 0 ? ((v / 2 - a / 2) / span * Double(k)).rounded(.up) : 1
            var i = Swift.min(k - 1, Swift.max(0, Int(Swift.min(Swift.max(position, 0), Double(k))) - 1))
            if i > 0 && v <= bucketLimits[i - 1] { i -= 1 }
            if i < k - 1 && v > bucketLimits[i] { i += 1 }
            counts[i] += 1
        }
        bucketCounts = counts
    }
}
