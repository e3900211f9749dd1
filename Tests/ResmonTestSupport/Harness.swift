import Foundation
import ResmonClient
import ResmonSystem
import Statistics
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A directory under /tmp removed when the value is released.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    public init(_ prefix: String = "resmon-test") {
        var template = Array("/tmp/\(prefix).XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = created.map { String(cString: $0) } ?? "/tmp/\(prefix).\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        if created == nil { mkdir(path, 0o755) }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    public func file(_ relative: String) -> String { path + "/" + relative }

    /// Writes `text` to a file inside, creating parent directories.
    public func write(_ relative: String, _ text: String) throws {
        let target = file(relative)
        try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: target, atomically: true, encoding: .utf8)
    }
}

/// What a finished program printed and how it ended.
public struct ProgramResult: Sendable {
    public let status: Int32
    public let output: String
    public let error: String
}

/// Locates the products of this package's build (resmond, resmon) next to the test bundle.
public enum Products {
    public static func path(_ name: String) -> String {
        // `make sanitize` runs the daemon tests against a resmond built with a sanitizer.
        if name == "resmond", let sanitized = ProcessInfo.processInfo.environment["RESMOND_UNDER_TEST"], !sanitized.isEmpty {
            return sanitized
        }
        let bundleDirectory = (CommandLine.arguments[0] as NSString).deletingLastPathComponent
        let candidates = [bundleDirectory + "/" + name] + ["debug", "release"].map { packageRoot() + "/.build/\($0)/" + name }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    public static func packageRoot() -> String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }

    /// Runs a program to completion (with a deadline) and collects its output.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        input: String? = nil, timeout: Double = 30
    ) throws -> ProgramResult {
        let standardInput = try Pipe(), output = try Pipe(), error = try Pipe()
        let process = try ChildProcess(
            executable, arguments, environment: environment,
            stdin: standardInput.read, stdout: output.write, stderr: error.write)
        standardInput.closeRead()
        output.closeWrite()
        error.closeWrite()
        if let input { _ = Array(input.utf8).withUnsafeBytes { write(standardInput.write, $0.baseAddress, $0.count) } }
        standardInput.closeWrite()
        // Drain the pipes while waiting, so a chatty program never blocks on a full pipe.
        let outputData = Mutex<Data>(), errorData = Mutex<Data>()
        let group = DispatchGroup()
        for (pipe, sink) in [(output, outputData), (error, errorData)] {
            group.enter()
            DispatchQueue.global().async {
                sink.set(pipe.readToEnd())
                group.leave()
            }
        }
        if process.waitForExit(timeout: timeout) == nil { process.stop() }
        _ = group.wait(timeout: .now() + 5)
        return ProgramResult(
            status: process.exitCode ?? -1,
            output: String(decoding: outputData.get(), as: UTF8.self),
            error: String(decoding: errorData.get(), as: UTF8.self))
    }

    /// Copies a program that a test will run. By cp, not in this process: a copy held open for
    /// writing here could be inherited by a child another test spawns at that moment, and
    /// running the copy would then fail with ETXTBSY ("Text file busy").
    public static func copyExecutable(_ source: String, to destination: String) throws {
        let copied = try run("/bin/cp", [source, destination])
        guard copied.status == 0 else { throw DaemonHarness.NotReady(description: "cp \(source): \(copied.error)") }
    }

    /// A pipe whose ends close when released; both are close-on-exec, so only the descriptor a
    /// child is given (as a standard stream) crosses into it.
    final class Pipe: @unchecked Sendable {
        private(set) var read: Int32
        private(set) var write: Int32

        init() throws {
            do {
                let ends = try FileDescriptor.pipe()
                (read, write) = (ends.read.rawValue, ends.write.rawValue)
            } catch {
                throw DaemonHarness.NotReady(description: "pipe: \(error)")
            }
        }

        deinit {
            closeRead()
            closeWrite()
        }

        func closeRead() {
            if read >= 0 { close(read) }
            read = -1
        }

        func closeWrite() {
            if write >= 0 { close(write) }
            write = -1
        }

        /// Everything until end of file.
        func readToEnd() -> Data {
            var data = Data()
            var chunk = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = Glibc.read(read, &chunk, chunk.count)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { return data }
                data.append(contentsOf: chunk[0..<count])
            }
        }
    }
}

/// A tiny lock-protected box for test plumbing.
public final class Mutex<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    public init(_ value: Value) { self.value = value }
    public convenience init() where Value == Data { self.init(Data()) }
    public func get() -> Value { lock.withLock { value } }
    public func set(_ newValue: Value) { lock.withLock { value = newValue } }
}

/// A real resmond on temporary directories and its own socket, stopped when released.
public final class DaemonHarness: @unchecked Sendable {
    public let directory: TemporaryDirectory
    public let process: ChildProcess
    public let client: ResmonClient
    private let log = Mutex<Data>()
    /// Whether the log's pipe has reached its end (resmond and whatever shared its stderr are gone).
    private let logEnded = Mutex<Bool>(false)
    private let logReader: FileHandle

    public var stateDirectory: String { directory.file("state") }
    public var configDirectory: String { directory.file("config") }
    public var socket: String { directory.file("state/resmond.sock") }

