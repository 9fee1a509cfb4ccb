/// Ctrl-C for long Swift calls (an SGLD run, an evaluation): they poll `check()` between steps, so
/// an interrupt stops them at their next step with an error instead of when they are done. The
/// host that catches interrupts (the Lua bridge) sets `stopRequested`; without one nothing stops.
public enum Interruption {
    nonisolated(unsafe) public static var stopRequested: () -> Bool = { false }

    public static let error = JouleError("interrupted")

    public static func check() throws {
        if stopRequested() { throw error }
    }
}
