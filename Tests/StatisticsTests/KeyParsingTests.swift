import ResmonAPI
import Testing

@testable import Statistics  // StatisticKey.unescape, for the splitting form

/// `StatisticKey(parsing:)` and `ValueFormatter.unit(ofKey:)` find their parts in the bytes
/// rather than by splitting (a bulk create parses every target, issue 17): each must answer as
/// the splitting form did, for keys and for any text.
@Suite struct KeyParsingTests {
    /// The form before, by splitting.
    static func splitting(_ text: String) -> StatisticKey? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, StatisticKey.isName(parts[0]), StatisticKey.isName(parts[2]),
            !parts[1].isEmpty, let resource = StatisticKey.unescape(parts[1])
        else { return nil }
        return StatisticKey(subsystem: String(parts[0]), resource: resource, statistic: String(parts[2]))
    }

    static func unitBySplitting(_ key: String) -> String {
        let name = key.split(separator: ":").last.map(String.init) ?? key
        let base = name.hasSuffix("_total") ? String(name.dropLast(6)) : name
        for unit in ["ratio", "bytes", "seconds"] where base.hasSuffix("_" + unit) { return unit }
        return ""
    }

    static let alphabet: [String] = [":", ":", "a", "b", "_", "1", "%", "%3A", "%25", "Z", "é", " ", "_bytes", "_total", "_ratio", "_seconds", ""]

    /// Deterministic texts of up to 8 pieces of the alphabet, and known keys.
    static var texts: [String] {
        var seeded = Seeded(state: 0x5eed)
        var texts = [
            "cpu:cpu0:usage_ratio", "fs:/home:used_ratio", "fs:a%3Ab:used_ratio", "net:eth0:receive_bytes_total", "a::b", "::",
            ":a:b", "a:b:", "a:b:c:d", "", ":", "x", "app:x%:y", "^fs:.*:used_bytes$", "a:b:c_bytes:", ":::"
        ]
        for _ in 0..<20_000 {
            let count = Int(seeded.next() % 9)
            texts.append((0..<count).map { _ in alphabet[Int(seeded.next() % UInt64(alphabet.count))] }.joined())
        }
        return texts
    }

    struct Seeded {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
    }

    @Test func parsingFindsTheSamePartsAsSplitting() {
        for text in Self.texts { #expect(StatisticKey(parsing: text) == Self.splitting(text), "\(text)") }
    }

    @Test func unitOfKeyIsTheSplittingForms() {
        for text in Self.texts { #expect(ValueFormatter.unit(ofKey: text) == Self.unitBySplitting(text), "\(text)") }
    }
}
