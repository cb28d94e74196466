import NIOCore
import RESP
import SluiceCore

// Blocking list commands (BLPOP, BRPOP, BLMPOP, BRPOPLPUSH, BLMOVE), as Redis does them:
//
// 1. The command finds no data: it parks the client (`BlockingState.park`) and the
//    dispatcher sends no reply and stops running that connection's commands. With
//    `Client.denyBlocking` set (inside EXEC or a script) it answers as if timed out.
// 2. A list push to a key somebody waits on marks the key ready (`signal`).
// 3. After each top-level command (a MULTI/EXEC or a script counts as one), still
//    under the lock, `DatabaseState.serveBlockedClients` retries the waiting
//    commands of each ready key, first blocked first served, for as long as the key
//    holds a list. A served client's reply becomes a `Wakeup`.
// 4. After the lock is released, the dispatcher hands each wake-up to its client's
//    connection (`Client.resume`), which writes it on that connection's own event
//    loop and then runs the commands that arrived meanwhile.
//
// A timeout is a task on the parked connection's event loop (`Dispatcher.timeOut`);
// a disconnect unparks in `Dispatcher.disconnect`. Every way out goes through
// `unpark` under the lock, so exactly one of them answers the client.

/// Which end of a list a command works on: `LEFT` or `RIGHT` as an argument
/// (`PackedOption`), any letter case.
enum ListEnd: UInt64, PackedOption, Sendable {
    case left = 0x54_46_45_4C
    case right = 0x54_48_47_49_52
}

/// What a parked client waits to do. It is tried again as a whole when one of its
/// keys gets data, as Redis 7.2 re-runs the blocked command.
enum BlockingOperation: Sendable {
    /// BLPOP/BRPOP: pop one element from the first of `keys` holding a list.
    case pop(keys: [Key], end: ListEnd)
    /// LMPOP/BLMPOP: pop up to `count` elements from the first of `keys` holding a list.
    case multiPop(keys: [Key], end: ListEnd, count: Int)
    /// BRPOPLPUSH/BLMOVE: move one element from `source` to `destination`.
    case move(source: Key, destination: Key, from: ListEnd, to: ListEnd)

    var keys: [Key] {
        switch self {
        case .pop(let keys, _), .multiPop(let keys, _, _): keys
        case .move(let source, _, _, _): [source]
        }
    }

    /// Runs the operation if there is data: the reply, or nil when every key is
    /// absent. Errors (WRONGTYPE) are replies too, as in Redis.
    func attempt(_ state: inout DatabaseState, now: Instant) throws(CommandError) -> RESPValue? {
        switch self {
        case .pop(let keys, let end):
            for key in keys {
                if let element = try state.popList(key, end: end, now: now) {
                    return .array([.bulkString(key), .bulkString(element)])
                }
            }
            return nil
        case .multiPop(let keys, let end, let count):
            for key in keys {
                let popped = try state.keyspace.withList(key, now: now) { list in
                    var popped: [RESPValue] = []
                    while popped.count < count, let element = end == .left ? list.popFirst() : list.popLast() {
                        popped.append(.bulkString(element))
                    }
                    return popped
                }
                if !popped.isEmpty { return .array([.bulkString(key), .array(popped)]) }
            }
            return nil
        case .move(let source, let destination, let from, let to):
            return try state.moveListElement(from: source, to: destination, popEnd: from, pushEnd: to, now: now)
                .map(RESPValue.bulkString)
        }
    }

    /// The reply when the command may not wait (inside MULTI or a script) and found
    /// nothing: Redis answers as if the timeout had passed, with its non-blocking
    /// null for the move commands.
    var deniedReply: RESPValue {
        switch self {
        case .pop, .multiPop: .nullArray
        case .move: .null
        }
    }
}

/// A parked command, kept on its client (`Client.blockedRequest`).
struct BlockedRequest: Sendable {
    let operation: BlockingOperation
    /// Tells this parking apart from the client's later ones, so a stale timer is ignored.
    let token: UInt64
    /// Nil waits forever.
    let timeout: TimeAmount?
}

/// What the connection handler needs to know when a read burst parked its client.
struct ParkedBatch {
    /// The burst's first command not run yet.
    let next: Int
    let token: UInt64
    let timeout: TimeAmount?

