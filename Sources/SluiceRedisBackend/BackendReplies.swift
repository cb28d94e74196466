import RESP
import SluiceCore

// Script replies back into the algorithms' result types, so backend mode can build its
// command replies with the same code as in-memory mode. nil means a reply of another
// shape (a script and a server out of step): a bug, to be reported as an error.

extension LeakyBucketDecision {
    /// leaky_bucket.lua's `[success, level, until_next_drop_ns, blocked_for_ns|nil]`.
    public init?(backendReply reply: RESPValue) {
        guard case .array(let fields) = reply, fields.count == 4,
              case .integer(let success) = fields[0], case .integer(let level) = fields[1],
              case .integer(let untilNextDrop) = fields[2]
        else { return nil }
        let blockedFor: Int64?
        switch fields[3] {
        case .integer(let nanoseconds): blockedFor = nanoseconds
        case .null: blockedFor = nil
        default: return nil
        }
        self.init(success: success == 1, level: level, untilNextDropNanoseconds: untilNextDrop, blockedForNanoseconds: blockedFor)
    }
}

extension ThrottleResult {
    /// cell_throttle.lua's seven integers: redis-cell's five, then retry_after_ns and reset_after_ns.
    public init?(backendReply reply: RESPValue) {
        guard case .array(let fields) = reply, fields.count == 7 else { return nil }
        var numbers: [Int64] = []
        for field in fields {
            guard case .integer(let number) = field else { return nil }
            numbers.append(number)
        }
        // From 2^53 ns on (a stored TAT written by hand, months ahead) the script's
        // nanoseconds are rounded doubles, and its whole seconds are the exact ones.
        func nanoseconds(_ field: Int64, seconds: Int64) -> Int64 {
            guard field >= 1 << 53 else { return field }
            let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
            return overflow ? .max : product
        }
        self.init(limited: numbers[0] == 1, limit: numbers[1], remaining: numbers[2],
                  retryAfterNanoseconds: nanoseconds(numbers[5], seconds: numbers[3]),
                  resetAfterNanoseconds: nanoseconds(numbers[6], seconds: numbers[4]))
    }
}
