// Counters kept next to `ServerStats` under the database lock. `INFO` and `/metrics`
// both read them, so the two always agree; updating one is a plain addition.

/// The native rate-limit commands whose allowed/denied decisions are counted.
enum RateLimitCommand: Int, CaseIterable {
    case consume, clThrottle, acquire, incr, decr, add, incrAndSum

    /// The command's name as `COMMAND` lists it.
    var name: String {
        switch self {
        case .consume: "consume"
        case .clThrottle: "cl.throttle"
        case .acquire: "acquire"
        case .incr: "incr"
        case .decr: "decr"
        case .add: "add"
        case .incrAndSum: "incr_and_sum"
        }
    }
}

/// Allowed and denied decisions per native rate-limit command. Bounded INCR/DECR
/// count here only in their four-argument form; Redis's INCR decides nothing.
struct RateLimitDecisions {
    private(set) var allowed = [Int](repeating: 0, count: RateLimitCommand.allCases.count)
    private(set) var denied = [Int](repeating: 0, count: RateLimitCommand.allCases.count)

    mutating func record(_ command: RateLimitCommand, allowed isAllowed: Bool) {
        if isAllowed {
            allowed[command.rawValue] += 1
        } else {
            denied[command.rawValue] += 1
        }
    }

    /// Adds `other`'s counts to these and zeroes them there.
    mutating func add(taking other: inout RateLimitDecisions) {
        for index in allowed.indices {
            allowed[index] += other.allowed[index]
            denied[index] += other.denied[index]
        }
        other = RateLimitDecisions()
    }
}

extension CommandError {
    /// The first word of the reply (`ERR`, `WRONGTYPE`, `NOAUTH`), which `INFO
    /// errorstats` and `sluice_errors_total` count by; built without the whole message.
    var prefix: String {
        switch kind {
        case .wrongType: return "WRONGTYPE"
        case .message(let text): return ServerStats.errorPrefix(text)
        default: return "ERR"
        }
    }
}

extension ServerStats {
    /// Counts an error reply by its prefix, as Redis's `errorstat_*` lines do.
    mutating func recordError(_ error: CommandError) {
        if !error.alreadyCounted { recordError(prefix: error.prefix) }
    }

    /// Counts an error reply given as its text (`ERR ...`, `WRONGTYPE ...`).
    mutating func recordError(text: String) {
        recordError(prefix: Self.errorPrefix(text))
    }

    /// An error text's prefix, its first word, as `errorstat_<prefix>` names it.
    static func errorPrefix(_ text: String) -> String {
        String(text.prefix { $0 != " " }.prefix(32))
    }

    mutating func recordError(prefix: String) {
        errorReplies[prefix, default: 0] += 1
    }
}
