import Foundation
import ResmonAPI
import Testing

/// Conditions, transforms and monitor types are typed in Swift and plain strings on the wire.
@Suite struct TypedNameTests {
    @Test func aSpecCarriesPlainStringsOnTheWire() throws {
        var spec = MonitorSpec(target: "cpu:total:usage_ratio", condition: .atOrAbove, value: 0.9)
        spec.transform = .percent
        let json = String(decoding: try WireJSON.encoder().encode(spec), as: UTF8.self)
        #expect(json.contains(#""condition":"atOrAbove""#) && json.contains(#""transform":"percent""#), "\(json)")
        let decoded = try JSONDecoder().decode(MonitorSpec.self, from: Data(json.utf8))
        #expect(decoded.condition == .atOrAbove && decoded.transform == .percent)
    }

    @Test func anUnknownNameDecodesAndIsNotKnown() throws {
        let spec = try JSONDecoder().decode(
            MonitorSpec.self, from: Data(#"{"target": "x:y:z", "condition": "sideways", "value": 1, "type": "threshold"}"#.utf8))
        #expect(spec.condition?.rawValue == "sideways" && spec.condition?.isKnown == false)
        #expect(spec.type == .threshold && spec.type?.isKnown == true)
        #expect(Condition.known.map(\.rawValue) == ["above", "atOrAbove", "at", "atOrBelow", "below", "notAt"])
        #expect(Transform.known.count == 4 && MonitorType.known.count == 3)
    }
}

/// Severities and event types are typed names too: events carry them as plain strings, a newer
/// daemon's names decode, and what a type means (`isRaise`, its code) is declared once.
@Suite struct EventNameTests {
    func record(type: EventType, severity: Severity) -> EventRecord {
        EventRecord(
            id: 7, time: 1_800_000_000, code: type.code ?? 0, type: type, severity: severity, monitorId: "m",
            monitorName: nil, key: "app:test:level", value: 60, threshold: 50, host: "vm", message: "m",
            cancels: nil, labels: [:], annotations: [:])
    }

    @Test func anEventCarriesPlainStringsOnTheWire() throws {
        let json = String(decoding: try WireJSON.encoder().encode(record(type: .atOrAbove, severity: .crit)), as: UTF8.self)
        #expect(
            json
                == #"{"annotations":{},"code":502,"host":"vm","id":7,"key":"app:test:level","labels":{},"message":"m","monitorId":"m","severity":"crit","threshold":50,"time":1800000000,"type":"atOrAbove","value":60}"#
        )
        let decoded = try JSONDecoder().decode(EventRecord.self, from: Data(json.utf8))
        #expect(decoded == record(type: .atOrAbove, severity: .crit))
        #expect(decoded.type.kind == .atOrAbove && decoded.severity.level == 2)
    }

    @Test func aNewerDaemonsNamesDecodeAndAreNotKnown() throws {
        var json = String(decoding: try WireJSON.encoder().encode(record(type: .above, severity: .warning)), as: UTF8.self)
        json = json.replacingOccurrences(of: #""type":"above""#, with: #""type":"frobnicated""#)
        json = json.replacingOccurrences(of: #""severity":"warning""#, with: #""severity":"catastrophic""#)
        let event = try JSONDecoder().decode(EventRecord.self, from: Data(json.utf8))
        #expect(event.type.rawValue == "frobnicated" && !event.type.isKnown && !event.type.isRaise && event.type.code == nil)
        #expect(event.severity.rawValue == "catastrophic" && !event.severity.isKnown && event.severity.level == nil)
        let spec = try JSONDecoder().decode(
            MonitorSpec.self, from: Data(#"{"target": "x:y:z", "condition": "above", "value": 1, "severity": "catastrophic"}"#.utf8))
        #expect(spec.severity?.rawValue == "catastrophic" && spec.severity?.isKnown == false)
    }

    @Test(arguments: EventType.Kind.allCases)
    func aTypeKnowsWhetherItRaisesAndIsFoundByItsName(kind: EventType.Kind) {
        let raises: Set<EventType.Kind> = [.above, .atOrAbove, .at, .atOrBelow, .below, .notAtBelow, .notAtAbove, .counterRateExceeded, .watermark, .noData]
        let type = EventType(rawValue: kind.rawValue)
        #expect(type.kind == kind && type.isRaise == raises.contains(kind) && type.isCancel == (kind == .canceled))
        #expect(EventType.Kind.allCases.filter { $0.code == kind.code } == [kind], "codes are unique")
    }

    @Test func severitiesAreSyslogsInOrderAndAcceptTheLongForms() {
        #expect(Severity.known.map(\.rawValue) == ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"])
        #expect(Severity.known.map(\.level) == Array(0...7))
        #expect(Severity.Kind(level: 3) == .err && Severity.Kind(level: 8) == nil)
        for (alias, kind) in [("error", Severity.Kind.err), ("critical", .crit), ("WARN", .warning), ("Emergency", .emerg), ("informational", .info)] {
            #expect(Severity(rawValue: alias).kind == kind && Severity(rawValue: alias).isKnown, "\(alias)")
        }
        #expect(Severity.knownList == "emerg, alert, crit, err, warning, notice, info or debug")
        #expect(EventType.knownList.hasPrefix("canceled, above, atOrAbove,") && EventType.knownList.hasSuffix("noData or eventStorm"))
    }

    @Test func theKnownListsComeFromTheKinds() {
        #expect(Condition.knownList == "above, atOrAbove, at, atOrBelow, below or notAt")
        #expect(Transform.knownList == "none, percent, change or rate")
        #expect(MonitorType.knownList == "threshold, watermark or leakyBucket")
        #expect(Condition.known == Condition.Kind.allCases.map(Condition.init) && Condition.at.kind == .at)
    }
}
