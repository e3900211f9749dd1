import Foundation
import ResmonTestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// The fleet test's hosts: network namespaces `resmon-test-<pid>-N`, each with a veth pair whose
/// outer end is on a bridge `rsbr<pid>` in the root namespace. The bridge has 10.213.S.1/24,
/// host N 10.213.S.(10+N) (S from the test's pid, the next free one if taken), so the hosts reach each other, and the root
/// namespace's Prometheus and Alertmanager reach them, and nothing else is routed. Needs root.
///
/// Whatever happens, the namespaces and links go: `remove()` (the test's `defer`, and `deinit`),
/// and at the start a sweep of those a test process that is gone left behind (killed before its
/// `defer` ran).
final class FleetNetwork {
    static let ip = "/usr/sbin/ip"
    let id = Int(getpid())
    let subnet: Int
    private(set) var namespaces: [String] = []
    var bridge: String { "rsbr\(id)" }
    var bridgeAddress: String { "10.213.\(subnet).1" }

    static var available: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: ip)
    }

    init(hosts: Int) throws {
        FleetNetwork.sweep()
        // From the pid, skipping a subnet another fleet (another test process) holds.
        let inUse = (try? Products.run(FleetNetwork.ip, ["-o", "addr", "show"]))?.output ?? ""
        let first = Int(getpid()) % 250
        subnet = (0..<250).map { (first + $0) % 250 + 1 }.first { !inUse.contains("10.213.\($0).") } ?? first + 1
        do {
            try run(["link", "add", bridge, "type", "bridge"])
            try run(["addr", "add", bridgeAddress + "/24", "dev", bridge])
            try run(["link", "set", bridge, "up"])
            for host in 1...hosts {
                let namespace = "resmon-test-\(id)-\(host)"
                try run(["netns", "add", namespace])
                namespaces.append(namespace)
                let outer = "rsv\(id)h\(host)", inner = "rsv\(id)n\(host)"
                try run(["link", "add", outer, "type", "veth", "peer", "name", inner])
                try run(["link", "set", outer, "master", bridge])
                try run(["link", "set", outer, "up"])
                try run(["link", "set", inner, "netns", namespace])
                try run(["-n", namespace, "addr", "add", address(of: host) + "/24", "dev", inner])
                try run(["-n", namespace, "link", "set", inner, "up"])
                try run(["-n", namespace, "link", "set", "lo", "up"])
            }
        } catch {
            remove()
            throw error
        }
    }

    deinit { remove() }

    /// Host N's address (1-based).
    func address(of host: Int) -> String { "10.213.\(subnet).\(10 + host)" }

    func namespace(of host: Int) -> String { namespaces[host - 1] }

    /// A program that runs resmond inside host N's namespace (`ip netns exec` execs it: the
    /// pid the harness holds is resmond's).
    func resmond(for host: Int, in directory: TemporaryDirectory) throws -> String {
        let path = directory.file("resmond-in-\(namespace(of: host)).sh")
        try directory.write(
            "resmond-in-\(namespace(of: host)).sh",
            "#!/bin/sh\nexec \(FleetNetwork.ip) netns exec \(namespace(of: host)) \(Products.path("resmond")) \"$@\"\n")
        chmod(path, 0o755)
        return path
    }

    /// Deletes the namespaces (their veth ends, and so the pairs, go with them) and the bridge.
    func remove() {
        for namespace in namespaces { _ = try? Products.run(FleetNetwork.ip, ["netns", "delete", namespace]) }
        namespaces = []
        for host in 1...9 { _ = try? Products.run(FleetNetwork.ip, ["link", "delete", "rsv\(id)h\(host)"]) }
        _ = try? Products.run(FleetNetwork.ip, ["link", "delete", bridge])
    }

    /// Removes the namespaces and links of fleet tests whose process is gone.
    static func sweep() {
        let gone = { (pid: Int) in pid != Int(getpid()) && kill(pid_t(pid), 0) != 0 && errno == ESRCH }
        let namespaces = (try? Products.run(ip, ["netns", "list"]))?.output ?? ""
        for line in namespaces.split(separator: "\n") {
            let name = String(line.split(separator: " ").first ?? "")
            let parts = name.split(separator: "-")
            guard name.hasPrefix("resmon-test-"), parts.count == 4, let pid = Int(parts[2]), gone(pid) else { continue }
            _ = try? Products.run(ip, ["netns", "delete", name])
        }
        let links = (try? Products.run(ip, ["-o", "link", "show"]))?.output ?? ""
        for line in links.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 1 else { continue }
            let name = String(fields[1].split(separator: "@").first ?? "").replacing(":", with: "")
            for prefix in ["rsbr", "rsv"] where name.hasPrefix(prefix) {
                let digits = name.dropFirst(prefix.count).prefix { $0.isNumber }
                if let pid = Int(digits), gone(pid) { _ = try? Products.run(ip, ["link", "delete", name]) }
            }
        }
    }

    private func run(_ arguments: [String]) throws {
        let result = try Products.run(FleetNetwork.ip, arguments)
        guard result.status == 0 else {
            throw DaemonHarness.NotReady(description: "ip \(arguments.joined(separator: " ")): \(result.error)")
        }
    }
}
