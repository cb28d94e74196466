import Foundation
import RESP
import SluiceRedisBackend
import RedisTestSupport
import Testing

extension RedisServer {
    var configuration: RedisBackendConfiguration {
        var configuration = RedisBackendConfiguration()
        configuration.port = port
        configuration.timeoutMilliseconds = 500
        configuration.poolSize = 2
        return configuration
    }
}

/// Bytes of a string argument.
func word(_ text: String) -> [UInt8] { Array(text.utf8) }

/// The repository's root, found from this file (Tests/SluiceRedisBackendTests/...).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
