/// The protocol version a connection speaks; RESP3 is chosen per connection with `HELLO 3`.
public enum RESPVersion: Int, Sendable {
    case resp2 = 2
    case resp3 = 3
}

/// One key/value pair of a RESP3 map or attribute; order is kept as sent.
public struct RESPPair: Hashable, Sendable {
    public var key: RESPValue
    public var value: RESPValue

    public init(_ key: RESPValue, _ value: RESPValue) {
        self.key = key
        self.value = value
    }
}

/// Every RESP2 and RESP3 value. Replies are built from these and encoded for the
/// connection's protocol version; RESP3-only types are downgraded for RESP2 peers.
public enum RESPValue: Hashable, Sendable {
    /// `+OK`
    case simpleString(String)
    /// `-ERR message`: the text carries its own prefix (`ERR`, `WRONGTYPE`, ...).
    case error(String)
    /// `:42`
    case integer(Int64)
    /// `$3\r\nfoo`
    case bulkString([UInt8])
    /// RESP2 null bulk string (`$-1`), RESP3 null (`_`).
    case null
    /// RESP2 null array (`*-1`), RESP3 null (`_`).
    case nullArray
    /// `*2\r\n...`
    case array([RESPValue])
    /// RESP3 `#t`; RESP2 `:1` / `:0`.
    case boolean(Bool)
    /// RESP3 `,1.5`; RESP2 bulk string.
    case double(Double)
    /// RESP3 `(12345678901234567890`; RESP2 bulk string.
    case bigNumber(String)
    /// RESP3 `!21\r\nSYNTAX invalid syntax`; RESP2 simple error.
    case bulkError([UInt8])
    /// RESP3 `=15\r\ntxt:Some string`; RESP2 bulk string of the text.
    case verbatimString(format: String, text: [UInt8])
    /// RESP3 `%2`; RESP2 flat array of keys and values.
    case map([RESPPair])
    /// RESP3 `~2`; RESP2 array.
    case set([RESPValue])
    /// RESP3 `|1` attributes followed by the value they describe; RESP2 sends only the value.
    /// The only recursive case, so the only boxed one: other replies cost no allocation.
    indirect case attribute([RESPPair], RESPValue)
    /// RESP3 `>2` out-of-band push; RESP2 array.
    case push([RESPValue])
}

extension RESPValue {
    /// `+OK`, the most common reply.
    public static let ok = RESPValue.simpleString("OK")

    /// A bulk string from UTF-8 text.
    public static func bulk(_ text: String) -> RESPValue {
        .bulkString(Array(text.utf8))
    }

    /// A bulk string of `value`'s decimal digits, written on the stack and copied once (a
    /// `String` on the way cost an allocation and a copy, twice per `TIME`; an array
    /// written in place, `Array(unsafeUninitializedCapacity:)`, took the unspecialized
    /// allocation path, with a run-time metadata look-up of about 300 instructions).
    public static func bulk(decimal value: Int64) -> RESPValue {
        // 19 digits and a sign at most.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buffer in
            var magnitude = value.magnitude
            var position = buffer.count
            repeat {
                position -= 1
                buffer[position] = UInt8(truncatingIfNeeded: 48 + magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 {
                position -= 1
                buffer[position] = 45
            }
            return .bulkString(Array(buffer[position...]))
        }
    }
}
