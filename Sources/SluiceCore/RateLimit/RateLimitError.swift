/// A rate-limit parameter or argument that cannot be used, naming the argument.
///
/// The message is meant to be sent to the client as is (after the server's `ERR ` prefix),
/// e.g. `capacity must be a positive integer`.
public struct RateLimitError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Kind: Hashable, Sendable {
        case notInteger
        case notPositiveInteger
        case notNonNegativeInteger
        case notPositiveNumber
        case notNonNegativeNumber
        case belowOneNanosecond
        case tooLarge(maximum: String)
        case zeroRate
        case overflow
        case counterOverflow
        case emptyRateList
        case duplicateInterval(earlier: Int, later: Int)
        case limitNotIncreasing(earlier: Int, later: Int)
        case densityIncreasing(earlier: Int, later: Int)
    }

    private let kind: Kind

    /// The argument at fault, as named in the messages (`capacity`, `ttl`, `rates`, ...).
    public let argument: String

    private init(_ kind: Kind, argument: String) {
        self.kind = kind
        self.argument = argument
    }

    public var description: String {
        switch kind {
        case .notInteger: "\(argument) must be an integer"
        case .notPositiveInteger: "\(argument) must be a positive integer"
        case .notNonNegativeInteger: "\(argument) must be a non-negative integer"
        case .notPositiveNumber: "\(argument) must be a positive number"
        case .notNonNegativeNumber: "\(argument) must be a non-negative number"
        case .belowOneNanosecond: "\(argument) must be at least one nanosecond"
        case .tooLarge(let maximum): "\(argument) must be at most \(maximum)"
        // redis-cell's own text for a rate whose emission interval is zero.
        case .zeroRate: "Zero rates are not supported"
        case .overflow: "\(argument) is out of range for this rate"
        // Redis's own text for INCRBY/DECRBY past the Int64 range.
        case .counterOverflow: "increment or decrement would overflow"
        case .emptyRateList: "rates must not be empty"
        case .duplicateInterval(let earlier, let later):
            "rates must have distinct intervals: rate \(later) repeats the interval of rate \(earlier)"
        case .limitNotIncreasing(let earlier, let later):
            "a rate with a longer interval must have a larger limit: rate \(later) does not exceed rate \(earlier)"
        case .densityIncreasing(let earlier, let later):
            "a rate with a longer interval must not allow more per millisecond: rate \(later) is denser than rate \(earlier)"
        }
    }

    public static func notInteger(_ argument: String) -> Self { Self(.notInteger, argument: argument) }
    public static func notPositiveInteger(_ argument: String) -> Self { Self(.notPositiveInteger, argument: argument) }
    public static func notNonNegativeInteger(_ argument: String) -> Self { Self(.notNonNegativeInteger, argument: argument) }
    public static func notPositiveNumber(_ argument: String) -> Self { Self(.notPositiveNumber, argument: argument) }
    public static func notNonNegativeNumber(_ argument: String) -> Self { Self(.notNonNegativeNumber, argument: argument) }
    public static func belowOneNanosecond(_ argument: String) -> Self { Self(.belowOneNanosecond, argument: argument) }
    public static func tooLarge(_ argument: String, maximum: String) -> Self { Self(.tooLarge(maximum: maximum), argument: argument) }
    public static func zeroRate(_ argument: String) -> Self { Self(.zeroRate, argument: argument) }
    public static func overflow(_ argument: String) -> Self { Self(.overflow, argument: argument) }
    public static func counterOverflow(_ argument: String) -> Self { Self(.counterOverflow, argument: argument) }
    public static var emptyRateList: Self { Self(.emptyRateList, argument: "rates") }
    public static func duplicateInterval(earlier: Int, later: Int) -> Self {
        Self(.duplicateInterval(earlier: earlier, later: later), argument: "rates")
    }
    public static func limitNotIncreasing(earlier: Int, later: Int) -> Self {
        Self(.limitNotIncreasing(earlier: earlier, later: later), argument: "rates")
    }
    public static func densityIncreasing(earlier: Int, later: Int) -> Self {
        Self(.densityIncreasing(earlier: earlier, later: later), argument: "rates")
    }
}
