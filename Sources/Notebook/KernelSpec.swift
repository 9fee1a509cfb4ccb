import Foundation
import JouleCore

/// The kernelspec Jupyter reads to start `joule kernel`.
public enum KernelSpec {
    public static func json(executable: String) -> JSON {
        .object([
            "argv": .array([.string(executable), .string("kernel"), .string("-f"), .string("{connection_file}")]),
            "display_name": .string("Joule (Lua)"),
            "language": .string("lua"),
            // Interrupts come as interrupt_request messages on the control channel.
            "interrupt_mode": .string("message"),
            "metadata": .object(["debugger": .bool(false)]),
        ])
    }

    /// Writes `dir`/kernel.json and the logos (logo-64x64.png, logo-svg.svg); returns the
    /// kernel.json path.
    public static func install(in dir: String, executable: String) throws -> String {
        let path = dir + "/kernel.json"
        do {
            try AtomicFile.write(Data((json(executable: executable).serialized(indent: 1) + "\n").utf8), to: path)
            try AtomicFile.write(try KernelLogo.png(), to: dir + "/logo-64x64.png")
            try AtomicFile.write(Data(KernelLogo.svg().utf8), to: dir + "/logo-svg.svg")
        } catch let e as JouleError {
            throw NotebookError(e.message)
        }
        return path
    }

    /// The Help menu's entries for this kernel (kernel_info_reply's help_links): the README's
    /// sections a notebook user needs, from the README next to this build (the source tree).
    public static var helpLinks: [(text: String, url: String)] {
        guard let readme = readmePath() else { return [] }
        let url = URL(fileURLWithPath: readme).absoluteString
        return [("Joule: notebooks and the kernel", "notebooks-and-the-jupyter-kernel"),
                ("Joule: the joule module (Lua API)", "lua-scripts-the-joule-module"),
                ("Joule: pictures", "pictures"),
                ("Joule: commands", "commands")].map { ($0.0, url + "#" + $0.1) }
    }

    /// README.md in the first folder above this executable that has one (`.build/release/joule`
    /// sits two below the source tree); nil for a joule installed elsewhere.
    static func readmePath() -> String? {
        var dir = URL(fileURLWithPath: executablePath()).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("README.md").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }

    /// This process's executable, absolute.
    public static func executablePath() -> String {
        if let p = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return p }
        let arg0 = CommandLine.arguments[0]
        if arg0.hasPrefix("/") { return arg0 }
        return URL(fileURLWithPath: arg0, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)).standardized.path
    }
}
