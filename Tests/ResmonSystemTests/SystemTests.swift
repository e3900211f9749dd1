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

/// The one whole-file reader refuses what is not a regular file, before a byte is read and
/// without waiting: a FIFO's open would otherwise wait for a writer.
@Suite struct RegularFileTests {
    @Test func aFIFOADeviceOrADirectoryIsRefusedByNameWithoutWaiting() throws {
        let fifo = SystemTests.temporaryPath("fifo")
        defer { unlink(fifo) }
        #expect(mkfifo(fifo, 0o600) == 0)
        for (path, kind) in [(fifo, "a FIFO"), ("/dev/null", "a character device"), ("/tmp", "a directory")] {
            do {
                _ = try readFile(at: path, limit: 1 << 20)
                Issue.record("\(path) was read")
            } catch {
                #expect(error.description == "\(path) is \(kind), not a regular file: not read")
            }
        }
    }

    @Test func aSymbolicLinkIsFollowedUnlessToldNot() throws {
        let target = SystemTests.temporaryPath("target")
        let link = SystemTests.temporaryPath("link")
        defer {
            unlink(target)
            unlink(link)
        }
        let file = try FileDescriptor.open(target, O_WRONLY | O_CREAT | O_TRUNC, permissions: 0o600)
        try file.writeAll(Array("token".utf8))
        file.close()
        #expect(symlink(target, link) == 0)
        #expect(try readFile(at: link, limit: 100) == Array("token".utf8))
        #expect(throws: FileReadError.self) { try readFile(at: link, limit: 100, followingSymlinks: false) }
    }

    @Test func aSparseFileLargerThanTheLimitIsRefusedByItsSize() throws {
        let path = SystemTests.temporaryPath("sparse")
        defer { unlink(path) }
        let file = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, permissions: 0o600)
        #expect(ftruncate(file.rawValue, 300 << 20) == 0)
        file.close()
        do {
            _ = try readRegularFile(at: path, limit: 4 << 20)
            Issue.record("a 300 MiB file was read")
        } catch {
            #expect(error.description == "\(path) is larger than \(4 << 20) bytes")
        }
    }

    @Test func procFilesReportingSizeZeroAreReadWhole() throws {
        let bytes = try #require(try readFile(at: "/proc/self/stat", limit: 4096))
        #expect(!bytes.isEmpty)
    }
}
