import Logging
import NIOCore
import RESP
import SluiceCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Facts about the running server that commands read but never change.
final class ServerContext: Sendable {
    static let version = "0.1.0"
    /// The Redis version whose commands and replies Sluice follows; clients that
    /// gate features on `redis_version` see this.
    static let redisCompatibilityVersion = "7.2.0"

    let configuration: ServerConfiguration
    let table: CommandTable
    let startedAt: Instant
    let processID: Int32
    /// The bound port, known only after binding (configuration may say 0).
    let boundPort = Atomic<Int>(0)
    /// The bound TLS port; 0 without TLS.
    let boundTLSPort = Atomic<Int>(0)
    /// The clock `DEBUG SET-CLOCK` pins; nil unless `enableDebugCommand` allows DEBUG.
    let debugClock: SwitchableTimeSource?
    /// The server's logger (`redis.log` in scripts writes here).
    let logger: Logger
    /// What `CONFIG SET` changes while running (password, limits).
    let settings: RuntimeSettings
    /// The snapshot file's reader and writer; nil without `--snapshot`.
    let persistence: Persistence?
    /// The shared Redis of backend mode; nil in memory mode.
    let backend: BackendMode?
    /// Wrong passwords, logged at most once per interval (AuthFailureLog.swift).
    let authFailures = AuthFailureLog()
    /// The `/metrics` registry; nil without `--metrics-port`, and then no command feeds it.
    let metrics: ServerMetrics?
    /// Set by `SHUTDOWN`; `SluiceServer.run()` waits for it.
    let shutdownRequest = ShutdownRequest()

    init(
        configuration: ServerConfiguration, table: CommandTable, startedAt: Instant, processID: Int32,
        debugClock: SwitchableTimeSource? = nil, logger: Logger = Logger(label: "sluice"), persistence: Persistence? = nil,
        backend: BackendMode? = nil, metrics: ServerMetrics? = nil
    ) {
        self.backend = backend
        self.metrics = metrics
        self.configuration = configuration
        self.persistence = persistence
        self.logger = logger
        self.debugClock = debugClock
        self.settings = RuntimeSettings(configuration)
        self.table = table
        self.startedAt = startedAt
        self.processID = processID
    }
}

/// What the dispatcher hands a connection for each command.
enum Reply {
    case value(RESPValue)
    /// A rate-limit decision, written as bytes without a value (`DecisionReply`).
    case decision(DecisionReply)
    /// A collection's contents, written as bytes from the collection (`CollectionListing`).
    case listing(CollectionListing)

    func value(_ version: RESPVersion) -> RESPValue {
        switch self {
        case .value(let value): value
        case .decision(let decision): decision.value(version)
        case .listing(let listing): listing.value(version)
        }
    }

    /// Consuming, as the reply's last user: borrowed, with the caller destroying the
    /// reply after it, a reply cost 15 to 40 instructions more (callgrind).
    consuming func write(into buffer: inout ByteBuffer, _ version: RESPVersion) {
        switch consume self {
        case .value(let value): buffer.writeRESPValue(value, version: version)
        case .decision(let decision): decision.write(into: &buffer, version)
        case .listing(let listing): listing.write(into: &buffer, version)
        }
    }
}

/// Runs commands: look-up, arity check, the clock read, the lock, statistics, and
/// turning errors into replies. The only place a `CommandError` becomes RESP.
final class Dispatcher: Sendable {
    let context: ServerContext
    let database: Database
    let timeSource: any TimeSource
    /// Each event loop's end-of-tick flush (`TickFlush`).
    let tickFlushes = PerEventLoop<TickFlush>()

    /// Whether `timeSource` is the system clock, which `now()` then reads directly.
    private let systemClock: Bool

    init(context: ServerContext, database: Database, timeSource: any TimeSource) {
        self.context = context
        self.database = database
        self.timeSource = timeSource
        self.systemClock = timeSource is SystemTimeSource
    }

    /// The time for a read burst: `timeSource`'s, without copying it out of its existential
    /// box per burst when it is the system clock.
    @inline(__always)
    func now() -> Instant {
        systemClock ? SystemTimeSource().now() : timeSource.now()
    }

