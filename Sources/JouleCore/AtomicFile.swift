import Foundation

/// Files are written to a temporary name beside their destination, synced, and renamed into place,
/// so an interrupted write never leaves a half-written file under the real name; a failed write
/// (a full disk) removes its temporary file, and temporary files of killed writers are removed by
/// the next write to the same name.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw JouleError("\(path): cannot write: \(error.localizedDescription)")
        }
        Staging.removeStale(in: dir, for: url.lastPathComponent)
        let tmp = Staging.path(in: dir, for: url.lastPathComponent)
        do {
            try Staging.writeSynced(data, to: tmp)
            guard rename(tmp, url.path) == 0 else { throw JouleError("\(path): cannot rename into place: \(Staging.errnoText())") }
        } catch {
            unlink(tmp)
            if let e = error as? JouleError, e.message.hasPrefix(path) { throw e }
            throw JouleError("\(path): cannot write: \(error)")
        }
    }
}

/// A folder (a checkpoint: files that only make sense together) replaced as a whole or not at all.
/// The new folder is written beside the old one under a temporary name, synced, and swapped with it
/// in one `renameat2(RENAME_EXCHANGE)`; the old one, now under the temporary name, is then removed.
/// A kill at any moment leaves the old folder or the new one complete under the real name (on file
/// systems without the exchange, the old folder is renamed aside first and `recover` puts it back
/// if a kill came between the two renames).
public enum AtomicFolder {
    public static func replace(_ directory: String, fill: (String) throws -> Void) throws {
        var dir = directory
        while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
        let url = URL(fileURLWithPath: dir)
        let parent = url.deletingLastPathComponent().path, base = url.lastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        } catch {
            throw JouleError("\(directory): cannot create: \(error.localizedDescription)")
        }
        recover(dir)
        Staging.removeStale(in: parent, for: base)
        let staging = Staging.path(in: parent, for: base)
        try? FileManager.default.removeItem(atPath: staging)
        guard mkdir(staging, 0o755) == 0 else { throw JouleError("\(directory): cannot create \(staging): \(Staging.errnoText())") }
        do {
            try fill(staging)
            try Staging.sync(staging)
            testStop("before-swap")
            var exists = stat()
            if lstat(dir, &exists) != 0 {
                guard rename(staging, dir) == 0 else { throw JouleError("\(directory): cannot rename into place: \(Staging.errnoText())") }
            } else if exchange(staging, dir) {
                try? Staging.sync(parent)
                testStop("after-swap")
                try? FileManager.default.removeItem(atPath: staging)   // the old folder
            } else {
                let previous = previousPath(dir)
                try? FileManager.default.removeItem(atPath: previous)
                guard rename(dir, previous) == 0 else { throw JouleError("\(directory): cannot move the old folder aside: \(Staging.errnoText())") }
                testStop("aside")
                guard rename(staging, dir) == 0 else {
                    let err = Staging.errnoText()
                    rename(previous, dir)
                    throw JouleError("\(directory): cannot rename into place: \(err)")
                }
                try? FileManager.default.removeItem(atPath: previous)
            }
            try? Staging.sync(parent)
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            if let e = error as? JouleError { throw e }
            throw JouleError("\(directory): cannot write: \(error)")
        }
    }

    /// Writes one file of a folder being filled: synced before the folder is swapped in.
    public static func write(_ data: Data, to path: String) throws {
        do { try Staging.writeSynced(data, to: path) } catch let e as JouleError { throw e } catch {
            throw JouleError("\(path): cannot write: \(error)")
        }
    }

    /// Puts back a folder that a kill left renamed aside (only where the exchange is unsupported).
    public static func recover(_ directory: String) {
        var st = stat()
        let previous = previousPath(directory)
        if lstat(directory, &st) != 0 && lstat(previous, &st) == 0 { rename(previous, directory) }
    }

    private static func previousPath(_ dir: String) -> String {
        let url = URL(fileURLWithPath: dir)
        return url.deletingLastPathComponent().path + "/.\(url.lastPathComponent).previous"
    }

    private static func exchange(_ a: String, _ b: String) -> Bool {
        // Tests take the other path as on a file system without the exchange.
        if ProcessInfo.processInfo.environment["JOULE_TEST_NO_EXCHANGE"] != nil { return false }
        #if os(Linux)
        typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
        // glibc declares renameat2 only under _GNU_SOURCE, which Swift's Glibc module leaves out.
        guard let sym = dlsym(nil, "renameat2") else { return false }
        let f = unsafeBitCast(sym, to: RenameAt2.self)
        return f(AT_FDCWD, a, AT_FDCWD, b, 1 << 1 /* RENAME_EXCHANGE */) == 0
        #else
        return false
        #endif
    }

    /// A test hook: with JOULE_TEST_STOP_AT=<stage> and JOULE_TEST_STOP_MARKER=<file> in the
    /// environment, a save stops at that stage ("between-files", "before-swap", "after-swap",
    /// "aside"), creates the marker and waits there to be killed: a kill inside the window made
    /// reproducible.
    public static func testStop(_ stage: String) {
        let env = ProcessInfo.processInfo.environment
        guard env["JOULE_TEST_STOP_AT"] == stage, let marker = env["JOULE_TEST_STOP_MARKER"] else { return }
        FileManager.default.createFile(atPath: marker, contents: Data(stage.utf8))
        while true { sleep(60) }
    }
}

/// Temporary names beside a destination: `.<name>.<pid>.tmp`.
enum Staging {
    static func path(in dir: String, for name: String) -> String { dir + "/.\(name).\(getpid()).tmp" }

    /// Removes temporary files or folders for `name` left by processes that no longer run.
    static func removeStale(in dir: String, for name: String) {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return }
        let prefix = ".\(name).", suffix = ".tmp"
        for e in entries where e.hasPrefix(prefix) && e.hasSuffix(suffix) && e.count > prefix.count + suffix.count {
            guard let pid = Int32(e.dropFirst(prefix.count).dropLast(suffix.count)), pid > 0, pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { try? FileManager.default.removeItem(atPath: dir + "/" + e) }
        }
    }

    static func writeSynced(_ data: Data, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw JouleError("\(path): cannot create: \(errnoText())") }
        defer { close(fd) }
        try data.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw JouleError("\(path): cannot write: \(errnoText())") }
                done += n
            }
        }
        guard fsync(fd) == 0 else { throw JouleError("\(path): cannot write: \(errnoText())") }
    }

    static func sync(_ dir: String) throws {
        let fd = open(dir, O_RDONLY)
        guard fd >= 0 else { throw JouleError("\(dir): cannot open: \(errnoText())") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw JouleError("\(dir): cannot sync: \(errnoText())") }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
