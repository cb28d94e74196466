/// A background snapshot of the keyspace as it was at one instant, collected a step at a
/// time while the keyspace keeps changing.
///
/// Sharing the tables copy-on-write made the first write to each table, and to each chunk
/// of entries, copy it whole on the event loop: writes to random keys reach every chunk
/// within a few bursts, which held clients up for up to a second with 2,600,000 keys.
/// Instead, the snapshot walks the entries in steps (`captureStep`, under the server's
/// lock, about a thousand at a time), and the first change to an entry it has not reached
/// yet saves what the entry held at the start (`willChange`). A step takes the saved
/// image where there is one, so the result is the keyspace at `beginCapture`, whatever
/// changed in between. Entries appended after the start are past its end and left out.
///
/// While a capture runs, entries do not move (compaction waits), and `removeAll` saves
/// the rest of them first.
extension Keyspace {
    /// The state of a capture; all zero and empty when none runs.
    struct CaptureState: Sendable {
        /// Identifies the latest capture; `active` while it runs.
        var id: UInt64 = 0
        var active = false
        /// Entries below `next` were collected; entries at `end` or after were not there
        /// at the start. `end` is 0 when no capture runs, so `willChange` costs one compare.
        var next = 0
        var end = 0
        /// The start's clock: keys past their deadline then are left out.
        var nowMs: Int64 = 0
        /// Keys there were at the start, and keys collected so far (`captureCounts`).
        var total = 0
        var collected = 0
        /// What entries in `next..<end` held at the start, saved at their first change;
        /// nil for a hole or a key already expired. One table per block of positions:
        /// a single table of them all grew by rehashing everything at once, which held
        /// clients up for 100 ms at about a million saved entries.
        var saved: [[Int: Snapshot.Entry?]] = []

        static let blockSize = 4096
    }

    /// What `captureStep` did.
    public enum CaptureProgress: Equatable, Sendable {
        /// More entries are left.
        case more
        /// Every entry was collected, and the capture ended.
        case done
        /// No such capture runs: it was ended, or the keyspace was replaced.
        case lost
    }

    /// Starts a capture of the keyspace as it is at `now`, ending any capture under way.
    /// Returns its id for `captureStep`.
    public mutating func beginCapture(now: Instant) -> UInt64 {
        let id = capture.id &+ 1 == 0 ? 1 : capture.id &+ 1
        let blocks = (entries.count + CaptureState.blockSize - 1) / CaptureState.blockSize
        capture = CaptureState(id: id, active: true, next: 0, end: entries.count, nowMs: now.milliseconds,
                               total: count, saved: Array(repeating: [:], count: blocks))
        return id
    }

    /// Appends to `collected` the keys of up to `slots` more entries, as they were when
    /// capture `id` began.
    public mutating func captureStep(_ id: UInt64, slots: Int, into collected: inout [Snapshot.Entry]) -> CaptureProgress {
        guard capture.active, capture.id == id else { return .lost }
        let stop = Swift.min(capture.end, capture.next + Swift.max(1, slots))
        for position in capture.next..<stop {
            let block = position / CaptureState.blockSize
            let image = capture.saved[block].removeValue(forKey: position) ?? snapshotEntry(at: position)
            if let image {
                collected.append(image)
                capture.collected += 1
            }
        }
        // Blocks passed whole are done with: their emptied tables' storage goes too.
        for block in (capture.next / CaptureState.blockSize)..<(stop / CaptureState.blockSize) { capture.saved[block] = [:] }
        capture.next = stop
        guard stop == capture.end else { return .more }
        endCapture(id)
        return .done
    }

    /// Ends capture `id` (a snapshot that failed), freeing what it saved.
    public mutating func endCapture(_ id: UInt64) {
        guard capture.id == id else { return }
        capture = CaptureState(id: id)
    }

    /// Whether a capture is under way.
    var isCapturing: Bool { capture.active }

    /// The capture under way's keys collected so far, and the keys there were at its
    /// start (expired ones included, which it leaves out); nil when none runs.
    public var captureCounts: (collected: Int, total: Int)? {
        capture.active ? (capture.collected, capture.total) : nil
    }

    /// Called before the entry at `position` changes: saves what it held at the capture's
    /// start if the capture has not collected it yet.
    @inline(__always)
    mutating func willChange(_ position: Int) {
        if position < capture.end && position >= capture.next { saveImage(position) }
    }

    /// Saves every entry the capture has not collected yet, before they all change at once.
    mutating func saveRemainingImages() {
        guard capture.active else { return }
        for position in capture.next..<capture.end { saveImage(position) }
    }

    private mutating func saveImage(_ position: Int) {
        let block = position / CaptureState.blockSize
        if capture.saved[block].index(forKey: position) == nil {
            capture.saved[block][position] = snapshotEntry(at: position)
        }
    }

    /// The entry at `position` as a snapshot stores it; nil for a hole or an expired key.
    private func snapshotEntry(at position: Int) -> Snapshot.Entry? {
        guard entries[position].keyLength != Self.hole, entries[position].expiresAt >= capture.nowMs else { return nil }
        let deadline = entries[position].expiresAt
        return Snapshot.Entry(key: keyBytes(at: position), value: entries[position].value,
                              expiresAt: deadline == Self.noExpiry ? nil : deadline)
    }
}
