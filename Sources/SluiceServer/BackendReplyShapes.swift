import RESP

/// How a forwarded command's reply reaches the client.
///
/// The backend speaks RESP2 to Redis (hiredis 0.14), so replies come back in RESP2
/// shapes, with both RESP2 nulls (`$-1` and `*-1`) read as one. This restores what
/// Redis 7 itself would send: the null array where Redis sends one, and for a RESP3
/// client the RESP3 shapes of the commands whose replies differ (the same shapes
/// memory mode sends). A reply of another shape than expected (an error, or an option
/// the guess below got wrong) is relayed as it came.
struct ForwardedReply: Sendable {
    private let shape: Shape

    private enum Shape {
        /// Relayed as Redis gave it.
        case asIs
        /// HGETALL: a flat field, value array; RESP3 a map.
        case map
        /// ZSCORE, ZINCRBY, ZADD INCR: a score as text; RESP3 a double.
        case score
        /// ZRANGE and friends WITHSCORES: member, score, ...; RESP3 [member, double] pairs.
        case scorePairs
        /// ZRANK/ZREVRANK WITHSCORE: [rank, score]; RESP3 [rank, double]; missing: a null array.
        case rankWithScore
        /// LPOP/RPOP with a count: a missing key is a null array.
        case nullArray
        /// SMEMBERS, SINTER, SUNION, SDIFF, SPOP with a count: an array; RESP3 a set.
        case set
        /// ZPOPMIN/ZPOPMAX without a count: member, score; RESP3 [member, double].
        case flatScores
    }

    /// Chooses the shape from the command's name and options.
    init(_ name: String, _ arguments: Arguments, _ version: RESPVersion) {
        switch name {
        case "lpop", "rpop":
            shape = arguments.count == 3 ? .nullArray : .asIs
        case "zrank", "zrevrank":
            shape = arguments.count == 4 ? .rankWithScore : .asIs
        case _ where version == .resp2:
            shape = .asIs
        case "hgetall":
            shape = .map
        case "zscore", "zincrby":
            shape = .score
        case "zadd":
            // ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member ...: options come first.
            shape = Self.has("INCR", arguments, from: 2) ? .score : .asIs
        case "zrange", "zrevrange", "zrangebyscore", "zrevrangebyscore":
            // Options follow key, start/min and stop/max.
            shape = Self.has("WITHSCORES", arguments, from: 4) ? .scorePairs : .asIs
        case "zpopmin", "zpopmax":
            shape = arguments.count == 3 ? .scorePairs : .flatScores
        case "smembers", "sinter", "sunion", "sdiff":
            shape = .set
        case "spop":
            shape = arguments.count == 3 ? .set : .asIs
        default:
            shape = .asIs
        }
    }

    private static func has(_ option: String, _ arguments: Arguments, from start: Int) -> Bool {
        guard start < arguments.count else { return false }
        return (start..<arguments.count).contains { index in
            arguments.withWord(index) { asciiUppercased($0) } == option
        }
    }

    /// Redis's reply in the shape the client's protocol gets from Redis 7.
    func reshaped(_ reply: RESPValue, _ version: RESPVersion) -> RESPValue {
        switch (shape, reply) {
        case (.asIs, _):
            return reply
        case (.nullArray, .null), (.rankWithScore, .null):
            return .nullArray
        case (.map, .array(let flat)) where flat.count % 2 == 0:
            return .map(stride(from: 0, to: flat.count, by: 2).map { RESPPair(flat[$0], flat[$0 + 1]) })
        case (.score, .bulkString(let text)):
            return Self.double(text).map(RESPValue.double) ?? reply
        case (.scorePairs, .array(let flat)) where flat.count % 2 == 0:
            var pairs: [RESPValue] = []
            pairs.reserveCapacity(flat.count / 2)
            for index in stride(from: 0, to: flat.count, by: 2) {
                guard case .bulkString(let text) = flat[index + 1], let score = Self.double(text) else { return reply }
                pairs.append(.array([flat[index], .double(score)]))
            }
            return .array(pairs)
        case (.set, .array(let members)):
            return .set(members)
        case (.flatScores, .array(let fields)) where fields.count == 2:
            guard case .bulkString(let text) = fields[1], let score = Self.double(text) else { return reply }
            return .array([fields[0], .double(score)])
        case (.rankWithScore, .array(let fields)) where version == .resp3 && fields.count == 2:
            guard case .bulkString(let text) = fields[1], let score = Self.double(text) else { return reply }
            return .array([fields[0], .double(score)])
        default:
            return reply
        }
    }

    /// A score as Redis writes it (`1.5`, `inf`, `-inf`).
    private static func double(_ text: [UInt8]) -> Double? {
        text.withUnsafeBytes(parseDouble)
    }
}