    /// Runs the commands of one read burst in order, under one acquisition of the lock,
    /// and hands each reply to `emit` with the protocol version it is to be written in
    /// (`HELLO` may switch it halfway); stops after a command that closes the
    /// connection, or that parks the client in a blocking command (the result then says
    /// where to resume). Replies for clients that pushes served are delivered after the
    /// lock is released. `now` is read once per burst by the caller, as Redis caches its
    /// clock per event-loop iteration. In backend mode a command answered by Redis goes
    /// to `deferred` instead of `emit`; when `deferred` returns false (too many replies
    /// awaited), the burst pauses after that command, as a parked one does, with
    /// `ParkedBatch.backendPause` as its token. The burst's time is measured once and
    /// shared evenly among its commands in `INFO commandstats`: two clock reads per
    /// command would cost more than most commands.
    @discardableResult
    @inline(__always)
    func execute(
        _ batch: inout RESPCommands, from start: Int = 0, client: Client, now: Instant,
        deferred: ((DeferredReply) -> Bool)? = nil, emit: (consuming Reply, RESPVersion) -> Void
    ) -> ParkedBatch? {
        guard start < batch.count else { return nil }
        // A pipelined burst's replies are kept until the lock is released and handed over
        // then, so that writing them does not hold up the commands of other event loops
        // (`--threads`): at `-P 16` that took the share of the server's CPU spent holding
        // the lock from 0.43 to 0.34 for `CONSUME`. A lone command's reply is handed over at
        // once, as keeping it cost 2.7% more instructions per unpipelined `GET` for a share
        // of a few percent; so are backend mode's, in order with the ones `deferred` awaits.
        if deferred != nil || batch.count - start == 1 {
            return executeLocked(&batch, from: start, client: client, now: now, deferred: deferred, emit: emit)
        }
        return withUnsafeTemporaryAllocation(of: (Reply, RESPVersion).self, capacity: batch.count - start) { pending in
            var count = 0
            var handed = 0
            let parked = executeLocked(&batch, from: start, client: client, now: now, deferred: nil) { reply, version in
                // At most one reply per command.
                precondition(count < pending.count)
                guard case .listing = reply else {
                    // Moved in, as replies are handed on (`emit` consumes them): copied, each
                    // cost about 65 instructions more.
                    (pending.baseAddress! + count).initialize(to: (consume reply, version))
                    count += 1
                    return
                }
                // A listing holds its collection until it is written. Held past a later
                // command of the burst that changed that collection, it made the change
                // copy all of it first (`ZRANGE z 0 0` then `ZADD z` on a million members
                // took 0.97 ms a pair, against 0.14 ms for `ZSCORE` then `ZADD`). So it is
                // handed over now, after the replies before it.
                while handed < count {
                    let (earlier, earlierVersion) = (pending.baseAddress! + handed).move()
                    emit(earlier, earlierVersion)
                    handed += 1
                }
                emit(reply, version)
            }
            while handed < count {
                let (reply, version) = (pending.baseAddress! + handed).move()
                emit(reply, version)
                handed += 1
            }
            return parked
        }
    }

    /// `execute` with every reply handed to `emit` while the lock is held.
    @inline(__always)
    private func executeLocked(
        _ batch: inout RESPCommands, from start: Int, client: Client, now: Instant,
        deferred: ((DeferredReply) -> Bool)?, emit: (consuming Reply, RESPVersion) -> Void
    ) -> ParkedBatch? {
        return withPreparedRing { prepared in
            if !database.shards.isEmpty {
                return executeSharded(&batch, from: start, client: client, now: now, deferred: deferred, prepared: prepared, emit: emit)
            }
            var parked: ParkedBatch?
            // Set when `deferred` asks the burst to pause.
            var paused = false
            var resume = start
            var noSlowLater: SlowLater?
            // What needs no lock is found before taking it, so that other event loops wait
            // less (`--threads`): each command's table position and its first argument's
            // hash, for the first `prefetchDistance` commands; later ones' are found under
            // the lock, as the ones before them run.
            for index in start..<min(start + Self.prefetchDistance, batch.count) {
                prepared[index % Self.prefetchDistance] = prepare(index, in: batch)
            }
            let wakeups = database.state.withLock { state -> [Wakeup] in
                runLocked(&batch, from: start, to: batch.count, prepared: prepared, client: client, now: now, state: &state,
                          deferred: deferred, paused: &paused, parked: &parked, sharded: false, resume: &resume,
                          slowLater: &noSlowLater, logsSlowLater: false, emit: emit)
            }
            if !wakeups.isEmpty { deliver(wakeups) }
            return parked
        }
    }

