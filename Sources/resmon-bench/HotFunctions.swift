// `resmon-bench --hot-functions FILE` (`make hot-functions`): the functions a running resmond
// executes, for the linker to place side by side (Sources/resmond/hot-functions.txt, read by
// lld's --symbol-ordering-file).
//
// The kernel maps a binary's code in 64 KiB fault-around blocks, so a daemon that runs a few
// hundred kilobytes of functions scattered over 10 MB of text keeps megabytes of it resident.
// Placed together, they take a few blocks. The list comes from callgrind: resmond runs under it
// past start-up, the counters are zeroed, and then it samples, archives, evaluates, raises and
// answers the API for a while; every function of resmond's binary with a cost in that window is
// listed, costliest first. Start-up code is left out on purpose: resmond gives its pages back
// (StartupPages). Names the code no longer has are ignored by the linker, so a stale list only
// places less well; regenerate it after large changes. The profile's parser is in BenchSupport
// (CallgrindProfile.swift), where DaemonTests checks it.
import BenchSupport
import FoundationEssentials
import ResmonAPI
import ResmonClient
import ResmonSystem
import Statistics
import Storage

#if canImport(Glibc)
    import Glibc
#endif

enum HotFunctions {
    /// Writes the list to `output` for the resmond binary at `resmond`; exits 1 on failure.
    static func run(writingTo output: String, resmond: String) {
        let root = "/tmp/resmon-hot-\(getpid())"
        mkdir(root, 0o755)
        defer { _ = Glibc.system("rm -rf '\(root)'") }
        // valgrind refuses the static binary's DWARF; the symbol table is all the list needs.
        let binary = root + "/resmond"
        guard Glibc.system("cp '\(resmond)' '\(binary)' && strip -g '\(binary)'") == 0 else {
            print("hot functions: cannot copy and strip \(resmond)")
            exit(1)
        }
        mkdir(root + "/config", 0o755)
        let port = freeTCPPort()
        let profile = root + "/callgrind.out"
        guard
            let pid = spawn(
                "/usr/bin/valgrind",
                [
                    "--tool=callgrind", "--demangle=no", "--callgrind-out-file=" + profile,
                    binary, "--state-dir", root, "--config-dir", root + "/config",
                    "--listen", "127.0.0.1:\(port)", "--step", "1"
                ])
        else {
            print("hot functions: cannot start valgrind (make hot-functions installs it)")
            exit(1)
        }
        defer {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        let client = ResmonClient(socketPath: root + "/resmond.sock", timeoutMilliseconds: 30_000)
        var ready = false
        for _ in 0..<600 where !ready {
            ready = (try? client.health()) != nil
            usleep(100_000)
        }
        guard ready else {
            print("hot functions: resmond did not answer under valgrind within 60 s")
            exit(1)
        }
        // Past start-up and the first self-monitoring period (its release of start-up pages).
        sleep(20)
        guard Glibc.system("callgrind_control -z \(pid) >/dev/null 2>&1") == 0 else {
            print("hot functions: callgrind_control cannot reach valgrind (pid \(pid))")
            exit(1)
        }
        // 70 s: every periodic path (processes every 5 s, the history snapshot every 60 s, self
        // monitoring every 15 s) and what consumers do most: scrape, read, create, raise, cancel.
        let start = Clock.monotonic()
        var round = 0
        while Clock.monotonic() - start < 70 {
            round += 1
            _ = fetchLength("http://127.0.0.1:\(port)/metrics")
            _ = try? client.status()
            _ = try? client.statistics(matching: "^cpu:")
            _ = try? client.history("load:host:load1")
            _ = try? client.push("app:hot:level", value: Double(round % 2 == 0 ? 10 : 90))
            if round == 1 {
                var spec = MonitorSpec(target: "app:hot:level", condition: .above, value: 50)
                spec.id = "hot"
                _ = try? client.createMonitors([spec])
            }
            _ = try? client.monitors()
            _ = try? client.events(limit: 10)
            sleep(3)
        }
        guard Glibc.system("callgrind_control -d \(pid) >/dev/null 2>&1") == 0 else {
            print("hot functions: the profile was not dumped")
            exit(1)
        }
        usleep(500_000)
        guard let dump = (try? readWholeFile(profile + ".1")) ?? nil else {
            print("hot functions: no profile at \(profile).1")
            exit(1)
        }
        let hot = hotFunctions(inCallgrindProfile: String(decoding: dump, as: UTF8.self), object: binary)
        // A function that shares its object's `.text` with the rest of that object moves all of it:
        // those go last, after the functions that move alone.
        let shared = functionsInSharedSections()
        let names = hot.filter { !shared.contains($0) } + hot.filter { shared.contains($0) }
        let text =
            "# The functions a running resmond executes, costliest first: `make hot-functions`\n"
            + "# (Sources/resmon-bench/HotFunctions.swift) regenerates this list for lld's --symbol-ordering-file.\n"
            + names.joined(separator: "\n") + "\n"
        writeFile(output, text)
        print(
            "hot functions: \(names.count) functions written to \(output), \(names.count - hot.filter { shared.contains($0) }.count) in sections of their own")
    }

    /// Functions of the Swift toolchain's static libraries that live in a `.text` section with
    /// others (objects built without function sections, and the parts of the standard library
    /// that were), read from `readelf -sSW` over every archive.
    private static func functionsInSharedSections() -> Set<String> {
        guard let directory = swiftStaticLibraries(), let entries = try? FileManager.default.contentsOfDirectory(atPath: directory)
        else { return [] }
        var shared: Set<String> = []
        for entry in entries where entry.hasSuffix(".a") {
            let output = standardOutput(of: "readelf -sSW '\(directory)/\(entry)' 2>/dev/null")
            var sections: [Int: Substring] = [:]
            for line in output.split(separator: "\n") {
                if line.hasPrefix("File: ") {
                    sections = [:]
                } else if line.hasPrefix("  ["), let close = line.firstIndex(of: "]") {
                    let number = line[line.index(line.startIndex, offsetBy: 3)..<close].filter { $0 != " " }
                    if let index = Int(number), let name = line[line.index(after: close)...].split(separator: " ").first {
                        sections[index] = name
                    }
                } else {
                    // "   Num:    Value          Size Type    Bind   Vis      Ndx Name"
                    let fields = line.split(separator: " ")
                    guard fields.count == 8, fields[3] == "FUNC", let index = Int(fields[6]), sections[index] == ".text" else { continue }
                    shared.insert(String(fields[7]))
                }
            }
        }
        return shared
    }

    /// The static libraries of the `swift` on PATH: its toolchain's lib/swift_static/linux.
    private static func swiftStaticLibraries() -> String? {
        for directory in (getenv("PATH").map { String(cString: $0) } ?? "").split(separator: ":") {
            var resolved = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            guard realpath("\(directory)/swift", &resolved) != nil else { continue }
            let binary = String(decoding: resolved.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let root = binary.split(separator: "/").dropLast(2).joined(separator: "/")
            return "/\(root)/lib/swift_static/linux"
        }
        return nil
    }

    /// A shell command's standard output.
    private static func standardOutput(of command: String) -> String {
        guard let pipe = popen(command, "r") else { return "" }
        defer { pclose(pipe) }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = fread(&buffer, 1, buffer.count, pipe)
            if count <= 0 { break }
            output += buffer[0..<count]
        }
        return String(decoding: output, as: UTF8.self)
    }
}