    /// Starts resmond and waits until it answers `/healthz`.
    /// - Parameters:
    ///   - arguments: extra flags (the state, config and socket flags are set already).
    ///   - configuration: the text of resmond.json, if any.
    ///   - defaultMonitors: let resmond write its default monitors on the first start (tests that
    ///     count events leave them out: an empty `monitors.d/defaults.json` is written instead).
    ///   - executable: another resmond binary than the build's (a private copy, say).
    public init(
        arguments: [String] = ["--listen", "none", "--step", "1"], configuration: String? = nil,
        environment: [String: String] = [:], directory: TemporaryDirectory = TemporaryDirectory("resmond"),
        waitUntilReady: Bool = true, defaultMonitors: Bool = false, executable: String? = nil
    ) throws {
        self.directory = directory
        if let configuration { try directory.write("config/resmond.json", configuration) }
        if !defaultMonitors && !FileManager.default.fileExists(atPath: directory.file("config/monitors.d/defaults.json")) {
            try directory.write("config/monitors.d/defaults.json", "{}\n")
        }
        try FileManager.default.createDirectory(atPath: directory.file("config"), withIntermediateDirectories: true)
        // A debug build on a machine busy with other tests is bigger and slower than the release
        // build the self-limits are set for, and a daemon refusing creates as busy would fail
        // tests about something else: unless a test sets limits itself, they are out of reach.
        let limits =
            configuration?.contains("\"limits\"") == true || arguments.contains("--cpu-limit") || arguments.contains("--memory-limit")
            ? [] : ["--cpu-limit", "1600", "--memory-limit", "4096"]
        let errors = try Products.Pipe()
        process = try ChildProcess(
            executable ?? Products.path("resmond"),
            ["--state-dir", directory.file("state"), "--config-dir", directory.file("config")] + limits + arguments,
            environment: environment, stderr: errors.write)
        errors.closeWrite()
        logReader = FileHandle(fileDescriptor: dup(errors.read), closeOnDealloc: true)
        client = ResmonClient(socketPath: directory.file("state/resmond.sock"), timeoutMilliseconds: 5000)
        let sink = log
        let ended = logEnded
        logReader.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty { ended.set(true) } else { sink.set(sink.get() + data) }
        }
        if waitUntilReady { try waitForHealth() }
    }

    deinit {
        process.stop()
        logReader.readabilityHandler = nil
        // A resmond built with a sanitizer (`make sanitize`) reports on standard error: each
        // report fails the test that started it.
        let log = stderr
        for marker in ["ERROR: AddressSanitizer", "WARNING: ThreadSanitizer", "ERROR: LeakSanitizer", "runtime error:"] {
            if let found = log.range(of: marker) {
                Issue.record("resmond's sanitizer reported: \(log[found.lowerBound...].prefix(4000))")
                break
            }
        }
    }

    public struct NotReady: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public func waitForHealth(timeout: Double = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let code = process.exitCode { throw NotReady(description: "resmond exited with \(code): \(stderr)") }
            if (try? client.health()) != nil { return }
            usleep(20_000)
        }
        throw NotReady(description: "resmond did not answer within \(timeout) s: \(stderr)")
    }

    /// What resmond wrote to standard error so far.
    public var stderr: String { String(decoding: log.get(), as: UTF8.self) }

    public func signal(_ number: Int32) { process.signal(number) }

    /// Waits for the process to exit: its exit code (128 + the signal when one ended it), or nil
    /// when it is still running at the deadline. Once it has exited, `stderr` holds all it wrote
    /// (up to 10 s more for the pipe's end: on a busy machine the reader thread lagged, and a test
    /// read the log of a resmond that had exited before its last words arrived).
    public func waitForExit(timeout: Double) -> Int32? {
        guard let code = process.waitForExit(timeout: timeout) else { return nil }
        _ = eventually(timeout: 10) { logEnded.get() }
        return code
    }

    /// Waits until resmond has completed `count` more sampling cycles than it had when called:
    /// what was asked of it before (a withdrawn rate, a pushed value) has taken effect.
    public func waitForCycles(_ count: Int = 2, timeout: Double = 60) throws {
        let start = try client.status().cycles
        guard eventually(timeout: timeout, { ((try? client.status().cycles) ?? 0) >= start + count }) else {
            throw NotReady(description: "resmond did not complete \(count) cycles within \(timeout) s: \(stderr)")
        }
    }

    /// Waits until `condition` holds, polling; false at the deadline.
    public func eventually(timeout: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
        try ResmonTestSupport.eventually(timeout: timeout, condition)
    }
}

/// A copy of a captured /proc and /sys tree that tests may change file by file.
public final class FixtureTree: @unchecked Sendable {
    public let directory = TemporaryDirectory("resmon-fixture")
    public var procRoot: String { directory.file("proc") }
    public var sysRoot: String { directory.file("sys") }

    /// Copies the fixture at `source` (a directory holding proc/ and sys/).
    public init(copying source: String) throws {
        for entry in try FileManager.default.contentsOfDirectory(atPath: source) {
            try FileManager.default.copyItem(atPath: source + "/" + entry, toPath: directory.file(entry))
        }
    }

    /// Rewrites a file in place (same inode), as the kernel does: collectors keep files open.
    public func write(_ relative: String, _ text: String) throws {
        let path = directory.file(relative)
        guard FileManager.default.fileExists(atPath: path), let handle = FileHandle(forWritingAtPath: path) else {
            return try directory.write(relative, text)
        }
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }

    public func read(_ relative: String) throws -> String { try String(contentsOfFile: directory.file(relative), encoding: .utf8) }

    public func remove(_ relative: String) throws { try FileManager.default.removeItem(atPath: directory.file(relative)) }
}

/// A helper program (stress-ng, Alertmanager, node_exporter …) started with a clean signal mask
/// in a session of its own, so that it and all its children can be killed at once, and are when
/// the test process dies. Foundation's Process hands children the test thread's blocked
/// signals, which stress-ng then never receives.
public typealias SpawnedGroup = ChildProcess

/// Waits until `condition` holds, polling every 20 ms; false at the deadline. Deadlines are
/// generous: on a machine busy with other work a step can take several times its length.
public func eventually(timeout: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(20_000)
    }
    return false
}
