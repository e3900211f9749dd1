import Foundation
import ResmonTestSupport
import Testing

private let systemdAnalyze = "/usr/bin/systemd-analyze"
private let hasSystemdAnalyze = FileManager.default.isExecutableFile(atPath: systemdAnalyze)

/// dist/systemd/resmond.service and dist/sysusers.d/resmon.conf, checked by systemd's own tools
/// (Debian's systemd package, in make test's TEST_PACKAGES).
@Suite struct SystemdUnitTests {
    let root = Products.packageRoot()
    var unit: String { root + "/dist/systemd/resmond.service" }

    /// The unit with ExecStart on the build's resmond (verify wants the program to exist).
    private func builtUnit(in directory: TemporaryDirectory) throws -> String {
        let text = try String(contentsOfFile: unit, encoding: .utf8)
        #expect(text.contains("ExecStart=/usr/sbin/resmond "))
        try directory.write("resmond.service", text.replacingOccurrences(of: "ExecStart=/usr/sbin/resmond ", with: "ExecStart=\(Products.path("resmond")) "))
        return directory.file("resmond.service")
    }

    @Test(.enabled(if: hasSystemdAnalyze, "systemd-analyze is missing (Debian's systemd package)"))
    func theUnitVerifies() throws {
        let directory = TemporaryDirectory("resmon-unit")
        // The man pages are checked where they are made; here the unit's own keys and programs.
        let verified = try Products.run(systemdAnalyze, ["verify", "--man=no", try builtUnit(in: directory)])
        #expect(verified.status == 0, "\(verified.output)\(verified.error)")
        #expect(verified.error.isEmpty, "\(verified.error)")
    }

    @Test(.enabled(if: hasSystemdAnalyze, "systemd-analyze is missing (Debian's systemd package)"))
    func theUnitIsHardenedToAnExposureOfThreeOrLess() throws {
        let security = try Products.run(systemdAnalyze, ["security", "--offline=true", unit])
        let line = try #require(
            (security.output + security.error).split(separator: "\n").first { $0.contains("Overall exposure level for resmond.service:") },
            "\(security.output)\(security.error)")
        let score = try #require(line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) }, "\(line)")
        #expect(score <= 3.0, "\(security.output)")
    }

    @Test func theUnitAsksForWhatResmondDoes() throws {
        let text = try String(contentsOfFile: unit, encoding: .utf8)
        for line in [
            "Type=notify", "WatchdogSec=60s", "StateDirectory=resmon", "ConfigurationDirectory=resmon", "User=resmon",
            "ExecReload=/bin/kill -HUP $MAINPID", "AmbientCapabilities=CAP_DAC_READ_SEARCH CAP_SYS_PTRACE",
            "CapabilityBoundingSet=CAP_DAC_READ_SEARCH CAP_SYS_PTRACE"
        ] {
            #expect(text.split(separator: "\n").contains { $0 == line }, "\(line)")
        }
        // ExecStart's flags are resmond's: it accepts them.
        let directory = TemporaryDirectory("resmon-unit-flags")
        let start = try #require(text.split(separator: "\n").first { $0.hasPrefix("ExecStart=") })
        let flags = start.split(separator: " ").dropFirst().map(String.init)
        #expect(flags == ["--state-dir", "/var/lib/resmon", "--config-dir", "/etc/resmon"])
        let checked = try Products.run(
            Products.path("resmond"),
            ["--state-dir", directory.file("state"), "--config-dir", directory.file("config"), "--check-config"])
        #expect(checked.status == 0, "\(checked.error)")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-sysusers"), "systemd-sysusers is missing"))
    func sysusersMakesTheUserAndGroup() throws {
        let directory = TemporaryDirectory("resmon-sysusers")
        try directory.write("etc/.keep", "")
        let made = try Products.run("/usr/bin/systemd-sysusers", ["--root=\(directory.path)", root + "/dist/sysusers.d/resmon.conf"])
        #expect(made.status == 0, "\(made.error)")
        let passwd = try String(contentsOfFile: directory.file("etc/passwd"), encoding: .utf8)
        let group = try String(contentsOfFile: directory.file("etc/group"), encoding: .utf8)
        #expect(passwd.hasPrefix("resmon:x:") && passwd.contains(":/var/lib/resmon:"), "\(passwd)")
        #expect(group.hasPrefix("resmon:x:"), "\(group)")
    }
}