    /// Room for `prefetchDistance` prepared commands, each at its index modulo that
    /// distance, on the stack and left uninitialized: a slot is written before it is read.
    /// Filling an `InlineArray` of them first cost every burst a 512-byte `memset`.
    @inline(__always)
    private func withPreparedRing<R>(_ body: (UnsafeMutableBufferPointer<Prepared>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: Prepared.self, capacity: Self.prefetchDistance, body)
    }

    /// `executeLocked` with more than one shard (Database.swift). A run of commands that
    /// may run on their keys' shards alone (`shard(for:)`) holds only those shards' locks,
    /// taken in order, and runs as a burst under the one lock does, its keys looked up
    /// ahead through the view of every shard (a lone command takes one shard's lock). Any
    /// other run holds every lock, until a command that may run on shards.
    private func executeSharded(
        _ batch: inout RESPCommands, from start: Int, client: Client, now: Instant,
        deferred: ((DeferredReply) -> Bool)?, prepared: UnsafeMutableBufferPointer<Prepared>,
        emit: (consuming Reply, RESPVersion) -> Void
    ) -> ParkedBatch? {
        var parked: ParkedBatch?
        var paused = false
        var index = start
        var next = prepare(start, in: batch)
        while index < batch.count {
            if deferred == nil, let first = shard(for: next, client: client) {
                // The run and its shards, found before any lock is taken.
                var shards = ShardSet()
                shards.insert(first)
                var oneShard = true
                prepared[index % Self.prefetchDistance] = next
                var end = index + 1
                while end < batch.count {
                    next = prepare(end, in: batch)
                    guard let shard = shard(for: next, client: client) else { break }
                    shards.insert(shard)
                    oneShard = oneShard && shard == first
                    if end < index + Self.prefetchDistance { prepared[end % Self.prefetchDistance] = next }
                    end += 1
                }
                var resume = end
                var slowLater: SlowLater?
                if oneShard {
                    // A lone command, or a run on one shard: that shard's own view, and its lock
                    // taken directly. Through `withShards`, with the view swapped only when
                    // needed, a lone `GET` took 4,856 instructions against 4,127 (callgrind).
                    database.shards[first].state.withLock { state in
                        _ = runLocked(&batch, from: index, to: end, prepared: prepared, client: client, now: now, state: &state,
                                      deferred: nil, paused: &paused, parked: &parked, sharded: false, resume: &resume,
                                      slowLater: &slowLater, logsSlowLater: true, emit: emit)
                    }
                } else {
                    database.withShards(shards) { state in
                        // The run's keys are all in shards it holds; the first one's state keeps the counters.
                        let own = state.keyspace
                        state.keyspace = database.keyspace
                        defer { state.keyspace = own }
                        _ = runLocked(&batch, from: index, to: end, prepared: prepared, client: client, now: now, state: &state,
                                      deferred: nil, paused: &paused, parked: &parked, sharded: false, resume: &resume,
                                      slowLater: &slowLater, logsSlowLater: true, emit: emit)
                    }
                }
                if var slow = slowLater {
                    database.state.withLock { state in
                        slow.executed.withUnsafeMutableBufferPointer { executed in
                            recordSlow(executed[...], batch: batch, client: client, now: now, shareNanoseconds: slow.share, state: &state)
                        }
                    }
                }
                index = end
                continue
            }
            for ahead in index..<min(index + Self.prefetchDistance, batch.count) {
                prepared[ahead % Self.prefetchDistance] = prepare(ahead, in: batch)
            }
            var resume = index
            var noSlowLater: SlowLater?
            let wakeups = database.withExclusive { state -> [Wakeup] in
                runLocked(&batch, from: index, to: batch.count, prepared: prepared, client: client, now: now, state: &state,
                          deferred: deferred, paused: &paused, parked: &parked, sharded: deferred == nil, resume: &resume,
                          slowLater: &noSlowLater, logsSlowLater: false, emit: emit)
            }
            if !wakeups.isEmpty { deliver(wakeups) }
            if parked != nil || client.closeAfterReply { break }
            index = resume
            if index < batch.count { next = prepare(index, in: batch) }
        }
        return parked
    }

