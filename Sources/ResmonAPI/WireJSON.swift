import FoundationEssentials

/// The one configuration of every JSON resmon writes, on the wire, in the state database and
/// for `--json`: keys sorted (a body is the same bytes for the same value, so stored specs
/// compare and diff), `/` unescaped (statistic keys read as they are: `fs:/home:used_ratio`).
public enum WireJSON {
    public static func encoder(pretty: Bool = false) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
