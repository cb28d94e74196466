import Logging
import SluiceCore
import Synchronization

/// Logs failed authentications at most once per `interval`: a client guessing
/// passwords in a loop must not flood the log. The first failure in a quiet period
/// is logged at once; the ones after it are counted and reported with the next line.
struct RateLimitedLog {
    let interval: Int64
    private var lastLogged: Instant?
    private var suppressed = 0

    init(intervalNanoseconds: Int64) {
        self.interval = intervalNanoseconds
    }

    /// Whether to write a line now, and how many events were held back since the last one.
    mutating func record(now: Instant) -> (log: Bool, suppressed: Int) {
        if let last = lastLogged, now.nanoseconds - last.nanoseconds < interval {
            suppressed += 1
            return (false, 0)
        }
        let held = suppressed
        lastLogged = now
        suppressed = 0
        return (true, held)
    }
}

/// The server's auth-failure log; its own small lock, taken only when a password is wrong.
final class AuthFailureLog: Sendable {
    static let interval: Int64 = 10 * 1_000_000_000
    private let state = Mutex(RateLimitedLog(intervalNanoseconds: AuthFailureLog.interval))

    func record(client: String, user: String, now: Instant, logger: Logger) {
        let (log, suppressed) = state.withLock { $0.record(now: now) }
        guard log else { return }
        logger.warning("Authentication failed", metadata: [
            "client": .string(client), "user": .string(user), "suppressed": .stringConvertible(suppressed),
        ])
    }
}
