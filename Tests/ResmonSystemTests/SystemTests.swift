import ResmonSystem
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct SystemTests {
    static func temporaryPath(_ name: String) -> String { "/tmp/resmon-system-\(getpid())-\(name)" }

    @Test func anErrnoSaysWhatTheSystemSays() {
        #expect(Errno.noSuchFileOrDirectory.description == "No such file or directory")
        #expect(Errno(rawValue: ENOENT) == .noSuchFileOrDirectory)
        #expect(Errno.permissionDenied.rawValue == EACCES)
    }

    @Test func aFileWrittenWholeIsReadWholeAndBounded() throws {
        let path = Self.temporaryPath("whole")
        defer { unlink(path) }
        let bytes = (0..<200_000).map { UInt8($0 % 251) }
        let file = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, permissions: 0o600)
        try file.writeAll(bytes)
        try file.synchronize()
        file.close()
        #expect(try readFile(at: path, limit: 1 << 20) == bytes)
        #expect(throws: FileReadError.self) { try readFile(at: path, limit: 1000) }
        do {
            _ = try readFile(at: path, limit: 1000)
        } catch {
            #expect(error.description == "\(path) is larger than 1000 bytes")
        }
        #expect(try readFile(at: Self.temporaryPath("absent"), limit: 10) == nil)
        do {
            _ = try readFile(at: "/proc/1/mem", limit: 10)
        } catch {
            #expect(error.description.hasPrefix("cannot read /proc/1/mem: "))
        }
    }

    @Test func preadReadsAtTheOffsetAsked() throws {
        let path = Self.temporaryPath("pread")
        defer { unlink(path) }
        let file = try FileDescriptor.open(path, O_RDWR | O_CREAT | O_TRUNC, permissions: 0o600)
        defer { file.close() }
        try file.writeAll(Array("0123456789".utf8))
        var buffer = [UInt8](repeating: 0, count: 8)
        let count = try file.read(into: &buffer, at: 2, count: 4, fromAbsoluteOffset: 6)
        #expect(count == 4 && buffer == [0, 0] + Array("6789".utf8) + [0, 0])
        #expect(throws: Errno.noSuchFileOrDirectory) { try FileDescriptor.open(Self.temporaryPath("none"), O_RDONLY) }
    }
}
