import Foundation
import ResmonAPI
import ResmonTestSupport
import Testing

/// Text from the server never reaches a terminal as an escape sequence (issue 22, item 6).
@Suite struct TerminalEscapeTests {
    @Test func controlCharactersInServerTextArePrintedVisibly() throws {
        let daemon = try DaemonHarness()
        let environment = ["RESMON_SOCKET": daemon.socket]
        let resmon = Products.path("resmon")
        _ = try daemon.client.push("app:web:busy", value: 1)
        var spec = MonitorSpec(target: "app:web:busy", condition: "above", value: 5)
        spec.id = "escape"
        spec.name = "\u{1B}]0;owned\u{07}\u{1B}[31mred\u{9B}2J\ttab\nline"
        _ = try daemon.client.createMonitors([spec])
        for arguments in [["monitor", "list"], ["monitor", "show", "escape"], ["monitor", "nope"]] {
            let run = try Products.run(resmon, arguments, environment: environment)
            let printed = run.output + run.error
            #expect(!printed.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{07}" || $0 == "\u{9B}" }, "\(arguments): \(printed)")
        }
        let list = try Products.run(resmon, ["monitor", "list"], environment: environment)
        #expect(list.output.contains(#"\x1B[31mred"#), "\(list.output)")
    }
}