    /// The token of a burst paused because its connection awaits too many backend
    /// replies (BackendMode.swift); parking tokens start at 1.
    static let backendPause: UInt64 = 0
}

/// A reply for a client that was parked, to deliver once the lock is released.
struct Wakeup {
    let client: Client
    let reply: RESPValue
    /// Read from the client under the lock: a disconnect may clear it meanwhile.
    let resume: (@Sendable (RESPValue) -> Void)?
}

/// Who waits on which key, and which keys pushes have made worth a look.
struct BlockingState {
    /// Parked clients per key, in the order they blocked.
    private var waiting: [Key: RingDeque<Client>] = [:]
    /// Keys pushed to while someone waits on them, in push order, each once.
    private var readyKeys: [Key] = []
    private var readySet: Set<Key> = []
    private var nextToken: UInt64 = 1
    /// Replies for unparked clients, taken by the dispatcher after each burst.
    private(set) var wakeups: [Wakeup] = []
    /// Number of parked clients (`INFO`'s `blocked_clients`).
    private(set) var blockedClients = 0

    var hasReadyKeys: Bool { !readyKeys.isEmpty }
    var hasWakeups: Bool { !wakeups.isEmpty }

    /// Parks `client` on every key of `operation`; returns the new request.
    mutating func park(_ client: Client, _ operation: BlockingOperation, timeout: TimeAmount?) -> BlockedRequest {
        precondition(client.blockedRequest == nil, "a parked client runs no commands")
        let request = BlockedRequest(operation: operation, token: nextToken, timeout: timeout)
        nextToken += 1
        client.blockedRequest = request
        blockedClients += 1
        // BLPOP k k waits once on k.
        var seen = Set<Key>()
        for key in operation.keys where seen.insert(key).inserted {
            waiting[key, default: RingDeque()].append(client)
        }
        return request
    }

    /// Removes a parked client from every queue; returns its request, or nil when it
    /// was not parked (already served, timed out or unblocked).
    @discardableResult
    mutating func unpark(_ client: Client) -> BlockedRequest? {
        guard let request = client.blockedRequest else { return nil }
        client.blockedRequest = nil
        blockedClients -= 1
        for key in Set(request.operation.keys) {
            guard var queue = waiting.removeValue(forKey: key) else { continue }
            queue.removeAll(limit: 1) { $0 === client }
            if !queue.isEmpty { waiting[key] = queue }
        }
        return request
    }

    /// Called by every list push: marks `key` for serving if anyone waits on it.
    mutating func signal(_ key: Key) {
        guard !waiting.isEmpty, waiting[key] != nil, readySet.insert(key).inserted else { return }
        readyKeys.append(key)
    }

    /// `signal` for a key read in place: copied only while some client waits.
    mutating func signal<K: KeyBytes>(_ key: K) {
        if !waiting.isEmpty { signal(key.withBytes { Array($0) }) }
    }

    /// The ready keys in push order, forgetting them.
    mutating func takeReadyKeys() -> [Key] {
        defer {
            readyKeys = []
            readySet = []
        }
        return readyKeys
    }

    /// The clients parked on `key`, first blocked first.
    func waiters(on key: Key) -> [Client] {
        waiting[key].map(Array.init) ?? []
    }

    mutating func addWakeup(_ client: Client, _ reply: RESPValue) {
        wakeups.append(Wakeup(client: client, reply: reply, resume: client.resume))
    }

    mutating func takeWakeups() -> [Wakeup] {
        defer { wakeups = [] }
        return wakeups
    }
}

extension DatabaseState {
    /// Parks the client of `invocation` for `operation`, or, inside MULTI or a
    /// script, answers at once as a timed-out wait would.
    mutating func block(_ invocation: Invocation, _ operation: BlockingOperation, timeout: TimeAmount?) -> RESPValue {
        if invocation.client.denyBlocking { return operation.deniedReply }
        _ = blocking.park(invocation.client, operation, timeout: timeout)
        // Never sent: the dispatcher sees the client parked and holds the reply back.
        return .nullArray
    }

