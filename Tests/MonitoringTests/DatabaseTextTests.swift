import ResmonTestSupport
import Storage
import Testing

/// Text goes to SQLite and comes back by its length in bytes: a NUL inside a value (from a
/// plug-in's label, say) is kept, not a place where the value silently ends.
@Suite struct DatabaseTextTests {
    @Test func textWithANulInsideComesBackWhole() throws {
        let directory = TemporaryDirectory("resmon-db-text")
        let database = try Database(path: directory.file("text.db"))
        try database.execute("CREATE TABLE t (value TEXT)")
        for value in ["app:x:y\u{0}zzz", "\u{0}", "plain", "", "é\u{0}ü"] {
            try database.execute("DELETE FROM t")
            try database.execute("INSERT INTO t VALUES (?)", [.text(value)])
            let rows = try database.execute("SELECT value, length(CAST(value AS BLOB)) FROM t")
            let row = try #require(rows.first)
            #expect(row.first?.text == value)
            #expect(row.last?.integer == Int64(value.utf8.count))
        }
    }
}
