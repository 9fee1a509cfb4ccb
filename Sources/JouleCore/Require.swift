/// A check of a caller's promise that holds in every build. The numeric targets compile with
/// -Ounchecked, where `precondition` is assumed true and removed; a condition that memory safety
/// rests on (a shape, a count, a state's length) is checked with this instead, and stops the
/// program with the message rather than reading or writing memory that is not the tensor's.
/// Values from outside never reach one of these: they are validated, and refused with an error,
/// where they are read.
@inline(__always)
public func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                    file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { fatalError(message(), file: file, line: line) }
}
