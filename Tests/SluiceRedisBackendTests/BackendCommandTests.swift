@testable import SluiceRedisBackend
import Testing

@Suite("BackendCommand wire form")
struct BackendCommandTests {
    /// The words of one RESP array of bulk strings.
    func words(_ bytes: [UInt8]) -> [String] {
        var index = 0
        func line() -> String {
            let start = index
            while bytes[index] != 13 { index += 1 }
            defer { index += 2 }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }
        let header = line()
        #expect(header.first == "*")
        return (0..<Int(header.dropFirst())!).map { _ in
            let length = Int(line().dropFirst())!
            defer { index += length + 2 }
            return String(decoding: bytes[index..<index + length], as: UTF8.self)
        }
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
        var output: [UInt8] = []
        BackendCommand.writeBatch(calls[...], into: &output, hash: Array("abc".utf8))
        #expect(words(output) == ["EVALSHA", "abc", "5", "a", "b", "c", "d", "e", "BATCH", "5"]
            + ["1", "5"] + first + ["1", "="] + ["1", "5"] + second + ["1", "="] + ["1", "5"] + first)
    }
}
