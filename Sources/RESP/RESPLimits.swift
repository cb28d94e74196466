/// Bounds the decoders enforce on input read off the wire; the defaults are Redis's.
public struct RESPLimits: Sendable, Hashable {
    /// Largest bulk string accepted, in bytes (Redis `proto-max-bulk-len`, 512 MB).
    public static let defaultMaxBulkLength = 512 * 1024 * 1024
    /// Largest element count of an array, map, set, push or attribute (Redis's limit before authentication).
    public static let defaultMaxArrayCount = 1024 * 1024
    /// Longest inline command or header line buffered without a line end (Redis `PROTO_INLINE_MAX_SIZE`).
    public static let defaultMaxInlineLength = 64 * 1024
    /// Deepest nesting of aggregate values the value decoder accepts.
    public static let defaultMaxNestingDepth = 32

    /// Largest bulk string accepted, in bytes.
    public var maxBulkLength: Int
    /// Largest element count of an aggregate value.
    public var maxArrayCount: Int
    /// Longest line buffered while waiting for its line end.
    public var maxInlineLength: Int
    /// Deepest nesting of aggregate values.
    public var maxNestingDepth: Int

    public init(
        maxBulkLength: Int = defaultMaxBulkLength,
        maxArrayCount: Int = defaultMaxArrayCount,
        maxInlineLength: Int = defaultMaxInlineLength,
        maxNestingDepth: Int = defaultMaxNestingDepth
    ) {
        self.maxBulkLength = maxBulkLength
        self.maxArrayCount = maxArrayCount
        self.maxInlineLength = maxInlineLength
        self.maxNestingDepth = maxNestingDepth
    }
}
