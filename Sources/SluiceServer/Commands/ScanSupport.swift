#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RESP
import SluiceCore

/// What `SCAN`, `HSCAN`, `SSCAN` and `ZSCAN` share: the cursor as Redis reads it, the
/// options, and the reply's shape.
struct ScanOptions {
    var pattern: GlobPattern?
    var count = 10
    /// `SCAN`'s `TYPE`, lowercased.
    var type: String?

    /// The reply for a key that is not there: Redis answers it before reading the options.
    static let emptyReply = RESPValue.array([.bulk("0"), .array([])])

    /// A cursor as Redis 7.0 reads it, with C's `strtoul`: a sign is allowed (`-1` wraps
    /// to the largest cursor), the text ends at a NUL byte, and an empty one is 0; a
    /// leading space, anything after the digits or a value past 64 bits is refused.
    static func parseCursor(_ bytes: [UInt8]) -> UInt64? {
        guard bytes.first.map({ !(9...13).contains($0) && $0 != UInt8(ascii: " ") }) ?? true else { return nil }
        guard let (value, outOfRange) = parseCString(bytes, { strtoul($0, $1, 10) }), !outOfRange else { return nil }
        return UInt64(value)
    }

    /// The next argument as a cursor; `-ERR invalid cursor` otherwise.
    static func cursor(_ arguments: inout Arguments) throws(CommandError) -> UInt64 {
        guard let cursor = parseCursor(try arguments.next()) else { throw .err("invalid cursor") }
        return cursor
    }

    /// Reads the rest of the arguments: `MATCH pattern`, `COUNT count` (at least 1) and,
    /// for `SCAN` alone, `TYPE type`; anything else is `-ERR syntax error`.
    init(_ arguments: inout Arguments, allowsType: Bool = false) throws(CommandError) {
        while !arguments.isEmpty {
            switch try arguments.nextKeyword() {
            case "MATCH":
                pattern = GlobPattern(try arguments.next())
            case "COUNT":
                let value = try arguments.nextInteger()
                guard value >= 1 else { throw .syntax }
                count = Int(clamping: value)
            case "TYPE" where allowsType:
                type = try arguments.nextString().lowercased()
            default:
                throw .syntax
            }
        }
    }

    /// Whether a key, field or member is given back: `MATCH` filters after the step, so a
    /// step can give nothing and still not be the last, as in Redis.
    func matches(_ bytes: [UInt8]) -> Bool {
        guard let pattern, !pattern.matchesEverything else { return true }
        return pattern.matches(bytes)
    }

    /// `[cursor, items]`, the cursor as a bulk string, in RESP2 and RESP3 alike.
    static func reply(cursor: UInt64, _ items: [RESPValue]) -> RESPValue {
        .array([.bulk(String(cursor)), .array(items)])
    }

    /// `HSCAN`/`SSCAN`/`ZSCAN key cursor [options]`, read in Redis's order: the cursor,
    /// then the key (a missing one answers `emptyReply`, another type `WRONGTYPE`), then
    /// the options. `step` gives the next cursor and the step's reply items.
    static func scan<C: KeyspaceCollection>(
        _ invocation: inout Invocation, _ state: inout DatabaseState, _ kind: C.Type,
        _ step: (_ collection: C, _ cursor: UInt64, _ options: ScanOptions) -> (cursor: UInt64, items: [RESPValue])
    ) throws(CommandError) -> RESPValue {
        let key = try invocation.arguments.next()
        let cursor = try Self.cursor(&invocation.arguments)
        guard let collection = try state.keyspace.collection(key, kind, now: invocation.now) else { return emptyReply }
        let options = try ScanOptions(&invocation.arguments)
        let result = step(collection, cursor, options)
        return reply(cursor: result.cursor, result.items)
    }
}
