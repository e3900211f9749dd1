import ResmonSystem
import Testing

@Suite struct InputNumberTests {
    @Test(arguments: ["9223372036854775807", "-9223372036854775808", "253402300800", "-253402300800", "1e3", "nan", "", " 5"])
    func timesOutsideTheYears1970To9999AreRefusedByField(text: String) {
        let error = #expect(throws: InputNumberError.self) { _ = try InputNumber.time(text, field: "start", now: 1_800_000_000) }
        #expect(error?.description.hasPrefix("start: ") == true)
        #expect(error?.description.contains(text) == true)
    }

    @Test func relativeTimesCountBackFromNow() throws {
        #expect(try InputNumber.time("-60", field: "start", now: 1_800_000_000) == 1_799_999_940)
        #expect(try InputNumber.time("1700000000", field: "start", now: 1_800_000_000) == 1_700_000_000)
        #expect(throws: InputNumberError.self) { _ = try InputNumber.time("-1800000001", field: "start", now: 1_800_000_000) }
    }

    @Test(arguments: [Double.nan, .infinity, -.infinity, 1e300, -1e300, 1e19, 9.3e18, -1, 253_402_300_800])
    func parsedTimesThatAreNoTimeAreRefused(seconds: Double) {
        let error = #expect(throws: InputNumberError.self) { _ = try InputNumber.time(seconds, field: "since", text: "x") }
        #expect(error?.field == "since")
    }

    @Test func wholeNumbersFromDoublesNeverTrap() {
        #expect(InputNumber.integer(truncating: 9_223_372_036_854_775_807.0, in: Int.min...Int.max) == nil)
        #expect(InputNumber.integer(truncating: -9_223_372_036_854_775_808.0, in: Int.min...Int.max) == Int.min)
        #expect(InputNumber.integer(truncating: .nan, in: 0...10) == nil)
        #expect(InputNumber.integer(truncating: 10.5, in: 0...10) == 10)
        #expect(InputNumber.integer(truncating: 11, in: 0...10) == nil)
        #expect(throws: InputNumberError.self) { _ = try InputNumber.number("inf", field: "x", in: 0...1) }
        #expect(throws: InputNumberError.self) { _ = try InputNumber.integer("99999999999999999999", field: "x", in: 0...1) }
    }
}
