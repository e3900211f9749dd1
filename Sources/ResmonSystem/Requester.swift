/// Who sent a request, for the shares of what requests may use (regular expressions' memory,
/// CPU): root (the Unix socket's uid 0, or TCP with the bearer token), a uid other than root
/// (the Unix socket's peer), or a TCP address without the token.
public enum Requester: Hashable, Sendable, CustomStringConvertible {
    case root
    case user(Int)
    case address(String)

    /// A Unix-socket peer whose credentials could not be read: nobody, never root.
    public static let nobody = Requester.user(65534)

    public var description: String {
        switch self {
        case .root: "root"
        case .user(let uid): "uid \(uid)"
        case .address(let address): "TCP address \(address)"
        }
    }
}
