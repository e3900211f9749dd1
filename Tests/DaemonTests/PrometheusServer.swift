import Foundation
import HTTPClient
import ResmonTestSupport

/// The real Prometheus from Debian, on an address of the test's choosing, with the scrape
/// configuration and files (rules, file_sd targets) the test gives it.
final class PrometheusServer {
    let directory = TemporaryDirectory("resmon-prometheus")
    let address: String
    let process: SpawnedGroup

    /// `configuration` is prometheus.yml; `files` are written beside it (name → text).
    init(configuration: String, files: [String: String] = [:], host: String = "127.0.0.1") throws {
        address = host + ":" + String(try freePort())
        for (name, text) in files { try directory.write(name, text) }
        try directory.write("prometheus.yml", configuration)
        process = try SpawnedGroup(
            "/usr/bin/prometheus",
            [
                "--config.file=" + directory.file("prometheus.yml"), "--storage.tsdb.path=" + directory.file("data"),
                "--web.listen-address=" + address, "--log.level=warn"
            ])
    }

    deinit { process.stop() }

    struct Sample: Decodable {
        let metric: [String: String]
        let value: [Value]
        var number: Double? { value.count == 2 ? Double(value[1].text) : nil }
    }

    /// A JSON number or string, as `value: [time, "text"]` mixes them.
    struct Value: Decodable {
        let text: String
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) { self.text = text } else { text = String(try container.decode(Double.self)) }
        }
    }

    struct Alert: Decodable {
        let labels: [String: String]
        let annotations: [String: String]
        let state: String
    }

    private struct Answer<Body: Decodable>: Decodable {
        let status: String
        let data: Body
    }

    private struct Vector: Decodable { let result: [Sample] }
    private struct Alerts: Decodable { let alerts: [Alert] }

    /// An instant query's samples, nil while Prometheus does not answer.
    func query(_ expression: String) -> [Sample]? {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        guard let encoded = expression.addingPercentEncoding(withAllowedCharacters: allowed) else { return nil }
        return (get("/api/v1/query?query=" + encoded) as Answer<Vector>?)?.data.result
    }

    /// The alerts its rules hold (pending or firing), nil while it does not answer.
    func alerts() -> [Alert]? { (get("/api/v1/alerts") as Answer<Alerts>?)?.data.alerts }

    private func get<Body: Decodable>(_ path: String) -> Body? {
        guard let answer = try? HTTPClient.fetch("http://" + address + path, timeoutMilliseconds: 3000, maximumBytes: 8 << 20),
            answer.status == 200
        else { return nil }
        return try? JSONDecoder().decode(Body.self, from: Data(answer.body))
    }
}
