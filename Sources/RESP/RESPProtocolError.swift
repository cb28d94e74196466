/// Malformed input, or input beyond a `RESPLimits` bound.
///
/// `message` is Redis's wording without its `ERR Protocol error: ` prefix, so the server
/// replies `-ERR Protocol error: <message>` and closes the connection, as Redis does.
public struct RESPProtocolError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong, e.g. `invalid multibulk length`.
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String {
        "Protocol error: \(self.message)"
    }
}

extension RESPProtocolError {
    static let invalidMultibulkLength = RESPProtocolError("invalid multibulk length")
    static let invalidBulkLength = RESPProtocolError("invalid bulk length")
    static let tooBigInlineRequest = RESPProtocolError("too big inline request")
    static let unbalancedQuotes = RESPProtocolError("unbalanced quotes in request")
    static let tooBigMultibulkCountString = RESPProtocolError("too big mbulk count string")
    static let tooBigBulkCountString = RESPProtocolError("too big bulk count string")
    static let expectedCRLFAfterBulkData = RESPProtocolError("expected CRLF after bulk data")
    static let expectedCRLF = RESPProtocolError("expected CRLF at end of line")
    static let lineTooLong = RESPProtocolError("line too long")
    static let invalidInteger = RESPProtocolError("invalid integer")
    static let invalidDouble = RESPProtocolError("invalid double")
    static let invalidBoolean = RESPProtocolError("invalid boolean")
    static let invalidNull = RESPProtocolError("invalid null")
    static let invalidBigNumber = RESPProtocolError("invalid big number")
    static let invalidVerbatimString = RESPProtocolError("invalid verbatim string")
    static let nestingTooDeep = RESPProtocolError("nesting too deep")

    /// A byte where a `$` bulk header was required.
    static func expectedDollar(got byte: UInt8) -> RESPProtocolError {
        RESPProtocolError("expected '$', got '\(Character(Unicode.Scalar(byte)))'")
    }

    /// A byte that starts no RESP2 or RESP3 type.
    static func unknownType(_ byte: UInt8) -> RESPProtocolError {
        RESPProtocolError("unknown type byte '\(Character(Unicode.Scalar(byte)))'")
    }
}
