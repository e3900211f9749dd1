import ResmonSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Number formatting as C's printf does it, for formats other tools parse.
enum CFormat {
    static func format(_ value: Double, _ format: String) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        _ = withVaList([value]) { arguments in vsnprintf(&buffer, buffer.count, format, arguments) }
        return String(decoding: buffer.lazy.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// rrdtool dump's `%.10e`, NaN as `NaN`, infinities as `inf` / `-inf`.
    static func rrdtool(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        return format(value, "%.10e")
    }

    /// xapi's float formatting in rrd_updates: `%0.4f`, `NaN`, `0.0`, `infinity`.
    static func xapi(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "infinity" : "-infinity" }
        if value == 0 { return "0.0" }
        return format(value, "%0.4f")
    }
}

/// `rrdtool dump` XML of one database, which `rrdtool restore` turns back into an .rrd file.
public enum RRDToolXML {
    public static func dump(_ database: RoundRobinDatabase, name: String = "value") -> String {
        var xml = """
            <?xml version="1.0" encoding="utf-8"?>
            <!DOCTYPE rrd SYSTEM "https://oss.oetiker.ch/rrdtool/rrdtool.dtd">
            <!-- Round Robin Database Dump (resmon) -->
            <rrd>
            \t<version>0003</version>
            \t<step>\(database.step)</step> <!-- Seconds -->
            \t<lastupdate>\(database.lastUpdate)</lastupdate>

            \t<ds>
            \t\t<name> \(escape(name)) </name>
            \t\t<type> \(database.kind.rawValue) </type>
            \t\t<minimal_heartbeat>\(database.heartbeat)</minimal_heartbeat>
            \t\t<min>\(CFormat.rrdtool(database.minimum))</min>
            \t\t<max>\(CFormat.rrdtool(database.maximum))</max>

            \t\t<!-- PDP Status -->
            \t\t<last_ds>\(lastReading(database))</last_ds>
            \t\t<value>\(CFormat.rrdtool(database.pendingPDP.value))</value>
            \t\t<unknown_sec> \(database.pendingPDP.unknownSeconds) </unknown_sec>
            \t</ds>

            \t<!-- Round Robin Archives -->

            """
        for (index, archive) in database.archives.enumerated() {
            let pending = database.pendingConsolidation(index)
            xml += """
                \t<rra>
                \t\t<cf>\(archive.function.rawValue)</cf>
                \t\t<pdp_per_row>\(archive.stepsPerRow)</pdp_per_row> <!-- \(archive.stepsPerRow * database.step) seconds -->

                \t\t<params>
                \t\t<xff>\(CFormat.rrdtool(archive.xff))</xff>
                \t\t</params>
                \t\t<cdp_prep>
                \t\t\t<ds>
                \t\t\t<primary_value>\(CFormat.rrdtool(pending.primary))</primary_value>
                \t\t\t<secondary_value>\(CFormat.rrdtool(pending.secondary))</secondary_value>
                \t\t\t<value>\(CFormat.rrdtool(pending.value))</value>
                \t\t\t<unknown_datapoints>\(pending.unknownPDPs)</unknown_datapoints>
                \t\t\t</ds>
                \t\t</cdp_prep>
                \t\t<database>

                """
            let (firstEnd, values) = database.rows(of: index)
            let span = archive.stepsPerRow * database.step
            for (offset, value) in values.enumerated() {
                xml += "\t\t\t<!-- \(firstEnd + offset * span) --> <row><v>\(CFormat.rrdtool(Double(value)))</v></row>\n"
            }
            xml += "\t\t</database>\n\t</rra>\n"
        }
        return xml + "</rrd>\n"
    }

    private static func lastReading(_ database: RoundRobinDatabase) -> String {
        let reading = database.lastReading
        guard reading.isFinite else { return "U" }
        if database.kind == .gauge { return CFormat.format(reading, "%.10g") }
        return reading == reading.rounded() && abs(reading) < 1e18 ? String(Int64(reading)) : CFormat.format(reading, "%.0f")
    }
}

func escape(_ text: String) -> String {
    var escaped = ""
    for character in text {
        switch character {
        case "&": escaped += "&amp;"
        case "<": escaped += "&lt;"
        case ">": escaped += "&gt;"
        case "\"": escaped += "&quot;"
        default: escaped.append(character)
        }
    }
    return escaped
}

/// xapi's `rrd_updates` export (xen-api ocaml/libs/xapi-rrd/lib/rrd_updates.ml): the rows of
/// several objects' archives at one resolution, newest first, in the xport XML or the JSON form.
public enum RRDUpdates {
    /// One column source: an object (`host` or `vm`), its uuid, a data-source name, the
    /// database holding it, and a factor applied on export (bytes to KiB for xapi's names).
    public struct Column {
        public let objectType: String
        public let uuid: String
        public let name: String
        public let database: RoundRobinDatabase
        public let scale: Double

        public init(objectType: String, uuid: String, name: String, database: RoundRobinDatabase, scale: Double = 1) {
            self.objectType = objectType
            self.uuid = uuid
            self.name = name
            self.database = database
            self.scale = scale
        }
    }

    public struct Table {
        public let start: Int
        public let step: Int
        public let end: Int
        public let legend: [String]
        public let rows: [(time: Int, values: [Double])]
    }

