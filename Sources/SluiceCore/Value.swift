/// Keys are kept as raw bytes: Redis keys are binary-safe and need no text decoding.
public typealias Key = [UInt8]

/// What a key holds. Each command family checks the case it needs and answers
/// `WRONGTYPE` for any other.
public enum Value: Sendable, Equatable {
    case string([UInt8])

    /// The name `TYPE` reports.
    public var typeName: String {
        switch self {
        case .string: "string"
        }
    }
}
