import ResmonAPI

#if canImport(Glibc)
    import Glibc
#endif

/// Text from the server (monitor names, help, labels, messages) reaches a terminal only through
/// `print` and `CLI.printError`, and neither lets a control character through: an escape
/// sequence in a name could recolour, retitle or rewrite the user's terminal. Each one (C0 but
/// line feed and tab, DEL, C1) is shown as `\x1B`, and each format or separator character
/// (`HiddenText`: a bidirectional override that shows a key reversed, a zero-width space) as
/// `\u{202E}`.
enum TerminalText {
    static func visible(_ text: String, keepingLineBreaks: Bool = true) -> String {
        guard text.unicodeScalars.contains(where: { isHidden($0, keepingLineBreaks) }) else { return text }
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isHidden(scalar, keepingLineBreaks) {
                let hex = String(scalar.value, radix: 16, uppercase: true)
                let shown = scalar.value > 0xFF ? "\\u{" + hex + "}" : "\\x" + (hex.count < 2 ? "0" + hex : hex)
                result.append(contentsOf: shown.unicodeScalars)
            } else {
                result.append(scalar)
            }
        }
        return String(result)
    }

    private static func isHidden(_ scalar: Unicode.Scalar, _ keepingLineBreaks: Bool) -> Bool {
        guard HiddenText.isHidden(scalar) else { return false }
        return !(keepingLineBreaks && (scalar == "\n" || scalar == "\t"))
    }
}

/// Every `print` in resmon goes through `TerminalText`; `Swift.print` is for the few escape
/// sequences resmon writes on purpose (`resmon watch` clearing the screen).
func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    Swift.print(TerminalText.visible(items.map { "\($0)" }.joined(separator: separator)), terminator: terminator)
}
