import Synchronization

/// A snapshot of the backend's health, for `INFO`.
public struct BackendStats: Sendable, Hashable {
    /// `host:port` of the Redis in use.
    public var address: String
    /// Connections in the pool.
    public var poolSize: Int
    /// Connections currently open and ready.
    public var connectedConnections: Int
    /// Requests sent (commands and script calls, retries included).
    public var requests: Int
    /// Requests that failed because Redis was unreachable or too slow.
    public var failures: Int
    /// Connection attempts that failed.
    public var connectFailures: Int
    /// Pipelined batches written and read back.
    public var roundTrips: Int
    /// Mean time from writing a batch to reading its last reply, in microseconds; 0 before the first.
    public var averageRoundTripMicroseconds: Int
    /// The latest batch's round trip, in microseconds.
    public var lastRoundTripMicroseconds: Int

    /// True when at least one connection is up.
    public var connected: Bool { connectedConnections > 0 }
}

/// Counters shared by the pool's threads; relaxed atomics, read together only for reports.
final class BackendStatistics: Sendable {
    let connectedConnections = Atomic<Int>(0)
    let requests = Atomic<Int>(0)
    let failures = Atomic<Int>(0)
    let connectFailures = Atomic<Int>(0)
    let roundTrips = Atomic<Int>(0)
    let roundTripNanoseconds = Atomic<Int>(0)
    let lastRoundTripNanoseconds = Atomic<Int>(0)
    private let roundTripObserver: (@Sendable (Int) -> Void)?

    init(roundTripObserver: (@Sendable (Int) -> Void)? = nil) {
        self.roundTripObserver = roundTripObserver
    }

    func recordRoundTrip(nanoseconds: Int) {
        roundTripObserver?(nanoseconds)
        roundTrips.add(1, ordering: .relaxed)
        roundTripNanoseconds.add(nanoseconds, ordering: .relaxed)
        lastRoundTripNanoseconds.store(nanoseconds, ordering: .relaxed)
    }

    func snapshot(address: String, poolSize: Int) -> BackendStats {
        let trips = roundTrips.load(ordering: .relaxed)
        let total = roundTripNanoseconds.load(ordering: .relaxed)
        return BackendStats(
            address: address,
            poolSize: poolSize,
            connectedConnections: connectedConnections.load(ordering: .relaxed),
            requests: requests.load(ordering: .relaxed),
            failures: failures.load(ordering: .relaxed),
            connectFailures: connectFailures.load(ordering: .relaxed),
            roundTrips: trips,
            averageRoundTripMicroseconds: trips == 0 ? 0 : total / trips / 1000,
            lastRoundTripMicroseconds: lastRoundTripNanoseconds.load(ordering: .relaxed) / 1000
        )
    }
}
