import NIOCore
import RESP

/// A connection's replies in request order while some are still being computed
/// elsewhere (backend mode's round trips).
///
/// Each deferred command reserves a slot; replies that exist at once are appended to
/// the newest ready slot (so a run of them costs one buffer); a slot fills when its
/// backend reply arrives, and `drain` hands over the ready slots at the front. Empty
/// in memory mode, where the connection handler writes replies straight out.
struct ReplyQueue {
    private enum Slot {
        /// A backend reply not yet here: the command awaiting it and its deadline.
        case waiting(deadline: NIODeadline, deferred: DeferredReply)
        case ready(ByteBuffer)
    }

    /// Slots from `head` on are live; earlier ones were drained (kept until compaction).
    private var slots: [Slot] = []
    private var head = 0
    /// The id of `slots[head]`; ids count up from 0 per connection.
    private var headID: UInt64 = 0

    var isEmpty: Bool { head == slots.count }
    /// Replies still awaited.
    private(set) var waiting = 0

    /// Keeps a place for `deferred`'s reply; returns its id for `fill`.
    mutating func reserve(_ deferred: DeferredReply, deadline: NIODeadline) -> UInt64 {
        slots.append(.waiting(deadline: deadline, deferred: deferred))
        waiting += 1
        return headID + UInt64(slots.count - 1 - head)
    }

    /// Queues a reply that exists now, behind the ones still awaited.
    mutating func append(_ reply: RESPValue, version: RESPVersion, allocator: ByteBufferAllocator) {
        if slots.count > head, case .ready(var buffer)? = slots.last {
            // Take the buffer out so the write below does not copy it.
            slots[slots.count - 1] = .ready(ByteBuffer())
            buffer.writeRESPValue(reply, version: version)
            slots[slots.count - 1] = .ready(buffer)
        } else {
            var buffer = allocator.buffer(capacity: 64)
            buffer.writeRESPValue(reply, version: version)
            slots.append(.ready(buffer))
        }
    }

    /// Fills slot `id` with the reply `answer` makes of its deferred command; false when
    /// it was filled already (it timed out), and then `answer` is not called.
    mutating func fill(_ id: UInt64, allocator: ByteBufferAllocator, answer: (DeferredReply) -> Reply) -> Bool {
        guard id >= headID, id - headID < UInt64(slots.count - head) else { return false }
        let index = head + Int(id - headID)
        guard case .waiting(_, let deferred) = slots[index] else { return false }
        var buffer = allocator.buffer(capacity: 64)
        answer(deferred).write(into: &buffer, deferred.version)
        slots[index] = .ready(buffer)
        waiting -= 1
        return true
    }

    /// `fill`, but the reply for the front slot, the one awaited longest, is written
    /// straight into `out`, behind the replies already drained into it, rather than into
    /// a buffer of its own that `drain` would then copy and free.
    mutating func fill(_ id: UInt64, into out: inout ByteBuffer, allocator: ByteBufferAllocator, answer: (DeferredReply) -> Reply) -> Bool {
        guard id == headID, head < slots.count, case .waiting(_, let deferred) = slots[head] else {
            return fill(id, allocator: allocator, answer: answer)
        }
        answer(deferred).write(into: &out, deferred.version)
        waiting -= 1
        slots[head] = .ready(ByteBuffer())
        advanceHead()
        return true
    }

    /// Answers every awaited reply whose deadline has passed with its timeout reply
    /// (`answer`); returns the next deadline still ahead, if any.
    mutating func expire(now: NIODeadline, allocator: ByteBufferAllocator, answer: (DeferredReply) -> Reply) -> NIODeadline? {
        for index in head..<slots.count {
            guard case .waiting(let deadline, let deferred) = slots[index] else { continue }
            // Deadlines grow with the slots: the first one ahead is the next to watch.
            if deadline > now { return deadline }
            var buffer = allocator.buffer(capacity: 64)
            answer(deferred).write(into: &buffer, deferred.version)
            slots[index] = .ready(buffer)
            waiting -= 1
        }
        return nil
    }

    /// Moves the ready replies at the front into `out`, in order.
    mutating func drain(into out: inout ByteBuffer) {
        while head < slots.count, case .ready(var buffer) = slots[head] {
            out.writeBuffer(&buffer)
            slots[head] = .ready(ByteBuffer())
            advanceHead()
        }
    }

    /// Moves past the front slot, emptied by the caller, and compacts the drained ones.
    private mutating func advanceHead() {
        head += 1
        headID += 1
        if head == slots.count {
            slots.removeAll(keepingCapacity: slots.count <= 1024)
            head = 0
        } else if head >= 1024, head * 2 >= slots.count {
            slots.removeFirst(head)
            head = 0
        }
    }
}
