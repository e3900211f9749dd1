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
