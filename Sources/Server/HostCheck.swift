/// Which `Host` a request over a loopback TCP listener may name: `localhost` (or a name under
/// `.localhost`) or an IP address, with or without a port.
///
/// A page from another site can rebind its own name to 127.0.0.1 (DNS rebinding); the browser
/// then sends its requests to resmond as same-origin requests of that page, which could read
/// every statistic, process name and event, and the dashboard's token from the page's storage
/// if the viewer typed it there. Such requests carry the attacker's name in `Host`, which the
/// browser sets and no page can change: refusing names other than loopback's keeps them out.
/// A listener on another address is reached by its names (Prometheus, remote `resmon --url`),
/// so there the check is off and TLS with the bearer token protects writes.
public enum HostCheck {
    /// Why `host` (the header's value) is refused, or nil when it may be served. A request
    /// without `Host` (HTTP/1.0) is served: browsers always send one.
    public static func refusal(_ host: String?) -> String? {
        guard let host, !host.isEmpty else { return nil }
        let name = HostCheck.name(host)
        if name == "localhost" || name.hasSuffix(".localhost") || isIPv4(name) || isIPv6(name) { return nil }
        let shown = host.utf8.count <= 80 && host.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F } ? host : "(a name)"
        return
            "Host \"\(shown)\" is not this resmond's: on a loopback address resmond answers only requests "
            + "for localhost or an IP address (a page of another site may have rebound its name to 127.0.0.1); "
            + "open http://127.0.0.1:PORT/ or http://localhost:PORT/"
    }

    /// The header's host without its port, lowercased, brackets of an IPv6 literal removed, and
    /// a trailing dot dropped (`localhost.` is `localhost`).
    static func name(_ host: String) -> String {
        var text = Substring(host.lowercased())
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return String(text) }
            return String(text[text.index(after: text.startIndex)..<close])
        }
        if let colon = text.lastIndex(of: ":"), text[text.index(after: colon)...].allSatisfy({ $0.isASCII && $0.isNumber }) {
            text = text[..<colon]
        }
        if text.hasSuffix(".") { text = text.dropLast() }
        return String(text)
    }

    /// Four decimal octets 0…255, the only IPv4 form taken (not `0x7f.1` or `2130706433`,
    /// which a resolver might read as an address but a name server can also serve as a name).
    static func isIPv4(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4
            && parts.allSatisfy { part in
                !part.isEmpty && part.count <= 3 && part.allSatisfy { $0.isASCII && $0.isNumber } && Int(part).map { $0 <= 255 } == true
            }
    }

    /// Hexadecimal groups and colons (with an embedded IPv4 tail or a `%` zone): a name
    /// cannot contain a colon, so any such text is an address, never a rebound name.
    static func isIPv6(_ text: String) -> Bool {
        let parts = text.split(separator: "%", maxSplits: 1, omittingEmptySubsequences: false)
        let zoneIsName = parts.count == 1 || parts[1].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-") }
        return parts[0].contains(":") && parts[0].allSatisfy { $0.isASCII && ($0.isHexDigit || $0 == ":" || $0 == ".") } && zoneIsName
    }
}
