import Foundation
import ResmonCLI
import ResmonDaemon
import ResmonSystem
import ResmonTestSupport
import Testing

@testable import ResmonDocs

/// The man pages and completions in dist/ are what the declarations and docs render to now
/// (so a new option without `make man completion` fails here), and every page reads cleanly in
/// groff and mandoc.
@Suite struct ManPageTests {
    static let root = Products.packageRoot()

    static func checkedIn(_ path: String) throws -> String { try GeneratedFiles.read(root + "/" + path) }

    @Test func theCheckedInPagesAndCompletionsAreWhatTheDeclarationsRenderTo() throws {
        let files = try GeneratedFiles.render(sourceRoot: Self.root)
        #expect(files.count == 7)
        for (path, text) in files {
            let stored = (try? Self.checkedIn(path)) ?? ""
            guard stored != text else { continue }
            // The first line that differs, not two whole pages.
            let old = stored.split(separator: "\n", omittingEmptySubsequences: false)
            let new = text.split(separator: "\n", omittingEmptySubsequences: false)
            let line = (0..<min(old.count, new.count)).first { old[$0] != new[$0] } ?? min(old.count, new.count)
            Issue.record(
                """
                \(path) is not what resmon's declarations and docs render to now: run `make man completion` and commit it.
                At line \(line + 1), checked in: \(line < old.count ? String(old[line]) : "(end)")
                rendered: \(line < new.count ? String(new[line]) : "(end)")
                """)
        }
    }

    @Test(arguments: ["resmon.1", "resmond.8", "resmond.json.5", "resmon.3"])
    func aPageRendersWithoutAWarning(_ page: String) throws {
        let path = Self.root + "/dist/man/" + page
        let groff = try Products.run("/usr/bin/groff", ["-man", "-ww", "-z", path])
        #expect(groff.status == 0 && groff.error.isEmpty && groff.output.isEmpty, "groff -man -ww -z \(page): \(groff.error)")
        let mandoc = try Products.run("/usr/bin/mandoc", ["-T", "lint", path])
        #expect(mandoc.status == 0 && mandoc.output.isEmpty && mandoc.error.isEmpty, "mandoc -T lint \(page): \(mandoc.output)\(mandoc.error)")
        // What a reader sees: man's own rendering, with the page's name and no roff left over.
        let shown = try Products.run("/usr/bin/groff", ["-man", "-Tutf8", "-P", "-cbou", path])
        #expect(shown.status == 0 && shown.output.contains("NAME") && shown.output.contains("SEE ALSO"), "\(shown.error)")
        #expect(!shown.output.contains("\\f") && !shown.output.contains(".TP") && !shown.output.contains("\\-"), "\(shown.output)")
    }

    @Test func resmonsPageHasEveryCommandAndOption() throws {
        let page = try Self.checkedIn("dist/man/resmon.1")
        for command in CLI.commands {
            #expect(page.contains(".SS\n" + command.name.replacingOccurrences(of: "-", with: "\\-") + " \\(em"), "resmon.1 lacks the command \(command.name)")
            for option in command.options + CLI.globalOptions {
                #expect(
                    page.contains("\\fB" + option.name.replacingOccurrences(of: "-", with: "\\-") + "\\fR"), "resmon.1 lacks \(command.name) \(option.name)")
            }
        }
        for section in ["ENVIRONMENT", "EXIT STATUS", "FILES", "EXAMPLES", "SEE ALSO"] { #expect(page.contains(".SH " + section)) }
        #expect(page.contains("RESMON_SOCKET") && page.contains("\\fB64\\fR"))
    }

    /// The page's examples are command lines resmon takes: with no daemon they fail for want of
    /// one (2), never as bad usage (64).
    @Test func resmonsExamplesAreCommandLinesItTakes() throws {
        for (line, _) in ManPages.examples {
            // The examples quote with single quotes only.
            var words: [String] = []
            for (index, part) in line.split(separator: "'", omittingEmptySubsequences: false).enumerated() {
                words += index % 2 == 1 ? [String(part)] : part.split(separator: " ").map(String.init)
            }
            #expect(words.first == "resmon")
            let result = try Products.run(
                Products.path("resmon"), Array(words.dropFirst()), environment: ["RESMON_SOCKET": "/nonexistent/resmond.sock"], timeout: 20)
            #expect(result.status == 2, "\(line): \(result.status) \(result.error)")
        }
    }

    @Test func resmondsPageHasEveryOptionAndSignal() throws {
        let page = try Self.checkedIn("dist/man/resmond.8")
        for option in DaemonOptions.declarations {
            #expect(page.contains("\\fB" + option.name.replacingOccurrences(of: "-", with: "\\-") + "\\fR"), "resmond.8 lacks \(option.name)")
        }
        for signal in ["SIGTERM", "SIGHUP", "SIGUSR1", "SIGTTIN", "SIGTTOU"] { #expect(page.contains(signal)) }
        #expect(!page.contains("/root/") && !page.contains("/home/"), "the defaults are said for everyone, not for whoever generated the page")
    }

    /// Every key of CONFIG.md's tables, found here by a reading of its own, is on resmond.json(5).
    @Test func theConfigurationPageHasEveryKeyOfConfigMD() throws {
        let markdown = try GeneratedFiles.read(Self.root + "/docs/CONFIG.md")
        let page = try Self.checkedIn("dist/man/resmond.json.5")
        var keys: [String] = []
        var section = ""
        for line in markdown.split(separator: "\n") {
            if line.hasPrefix("## ") { section = String(line.dropFirst(3)) }
            guard section == "resmond.json" || section == "Sinks", line.hasPrefix("| `") else { continue }
            keys.append(String(line.dropFirst(3).prefix { $0 != "`" }))
        }
        #expect(keys.count > 30 && keys.contains("http.listen") && keys.contains("webhook"), "\(keys)")
        for key in keys {
            #expect(page.contains("\\fB" + key.replacingOccurrences(of: "-", with: "\\-") + "\\fR"), "resmond.json.5 lacks \(key)")
        }
    }

    /// Every function resmon.h declares is named and declared on resmon(3).
    @Test func theLibraryPageHasEveryFunctionOfTheHeader() throws {
        let header = try GeneratedFiles.read(Self.root + "/Sources/CResmon/include/resmon.h")
        let page = try Self.checkedIn("dist/man/resmon.3")
        let declared = try Regex(#"^[a-z].*?\b(resmon_[a-z_]+)\("#).anchorsMatchLineEndings()
        let functions = header.split(separator: "\n").compactMap { line in try? declared.firstMatch(in: String(line))?.output[1].substring }
            .map(String.init)
        #expect(functions.count >= 26, "\(functions)")
        let name = page.split(separator: "\n").drop { $0 != ".SH NAME" }.dropFirst().prefix { !$0.hasPrefix(".SH") }.joined(separator: " ")
        for function in functions {
            #expect(name.contains(function), "resmon.3's NAME lacks \(function)")
            #expect(page.contains(function + "("), "resmon.3's SYNOPSIS lacks \(function)")
        }
    }
}
