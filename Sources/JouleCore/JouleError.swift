/// Errors every layer of Joule reports to its callers; each carries a message a user can act on.
public struct JouleError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
