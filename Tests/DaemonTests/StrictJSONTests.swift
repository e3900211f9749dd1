import Foundation
import ResmonAPI
import ResmonTestSupport
import Testing

@testable import ResmonDaemon

/// What people write by hand is read strictly, and a mistake is shown where it is.
@Suite struct StrictJSONTests {
    @Test(arguments: [
        ("{\"step\": 1,}", 1, 12, "a trailing comma before \"}\""),
        ("{\n  \"sinks\": {\n    \"a\": {\"type\": \"syslog\"},\n  },\n}", 4, 3, "a trailing comma before \"}\""),
        ("[1, 2,]", 1, 7, "a trailing comma before \"]\""),
        ("{\"a\": 1 \"b\": 2}", 1, 9, "expected \",\" or \"}\" after a member, got \"\"\""),
        ("{'a': 1}", 1, 2, "expected a key in double quotes, got \"'\""),
        ("{\"a\": 1, \"a\": 2}", 1, 10, "the key \"a\" is given twice"),
        ("{\"a\": 01}", 1, 7, "a number may not start with 0 (leading zeros)"),
        ("{\"a\": NaN}", 1, 7, "expected a value, got \"N\""),
        ("{\"a\": \"x\ty\"}", 1, 9, "a control character in a string (write \\n, \\t … instead)"),
        ("{\"a\": 1", 1, 8, "the object is not closed: the text ends before \"}\""),
        ("", 1, 1, "no JSON value (the text is empty)"),
        ("{} {}", 1, 4, "unexpected \"{\" after the value"),
        ("\"\\ud800\"", 1, 8, "a \\u escape of a lone surrogate"),
        ("{\"target\": \"app:x:y\\u0000z\"}", 1, 20, "a string holds \\u0000 (NUL), which resmon does not accept")
    ])
    func aMistakeIsRefusedWithItsLineAndColumn(text: String, line: Int, column: Int, reason: String) {
        #expect(throws: StrictJSON.SyntaxError(line: line, column: column, reason: reason)) { try StrictJSON.parse(Array(text.utf8)) }
        #expect(throws: StrictJSON.SyntaxError(line: line, column: column, reason: reason)) { try StrictJSON.validate(Array(text.utf8)) }
    }

    @Test func whatTheRFCAllowsIsRead() throws {
        let text = #" { "a" : [1, -2.5e3, 0, true, false, null], "b\u00e9\ud83d\ude00\n": "x\"y\\z/", "c": {} } "#
        let value = try StrictJSON.parse(Array(text.utf8))
        #expect(
            value
                == .object([
                    "a": .array([.number(1), .number(-2500), .number(0), .bool(true), .bool(false), .null]),
                    "bé😀\n": .string("x\"y\\z/"), "c": .object([:])
                ]))
        try StrictJSON.validate(Array(text.utf8))
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        #expect(throws: StrictJSON.SyntaxError(line: 1, column: 129, reason: "nested deeper than 128 levels")) { try StrictJSON.validate(Array(deep.utf8)) }
    }

    @Test func aDecodingErrorNamesTheFieldAndWhatWasExpected() {
        struct Spec: Decodable { let samples: Int; let labels: [String: String] }
        func describe(_ text: String) -> String {
            do {
                let spec = try JSONDecoder().decode(Spec.self, from: Data(text.utf8))
                return "decoded \(spec.samples)"
            } catch {
                return StrictJSON.describe(error)
            }
        }
        #expect(describe(#"{"samples": "many", "labels": {}}"#) == "field \"samples\": expected a whole number")
        #expect(describe(#"{"labels": {}}"#) == "field \"samples\" is missing")
        #expect(describe(#"{"samples": 1, "labels": {"a": 2}}"#) == "field \"labels.a\": expected a string")
    }

    @Test func configurationFilesGiveLineAndColumn() throws {
        let directory = TemporaryDirectory("resmon-strict")
        try directory.write("config/resmond.json", "{\n  \"step\": 1,\n}\n")
        try directory.write("config/subsystems.d/x.json", #"{"kind": "textfile", "path": "/tmp",}"#)
        try directory.write("config/monitors.d/y.json", "{\"cpu\": {\"target\": \"cpu:total:usage_ratio\",}}")
        let check = try Products.run(Products.path("resmond"), ["--config-dir", directory.file("config"), "--check-config"])
        #expect(check.status == 1)
        #expect(
            check.error.contains(directory.file("config/resmond.json") + ": not valid JSON: line 3, column 1: a trailing comma before \"}\""),
            "\(check.error)")

        let (_, pluginProblems) = PluginRegistry.read(configDirectory: directory.file("config"), step: 1)
        #expect(pluginProblems.contains { $0.contains("not valid JSON: line 1, column 37: a trailing comma before \"}\"") }, "\(pluginProblems)")
        let (_, monitorProblems) = MonitorFileReader.read(configDirectory: directory.file("config"))
        #expect(monitorProblems == ["monitors.d/y.json: not valid JSON: line 1, column 44: a trailing comma before \"}\""])
    }

    @Test func fromFileErrorsReadLikeTheOthers() throws {
        let directory = TemporaryDirectory("resmon-from-file")
        try directory.write("bad.json", "{\"target\": \"cpu:total:usage_ratio\",\n \"condition\": \"above\", \"value\": 0.9,}")
        try directory.write("wrong.json", #"{"target": "cpu:total:usage_ratio", "condition": "above", "value": "high"}"#)
        let environment = ["RESMON_SOCKET": directory.file("nothing.sock")]
        let bad = try Products.run(Products.path("resmon"), ["monitor", "create", "--from-file", directory.file("bad.json")], environment: environment)
        #expect(bad.status == 64)
        #expect(bad.error.contains("\(directory.file("bad.json")): not valid JSON: line 2, column 37: a trailing comma before \"}\""), "\(bad.error)")
        let wrong = try Products.run(Products.path("resmon"), ["monitor", "create", "--from-file", directory.file("wrong.json")], environment: environment)
        #expect(wrong.status == 64)
        #expect(wrong.error.contains("is not a monitor spec: field \"value\": expected a number"), "\(wrong.error)")
        #expect(!wrong.error.contains("DecodingError"))
    }
}

