#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A point in wall-clock time, in nanoseconds since the Unix epoch.
///
/// Wall-clock rather than monotonic because expiry deadlines (`EXPIREAT`, `TIME`)
/// are absolute Unix times that clients send and read back.
public struct Instant: Comparable, Hashable, Sendable {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
    }

    public init(milliseconds: Int64) {
        // Saturates rather than wrapping: a deadline far in the future stays far in the future.
        let (scaled, overflow) = milliseconds.multipliedReportingOverflow(by: 1_000_000)
        self.nanoseconds = overflow ? (milliseconds < 0 ? .min : .max) : scaled
    }

    /// Whole milliseconds since the epoch, rounded down.
    public var milliseconds: Int64 {
        nanoseconds / 1_000_000 - (nanoseconds % 1_000_000 < 0 ? 1 : 0)
    }

    /// Whole microseconds since the epoch, rounded down.
    public var microseconds: Int64 {
        nanoseconds / 1_000 - (nanoseconds % 1_000 < 0 ? 1 : 0)
    }

    /// Seconds since the epoch as a double, for algorithms that work in fractional seconds.
    public var seconds: Double {
        Double(nanoseconds) / 1e9
    }

    public static func < (lhs: Instant, rhs: Instant) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }
}

/// Where commands read "now". Production reads the system clock once per command;
/// tests move a manual clock by hand so expiry and rate limits need no sleeps.
public protocol TimeSource: Sendable {
    func now() -> Instant
}

/// The system's real-time clock.
public struct SystemTimeSource: TimeSource {
    public init() {}

    public func now() -> Instant {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Instant(nanoseconds: Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec))
    }
}

/// A clock that moves only when told to.
public final class ManualTimeSource: TimeSource {
    private let current: Mutex<Instant>

    public init(_ start: Instant = Instant(milliseconds: 1_700_000_000_000)) {
        self.current = Mutex(start)
    }

    public func now() -> Instant {
        current.withLock { $0 }
    }

    public func set(_ instant: Instant) {
        current.withLock { $0 = instant }
    }

    public func advance(milliseconds: Int64) {
        advance(nanoseconds: milliseconds.multipliedReportingOverflow(by: 1_000_000).partialValue)
    }

    public func advance(nanoseconds: Int64) {
        current.withLock { $0.nanoseconds += nanoseconds }
    }
}

/// A clock that reads another one unless it is pinned to a fixed instant: what
/// `DEBUG SET-CLOCK` drives, so differential tests can replay exact times against a
/// running server. Reading it costs one relaxed atomic load more than the base clock.
public final class SwitchableTimeSource: TimeSource {
    private let base: any TimeSource
    /// The pinned instant in nanoseconds; `Int64.min` when following `base`.
    private let pinned = Atomic<Int64>(Int64.min)

    public init(_ base: any TimeSource) {
        self.base = base
    }

    public func now() -> Instant {
        let pinned = self.pinned.load(ordering: .relaxed)
        return pinned == Int64.min ? base.now() : Instant(nanoseconds: pinned)
    }

    /// True while pinned (backend mode then hands the pinned time to its scripts).
    public var isPinned: Bool { pinned.load(ordering: .relaxed) != Int64.min }

    /// Pins the clock to `instant` (it stays there until pinned again or released);
    /// nil follows the base clock again. `Int64.min` ns cannot be pinned.
    public func pin(_ instant: Instant?) {
        precondition(instant?.nanoseconds != Int64.min, "Int64.min marks an unpinned clock")
        pinned.store(instant?.nanoseconds ?? Int64.min, ordering: .relaxed)
    }
}
