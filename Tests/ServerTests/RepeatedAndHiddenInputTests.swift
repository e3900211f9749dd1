import ResmonAPI
import Server
import Testing

/// Attack round 4, item 8: a parameter given twice, a sign the documentation does not offer,
/// `start=-0`, and characters that hide or reorder text in a pushed statistic.
@Suite struct RepeatedAndHiddenInputTests {
    @Test(arguments: [
        [("start", "0"), ("cf", "AVERAGE"), ("cf", "MAX"), ("host", "true")],
        [("start", "0"), ("start", "-60"), ("host", "true")]
    ])
    func aParameterGivenTwiceIs400NamingIt(query: [(String, String)]) throws {
        let rig = try RouterRig()
        let answer = rig.send("GET", "/rrd_updates", query: query)
        let repeated = query.map(\.0).first { name in query.filter { $0.0 == name }.count > 1 } ?? ""
        #expect(answer.isError(400, .badRequest) && answer.error?.message == "\(repeated): given more than once", "\(answer)")
        let history = rig.send("GET", "/v1/history/memory:host:used_bytes", query: [("cf", "AVERAGE"), ("cf", "MAX")])
        #expect(history.isError(400, .badRequest) && history.error?.message == "cf: given more than once", "\(history)")
    }

    @Test func aPlusSignIsRefusedAndMinusZeroIsTheLastUpdate() throws {
        let rig = try RouterRig()
        let plus = rig.send("GET", "/rrd_updates", query: [("start", "+5"), ("host", "true")])
        #expect(plus.isError(400, .badRequest) && plus.error?.message.hasPrefix("start:") == true, "\(plus)")
        let whole = rig.send("GET", "/rrd_updates", query: [("start", "0"), ("host", "true"), ("json", "")])
        let now = rig.send("GET", "/rrd_updates", query: [("start", "-0"), ("host", "true"), ("json", "")])
        #expect(whole.status == 200 && now.status == 200, "\(whole) \(now)")
        #expect(now.text.count < whole.text.count, "start=-0 served as much as start=0: \(now)")
    }

    @Test(arguments: ["\u{202E}", "\u{200B}", "\u{2066}", "\u{FEFF}", "\u{2028}"])
    func aHiddenCharacterInAPushedResourceOrHelpIs400(character: String) throws {
        let rig = try RouterRig()
        let hex = String(character.unicodeScalars.first!.value, radix: 16, uppercase: true)
        let code = "U+" + String(repeating: "0", count: 4 - hex.count) + hex
        let resource = rig.send("PUT", "/v1/statistics/app:ab\(character)c:level", body: #"{"value": 1}"#)
        #expect(resource.isError(400, .badRequest) && resource.error?.message.hasPrefix("resource: \(code) is not allowed") == true, "\(resource)")
        let help = rig.send("PUT", "/v1/statistics/app:abc:level", body: #"{"value": 1, "help": "x\#(character)y"}"#)
        #expect(help.isError(400, .badRequest) && help.error?.message.hasPrefix("help: \(code) is not allowed") == true, "\(help)")
        let fine = rig.send("PUT", "/v1/statistics/app:abc:level", body: #"{"value": 1, "help": "Grüße, 東京"}"#)
        #expect(fine.status == 200, "\(fine)")
    }
}
