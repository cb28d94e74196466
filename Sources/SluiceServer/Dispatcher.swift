import RESP
import SluiceCore
import Synchronization

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

    init(configuration: ServerConfiguration, table: CommandTable, startedAt: Instant, processID: Int32, debugClock: SwitchableTimeSource? = nil) {
        self.configuration = configuration
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

    func execute(_ arguments: [[UInt8]], client: Client) -> RESPValue {
        guard let name = arguments.first else { return .error("ERR empty command") }
        guard let position = context.table.lookup(name) else {
            let error = CommandError(.unknownCommand(
                name: String(decoding: name, as: UTF8.self), arguments: Array(arguments.dropFirst())))
            return error.reply
        }
        let spec = context.table.specs[position]
        let now = timeSource.now()
        return database.state.withLock { state in
            client.lastCommand = spec.name
            client.lastInteraction = now
            state.stats.commandsProcessed += 1
            guard spec.acceptsArgumentCount(arguments.count) else {
                state.stats.commands[position].rejectedCalls += 1
                return CommandError(.wrongArity(command: spec.name)).reply
            }
            var invocation = Invocation(arguments: Arguments(arguments), now: now, client: client, server: context)
            let started = ContinuousClock.now
            let reply: RESPValue
            do throws(CommandError) {
                reply = try spec.handler(&invocation, &state)
            } catch {
                state.stats.commands[position].failedCalls += 1
                reply = error.reply
            }
            let elapsed = ContinuousClock.now - started
            state.stats.commands[position].calls += 1
            state.stats.commands[position].microseconds += Int(elapsed.components.attoseconds / 1_000_000_000_000)
                + Int(elapsed.components.seconds) * 1_000_000
            return reply
        }
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
        let budget = Duration.milliseconds(context.configuration.expiryBudgetMilliseconds)
        let started = ContinuousClock.now
        let step = 1_000
        while true {
            let now = timeSource.now()
            let removed = database.state.withLock { $0.keyspace.expireCycle(now: now, maxChecks: step) }
            // Redis's rule of thumb: keep going only while more than a quarter of a step expired.
            if removed * 4 <= step || ContinuousClock.now - started >= budget { return }
        }
    }
}
