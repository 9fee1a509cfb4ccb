import CLua
import CZMQ
import Foundation
import LuaHost
import Tensor

/// The Jupyter kernel: messaging protocol 5.3 over ZeroMQ. Shell requests run on the main thread
/// in one `LuaSession`; the control channel (shutdown, interrupt) has its own thread so that it
/// answers while a cell runs; the heartbeat echoes on a third. Every incoming message's HMAC
/// signature is checked first: a message with a wrong one is dropped and logged, and nothing in it
/// runs.
public final class JupyterKernel {
    public struct Connection {
        public var transport = "tcp"
        public var ip = "127.0.0.1"
        public var ports: [String: Int] = [:]
        public var key = ""
        public var scheme = "hmac-sha256"

        public init(file path: String) throws {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw NotebookError("cannot read the connection file \(path)")
            }
            let j: JSON
            do { j = try JSON.parse(data) } catch { throw NotebookError("\(path): malformed connection file (\(error))") }
            transport = j["transport"]?.string ?? "tcp"
            ip = j["ip"]?.string ?? "127.0.0.1"
            key = j["key"]?.string ?? ""
            scheme = j["signature_scheme"]?.string ?? "hmac-sha256"
            for name in ["shell", "iopub", "stdin", "control", "hb"] {
                guard let p = j["\(name)_port"]?.int else { throw NotebookError("\(path): no \(name)_port") }
                ports[name] = p
            }
            guard scheme == "hmac-sha256" || key.isEmpty else {
                throw NotebookError("\(path): signature scheme '\(scheme)' is not supported (only hmac-sha256)")
            }
        }

