// swift-tools-version:6.0
import PackageDescription

/// Where this package is, for linker flags that name a file in it.
let packageRoot = String(#filePath.dropLast("/Package.swift".count))
/// Each function in its own section, so that the linker can place resmond's hot functions side
/// by side (Sources/resmond/hot-functions.txt) and drop the ones nothing calls.
let functionSections: [SwiftSetting] = [.unsafeFlags(["-Xfrontend", "-function-sections"])]

// Data flows left to right through the targets: the C wrappers at the bottom, Statistics
// collects, Server and ResmonClient speak the wire types of ResmonAPI, and the executables only
// wire modules together (README.md's "Layout").
let package = Package(
    name: "resmon",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "resmond", targets: ["resmond"]),
        .executable(name: "resmon", targets: ["resmon"]),
        .executable(name: "resmon-bench", targets: ["resmon-bench"]),
        .library(name: "ResmonClient", targets: ["ResmonClient"]),
        // libresmon's code; `make lib` links it, with the Swift runtime, into libresmon.so.1 and
        // libresmon.a (docs/C-API.md).
        .library(name: "Libresmon", targets: ["Libresmon"])
    ],
    targets: [
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd", providers: [.apt(["libmicrohttpd-dev"])]),
        // Variadic C calls (MHD_start_daemon), closed enums, peer credentials and sd_notify.
        // gnutls (libgnutls28-dev, which libmicrohttpd-dev depends on) checks the TLS listener's
        // certificate and key before libmicrohttpd loads them: the file at fault, and why.
        .target(name: "CShim", dependencies: ["CMicroHTTPD"], linkerSettings: [.linkedLibrary("gnutls")]),
        // The libcurl client calls. libcurl is loaded with dlopen on first use (its headers come
        // from libcurl4-openssl-dev), so resmond maps it only when an HTTP sink needs it.
        .target(name: "CCurlShim", linkerSettings: [.linkedLibrary("dl")]),
        .target(name: "HTTPClient", dependencies: ["CCurlShim"], swiftSettings: functionSections),
        // Snappy's block format for remote_write (snappy-c.h from libsnappy-dev). libsnappy is
        // loaded with dlopen on first use, as libcurl is, so only a resmond that pushes needs it.
        .target(name: "CSnappyShim", linkerSettings: [.linkedLibrary("dl")]),

        // RE2 (libre2-dev) behind a C interface: regular expressions with bounds on time and
        // memory, where glibc's regcomp has none (issue 22).
        .target(name: "CRE2", linkerSettings: [.linkedLibrary("re2")]),
        // pipe2 and prctl, which Swift's Glibc module does not import or cannot call.
        .target(name: "CSystem"),
        // Below everything: the clock, regular expressions, process spawning.
        .target(name: "ResmonSystem", dependencies: ["CRE2", "CSystem"], swiftSettings: functionSections),
        .target(name: "Statistics", dependencies: ["ResmonSystem"], swiftSettings: functionSections),
        .target(name: "Storage", dependencies: ["CSQLite", "ResmonSystem"], swiftSettings: functionSections),
        .target(name: "History", dependencies: ["ResmonSystem", "Statistics", "Storage"], swiftSettings: functionSections),
        .target(name: "ResmonAPI", swiftSettings: functionSections),
        .target(name: "Events", dependencies: ["HTTPClient", "ResmonAPI", "ResmonSystem", "Storage"], swiftSettings: functionSections),
        // Prometheus remote_write: the sample queue, the protobuf encoding and the sender.
        .target(
            name: "RemoteWrite", dependencies: ["CSnappyShim", "HTTPClient", "ResmonAPI", "ResmonSystem", "Statistics"],
            swiftSettings: functionSections),
        .target(name: "Monitoring", dependencies: ["ResmonSystem", "Statistics", "Events", "Storage", "ResmonAPI"], swiftSettings: functionSections),
        .target(
            name: "Server", dependencies: ["CShim", "ResmonSystem", "Statistics", "History", "Monitoring", "Events", "ResmonAPI"],
            // The dashboard's HTML, CSS and JavaScript, compiled into the binary as byte arrays
            // (no Bundle, no files beside an installed resmond; docs/DASHBOARD.md).
            // docs/openapi.yaml as JSON (`make openapi` writes it) for `GET /v1/openapi.json`.
            resources: [.embedInCode("Dashboard"), .embedInCode("OpenAPI")], swiftSettings: functionSections),
        .target(name: "ResmonClient", dependencies: ["HTTPClient", "ResmonAPI"]),
        // The C consumer library: resmon.h (the contract of DESIGN.md) and its C helpers, and the
        // Swift half over ResmonClient exporting resmon_* with @_cdecl.
        .target(name: "CResmon"),
        .target(name: "Libresmon", dependencies: ["CResmon", "ResmonClient", "ResmonAPI", "Monitoring", "Events"], swiftSettings: [.unsafeFlags(["-O"])]),
        .target(
            name: "ResmonDaemon",
            dependencies: [
                "CShim", "HTTPClient", "ResmonSystem", "Statistics", "History", "Storage", "Monitoring", "Events", "ResmonAPI", "Server",
                "RemoteWrite"
            ],
            swiftSettings: functionSections),

        // lld packs the binary's 38,000 relative relocations into 7.5 KB (DT_RELR, glibc 2.36)
        // instead of gold's 915 KB table, which the loader reads, and keeps resident, at start;
        // and it places the functions a running resmond executes side by side (`make hot-functions`).
        .executableTarget(
            name: "resmond", dependencies: ["ResmonDaemon"], exclude: ["hot-functions.txt"], swiftSettings: functionSections,
            linkerSettings: [
                .unsafeFlags([
                    "-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                    "-Xlinker", "--symbol-ordering-file=\(packageRoot)/Sources/resmond/hot-functions.txt",
                    "-Xlinker", "--no-warn-symbol-ordering"
                ])
            ]),
        .target(name: "ResmonCLI", dependencies: ["ResmonClient", "ResmonAPI", "ResmonSystem"]),
        .executableTarget(name: "resmon", dependencies: ["ResmonCLI"]),
        // The man pages and shell completions, rendered from the declarations resmon and resmond
        // parse their command lines with and from docs/CONFIG.md, docs/C-API.md and resmon.h
        // (`make man completion` runs resmon-docs; DocsTests fails when dist/ drifts from them).
        .target(name: "ResmonDocs", dependencies: ["ResmonCLI", "ResmonDaemon", "ResmonAPI", "ResmonSystem"]),
        .executableTarget(name: "resmon-docs", dependencies: ["ResmonDocs"]),
        // The bench's command line and the callgrind parser `make hot-functions` uses: in a
        // library, so that DaemonTests reaches them without linking the bench's executable.
        .target(name: "BenchSupport", dependencies: ["ResmonSystem"]),
        .executableTarget(
            name: "resmon-bench",
            dependencies: [
                "BenchSupport", "HTTPClient", "CShim", "ResmonSystem", "Statistics", "History", "Monitoring", "Events", "Storage",
                "ResmonAPI", "ResmonClient", "Server", "CResmon"
            ]),

        // The fuzzers' entry points, one per parser that reads outside input (docs/RELIABILITY.md):
        // replayed by FuzzReplayTests, run by libFuzzer through resmon-fuzz (`make fuzz`).
        .target(
            name: "FuzzTargets",
            dependencies: ["ResmonSystem", "Statistics", "History", "Storage", "ResmonAPI", "Events", "Monitoring", "Server", "ResmonClient", "ResmonDaemon"]),
        .executableTarget(name: "resmon-fuzz", dependencies: ["FuzzTargets"]),

        .target(name: "ResmonTestSupport", dependencies: ["ResmonClient", "ResmonAPI", "ResmonSystem", "Statistics"], path: "Tests/ResmonTestSupport"),
        .testTarget(name: "ResmonSystemTests", dependencies: ["ResmonSystem"]),
        .testTarget(
            name: "StatisticsTests", dependencies: ["ResmonSystem", "Statistics", "ResmonTestSupport"],
            exclude: ["Fixtures"]),
        .testTarget(name: "HistoryTests", dependencies: ["History", "Statistics", "ResmonTestSupport", "CShim"], exclude: ["Fixtures"]),
        .testTarget(name: "MonitoringTests", dependencies: ["Monitoring", "Statistics", "Events", "Storage", "ResmonAPI", "ResmonTestSupport"]),
        .testTarget(name: "ResmonAPITests", dependencies: ["ResmonAPI"]),
        .testTarget(name: "EventsTests", dependencies: ["Events", "ResmonAPI"]),
        .testTarget(name: "RemoteWriteTests", dependencies: ["RemoteWrite", "Statistics"]),
        .testTarget(name: "CLITests", dependencies: ["ResmonAPI", "ResmonTestSupport"]),
        // Shell/ holds the zsh script that captures what zsh's completion offers.
        .testTarget(name: "DocsTests", dependencies: ["ResmonDocs", "ResmonTestSupport", "ResmonClient", "ResmonAPI"], exclude: ["Shell"]),
        .testTarget(
            name: "ServerTests", dependencies: ["Server", "Statistics", "History", "Monitoring", "Events", "Storage", "ResmonAPI", "ResmonTestSupport"]),
        .testTarget(
            name: "DaemonTests",
            dependencies: [
                "HTTPClient", "ResmonDaemon", "Statistics", "ResmonClient", "ResmonAPI", "ResmonCLI", "Server", "ResmonTestSupport",
                "BenchSupport", "RemoteWrite"
            ],
            // The browser test's selenium script, which DashboardBrowserTests runs with Python.
            exclude: ["Browser"]),
        .testTarget(name: "FuzzReplayTests", dependencies: ["FuzzTargets", "History"]),
        // libresmon's tests: C programs (C/) compiled against the library `make lib` built, run
        // against a real resmond.
        .testTarget(name: "LibresmonTests", dependencies: ["Libresmon", "ResmonTestSupport", "ResmonClient", "ResmonAPI"], exclude: ["C"])
    ],
    swiftLanguageModes: [.v6]
)
