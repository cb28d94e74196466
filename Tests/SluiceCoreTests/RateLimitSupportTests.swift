import Testing
@testable import SluiceCore

/// One key of a keyspace, enough to replay rate-limit writes: it applies a
/// `RateLimitWrite` and expires like Redis (gone once now > deadline).
struct RateLimitTestKey<State: Sendable & Hashable> {
    private(set) var value: State?
    private(set) var deadline: Int64?

    init(_ value: State? = nil) {
        self.value = value
    }

    /// The stored value as seen at `now`.
    mutating func read(at now: Instant) -> State? {
        if let deadline, now.nanoseconds > deadline {
            value = nil
            self.deadline = nil
        }
        return value
    }

    mutating func apply(_ write: RateLimitWrite<State>, at now: Instant) {
        switch write {
        case .keep:
            break
        case .delete:
            value = nil
            deadline = nil
        case .store(let state, let ttl):
            value = state
            deadline = now.nanoseconds + ttl
        }
    }
}

/// 2023-11-14T22:13:20Z, a whole second.
let rateLimitEpoch = Instant(nanoseconds: 1_700_000_000_000_000_000)

/// `seconds` after `rateLimitEpoch`, to the nanosecond.
func at(_ seconds: Double) -> Instant {
    Instant(nanoseconds: rateLimitEpoch.nanoseconds + Int64((seconds * 1e9).rounded()))
}

/// `milliseconds` after `rateLimitEpoch`.
func atMilliseconds(_ milliseconds: Int64) -> Instant {
    Instant(nanoseconds: rateLimitEpoch.nanoseconds + milliseconds * 1_000_000)
}

@Suite("Rate-limit shared pieces")
struct RateLimitSupportTests {
    @Test("clamped arithmetic saturates instead of trapping")
    func clampedArithmetic() {
        #expect(Int64.max.clampedAdding(1) == .max)
        #expect(Int64.min.clampedAdding(-1) == .min)
        #expect(Int64.min.clampedSubtracting(1) == .min)
        #expect(Int64.max.clampedSubtracting(-1) == .max)
        #expect(Int64.max.clampedMultiplied(by: 2) == .max)
        #expect(Int64.max.clampedMultiplied(by: -2) == .min)
        #expect(Int64(6).clampedMultiplied(by: 7) == 42)
    }

    @Test("ceiling division rounds positive remainders up and leaves exact values alone")
    func ceilingDivision() {
        #expect(Int64(2_000_000_000).ceilingDivided(by: 1_000_000_000) == 2)
        #expect(Int64(2_000_000_001).ceilingDivided(by: 1_000_000_000) == 3)
        #expect(Int64(1).ceilingDivided(by: 1_000_000_000) == 1)
        #expect(Int64(0).ceilingDivided(by: 1_000_000_000) == 0)
    }

    @Test("a TTL is at least 1 ns and never overflows when added to now")
    func ttlClamp() {
        let late = Instant(nanoseconds: Int64.max - 10)
        #expect(clampedTTL(.max, now: late) == 10)
        #expect(clampedTTL(0, now: rateLimitEpoch) == 1)
        #expect(clampedTTL(-5, now: rateLimitEpoch) == 1)
        #expect(clampedTTL(500, now: rateLimitEpoch) == 500)
        #expect(clampedTTL(500, now: Instant(nanoseconds: .max)) == 0)
    }

    @Test("durations in seconds reject NaN, infinities, negatives and huge values by name")
    func secondsValidation() {
        for bad in [Double.nan, .infinity, -.infinity, -1, 0] {
            #expect(throws: RateLimitError.notPositiveNumber("recharge")) {
                try nanoseconds(fromSeconds: bad, argument: "recharge", allowZero: false)
            }
        }
        #expect(throws: RateLimitError.notNonNegativeNumber("block")) {
            try nanoseconds(fromSeconds: -0.5, argument: "block", allowZero: true)
        }
        #expect(throws: RateLimitError.tooLarge("recharge", maximum: "1000000000 seconds")) {
            try nanoseconds(fromSeconds: 1e300, argument: "recharge", allowZero: false)
        }
        #expect(throws: RateLimitError.belowOneNanosecond("recharge")) {
            try nanoseconds(fromSeconds: 1e-12, argument: "recharge", allowZero: false)
        }
        #expect((try? nanoseconds(fromSeconds: 0.2, argument: "recharge", allowZero: false)) == 200_000_000)
        #expect((try? nanoseconds(fromSeconds: 0, argument: "block", allowZero: true)) == 0)
    }

    @Test("error messages name the argument")
    func messages() {
        #expect(RateLimitError.notPositiveInteger("capacity").description == "capacity must be a positive integer")
        #expect(RateLimitError.notPositiveNumber("recharge").description == "recharge must be a positive number")
        #expect(RateLimitError.notPositiveInteger("capacity").argument == "capacity")
        #expect(RateLimitError.zeroRate("period").description == "Zero rates are not supported")
    }
}