        func endpoint(_ name: String) -> String {
            transport == "ipc" ? "ipc://\(ip)-\(ports[name]!)" : "\(transport)://\(ip):\(ports[name]!)"
        }
    }

    public static let protocolVersion = "5.3"

    let connection: Connection
    let signer: MessageSigner
    let session: LuaSession
    let sessionID = UUID().uuidString.lowercased()
    private let context: UnsafeMutableRawPointer
    private let shell, iopub, stdin, control, heartbeat: ZMQSocket
    private let iopubLock = NSLock()
    /// The kernel's own log (the original standard error: cells capture descriptor 2).
    private let logFD: Int32
    private var executionCount = 0
    private var history: [(Int, String)] = []
    private let state = NSLock()
    private var shuttingDown = false
    private var running = false
    /// The request now executing (for io.read's input_request and outputs' parent header).
    private var current: WireMessage?

    public init(connection: Connection) throws {
        self.connection = connection
        signer = MessageSigner(key: connection.key)
        logFD = dup(STDERR_FILENO)
        guard let ctx = zmq_ctx_new() else { throw NotebookError("zmq_ctx_new failed") }
        context = ctx
        shell = try ZMQSocket(context: ctx, type: ZMQ_ROUTER, name: "shell")
        control = try ZMQSocket(context: ctx, type: ZMQ_ROUTER, name: "control")
        stdin = try ZMQSocket(context: ctx, type: ZMQ_ROUTER, name: "stdin")
        iopub = try ZMQSocket(context: ctx, type: ZMQ_PUB, name: "iopub")
        heartbeat = try ZMQSocket(context: ctx, type: ZMQ_REP, name: "heartbeat")
        for (s, n) in [(shell, "shell"), (control, "control"), (stdin, "stdin"), (iopub, "iopub"), (heartbeat, "hb")] {
            try s.bind(connection.endpoint(n))
        }
        session = try LuaSession()
        // From now on SIGINT interrupts cells instead of ending the kernel.
        session.lua.catchInterrupts()
    }

    func log(_ text: String) {
        let line = Array("joule kernel: \(text)\n".utf8)
        _ = line.withUnsafeBytes { write(logFD, $0.baseAddress, $0.count) }
    }

    // MARK: running

    /// Serves until a shutdown request.
    public func serve() {
        let sink = Sink(kernel: self)
        session.sink = sink
        let hb = Thread { [heartbeat] in
            while let frames = heartbeat.receive() { heartbeat.send(frames) }
        }
        hb.start()
        let ctl = Thread { [self] in controlLoop() }
        ctl.start()
        publish("status", ["execution_state": .string("starting")], parent: nil)
        while !isShuttingDown {
            guard !ZMQSocket.poll([shell], timeout: 100).isEmpty, let frames = shell.receive() else { continue }
            guard let msg = decode(frames, on: "shell") else { continue }
            handle(msg, on: shell)
        }
        // Let the last replies leave, then close everything (the threads end with the context).
        usleep(100_000)
        for s in [shell, control, stdin, iopub, heartbeat] { s.close() }
        zmq_ctx_term(context)
    }

    private var isShuttingDown: Bool { state.lock(); defer { state.unlock() }; return shuttingDown }

    private func controlLoop() {
        while !isShuttingDown {
            guard !ZMQSocket.poll([control], timeout: 100).isEmpty, let frames = control.receive() else { continue }
            guard let msg = decode(frames, on: "control") else { continue }
            // The Lua state belongs to the main thread: the control channel only stops and asks.
            guard ["shutdown_request", "interrupt_request", "kernel_info_request"].contains(msg.type) else {
                log("ignored a '\(msg.type)' request on the control channel")
                continue
            }
            handle(msg, on: control)
        }
    }

    private func decode(_ frames: [Data], on channel: String) -> WireMessage? {
        do {
            return try WireMessage.decode(frames, signer: signer)
        } catch WireMessage.DecodeError.badSignature {
            log("dropped a message on \(channel) with a wrong signature (nothing in it ran)")
        } catch {
            log("dropped a malformed message on \(channel): \(error)")
        }
        return nil
    }

    // MARK: messages

    private func reply(_ request: WireMessage, on socket: ZMQSocket, _ type: String, _ content: [String: JSON]) {
        let msg = WireMessage(identities: request.identities, header: WireMessage.header(type: type, session: sessionID),
                              parent: request.header, content: .object(content))
        socket.send(msg.encode(signer: signer))
    }

    func publish(_ type: String, _ content: [String: JSON], parent: WireMessage?) {
        let msg = WireMessage(identities: [Data("kernel.\(sessionID).\(type)".utf8)],
                              header: WireMessage.header(type: type, session: sessionID),
                              parent: parent?.header ?? .object([:]), content: .object(content))
        iopubLock.lock(); defer { iopubLock.unlock() }
        iopub.send(msg.encode(signer: signer))
    }

    private func handle(_ msg: WireMessage, on socket: ZMQSocket) {
        let type = msg.type
        publish("status", ["execution_state": .string("busy")], parent: msg)
        defer { publish("status", ["execution_state": .string("idle")], parent: msg) }
        let c = msg.content
        switch type {
        case "kernel_info_request":
            reply(msg, on: socket, "kernel_info_reply", kernelInfo)
        case "execute_request":
            execute(msg, on: socket)
        case "complete_request":
            let code = c["code"]?.string ?? ""
            let cursor = c["cursor_pos"]?.int ?? code.unicodeScalars.count
            let r = LuaCompleter.complete(session.lua, code: code, cursor: cursor)
            reply(msg, on: socket, "complete_reply", [
                "status": .string("ok"), "matches": .array(r.matches.map(JSON.string)),
                "cursor_start": .int(r.start), "cursor_end": .int(r.end), "metadata": .object([:]),
            ])
        case "inspect_request":
            let code = c["code"]?.string ?? ""
            let cursor = c["cursor_pos"]?.int ?? code.unicodeScalars.count
            let doc = JupyterKernel.inspect(session.lua, code: code, cursor: cursor)
            reply(msg, on: socket, "inspect_reply", [
                "status": .string("ok"), "found": .bool(doc != nil),
                "data": .object(doc.map { ["text/plain": .string($0)] } ?? [:]), "metadata": .object([:]),
            ])
        case "is_complete_request":
            var content: [String: JSON]
            switch LuaChunk.status(session.lua, c["code"]?.string ?? "") {
            case .complete: content = ["status": .string("complete")]
            case .incomplete: content = ["status": .string("incomplete"), "indent": .string("  ")]
            case .invalid: content = ["status": .string("invalid")]
            }
            reply(msg, on: socket, "is_complete_reply", content)
        case "history_request":
            reply(msg, on: socket, "history_reply", historyReply(c))
        case "comm_info_request":
            reply(msg, on: socket, "comm_info_reply", ["status": .string("ok"), "comms": .object([:])])
        case "comm_open":
            // No comm targets: close it at once, as Jupyter kernels do for unknown targets.
            if let id = c["comm_id"] { publish("comm_close", ["comm_id": id, "data": .object([:])], parent: msg) }
        case "comm_msg", "comm_close":
            break
        case "shutdown_request":
            let restart = c["restart"]?.bool ?? false
            state.lock(); shuttingDown = true; let busy = running; state.unlock()
            if busy { interrupt() }
            reply(msg, on: socket, "shutdown_reply", ["status": .string("ok"), "restart": .bool(restart)])
        case "interrupt_request":
            interrupt()
            reply(msg, on: socket, "interrupt_reply", ["status": .string("ok")])
        default:
            log("ignored a \(type.isEmpty ? "message without a type" : "'\(type)'") request")
        }
    }

    var kernelInfo: [String: JSON] {
        ["status": .string("ok"), "protocol_version": .string(JupyterKernel.protocolVersion),
         "implementation": .string("joule"), "implementation_version": .string(JouleModule.version),
         "language_info": NotebookFile.languageInfo,
         "banner": .string("Joule \(JouleModule.version) — \(LuaState.release) with the joule module (energy-based models)"),
         "help_links": .array([]), "debugger": .bool(false)]
    }

    /// Interrupts the running cell: the first interrupt raises the flag a training loop polls, the
    /// second stops Lua at its next instruction (see CLua/shim.h); a cell that is not running is
    /// left alone.
    private func interrupt() {
        state.lock(); let busy = running; state.unlock()
        guard busy else { return }
        while LuaState.interruptCount() < 2 { raise(SIGINT) }
    }

    private func execute(_ msg: WireMessage, on socket: ZMQSocket) {
        let c = msg.content
        let code = c["code"]?.string ?? ""
        let silent = c["silent"]?.bool ?? false
        let storeHistory = silent ? false : (c["store_history"]?.bool ?? true)
        if storeHistory { executionCount += 1 }
        let count = executionCount
        if !silent { publish("execute_input", ["code": .string(code), "execution_count": .int(count)], parent: msg) }
        if storeHistory { history.append((count, code)) }
        state.lock(); running = true; current = msg; state.unlock()
        (session.sink as? Sink)?.silent = silent
        (session.sink as? Sink)?.allowStdin = c["allow_stdin"]?.bool ?? false
        let outcome = session.execute(code, name: "cell[\(count)]")
        state.lock(); running = false; current = nil; state.unlock()
        var content: [String: JSON] = ["execution_count": .int(count)]
        if let e = outcome.error {
            let err: [String: JSON] = ["ename": .string(e.ename), "evalue": .string(e.evalue),
                                       "traceback": .array(e.traceback.map(JSON.string))]
            if !silent { publish("error", err, parent: msg) }
            content.merge(err) { $1 }
            content["status"] = .string("error")
        } else {
            if let result = outcome.result, !silent {
                publish("execute_result", ["execution_count": .int(count), "data": .object(result), "metadata": .object([:])], parent: msg)
            }
            content["status"] = .string("ok")
            content["payload"] = .array([])
            var expressions: [String: JSON] = [:]
            for (name, expr) in c["user_expressions"]?.object ?? [:] {
                switch session.evaluate(expr.string ?? "") {
                case .success(let data):
                    expressions[name] = .object(["status": .string("ok"), "data": .object(data), "metadata": .object([:])])
                case .failure(let e):
                    expressions[name] = .object(["status": .string("error"), "ename": .string(e.ename),
                                                 "evalue": .string(e.evalue), "traceback": .array(e.traceback.map(JSON.string))])
                }
            }
            content["user_expressions"] = .object(expressions)
        }
        reply(msg, on: socket, "execute_reply", content)
    }

    private func historyReply(_ c: JSON) -> [String: JSON] {
        let output = c["output"]?.bool ?? false
        var items = history
        switch c["hist_access_type"]?.string ?? "tail" {
        case "range":
            let start = c["start"]?.int ?? 0, stop = c["stop"]?.int ?? Int.max
            items = items.filter { $0.0 >= start && $0.0 < stop }
        case "search":
            let pattern = c["pattern"]?.string ?? "*"
            items = items.filter { JupyterKernel.glob(pattern, $0.1) }
            if c["unique"]?.bool ?? false {
                var seen = Set<String>()
                items = items.reversed().filter { seen.insert($0.1).inserted }.reversed()
            }
            if let n = c["n"]?.int, n >= 0 { items = Array(items.suffix(n)) }
        default:
            if let n = c["n"]?.int, n >= 0 { items = Array(items.suffix(n)) }
        }
        return ["status": .string("ok"), "history": .array(items.map { item in
            .array([.int(0), .int(item.0), output ? .array([.string(item.1), .null]) : .string(item.1)])
        })]
    }

    /// `*` and `?` wildcards, as IPython's history search matches them.
    static func glob(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern), t = Array(text)
        var memo = [[Bool?]](repeating: [Bool?](repeating: nil, count: t.count + 1), count: p.count + 1)
        func m(_ i: Int, _ j: Int) -> Bool {
            if let v = memo[i][j] { return v }
            let r: Bool
            if i == p.count { r = j == t.count }
            else if p[i] == "*" { r = m(i + 1, j) || (j < t.count && m(i, j + 1)) }
            else { r = j < t.count && (p[i] == "?" || p[i] == t[j]) && m(i + 1, j + 1) }
            memo[i][j] = r
            return r
        }
        return m(0, 0)
    }

    /// The documentation for the name at (or just before) the cursor: `joule.ebm.SGLD`,
    /// `model:energy`, a global holding a joule function.
    public static func inspect(_ lua: LuaState, code: String, cursor: Int) -> String? {
        let scalars = Array(code.unicodeScalars)
        var end = max(0, min(cursor, scalars.count))
        while end < scalars.count, LuaCompleter.isIdentifierScalar(scalars[end]) { end += 1 }
        // On `f(` or `f(x` the function being called is what one asks about.
        var candidates = [end]
        var k = min(cursor, scalars.count)
        var depth = 0
        while k > 0 {
            k -= 1
            if scalars[k] == ")" { depth += 1 } else if scalars[k] == "(" || scalars[k] == "{" {
                if depth == 0 { candidates.append(k); break }
                depth -= 1
            }
        }
        for e in candidates {
            guard let path = LuaCompleter.path(before: e, in: scalars), !path.partial.isEmpty else { continue }
            let text = path.owner.joined(separator: ".") + (path.separator.map { String($0) } ?? "") + path.partial
            if let d = JouleDocs.help(lua, expression: text) { return d }
        }
        return nil
    }

    // MARK: outputs of a running cell

    final class Sink: CellOutputSink {
        unowned let kernel: JupyterKernel
        var silent = false
        var allowStdin = false
        init(kernel: JupyterKernel) { self.kernel = kernel }

        private var parent: WireMessage? { kernel.state.lock(); defer { kernel.state.unlock() }; return kernel.current }

        func stream(name: String, text: String) {
            guard !silent else { return }
            kernel.publish("stream", ["name": .string(name), "text": .string(text)], parent: parent)
        }

        func display(data: [String: JSON]) {
            guard !silent else { return }
            kernel.publish("display_data", ["data": .object(data), "metadata": .object([:]), "transient": .object([:])], parent: parent)
        }

        func clearOutput(wait: Bool) {
            guard !silent else { return }
            kernel.publish("clear_output", ["wait": .bool(wait)], parent: parent)
        }

        /// Asks the front end on the stdin channel and waits for its input_reply (an interrupt
        /// stops the wait).
        func input(prompt: String, password: Bool) throws -> String {
            guard allowStdin, let request = parent else {
                throw JouleError("io.read: this front end does not take input (allow_stdin is false)")
            }
            let ask = WireMessage(identities: request.identities, header: WireMessage.header(type: "input_request", session: kernel.sessionID),
                                  parent: request.header, content: .object(["prompt": .string(prompt), "password": .bool(password)]))
            kernel.stdin.send(ask.encode(signer: kernel.signer))
            while true {
                if LuaState.interruptCount() > 0 { throw JouleError("io.read: interrupted") }
                guard !ZMQSocket.poll([kernel.stdin], timeout: 100).isEmpty, let frames = kernel.stdin.receive() else { continue }
                guard let reply = kernel.decode(frames, on: "stdin") else { continue }
                guard reply.type == "input_reply" else { kernel.log("ignored a '\(reply.type)' message on stdin"); continue }
                return reply.content["value"]?.string ?? ""
            }
        }
    }
}
