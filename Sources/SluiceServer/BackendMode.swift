import NIOCore
import RESP
import SluiceCore
import SluiceRedisBackend
import Synchronization

// Backend mode (`--backend redis://...`): limiter state lives in a Redis shared by many
// Sluice instances. The dispatcher asks `BackendMode.route` what to do with each command
// that passed the arity and auth checks:
//
// - rate-limit commands (CONSUME, PEEK, ADD, INCR/DECR with bounds, INCR_AND_SUM,
//   CL.THROTTLE, ACQUIRE) check their arguments exactly as in memory mode, then run
//   their lua/ script with EVALSHA; the script's reply becomes the in-memory reply;
// - other commands with key positions in their spec are sent to Redis as they came;
// - commands that cannot be forwarded safely (transactions, scripts, blocking or
//   multi-key-by-count commands, whole-keyspace commands, persistence) are refused;
// - commands without keys (PING, HELLO, AUTH, CLIENT, CONFIG, INFO, ...) run locally.
//
// A backend reply is late: the connection handler keeps a slot for it in its reply
// queue (ReplyQueue.swift), so replies still leave in request order. Requests go to
// Redis through their event loop's pipeline (BackendPipeline.swift), which sends each
// loop tick's requests in one batch on its backend connection and hands the replies
// back in one task per batch.

/// A command whose reply a backend round trip will produce.
struct DeferredReply: Sendable {
    /// The protocol the client spoke when it sent the command.
    let version: RESPVersion
    /// What is sent to Redis.
    let command: BackendCommand
    /// How Redis's answer becomes the client's reply.
    let shape: BackendReplyShape
}

/// How a backend answer becomes the client's reply, and what it adds to the counters.
enum BackendReplyShape: Sendable {
    /// CONSUME (counted as a decision) or PEEK; the recharge is for the fail-open reply.
    case leakyBucket(consume: Bool, rechargeNanoseconds: Int64)
    /// ADD, bounded INCR/DECR, INCR_AND_SUM: 1 or 0 as is.
    case counter(RateLimitCommand)
    /// CL.THROTTLE; the limit and quantity are for the fail-open reply.
    case throttle(limit: Int64, quantity: Int64)
    /// ACQUIRE: `[allowed, ...]` as is.
    case slidingWindow
    /// Any other keyed command, relayed in the shape Redis 7 would send the client (BackendReplyShapes.swift).
    case forwarded(ForwardedReply)
}

/// What late replies add to `INFO`'s counters, gathered over one delivery and
/// recorded under one acquisition of the database lock.
struct BackendTally {
    fileprivate var errorPrefixes: [String] = []
    fileprivate var decisions: [(RateLimitCommand, allowed: Bool)] = []
}

/// What the dispatcher does with a command in backend mode.
enum BackendRoute {
    /// Runs in this process, as in memory mode.
    case local
    /// Answered now (a refusal, or an argument error found before any round trip).
    case reply(RESPValue)
    /// Answered when Redis replies.
    case deferred(DeferredReply)
}

/// The backend client, the failure policy and the counters `INFO` shows.
final class BackendMode: Sendable {
    let backend: RedisBackend
    /// For the counters `INFO` and `/metrics` read (decisions, error replies).
    private let database: Database
    let policy: BackendFailurePolicy
    /// `redis://host:port/db`, for the ready line and `INFO`.
    let url: String
    /// Replies answered "allowed" because the backend could not decide (fail-open).
    let failOpenReplies = Atomic<Int>(0)
    /// Replies answered `TRYAGAIN` because the backend could not decide (fail-closed).
    let failClosedReplies = Atomic<Int>(0)
    /// Each event loop's pipeline, made on first use.
    private let pipelines = PerEventLoop<BackendPipeline>()

    /// How each command of the table runs, by table position: worked out once, as
    /// matching names and flags as strings cost hundreds of instructions per command.
    private let routes: [RouteKind]

    init(backend: RedisBackend, database: Database, table: CommandTable) {
        self.backend = backend
        self.database = database
        self.routes = table.specs.map(Self.routeKind)
        self.policy = backend.configuration.failurePolicy
        self.url = "redis://\(backend.configuration.address)/\(backend.configuration.database)"
    }

    /// The pipeline that gathers `eventLoop`'s requests; ask once per connection.
    /// Event loop number i sends on pool connection i mod pool size: a client's requests
    /// all come from its loop, so they share one backend connection and Redis runs them
    /// in order, and one connection per loop makes the biggest batches.
    func pipeline(for eventLoop: any EventLoop) -> BackendPipeline {
        pipelines.value(for: eventLoop) { eventLoop, loopsBefore in
            BackendPipeline(mode: self, eventLoop: eventLoop, connection: backend.connectionIndex(affinity: loopsBefore))
        }
    }

