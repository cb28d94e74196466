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
// queue (ReplyQueue.swift), so replies still leave in request order.

/// A reply that a backend round trip will produce.
struct DeferredReply: Sendable {
    /// The protocol the client spoke when it sent the command.
    let version: RESPVersion
    /// Starts the round trip; `deliver` runs once, on a backend connection's thread.
    let start: @Sendable (_ deliver: @escaping @Sendable (RESPValue) -> Void) -> Void
    /// The reply when the backend has not answered within the timeout (the failure policy's).
    let timedOut: @Sendable () -> RESPValue
}

/// A rate-limit command checked and ready to run as a script.
struct ScriptCall: Sendable {
    let script: BackendScript
    let keys: [[UInt8]]
    var arguments: [String]
    let version: RESPVersion
    /// The in-memory reply for the "allowed" answer (fail-open).
    let allowed: RESPValue
    /// The script's reply as the in-memory reply; nil for a reply of the wrong shape.
    let convert: @Sendable (RESPValue) -> RESPValue?
    /// The command whose decisions `INFO` counts (nil for PEEK, which decides nothing).
    var decision: RateLimitCommand?
    /// The script reply's first integer when the answer is "allowed" (0 for CL.THROTTLE's `limited`).
    var allowedWhen: Int64 = 1
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

/// Set by the first answer to a backend request (Redis's, or the timeout's).
final class AnsweredFlag: Sendable {
    private let answered = Atomic<Bool>(false)

    /// True for the first caller only.
    func claim() -> Bool {
        !answered.exchange(true, ordering: .relaxed)
    }
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

    init(backend: RedisBackend, database: Database) {
        self.backend = backend
        self.database = database
        self.policy = backend.configuration.failurePolicy
        self.url = "redis://\(backend.configuration.address)/\(backend.configuration.database)"
    }

    /// Commands refused in backend mode: their meaning spans the whole keyspace, needs
    /// several commands to stay on one connection, blocks, or runs code on the server.
    static let refused: Set<String> = [
        "multi", "exec", "discard", "watch", "unwatch",
        "eval", "evalsha", "eval_ro", "evalsha_ro", "script", "function", "fcall", "fcall_ro",
        "keys", "scan", "randomkey", "dbsize", "flushall", "flushdb", "swapdb", "move",
        "save", "bgsave", "lastsave",
    ]

    /// Decides how `spec` runs; parses (and so consumes) the arguments only for
    /// rate-limit commands, which are checked here as in memory mode.
    func route(_ spec: CommandSpec, _ invocation: inout Invocation) -> BackendRoute {
        let name = spec.name
        if Self.refused.contains(name) || spec.flags.contains("blocking") || spec.flags.contains("movablekeys") {
            return .reply(.error("ERR \(name.uppercased()) is not available in backend mode"))
        }
        let version = invocation.client.protocolVersion
        // A client's requests share one backend connection, so Redis runs them in order.
        let affinity = Int(truncatingIfNeeded: invocation.client.id)
        // With the clock pinned by DEBUG SET-CLOCK, scripts get that time (their NOW
        // argument) instead of Redis's TIME, so tests can replay exact instants.
        let pinnedNow = invocation.server.debugClock?.isPinned == true ? invocation.now : nil
        do throws(CommandError) {
            switch name {
            case "consume", "peek": return .deferred(run(try leakyBucket(&invocation, command: name, version), at: pinnedNow, affinity: affinity))
            case "add": return .deferred(run(try add(&invocation, version), at: pinnedNow, affinity: affinity))
            case "incr" where invocation.arguments.count != 2, "decr" where invocation.arguments.count != 2:
                return .deferred(run(try bounded(&invocation, command: name, version), at: pinnedNow, affinity: affinity))
            case "incr_and_sum": return .deferred(run(try incrAndSum(&invocation, version), at: pinnedNow, affinity: affinity))
            case "cl.throttle": return .deferred(run(try throttle(&invocation, version), at: pinnedNow, affinity: affinity))
            case "acquire": return .deferred(run(try acquire(&invocation, version), at: pinnedNow, affinity: affinity))
            default: break
            }
        } catch {
            return .reply(error.reply)
        }
        guard spec.firstKey > 0 else { return .local }
        return .deferred(forward(invocation.arguments.words, version, affinity: affinity))
    }

    // MARK: Native commands

