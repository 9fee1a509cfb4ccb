import CLua
import CZMQ
import Foundation
import LuaHost
import JouleCore

/// The Jupyter kernel: messaging protocol 5.3 over ZeroMQ. Shell requests run on the main thread
/// in one `LuaSession`; the control channel (shutdown, interrupt) has its own thread so that it
/// answers while a cell runs; the heartbeat echoes on a third. Every incoming message's HMAC
/// signature is checked first: a message with a wrong one is dropped and logged, and nothing in it
/// runs.
///
/// libzmq sockets are not thread-safe, so each socket has one owner that alone uses and closes it:
/// the main thread shell and stdin, the control thread control, the heartbeat thread heartbeat.
/// IOPub is written from several threads (cells' output comes from a capture thread), so it is
/// only touched under `iopubLock` — the full fence libzmq requires for moving a socket between
/// threads — and closed under it too. The context is terminated after every owner closed its
/// socket (closing one while another thread sat in it was the restart crash: libzmq's
/// `pfd.revents & POLLIN` assertion).
///
/// After a cell fails or is interrupted, the execute requests already queued are answered
/// `aborted` (ipykernel's semantics, which Run All relies on), unless it asked `stop_on_error = false`.
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
    /// False once IOPub is closed (a late write from the capture thread is dropped).
    private var iopubOpen = true
    /// The kernel's own log (the original standard error: cells capture descriptor 2).
    private let logFD: Int32
    private var executionCount = 0
    private var history: [(Int, String)] = []
    private let state = NSLock()
    private var shuttingDown = false
    private var running = false
    /// The request now executing (for io.read's input_request and outputs' parent header).
    private var current: WireMessage?
    /// When a cell failed with stop_on_error, just before its reply left (set on the main thread):
    /// the queue is aborted next.
    private var abortPending: Date?
    /// The latest such failure: requests made before it are queued behind it, however late they arrive.
    private var lastFailure: Date?
    /// Shell requests read ahead while looking for a widget update that supersedes the one at hand.
    private var backlog: [WireMessage] = []
    /// Comms the front end opened (id → target name); the kernel's own are its widget models.
    private var frontEndComms: [String: String] = [:]
    /// Comms closed by the front end: messages to them are refused.
    private var closedComms = Set<String>()

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
        session.widgetChannel = self
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
        let heartbeatDone = DispatchSemaphore(value: 0), controlDone = DispatchSemaphore(value: 0)
        Thread { [self] in heartbeatLoop(); heartbeatDone.signal() }.start()
        Thread { [self] in controlLoop(); controlDone.signal() }.start()
        publish("status", ["execution_state": .string("starting")], parent: nil)
        while !isShuttingDown {
            guard let msg = nextShellMessage(timeout: 100) else { continue }
            if madeBeforeLastFailure(msg) { abort(msg); continue }
            handle(msg, on: shell)
            while let failedAt = abortPending { abortPending = nil; abortQueuedExecutes(failedAt: failedAt) }
        }
        // The replies sent so far leave within microseconds (the I/O thread writes them); with
        // linger 0 a close would drop what is still queued, so give them a moment.
        usleep(50_000)
        shell.close()
        stdin.close()
        iopubLock.lock(); iopubOpen = false; iopub.close(); iopubLock.unlock()
        // Both threads see the flag within one poll (100 ms) and close their own sockets.
        _ = heartbeatDone.wait(timeout: .now() + 1)
        _ = controlDone.wait(timeout: .now() + 1)
        zmq_ctx_term(context)
    }

    private var isShuttingDown: Bool { state.lock(); defer { state.unlock() }; return shuttingDown }

    /// The next well-formed, correctly signed shell request, or nil after `timeout` ms.
    private func nextShellMessage(timeout: Int) -> WireMessage? {
        if !backlog.isEmpty { return backlog.removeFirst() }
        guard !ZMQSocket.poll([shell], timeout: timeout).isEmpty, let frames = shell.receive() else { return nil }
        return decode(frames, on: "shell")
    }

    private func heartbeatLoop() {
        while !isShuttingDown {
            guard !ZMQSocket.poll([heartbeat], timeout: 100).isEmpty, let frames = heartbeat.receive() else { continue }
            heartbeat.send(frames)
        }
        heartbeat.close()
    }

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
        usleep(50_000)  // the shutdown reply leaves first (see serve)
        control.close()
    }

    /// After a shutdown request the process is gone within a second: a cell stopped by the
    /// interrupt ends the main loop at once, but one inside a long call that does not poll the
    /// interrupt flag would keep it, so past 0.8 s the process ends without waiting for it.
    private func startShutdownWatchdog(cellRunning: Bool) {
        Thread { [self] in
            usleep(800_000)
            log(cellRunning ? "the running cell did not stop within 0.8 s of the shutdown request: exiting without it"
                            : "shutdown took over 0.8 s: exiting")
            _exit(0)
        }.start()
    }

    /// Answers the execute requests queued behind a failed cell with `aborted`, and the other
    /// requests as usual, until none arrives for `abortWindow` ms. Queued means made, by the
    /// header's date, before the failure's reply left: Run All's requests can still be in flight
    /// when a quick cell fails, while a request sent after the client saw the error is run however
    /// soon it comes. (This trusts the front end's clock to within the time between making a request
    /// and the failure; a request without a readable date counts as queued when it was already
    /// waiting, as ipykernel decides.)
    private func abortQueuedExecutes(failedAt: Date) {
        var waiting = true
        while !isShuttingDown {
            guard let msg = nextShellMessage(timeout: waiting ? 0 : JupyterKernel.abortWindow) else {
                if waiting { waiting = false; continue }
                return
            }
            let made = (msg.header["date"]?.string).flatMap(JupyterKernel.headerDate)
            guard msg.type == "execute_request", made.map({ $0 <= failedAt }) ?? waiting else {
                handle(msg, on: shell)
                // A request made after the failure ran and failed in turn: abort from there on.
                if abortPending != nil { return }
                continue
            }
            abort(msg)
        }
    }

    private func abort(_ msg: WireMessage) {
        publish("status", ["execution_state": .string("busy")], parent: msg)
        reply(msg, on: shell, "execute_reply", ["status": .string("aborted")], metadata: ["status": .string("aborted")])
        publish("status", ["execution_state": .string("idle")], parent: msg)
    }

    /// An execute request made, by its header's date, before the latest failure, arriving after the
    /// abort window closed: a busy server can forward Run All's later requests more than
    /// `abortWindow` ms after a cell fails, and they are queued behind it all the same. Only for a
    /// few seconds after the failure, so that a front end whose clock lags behind the kernel's
    /// does not see its new requests refused for long.
    private func madeBeforeLastFailure(_ msg: WireMessage) -> Bool {
        guard msg.type == "execute_request", let failedAt = lastFailure,
              Date().timeIntervalSince(failedAt) < JupyterKernel.lateAbortSeconds,
              let made = (msg.header["date"]?.string).flatMap(JupyterKernel.headerDate) else { return false }
        return made <= failedAt
    }

    /// How long the kernel keeps aborting after the last queued request.
    static let abortWindow = 50
    /// How long after a failure a late request made before it is still aborted.
    static let lateAbortSeconds = 5.0

    /// A header's date ("2024-05-01T12:00:00.123456Z", or with an offset; Jupyter's ISO 8601).
    public static func headerDate(_ text: String) -> Date? {
        let chars = Array(text)
        guard chars.count >= 19 else { return nil }
        var k = 19, fraction = 0.0, scale = 0.1
        if k < chars.count, chars[k] == "." {
            k += 1
            while k < chars.count, let d = chars[k].wholeNumberValue { fraction += Double(d) * scale; scale /= 10; k += 1 }
        }
        let zone = k < chars.count ? String(chars[k...]) : "Z"
        guard let base = ISO8601DateFormatter().date(from: String(chars[0..<19]) + zone) else { return nil }
        return base.addingTimeInterval(fraction)
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

    private func reply(_ request: WireMessage, on socket: ZMQSocket, _ type: String, _ content: [String: JSON],
                       metadata: [String: JSON] = [:]) {
        let msg = WireMessage(identities: request.identities, header: WireMessage.header(type: type, session: sessionID),
                              parent: request.header, metadata: .object(metadata), content: .object(content))
        socket.send(msg.encode(signer: signer))
    }

    func publish(_ type: String, _ content: [String: JSON], parent: WireMessage?, metadata: [String: JSON] = [:], buffers: [Data] = []) {
        let msg = WireMessage(identities: [Data("kernel.\(sessionID).\(type)".utf8)],
                              header: WireMessage.header(type: type, session: sessionID),
                              parent: parent?.header ?? .object([:]), metadata: .object(metadata), content: .object(content), buffers: buffers)
        iopubLock.lock(); defer { iopubLock.unlock() }
        if iopubOpen { iopub.send(msg.encode(signer: signer)) }
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
                "data": .object(doc.map(JupyterKernel.inspectData) ?? [:]), "metadata": .object([:]),
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
            reply(msg, on: socket, "comm_info_reply", ["status": .string("ok"), "comms": .object(comms(target: c["target_name"]?.string))])
        case "comm_open":
            commOpen(msg)
        case "comm_msg":
            commMessage(msg)
        case "comm_close":
            let id = c["comm_id"]?.string ?? ""
            if session.widgets.models[id] == nil && frontEndComms[id] == nil || closedComms.contains(id) {
                commError(msg, "comm_close for an unknown comm '\(id)'")
            } else {
                closedComms.insert(id)
                frontEndComms[id] = nil
            }
        case "shutdown_request":
            let restart = c["restart"]?.bool ?? false
            // The interrupt first (it needs `running`), then the flag that ends every loop.
            interrupt()
            state.lock(); let busy = running; shuttingDown = true; state.unlock()
            reply(msg, on: socket, "shutdown_reply", ["status": .string("ok"), "restart": .bool(restart)])
            startShutdownWatchdog(cellRunning: busy)
        case "interrupt_request":
            interrupt()
            reply(msg, on: socket, "interrupt_reply", ["status": .string("ok")])
        default:
            log("ignored a \(type.isEmpty ? "message without a type" : "'\(type)'") request")
        }
    }

    // MARK: comms (ipywidgets)

    static let widgetTarget = "jupyter.widget"
    /// The front end's comm for fetching every model's state at once (ipywidgets 8, on reload).
    static let controlTarget = "jupyter.widget.control"

    /// The open comms, of `target` only when given: comm_info_reply's `comms`.
    private func comms(target: String?) -> [String: JSON] {
        var out: [String: JSON] = [:]
        for id in session.widgets.order where !closedComms.contains(id) {
            out[id] = .object(["target_name": .string(JupyterKernel.widgetTarget)])
        }
        for (id, t) in frontEndComms { out[id] = .object(["target_name": .string(t)]) }
        return target.map { t in out.filter { $0.value["target_name"]?.string == t } } ?? out
    }

    /// A bad comm message changes nothing: it is logged and answered on IOPub with an error on
    /// standard error (comm messages have no reply), parented to it.
    private func commError(_ msg: WireMessage, _ text: String) {
        log(text)
        publish("stream", ["name": .string("stderr"), "text": .string("joule kernel: \(text)\n")], parent: msg)
    }

    /// The front end opens a comm: to a widget target it is kept (listed and closable); any other
    /// target has nothing behind it here, so it is closed at once, as Jupyter kernels do.
    private func commOpen(_ msg: WireMessage) {
        guard let id = msg.content["comm_id"]?.string, !id.isEmpty else { return commError(msg, "comm_open without a comm_id") }
        let target = msg.content["target_name"]?.string ?? ""
        guard target == JupyterKernel.widgetTarget || target == JupyterKernel.controlTarget,
              session.widgets.models[id] == nil, frontEndComms[id] == nil else {
            log("no comm target '\(target)': closed comm \(id)")
            publish("comm_close", ["comm_id": .string(id), "data": .object([:])], parent: msg)
            return
        }
        frontEndComms[id] = target
    }

    private func commMessage(_ msg: WireMessage) {
        let c = msg.content
        let id = c["comm_id"]?.string ?? ""
        if frontEndComms[id] == JupyterKernel.controlTarget, c["data"]?["method"]?.string == "request_states" {
            return sendStates(msg, to: id)
        }
        guard !closedComms.contains(id), let model = session.widgets.models[id] else {
            if frontEndComms[id] != nil { return log("ignored a message to comm \(id) (\(frontEndComms[id]!)): nothing handles it") }
            return commError(msg, "comm_msg for an unknown comm '\(id)'")
        }
        guard let data = c["data"]?.object else { return commError(msg, "comm_msg for \(id) without data") }
        state.lock(); running = true; current = msg; state.unlock()
        defer { state.lock(); running = false; current = nil; state.unlock() }
        // Callbacks' output is shown (a silent execute before must not hide it); no stdin here.
        (session.sink as? Sink)?.begin(silent: false, allowStdin: false)
        switch data["method"]?.string ?? "" {
        case "update":
            guard let changes = data["state"]?.object else { return commError(msg, "update for widget \(id) without a state object") }
            var buffers: [String: Data] = [:]
            for (k, path) in (data["buffer_paths"]?.array ?? []).enumerated() {
                guard let key = path.array?.first?.string, path.array?.count == 1, k < msg.buffers.count else {
                    return commError(msg, "update for widget \(id): buffer path \(path.serialized()) has no buffer or is nested")
                }
                buffers[key] = msg.buffers[k]
            }
            let changed: [String]
            do { changed = try session.widgetUpdate(id, state: changes, buffers: buffers) } catch {
                return commError(msg, "update for widget \(id) refused: \(error)")
            }
            // Echo the accepted state back (ipywidgets 8: the front ends then agree on it).
            let echo = model.wire(Array(changes.keys))
            publish("comm_msg", ["comm_id": .string(id), "data": .object(["method": .string("echo_update"), "state": .object(echo.state),
                                                                           "buffer_paths": .array(echo.paths)])], parent: msg, buffers: echo.buffers)
            if !superseded(msg, id: id, keys: Set(changes.keys)) { session.widgetNotify(id, keys: changed) }
        case "request_state":
            let w = model.wire()
            publish("comm_msg", ["comm_id": .string(id), "data": .object(["method": .string("update"), "state": .object(w.state),
                                                                           "buffer_paths": .array(w.paths)])], parent: msg, buffers: w.buffers)
        case "custom":
            do { try session.widgetCustom(id, content: data["content"] ?? .null) } catch { commError(msg, "\(error)") }
        case let m:
            commError(msg, "comm_msg for widget \(id): unknown method '\(m)'")
        }
    }

    /// Every open model's state on the control comm (`update_states`), buffers by
    /// [model id, "state", key] paths, as ipywidgets answers `request_states`.
    private func sendStates(_ msg: WireMessage, to comm: String) {
        var states: [String: JSON] = [:], paths: [JSON] = [], buffers: [Data] = []
        for id in session.widgets.order where !closedComms.contains(id) {
            let m = session.widgets.models[id]!
            let w = m.wire()
            states[id] = .object(["model_name": m.state["_model_name"] ?? .null, "model_module": m.state["_model_module"] ?? .null,
                                  "model_module_version": m.state["_model_module_version"] ?? .null, "state": .object(w.state)])
            for (p, b) in zip(w.paths, w.buffers) { paths.append(.array([.string(id), .string("state")] + (p.array ?? []))); buffers.append(b) }
        }
        publish("comm_msg", ["comm_id": .string(comm), "data": .object(["method": .string("update_states"), "states": .object(states),
                                                                         "buffer_paths": .array(paths)])], parent: msg, buffers: buffers)
    }

    /// Whether an update of the same keys of widget `id` is already queued behind `msg`: then its
    /// callbacks run for that one only (a slider dragged past several values runs once, on the last).
    private func superseded(_ msg: WireMessage, id: String, keys: Set<String>?) -> Bool {
        while let next = nextShellMessageFromSocket() { backlog.append(next) }
        return backlog.contains { m in
            m.type == "comm_msg" && m.content["comm_id"]?.string == id && m.content["data"]?["method"]?.string == "update"
                && keys.map { $0.isSubset(of: Set(m.content["data"]?["state"]?.object?.keys.map { $0 } ?? [])) } ?? true
        }
    }

    private func nextShellMessageFromSocket() -> WireMessage? {
        guard !ZMQSocket.poll([shell], timeout: 0).isEmpty, let frames = shell.receive() else { return nil }
        return decode(frames, on: "shell")
    }

    var kernelInfo: [String: JSON] {
        var language = NotebookFile.languageInfo.object ?? [:]
        // "Lua 5.4.6" → "5.4.6": the exact release in the about box, not just the language version.
        if let v = LuaState.release.split(separator: " ").last { language["version"] = .string(String(v)) }
        return ["status": .string("ok"), "protocol_version": .string(JupyterKernel.protocolVersion),
                "implementation": .string("joule"), "implementation_version": .string(JouleModule.version),
                "language_info": .object(language),
                "banner": .string("Joule \(JouleModule.version) — \(LuaState.release) with the joule module (energy-based models)"),
                "help_links": .array(KernelSpec.helpLinks.map { .object(["text": .string($0.text), "url": .string($0.url)]) }),
                "debugger": .bool(false)]
    }

    /// Documentation as the inspect reply carries it: the text as it is, and Markdown with the
    /// signature as a Lua code block (the descriptions' `backticks` render as code).
    public static func inspectData(_ doc: String) -> [String: JSON] {
        var markdown = doc
        if let r = doc.range(of: "\n\n") {
            markdown = "```lua\n" + doc[..<r.lowerBound] + "\n```\n\n" + doc[r.upperBound...]
        }
        return ["text/plain": .string(doc), "text/markdown": .string(markdown)]
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
        (session.sink as? Sink)?.begin(silent: silent, allowStdin: c["allow_stdin"]?.bool ?? false)
        let outcome = session.execute(code, name: "cell[\(count)]")
        state.lock(); running = false; current = nil; state.unlock()
        var content: [String: JSON] = ["execution_count": .int(count)]
        if let e = outcome.error {
            let err: [String: JSON] = ["ename": .string(e.ename), "evalue": .string(e.evalue),
                                       "traceback": .array(e.traceback.map(JSON.string))]
            if !silent { publish("error", err, parent: msg) }
            content.merge(err) { $1 }
            content["status"] = .string("error")
            if !silent && (c["stop_on_error"]?.bool ?? true) { abortPending = Date(); lastFailure = abortPending }
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

    /// `*` and `?` wildcards, as IPython's history search matches them. Iterative, in constant extra
    /// memory (a recursive matcher once ran past the stack on a long cell): on a mismatch the last `*`
    /// takes one more character, so the work is at most pattern × text and usually linear.
    public static func glob(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.unicodeScalars), t = Array(text.unicodeScalars)
        var i = 0, j = 0
        var star = -1, resume = 0     // the last `*` seen, and where its match would end next
        while j < t.count {
            if i < p.count && p[i] == "*" {
                star = i; resume = j; i += 1
            } else if i < p.count && (p[i] == "?" || p[i] == t[j]) {
                i += 1; j += 1
            } else if star >= 0 {
                resume += 1; j = resume; i = star + 1
            } else {
                return false
            }
        }
        while i < p.count && p[i] == "*" { i += 1 }
        return i == p.count
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
        /// The cell's standard output since its last newline (written by the capture thread): what
        /// `io.write("name? ")` put before an `io.read`, shown as the input box's prompt.
        private var openLine = ""
        private let lineLock = NSLock()
        init(kernel: JupyterKernel) { self.kernel = kernel }

        /// A new cell: no open line yet.
        func begin(silent: Bool, allowStdin: Bool) {
            self.silent = silent
            self.allowStdin = allowStdin
            lineLock.lock(); openLine = ""; lineLock.unlock()
        }

        private var parent: WireMessage? { kernel.state.lock(); defer { kernel.state.unlock() }; return kernel.current }

        func stream(name: String, text: String) {
            if name == "stdout" {
                lineLock.lock()
                if let nl = text.lastIndex(of: "\n") { openLine = String(text[text.index(after: nl)...]) } else { openLine += text }
                if openLine.count > 200 { openLine = String(openLine.suffix(200)) }
                lineLock.unlock()
            }
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

        func error(_ e: CellError) {
            guard !silent else { return }
            kernel.publish("error", ["ename": .string(e.ename), "evalue": .string(e.evalue),
                                     "traceback": .array(e.traceback.map(JSON.string))], parent: parent)
        }

        /// Asks the front end on the stdin channel and waits for its input_reply (an interrupt
        /// stops the wait).
        func input(prompt: String, password: Bool) throws -> String {
            guard allowStdin, let request = parent else {
                throw JouleError("io.read: this front end does not take input (allow_stdin is false)")
            }
            lineLock.lock()
            let before = openLine.trimmingCharacters(in: .whitespaces)
            openLine = ""  // the typed line ends it
            lineLock.unlock()
            let shown = !prompt.isEmpty ? prompt : before.isEmpty ? "input" : before
            let ask = WireMessage(identities: request.identities, header: WireMessage.header(type: "input_request", session: kernel.sessionID),
                                  parent: request.header, content: .object(["prompt": .string(shown), "password": .bool(password)]))
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

extension JupyterKernel: WidgetChannel {
    private var parentRequest: WireMessage? { state.lock(); defer { state.unlock() }; return current }

    public func open(_ model: WidgetModel) {
        let w = model.wire()
        // The protocol version goes in the message's metadata (where ipywidgets puts it and the
        // front end's widget manager checks it).
        publish("comm_open", ["comm_id": .string(model.id), "target_name": .string(JupyterKernel.widgetTarget),
                              "data": .object(["state": .object(w.state), "buffer_paths": .array(w.paths)])],
                parent: parentRequest, metadata: ["version": .string(WidgetSpec.protocolVersion)], buffers: w.buffers)
    }

    /// Reads ahead on the shell socket (the main thread's, which runs the callback asking).
    public func pendingUpdate(_ id: String) -> Bool {
        guard let msg = parentRequest else { return false }
        return superseded(msg, id: id, keys: nil)
    }

    public func close(_ model: WidgetModel) {
        publish("comm_close", ["comm_id": .string(model.id), "data": .object([:])], parent: parentRequest)
    }

    public func update(_ model: WidgetModel, keys: [String]?) {
        let w = model.wire(keys)
        publish("comm_msg", ["comm_id": .string(model.id), "data": .object(["method": .string("update"), "state": .object(w.state),
                                                                             "buffer_paths": .array(w.paths)])],
                parent: parentRequest, buffers: w.buffers)
    }
}
