/// One rate of a sliding window: at most `limit` units in any `intervalMilliseconds`.
public struct SlidingWindowRate: Sendable, Hashable {
    public var limit: Int64
    public var intervalMilliseconds: Int64

    public init(limit: Int64, intervalMilliseconds: Int64) {
        self.limit = limit
        self.intervalMilliseconds = intervalMilliseconds
    }
}

/// A sliding-window log under several rates at once, with the semantics of
/// pyrate-limiter 4.x (`InMemoryBucket.put` / `waiting` with the default
/// `SlidingWindowLog` algorithm).
///
/// A unit stamped `t` counts for a rate at `now` while `t >= now - interval` (inclusive).
/// An acquire of `weight` succeeds only if every rate has room for all of it; then it
/// records `weight` units stamped `now` (milliseconds, rounded down). pyrate stores one
/// item per unit; the log here stores one (timestamp, weight) entry per distinct
/// millisecond and keeps only the largest rate's window, with identical answers.
public struct SlidingWindow: Sendable, Hashable {
    /// The rates in the order the caller gave them; `failingRateIndex` refers to it.
    public let rates: [SlidingWindowRate]
    /// Indices into `rates`, by ascending interval: the order pyrate checks them in.
    /// Empty when `rates` is already in that order (the usual case), to save building it
    /// on every command.
    private let checkOrder: [Int]
    /// The largest interval: the log keeps nothing older than this.
    public let maximumIntervalMilliseconds: Int64

    /// Validates the rate list as pyrate's buckets do: every limit and interval positive,
    /// then, sorted by interval (stably), each rate needs a strictly longer interval, a
    /// strictly larger limit and no larger limit/interval than the one before it
    /// (pyrate's `validate_rate_list`). The density comparison is exact, not floating.
    public init(rates: [SlidingWindowRate]) throws(RateLimitError) {
        guard !rates.isEmpty else { throw .emptyRateList }
        for (index, rate) in rates.enumerated() {
            guard rate.limit > 0 else { throw .notPositiveInteger("limit of rate \(index)") }
            guard rate.intervalMilliseconds > 0 else { throw .notPositiveInteger("interval of rate \(index)") }
        }
        let ascending = zip(rates, rates.dropFirst()).allSatisfy { $0.intervalMilliseconds < $1.intervalMilliseconds }
        // Sorting the indices with the index as tie-breaker keeps it stable, like Python's sort.
        let order = ascending ? [] : rates.indices.sorted {
            (rates[$0].intervalMilliseconds, $0) < (rates[$1].intervalMilliseconds, $1)
        }
        for position in rates.indices.dropFirst() {
            let earlier = order.isEmpty ? position - 1 : order[position - 1]
            let later = order.isEmpty ? position : order[position]
            let previous = rates[earlier]
            let current = rates[later]
            guard current.intervalMilliseconds > previous.intervalMilliseconds else {
                throw .duplicateInterval(earlier: earlier, later: later)
            }
            guard current.limit > previous.limit else {
                throw .limitNotIncreasing(earlier: earlier, later: later)
            }
            // current.limit / current.interval > previous.limit / previous.interval, cross-multiplied.
            guard Int128(current.limit) * Int128(previous.intervalMilliseconds)
                <= Int128(previous.limit) * Int128(current.intervalMilliseconds)
            else {
                throw .densityIncreasing(earlier: earlier, later: later)
            }
        }
        self.rates = rates
        self.checkOrder = order
        self.maximumIntervalMilliseconds = rates[order.last ?? rates.count - 1].intervalMilliseconds
    }

