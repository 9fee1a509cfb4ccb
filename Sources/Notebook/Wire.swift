import CZMQ
import Crypto
import Foundation
import JouleCore

/// HMAC-SHA256 signatures of Jupyter messages (the connection file's `key`; an empty key turns
/// signing off, as the protocol says).
public struct MessageSigner {
    public let key: [UInt8]
    public init(key: String) { self.key = Array(key.utf8) }

    /// The hex signature of the four JSON frames.
    public func sign(_ frames: [Data]) -> String {
        guard !key.isEmpty else { return "" }
        var mac = HMAC<SHA256>(key: SymmetricKey(data: key))
        for f in frames { mac.update(data: f) }
        return Data(mac.finalize()).map { String(format: "%02x", $0) }.joined()
    }

    /// True when `signature` is right for the frames (compared in constant time).
    public func verify(_ signature: Data, _ frames: [Data]) -> Bool {
        guard !key.isEmpty else { return true }
        let expected = Array(sign(frames).utf8)
        let got = [UInt8](signature)
        guard expected.count == got.count else { return false }
        var diff: UInt8 = 0
        for (a, b) in zip(expected, got) { diff |= a ^ b }
        return diff == 0
    }
}

/// One Jupyter message (wire protocol 5.3): routing identities, the delimiter, the signature,
/// header, parent header, metadata, content, and binary buffers.
public struct WireMessage {
    public var identities: [Data] = []
    public var header: JSON
    public var parent: JSON
    public var metadata: JSON
    public var content: JSON
    public var buffers: [Data] = []

    public static let delimiter = Data("<IDS|MSG>".utf8)

    public init(identities: [Data] = [], header: JSON, parent: JSON = .object([:]), metadata: JSON = .object([:]),
                content: JSON, buffers: [Data] = []) {
        self.identities = identities
        self.header = header
        self.parent = parent
        self.metadata = metadata
        self.content = content
        self.buffers = buffers
    }

    public var type: String { header["msg_type"]?.string ?? "" }

    public enum DecodeError: Error, Equatable, CustomStringConvertible {
        case noDelimiter, tooFewFrames, badSignature, badJSON(String)
        public var description: String {
            switch self {
            case .noDelimiter: return "no <IDS|MSG> delimiter"
            case .tooFewFrames: return "fewer than five frames after the delimiter"
            case .badSignature: return "wrong signature"
            case .badJSON(let s): return "malformed JSON: \(s)"
            }
        }
    }

    /// Frames → message; the signature is checked before any JSON is read.
    public static func decode(_ frames: [Data], signer: MessageSigner) throws -> WireMessage {
        guard let d = frames.firstIndex(of: delimiter) else { throw DecodeError.noDelimiter }
        guard frames.count >= d + 6 else { throw DecodeError.tooFewFrames }
        let parts = Array(frames[(d + 2)...(d + 5)])
        guard signer.verify(frames[d + 1], parts) else { throw DecodeError.badSignature }
        do {
            let j = try parts.map { try JSON.parse($0) }
            guard case .object = j[0] else { throw DecodeError.badJSON("header is not an object") }
            return WireMessage(identities: Array(frames[..<d]), header: j[0], parent: j[1], metadata: j[2],
                               content: j[3], buffers: Array(frames[(d + 6)...]))
        } catch let e as JSON.ParseError {
            throw DecodeError.badJSON(e.description)
        }
    }

    /// Message → frames, signed.
    public func encode(signer: MessageSigner) -> [Data] {
        let parts = [header, parent, metadata, content].map { Data($0.serialized().utf8) }
        return identities + [WireMessage.delimiter, Data(signer.sign(parts).utf8)] + parts + buffers
    }

    /// A new header of `type` in `session`.
    public static func header(type: String, session: String) -> JSON {
        .object(["msg_id": .string(UUID().uuidString.lowercased()), "session": .string(session),
                 "username": .string("joule"), "date": .string(NotebookRunner.timestamp(Date())),
                 "msg_type": .string(type), "version": .string("5.3")])
    }
}

/// A ZeroMQ socket (libzmq's C API).
final class ZMQSocket {
    let handle: UnsafeMutableRawPointer
    let name: String

    init(context: UnsafeMutableRawPointer, type: Int32, name: String) throws {
        guard let s = zmq_socket(context, type) else { throw NotebookError("zmq_socket: \(ZMQSocket.lastError)") }
        handle = s
        self.name = name
        var linger: Int32 = 0
        zmq_setsockopt(s, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
    }

    static var lastError: String { String(cString: zmq_strerror(zmq_errno())) }

    func bind(_ endpoint: String) throws {
        guard zmq_bind(handle, endpoint) == 0 else { throw NotebookError("cannot bind the \(name) socket to \(endpoint): \(ZMQSocket.lastError)") }
    }

    func connect(_ endpoint: String) throws {
        guard zmq_connect(handle, endpoint) == 0 else { throw NotebookError("cannot connect the \(name) socket to \(endpoint): \(ZMQSocket.lastError)") }
    }

    func send(_ frames: [Data]) {
        for (i, f) in frames.enumerated() {
            let flags: Int32 = i < frames.count - 1 ? Int32(ZMQ_SNDMORE) : 0
            f.withUnsafeBytes { raw in
                while zmq_send(handle, raw.baseAddress, raw.count, flags) < 0 && zmq_errno() == EINTR {}
            }
        }
    }

    /// All frames of the next message; nil when the context ends (or on an error).
    func receive() -> [Data]? {
        var frames: [Data] = []
        while true {
            var msg = zmq_msg_t()
            zmq_msg_init(&msg)
            defer { zmq_msg_close(&msg) }
            var rc: Int32
            repeat { rc = zmq_msg_recv(&msg, handle, 0) } while rc < 0 && zmq_errno() == EINTR
            if rc < 0 { return nil }
            frames.append(Data(bytes: zmq_msg_data(&msg), count: zmq_msg_size(&msg)))
            if zmq_msg_more(&msg) == 0 { return frames }
        }
    }

    /// Waits up to `timeout` ms for a message on any of `sockets`; the ready ones.
    static func poll(_ sockets: [ZMQSocket], timeout: Int) -> [ZMQSocket] {
        var items = sockets.map { joule_zmq_pollitem($0.handle, Int16(ZMQ_POLLIN)) }
        let rc = zmq_poll(&items, Int32(items.count), timeout)
        guard rc > 0 else { return [] }
        return zip(sockets, items).filter { ($0.1.revents & Int16(ZMQ_POLLIN)) != 0 }.map(\.0)
    }

    func close() { zmq_close(handle) }
}
