import FuzzTargets

#if canImport(Glibc)
    import Glibc
#endif

// One executable for every harness (FuzzTargets). Built by `make fuzz` with
// `-sanitize=fuzzer,address -DFUZZING`, it is a libFuzzer binary running the harness
// RESMON_FUZZ_HARNESS names; built plainly, it replays files through a harness:
// `resmon-fuzz HARNESS FILE...` (a crash found by `make fuzz`, without the sanitizers).

/// Writes to standard error (file descriptor 2).
func complain(_ text: String) {
    var text = text
    text.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
}

#if FUZZING
    typealias Arguments = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>

    /// libFuzzer's entry for a program that has its own `main` (SwiftPM names an executable's
    /// entry point `resmon_fuzz_main` and defines `main` as it, so libFuzzer's `main` is not used).
    @_silgen_name("LLVMFuzzerRunDriver")
    func runFuzzerDriver(
        _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<Arguments?>,
        _ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
    ) -> CInt

    let selected: FuzzTargets.Harness = {
        let name = getenv("RESMON_FUZZ_HARNESS").map { String(cString: $0) } ?? ""
        guard let harness = FuzzTargets.harness(named: name) else {
            let names = FuzzTargets.harnesses.map(\.name).joined(separator: ", ")
            complain("resmon-fuzz: set RESMON_FUZZ_HARNESS to one of \(names)\n")
            exit(2)
        }
        return harness
    }()

    @_cdecl("LLVMFuzzerTestOneInput")
    func fuzzOne(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
        selected.run(Array(UnsafeBufferPointer(start: start, count: count)))
        return 0
    }

    @_cdecl("resmon_fuzz_main")
    func fuzzMain(_ argc: CInt, _ argv: Arguments?) -> CInt {
        _ = selected
        var count = argc
        var arguments = argv
        return runFuzzerDriver(&count, &arguments, fuzzOne)
    }
#else
    @main struct Replay {
        static func main() {
            let arguments = CommandLine.arguments.dropFirst()
            guard let name = arguments.first, let harness = FuzzTargets.harness(named: name) else {
                let names = FuzzTargets.harnesses.map(\.name).joined(separator: "|")
                complain("usage: resmon-fuzz \(names) FILE...\n")
                exit(2)
            }
            for path in arguments.dropFirst() {
                guard let file = fopen(path, "rb") else {
                    complain("resmon-fuzz: cannot open \(path)\n")
                    exit(1)
                }
                var bytes: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let count = fread(&buffer, 1, buffer.count, file)
                    if count <= 0 { break }
                    bytes += buffer[..<count]
                }
                fclose(file)
                print(path)
                harness.run(bytes)
            }
        }
    }
#endif
