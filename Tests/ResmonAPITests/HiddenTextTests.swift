import ResmonAPI
import Testing

@Suite struct HiddenTextTests {
    @Test func bidirectionalZeroWidthAndSeparatorCharactersAreHidden() {
        for scalar in ["\u{202A}", "\u{202E}", "\u{2066}", "\u{2069}", "\u{200B}", "\u{200F}", "\u{FEFF}", "\u{2028}", "\u{2029}", "\u{1B}", "\u{85}"] {
            #expect(HiddenText.isHidden(scalar.unicodeScalars.first!), "\(HiddenText.name(scalar.unicodeScalars.first!))")
        }
        #expect(HiddenText.first(in: "Grüße, 東京, a b") == nil)
        #expect(HiddenText.first(in: "key\u{202E}txt") == "U+202E")
    }
}
