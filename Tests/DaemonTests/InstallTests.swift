import Foundation
import ResmonTestSupport
import Testing

/// `make install` (dist/install.sh) into a DESTDIR, then `make uninstall`: the tree of
/// docs/INSTALL.md, and nothing of it left after.
@Suite struct InstallTests {
    let root = Products.packageRoot()

    /// Every file and link under `directory`, relative to it.
    private func files(under directory: String) -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: directory)
        var found: [String] = []
        while let path = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: directory + "/" + path, isDirectory: &isDirectory), isDirectory.boolValue { continue }
            found.append(path)
        }
        return found.sorted()
    }

    private func install(_ destination: String, prefix: String, uninstall: Bool = false) throws -> ProgramResult {
        try Products.run(
            "/bin/sh", [root + "/dist/install.sh"] + (uninstall ? ["--uninstall"] : []),
            environment: [
                "DESTDIR": destination, "PREFIX": prefix,
                "BUILD": (Products.path("resmond") as NSString).deletingLastPathComponent, "LIB_DIR": root + "/.build/lib"
            ], timeout: 120)
    }

    @Test(arguments: ["/usr/local", "/usr"])
    func installLaysOutTheTreeAndUninstallRemovesExactlyIt(prefix: String) throws {
        let directory = TemporaryDirectory("resmon-install")
        let destination = directory.file("root")
        // With /usr/local, another package's file in a directory make install uses: it stays.
        // With /usr, DESTDIR does not exist yet: install makes it, uninstall leaves it empty.
        let other = prefix == "/usr/local" ? ["\(String(prefix.dropFirst()))/share/man/man1/other.1"] : []
        for path in other { try directory.write("root/" + path, ".TH OTHER 1\n") }
        let installed = try install(destination, prefix: prefix)
        try #require(installed.status == 0, "\(installed.output)\(installed.error)")
        let tree = Set(files(under: destination))
        let relative = String(prefix.dropFirst())
        var expected = [
            "sbin/resmond", "bin/resmon", "lib/systemd/system/resmond.service", "lib/sysusers.d/resmon.conf",
            "share/doc/resmon/examples/plugins/exec-queue-depth.sh", "share/doc/resmon/examples/plugins/queue.json",
            "share/doc/resmon/examples/c/eventing.c", "share/doc/resmon/examples/perfmon.xml"
        ].map { relative + "/" + $0 }
        expected += ["etc/resmon/monitors.d/defaults.json"]
        let library = FileManager.default.fileExists(atPath: root + "/.build/lib/libresmon.so.1")
        if library {
            expected += [
                "lib/libresmon.so.1", "lib/libresmon.so", "lib/libresmon.a", "lib/pkgconfig/resmon.pc", "include/resmon.h",
                "include/resmon.hpp", "share/man/man3/resmon.3"
            ].map { relative + "/" + $0 }
        }
        for page in files(under: root + "/dist/man") where page.last?.isNumber == true {
            expected.append("\(relative)/share/man/man\(page.last!)/\(page)")
        }
        for (file, installedAs) in [
            ("resmon.bash", "share/bash-completion/completions/resmon"), ("_resmon", "share/zsh/site-functions/_resmon"),
            ("resmon.fish", "share/fish/vendor_completions.d/resmon.fish")
        ] where FileManager.default.fileExists(atPath: root + "/dist/completion/" + file) {
            expected.append(relative + "/" + installedAs)
        }
        for path in expected { #expect(tree.contains(path), "\(path) missing from \(tree.sorted())") }

        #expect(FileManager.default.isExecutableFile(atPath: "\(destination)\(prefix)/sbin/resmond"))
        #expect(FileManager.default.isExecutableFile(atPath: "\(destination)\(prefix)/share/doc/resmon/examples/plugins/exec-queue-depth.sh"))
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: destination + "/etc/resmon/subsystems.d", isDirectory: &isDirectory) && isDirectory.boolValue)
        let unit = try String(contentsOfFile: "\(destination)\(prefix)/lib/systemd/system/resmond.service", encoding: .utf8)
        #expect(unit.contains("ExecStart=\(prefix)/sbin/resmond --state-dir /var/lib/resmon --config-dir /etc/resmon\n"))
        let defaults = try Data(contentsOf: URL(fileURLWithPath: destination + "/etc/resmon/monitors.d/defaults.json"))
        let monitors = try #require(try JSONSerialization.jsonObject(with: defaults) as? [String: Any])
        #expect(monitors["cpu-busy"] != nil, "the default monitors resmond writes")
        if library {
            let pc = try String(contentsOfFile: "\(destination)\(prefix)/lib/pkgconfig/resmon.pc", encoding: .utf8)
            #expect(pc.contains("libdir=\(prefix)/lib\n") && pc.contains("includedir=\(prefix)/include\n"), "\(pc)")
            let link = try FileManager.default.destinationOfSymbolicLink(atPath: "\(destination)\(prefix)/lib/libresmon.so")
            #expect(link == "libresmon.so.1")
        }
        let help = try Products.run("\(destination)\(prefix)/bin/resmon", ["--help"])
        #expect(help.status == 0, "the installed resmon runs: \(help.error)")

        let removed = try install(destination, prefix: prefix, uninstall: true)
        #expect(removed.status == 0, "\(removed.error)")
        #expect(files(under: destination) == other)
        let left = (FileManager.default.enumerator(atPath: destination)?.allObjects as? [String] ?? []).sorted()
        var kept = other
        var parent = ((other.first ?? "") as NSString).deletingLastPathComponent
        while !parent.isEmpty {
            kept.append(parent)
            parent = (parent as NSString).deletingLastPathComponent
        }
        #expect(left == kept.sorted(), "directories install made are gone; those that hold another file stay")
        let again = try install(destination, prefix: prefix, uninstall: true)
        #expect(again.status != 0 && again.error.contains("nothing installed there"))
    }
}
