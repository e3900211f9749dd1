import Foundation
import ResmonSystem
import ResmonTestSupport
import Testing

@testable import ResmonDaemon

#if canImport(Glibc)
    import Glibc
#endif

/// "DEVICE:INODE" of a descriptor, as systemd puts it in `JOURNAL_STREAM`.
private func journalStream(of descriptor: Int32) -> String {
    var info = stat()
    _ = fstat(descriptor, &info)
    return "\(info.st_dev):\(info.st_ino)"
}

/// Everything until end of file on a pipe's read end.
private func readToEnd(_ descriptor: FileDescriptor) -> String {
    var text: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while let count = try? descriptor.read(into: &chunk, count: chunk.count), count > 0 { text += chunk[0..<count] }
    return String(decoding: text, as: UTF8.self)
}

/// resmond's log lines carry their syslog priority when standard error is the journal, so that
/// `journalctl -p warning` finds its warnings; anywhere else they read as before.
@Suite struct JournalLogTests {
    @Test func theStreamCountsOnlyWhenItIsStandardError() throws {
        let pipe = try FileDescriptor.pipe()
        defer {
            pipe.read.close()
            pipe.write.close()
        }
        let stream = journalStream(of: pipe.write.rawValue)
        #expect(JournalStream.matches(stream, descriptor: pipe.write.rawValue))
        #expect(!JournalStream.matches(nil, descriptor: pipe.write.rawValue))
        #expect(!JournalStream.matches("", descriptor: pipe.write.rawValue))
        #expect(!JournalStream.matches("12", descriptor: pipe.write.rawValue))
        #expect(!JournalStream.matches(stream + ":1", descriptor: pipe.write.rawValue))
        #expect(!JournalStream.matches("x:y", descriptor: pipe.write.rawValue))
        // A child that redirected standard error elsewhere inherits the variable: not the journal.
        let other = try FileDescriptor.pipe()
        defer {
            other.read.close()
            other.write.close()
        }
        #expect(!JournalStream.matches(stream, descriptor: other.write.rawValue))
        #expect(!JournalStream.matches(stream, descriptor: 999))
    }

    @Test func aLineStartsWithItsPriorityOnlyForTheJournal() {
        #expect(Log.line(.error, "error: ", "disk", journal: true) == "<3>resmond: error: disk\n")
        #expect(Log.line(.warning, "warning: ", "disk", journal: true) == "<4>resmond: warning: disk\n")
        #expect(Log.line(.info, "", "started", journal: true) == "<6>resmond: started\n")
        #expect(Log.line(.warning, "warning: ", "disk", journal: false) == "resmond: warning: disk\n")
    }

    /// Runs resmond for two cycles with a plug-in file it warns about; its standard error.
    private func log(journal: Bool) throws -> String {
        let directory = TemporaryDirectory("resmond-journal")
        try directory.write("config/monitors.d/defaults.json", "{}\n")
        try directory.write("config/subsystems.d/broken.json", "{")
        let pipe = try FileDescriptor.pipe()
        defer { pipe.read.close() }
        var environment = ["JOURNAL_STREAM": ""]
        if journal { environment["JOURNAL_STREAM"] = journalStream(of: pipe.write.rawValue) }
        let daemon = try ChildProcess(
            Products.path("resmond"),
            [
                "--state-dir", directory.file("state"), "--config-dir", directory.file("config"), "--listen", "none",
                "--step", "1", "--cycles", "2", "--cpu-limit", "1600", "--memory-limit", "4096"
            ],
            environment: environment, stderr: pipe.write.rawValue)
        pipe.write.close()
        let exit = daemon.waitForExit(timeout: 120)
        #expect(exit == 0)
        return readToEnd(pipe.read)
    }

    @Test func resmondPrefixesItsLinesWhenStandardErrorIsTheJournal() throws {
        let lines = try log(journal: true).split(separator: "\n")
        try #require(!lines.isEmpty)
        #expect(lines.allSatisfy { $0.hasPrefix("<") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("<4>resmond: warning: ") && $0.contains("broken.json") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("<6>resmond: resmond ") && $0.contains("serving") }, "\(lines)")
    }

    @Test func resmondWritesPlainLinesElsewhere() throws {
        let lines = try log(journal: false).split(separator: "\n")
        try #require(!lines.isEmpty)
        #expect(lines.allSatisfy { $0.hasPrefix("resmond: ") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("resmond: warning: ") && $0.contains("broken.json") }, "\(lines)")
    }
}