    /// The shard a prepared command may run on holding only its lock, or nil when it
    /// needs every lock: a command not flagged `runsOnShard`, or one of a client that
    /// queues in `MULTI` or has not authenticated, or any while `maxmemory` is set, whose
    /// eviction looks at every shard.
    @inline(__always)
    private func shard(for command: Prepared, client: Client) -> Int? {
        guard let position = command.position, context.table.specs[position].runsOnShard,
              !client.transaction.isQueuing, client.authenticated,
              context.settings.maxMemoryBytes.load(ordering: .relaxed) == 0
        else { return nil }
        return ShardedKeyspace.shardIndex(hash: command.hash, shards: database.shards.count)
    }

    /// A command's table position and its first argument's hash (0 without arguments),
    /// found before the lock is taken.
    private struct Prepared {
        /// The position plus one; 0 for an unknown name.
        private var found: Int
        var hash: UInt64

        init(position: Int?, hash: UInt64) {
            self.found = position.map { $0 + 1 } ?? 0
            self.hash = hash
        }

        var position: Int? { found == 0 ? nil : found - 1 }

        /// Whether this is the command at `position` of the table.
        @inline(__always) func isCommand(_ position: Int) -> Bool { found == position + 1 }
    }

    @inline(__always)
    private func prepare(_ index: Int, in batch: RESPCommands) -> Prepared {
        let words = batch.words(of: index)
        let position = batch.withWord(words.lowerBound) { context.table.lookup($0) }
        // The first argument read as `withFirstArgument` does; through it, its optional
        // result cost 14 more instructions per pipelined `GET`.
        let hash = words.count > 1 ? batch.withWord(words.lowerBound + 1) { Keyspace.hash($0) } : 0
        return Prepared(position: position, hash: hash)
    }

