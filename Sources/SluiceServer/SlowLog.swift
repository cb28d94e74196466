import RESP
import SluiceCore

/// One `SLOWLOG GET` entry, in Redis's six fields.
struct SlowLogEntry {
    let id: Int64
    let unixSeconds: Int64
    let microseconds: Int64
    let arguments: [[UInt8]]
    let address: String
    let name: [UInt8]

    var reply: RESPValue {
        .array([
            .integer(id), .integer(unixSeconds), .integer(microseconds),
            .array(arguments.map { .bulkString($0) }),
            .bulk(address), .bulkString(name),
        ])
    }
}

/// Commands slower than `slowlog-log-slower-than`, newest last, at most
/// `slowlog-max-len` of them; kept under the database lock.
///
/// The time is what the dispatcher charged the command: its equal share of the read
/// burst's measured time, as in `INFO commandstats`. So a slow command logs the
/// commands pipelined with it too (each with the same share), and entries are added
/// when the burst ends.
struct SlowLog {
    /// Redis's limits on what an entry keeps (`SLOWLOG_ENTRY_MAX_ARGC`, `..._STRING`).
    static let maxArguments = 32
    static let maxArgumentBytes = 128

    private(set) var entries: [SlowLogEntry] = []
    private var nextID: Int64 = 0

    mutating func append(_ arguments: Arguments, command: String, client: Client, now: Instant, microseconds: Int, maxLength: Int) {
        guard maxLength > 0 else { return }
        entries.append(SlowLogEntry(
            id: nextID, unixSeconds: now.nanoseconds / 1_000_000_000, microseconds: Int64(microseconds),
            arguments: Self.kept(arguments, command: command), address: client.address, name: client.name ?? []))
        nextID += 1
        if entries.count > maxLength { entries.removeFirst(entries.count - maxLength) }
    }

    mutating func reset() {
        entries.removeAll()
    }

    /// The arguments as Redis keeps them: at most 32, the last of which then says how
    /// many more there were; each at most 128 bytes plus how many more it had; secrets
    /// (passwords of AUTH, HELLO AUTH, CONFIG SET requirepass) as `(redacted)`.
    static func kept(_ arguments: Arguments, command: String) -> [[UInt8]] {
        let count = arguments.count
        let kept = min(count, maxArguments)
        let redacted = redactedPositions(arguments, command: command)
        var result: [[UInt8]] = []
        result.reserveCapacity(kept)
        for index in 0..<kept {
            if kept != count && index == kept - 1 {
                result.append(Array("... (\(count - kept + 1) more arguments)".utf8))
            } else if redacted.contains(index) {
                result.append(Array("(redacted)".utf8))
            } else {
                let word = arguments[index]
                if word.count > maxArgumentBytes {
                    result.append(Array(word.prefix(maxArgumentBytes)) + Array("... (\(word.count - maxArgumentBytes) more bytes)".utf8))
                } else {
                    result.append(word)
                }
            }
        }
        return result
    }

    private static func redactedPositions(_ arguments: Arguments, command: String) -> Set<Int> {
        func keyword(_ index: Int) -> String { String(decoding: arguments[index], as: UTF8.self).uppercased() }
        switch command {
        case "auth":
            return Set(1..<max(1, arguments.count))
        case "hello":
            // HELLO protover AUTH username password [SETNAME name]
            var index = 2
            while index < arguments.count {
                if keyword(index) == "AUTH" { return [index + 1, index + 2] }
                index += 1
            }
            return []
        case "config":
            guard arguments.count >= 4, keyword(1) == "SET" else { return [] }
            return Set(stride(from: 2, to: arguments.count - 1, by: 2).filter { keyword($0) == "REQUIREPASS" }.map { $0 + 1 })
        default:
            return []
        }
    }
}

extension Dispatcher {
    /// Logs the commands a burst ran when their share of its time reached the threshold.
    /// `executed` holds (table position, batch index) pairs.
    func recordSlow(
        _ executed: UnsafeMutableBufferPointer<(position: Int, index: Int)>.SubSequence, batch: RESPCommands,
        client: Client, now: Instant, shareNanoseconds: Int, state: inout DatabaseState
    ) {
        let threshold = context.settings.slowlogSlowerThan.load(ordering: .relaxed)
        let microseconds = shareNanoseconds / 1_000
        guard threshold >= 0 && microseconds >= threshold else { return }
        let maxLength = context.settings.slowlogMaxLength.load(ordering: .relaxed)
        for command in executed {
            state.slowlog.append(
                Arguments(batch, command: command.index), command: context.table.specs[command.position].name,
                client: client, now: now, microseconds: microseconds, maxLength: maxLength)
        }
    }
}
