/// A request the engine refuses, with the HTTP status it deserves.
public struct MonitorError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case invalid, notFound, conflict, forbidden, storage, busy, quota }
    public let kind: Kind
    public let message: String
    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { message }
}
