/// Characters a terminal does not show as themselves: controls (C0, DEL, C1), format characters
/// (the bidirectional embeddings, overrides and isolates U+202A–U+202E and U+2066–U+2069, the
/// zero-width U+200B–U+200F, U+FEFF) and the line and paragraph separators U+2028 and U+2029. A
/// key with U+202E shows reversed, one with U+200B looks like another: text from outside that
/// people read (a pushed statistic's resource and help) refuses them, and the CLI shows any that
/// still come (from a plug-in) escaped.
public enum HiddenText {
    public static func isHidden(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: true
        default: false
        }
    }

    /// The first hidden character of `text`, as `U+202E`; nil when there is none.
    public static func first(in text: String) -> String? {
        text.unicodeScalars.first(where: isHidden).map(name)
    }

    /// `U+` and at least four hex digits.
    public static func name(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
