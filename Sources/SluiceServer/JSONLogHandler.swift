import Logging

#if canImport(Glibc)
import Glibc
#endif

/// A swift-log handler writing one JSON object per line (`--log-format json`):
/// `{"ts":"2026-11-23T14:03:19.123Z","level":"info","message":"...","label":"sluice","metadata":{...}}`.
/// Each line goes out in one `write(2)` call (short writes aside), so lines from
/// different threads do not interleave.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    /// Wall-clock time as seconds and nanoseconds since the epoch; injected by tests.
    private let clock: @Sendable () -> (seconds: Int, nanoseconds: Int)
    /// Where a finished line (newline included) goes; standard error unless injected.
    private let sink: @Sendable (String) -> Void

    public init(
        label: String,
        metadataProvider: Logger.MetadataProvider? = nil,
        clock: @escaping @Sendable () -> (seconds: Int, nanoseconds: Int) = JSONLogHandler.wallClock,
        sink: @escaping @Sendable (String) -> Void = JSONLogHandler.standardError
    ) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.clock = clock
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let now = clock()
        var line = "{\"ts\":"
        Self.appendString(Self.timestamp(seconds: now.seconds, nanoseconds: now.nanoseconds), to: &line)
        line += ",\"level\":"
        Self.appendString(event.level.rawValue, to: &line)
        line += ",\"message\":"
        Self.appendString(event.message.description, to: &line)
        line += ",\"label\":"
        Self.appendString(label, to: &line)
        line += ",\"metadata\":"
        Self.append(.dictionary(merged), to: &line)
        line += "}\n"
        sink(line)
    }

    // MARK: Formatting

    /// RFC 3339 in UTC with milliseconds.
    static func timestamp(seconds: Int, nanoseconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func padded(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(padded(parts.tm_year + 1900, 4))-\(padded(parts.tm_mon + 1, 2))-\(padded(parts.tm_mday, 2))T"
            + "\(padded(parts.tm_hour, 2)):\(padded(parts.tm_min, 2)):\(padded(parts.tm_sec, 2))."
            + "\(padded(Int32(nanoseconds / 1_000_000), 3))Z"
    }

    private static func append(_ value: Logger.MetadataValue, to out: inout String) {
        switch value {
        case .string(let text):
            appendString(text, to: &out)
        case .stringConvertible(let convertible):
            appendString(convertible.description, to: &out)
        case .array(let values):
            out += "["
            for (index, element) in values.enumerated() {
                if index > 0 { out += "," }
                append(element, to: &out)
            }
            out += "]"
        case .dictionary(let entries):
            out += "{"
            // Sorted, so lines are stable for tests and diffs.
            for (index, key) in entries.keys.sorted().enumerated() {
                if index > 0 { out += "," }
                appendString(key, to: &out)
                out += ":"
                append(entries[key]!, to: &out)
            }
            out += "}"
        }
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    static func appendString(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }

    // MARK: Defaults

    public static let wallClock: @Sendable () -> (seconds: Int, nanoseconds: Int) = {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return (spec.tv_sec, spec.tv_nsec)
    }

    public static let standardError: @Sendable (String) -> Void = { line in
        var line = line
        line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 { return }
                offset += written
            }
        }
    }
}