    /// Tries to take `weight` units at `now` under every rate at once.
    ///
    /// Weight 0 always succeeds and records nothing. A weight above the first failing
    /// rate's limit can never pass: it fails with `waitMilliseconds` -1.
    ///
    /// On success `log` is changed in place (entries older than the largest interval
    /// dropped, the weight recorded), so a caller that holds the only reference to it
    /// allocates nothing, and the outcome gives the TTL to store it with. On refusal
    /// `log` is left as it was. The outcome does not carry the log: a second reference
    /// cost a retain and a release per acquire.
    ///
    /// TTL rule: the stored log's TTL runs until 1 ms past its newest entry's window under
    /// the largest interval (`newest + maximumInterval + 1` ms); from then on it counts for
    /// nothing, exactly like an absent key.
    public func acquire(_ log: inout SlidingWindowLog?, weight: Int64 = 1, now: Instant) throws(RateLimitError) -> SlidingWindowOutcome {
        guard weight >= 0 else { throw .notNonNegativeInteger("weight") }
        guard weight > 0 else {
            return SlidingWindowOutcome(acquired: true, waitMilliseconds: 0, failingRateIndex: -1, ttlNanoseconds: nil)
        }
        let nowMs = Self.floorMilliseconds(now)
        var firstKept = 0
        var keptWeight: Int64?
        // Read in place, in this scope only: a copy of the array would be a retain, and
        // would share the log when it changes below.
        let refused = Self.withEntries(of: log) { all -> SlidingWindowOutcome? in
            let oldestKept = nowMs.clampedSubtracting(maximumIntervalMilliseconds)
            firstKept = all.firstIndex { $0.timestampMilliseconds >= oldestKept } ?? all.count
            // The largest window holds exactly the kept entries: their weight is the log's
            // total less the few dropped, so that window is not summed entry by entry.
            let total = log?.totalWeight ?? 0
            if total < Int64.max {
                keptWeight = all[..<firstKept].reduce(total) { $0 - $1.weight }
            }
            return refusal(all[firstKept...], keptWeight: keptWeight, weight: weight, nowMs: nowMs)
        }
        if let refused { return refused }
        if log == nil { log = SlidingWindowLog(capacity: Self.newLogCapacity) }
        log!.removeFirst(firstKept, keptWeight: keptWeight)
        log!.record(weight: weight, atMilliseconds: nowMs)
        let newest = log!.entries[log!.entries.count - 1].timestampMilliseconds
        // To the last nanosecond the newest entry counts in the largest window, so that the
        // key's deadline is that millisecond.
        let expiresAtNs = newest.clampedAdding(maximumIntervalMilliseconds).clampedAdding(1).clampedMultiplied(by: 1_000_000).clampedSubtracting(1)
        let ttl = clampedTTL(expiresAtNs.clampedSubtracting(now.nanoseconds), now: now)
        return SlidingWindowOutcome(acquired: true, waitMilliseconds: 0, failingRateIndex: -1, ttlNanoseconds: ttl)
    }

    /// `body` over the log's entries in place; over none when there is no log.
    @inline(__always)
    private static func withEntries<R>(of log: SlidingWindowLog?, _ body: (UnsafeBufferPointer<SlidingWindowLog.Entry>) -> R) -> R {
        guard let log else { return body(UnsafeBufferPointer(start: nil, count: 0)) }
        return log.entries.withUnsafeBufferPointer(body)
    }

    /// The outcome when some rate has no room for `weight` among the live `entries`; nil
    /// when every rate has. `keptWeight` is the sum of `entries`' weights when known.
    private func refusal(
        _ entries: Slice<UnsafeBufferPointer<SlidingWindowLog.Entry>>, keptWeight: Int64?, weight: Int64, nowMs: Int64
    ) -> SlidingWindowOutcome? {
        // One backward pass: windows nest because the rates are checked by ascending interval.
        var counted = entries.endIndex
        var count: Int64 = 0
        for position in rates.indices {
            let rateIndex = checkOrder.isEmpty ? position : checkOrder[position]
            let rate = rates[rateIndex]
            let whole = rate.intervalMilliseconds == maximumIntervalMilliseconds ? keptWeight : nil
            if let whole {
                count = whole
            } else {
                let windowStart = nowMs.clampedSubtracting(rate.intervalMilliseconds)
                while counted > entries.startIndex, entries[counted - 1].timestampMilliseconds >= windowStart {
                    counted -= 1
                    count = count.clampedAdding(entries[counted].weight)
                }
            }
            if rate.limit - count < weight {
                let wait = weight > rate.limit ? -1 : waitMilliseconds(entries, rate: rate, weight: weight, nowMs: nowMs, wholeWeight: whole)
                return SlidingWindowOutcome(acquired: false, waitMilliseconds: wait, failingRateIndex: rateIndex, ttlNanoseconds: nil)
            }
        }
        return nil
    }

    /// Entries a new log has room for. Grown from empty, an array reallocates at its 1st,
    /// 2nd, 3rd and 5th entries, and most keys of a busy limiter are taken only a few times
    /// per window: that was one reallocation every 1.5 acquires.
    static let newLogCapacity = 4

    /// Whole milliseconds since the epoch, rounded down, for every Int64 instant
    /// (`Instant.milliseconds` traps near `Int64.min`).
    private static func floorMilliseconds(_ instant: Instant) -> Int64 {
        let (quotient, remainder) = instant.nanoseconds.quotientAndRemainder(dividingBy: 1_000_000)
        return remainder < 0 ? quotient - 1 : quotient
    }

