import Synchronization

/// A `SHUTDOWN` command's request to stop, which `SluiceServer.run()` waits for beside
/// the graceful-shutdown signal. Only the first request counts.
final class ShutdownRequest: Sendable {
    /// What happens to the snapshot file.
    enum Snapshot: Sendable {
        /// Written when `--snapshot` is set, as on SIGTERM.
        case asConfigured
        /// `NOSAVE`: not written.
        case skip
    }

    struct Options: Sendable {
        var snapshot: Snapshot
        /// `NOW`: open connections are closed at once instead of given `shutdown-timeout`.
        var immediate: Bool
    }

    private let requests: AsyncStream<Options>
    private let continuation: AsyncStream<Options>.Continuation
    private let made = Atomic<Bool>(false)

    init() {
        (requests, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// True once a shutdown has been requested.
    var isRequested: Bool { made.load(ordering: .relaxed) }

    /// Asks the server to stop; false when it was asked already.
    func request(_ options: Options) -> Bool {
        guard !made.exchange(true, ordering: .relaxed) else { return false }
        continuation.yield(options)
        continuation.finish()
        return true
    }

    /// The first request's options; nil when the waiting task is cancelled first.
    func wait() async -> Options? {
        for await options in requests { return options }
        return nil
    }
}
