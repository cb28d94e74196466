import SluiceCore
import Synchronization

/// The settings `CONFIG SET` may change while the server runs. Atomics, not the
/// database lock: connection handlers read the limits outside any command.
final class RuntimeSettings: Sendable {
    /// The default user's password; nil: no `AUTH` needed. Locked only by `AUTH`,
    /// `HELLO`, `CONFIG` and commands of connections that have not authenticated.
    let requirePass: Mutex<[UInt8]?>
    let maxClients: Atomic<Int>
    let idleTimeoutSeconds: Atomic<Int>
    let maxQueryBufferBytes: Atomic<Int>
    let slowlogSlowerThan: Atomic<Int>
    let slowlogMaxLength: Atomic<Int>
    let shutdownTimeoutSeconds: Atomic<Int>
    let maxMemoryBytes: Atomic<Int>
    /// A position in `EvictionPolicy.allCases`.
    let maxMemoryPolicy: Atomic<Int>
    let maxMemorySamples: Atomic<Int>

    init(_ configuration: ServerConfiguration) {
        requirePass = Mutex(configuration.requirePass.map { Array($0.utf8) })
        maxClients = Atomic(configuration.maxClients)
        idleTimeoutSeconds = Atomic(configuration.idleTimeoutSeconds)
        maxQueryBufferBytes = Atomic(configuration.maxQueryBufferBytes)
        slowlogSlowerThan = Atomic(configuration.slowlogSlowerThanMicroseconds)
        slowlogMaxLength = Atomic(configuration.slowlogMaxLength)
        shutdownTimeoutSeconds = Atomic(configuration.shutdownTimeoutSeconds)
        maxMemoryBytes = Atomic(configuration.maxMemoryBytes)
        maxMemoryPolicy = Atomic(EvictionPolicy.allCases.firstIndex(of: configuration.maxMemoryPolicy) ?? 0)
        maxMemorySamples = Atomic(configuration.maxMemorySamples)
    }

    /// Takes the run-time-changeable fields of `configuration`.
    func apply(_ configuration: ServerConfiguration) {
        requirePass.withLock { $0 = configuration.requirePass.map { Array($0.utf8) } }
        maxClients.store(configuration.maxClients, ordering: .relaxed)
        idleTimeoutSeconds.store(configuration.idleTimeoutSeconds, ordering: .relaxed)
        maxQueryBufferBytes.store(configuration.maxQueryBufferBytes, ordering: .relaxed)
        slowlogSlowerThan.store(configuration.slowlogSlowerThanMicroseconds, ordering: .relaxed)
        slowlogMaxLength.store(configuration.slowlogMaxLength, ordering: .relaxed)
        shutdownTimeoutSeconds.store(configuration.shutdownTimeoutSeconds, ordering: .relaxed)
        maxMemoryBytes.store(configuration.maxMemoryBytes, ordering: .relaxed)
        maxMemoryPolicy.store(EvictionPolicy.allCases.firstIndex(of: configuration.maxMemoryPolicy) ?? 0, ordering: .relaxed)
        maxMemorySamples.store(configuration.maxMemorySamples, ordering: .relaxed)
    }

    /// `configuration` with the current run-time values in place of the start-up ones.
    func effective(_ configuration: ServerConfiguration) -> ServerConfiguration {
        var result = configuration
        result.requirePass = requirePass.withLock { $0.map { String(decoding: $0, as: UTF8.self) } }
        result.maxClients = maxClients.load(ordering: .relaxed)
        result.idleTimeoutSeconds = idleTimeoutSeconds.load(ordering: .relaxed)
        result.maxQueryBufferBytes = maxQueryBufferBytes.load(ordering: .relaxed)
        result.slowlogSlowerThanMicroseconds = slowlogSlowerThan.load(ordering: .relaxed)
        result.slowlogMaxLength = slowlogMaxLength.load(ordering: .relaxed)
        result.shutdownTimeoutSeconds = shutdownTimeoutSeconds.load(ordering: .relaxed)
        result.maxMemoryBytes = maxMemoryBytes.load(ordering: .relaxed)
        result.maxMemoryPolicy = EvictionPolicy.allCases[maxMemoryPolicy.load(ordering: .relaxed)]
        result.maxMemorySamples = maxMemorySamples.load(ordering: .relaxed)
        return result
    }

    var passwordRequired: Bool { requirePass.withLock { $0 != nil } }
}
