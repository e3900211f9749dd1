import Monitoring
import ResmonDaemon
import Statistics

/// resmond's configuration files: the first byte chooses which, the rest is the file.
/// `resmond.json` is applied to the defaults; a `monitors.d` file is read into monitors and
/// each validated as a reload validates it (`MonitorEngine.prepare`, nothing stored); a
/// `subsystems.d` file is read into a plug-in, whose archive patterns are then matched.
public func fuzzConfiguration(_ data: [UInt8]) {
    var cursor = InputCursor(data)
    let file = cursor.rest
    switch cursor.choice(3) {
    case 0:
        var configuration = DaemonConfiguration(stateDirectory: Scratch.directory, configDirectory: Scratch.directory)
        try? ConfigurationFile.apply(file, source: "resmond.json", to: &configuration)
    case 1:
        let (monitors, _) = MonitorFileReader.monitors(file, stem: "fuzz", source: "monitors.d/fuzz.json")
        guard !monitors.isEmpty, monitors.count <= 100, let engine = RequestRig.shared?.engine else { return }
        _ = engine.prepare(files: monitors, now: 1_800_000_000)
    default:
        guard let plugin = try? PluginRegistry.plugin(file, name: "fuzz", source: "subsystems.d/fuzz.json", step: 5) else { return }
        for statistic in ["node_load1", "node_cpu_seconds_total", "", "x_y_z"] { _ = plugin.archives(statistic) }
    }
}
