import Foundation
import ResmonClient
import Statistics
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
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                           input: String? = nil, timeout: Double = 30) throws -> ProgramResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe(), error = Pipe(), standardInput = Pipe()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = standardInput
        try process.run()
        if let input { standardInput.fileHandleForWriting.write(Data(input.utf8)) }
        try? standardInput.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(timeout)
        // Drain the pipes while waiting, so a chatty program never blocks on a full pipe.
        let outputData = Mutex<Data>(), errorData = Mutex<Data>()
        let group = DispatchGroup()
        for (pipe, sink) in [(output, outputData), (error, errorData)] {
            group.enter()
            DispatchQueue.global().async {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                sink.set(data)
                group.leave()
            }
        }
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        _ = group.wait(timeout: .now() + 5)
        return ProgramResult(status: process.terminationStatus,
                             output: String(decoding: outputData.get(), as: UTF8.self),
                             error: String(decoding: errorData.get(), as: UTF8.self))
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
    public let process: Process
    public let client: ResmonClient
    private let errorPipe = Pipe()
    private let log = Mutex<Data>()

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
    public init(arguments: [String] = ["--listen", "none", "--step", "1"], configuration: String? = nil,
                environment: [String: String] = [:], directory: TemporaryDirectory = TemporaryDirectory("resmond"),
                waitUntilReady: Bool = true, defaultMonitors: Bool = false, executable: String? = nil) throws {
        self.directory = directory
        if let configuration { try directory.write("config/resmond.json", configuration) }
        if !defaultMonitors && !FileManager.default.fileExists(atPath: directory.file("config/monitors.d/defaults.json")) {
            try directory.write("config/monitors.d/defaults.json", "{}\n")
        }
        try FileManager.default.createDirectory(atPath: directory.file("config"), withIntermediateDirectories: true)
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable ?? Products.path("resmond"))
        process.arguments = ["--state-dir", directory.file("state"), "--config-dir", directory.file("config")] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardError = errorPipe
        process.standardOutput = FileHandle.nullDevice
        client = ResmonClient(socketPath: directory.file("state/resmond.sock"), timeoutMilliseconds: 5000)
        let sink = log
        errorPipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if !data.isEmpty { sink.set(sink.get() + data) }
        }
        try process.run()
        if waitUntilReady { try waitForHealth() }
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        errorPipe.fileHandleForReading.readabilityHandler = nil
    }

    public struct NotReady: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    public func waitForHealth(timeout: Double = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if !process.isRunning { throw NotReady(description: "resmond exited with \(process.terminationStatus): \(stderr)") }
            if (try? client.health()) != nil { return }
            usleep(20_000)
        }
        throw NotReady(description: "resmond did not answer within \(timeout) s: \(stderr)")
    }

    /// What resmond wrote to standard error so far.
    public var stderr: String { String(decoding: log.get(), as: UTF8.self) }

    public func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// Waits for the process to exit; nil when it is still running at the deadline.
    public func waitForExit(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(5_000) }
        if process.isRunning { return nil }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Waits until `condition` holds, polling; false at the deadline.
    public func eventually(timeout: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            usleep(20_000)
        }
        return false
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

/// A helper program (stress-ng …) started with a clean signal mask in its own process group,
/// so that it and all its children can be killed at once. Foundation's Process hands children
/// the test thread's blocked signals, which stress-ng then never receives.
public final class SpawnedGroup: @unchecked Sendable {
    public let pid: pid_t

    public init(_ executable: String, _ arguments: [String]) throws {
        pid = try ProcessGroup.spawn([executable] + arguments,
                                     environment: ProcessInfo.processInfo.environment.map { $0.key + "=" + $0.value })
    }

    /// Kills the whole group and reaps the leader.
    public func stop() {
        ProcessGroup.kill(pid)
    }

    deinit { stop() }
}
