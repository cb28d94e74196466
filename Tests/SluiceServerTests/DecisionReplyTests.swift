import NIOCore
import RESP
import SeededRandom
import SluiceCore
import Testing
@testable import SluiceServer

@Suite("Rate-limit decisions written straight as bytes")
struct DecisionReplyTests {
    @Test("every decision's bytes are those of its reply value, RESP2 and RESP3, extremes included")
    func bytesMatchValues() {
        var generator = SplitMix64(seed: 31)
        func number() -> Int64 {
            switch Int.random(in: 0..<6, using: &generator) {
            case 0: 0
            case 1: -1
            case 2: .max
            case 3: .min
            case 4: Int64.random(in: 0...1_000_000_000_000, using: &generator)
            default: Int64.random(in: .min ... .max, using: &generator)
            }
        }
        var mismatches = 0
        for _ in 0..<5_000 {
            let replies: [DecisionReply] = [
                .leakyBucket(LeakyBucketDecision(
                    success: Bool.random(using: &generator), level: number(), untilNextDropNanoseconds: number(),
                    blockedForNanoseconds: Bool.random(using: &generator) ? nil : number())),
                .throttle(ThrottleResult(
                    limited: Bool.random(using: &generator), limit: number(), remaining: number(),
                    retryAfterNanoseconds: number(), resetAfterNanoseconds: number())),
                .acquire(AcquireReply(acquired: Bool.random(using: &generator), waitMilliseconds: number(), failingRateIndex: number())),
            ]
            for reply in replies {
                for version in [RESPVersion.resp2, .resp3] {
                    var direct = ByteBuffer()
                    reply.write(into: &direct, version)
                    var value = ByteBuffer()
                    value.writeRESPValue(reply.value(version), version: version)
                    if direct != value { mismatches += 1 }
                }
            }
        }
        #expect(mismatches == 0)
    }
}