    /// The part of `executeLocked` that holds the lock; returns the clients pushes served.
    /// `prepared` holds what `prepare` found for the next `prefetchDistance` commands, each
    /// at its index modulo that distance.
    private func runLocked(
        _ batch: inout RESPCommands, from start: Int, to end: Int, prepared: UnsafeMutableBufferPointer<Prepared>, client: Client,
        now: Instant, state: inout DatabaseState, deferred: ((DeferredReply) -> Bool)?, paused: inout Bool,
        parked: inout ParkedBatch?, sharded: Bool, resume: inout Int, slowLater: inout SlowLater?, logsSlowLater: Bool,
        emit: (consuming Reply, RESPVersion) -> Void
    ) -> [Wakeup] {
        // A command that parked the client answers later (Blocking.swift).
        func emitUnlessParked(_ reply: consuming Reply) {
            if client.blockedRequest == nil && !client.closesSilently { emit(reply, client.protocolVersion) }
        }
        let started = monotonicNanoseconds()
        resume = end
        let lookAhead = LookAhead(state.keyspace)
        let logCommand = context.table.logCommand
        // One invocation for the burst, moved from command to command. The burst is moved
        // into it and back out at the end: a copy retained and released each of its three
        // arrays, about 250 instructions per burst (a tenth of an unpipelined `PING`).
        var invocation = Invocation(arguments: Arguments(consume batch, command: start), now: now, client: client, server: context)
        withUnsafeTemporaryAllocation(of: (position: Int, index: Int).self, capacity: end - start) { positions in
            var executed = 0
            // Keys are prefetched in the keyspace's stages (`Keyspace.prefetchIndex`,
            // `prefetchEntry`, `prefetchValue`, `prefetchLogEnd`): a command's index slot
            // `prefetchDistance` commands ahead, its entry `entryDistance` ahead, its
            // value's storage `valueDistance` ahead, a log's newest entries `logEndDistance`
            // ahead, and the hash is handed to the command's own look-up. Not the first
            // command's key: it is looked up at once.
            for index in min(start + 1, end)..<min(start + Self.prefetchDistance, end) {
                lookAhead.index(prepared[index % Self.prefetchDistance].hash, &state.keyspace)
            }
            for index in min(start + 1, end)..<min(start + Self.entryDistance, end) {
                lookAhead.entry(prepared[index % Self.prefetchDistance].hash, &state.keyspace)
            }
            for index in start..<end {
                let this = prepared[index % Self.prefetchDistance]
                if index + Self.prefetchDistance < end {
                    let next = prepare(index + Self.prefetchDistance, in: invocation.arguments.commands)
                    prepared[index % Self.prefetchDistance] = next
                    lookAhead.index(next.hash, &state.keyspace)
                }
                if index + Self.entryDistance < end {
                    lookAhead.entry(prepared[(index + Self.entryDistance) % Self.prefetchDistance].hash, &state.keyspace)
                }
                if index + Self.valueDistance < end {
                    lookAhead.value(prepared[(index + Self.valueDistance) % Self.prefetchDistance].hash, &state.keyspace)
                }
                // Only for the command that keeps logs: for any other, walking the index again
                // to find no log cost every pipelined command about 58 instructions.
                if index + Self.logEndDistance < end,
                   case let ahead = prepared[(index + Self.logEndDistance) % Self.prefetchDistance],
                   ahead.isCommand(logCommand) {
                    lookAhead.logEnd(ahead.hash, &state.keyspace)
                }
                withFirstArgument(of: index, in: invocation.arguments.commands) {
                    lookAhead.expect($0, hash: this.hash, &state.keyspace)
                }
                invocation.arguments.select(command: index)
                let position = execute(
                    &invocation, at: this.position, client: client, now: now, state: &state,
                    deferred: deferred, paused: &paused, emit: emitUnlessParked)
                lookAhead.forget(&state.keyspace)
                // Clients waiting on keys this command pushed to are served before the next command.
                if state.blocking.hasReadyKeys { state.serveBlockedClients(now: now) }
                if let position {
                    positions[executed] = (position, index)
                    executed += 1
                }
                if let request = client.blockedRequest {
                    parked = ParkedBatch(next: index + 1, token: request.token, timeout: request.timeout)
                    break
                }
                if client.closeAfterReply { break }
                if paused {
                    parked = ParkedBatch(next: index + 1, token: ParkedBatch.backendPause, timeout: nil)
                    break
                }
                // With shards, a command that may run on its shard alone goes back to `executeSharded`.
                if sharded && index + 1 < end,
                   shard(for: prepared[(index + 1) % Self.prefetchDistance], client: client) != nil {
                    resume = index + 1
                    break
                }
            }
            guard executed > 0 else { return }
            let share = (monotonicNanoseconds() - started) / executed
            for (position, _) in positions[0..<executed] {
                state.stats.commands[position].nanoseconds += share
            }
            if let metrics = context.metrics {
                recordDurations(positions[0..<executed], shareNanoseconds: share, metrics: metrics, state: &state)
            }
            if !logsSlowLater {
                recordSlow(
                    positions[0..<executed], batch: invocation.arguments.commands, client: client, now: now,
                    shareNanoseconds: share, state: &state)
            } else {
                let threshold = context.settings.slowlogSlowerThan.load(ordering: .relaxed)
                if threshold >= 0 && share / 1_000 >= threshold { slowLater = SlowLater(executed: Array(positions[0..<executed]), share: share) }
            }
        }
        batch = (consume invocation).arguments.commands
        return state.blocking.hasWakeups ? state.blocking.takeWakeups() : []
    }

