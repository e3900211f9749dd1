import ResmonAPI
import ResmonClient

extension Command {
    static let reload = Command(
        name: "reload", synopsis: "reload [--json]",
        summary: "re-read resmond.json, subsystems.d and monitors.d (root), and say what changed",
        details:
            "Has resmond re-read resmond.json, subsystems.d and monitors.d (as SIGHUP does, but only this resmond,\nand only for root) and prints what the reload changed: plug-ins added or removed, files it could not\nuse, keys that take effect only at the next start. A bad resmond.json is refused with its error (exit\n1), and the running configuration is kept."
    ) { client, invocation in
        let done = try client.reload()
        if invocation.json { return CLI.printJSON(done) }
        print("reloaded \(done.configFile)")
        for message in done.messages { print("  " + message) }
        if !done.restartRequired.isEmpty {
            print("  changed, but applied only at the next start: " + done.restartRequired.joined(separator: ", "))
        }
    }
}
