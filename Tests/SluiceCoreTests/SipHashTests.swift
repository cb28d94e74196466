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