    /// pyrate's wait: the unit `limit - weight` places from the newest must leave the window,
    /// which happens 1 ms after `its stamp + interval` (the window's start is inclusive).
    /// `wholeWeight`, the sum of all `entries` when the rate's window holds them all, lets
    /// the search start from the oldest: a full window is refused when its oldest units
    /// must leave, so that end is the short one.
    private func waitMilliseconds(
        _ entries: Slice<UnsafeBufferPointer<SlidingWindowLog.Entry>>, rate: SlidingWindowRate, weight: Int64, nowMs: Int64, wholeWeight: Int64?
    ) -> Int64 {
        let offset = rate.limit - weight
        func wait(_ entry: SlidingWindowLog.Entry) -> Int64 {
            entry.timestampMilliseconds.clampedAdding(rate.intervalMilliseconds).clampedSubtracting(nowMs).clampedAdding(1)
        }
        if let wholeWeight {
            // The entry sought is the newest with more than `offset` units from it to the
            // newest: the first, from the oldest, at which the units up to and including
            // it reach `wholeWeight - offset`.
            let older = wholeWeight - offset
            guard older > 0 else { return 0 }
            var seen: Int64 = 0
            for entry in entries {
                seen += entry.weight
                if seen >= older { return wait(entry) }
            }
            return 0
        }
        var newer: Int64 = 0
        for entry in entries.reversed() {
            newer = newer.clampedAdding(entry.weight)
            if newer > offset { return wait(entry) }
        }
        return 0
    }
}

/// What a sliding-window key stores: units taken, as runs of equal timestamps.
public struct SlidingWindowLog: Sendable, Hashable {
    /// `weight` units taken at `timestampMilliseconds` (since the epoch).
    public struct Entry: Sendable, Hashable {
        public var timestampMilliseconds: Int64
        public var weight: Int64

        public init(timestampMilliseconds: Int64, weight: Int64) {
            self.timestampMilliseconds = timestampMilliseconds
            self.weight = weight
        }
    }

    /// Ascending, distinct timestamps, positive weights. First, as `Keyspace.prefetchValue`
    /// reads the storage's address from a value's first word.
    public private(set) var entries: [Entry]

    /// Units in the log, in and out of any window: the entries' weights summed, or
    /// `Int64.max` if that sum does not fit. Kept as entries come and go, so an acquire
    /// reads the largest window's count without reading every entry.
    public private(set) var totalWeight: Int64 = 0

    /// Builds a log from entries in any order: sorts them, merges equal timestamps and
    /// drops non-positive weights (for decoding a stored log).
    public init(entries: [Entry] = []) {
        self.entries = []
        for entry in entries.sorted(by: { $0.timestampMilliseconds < $1.timestampMilliseconds }) where entry.weight > 0 {
            record(weight: entry.weight, atMilliseconds: entry.timestampMilliseconds)
        }
    }

    /// An empty log with room for `capacity` entries.
    init(capacity: Int) {
        self.entries = []
        self.entries.reserveCapacity(capacity)
    }

    /// Drops the `count` oldest entries, in place. `keptWeight` is what the rest weigh, as
    /// the acquire that drops them has already worked out; nil when the sum was saturated,
    /// which says nothing about what is left, so the rest are added up again.
    fileprivate mutating func removeFirst(_ count: Int, keptWeight: Int64?) {
        guard count > 0 else { return }
        entries.removeFirst(count)
        totalWeight = keptWeight ?? entries.reduce(0) { $0.clampedAdding($1.weight) }
    }

    /// Adds a run, keeping the order; a clock that went backwards inserts in place.
    fileprivate mutating func record(weight: Int64, atMilliseconds timestamp: Int64) {
        totalWeight = totalWeight.clampedAdding(weight)
        if let last = entries.last, last.timestampMilliseconds < timestamp {
            entries.append(Entry(timestampMilliseconds: timestamp, weight: weight))
            return
        }
        let position = entries.firstIndex { $0.timestampMilliseconds >= timestamp } ?? entries.count
        if position < entries.count, entries[position].timestampMilliseconds == timestamp {
            entries[position].weight = entries[position].weight.clampedAdding(weight)
        } else {
            entries.insert(Entry(timestampMilliseconds: timestamp, weight: weight), at: position)
        }
    }
}

/// An acquire's answer and what to do with the stored log.
public struct SlidingWindowOutcome: Sendable, Hashable {
    /// Whether all the weight was taken.
    public var acquired: Bool
    /// pyrate's `waiting()`: milliseconds until the same acquire would pass; 0 when
    /// acquired; -1 when the weight exceeds the failing rate's limit.
    public var waitMilliseconds: Int64
    /// Index in the caller's rate list of the first rate (by ascending interval) without
    /// room; -1 when acquired.
    public var failingRateIndex: Int
    /// After taking weight > 0, the TTL to store the log with (to the last nanosecond its
    /// newest entry counts), changed in place by
    /// `SlidingWindow.acquire`; otherwise nil, and the log is as it was.
    public var ttlNanoseconds: Int64?

    public init(acquired: Bool, waitMilliseconds: Int64, failingRateIndex: Int, ttlNanoseconds: Int64?) {
        self.acquired = acquired
        self.waitMilliseconds = waitMilliseconds
        self.failingRateIndex = failingRateIndex
        self.ttlNanoseconds = ttlNanoseconds
    }
}