    /// Chooses the archives as xapi does: the finest whose rows are at least `interval` seconds
    /// and that reach back to `start` (negative, or `relative`: seconds before the last update,
    /// so that "-0" is the last update), else the coarsest; every function at that resolution
    /// unless `function` names one.
    public static func table(
        _ columns: [Column], start requestedStart: Int, relative: Bool = false, interval: Int,
        function: ConsolidationFunction?
    ) -> Table? {
        guard let reference = columns.max(by: { $0.database.lastUpdate < $1.database.lastUpdate })?.database else { return nil }
        let step = reference.step
        let lastUpdate = reference.lastUpdate
        // Within the times anyone may ask for (InputNumber.epochSeconds, either way): a start
        // such as Int.max or Int.min would overflow the arithmetic below.
        let limit = InputNumber.epochSeconds.upperBound
        let bounded = min(max(requestedStart, -limit), limit)
        let start = bounded < 0 || relative ? lastUpdate + bounded : bounded
        let pdpInterval = max(1, interval / step)
        let candidates = reference.archives.enumerated()
            .filter { function == nil || $0.element.function == function }
            .filter { $0.element.stepsPerRow >= pdpInterval }
        guard !candidates.isEmpty else { return nil }
        let lastPDP = lastUpdate - lastUpdate % step
        let chosen =
            candidates.first { $0.element.rows * $0.element.stepsPerRow * step >= lastPDP - start }
            ?? candidates.max { $0.element.stepsPerRow < $1.element.stepsPerRow }!
        let perRow = chosen.element.stepsPerRow
        let rowCount = chosen.element.rows
        let archives = candidates.filter { $0.element.stepsPerRow == perRow && $0.element.rows == rowCount }
        let span = perRow * step
        let lastRow = lastUpdate - lastUpdate % span
        let firstRow = (start - start % span) + span

        var legend: [String] = []
        var sources: [(column: Column, archive: Int)] = []
        // Per object: every archive (function), then every data source, as xapi orders them.
        var objects: [(String, String)] = []
        for column in columns where !objects.contains(where: { $0 == (column.objectType, column.uuid) }) {
            objects.append((column.objectType, column.uuid))
        }
        for (type, uuid) in objects {
            let members = columns.filter { $0.objectType == type && $0.uuid == uuid }
            for archive in archives {
                for column in members {
                    guard let index = column.database.archives.firstIndex(of: archive.element) else { continue }
                    legend.append("\(archive.element.function.rawValue):\(type):\(uuid):\(column.name)")
                    sources.append((column, index))
                }
            }
        }
        // Each column's rows read once: a ring held as runs finds one row by walking its runs.
        let series = sources.map { $0.column.database.rows(of: $0.archive) }
        var rows: [(time: Int, values: [Double])] = []
        var offset = 0
        while offset < rowCount {
            let time = lastRow - offset * span
            if time < start { break }
            let values = zip(sources, series).map { source, series in
                // As `value(_:endingAt:)`: rows end on multiples of the span, NaN outside the archive.
                let (index, remainder) = (time - series.firstRowEnd).quotientAndRemainder(dividingBy: span)
                let value = remainder == 0 && index >= 0 && index < series.values.count ? Double(series.values[index]) : .nan
                return value * source.column.scale
            }
            rows.append((time, values))
            offset += 1
        }
        return Table(start: firstRow, step: span, end: lastRow, legend: legend, rows: rows)
    }

    /// `notes` go in as comments at the start of `<meta>` (`--` inside one is spelt `- -`).
    public static func xml(_ table: Table, notes: [String] = []) -> String {
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><xport><meta>"
        for note in notes {
            var text = note
            while text.contains("--") { text = text.replacingOccurrences("--", "- -") }
            xml += "<!-- resmon: " + text + " -->"
        }
        xml += "<start>\(table.start)</start><step>\(table.step)</step><end>\(table.end)</end>"
        xml += "<rows>\(table.rows.count)</rows><columns>\(table.legend.count)</columns><legend>"
        for entry in table.legend { xml += "<entry>\(escape(entry))</entry>" }
        xml += "</legend></meta><data>"
        for row in table.rows {
            xml += "<row><t>\(row.time)</t>"
            for value in row.values { xml += "<v>\(CFormat.xapi(value))</v>" }
            xml += "</row>"
        }
        return xml + "</data></xport>"
    }

    public static func json(_ table: Table) -> String {
        func quoted(_ text: String) -> String {
            "\"" + text.replacingOccurrences("\\", "\\\\").replacingOccurrences("\"", "\\\"") + "\""
        }
        var json = "{\"meta\":{\"start\":\(table.start),\"step\":\(table.step),\"end\":\(table.end),"
        json += "\"rows\":\(table.rows.count),\"columns\":\(table.legend.count),\"legend\":["
        json += table.legend.map(quoted).joined(separator: ",") + "]},\"data\":["
        json += table.rows.map { row in
            "{\"t\":\(row.time),\"values\":[" + row.values.map { quoted(CFormat.xapi($0)) }.joined(separator: ",") + "]}"
        }.joined(separator: ",")
        return json + "]}"
    }
}

extension String {
    func replacingOccurrences(_ target: String, _ replacement: String) -> String {
        guard contains(target) else { return self }
        return split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
