/// A small XML reader for perfmon's documents: elements, attributes, comments, the XML
/// declaration and the five predefined entities and character references — and nothing that
/// could read a file or blow up: a DOCTYPE (and so any entity definition), processing
/// instructions other than the declaration, depth over 16, more than 10,000 elements or a
/// document over 1 MiB are refused.
struct XMLElement: Sendable {
    var name: String
    var attributes: [String: String] = [:]
    var children: [XMLElement] = []

    struct ParseError: Error, CustomStringConvertible {
        let offset: Int
        let message: String
        var description: String { "at byte \(offset + 1): \(message)" }
    }

    static func parse(_ bytes: [UInt8]) throws(ParseError) -> XMLElement {
        guard bytes.count <= 1 << 20 else { throw ParseError(offset: 0, message: "the document is larger than 1 MiB") }
        var parser = Parser(bytes: bytes)
        return try parser.document()
    }

    private struct Parser {
        let bytes: [UInt8]
        var position = 0
        var elements = 0

        init(bytes: [UInt8]) {
            // A UTF-8 byte order mark is allowed.
            self.bytes = bytes
            if bytes.starts(with: [0xef, 0xbb, 0xbf]) { position = 3 }
        }

        func fail(_ message: String) -> ParseError { ParseError(offset: position, message: message) }

        func starts(_ text: String) -> Bool {
            let pattern = Array(text.utf8)
            return position + pattern.count <= bytes.count && bytes[position..<(position + pattern.count)].elementsEqual(pattern)
        }

        mutating func skipSpace() {
            while position < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[position]) { position += 1 }
        }

        /// Comments, the declaration and white space between elements.
        mutating func skipMisc() throws(ParseError) {
            while true {
                skipSpace()
                if starts("<!--") {
                    guard let end = find("-->", from: position + 4) else { throw fail("a comment is not closed") }
                    position = end + 3
                } else if starts("<?xml") {
                    guard let end = find("?>", from: position) else { throw fail("the XML declaration is not closed") }
                    position = end + 2
                } else if starts("<!DOCTYPE") || starts("<!ENTITY") || starts("<!doctype") {
                    throw fail("DTDs and entity declarations are not accepted")
                } else if starts("<?") {
                    throw fail("processing instructions are not accepted")
                } else {
                    return
                }
            }
        }

        func find(_ text: String, from start: Int) -> Int? {
            let pattern = Array(text.utf8)
            var index = start
            while index + pattern.count <= bytes.count {
                if bytes[index..<(index + pattern.count)].elementsEqual(pattern) { return index }
                index += 1
            }
            return nil
        }

        mutating func document() throws(ParseError) -> XMLElement {
            try skipMisc()
            let root = try element(depth: 0)
            try skipMisc()
            guard position == bytes.count else { throw fail("content after the root element") }
            return root
        }

        mutating func name() throws(ParseError) -> String {
            let start = position
            while position < bytes.count {
                let byte = bytes[position]
                let ok =
                    (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x30 && byte <= 0x39)
                    || byte == 0x5f || byte == 0x2d || byte == 0x2e || byte == 0x3a
                if !ok { break }
                position += 1
            }
            guard position > start, position - start <= 256 else { throw fail("expected a name") }
            return String(decoding: bytes[start..<position], as: UTF8.self)
        }

        mutating func element(depth: Int) throws(ParseError) -> XMLElement {
            guard depth < 16 else { throw fail("elements nest deeper than 16") }
            elements += 1
            guard elements <= 10_000 else { throw fail("more than 10,000 elements") }
            guard position < bytes.count, bytes[position] == 0x3c else { throw fail("expected <") }
            position += 1
            var element = XMLElement(name: try name())
            while true {
                skipSpace()
                guard position < bytes.count else { throw fail("the document ends inside <\(element.name)>") }
                if starts("/>") {
                    position += 2
                    return element
                }
                if bytes[position] == 0x3e {
                    position += 1
                    break
                }
                let attribute = try name()
                skipSpace()
                guard position < bytes.count, bytes[position] == 0x3d else { throw fail("expected = after \(attribute)") }
                position += 1
                skipSpace()
                guard position < bytes.count, bytes[position] == 0x22 || bytes[position] == 0x27 else { throw fail("expected a quoted value") }
                let quote = bytes[position]
                position += 1
                let start = position
                while position < bytes.count && bytes[position] != quote {
                    if bytes[position] == 0x3c { throw fail("< inside an attribute value") }
                    position += 1
                }
                guard position < bytes.count else { throw fail("an attribute value is not closed") }
                let value = try decode(bytes[start..<position], at: start)
                position += 1
                guard element.attributes[attribute] == nil else { throw fail("attribute \(attribute) given twice") }
                element.attributes[attribute] = value
            }
            // Content: child elements, text (ignored), comments, CDATA (ignored).
            while true {
                guard position < bytes.count else { throw fail("<\(element.name)> is not closed") }
                if starts("</") {
                    position += 2
                    let closing = try name()
                    guard closing == element.name else { throw fail("</\(closing)> closes <\(element.name)>") }
                    skipSpace()
                    guard position < bytes.count, bytes[position] == 0x3e else { throw fail("expected >") }
                    position += 1
                    return element
                } else if starts("<!--") {
                    guard let end = find("-->", from: position + 4) else { throw fail("a comment is not closed") }
                    position = end + 3
                } else if starts("<![CDATA[") {
                    guard let end = find("]]>", from: position) else { throw fail("a CDATA section is not closed") }
                    position = end + 3
                } else if starts("<!") || starts("<?") {
                    throw fail("declarations and processing instructions are not accepted inside elements")
                } else if bytes[position] == 0x3c {
                    element.children.append(try self.element(depth: depth + 1))
                } else {
                    let start = position
                    while position < bytes.count && bytes[position] != 0x3c { position += 1 }
                    _ = try decode(bytes[start..<position], at: start)  // checks the references
                }
            }
        }

        /// Text with the predefined entities and character references resolved; any other
        /// entity is an error (there are no DTDs to define one).
        func decode(_ slice: ArraySlice<UInt8>, at offset: Int) throws(ParseError) -> String {
            guard slice.contains(0x26) else { return String(decoding: slice, as: UTF8.self) }
            var result: [UInt8] = []
            var index = slice.startIndex
            while index < slice.endIndex {
                guard slice[index] == 0x26 else {
                    result.append(slice[index])
                    index += 1
                    continue
                }
                guard let end = slice[index...].firstIndex(of: 0x3b), end - index <= 12 else {
                    throw ParseError(offset: index, message: "& must start a reference like &amp;")
                }
                let reference = String(decoding: slice[(index + 1)..<end], as: UTF8.self)
                switch reference {
                case "amp": result.append(0x26)
                case "lt": result.append(0x3c)
                case "gt": result.append(0x3e)
                case "quot": result.append(0x22)
                case "apos": result.append(0x27)
                default:
                    let scalar: UInt32?
                    if reference.hasPrefix("#x") {
                        scalar = UInt32(reference.dropFirst(2), radix: 16)
                    } else if reference.hasPrefix("#") {
                        scalar = UInt32(reference.dropFirst())
                    } else {
                        throw ParseError(offset: index, message: "unknown entity &\(reference); (only the five predefined ones)")
                    }
                    guard let scalar, scalar > 0, let character = Unicode.Scalar(scalar) else {
                        throw ParseError(offset: index, message: "bad character reference &\(reference);")
                    }
                    result += Array(String(character).utf8)
                }
                index = end + 1
            }
            return String(decoding: result, as: UTF8.self)
        }
    }
}
