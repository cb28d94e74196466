import NIOCore
import RESP
import Testing
import SeededRandom

/// Random values of every type, nested up to `maxDepth`, from a seeded generator.
struct ValueGenerator {
    var random: SplitMix64
    /// Whether RESP3-only types may appear.
    var resp3: Bool
    var maxDepth = 4

    mutating func value(depth: Int = 0) -> RESPValue {
        let leafKinds = self.resp3 ? 13 : 6
        let aggregateKinds = depth < self.maxDepth ? (self.resp3 ? 5 : 1) : 0
        let kind = Int.random(in: 0..<(leafKinds + aggregateKinds), using: &self.random)
        if kind >= leafKinds {
            switch kind - leafKinds {
            case 0: return .array(self.elements(depth: depth))
            case 1: return .map(self.pairs(depth: depth))
            case 2: return .set(self.elements(depth: depth))
            case 3: return .push(self.elements(depth: depth))
            default: return .attribute(self.pairs(depth: depth), self.value(depth: depth + 1))
            }
        }
        switch kind {
        case 0: return .simpleString(self.text())
        case 1: return .error("ERR " + self.text())
        case 2: return .integer(self.integer())
        case 3: return .bulkString(self.bytes())
        case 4: return .null
        case 5: return .nullArray
        case 6: return .boolean(Bool.random(using: &self.random))
        case 7: return .double(self.double())
        case 8: return .bigNumber(self.bigNumber())
        case 9: return .bulkError(self.bytes())
        case 10: return .verbatimString(format: Bool.random(using: &self.random) ? "txt" : "mkd", text: self.bytes())
        case 11: return .bulkString([])
        default: return .double(Bool.random(using: &self.random) ? .infinity : -.infinity)
        }
    }

    private mutating func elements(depth: Int) -> [RESPValue] {
        (0..<Int.random(in: 0...5, using: &self.random)).map { _ in self.value(depth: depth + 1) }
    }

    private mutating func pairs(depth: Int) -> [RESPPair] {
        (0..<Int.random(in: 0...3, using: &self.random)).map { _ in
            RESPPair(self.value(depth: depth + 1), self.value(depth: depth + 1))
        }
    }

    /// Text without CR or LF, sometimes beyond ASCII.
    private mutating func text() -> String {
        let alphabet: [Character] = Array("abcXYZ019 _-:+*$#,!=%~|>(é日\t")
        return String((0..<Int.random(in: 0...12, using: &self.random)).map { _ in alphabet.randomElement(using: &self.random)! })
    }

    private mutating func bytes() -> [UInt8] {
        (0..<Int.random(in: 0...24, using: &self.random)).map { _ in UInt8.random(in: 0...255, using: &self.random) }
    }

    private mutating func integer() -> Int64 {
        switch Int.random(in: 0..<4, using: &self.random) {
        case 0: return .min
        case 1: return .max
        case 2: return Int64.random(in: -1000...1000, using: &self.random)
        default: return Int64(bitPattern: self.random.next())
        }
    }

    /// Any finite double, or a short decimal; never NaN, which is unequal to itself.
    private mutating func double() -> Double {
        if Bool.random(using: &self.random) {
            return Double(Int.random(in: -100_000...100_000, using: &self.random)) / 100
        }
        while true {
            let value = Double(bitPattern: self.random.next())
            if value.isFinite {
                return value
            }
        }
    }

    private mutating func bigNumber() -> String {
        let digits = (0..<Int.random(in: 1...40, using: &self.random)).map { _ in String(Int.random(in: 0...9, using: &self.random)) }
        return (Bool.random(using: &self.random) ? "-" : "") + digits.joined()
    }
}

/// What `value` decodes as after a RESP3 round trip: RESP3 has a single null.
func resp3Decoded(_ value: RESPValue) -> RESPValue {
    switch value {
    case .nullArray: return .null
    case .array(let elements): return .array(elements.map(resp3Decoded))
    case .set(let elements): return .set(elements.map(resp3Decoded))
    case .push(let elements): return .push(elements.map(resp3Decoded))
    case .map(let pairs): return .map(pairs.map(resp3Decoded))
    case .attribute(let pairs, let value): return .attribute(pairs.map(resp3Decoded), resp3Decoded(value))
    default: return value
    }
}

func resp3Decoded(_ pair: RESPPair) -> RESPPair {
    RESPPair(resp3Decoded(pair.key), resp3Decoded(pair.value))
}

@Test("Random nested values encoded in RESP3 decode equal", arguments: [1, 2, 3] as [UInt64])
func roundTripsResp3(seed: UInt64) throws {
    var generator = ValueGenerator(random: SplitMix64(seed: seed), resp3: true)
    let values = (0..<2_000).map { _ in generator.value() }
    var buffer = ByteBuffer()
    for value in values {
        buffer.writeRESPValue(value, version: .resp3)
    }
    let (decoded, rest) = try decodeValues(buffer)
    #expect(rest == 0)
    #expect(decoded == values.map(resp3Decoded))
}

@Test("Random nested RESP2 values encoded in RESP2 decode equal", arguments: [4, 5] as [UInt64])
func roundTripsResp2(seed: UInt64) throws {
    var generator = ValueGenerator(random: SplitMix64(seed: seed), resp3: false)
    let values = (0..<2_000).map { _ in generator.value() }
    var buffer = ByteBuffer()
    for value in values {
        buffer.writeRESPValue(value, version: .resp2)
    }
    let (decoded, rest) = try decodeValues(buffer)
    #expect(rest == 0)
    #expect(decoded == values)
}

@Test("Random RESP3 values split at random points decode equal")
func roundTripsResp3InRandomChunks() throws {
    var generator = ValueGenerator(random: SplitMix64(seed: 9), resp3: true)
    var splitter = SplitMix64(seed: 10)
    let values = (0..<300).map { _ in generator.value() }
    var wire = ByteBuffer()
    for value in values {
        wire.writeRESPValue(value, version: .resp3)
    }
    let decoder = RESPValueDecoder()
    var buffer = ByteBuffer()
    var decoded: [RESPValue] = []
    while wire.readableBytes > 0 {
        var chunk = wire.readSlice(length: min(Int.random(in: 1...100, using: &splitter), wire.readableBytes))!
        buffer.writeBuffer(&chunk)
        while let value = try decoder.decode(&buffer) {
            decoded.append(value)
        }
    }
    #expect(decoded == values.map(resp3Decoded))
}
