import Logging
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
    /// The clock `DEBUG SET-CLOCK` pins; nil unless `enableDebugCommand` allows DEBUG.
    let debugClock: SwitchableTimeSource?
    /// The server's logger (`redis.log` in scripts writes here).
    let logger: Logger

    init(
        configuration: ServerConfiguration, table: CommandTable, startedAt: Instant, processID: Int32,
        debugClock: SwitchableTimeSource? = nil, logger: Logger = Logger(label: "sluice")
    ) {
        self.configuration = configuration
        self.logger = logger
        self.debugClock = debugClock
        self.table = table
        self.startedAt = startedAt
        self.processID = processID
    }
}

/// Runs commands: look-up, arity check, the clock read, the lock, statistics, and
/// turning errors into replies. The only place a `CommandError` becomes RESP.
final class Dispatcher: Sendable {
    let context: ServerContext
    let database: Database
    let timeSource: any TimeSource

    init(context: ServerContext, database: Database, timeSource: any TimeSource) {
        self.context = context
        self.database = database
        self.timeSource = timeSource
    }

    /// Runs the commands of one read burst in order, under one acquisition of the lock,
    /// handing each reply to `emit` as soon as it exists; stops after a command that
    /// closes the connection. `now` is read once per burst by the caller, as Redis caches
    /// its clock per event-loop iteration. The burst's time is measured once and shared
    /// evenly among its commands in `INFO commandstats`: two clock reads per command
    /// would cost more than most commands.
    func execute(_ batch: [[[UInt8]]], client: Client, now: Instant, emit: (RESPValue) -> Void) {
        database.state.withLock { state in
            let started = monotonicNanoseconds()
            withUnsafeTemporaryAllocation(of: Int.self, capacity: batch.count) { positions in
                var executed = 0
                for arguments in batch {
                    guard let position = execute(arguments, client: client, now: now, state: &state, emit: emit) else {
                        continue
                    }
                    positions[executed] = position
                    executed += 1
                    if client.closeAfterReply { break }
                }
                guard executed > 0 else { return }
                let share = (monotonicNanoseconds() - started) / executed
                for position in positions[0..<executed] {
                    state.stats.commands[position].nanoseconds += share
                }
            }
        }
    }

    /// Runs one command with the lock held; returns its table position, or nil when it
    /// was rejected before running (unknown name, wrong number of arguments).
    private func execute(
        _ arguments: [[UInt8]], client: Client, now: Instant, state: inout DatabaseState, emit: (RESPValue) -> Void
    ) -> Int? {
        guard let name = arguments.first, let position = context.table.lookup(name) else {
            let name = arguments.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
            emit(CommandError(.unknownCommand(name: name, arguments: Array(arguments.dropFirst()))).reply)
            return nil
        }
        let spec = context.table.specs[position]
        client.lastCommand = spec.name
        client.lastInteraction = now
        state.stats.commandsProcessed += 1
        guard spec.acceptsArgumentCount(arguments.count) else {
            state.stats.commands[position].rejectedCalls += 1
            emit(CommandError(.wrongArity(command: spec.name)).reply)
            return nil
        }
        var invocation = Invocation(arguments: Arguments(arguments), now: now, client: client, server: context)
        state.stats.commands[position].calls += 1
        do throws(CommandError) {
            emit(try spec.handler(&invocation, &state))
        } catch {
            state.stats.commands[position].failedCalls += 1
            emit(error.reply)
        }
        return position
    }

    /// Registers a new connection and returns its client record.
    func connect(address: String, localAddress: String) -> Client {
        let now = timeSource.now()
        return database.state.withLock { state in
            let client = Client(id: state.nextClientID, address: address, localAddress: localAddress, createdAt: now)
            state.nextClientID += 1
            state.clients[client.id] = client
            state.stats.connectionsReceived += 1
            return client
        }
    }

    func disconnect(_ client: Client) {
        _ = database.state.withLock { state in
            state.clients.removeValue(forKey: client.id)
        }
    }

    /// One active-expiry run: sweeps in small steps, releasing the lock between them,
    /// and keeps going while steps find mostly expired keys and the time budget lasts.
    func expireKeys() {
        let budget = Int(context.configuration.expiryBudgetMilliseconds) * 1_000_000
        let started = monotonicNanoseconds()
        let step = 1_000
        while true {
            let now = timeSource.now()
            let removed = database.state.withLock { $0.keyspace.expireCycle(now: now, maxChecks: step) }
            // Redis's rule of thumb: keep going only while more than a quarter of a step expired.
            if removed * 4 <= step || monotonicNanoseconds() - started >= budget { return }
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
