import Foundation
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The .deb that `make deb` built (RESMON_DEB, set by `make test-deb`): lintian finds no error
/// in it, and dist/test-deb.sh installs it into a Debian 12 root, runs resmond there as the
/// unit does with `resmon status` asking, purges it and finds nothing of it left.
@Suite struct DebianPackageTests {
    static let package = ProcessInfo.processInfo.environment["RESMON_DEB"]

    @Test(.enabled(if: package != nil, "no RESMON_DEB: make test-deb builds the package and runs this"))
    func lintianFindsNoError() throws {
        let package = try #require(Self.package)
        let checked = try Products.run("/usr/bin/lintian", ["--fail-on", "error", package], timeout: 600)
        print(checked.output + checked.error)
        #expect(checked.status == 0, "\(checked.output)\(checked.error)")
        #expect(!checked.output.split(separator: "\n").contains { $0.hasPrefix("E: ") }, "\(checked.output)")
    }

    @Test(.enabled(if: package != nil && geteuid() == 0, "needs RESMON_DEB (make test-deb) and root (chroot, mount)"))
    func thePackageInstallsRunsAndPurgesInADebian12Root() throws {
        let package = try #require(Self.package)
        let started = Date()
        let run = try Products.run("/bin/sh", [Products.packageRoot() + "/dist/test-deb.sh", package], timeout: 1800)
        print(run.output + run.error)
        print("the Debian package test took \(Int(Date().timeIntervalSince(started))) s")
        #expect(run.status == 0, "\(run.output)\(run.error)")
        #expect(run.output.contains("nothing of resmon left"), "\(run.output)")
    }
}