    private func leakyBucket(_ invocation: inout Invocation, command: String, _ version: RESPVersion) throws(CommandError) -> ScriptCall {
        let parsed = try LeakyBucketCommands.parse(&invocation, command: command)
        let arguments = [
            command, String(parsed.capacity), Self.seconds(parsed.recharge),
            String(parsed.amount ?? 1), Self.seconds(parsed.block ?? 0),
        ]
        let recharge = parsed.bucket.rechargeNanoseconds
        let decision: RateLimitCommand? = command == "consume" ? .consume : nil
        // Fail-open: the drops fit, as into an empty bucket.
        let allowed = LeakyBucketDecision(success: true, level: 0, untilNextDropNanoseconds: recharge, blockedForNanoseconds: nil)
        return script(.leakyBucket, keys: [invocation.arguments[parsed.key]], arguments, version,
                      allowed: LeakyBucketCommands.reply(allowed, version), decision: decision) { reply in
            LeakyBucketDecision(backendReply: reply).map { LeakyBucketCommands.reply($0, version) }
        }
    }

    private func add(_ invocation: inout Invocation, _ version: RESPVersion) throws(CommandError) -> ScriptCall {
        let key = try invocation.arguments.next()
        let value = try invocation.arguments.nextInteger(orElse: .notInteger("value"))
        let ttl = try CounterCommands.ttlArgument(&invocation)
        return counter(keys: [key], ["add", String(value), String(ttl)], version, .add)
    }

    /// `INCR|DECR key amount bound ttl_ms`: exactly these arguments, as in memory mode.
    private func bounded(_ invocation: inout Invocation, command: String, _ version: RESPVersion) throws(CommandError) -> ScriptCall {
        guard invocation.arguments.count == 5 else { throw CommandError(.wrongArity(command: command)) }
        let key = try invocation.arguments.next()
        let (amount, bound, ttl) = try CounterCommands.amountLimitTTL(&invocation, limit: command == "incr" ? "maximum" : "minimum")
        return counter(keys: [key], [command, String(amount), String(bound), String(ttl)], version, command == "incr" ? .incr : .decr)
    }

    private func incrAndSum(_ invocation: inout Invocation, _ version: RESPVersion) throws(CommandError) -> ScriptCall {
        let key = try invocation.arguments.next()
        let (amount, maximum, ttl) = try CounterCommands.amountLimitTTL(&invocation, limit: "maximum")
        let keys = [key] + invocation.arguments.rest()
        return counter(keys: keys, ["incr_and_sum", String(amount), String(maximum), String(ttl)], version, .incrAndSum)
    }

    private func counter(keys: [[UInt8]], _ arguments: [String], _ version: RESPVersion, _ decision: RateLimitCommand) -> ScriptCall {
        script(.boundedCounter, keys: keys, arguments, version, allowed: .integer(1), decision: decision) { reply in
            if case .integer(let applied) = reply, applied == 0 || applied == 1 { return reply }
            return nil
        }
    }

    private func throttle(_ invocation: inout Invocation, _ version: RESPVersion) throws(CommandError) -> ScriptCall {
        let parsed = try ThrottleCommands.parse(&invocation)
        let arguments = [String(parsed.maxBurst), String(parsed.countPerPeriod), Self.seconds(parsed.period), String(parsed.quantity)]
        let limit = parsed.throttle.limit
        // Fail-open: not limited; nothing is known of the remaining burst, so report it full.
        let allowed = ThrottleResult(limited: false, limit: limit, remaining: max(0, limit - parsed.quantity),
                                     retryAfterNanoseconds: -1, resetAfterNanoseconds: 0)
        return script(.cellThrottle, keys: [invocation.arguments[parsed.key]], arguments, version,
                      allowed: ThrottleCommands.reply(allowed), decision: .clThrottle, allowedWhen: 0) { reply in
            ThrottleResult(backendReply: reply).map(ThrottleCommands.reply)
        }
    }

    private func acquire(_ invocation: inout Invocation, _ version: RESPVersion) throws(CommandError) -> ScriptCall {
        let (key, weight, rates) = try SlidingWindowCommands.parse(&invocation)
        _ = try rateLimited { () throws(RateLimitError) in try SlidingWindow(rates: rates) }
        var arguments = [String(weight)]
        for rate in rates {
            arguments.append(String(rate.limit))
            arguments.append(String(rate.intervalMilliseconds))
        }
        return script(.slidingWindow, keys: [invocation.arguments[key]], arguments, version,
                      allowed: .array([.integer(1), .integer(0), .integer(-1)]), decision: .acquire) { reply in
            guard case .array(let fields) = reply, fields.count == 3,
                  fields.allSatisfy({ if case .integer = $0 { true } else { false } })
            else { return nil }
            return reply
        }
    }

    /// Seconds for a script argument: Swift's shortest text that reads back as the same
    /// double, so the script derives the same nanoseconds as the in-memory algorithm.
    private static func seconds(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }

    private func script(
        _ script: BackendScript, keys: [[UInt8]], _ arguments: [String], _ version: RESPVersion,
        allowed: RESPValue, decision: RateLimitCommand?, allowedWhen: Int64 = 1,
        convert: @escaping @Sendable (RESPValue) -> RESPValue?
    ) -> ScriptCall {
        ScriptCall(script: script, keys: keys, arguments: arguments, version: version, allowed: allowed, convert: convert,
                   decision: decision, allowedWhen: allowedWhen)
    }

