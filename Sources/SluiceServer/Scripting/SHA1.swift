/// SHA-1 as 40 lower-case hex digits, as `redis.sha1hex` and `SCRIPT LOAD` answer.
func sha1Hex(_ message: some Collection<UInt8>) -> String {
    ScriptDigest(sha1Of: message).hex
}

/// A script's SHA-1, the script cache's key. Redis names scripts by this digest, so
/// clients compute it too (EVALSHA); it is not used for anything that needs a secure
/// hash. An EVALSHA argument is read into one where it lies, where a `String` of the
/// hex digits cost two allocations and a hash of 40 bytes per run.
struct ScriptDigest: Hashable {
    private let words: (UInt32, UInt32, UInt32, UInt32, UInt32)

    /// The digest 40 hex digits spell, in either case; nil for anything else.
    init?(hex: UnsafeRawBufferPointer) {
        guard hex.count == 40, let a = Self.word(hex, 0), let b = Self.word(hex, 8), let c = Self.word(hex, 16),
              let d = Self.word(hex, 24), let e = Self.word(hex, 32) else { return nil }
        words = (a, b, c, d, e)
    }

    /// The 8 hex digits from `start`.
    private static func word(_ hex: UnsafeRawBufferPointer, _ start: Int) -> UInt32? {
        var word: UInt32 = 0
        for index in start..<start + 8 {
            let byte = hex[index]
            let digit: UInt8
            if byte &- UInt8(ascii: "0") < 10 {
                digit = byte &- UInt8(ascii: "0")
            } else if (byte | 0x20) &- UInt8(ascii: "a") < 6 {
                // `| 0x20` lower-cases A-F; no other byte lands on a-f.
                digit = (byte | 0x20) &- UInt8(ascii: "a") &+ 10
            } else {
                return nil
            }
            word = word << 4 | UInt32(digit)
        }
        return word
    }

    /// 40 lower-case hex digits.
    var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(40)
        for word in [words.0, words.1, words.2, words.3, words.4] {
            for shift in stride(from: 28, through: 0, by: -4) { hex.append(digits[Int(word >> UInt32(shift) & 0xF)]) }
        }
        return String(decoding: hex, as: UTF8.self)
    }

    static func == (left: ScriptDigest, right: ScriptDigest) -> Bool {
        left.words == right.words
    }

    func hash(into hasher: inout Hasher) {
        // SHA-1's bits are spread evenly; the first 64 tell scripts apart.
        hasher.combine(UInt64(words.0) << 32 | UInt64(words.1))
    }

    /// The SHA-1 of `message`.
    init(sha1Of message: some Collection<UInt8>) {
        var h: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0)
        // The message, a 1 bit, zeros up to 56 mod 64 bytes, then the bit length (big-endian).
        var bytes = Array(message)
        let bitLength = UInt64(bytes.count) &* 8
        bytes.append(0x80)
        while bytes.count % 64 != 56 { bytes.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }

        var w = [UInt32](repeating: 0, count: 80)
        for chunk in stride(from: 0, to: bytes.count, by: 64) {
            for i in 0..<16 {
                let at = chunk + i * 4
                w[i] = UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
            }
            for i in 16..<80 { w[i] = rotateLeft(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1) }
            var (a, b, c, d, e) = h
            for i in 0..<80 {
                let f: UInt32, k: UInt32
                switch i {
                case 0..<20: (f, k) = ((b & c) | (~b & d), 0x5A82_7999)
                case 20..<40: (f, k) = (b ^ c ^ d, 0x6ED9_EBA1)
                case 40..<60: (f, k) = ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
                default: (f, k) = (b ^ c ^ d, 0xCA62_C1D6)
                }
                let temporary = rotateLeft(a, 5) &+ f &+ e &+ k &+ w[i]
                (e, d, c, b, a) = (d, c, rotateLeft(b, 30), a, temporary)
            }
            h = (h.0 &+ a, h.1 &+ b, h.2 &+ c, h.3 &+ d, h.4 &+ e)
        }
        words = h
    }
}

private func rotateLeft(_ value: UInt32, _ count: UInt32) -> UInt32 {
    value << count | value >> (32 - count)
}
