import Testing
@testable import SluiceCore

@Suite("SipHash-1-3")
struct SipHashTests {
    /// Key 00 01 .. 0f and messages 00 01 .. (n-1), as in the reference vectors; the
    /// values come from an independent implementation checked against SipHash-2-4's
    /// published vectors with the round counts changed.
    @Test("hashes the reference key's byte sequences to SipHash-1-3's values, across block boundaries")
    func referenceValues() {
        let sip = SipHash13(k0: 0x0706_0504_0302_0100, k1: 0x0f0e_0d0c_0b0a_0908)
        let expected: [Int: UInt64] = [
            0: 0xabac_0158_050f_c4dc, 1: 0xc9f4_9bf3_7d57_ca93, 7: 0xd392_7d98_9bb1_1140,
            8: 0x3690_9511_8d29_9a8e, 15: 0xd320_d86d_2a51_9956, 16: 0xcc4f_dd1a_7d90_8b66,
            23: 0x525a_0e7f_dae6_c123,
        ]
        for (length, value) in expected {
            let message = (0..<length).map { UInt8($0) }
            #expect(message.withUnsafeBytes { sip.hash($0) } == value, "length \(length)")
        }
    }

    @Test("reads every length of last block the same as a byte-at-a-time SipHash-1-3, at any alignment")
    func everyTailLength() {
        let sip = SipHash13(k0: 0x1234_5678_9abc_def0, k1: 0x0fed_cba9_8765_4321)
        let buffer = (0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        buffer.withUnsafeBytes { all in
            for start in 0..<8 {
                for length in 0...40 {
                    let message = UnsafeRawBufferPointer(rebasing: all[start..<start + length])
                    #expect(sip.hash(message) == Self.bytewise(message, k0: sip.k0, k1: sip.k1), "start \(start), length \(length)")
                }
            }
        }
    }

    /// SipHash-1-3 written out plainly, its last block gathered a byte at a time.
    static func bytewise(_ bytes: UnsafeRawBufferPointer, k0: UInt64, k1: UInt64) -> UInt64 {
        var v0 = 0x736f_6d65_7073_6575 ^ k0, v1 = 0x646f_7261_6e64_6f6d ^ k1
        var v2 = 0x6c79_6765_6e65_7261 ^ k0, v3 = 0x7465_6462_7974_6573 ^ k1
        func rotl(_ x: UInt64, _ b: UInt64) -> UInt64 { (x << b) | (x >> (64 - b)) }
        func round() {
            v0 &+= v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
            v2 &+= v3; v3 = rotl(v3, 16); v3 ^= v2
            v0 &+= v3; v3 = rotl(v3, 21); v3 ^= v0
            v2 &+= v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
        }
        var blocks: [UInt64] = []
        var word: UInt64 = 0
        for (index, byte) in bytes.enumerated() {
            word |= UInt64(byte) << UInt64(8 * (index % 8))
            if index % 8 == 7 { blocks.append(word); word = 0 }
        }
        blocks.append(word | UInt64(bytes.count) << 56)
        for block in blocks { v3 ^= block; round(); v0 ^= block }
        v2 ^= 0xff
        round(); round(); round()
        return v0 ^ v1 ^ v2 ^ v3
    }

    @Test("a keyspace looks a key up by the hash it was told to expect for those bytes, and hashes other bytes itself")
    func expectedKey() {
        let now = Instant(milliseconds: 1_700_000_000_000)
        var keyspace = Keyspace()
        let name: [UInt8] = Array("user:1".utf8)
        keyspace.set(name, .integer(7), now: now)
        name.withUnsafeBytes { raw in
            // The right hash finds the key; a wrong one proves the hint is what was used.
            keyspace.expectKey(raw, hash: keyspace.hash(raw))
            #expect(keyspace.value(raw, now: now) == .integer(7))
            keyspace.expectKey(raw, hash: keyspace.hash(raw) &+ 1)
            #expect(keyspace.value(raw, now: now) == nil)
            keyspace.forgetExpectedKey()
            #expect(keyspace.value(raw, now: now) == .integer(7))
        }
        let copy = name.map { $0 }  // the same bytes elsewhere
        name.withUnsafeBytes { raw in
            keyspace.expectKey(raw, hash: 0)
            #expect(copy.withUnsafeBytes { keyspace.value($0, now: now) } == .integer(7))
            keyspace.forgetExpectedKey()
        }
    }
}
