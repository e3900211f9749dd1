// swift-tools-version:6.0
import PackageDescription

// Data flows left to right through the targets: the C wrappers at the bottom, Statistics
// collects, Server and ResmonClient speak the wire types of ResmonAPI, and the executables only
// wire modules together (see docs/ARCHITECTURE in README.md).
let package = Package(
    name: "resmon",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "resmond", targets: ["resmond"]),
        .executable(name: "resmon", targets: ["resmon"]),
        .executable(name: "resmon-bench", targets: ["resmon-bench"]),
        .library(name: "ResmonClient", targets: ["ResmonClient"]),
    ],
    targets: [
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd", providers: [.apt(["libmicrohttpd-dev"])]),
        // Variadic C calls (MHD_start_daemon), closed enums, peer credentials and sd_notify.
        .target(name: "CShim", dependencies: ["CMicroHTTPD"]),
        // The libcurl client calls. libcurl is loaded with dlopen on first use (its headers come
        // from libcurl4-openssl-dev), so resmond maps it only when an HTTP sink needs it.
        .target(name: "CCurlShim", linkerSettings: [.linkedLibrary("dl")]),

        .target(name: "Statistics"),
        .target(name: "Storage", dependencies: ["CSQLite"]),
        .target(name: "History", dependencies: ["Statistics", "Storage"]),
        .target(name: "ResmonAPI"),
        .target(name: "Events", dependencies: ["CCurlShim", "ResmonAPI", "Storage", "Statistics"]),
        .target(name: "Monitoring", dependencies: ["Statistics", "Events", "Storage", "ResmonAPI"]),
        .target(name: "Server", dependencies: ["CShim", "Statistics", "History", "Monitoring", "Events", "ResmonAPI"]),
        .target(name: "ResmonClient", dependencies: ["CCurlShim", "ResmonAPI"]),
        .target(name: "ResmonDaemon", dependencies: ["CShim", "CCurlShim", "Statistics", "History", "Storage", "Monitoring", "Events", "ResmonAPI", "Server"]),

        .executableTarget(name: "resmond", dependencies: ["ResmonDaemon"]),
        .target(name: "ResmonCLI", dependencies: ["ResmonClient", "ResmonAPI"]),
        .executableTarget(name: "resmon", dependencies: ["ResmonCLI"]),
        .executableTarget(name: "resmon-bench", dependencies: ["CCurlShim", "CShim", "Statistics", "History", "Monitoring", "Events", "Storage",
                                                              "ResmonAPI", "ResmonClient", "Server"]),

        .target(name: "ResmonTestSupport", dependencies: ["ResmonClient", "ResmonAPI", "Statistics"], path: "Tests/ResmonTestSupport"),
        .testTarget(name: "StatisticsTests", dependencies: ["Statistics", "ResmonTestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "HistoryTests", dependencies: ["History", "Statistics", "ResmonTestSupport"]),
        .testTarget(name: "MonitoringTests", dependencies: ["Monitoring", "Statistics", "Events", "Storage", "ResmonAPI", "ResmonTestSupport"]),
        .testTarget(name: "DaemonTests", dependencies: ["CCurlShim", "ResmonDaemon", "Statistics", "ResmonClient", "ResmonAPI", "ResmonCLI", "Server", "ResmonTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