    /// Commands refused in backend mode: their meaning spans the whole keyspace, needs
    /// several commands to stay on one connection, blocks, or runs code on the server.
    static let refused: Set<String> = [
        "multi", "exec", "discard", "watch", "unwatch",
        "eval", "evalsha", "eval_ro", "evalsha_ro", "script", "function", "fcall", "fcall_ro",
        "keys", "scan", "randomkey", "dbsize", "flushall", "flushdb", "swapdb", "move",
        "save", "bgsave", "lastsave",
        // Its numbers are the local keyspace's estimate, which holds no keys in this mode.
        "memory",
    ]

    /// How a command runs in backend mode, before its arguments are looked at.
    private enum RouteKind {
        case refused, local, forwarded
        case leakyBucket, add, incrOrDecr, incrAndSum, throttle, acquire
    }

    private static func routeKind(_ spec: CommandSpec) -> RouteKind {
        if refused.contains(spec.name) || spec.flags.contains("blocking") || spec.flags.contains("movablekeys") {
            return .refused
        }
        switch spec.name {
        case "consume", "peek": return .leakyBucket
        case "add": return .add
        case "incr", "decr": return .incrOrDecr
        case "incr_and_sum": return .incrAndSum
        case "cl.throttle": return .throttle
        case "acquire": return .acquire
        default: return spec.firstKey > 0 ? .forwarded : .local
        }
    }

    /// Decides how `spec`, at `position` in the command table, runs; parses (and so
    /// consumes) the arguments only for rate-limit commands, which are checked here as
    /// in memory mode.
    func route(_ spec: CommandSpec, at position: Int, _ invocation: inout Invocation) -> BackendRoute {
        let kind = routes[position]
        let name = spec.name
        switch kind {
        case .refused: return .reply(.error("ERR \(name.uppercased()) is not available in backend mode"))
        case .local: return .local
        default: break
        }
        let version = invocation.client.protocolVersion
        // With the clock pinned by DEBUG SET-CLOCK, scripts get that time (their NOW
        // argument) instead of Redis's TIME, so tests can replay exact instants.
        let pinnedNow = invocation.server.debugClock?.isPinned == true ? invocation.now : nil
        let call: (command: BackendCommand, shape: BackendReplyShape)
        do throws(CommandError) {
            switch kind {
            case .leakyBucket: call = try leakyBucket(&invocation, command: name)
            case .add: call = try add(&invocation)
            case .incrOrDecr where invocation.arguments.count != 2: call = try bounded(&invocation, command: name)
            case .incrAndSum: call = try incrAndSum(&invocation)
            case .throttle: call = try throttle(&invocation)
            case .acquire: call = try acquire(&invocation)
            default:
                return .deferred(DeferredReply(version: version, command: Self.forward(invocation.arguments),
                                               shape: .forwarded(ForwardedReply(name, invocation.arguments, version))))
            }
        } catch {
            return .reply(error.reply)
        }
        var command = call.command
        if let pinnedNow {
            command.append("NOW")
            command.append(pinnedNow.nanoseconds)
        }
        return .deferred(DeferredReply(version: version, command: command, shape: call.shape))
    }

    // MARK: Native commands

    private func leakyBucket(_ invocation: inout Invocation, command: String) throws(CommandError) -> (BackendCommand, BackendReplyShape) {
        let parsed = try LeakyBucketCommands.parse(&invocation, command: command)
        var call = BackendCommand(script: .leakyBucket, keyCount: 1)
        invocation.arguments.withWord(parsed.key) { call.append($0) }
        call.appendArguments(bound: RESPWordWriter.bulkBound(command.utf8.count) + 2 * RESPWordWriter.decimalBound + 2 * Self.secondsBound) { words in
            words.bulkString(command)
            words.bulkDecimal(parsed.capacity)
            Self.writeSeconds(parsed.recharge, &words)
            words.bulkDecimal(parsed.amount ?? 1)
            Self.writeSeconds(parsed.block ?? 0, &words)
        }
        return (call, .leakyBucket(consume: command == "consume", rechargeNanoseconds: parsed.bucket.rechargeNanoseconds))
    }

    private func add(_ invocation: inout Invocation) throws(CommandError) -> (BackendCommand, BackendReplyShape) {
        let key = try invocation.arguments.next()
        let value = try invocation.arguments.nextInteger(orElse: .notInteger("value"))
        let ttl = try CounterCommands.ttlArgument(&invocation)
        return counter(keys: [key], "add", [value, ttl], .add)
    }

