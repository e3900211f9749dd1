import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

/// Issue 22, D3: `template` and `source` are the server's to set. A client that set them made a
/// monitor whose state could never be written, and the cycle's commit failed for everyone.
@Suite struct ServerOwnedFieldTests {
    @Test func aCreateOrPatchSettingTemplateOrSourceIsRefusedNamingTheField() throws {
        let daemon = try DaemonHarness()
        _ = try daemon.client.push("app:p:v", value: 1)
        for field in ["template", "source"] {
            let body = #"{"id":"poison","target":"app:p:v","condition":"above","value":5,"\#(field)":"monitors.d/evil.json"}"#
            let answer = try daemon.client.send("POST", "/v1/monitors", body: Array(body.utf8))
            let text = String(decoding: answer.body, as: UTF8.self)
            #expect(answer.status == 400, "\(field): \(text)")
            #expect(text.contains("bad_request") && text.contains(field), "\(field): \(text)")
        }
        #expect(try daemon.client.monitors().isEmpty)

        var spec = MonitorSpec(target: "app:p:v", condition: "above", value: 5)
        spec.id = "fine"
        _ = try daemon.client.createMonitors([spec])
        for field in ["template", "source"] {
            let body = #"{"\#(field)":"nope"}"#
            let answer = try daemon.client.send("PATCH", "/v1/monitors/fine", body: Array(body.utf8))
            let text = String(decoding: answer.body, as: UTF8.self)
            #expect(answer.status == 400 && text.contains(field), "\(field): \(text)")
        }
        // The monitor still raises, logs and deletes.
        _ = try daemon.client.push("app:p:v", value: 9)
        #expect(daemon.eventually(timeout: 30) { (try? daemon.client.events().events.map(\.type)) == ["above"] })
        try daemon.client.deleteMonitor("fine")
    }
}
