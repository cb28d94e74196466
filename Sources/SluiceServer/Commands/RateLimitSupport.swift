import NIOCore
import RESP
import SluiceCore

/// A rate-limit decision as its command replies. A connection gets it written straight
/// into its output: building the reply as a `RESPValue` array, then walking it to size
/// and to encode it, was about 7% of the server's CPU per pipelined `ACQUIRE`. `EXEC`,
/// scripts and backend mode take `value`, whose bytes are the same.
enum DecisionReply {
    case leakyBucket(LeakyBucketDecision)
    case throttle(ThrottleResult)
    case acquire(AcquireReply)

    func value(_ version: RESPVersion) -> RESPValue {
        switch self {
        case .leakyBucket(let decision): LeakyBucketCommands.reply(decision, version)
        case .throttle(let result): ThrottleCommands.reply(result)
        case .acquire(let reply): SlidingWindowCommands.reply(reply)
        }
    }

    func write(into buffer: inout ByteBuffer, _ version: RESPVersion) {
        switch self {
        case .leakyBucket(let decision): LeakyBucketCommands.write(decision, version, into: &buffer)
        case .throttle(let result): ThrottleCommands.write(result, version, into: &buffer)
        case .acquire(let reply): SlidingWindowCommands.write(reply, version, into: &buffer)
        }
    }
}

/// Argument parsing and state access shared by the rate-limit command families.
///
/// Every rate-limit argument error names the argument (`ERR capacity must be a
/// positive integer`); an argument that does not parse gets the same message as one
/// the algorithm rejects, so a client sees one sentence per argument.
extension Arguments {
    /// The next argument as an integer, or `failure` when it does not parse.
    mutating func nextInteger(orElse failure: @autoclosure () -> RateLimitError) throws(CommandError) -> Int64 {
        // An autoclosure: the error (and its message string) is built only on failure.
        guard let value = try nextParsed(parseInteger) else { throw CommandError(failure()) }
        return value
    }

    /// The next argument as a number (decimal or exponent form), or `failure` when it
    /// does not parse. Infinities parse; the algorithms reject them by name.
    mutating func nextNumber(orElse failure: @autoclosure () -> RateLimitError) throws(CommandError) -> Double {
        guard let value = try nextParsed(parseDouble) else { throw CommandError(failure()) }
        return value
    }

    /// The value after an option word such as `AMOUNT`: an error naming the option when
    /// it is missing or was already given.
    mutating func optionValue<T>(_ option: String, seen: T?, read: (inout Arguments) throws(CommandError) -> T) throws(CommandError) -> T {
        guard seen == nil else { throw .err("\(option) given more than once") }
        guard !isEmpty else { throw .err("\(option) needs a value") }
        return try read(&self)
    }
}

extension CommandError {
    /// An option word the command does not know.
    static func unknownOption(_ word: String, command: String, expected: String) -> CommandError {
        .err("unknown option '\(word)' for '\(command)' (expected \(expected))")
    }
}

/// Runs an algorithm call, turning its argument errors into `ERR` replies.
func rateLimited<T>(_ body: () throws(RateLimitError) -> T) throws(CommandError) -> T {
    do {
        return try body()
    } catch {
        throw CommandError(error)
    }
}

extension ShardedKeyspace {
    /// One read-decide-write on `key` with a single look-up: `read` turns the stored
    /// value into the algorithm's state (or throws, e.g. `WRONGTYPE`), `decide` returns
    /// the write and what the reply needs, and the write is carried out in place with
    /// its deadline from `Keyspace.deadline`. On an error nothing changes.
    mutating func decide<State, Reply>(
        _ key: UnsafeRawBufferPointer,
        now: Instant,
        read: (Value?) throws(CommandError) -> State?,
        wrap: (State) -> Value,
        decide: (State?) throws(CommandError) -> (RateLimitWrite<State>, Reply)
    ) throws(CommandError) -> Reply {
        var result: Result<Reply, CommandError> = .failure(.syntax)
        withEntry(key, now: now) { value, deadline in
            do throws(CommandError) {
                let (write, reply) = try decide(try read(value))
                write.apply(to: &value, deadline: &deadline, now: now, as: wrap)
                result = .success(reply)
            } catch {
                result = .failure(error)
            }
        }
        return try result.get()
    }

    /// `decide` for state kept as an integer string (counters, GCRA TATs).
    mutating func decideInteger<Reply>(
        _ key: UnsafeRawBufferPointer,
        now: Instant,
        emptyAsZero: Bool = false,
        decide: (Int64?) throws(CommandError) -> (RateLimitWrite<Int64>, Reply)
    ) throws(CommandError) -> Reply {
        try self.decide(key, now: now, read: { value throws(CommandError) in
            try integerValue(value, emptyAsZero: emptyAsZero)
        }, wrap: { .integer($0) }, decide: decide)
    }
}