    /// The commands of a run on shards slow enough for the slow log, which lives under
    /// the main lock, so they are logged after the shards' locks are released.
    struct SlowLater {
        var executed: [(position: Int, index: Int)]
        let share: Int
    }

    /// Feeds each command's latency histogram its share of the burst. Each record takes
    /// the histogram's own lock, so this runs only while metrics are on.
    private func recordDurations(
        _ positions: UnsafeMutableBufferPointer<(position: Int, index: Int)>.SubSequence, shareNanoseconds: Int,
        metrics: ServerMetrics, state: inout DatabaseState
    ) {
        for (position, _) in positions {
            if state.stats.commands[position].durations == nil {
                state.stats.commands[position].durations = metrics.durationTimer(command: context.table.specs[position].name)
            }
            state.stats.commands[position].durations?.recordNanoseconds(Int64(shareNanoseconds))
        }
    }

    /// The keyspace's look-ups ahead for a burst, made on its one shard directly when it has
    /// one: through the view, each of a command's six calls checked the shard count again,
    /// 36 instructions per pipelined `GET`. A view's shards never move.
    private struct LookAhead {
        let single: UnsafeMutablePointer<Keyspace>?

        init(_ keyspace: ShardedKeyspace) { single = keyspace.singleShard }

        @inline(__always) func index(_ hash: UInt64, _ keyspace: inout ShardedKeyspace) {
            if let single { single.pointee.prefetchIndex(hash: hash) } else { keyspace.prefetchIndex(hash: hash) }
        }

        @inline(__always) func entry(_ hash: UInt64, _ keyspace: inout ShardedKeyspace) {
            if let single { single.pointee.prefetchEntry(hash: hash) } else { keyspace.prefetchEntry(hash: hash) }
        }

        @inline(__always) func value(_ hash: UInt64, _ keyspace: inout ShardedKeyspace) {
            if let single { single.pointee.prefetchValue(hash: hash) } else { keyspace.prefetchValue(hash: hash) }
        }

        @inline(__always) func logEnd(_ hash: UInt64, _ keyspace: inout ShardedKeyspace) {
            if let single { single.pointee.prefetchLogEnd(hash: hash) } else { keyspace.prefetchLogEnd(hash: hash) }
        }

        /// Hands the keyspace the hash `prepare` computed for a command's first argument,
        /// where most commands name their key, so its look-up does not hash the key again. A
        /// wrong guess (a command whose key is elsewhere) costs only the prefetches of its hash.
        @inline(__always) func expect(_ key: UnsafeRawBufferPointer, hash: UInt64, _ keyspace: inout ShardedKeyspace) {
            if let single { single.pointee.expectKey(key, hash: hash) } else { keyspace.expectKey(key, hash: hash) }
        }

        @inline(__always) func forget(_ keyspace: inout ShardedKeyspace) {
            if let single { single.pointee.forgetExpectedKey() } else { keyspace.forgetExpectedKey() }
        }
    }

    /// How many commands ahead of the running one a burst's index slots are prefetched.
    /// A typical pipelined burst (16 commands) is prefetched whole before its first
    /// command runs, which gives the entries of all but the first few time to arrive; a
    /// huge burst is prefetched no further ahead than this, so early entries are not
    /// evicted before their commands run.
    static let prefetchDistance = 32

    /// How many commands ahead entries are prefetched: half way, so that each slot has
    /// arrived when its entry is asked for.
    static let entryDistance = 16

    /// How many commands ahead the heap storage of values (string bytes, logs) is
    /// prefetched: a few, as by then the entry, asked for long before, has arrived.
    static let valueDistance = 4

    /// How many commands ahead a sliding-window log's newest entries are prefetched: after
    /// its storage's header, asked for two commands earlier, has arrived.
    static let logEndDistance = 2

    /// Reads a command's first argument in place; nil for a command without arguments.
    @inline(__always)
    @discardableResult
    private func withFirstArgument<R>(of index: Int, in batch: RESPCommands, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        let words = batch.words(of: index)
        guard words.count > 1 else { return nil }
        return batch.withWord(words.lowerBound + 1, body)
    }

