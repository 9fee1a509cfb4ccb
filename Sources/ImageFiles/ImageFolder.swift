import Foundation
import JouleCore

/// A folder of images in ImageFolder's convention (torchvision): one subfolder per class, class
/// names sorted (by code point, as Python sorts them), class ids in that order; a class's files are
/// every file below its folder, in sorted order. Names are read as bytes, so a name that is not
/// UTF-8 is still found (and shown with \xNN escapes). What cannot be used is listed with a reason:
/// symbolic links leading out of the folder, files outside class folders, hidden and special files.
public struct ImageFolder {
    public struct File: Sendable {
        /// The path to open (the link resolved), as bytes.
        public let path: [UInt8]
        /// The path below the folder, for messages.
        public let name: String
    }

    public struct Skipped: Equatable, Sendable {
        public let name: String
        public let reason: String
        public init(name: String, reason: String) { self.name = name; self.reason = reason }
    }

    public let root: String
    public let classes: [String]
    /// The files of each class, in order.
    public let files: [[File]]
    public private(set) var skipped: [Skipped]

    /// Folders below a class folder are followed this deep.
    static let maxDepth = 32

    /// Lists the class folders of `root` (classes) or, with `flat`, every file below `root` as one
    /// class (an out-of-distribution folder).
    public init(_ root: String, flat: Bool = false) throws {
        self.root = root
        guard let rootReal = Self.realPath(Array(root.utf8)) else {
            throw JouleError("\(root): no such folder")
        }
        var st = stat()
        guard stat(root, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { throw JouleError("\(root): not a folder") }
        var skipped: [Skipped] = []
        var visited: Set<[UInt8]> = [rootReal]
        if flat {
            var files: [File] = []
            Self.walk(rootReal, display: "", rootReal: rootReal, depth: 0, visited: &visited, files: &files, skipped: &skipped)
            classes = [""]
            self.files = [files]
            self.skipped = skipped
            return
        }
        var classes: [String] = [], all: [[File]] = []
        for name in try Self.entries(rootReal, display: root) {
            let display = Self.display(name)
            if name.first == UInt8(ascii: ".") { skipped.append(Skipped(name: display, reason: "hidden; not read")); continue }
            switch Self.resolve(rootReal + [UInt8(ascii: "/")] + name, rootReal: rootReal) {
            case .failure(let reason): skipped.append(Skipped(name: display, reason: reason))
            case .success(let (real, isDirectory)):
                guard isDirectory else {
                    skipped.append(Skipped(name: display, reason: "not in a class folder (each class is a subfolder)"))
                    continue
                }
                guard let className = String(validating: name, as: UTF8.self) else {
                    skipped.append(Skipped(name: display, reason: "a class folder whose name is not UTF-8 (rename it)"))
                    continue
                }
                guard !visited.contains(real) else {
                    skipped.append(Skipped(name: display, reason: "a link to a class folder already read"))
                    continue
                }
                visited.insert(real)
                var files: [File] = []
                Self.walk(real, display: display + "/", rootReal: rootReal, depth: 1, visited: &visited, files: &files, skipped: &skipped)
                classes.append(className)
                all.append(files)
            }
        }
        // Python's sorted() of the names: by code point (the byte order of UTF-8 is the same).
        self.classes = classes
        self.files = all
        self.skipped = skipped
    }

    /// Records a file that was found but could not be used.
    public mutating func skip(_ name: String, _ reason: String) { skipped.append(Skipped(name: name, reason: reason)) }

    private static func walk(_ dir: [UInt8], display: String, rootReal: [UInt8], depth: Int,
                             visited: inout Set<[UInt8]>, files: inout [File], skipped: inout [Skipped]) {
        let names: [[UInt8]]
        do { names = try entries(dir, display: display) } catch {
            skipped.append(Skipped(name: display, reason: (error as? JouleError)?.message ?? "\(error)")); return
        }
        for name in names {
            let shown = display + Self.display(name)
            if name.first == UInt8(ascii: ".") { skipped.append(Skipped(name: shown, reason: "hidden; not read")); continue }
            switch resolve(dir + [UInt8(ascii: "/")] + name, rootReal: rootReal) {
            case .failure(let reason): skipped.append(Skipped(name: shown, reason: reason))
            case .success(let (real, isDirectory)):
                if isDirectory {
                    guard depth < maxDepth else { skipped.append(Skipped(name: shown, reason: "folders nested more than \(maxDepth) deep")); continue }
                    guard !visited.contains(real) else { skipped.append(Skipped(name: shown, reason: "a link to a folder already read")); continue }
                    visited.insert(real)
                    walk(real, display: shown + "/", rootReal: rootReal, depth: depth + 1, visited: &visited, files: &files, skipped: &skipped)
                } else {
                    files.append(File(path: real, name: shown))
                }
            }
        }
    }

    enum Resolved { case success(([UInt8], Bool)), failure(String) }

    /// The real path of an entry, and whether it is a folder; a failure for links leaving the
    /// folder, broken links and anything but regular files and folders (FIFOs would block a read).
    private static func resolve(_ path: [UInt8], rootReal: [UInt8]) -> Resolved {
        var st = stat()
        guard lstat(cString(path), &st) == 0 else { return .failure("cannot read: \(String(cString: strerror(errno)))") }
        let isLink = (st.st_mode & S_IFMT) == S_IFLNK
        guard let real = realPath(path) else { return .failure(isLink ? "a broken symbolic link" : "cannot resolve the path") }
        if isLink {
            let inside = real == rootReal || real.starts(with: rootReal + [UInt8(ascii: "/")])
            guard inside else { return .failure("a symbolic link to \(display(real)), outside the folder; not followed") }
        }
        guard stat(cString(real), &st) == 0 else { return .failure("cannot read: \(String(cString: strerror(errno)))") }
        switch st.st_mode & S_IFMT {
        case S_IFDIR: return .success((real, true))
        case S_IFREG: return .success((real, false))
        default: return .failure("not a regular file")
        }
    }

    /// Entry names of a folder (without . and ..), sorted by bytes.
    private static func entries(_ dir: [UInt8], display: String) throws -> [[UInt8]] {
        guard let d = opendir(cString(dir)) else {
            throw JouleError("\(display.isEmpty ? "." : display): cannot list: \(String(cString: strerror(errno)))")
        }
        defer { closedir(d) }
        var names: [[UInt8]] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw -> [UInt8] in
                let b = raw.bindMemory(to: UInt8.self)
                return Array(b[..<(b.firstIndex(of: 0) ?? b.count)])
            }
            if name == [46] || name == [46, 46] { continue }
            names.append(name)
        }
        return names.sorted { $0.lexicographicallyPrecedes($1) }
    }

    static func realPath(_ path: [UInt8]) -> [UInt8]? {
        guard let r = realpath(cString(path), nil) else { return nil }
        defer { free(r) }
        return Array(UnsafeBufferPointer(start: UnsafeRawPointer(r).assumingMemoryBound(to: UInt8.self), count: strlen(r)))
    }

    static func cString(_ bytes: [UInt8]) -> [CChar] { bytes.map { CChar(bitPattern: $0) } + [0] }

    /// A name for messages: UTF-8 as it is, other bytes as \xNN.
    public static func display(_ bytes: [UInt8]) -> String {
        if let s = String(validating: bytes, as: UTF8.self) { return s }
        var out = "", i = 0
        while i < bytes.count {
            // The longest valid UTF-8 sequence here, else one escaped byte.
            var taken = false
            for len in stride(from: min(4, bytes.count - i), through: 1, by: -1) {
                if let s = String(validating: bytes[i..<i + len], as: UTF8.self), s.unicodeScalars.count == 1 {
                    out += s; i += len; taken = true; break
                }
            }
            if !taken { out += String(format: "\\x%02x", bytes[i]); i += 1 }
        }
        return out
    }

    /// The bytes of a file, refusing anything but a regular file of at most `maxBytes`.
    public static func read(_ file: File, maxBytes: Int = ImageFile.maxFileBytes) throws -> Data {
        // O_NONBLOCK: a FIFO swapped in after the listing opens without waiting for a writer.
        let fd = open(cString(file.path), O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw JouleError("cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { throw JouleError("not a regular file") }
        guard st.st_size <= maxBytes else { throw JouleError("larger than \(maxBytes >> 20) MB; not read") }
        guard st.st_size > 0 else { throw JouleError("the file is empty") }
        var data = Data(count: Int(st.st_size))
        var got = 0
        try data.withUnsafeMutableBytes { raw in
            while got < raw.count {
                let n = Foundation.read(fd, raw.baseAddress! + got, raw.count - got)
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw JouleError("cannot read: \(String(cString: strerror(errno)))") }
                if n == 0 { break }
                got += n
            }
        }
        // A file that shrank while being read is read as it was.
        return got == data.count ? data : data.prefix(got)
    }
}
