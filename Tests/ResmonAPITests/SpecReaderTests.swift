import Foundation
import ResmonAPI
import Testing

/// Issue 17: `POST /v1/monitors` bodies are read by SpecReader, JSONDecoder only for what it
/// gives up on. Whatever it reads must be exactly what JSONDecoder reads; what JSONDecoder
/// refuses it must give up on, so that the error is JSONDecoder's.
@Suite struct SpecReaderTests {
    /// JSONDecoder's reading of a body (nil: refused), as the route decodes when SpecReader gives up.
    static func decoded(_ body: String) -> (specs: [MonitorSpec], single: Bool)? {
        let data = Data(body.utf8)
        if body.first(where: { !$0.isWhitespace }) == "[" { return (try? JSONDecoder().decode([MonitorSpec].self, from: data)).map { ($0, false) } }
        return (try? JSONDecoder().decode(MonitorSpec.self, from: data)).map { ([$0], true) }
    }

    /// Checks one body: valid JSON only (the route validates first).
    static func check(_ body: String, mustRead: Bool = false) {
        guard (try? StrictJSON.validate(Array(body.utf8))) != nil else { return }
        let read = SpecReader.specs(Array(body.utf8))
        if mustRead { #expect(read != nil, "SpecReader gave up on \(body)") }
        guard let read else { return }
        let expected = decoded(body)
        #expect(expected != nil, "SpecReader read what JSONDecoder refuses: \(body)")
        #expect(read.single == expected?.single && read.specs == expected?.specs, "\(body)")
    }

    @Test(arguments: 0..<20) func whatItReadsIsWhatJSONDecoderReads(seed: UInt64) throws {
        let generator = WireWriterTests.Seeded(state: 5000 + seed)
        for _ in 0..<100 {
            let specs = (0..<Int(generator.next() % 4) + 1).map { _ in WireWriterTests.spec(generator) }
            SpecReaderTests.check(try WireWriterTests.encoded(specs))
            SpecReaderTests.check(try WireWriterTests.encoded(specs[0]))
            SpecReaderTests.check(String(decoding: try WireJSON.encoder(pretty: true).encode(specs), as: UTF8.self))
        }
    }

    @Test func whatUsersSendIsReadWithoutJSONDecoder() throws {
        var spec = MonitorSpec(target: "fs:/home:used_ratio", condition: .above, value: 1e15)
        spec.labels = ["team": "ops", "é": "日本"]
        spec.precondition = MonitorPrecondition(monitor: "other", raised: false)
        var bucket = MonitorSpec(target: "cpu:total:busy_seconds_total", type: .leakyBucket)
        bucket.bucketSize = 10
        bucket.fillValue = 0.5
        SpecReaderTests.check(String(decoding: try JSONEncoder().encode([spec, bucket]), as: UTF8.self), mustRead: true)
        SpecReaderTests.check(
            #"  {"target": {"select": "^cpu:", "aggregate": "sum", "where": {"a": "b"}}, "type": "watermark", "start": null} "#, mustRead: true)
        SpecReaderTests.check(#"[{"target": "a:b:c", "condition": "above", "value": -0, "samples": 3, "precondition": "armed"}]"#, mustRead: true)
        SpecReaderTests.check("[]", mustRead: true)
        SpecReaderTests.check(#"{"target": "fs:\/home:used_ratio", "name": "a\"b\\c\b\f\n\r\t\u0062\u00e9\u65e5\u0000", "value": 1}"#, mustRead: true)
        SpecReaderTests.check(#"{"target": "a:b:c", "name": "\ud83d\ude80"}"#)
    }

    @Test func whatJSONDecoderRefusesItGivesUpOn() {
        let bodies = [
            #"{"target": "a:b:c", "samples": 1.5}"#, #"{"target": "a:b:c", "samples": 1.0}"#, #"{"target": "a:b:c", "samples": 1e2}"#,
            #"{"target": "a:b:c", "samples": 99999999999999999999}"#, #"{"target": "a:b:c", "value": 1e400}"#,
            #"{"target": "a:b:c", "value": "1"}"#, #"{"target": "a:b:c", "start": 1}"#, #"{"target": 5}"#, #"{"target": null}"#,
            #"{"value": 1}"#, #"{"target": "a:b:c", "colour": "red"}"#, #"{"target": {"aggregate": "sum"}}"#,
            #"{"target": {"select": "x", "other": 1}}"#, #"{"target": "a:b:c", "precondition": "sometimes"}"#,
            #"{"target": "a:b:c", "precondition": {"armed": true, "x": 1}}"#, #"{"target": "a:b:c", "labels": {"a": 1}}"#,
            #"{"target": "a:b:c", "labels": {"a": null}}"#, #"{"target": "a:b:c", "labels": ["a"]}"#, #"{"target": "a\"b"}"#,
            #"{"target": "a\u0062c"}"#, #"[{"target": "a:b:c"}, 5]"#, #"[[{"target": "a:b:c"}]]"#, #""text""#, "5", "null",
            #"{"target": "a:b:c", "condition": null, "id": null, "labels": null, "precondition": null}"#,
            #"{"target": "a:b:c", "microMonitoringRate": -5, "monitoringRate": 0}"#, #"{"target": "a:b:c", "tolerance": -0.0}"#
        ]
        for body in bodies { SpecReaderTests.check(body) }
    }

    /// Issue 23, found by the request fuzzer (Tests/FuzzCorpus/request/crashes): JSONDecoder
    /// refuses a zero with a one-digit exponent (`0e9`, `0E1`, while `0e10`, `0e+9` and `-0e9`
    /// pass), which is valid JSON; SpecReader read it, so a body was accepted or refused by
    /// whichever of the two read it. SpecReader gives up on every zero with an exponent.
    @Test(arguments: ["0e9", "0E1", "0e1", "-0e9", "0e10", "0e+9", "0e-1", "0E0", "0.0e9"])
    func aZeroWithAnExponentIsReadAsJSONDecoderReadsIt(_ number: String) {
        let body = #"{"target": "a:b:c", "condition": "above", "value": \#(number)}"#
        SpecReaderTests.check(body)
        SpecReaderTests.check("[" + body + #", {"target": "d:e:f", "value": 1}]"#)
    }
}