    /// Runs one command with the lock held; returns its table position, or nil when it
    /// was rejected before running (unknown name, wrong number of arguments). Sets
    /// `paused` when `deferred` takes the command's reply and asks for a pause.
    private func execute(
        _ invocation: inout Invocation, at known: Int?, client: Client, now: Instant, state: inout DatabaseState,
        deferred: ((DeferredReply) -> Bool)?, paused: inout Bool, emit: (consuming Reply) -> Void
    ) -> Int? {
        guard let position = known else {
            let arguments = invocation.arguments
            client.transaction.commandRejected()
            state.stats.recordError(prefix: "ERR")
            emit(.value(CommandError(.unknownCommand(name: arguments[0], arguments: Array(arguments.words.dropFirst()))).reply))
            return nil
        }
        let spec = context.table.specs[position]
        client.lastCommand = spec
        client.lastInteraction = now
        state.stats.commandsProcessed += 1
        guard spec.acceptsArgumentCount(invocation.arguments.count) else {
            state.stats.commands[position].rejectedCalls += 1
            let error = TransactionCommands.rejected(CommandError(.wrongArity(command: spec.name)), spec: spec, client: client, state: &state)
            state.stats.recordError(error)
            emit(.value(error.reply))
            return nil
        }
        if !client.authenticated, let error = AuthCommands.refusal(spec, context: context) {
            state.stats.commands[position].rejectedCalls += 1
            let error = TransactionCommands.rejected(error, spec: spec, client: client, state: &state)
            state.stats.recordError(error)
            emit(.value(error.reply))
            return nil
        }
        // Over `maxmemory` (never when it is 0): evict, or refuse what may add data (MemoryLimit.swift).
        if state.isOverMemoryLimit, let error = state.memoryLimitRefusal(spec, client: client, table: context.table, now: now) {
            state.stats.commands[position].rejectedCalls += 1
            let error = TransactionCommands.rejected(error, spec: spec, client: client, state: &state)
            state.stats.recordError(error)
            emit(.value(error.reply))
            return nil
        }
        if client.transaction.isQueuing && !spec.runsWhileQueuing {
            do throws(CommandError) {
                emit(.value(try TransactionCommands.enqueue(spec, at: position, invocation)))
            } catch {
                state.stats.recordError(error)
                emit(.value(error.reply))
            }
            return nil
        }
        if let deferred, let backend = context.backend {
            switch backend.route(spec, at: position, &invocation) {
            case .local: break
            case .reply(let reply):
                state.stats.commands[position].calls += 1
                if case .error(let text) = reply {
                    state.stats.commands[position].failedCalls += 1
                    state.stats.recordError(text: text)
                }
                emit(.value(reply))
                return position
            case .deferred(let reply):
                state.stats.commands[position].calls += 1
                if !deferred(reply) { paused = true }
                return position
            }
        }
        if let direct = spec.direct {
            state.stats.commands[position].calls += 1
            do throws(CommandError) {
                emit(try direct(&invocation, &state))
            } catch {
                emit(.value(Self.failed(error, at: position, &state)))
            }
            return position
        }
        emit(.value(Self.call(spec, at: position, &invocation, &state)))
        return position
    }

    /// Runs a command that passed the checks and counts it; also how `EXEC` runs its queue.
    @inline(__always)
    static func call(_ spec: CommandSpec, at position: Int, _ invocation: inout Invocation, _ state: inout DatabaseState) -> RESPValue {
        state.stats.commands[position].calls += 1
        do throws(CommandError) {
            return try spec.handler(&invocation, &state)
        } catch {
            return failed(error, at: position, &state)
        }
    }

    /// Counts a command's error and gives its reply.
    private static func failed(_ error: CommandError, at position: Int, _ state: inout DatabaseState) -> RESPValue {
        state.stats.commands[position].failedCalls += 1
        state.stats.recordError(error)
        return error.reply
    }

