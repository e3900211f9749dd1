import Foundation
import ResmonTestSupport
import Testing

/// The library as a consumer finds it: versioned, self-contained (no Swift runtime needed),
/// exporting only its API, with a header that C11 and C++ compile cleanly.
@Suite struct LibraryBuildTests {
    @Test func sharedLibraryExportsOnlyTheAPIAndNeedsNoSwiftRuntime() throws {
        try CTool.requireLibrary()
        let library = CTool.libraryDirectory + "/libresmon.so.1"
        let exported = try CTool.shell("nm -D --defined-only '\(library)'")
        #expect(exported.status == 0, "\(exported.error)")
        let globals = exported.output.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.count == 3, fields[1].first?.isUppercase == true, fields[1] != "A" else { return nil }
            return String(fields[2].split(separator: "@").first ?? fields[2])
        }
        #expect(globals.contains("resmon_open") && globals.contains("resmon_subscribe"))
        #expect(globals.allSatisfy { $0.hasPrefix("resmon_") }, "exported beside resmon_*: \(globals.filter { !$0.hasPrefix("resmon_") })")
        let linked = try CTool.shell("ldd '\(library)'")
        #expect(linked.status == 0)
        #expect(!linked.output.contains("libswift") && !linked.output.contains("Foundation"), "\(linked.output)")
        let dynamic = try CTool.shell("readelf -d '\(library)'")
        #expect(dynamic.output.contains("Library soname: [libresmon.so.1]"), "\(dynamic.output)")
        let link = try FileManager.default.destinationOfSymbolicLink(atPath: CTool.libraryDirectory + "/libresmon.so")
        #expect(link == "libresmon.so.1")
    }

    @Test func headerCompilesAsStrictC11AndCPlusPlus() throws {
        let directory = TemporaryDirectory("libresmon-header")
        try directory.write("empty.c", "#include <resmon.h>\nint main(void) { return resmon_strerror(0)[0] == 0; }\n")
        try CTool.compile([directory.file("empty.c")], output: directory.file("c"), flags: "-pedantic")
        try directory.write("empty.cpp", "#include <resmon.hpp>\nint main() { return resmon_strerror(0)[0] == 0; }\n")
        try CTool.compile([directory.file("empty.cpp")], output: directory.file("cpp"), cplusplus: true, flags: "-pedantic")
        // Only standard headers: the header alone, with no Swift or system include path, compiles.
        let alone = try CTool.shell(
            "cc -std=c11 -Wall -Werror -fsyntax-only -nostdinc -isystem \"$(cc -print-file-name=include)\" -I/usr/include -I/usr/include/x86_64-linux-gnu '\(CTool.libraryDirectory)/include/resmon.h'"
        )
        #expect(alone.status == 0, "\(alone.error)")
    }

    @Test func staticLibraryLinksWithoutTheSwiftRuntime() throws {
        try CTool.requireLibrary()
        let directory = TemporaryDirectory("libresmon-static")
        try directory.write(
            "open.c",
            """
            #include <resmon.h>
            #include <errno.h>
            #include <stdio.h>
            int main(void) {
                resmon_session *session = 0;
                int result = resmon_open("/nonexistent/resmond.sock", &session);
                printf("%d %s\\n", result, resmon_last_error());
                return result == -ENOENT && session == 0 ? 0 : 1;
            }
            """)
        let built = try CTool.shell(
            "cc -std=c11 -Wall -Wextra -Werror -o '\(directory.file("open"))' '\(directory.file("open.c"))' $(pkg-config --cflags --static --libs resmon | sed 's/-lresmon/-l:libresmon.a/')"
        )
        #expect(built.status == 0, "\(built.error)")
        let ran = try CTool.shell("'\(directory.file("open"))'", environment: ["LD_LIBRARY_PATH": ""])
        #expect(ran.status == 0, "\(ran.output)\(ran.error)")
        #expect(ran.output.contains("no resmond answers"))
        let linked = try CTool.shell("ldd '\(directory.file("open"))'")
        #expect(!linked.output.contains("libresmon") && !linked.output.contains("libswift"), "\(linked.output)")
    }
}