    /// `INCR|DECR key amount bound ttl_ms`: exactly these arguments, as in memory mode.
    private func bounded(_ invocation: inout Invocation, command: String) throws(CommandError) -> (BackendCommand, BackendReplyShape) {
        guard invocation.arguments.count == 5 else { throw CommandError(.wrongArity(command: command)) }
        let key = try invocation.arguments.next()
        let (amount, bound, ttl) = try CounterCommands.amountLimitTTL(&invocation, limit: command == "incr" ? "maximum" : "minimum")
        return counter(keys: [key], command, [amount, bound, ttl], command == "incr" ? .incr : .decr)
    }

    private func incrAndSum(_ invocation: inout Invocation) throws(CommandError) -> (BackendCommand, BackendReplyShape) {
        let key = try invocation.arguments.next()
        let (amount, maximum, ttl) = try CounterCommands.amountLimitTTL(&invocation, limit: "maximum")
        let keys = [key] + invocation.arguments.rest()
        return counter(keys: keys, "incr_and_sum", [amount, maximum, ttl], .incrAndSum)
    }

    private func counter(keys: [[UInt8]], _ mode: String, _ numbers: [Int64], _ decision: RateLimitCommand) -> (BackendCommand, BackendReplyShape) {
        var call = BackendCommand(script: .boundedCounter, keyCount: keys.count)
        for key in keys { call.append(key) }
        call.appendArguments(bound: RESPWordWriter.bulkBound(mode.utf8.count) + numbers.count * RESPWordWriter.decimalBound) { words in
            words.bulkString(mode)
            for number in numbers { words.bulkDecimal(number) }
        }
        return (call, .counter(decision))
    }

    private func throttle(_ invocation: inout Invocation) throws(CommandError) -> (BackendCommand, BackendReplyShape) {
        let parsed = try ThrottleCommands.parse(&invocation)
        var call = BackendCommand(script: .cellThrottle, keyCount: 1)
        invocation.arguments.withWord(parsed.key) { call.append($0) }
        call.appendArguments(bound: 3 * RESPWordWriter.decimalBound + Self.secondsBound) { words in
            words.bulkDecimal(parsed.maxBurst)
            words.bulkDecimal(parsed.countPerPeriod)
            Self.writeSeconds(parsed.period, &words)
            words.bulkDecimal(parsed.quantity)
        }
        return (call, .throttle(limit: parsed.throttle.limit, quantity: parsed.quantity))
    }

    private func acquire(_ invocation: inout Invocation) throws(CommandError) -> (BackendCommand, BackendReplyShape) {
        let (key, weight, rates) = try SlidingWindowCommands.parse(&invocation)
        var call = BackendCommand(script: .slidingWindow, keyCount: 1)
        invocation.arguments.withWord(key) { call.append($0) }
        call.appendArguments(bound: (1 + 2 * rates.window.rates.count) * RESPWordWriter.decimalBound) { words in
            words.bulkDecimal(weight)
            for rate in rates.window.rates {
                words.bulkDecimal(rate.limit)
                words.bulkDecimal(rate.intervalMilliseconds)
            }
        }
        return (call, .slidingWindow)
    }

    /// Seconds for a script argument: Swift's shortest text that reads back as the same
    /// double, so the script derives the same nanoseconds as the in-memory algorithm.
    private static func writeSeconds(_ value: Double, _ words: inout RESPWordWriter) {
        if value == value.rounded() && abs(value) < 1e15 {
            words.bulkDecimal(Int64(value))
        } else {
            words.bulkString("\(value)")
        }
    }

    /// Room for `writeSeconds`: Swift's longest text of a double has 24 characters.
    private static let secondsBound = RESPWordWriter.bulkBound(24)


    /// The command's words as they came, copied from the read burst once.
    private static func forward(_ arguments: Arguments) -> BackendCommand {
        var command = BackendCommand(words: [])
        for index in 0..<arguments.count {
            arguments.withWord(index) { command.append($0) }
        }
        return command
    }

    // MARK: Answers

    /// The client's reply for Redis's answer to `deferred`, counted in `tally`. A
    /// script's own errors are relayed; a backend failure gets the policy's reply for a
    /// decision, `TRYAGAIN` for a plain command.
    func reply(_ result: Result<RESPValue, BackendError>, for deferred: DeferredReply, tally: inout BackendTally) -> Reply {
        let reply: Reply
        switch result {
        case .success(let value):
            reply = converted(value, deferred, tally: &tally)
        case .failure(let error):
            reply = .value(failureReply(error, deferred))
        }
        if case .value(.error(let text)) = reply { tally.errorPrefixes.append(ServerStats.errorPrefix(text)) }
        return reply
    }

    /// The reply when Redis has not answered within the timeout.
    func timeoutReply(for deferred: DeferredReply, tally: inout BackendTally) -> Reply {
        reply(.failure(.timeout), for: deferred, tally: &tally)
    }