    /// Registers a new connection and returns its client record; nil when `maxclients` are
    /// connected. `resume` delivers a parked command's late reply.
    func connect(address: String, localAddress: String, resume: (@Sendable (RESPValue) -> Void)? = nil) -> Client? {
        let now = timeSource.now()
        let authenticated = !context.settings.passwordRequired
        return database.state.withLock { state in
            guard state.clients.count < context.settings.maxClients.load(ordering: .relaxed) else {
                state.stats.rejectedConnections += 1
                return nil
            }
            let client = Client(id: state.nextClientID, address: address, localAddress: localAddress, createdAt: now)
            client.resume = resume
            client.authenticated = authenticated
            state.nextClientID += 1
            state.clients[client.id] = client
            state.stats.connectionsReceived += 1
            return client
        }
    }

    func disconnect(_ client: Client) {
        database.withExclusive { state in
            TransactionCommands.release(client.transaction.takeWatched(), from: &state.keyspace)
            // A parked client leaves its queues, so later pushes stay in the list.
            state.blocking.unpark(client)
            client.resume = nil
            state.clients[client.id] = nil
        }
    }

    /// One active-expiry run, on an event loop between its reads: sweeps in small steps,
    /// releasing the lock between them, for at most the slice (`expirySliceMicroseconds`;
    /// 0 is one step). It keeps going while steps find more than a quarter of the keys
    /// with a deadline they check expired (Redis's rule of thumb, over the keys Redis
    /// samples), and returns whether it stopped on the slice with keys still expiring
    /// so: the server then runs another soon after (`SluiceServer.scheduleExpiry`).
    ///
    /// Steps over keys without deadlines, and an unfinished compaction, also keep a run
    /// going, but do not bring the next one sooner: a stretch of keys without deadlines
    /// costs a read of each entry, and a compaction gives back memory, not keys, so it
    /// gets a slice per interval, as Redis rehashes for 1 ms every 100 ms. When such
    /// steps stopped each run after one step, with 86,000 keys without deadlines ahead of
    /// 632,000 expired ones, all of those were still there 6 s later (a step of 1,000
    /// per 100 ms takes 9 s to pass the first ones).
    ///
    /// Short slices on the loop keep a backlog from stalling commands: a sweep of up to
    /// 25 ms on a thread of its own, sharing a core with the loop, was switched out while
    /// it held the lock, and pipelined `CONSUME`s waited 3-5 ms at p99 in rounds where
    /// buckets expired (about 1 ms otherwise).
    func expireKeys() -> Bool {
        let slice = Int(context.configuration.expirySliceMicroseconds) * 1_000
        let started = monotonicNanoseconds()
        let checks = 1_000
        let checksPerShard = database.shards.isEmpty ? checks : ShardedKeyspace.checksPerShard(checks, shards: database.shards.count)
        while true {
            let now = timeSource.now()
            var step = Keyspace.ExpiryStep()
            var compacting = false
            var withDeadline = 0
            func sweep(_ keyspace: inout ShardedKeyspace, _ checks: Int) {
                let one = keyspace.expireStep(now: now, maxChecks: checks)
                step.removed += one.removed
                step.checkedWithDeadline += one.checkedWithDeadline
                compacting = compacting || keyspace.isCompacting
                withDeadline += keyspace.volatileCount
            }
            if database.shards.isEmpty {
                database.state.withLock { sweep(&$0.keyspace, checks) }
            } else {
                // One shard at a time, so single-key commands on the others go on meanwhile.
                for shard in database.shards { shard.state.withLock { sweep(&$0.keyspace, checksPerShard) } }
            }
            let backlog = step.removed * 4 > step.checkedWithDeadline
            let passing = step.checkedWithDeadline == 0 && withDeadline > 0
            if !backlog && !passing && !compacting { return false }
            if monotonicNanoseconds() - started >= slice { return backlog }
        }
    }
}

/// A cheap monotonic reading for measuring how long commands take.
@inline(__always)
func monotonicNanoseconds() -> Int {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return spec.tv_sec * 1_000_000_000 + spec.tv_nsec
}