extension StrictJSONTests {
    /// A key given twice is refused wherever JSON comes in, with where it is and which key:
    /// which of the two would win is not something to guess.
    @Test func aRepeatedKeyIsRefusedInFilesAndEveryBody() throws {
        let directory = TemporaryDirectory("resmon-repeated-key")
        try directory.write("config/resmond.json", "{\"push\": {\"expireSeconds\": 60,\n  \"expireSeconds\": 120}}")
        try directory.write("config/monitors.d/twice.json", #"{"a": {"target": "app:x:y", "condition": "above", "value": 1, "value": 2}}"#)
        let check = try Products.run(Products.path("resmond"), ["--config-dir", directory.file("config"), "--check-config"])
        #expect(check.status == 1)
        #expect(
            check.error.contains(directory.file("config/resmond.json") + ": not valid JSON: line 2, column 3: the key \"expireSeconds\" is given twice"),
            "\(check.error)")
        let (_, problems) = MonitorFileReader.read(configDirectory: directory.file("config"))
        #expect(problems == ["monitors.d/twice.json: not valid JSON: line 1, column 63: the key \"value\" is given twice"])

        let daemon = try DaemonHarness()
        _ = try daemon.client.push("app:x:y", value: 1)
        let bodies: [(String, String, String)] = [
            ("PUT", "/v1/statistics/app:x:y", #"{"value": 5, "value": 6}"#),
            ("POST", "/v1/monitors", #"{"target": "app:x:y", "condition": "above", "condition": "below", "value": 1}"#),
            ("POST", "/v1/monitors/test", #"{"spec": {"target": "app:x:y", "condition": "above", "value": 1}, "since": "-1h", "since": "-2h"}"#)
        ]
        for (method, path, body) in bodies {
            let response = try daemon.client.send(method, path, body: Array(body.utf8))
            let text = String(decoding: response.body, as: UTF8.self)
            #expect(response.status == 400, "\(method) \(path): \(text)")
            #expect(text.contains("not valid JSON: line 1, column") && text.contains("is given twice"), "\(method) \(path): \(text)")
        }
        #expect(try daemon.client.statistic("app:x:y").value == 1)
    }

    /// docs/CONFIG.md's sample resmond.json is what a reader copies first: it must validate on
    /// any host, without a `resmon` group or a token file.
    @Test func theSampleConfigurationInTheDocsValidates() throws {
        let text = try String(contentsOfFile: Products.packageRoot() + "/docs/CONFIG.md", encoding: .utf8)
        let start = try #require(text.range(of: "## resmond.json"))
        let block = try #require(text.range(of: "```json\n", range: start.upperBound..<text.endIndex))
        let end = try #require(text.range(of: "\n```", range: block.upperBound..<text.endIndex))
        let directory = TemporaryDirectory("resmon-sample")
        try directory.write("config/resmond.json", String(text[block.upperBound..<end.lowerBound]))
        let check = try Products.run(Products.path("resmond"), ["--config-dir", directory.file("config"), "--check-config"])
        #expect(check.status == 0, "\(check.error)")
    }
}