    /// Adds a delivery's counts to the statistics.
    func record(_ tally: BackendTally) {
        guard !tally.errorPrefixes.isEmpty || !tally.decisions.isEmpty else { return }
        database.state.withLock { state in
            for prefix in tally.errorPrefixes { state.stats.recordError(prefix: prefix) }
            for (command, allowed) in tally.decisions { state.stats.decisions.record(command, allowed: allowed) }
        }
    }

    /// Decisions become the same `DecisionReply` as in memory mode, written without a value.
    private func converted(_ value: RESPValue, _ deferred: DeferredReply, tally: inout BackendTally) -> Reply {
        let version = deferred.version
        let reply: Reply?
        var decision: (RateLimitCommand, allowedWhen: Int64)?
        switch deferred.shape {
        case .leakyBucket(let consume, _):
            reply = LeakyBucketDecision(backendReply: value).map { .decision(.leakyBucket($0)) }
            if consume { decision = (.consume, 1) }
        case .counter(let command):
            if case .integer(let applied) = value, applied == 0 || applied == 1 { reply = .value(value) } else { reply = nil }
            decision = (command, 1)
        case .throttle:
            reply = ThrottleResult(backendReply: value).map { .decision(.throttle($0)) }
            decision = (.clThrottle, 0)
        case .slidingWindow:
            if case .array(let fields) = value, fields.count == 3,
               fields.allSatisfy({ if case .integer = $0 { true } else { false } }) {
                reply = .value(value)
            } else {
                reply = nil
            }
            decision = (.acquire, 1)
        case .forwarded(let forwarded):
            return .value(forwarded.reshaped(value, version))
        }
        guard let reply else {
            return .value(.error("ERR unexpected reply from \(deferred.command.script?.fileName ?? "Redis"): \(value)"))
        }
        if let (command, allowedWhen) = decision, let first = Self.firstInteger(value) {
            tally.decisions.append((command, first == allowedWhen))
        }
        return reply
    }

    private static func firstInteger(_ reply: RESPValue) -> Int64? {
        switch reply {
        case .integer(let value): value
        case .array(let fields): if case .integer(let value)? = fields.first { value } else { nil }
        default: nil
        }
    }

    /// A script's own error is relayed; an unreachable or slow backend gets the policy's
    /// answer for a decision, `TRYAGAIN` for a plain command.
    private func failureReply(_ error: BackendError, _ deferred: DeferredReply) -> RESPValue {
        guard error.isBackendFailure else { return .error(error.description) }
        let allowed: RESPValue
        switch deferred.shape {
        case .forwarded: return .error("TRYAGAIN \(error.description)")
        case .leakyBucket(_, let recharge):
            // Fail-open: the drops fit, as into an empty bucket.
            let decision = LeakyBucketDecision(success: true, level: 0, untilNextDropNanoseconds: recharge, blockedForNanoseconds: nil)
            allowed = LeakyBucketCommands.reply(decision, deferred.version)
        case .counter: allowed = .integer(1)
        case .throttle(let limit, let quantity):
            // Fail-open: not limited; nothing is known of the remaining burst, so report it full.
            allowed = ThrottleCommands.reply(ThrottleResult(limited: false, limit: limit, remaining: max(0, limit - quantity),
                                                            retryAfterNanoseconds: -1, resetAfterNanoseconds: 0))
        case .slidingWindow:
            allowed = SlidingWindowCommands.reply(AcquireReply(acquired: true, waitMilliseconds: 0, failingRateIndex: -1))
        }
        switch policy {
        case .failOpen:
            failOpenReplies.add(1, ordering: .relaxed)
            return allowed
        case .failClosed:
            failClosedReplies.add(1, ordering: .relaxed)
            return .error("TRYAGAIN \(error.description)")
        }
    }

    // MARK: INFO

    /// The `# Backend` section.
    func info() -> [String] {
        let stats = backend.stats
        return [
            "backend_url:\(url)",
            "backend_address:\(stats.address)",
            "backend_connected:\(stats.connected ? 1 : 0)",
            "backend_connected_connections:\(stats.connectedConnections)",
            "backend_pool_size:\(stats.poolSize)",
            "backend_failure_policy:\(policy.rawValue)",
            "backend_requests:\(stats.requests)",
            "backend_failures:\(stats.failures)",
            "backend_connect_failures:\(stats.connectFailures)",
            "backend_fail_open_replies:\(failOpenReplies.load(ordering: .relaxed))",
            "backend_fail_closed_replies:\(failClosedReplies.load(ordering: .relaxed))",
            "backend_round_trips:\(stats.roundTrips)",
            "backend_avg_round_trip_usec:\(stats.averageRoundTripMicroseconds)",
            "backend_last_round_trip_usec:\(stats.lastRoundTripMicroseconds)",
        ]
    }
}
