/// resmond.json(5) from docs/CONFIG.md and resmon(3) from resmon.h and docs/C-API.md: the
/// documents those pages restate are their source, so a key or a function added there is on
/// the page at the next `make man` (and the drift test fails until it is).
extension ManPages {
    /// resmond.json(5): CONFIG.md's introduction, its key table and its sinks.
    public static func resmondJSON(configMarkdown: String) -> String {
        var lines = header("resmond.json", 5, "File Formats Manual")
        lines += [".SH NAME", "resmond.json \\- the configuration file of resmond, the resmon daemon"]
        lines += [".SH SYNOPSIS", "/etc/resmon/resmond.json", ".br", "$XDG_CONFIG_HOME/resmon/resmond.json (a user's own resmond)"]
        lines.append(".SH DESCRIPTION")
        lines += Roff.markdown(Markdown.introduction(configMarkdown))
        lines.append(".SH KEYS")
        lines += Roff.markdown(Markdown.section(configMarkdown, titled: "resmond.json"))
        lines.append(".SH SINKS")
        lines += Roff.markdown(Markdown.section(configMarkdown, titled: "Sinks"))
        lines +=
            [".SH FILES"]
            + definitions([
                ("/etc/resmon/resmond.json", "root's resmond's configuration"),
                ("~/.config/resmon/resmond.json", "a user's own resmond's")
            ])
        lines += [".SH SEE ALSO", ".BR resmond (8),", ".BR resmon (1)"]
        return render(lines)
    }

    /// resmon(3): every function resmon.h declares, with its prototype, then C-API.md's
    /// conventions (return values, threads) and functions.
    public static func library(header resmonH: String, apiMarkdown: String) -> String {
        let prototypes = CHeader.prototypes(resmonH)
        var lines = header("resmon", 3, "Library Functions Manual")
        // \% keeps a name from being hyphenated at a line's end.
        lines += [
            ".SH NAME", prototypes.map { "\\%" + Roff.escape($0.name) }.joined(separator: ", ") + " \\- libresmon, the resmon resource monitor's C library"
        ]
        lines += [".SH SYNOPSIS", ".nf", ".B #include <resmon.h>", ".PP"]
        lines += prototypes.map { Roff.line(Roff.escape($0.declaration)) }
        lines += [".fi", ".PP", "Link with", ".IR \"$(pkg\\-config \\-\\-cflags \\-\\-libs resmon)\" ."]
        lines.append(".SH DESCRIPTION")
        lines += Roff.markdown(Markdown.section(apiMarkdown, titled: "Functions"))
        lines.append(".SH CONVENTIONS")
        lines += Roff.markdown(Markdown.section(apiMarkdown, titled: "Conventions"))
        lines += [".SH HEADER", "resmon.h as installed, with the types and constants:", ".PP", ".RS 4", ".nf"]
        lines += CHeader.body(resmonH).map { Roff.line(Roff.escape($0)) }
        lines += [".fi", ".RE"]
        lines += [".SH SEE ALSO", ".BR resmon (1),", ".BR resmond (8),", ".BR resmond.json (5)"]
        lines.append("The full reference, with the C++ header resmon.hpp, is docs/C-API.md in resmon's sources.")
        return render(lines)
    }
}

/// Sections of a markdown document.
enum Markdown {
    /// The text under `## title`, up to the next heading of that level or above.
    static func section(_ markdown: String, titled title: String) -> String {
        var taken: [Substring] = []
        var inside = false
        var fenced = false
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") { fenced.toggle() }
            if !fenced && (line.hasPrefix("## ") || line.hasPrefix("# ")) {
                if inside { break }
                inside = line == "## " + title
                continue
            }
            if inside { taken.append(line) }
        }
        return taken.joined(separator: "\n")
    }

    /// The text between the title and the first `##` section.
    static func introduction(_ markdown: String) -> String {
        var taken: [Substring] = []
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false).dropFirst() {
            if line.hasPrefix("## ") { break }
            taken.append(line)
        }
        return taken.joined(separator: "\n")
    }
}

/// The function declarations of a C header.
enum CHeader {
    struct Prototype {
        let name: String
        /// On one line, without comments.
        let declaration: String
    }

    /// The declarations inside `extern "C" { … }`, as written, blank lines left out.
    static func body(_ header: String) -> [String] {
        let lines = header.split(separator: "\n").map(String.init)
        guard let start = lines.firstIndex(of: "extern \"C\" {"), let end = lines.lastIndex(of: "#ifdef __cplusplus"), start + 2 < end else {
            return lines
        }
        return Array(lines[(start + 2)..<end])
    }

    static func prototypes(_ header: String) -> [Prototype] {
        // Comments out, then the statements at file scope that declare a resmon_ function.
        var text = ""
        var rest = Substring(header)
        while let start = rest.firstRange(of: "/*") {
            text += rest[..<start.lowerBound]
            guard let end = rest[start.upperBound...].firstRange(of: "*/") else { break }
            rest = rest[end.upperBound...]
        }
        text += rest
        let statements = text.split(separator: "\n").filter { !$0.hasPrefix("#") }.joined(separator: " ").split(separator: ";")
        return statements.compactMap { statement in
            let words = statement.split(whereSeparator: { $0 == " " }).joined(separator: " ")
            guard !words.hasPrefix("typedef"), !words.contains("{"), !words.contains("}"),
                let open = words.firstIndex(of: "(")
            else { return nil }
            let name = words[..<open].split(whereSeparator: { $0 == " " || $0 == "*" }).last.map(String.init) ?? ""
            guard name.hasPrefix("resmon_") else { return nil }
            return Prototype(name: name, declaration: words.replacingAll("( ", with: "(").replacingAll(" )", with: ")") + ";")
        }
    }
}
