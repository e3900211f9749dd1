/// Text made safe for roff's man macros, and the little markdown resmon's docs use turned into
/// them: a page groff (`-man -ww`) and mandoc (`-T lint`) read without a warning.
enum Roff {
    /// Characters outside ASCII, as glyphs every groff device has (`-Tps` is groff's default,
    /// and it has no `\[u2026]`), or as ASCII.
    static let glyphs: [Character: String] = [
        "—": "\\(em", "–": "\\(en", "…": "...", "≥": "\\(>=", "≤": "\\(<=", "×": "\\(mu", "±": "\\(+-", "→": "\\(->",
        "⁰": "^0", "¹": "^1", "²": "^2", "³": "^3", "⁴": "^4", "⁵": "^5", "⁶": "^6", "⁷": "^7", "⁸": "^8", "⁹": "^9",
        "é": "\\('e", "°": "\\(de", "µ": "\\(mc"
    ]

    /// Plain text for a line of a page: a backslash is `\e`, a hyphen `\-` (options and minus
    /// signs must stay ASCII hyphens when copied from the page).
    static func escape(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "\\": result += "\\e"
            case "-": result += "\\-"
            case "\t": result += " "
            default:
                if let glyph = glyphs[character] {
                    result += glyph
                } else if character.isASCII {
                    result.append(character)
                } else {
                    result += character.unicodeScalars.map { "\\[u" + String(String($0.value, radix: 16, uppercase: true).leftPadded(to: 4)) + "]" }.joined()
                }
            }
        }
        return result
    }

    /// A text line: a leading `.` or `'` would be read as a request, so `\&` comes first.
    static func line(_ text: String) -> String {
        text.hasPrefix(".") || text.hasPrefix("'") || text.hasPrefix(" ") ? "\\&" + text : text
    }

    static func bold(_ text: String) -> String { "\\fB" + escape(text) + "\\fR" }
    static func italic(_ text: String) -> String { "\\fI" + escape(text) + "\\fR" }

    /// A macro's argument: quoted, a quote inside doubled.
    static func argument(_ text: String) -> String { "\"" + escape(text).replacingAll("\"", with: "\"\"") + "\"" }

    /// Markdown's inline marks: `code` and **strong** bold, *emphasis* italic, [text](target)
    /// as text; the rest escaped.
    static func inline(_ markdown: String) -> String {
        var result = ""
        var rest = Substring(markdown)
        while let first = rest.first {
            if first == "`", let end = rest.dropFirst().firstIndex(of: "`") {
                result += bold(String(rest[rest.index(after: rest.startIndex)..<end]))
                rest = rest[rest.index(after: end)...]
            } else if rest.hasPrefix("**"), let end = rest.dropFirst(2).firstRange(of: "**") {
                result += "\\fB" + inline(String(rest[rest.index(rest.startIndex, offsetBy: 2)..<end.lowerBound])) + "\\fR"
                rest = rest[end.upperBound...]
            } else if first == "*", rest.count > 1, rest.dropFirst().first != " ", let end = rest.dropFirst().firstIndex(of: "*") {
                result += "\\fI" + inline(String(rest[rest.index(after: rest.startIndex)..<end])) + "\\fR"
                rest = rest[rest.index(after: end)...]
            } else if first == "[", let close = rest.firstIndex(of: "]"), rest[close...].dropFirst().first == "(",
                let end = rest[close...].firstIndex(of: ")")
            {
                result += inline(String(rest[rest.index(after: rest.startIndex)..<close]))
                rest = rest[rest.index(after: end)...]
            } else {
                result += escape(String(first))
                rest = rest.dropFirst()
            }
        }
        return result
    }

    /// Markdown blocks as man macros: paragraphs (`.PP`), lists (`.IP`), code blocks (`.nf`)
    /// and tables, each row a tagged paragraph (`.TP`) whose tag is its first cell; `skipTables`
    /// leaves tables out (a page that renders them from declarations instead).
    static func markdown(_ text: String, skipTables: Bool = false) -> [String] {
        var lines: [String] = []
        var paragraph: [String] = []
        var listItem: [String]?
        var table: [[String]] = []
        var code: [String]?
        func flush() {
            if !paragraph.isEmpty {
                lines += [".PP", line(inline(paragraph.joined(separator: " ")))]
                paragraph = []
            }
            if let item = listItem {
                lines += [".IP \\(bu 2", line(inline(item.joined(separator: " ")))]
                listItem = nil
            }
            if !table.isEmpty {
                if !skipTables { lines += tableLines(table) }
                table = []
            }
        }
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if var block = code {
                if raw.hasPrefix("```") {
                    lines += [".PP", ".RS 4", ".nf"] + block + [".fi", ".RE"]
                    code = nil
                } else {
                    block.append(line(escape(raw)))
                    code = block
                }
                continue
            }
            let trimmed = raw.trimmingSpaces()
            if raw.hasPrefix("```") {
                flush()
                code = []
            } else if trimmed.isEmpty {
                flush()
            } else if trimmed.hasPrefix("|") {
                if table.isEmpty { flush() }
                let cells = trimmed.dropFirst().dropLast(trimmed.hasSuffix("|") ? 1 : 0).split(separator: "|", omittingEmptySubsequences: false)
                    .map { String($0).trimmingSpaces() }
                if !cells.allSatisfy({ $0.allSatisfy { "-: ".contains($0) } }) { table.append(cells) }
            } else if raw.hasPrefix("- ") {
                flush()
                listItem = [String(raw.dropFirst(2))]
            } else if listItem != nil && raw.hasPrefix("  ") {
                listItem?.append(trimmed)
            } else if raw.hasPrefix("#") {
                flush()
                lines += [".SS", line(inline(String(raw.drop { $0 == "#" }).trimmingSpaces()))]
            } else {
                if listItem != nil { flush() }
                paragraph.append(trimmed)
            }
        }
        flush()
        return lines
    }

    /// A table's rows after its header: the first cell the tag, the middle cells labelled by
    /// their column, the last one the text.
    static func tableLines(_ rows: [[String]]) -> [String] {
        guard let header = rows.first else { return [] }
        var lines: [String] = []
        for row in rows.dropFirst() where !row.isEmpty {
            lines += [".TP", line(inline(row[0]))]
            let middle = row.indices.dropFirst().dropLast().filter { !row[$0].isEmpty }
            if !middle.isEmpty {
                lines.append(line(middle.map { "\\fI" + escape(header[$0]) + ":\\fR " + inline(row[$0]) }.joined(separator: "; ")))
                if row.count > 1, !(row.last ?? "").isEmpty { lines.append(".br") }
            }
            if row.count > 1, let last = row.last, !last.isEmpty { lines.append(line(inline(last))) }
        }
        return lines
    }
}

extension String {
    func trimmingSpaces() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }

    func leftPadded(to width: Int) -> String { String(repeating: "0", count: Swift.max(0, width - count)) + self }

    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
