import NIOCore
@testable import SluiceRedisBackend
import Testing

@Suite("BackendCommand wire form")
struct BackendCommandTests {
    /// The words of one RESP array of bulk strings; nil when the bytes are not one
    /// (a length that does not match its word, say).
    func words(_ bytes: [UInt8]) -> [String]? {
        var index = 0
        func line() -> String? {
            let start = index
            while index < bytes.count && bytes[index] != 13 { index += 1 }
            guard index + 1 < bytes.count, bytes[index + 1] == 10 else { return nil }
            defer { index += 2 }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
        guard let header = line(), header.first == "*", let count = Int(header.dropFirst()) else { return nil }
        var result: [String] = []
        for _ in 0..<count {
            guard let prefix = line(), prefix.first == "$", let length = Int(prefix.dropFirst()),
                  index + length + 2 <= bytes.count, bytes[index + length] == 13, bytes[index + length + 1] == 10
            else { return nil }
            result.append(String(decoding: bytes[index..<index + length], as: UTF8.self))
            index += length + 2
        }
        return index == bytes.count ? result : nil
    }

    func consume(_ key: String, _ arguments: [String]) -> BackendCommand {
        var command = BackendCommand(script: .leakyBucket, keyCount: 1)
        command.append(Array(key.utf8))
        for argument in arguments { command.append(argument) }
        return command
    }

    @Test("a batched call with the previous call's arguments sends = instead of them")
    func repeatedArguments() {
        let first = ["consume", "10", "1", "1", "0"]
        let second = ["consume", "10", "1", "2", "0"]
        let calls = [consume("a", first), consume("b", first), consume("c", second), consume("d", second), consume("e", first)]
        var output = ByteBuffer()
        BackendCommand.writeBatch(calls[...], into: &output, hash: Array("abc".utf8))
        #expect(words(Array(output.readableBytesView)) == ["EVALSHA", "abc", "5", "a", "b", "c", "d", "e", "BATCH", "5"]
            + ["1", "5"] + first + ["1", "="] + ["1", "5"] + second + ["1", "="] + ["1", "5"] + first)
    }

    @Test("a batch's counts of two and more digits are bulk strings of their exact length")
    func multiDigitCounts() {
        // Twelve calls with eleven arguments each, none repeating the one before.
        let calls = (0..<12).map { call in consume("k\(call)", (0..<11).map { "\(call * 100 + $0)" }) }
        var output = ByteBuffer()
        BackendCommand.writeBatch(calls[...], into: &output, hash: Array("abc".utf8))
        let expected = ["EVALSHA", "abc", "12"] + (0..<12).map { "k\($0)" } + ["BATCH", "12"]
            + (0..<12).flatMap { call in ["1", "11"] + (0..<11).map { "\(call * 100 + $0)" } }
        #expect(words(Array(output.readableBytesView)) == expected)
    }
}
