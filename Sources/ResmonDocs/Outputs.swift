#if canImport(Glibc)
    import Glibc
#endif

/// Every generated file, by its path in the source tree, rendered from that tree's documents
/// and from the declarations compiled in. `make man completion` writes them; the drift test
/// compares them with the files checked in.
public enum GeneratedFiles {
    public struct SourceError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func render(sourceRoot: String) throws(SourceError) -> [(path: String, text: String)] {
        let config = try read(sourceRoot + "/docs/CONFIG.md")
        let api = try read(sourceRoot + "/docs/C-API.md")
        let header = try read(sourceRoot + "/Sources/CResmon/include/resmon.h")
        return [
            ("dist/man/resmon.1", ManPages.resmon()),
            ("dist/man/resmond.8", ManPages.resmond(configMarkdown: config)),
            ("dist/man/resmond.json.5", ManPages.resmondJSON(configMarkdown: config)),
            ("dist/man/resmon.3", ManPages.library(header: header, apiMarkdown: api)),
            ("dist/completion/resmon.bash", Completions.bash()),
            ("dist/completion/_resmon", Completions.zsh()),
            ("dist/completion/resmon.fish", Completions.fish())
        ]
    }

    /// A whole text file (the documents are small), with POSIX calls.
    public static func read(_ path: String) throws(SourceError) -> String {
        guard let file = fopen(path, "r") else { throw SourceError(description: "\(path): \(String(cString: strerror(errno)))") }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func write(_ text: String, to path: String) throws(SourceError) {
        guard let file = fopen(path, "w") else { throw SourceError(description: "\(path): \(String(cString: strerror(errno)))") }
        defer { fclose(file) }
        let bytes = Array(text.utf8)
        guard fwrite(bytes, 1, bytes.count, file) == bytes.count else { throw SourceError(description: "\(path): short write") }
    }
}
