import Events
import ResmonAPI
import Testing

@testable import Monitoring

/// A name this build does not know is refused where a monitor is validated, with the known
/// names listed from their one declaration; a known one is stored by its canonical name.
@Suite struct TypedNameRefusalTests {
    func refusal(_ configure: (inout MonitorSpec) -> Void) throws -> String? {
        let rig = try Rig()
        do {
            try rig.create(configure)
            return nil
        } catch let error as MonitorError {
            return error.message
        }
    }

    @Test func unknownNamesAreRefusedListingTheKnownOnes() throws {
        #expect(try refusal { $0.severity = "fatal" } == "severity: expected \(Severity.knownList), got \"fatal\"")
        #expect(try refusal { $0.severity = "fatal" }?.contains("emerg, alert, crit, err, warning, notice, info or debug") == true)
        #expect(
            try refusal { $0.cancelSeverity = "loud" }
                == "cancelSeverity: expected \(Severity.knownList), or none for no cancel event, got \"loud\"")
        #expect(try refusal { $0.condition = "sideways" } == "condition: expected \(Condition.knownList), got \"sideways\"")
        #expect(try refusal { $0.transform = "log" } == "transform: expected \(Transform.knownList), got \"log\"")
        #expect(try refusal { $0.type = "histogram" } == "type: expected \(MonitorType.knownList), got \"histogram\"")
    }

    @Test func aSeverityIsStoredByItsSyslogName() throws {
        let rig = try Rig()
        try rig.create {
            $0.severity = "Critical"
            $0.cancelSeverity = "none"
        }
        let spec = try #require(rig.engine.monitor("m")).spec
        #expect(spec.severity == .crit && spec.cancelSeverity == "none" && spec.transform == Transform.none && spec.type == .threshold)
        rig.feed(90)
        #expect(rig.events.map(\.severity) == [.crit] && rig.events.map(\.type) == [.above] && rig.events.first?.code == 501)
    }
}
