import Statistics
import Testing

@Suite struct PrometheusNamesTests {
    static let units: [(String, String, Double, Double)] = [
        ("node_cpu_seconds_total", "node_cpu_seconds_total", 1.0, 0.0),
        ("node_memory_memtotal_bytes", "node_memory_memtotal_bytes", 1, 0),
        ("node_entropy_available_bits", "node_entropy_available_bytes", 0.125, 0),
        ("request_milliseconds", "request_seconds", 0.001, 0),
        ("disk_kilobytes_total", "disk_bytes_total", 1000, 0),
        ("uptime_days", "uptime_seconds", 86400, 0),
        ("link_megabits", "link_bytes", 125_000, 0),
        ("board_fahrenheit", "board_celsius", 5.0 / 9, -32 * 5.0 / 9),
        ("decay_rate", "decay_rate", 1, 0)  // "deca" + "y" is no unit
    ]

    @Test(arguments: units)
    func nonBaseUnitsBecomeBaseUnits(name: String, expected: String, scale: Double, offset: Double) {
        let (converted, conversion) = PrometheusNames.baseUnits(name)
        #expect(converted == expected)
        #expect(abs(conversion.scale - scale) <= 1e-12 * abs(scale) && abs(conversion.offset - offset) <= 1e-12)
    }

    @Test func aConversionAppliesScaleAndOffset() {
        #expect(PrometheusNames.baseUnits("board_fahrenheit").conversion.apply(212) == 100)
        #expect(PrometheusNames.baseUnits("x_bits").conversion.apply(256) == 32)
        #expect(PrometheusNames.statisticName("node_memory_HugePages_Total") == "node_memory_hugepages_total")
        #expect(PrometheusNames.format(0.05) == "0.05" && PrometheusNames.format(.infinity) == "+Inf" && PrometheusNames.format(3) == "3")
    }
}
