import FoundationEssentials
import Monitoring
import ResmonAPI
import Statistics
import Storage

#if canImport(Glibc)
    import Glibc
#endif

/// `monitors.d/*.json` in the configuration directory: each file an object of entry name →
/// monitor spec. A monitor's id is `<file stem>.<entry name>`.
package enum MonitorFileReader {
    /// Every declared monitor, and a line for each file or entry that cannot be used.
    static func read(configDirectory: String) -> (monitors: [FileMonitor], problems: [String]) {
        let directory = configDirectory + "/monitors.d"
        guard let names = fileNames(in: directory, endingIn: ".json") else { return ([], []) }
        var monitors: [FileMonitor] = []
        var problems: [String] = []
        for name in names {
            let source = "monitors.d/" + name
            let stem = String(name.dropLast(".json".count))
            guard isName(stem) else {
                problems.append("\(source): a file name is letters, digits, '-', '_' or '.' before .json")
                continue
            }
            let bytes: [UInt8]
            do {
                guard let (read, info) = try ConfigurationFile.read(directory + "/" + name, source: source) else { continue }
                // Its monitors are root's: only root (or resmond's own user) may write the file.
                if let reason = ConfigurationFile.trustProblem(info) {
                    problems.append("\(source): \(reason)")
                    continue
                }
                bytes = read
            } catch {
                problems.append(error.description)
                continue
            }
            let (found, refused) = MonitorFileReader.monitors(bytes, stem: stem, source: source)
            monitors += found
            problems += refused
        }
        return (monitors, problems)
    }

    /// The monitors one file's bytes declare (`stem` its name before .json, checked), and a line
    /// for each entry that cannot be used: apart so that the fuzzer (FuzzTargets) feeds it bytes.
    package static func monitors(_ bytes: [UInt8], stem: String, source: String) -> (monitors: [FileMonitor], problems: [String]) {
        let root: JSONValue
        do {
            root = try StrictJSON.parse(bytes)
        } catch {
            return ([], ["\(source): not valid JSON: \(error)"])
        }
        guard case .object(let entries) = root else {
            return ([], ["\(source): expected a JSON object of entry name → monitor spec"])
        }
        var monitors: [FileMonitor] = []
        var problems: [String] = []
        for (entry, value) in entries.sorted(by: { $0.key < $1.key }) {
            let id = stem + "." + entry
            guard isName(entry), id.utf8.count <= 64 else {
                problems.append("\(source): entry \"\(entry)\": names are [A-Za-z0-9._-], and file + entry at most 63 characters")
                continue
            }
            do {
                let spec = try JSONDecoder().decode(MonitorSpec.self, from: try JSONEncoder().encode(value))
                if let given = spec.id, given != id {
                    problems.append("\(source): \(entry): the id is \(id) (from file and entry); leave \"id\" out")
                    continue
                }
                monitors.append(FileMonitor(id: id, spec: spec, source: source))
            } catch let error as MonitorSpec.UnknownField {
                problems.append("\(source): \(entry): \(error.description)")
            } catch {
                problems.append("\(source): \(entry): not a monitor spec (\(StrictJSON.describe(error)))")
            }
        }
        return (monitors, problems)
    }

    private static func isName(_ text: String) -> Bool {
        !text.isEmpty && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
    }

    /// On the first start (no marker in the state directory), writes DESIGN.md's default
    /// monitors into `monitors.d/defaults.json` unless that file exists. Removing the file later
    /// removes them for good: it is not written again.
    static func writeDefaultsOnFirstStart(configDirectory: String, stateDirectory: String) -> String? {
        let marker = stateDirectory + "/defaults-written"
        guard access(marker, F_OK) != 0 else { return nil }
        let directory = configDirectory + "/monitors.d"
        mkdir(configDirectory, 0o755)
        mkdir(directory, 0o755)
        let path = directory + "/defaults.json"
        var message: String?
        if access(path, F_OK) != 0 {
            do {
                try writeAtomically(Array(defaults.utf8), to: path)
                message = "wrote the default monitors to \(path)"
            } catch {
                return "cannot write the default monitors to \(path): \(error)"
            }
        }
        _ = try? writeAtomically(Array("monitors.d/defaults.json was written once; removing it removes the default monitors for good\n".utf8), to: marker)
        return message
    }

    /// DESIGN.md's defaults. The CPU and pressure monitors run at 5 s, so their samples mean
    /// the same time at any step up to 5 s.
    static let defaults = """
        {
          "cpu-busy": {"target": "cpu:total:usage_ratio", "condition": "above", "value": 0.9, "cancelValue": 0.8,
                       "monitoringRate": 5, "samples": 12, "precondition": "armed",
                       "annotations": {"summary": "the CPUs have been more than 90 % busy for a minute"}},
          "memory-low": {"target": "memory:host:used_ratio", "condition": "above", "value": 0.9, "cancelValue": 0.85,
                         "samples": 3, "severity": "err",
                         "annotations": {"summary": "less than 10 % of memory is available"}},
          "swap-busy": {"target": "memory:host:swap_used_ratio", "condition": "above", "value": 0.5, "samples": 6,
                        "annotations": {"summary": "more than half of swap is in use"}},
          "cpu-pressure": {"target": "pressure:cpu:some_avg60_ratio", "condition": "above", "value": 0.5,
                           "cancelValue": 0.3, "monitoringRate": 5, "samples": 12,
                           "annotations": {"summary": "tasks have waited for a CPU more than half the time for a minute (the load, normalised by the CPUs)"}},
          "fs-full": {"target": {"select": "^fs:.*:used_ratio$", "each": true}, "condition": "above", "value": 0.9,
                      "cancelValue": 0.85, "severity": "err",
                      "annotations": {"summary": "a file system is more than 90 % full (perfmon's fs_usage)"}},
          "cgroup-memory": {"target": {"select": "^cgroup:.*:memory_bytes$", "each": true}, "transform": "percent",
                            "condition": "above", "value": 90, "cancelValue": 85, "samples": 3,
                            "annotations": {"summary": "a control group uses more than 90 % of its memory limit"}}
        }

        """
}
