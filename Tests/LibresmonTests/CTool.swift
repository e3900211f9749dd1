import Foundation
import ResmonTestSupport
import Testing

/// The C side of libresmon's tests: the library `make lib` built into .build/lib, and C programs
/// compiled against it the way a consumer does (`cc -Wall -Wextra -Werror $(pkg-config …)`).
enum CTool {
    static let libraryDirectory = Products.packageRoot() + "/.build/lib"
    static let sourceDirectory = Products.packageRoot() + "/Tests/LibresmonTests/C"
    static let examplesDirectory = Products.packageRoot() + "/examples/c"

    struct Missing: Error, CustomStringConvertible {
        let description: String
    }

    /// Fails the test when the library is not built: `make lib` (or `make test`) builds it.
    static func requireLibrary() throws {
        guard FileManager.default.fileExists(atPath: libraryDirectory + "/libresmon.so.1") else {
            throw Missing(description: "\(libraryDirectory)/libresmon.so.1 is missing: run `make lib` (make test does) before these tests")
        }
    }

    /// Runs a shell command line (with the built library's pkg-config file on the path).
    static func shell(_ command: String, environment: [String: String] = [:], timeout: Double = 120) throws -> ProgramResult {
        try Products.run(
            "/bin/sh", ["-c", command],
            environment: ["PKG_CONFIG_PATH": libraryDirectory, "LD_LIBRARY_PATH": libraryDirectory].merging(environment) { $1 },
            timeout: timeout)
    }

    /// Compiles C (`cc`) or C++ (`c++`) sources into `output` through pkg-config; returns the
    /// compiler's diagnostics, empty on success, or throws with them.
    static func compile(_ sources: [String], output: String, cplusplus: Bool = false, flags: String = "") throws {
        try requireLibrary()
        let compiler = cplusplus ? "c++ -std=c++17" : "cc -std=c11"
        let result = try shell(
            "\(compiler) -Wall -Wextra -Werror \(flags) -o '\(output)' \(sources.map { "'\($0)'" }.joined(separator: " ")) $(pkg-config --cflags --libs resmon) -lpthread"
        )
        guard result.status == 0 else { throw Missing(description: "compiling \(sources) failed:\n\(result.output)\(result.error)") }
    }
}