    /// Runs the call's script (with `NOW` when the clock is pinned) and converts its
    /// reply. Script errors are relayed; a backend failure gets the policy's reply.
    private func run(_ call: ScriptCall, at pinnedNow: Instant?, affinity: Int) -> DeferredReply {
        var arguments = call.arguments
        if let pinnedNow { arguments += ["NOW", String(pinnedNow.nanoseconds)] }
        let words = arguments.map { Array($0.utf8) }
        let answered = AnsweredFlag()
        return DeferredReply(version: call.version, start: { [self] deliver in
            backend.evalScript(call.script, keys: call.keys, arguments: words, affinity: affinity) { result in
                switch result {
                case .success(let reply):
                    guard let converted = call.convert(reply) else {
                        deliver(self.counted(.error("ERR unexpected reply from \(call.script.fileName): \(reply)"), answered))
                        return
                    }
                    let decided = call.decision.flatMap { decision in
                        Self.firstInteger(reply).map { Counted.decision(decision, allowed: $0 == call.allowedWhen) }
                    }
                    deliver(self.counted(converted, answered, decided ?? .nothing))
                case .failure(let error):
                    let (reply, policy) = self.failureReply(error, allowed: call.allowed)
                    deliver(self.counted(reply, answered, policy))
                }
            }
        }, timedOut: { [self] in
            let (reply, policy) = failureReply(.timeout, allowed: call.allowed)
            return counted(reply, answered, policy)
        })
    }

    private static func firstInteger(_ reply: RESPValue) -> Int64? {
        switch reply {
        case .integer(let value): value
        case .array(let fields): if case .integer(let value)? = fields.first { value } else { nil }
        default: nil
        }
    }

    /// What a late reply adds to the counters, besides its error prefix.
    enum Counted {
        case nothing
        case decision(RateLimitCommand, allowed: Bool)
        case failOpen
        case failClosed
    }

    /// Counts a late reply as in-memory commands count theirs (decisions, error replies,
    /// and the failure policy's answers), then returns it. Only the first answer of a
    /// request counts: the backend's own, or the connection's timeout, whichever came first.
    private func counted(_ reply: RESPValue, _ answered: AnsweredFlag, _ what: Counted = .nothing) -> RESPValue {
        guard answered.claim() else { return reply }
        let errorPrefix: String? = if case .error(let text) = reply { Self.errorPrefix(text) } else { nil }
        switch what {
        case .failOpen: failOpenReplies.add(1, ordering: .relaxed)
        case .failClosed: failClosedReplies.add(1, ordering: .relaxed)
        case .nothing, .decision: break
        }
        var decided: (RateLimitCommand, Bool)?
        if case .decision(let command, let allowed) = what { decided = (command, allowed) }
        guard errorPrefix != nil || decided != nil else { return reply }
        database.state.withLock { state in
            if let errorPrefix { state.stats.recordError(prefix: errorPrefix) }
            if let (command, allowed) = decided { state.stats.decisions.record(command, allowed: allowed) }
        }
        return reply
    }

    /// An error reply's first word, as `INFO errorstats` counts it.
    static func errorPrefix(_ text: String) -> String {
        String(text.prefix { $0 != " " }.prefix(32))
    }

    /// A script's own error is relayed; an unreachable or slow backend gets the policy's answer.
    private func failureReply(_ error: BackendError, allowed: RESPValue) -> (RESPValue, Counted) {
        guard error.isBackendFailure else { return (.error(error.description), .nothing) }
        switch policy {
        case .failOpen: return (allowed, .failOpen)
        case .failClosed: return (.error("TRYAGAIN \(error.description)"), .failClosed)
        }
    }

    // MARK: Other commands

    /// Sends the command's words as they came; the reply is relayed as Redis gave it.
    /// The failure policy is for decisions: a plain command fails with `TRYAGAIN` either way.
    private func forward(_ words: [[UInt8]], _ version: RESPVersion, affinity: Int) -> DeferredReply {
        let answered = AnsweredFlag()
        return DeferredReply(version: version, start: { [self] deliver in
            backend.submit(words, affinity: affinity) { result in
                switch result {
                case .success(let reply): deliver(self.counted(reply, answered))
                case .failure(let error): deliver(self.counted(Self.plainFailure(error), answered))
                }
            }
        }, timedOut: { [self] in counted(Self.plainFailure(.timeout), answered) })
    }

    private static func plainFailure(_ error: BackendError) -> RESPValue {
        error.isBackendFailure ? .error("TRYAGAIN \(error.description)") : .error(error.description)
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
