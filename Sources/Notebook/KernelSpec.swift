import Foundation
import Tensor

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

    /// Writes `dir`/kernel.json; returns its path.
    public static func install(in dir: String, executable: String) throws -> String {
        let path = dir + "/kernel.json"
        do {
            try AtomicFile.write(Data((json(executable: executable).serialized(indent: 1) + "\n").utf8), to: path)
        } catch let e as JouleError {
            throw NotebookError(e.message)
        }
        return path
    }

    /// This process's executable, absolute.
    public static func executablePath() -> String {
        if let p = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return p }
        let arg0 = CommandLine.arguments[0]
        if arg0.hasPrefix("/") { return arg0 }
        return URL(fileURLWithPath: arg0, relativeTo: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)).standardized.path
    }
}
