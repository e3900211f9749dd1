import FoundationEssentials
import ResmonAPI

#if canImport(Glibc)
    import Glibc
    import ResmonSystem
#endif

/// One measured figure, as the output file holds it.
struct Figure: Encodable {
    let name: String
    let value: Double
    let unit: String
}

/// The figures measured so far: each printed as it comes, all written as JSON at the end. The
/// sections report into it, and the peers' ratios read figures earlier sections reported.
struct Results {
    private(set) var figures: [Figure] = []

    mutating func report(_ name: String, _ value: Double, _ unit: String) {
        figures.append(Figure(name: name, value: value, unit: unit))
        let rounded = (value * 1000).rounded() / 1000
        print("\(name): \(rounded) \(unit)")
    }

    /// The last value reported under `name`.
    func value(named name: String) -> Double? {
        figures.last(where: { $0.name == name })?.value
    }

    /// Writes the figures to `path` as a JSON array of `{"name","value","unit"}`.
    func write(to path: String) {
        let encoder = WireJSON.encoder(pretty: true)
        guard let data = try? encoder.encode(figures) else { return }
        let bytes = Array(data) + [0x0a]
        if let file = try? FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC) {
            try? file.writeAll(bytes)
            file.close()
            print("wrote \(path)")
        }
    }
}
