import ResmonAPI
import Testing

/// Values past Int64 (a pushed 1e300, a ratio's 1e308 × 100) are shown, not trapped on
/// (issue 22's audit: a backtest's threshold of 1e300 stopped resmond naming the monitor).
@Suite struct ValueFormatterRangeTests {
    @Test(arguments: [1e300, -1e300, 1.7976931348623157e308, 9.3e18, -9.3e18, 1e15, 12_345_678_901_234_567_890.5])
    func hugeNumbersAreWrittenAsSwiftSpellsThem(value: Double) {
        #expect(ValueFormatter.number(value) == "\(value)")
        #expect(!ValueFormatter.fixed(value, 3).isEmpty)
        #expect(ValueFormatter.format(value, unit: "ratio").hasSuffix(" %"))
        #expect(ValueFormatter.format(value, unit: "bytes").hasSuffix("iB"))
        #expect(ValueFormatter.duration(abs(value)) == "\(abs(value)) s")
    }

    @Test func nonFiniteValuesAreWordsToo() {
        #expect(ValueFormatter.number(.infinity) == "inf")
        #expect(ValueFormatter.number(.nan) == "nan")
        #expect(ValueFormatter.duration(.infinity) == "inf s")
        #expect(ValueFormatter.format(1.7976931348623157e308, unit: "ratio") == "inf %")
        let spec = MonitorSpec(target: "app:x:y_ratio", condition: .above, value: 1e300)
        #expect(spec.formatValue(1e300) == "1e+302 %")
        #expect(ValueFormatter.number(1_234.5) == "1234.5" && ValueFormatter.duration(3_700) == "1h 1m")
    }
}
