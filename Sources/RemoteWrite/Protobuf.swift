/// The protobuf wire format, as much of it as remote_write's four messages use: varints,
/// length-delimited fields (strings, nested messages) and 64-bit fixed fields (doubles).
/// A dozen lines, where libprotobuf-c would bring a dependency, generated code and a copy of
/// every sample into its structures before encoding.
struct ProtobufWriter {
    /// How a field's value is laid out (the low three bits of its key).
    enum WireType: UInt8 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
    }

    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    mutating func key(_ field: Int, _ type: WireType) { varint(UInt64(field) << 3 | UInt64(type.rawValue)) }

    /// A string or an already encoded message.
    mutating func lengthDelimited(_ field: Int, _ content: some Collection<UInt8>) {
        key(field, .lengthDelimited)
        varint(UInt64(content.count))
        bytes.append(contentsOf: content)
    }

    mutating func string(_ field: Int, _ text: String) { lengthDelimited(field, text.utf8) }

    mutating func double(_ field: Int, _ value: Double) {
        key(field, .fixed64)
        let pattern = value.bitPattern
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: pattern >> UInt64(shift))) }
    }

    /// An `int64`: two's complement as a varint (ten bytes when negative).
    mutating func int64(_ field: Int, _ value: Int64) {
        key(field, .varint)
        varint(UInt64(bitPattern: value))
    }
}

/// remote_write 1.0's messages (prometheus/prompb types.proto and remote.proto):
/// `WriteRequest { repeated TimeSeries timeseries = 1; }`,
/// `TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; }`,
/// `Label { string name = 1; string value = 2; }`,
/// `Sample { double value = 1; int64 timestamp = 2; }` (milliseconds since the epoch).
public enum RemoteWriteEncoding {
    /// A series' labels as the `labels` fields of a TimeSeries, sorted by name as the
    /// specification requires (`__name__` among them). Encoded once per series.
    public static func labels(_ labels: [(name: String, value: String)]) -> [UInt8] {
        var writer = ProtobufWriter()
        for label in labels.sorted(by: { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }) {
            var pair = ProtobufWriter()
            pair.string(1, label.name)
            pair.string(2, label.value)
            writer.lengthDelimited(1, pair.bytes)
        }
        return writer.bytes
    }

    /// Appends one `samples` field of a TimeSeries, written in place (no message of its own:
    /// this runs once per sample sent).
    static func appendSample(_ value: Double, milliseconds: Int64, to writer: inout ProtobufWriter) {
        let timestamp = UInt64(bitPattern: milliseconds)
        // 1 + 8 bytes for the value's key and fixed64, 1 for the timestamp's key, then its varint.
        writer.key(2, .lengthDelimited)
        writer.varint(UInt64(10 + (64 - timestamp.leadingZeroBitCount + 6) / 7 + (timestamp == 0 ? 1 : 0)))
        writer.double(1, value)
        writer.int64(2, milliseconds)
    }

    /// Appends one `timeseries` field of a WriteRequest: encoded labels, then encoded samples.
    static func appendSeries(labels: [UInt8], samples: [UInt8], to writer: inout ProtobufWriter) {
        writer.key(1, .lengthDelimited)
        writer.varint(UInt64(labels.count + samples.count))
        writer.bytes += labels
        writer.bytes += samples
    }

    /// A whole WriteRequest: each series with its samples in time order.
    public static func writeRequest(_ series: [(labels: [(name: String, value: String)], samples: [(value: Double, milliseconds: Int64)])])
        -> [UInt8]
    {
        var writer = ProtobufWriter()
        for entry in series {
            var samples = ProtobufWriter()
            for sample in entry.samples { appendSample(sample.value, milliseconds: sample.milliseconds, to: &samples) }
            appendSeries(labels: labels(entry.labels), samples: samples.bytes, to: &writer)
        }
        return writer.bytes
    }
}
