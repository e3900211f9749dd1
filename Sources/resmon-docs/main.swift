import ResmonDocs

#if canImport(Glibc)
    import Glibc
#endif

// resmon-docs [SOURCE-ROOT] [man|completion]...: writes the man pages (dist/man) and shell
// completions (dist/completion) rendered from resmon's declarations and docs (`make man
// completion`).
let arguments = Array(CommandLine.arguments.dropFirst())
let root = arguments.first { $0.hasPrefix("/") || $0.hasPrefix(".") } ?? "."
let kinds = arguments.filter { $0 == "man" || $0 == "completion" }
do {
    for (path, text) in try GeneratedFiles.render(sourceRoot: root) {
        let kind = path.hasPrefix("dist/man/") ? "man" : "completion"
        guard kinds.isEmpty || kinds.contains(kind) else { continue }
        mkdir(root + "/dist", 0o755)
        mkdir(root + "/dist/" + kind, 0o755)
        try GeneratedFiles.write(text, to: root + "/" + path)
        print("wrote " + path)
    }
} catch {
    let message = Array("resmon-docs: \(error)\n".utf8)
    _ = write(2, message, message.count)
    exit(1)
}