    /// Serves the clients waiting on keys that pushes made ready, in Redis's order:
    /// keys in the order they became ready, clients on a key in the order they
    /// blocked, each served only while the key still holds a list. A served move can
    /// push to another waited-on key, which is then served in the next round.
    mutating func serveBlockedClients(now: Instant) {
        while blocking.hasReadyKeys {
            for key in blocking.takeReadyKeys() {
                for client in blocking.waiters(on: key) {
                    guard holdsList(key, now: now) else { break }
                    guard let request = client.blockedRequest else { continue }
                    let reply: RESPValue?
                    do throws(CommandError) {
                        reply = try request.operation.attempt(&self, now: now)
                    } catch {
                        reply = error.reply
                    }
                    // The key holds a list, so the retry always answers; nil would mean keep waiting.
                    guard let reply else { continue }
                    blocking.unpark(client)
                    blocking.addWakeup(client, reply)
                }
            }
        }
    }

    /// Whether `key` holds a list, without counting a keyspace hit or miss.
    private mutating func holdsList(_ key: Key, now: Instant) -> Bool {
        keyspace.update(key, now: now) { value -> Bool in
            if case .list = value { return true }
            return false
        } ?? false
    }

    /// Unparks `client` if `token` is still its parked request: the timeout reply,
    /// or nil when something else answered it first.
    mutating func timeOut(_ client: Client, token: UInt64) -> RESPValue? {
        guard client.blockedRequest?.token == token else { return nil }
        blocking.unpark(client)
        return .nullArray
    }
}

/// A blocking command's timeout argument, in seconds with a fraction, as Redis reads
/// it: nil means wait forever (0). Rounded up to whole milliseconds.
func blockingTimeout(_ bytes: [UInt8], now: Instant) throws(CommandError) -> TimeAmount? {
    // Redis reads it as a long double, from up to 5,119 characters.
    guard let seconds = parseLongDouble(bytes).map(Double.init) else { throw .err("timeout is not a float or out of range") }
    let milliseconds = (seconds * 1000).rounded(.up)
    // Redis 7.2's checks: too large for a millisecond deadline, then negative.
    guard milliseconds < 9.2e18, milliseconds < Double(Int64.max - now.milliseconds) else {
        throw .err("timeout is out of range")
    }
    guard milliseconds >= 0 else { throw .err("timeout is negative") }
    // Beyond a century a wait is as good as forever, and TimeAmount counts nanoseconds in an Int64.
    guard milliseconds > 0, milliseconds < 3.1e12 else { return nil }
    return .milliseconds(Int64(milliseconds))
}

extension Dispatcher {
    /// A parked client's timer fired: the timeout reply, or nil when it was answered first.
    func timeOut(_ client: Client, token: UInt64) -> RESPValue? {
        database.state.withLock { $0.timeOut(client, token: token) }
    }

    /// Hands replies to parked clients' connections; called with the lock released.
    func deliver(_ wakeups: [Wakeup]) {
        for wakeup in wakeups {
            wakeup.resume?(wakeup.reply)
        }
    }
}

enum BlockingCommands {
    /// CLIENT UNBLOCK id [TIMEOUT|ERROR]: answers a parked client now, with its timeout
    /// reply or an `UNBLOCKED` error; 1 if it was parked, else 0.
    static func clientUnblock(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        // Redis's order: the word count, then the reason, then the id.
        guard invocation.arguments.remaining == 1 || invocation.arguments.remaining == 2 else {
            let subcommand = String(decoding: invocation.arguments[1], as: UTF8.self)
            throw .err("unknown subcommand or wrong number of arguments for '\(subcommand.prefix(128))'. Try CLIENT HELP.")
        }
        var withError = false
        if invocation.arguments.remaining == 2 {
            switch String(decoding: invocation.arguments[3], as: UTF8.self).uppercased() {
            case "TIMEOUT": withError = false
            case "ERROR": withError = true
            default: throw .err("CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
            }
        }
        let id = try invocation.arguments.nextInteger()
        guard let client = state.clients[id], state.blocking.unpark(client) != nil else { return .integer(0) }
        let reply: RESPValue = withError ? .error("UNBLOCKED client unblocked via CLIENT UNBLOCK") : .nullArray
        state.blocking.addWakeup(client, reply)
        return .integer(1)
    }
}
