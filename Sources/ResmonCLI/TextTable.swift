import ResmonAPI

/// A table with aligned columns, as `resmon stats` prints it.
public struct TextTable {
    var header: [String]
    var rows: [[String]] = []
    /// Columns aligned to the right (numbers).
    var rightAligned: Set<Int> = []
    /// Columns that give up width, their cells cut with "…", when the table is wider than
    /// `maximumWidth`: in order, each column down to its floor (never below its header), so a
    /// column may appear twice, first with a generous floor (names and messages; `--json` and
    /// `show` have them whole).
    var elidable: [(column: Int, floor: Int)] = []
    /// A terminal's classic width: tables fit it.
    public static let maximumWidth = 100

    public init(header: [String], rightAligned: Set<Int> = [], elidable: [(column: Int, floor: Int)] = []) {
        self.header = header
        self.rightAligned = rightAligned
        self.elidable = elidable
    }

    /// A cell is one line: a line break or tab in server text would break the columns.
    public mutating func append(_ row: [String]) { rows.append(row.map { TerminalText.visible($0, keepingLineBreaks: false) }) }

    public func render() -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count { widths[index] = max(widths[index], cell.count) }
        }
        var excess = widths.reduce(2 * (widths.count - 1), +) - TextTable.maximumWidth
        for (column, floor) in elidable where excess > 0 && column < widths.count {
            let cut = min(excess, max(0, widths[column] - max(header[column].count, floor)))
            widths[column] -= cut
            excess -= cut
        }
        func fitted(_ cell: String, _ width: Int) -> String {
            cell.count <= width ? cell : String(cell.prefix(width - 1)) + "…"
        }
        func line(_ cells: [String]) -> String {
            var text = ""
            for (index, whole) in cells.enumerated() {
                let cell = index < widths.count ? fitted(whole, widths[index]) : whole
                let padding = String(repeating: " ", count: max(0, widths[index] - cell.count))
                let last = index == cells.count - 1
                text += rightAligned.contains(index) ? padding + cell : cell + (last ? "" : padding)
                if !last { text += "  " }
            }
            return text
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n") + "\n"
    }
}
