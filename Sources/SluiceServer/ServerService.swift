import ServiceLifecycle

/// The server as a swift-service-lifecycle `Service`: a `ServiceGroup` runs it, and its
/// graceful shutdown (the executable's SIGTERM and SIGINT) becomes `shutdown(gracePeriod:)`
/// with the `shutdown-timeout` setting. Cancelling the task ends the grace period early.
extension SluiceServer: Service {
    /// Starts the server unless `start()` already did, serves until graceful shutdown is
    /// triggered or the task is cancelled, then shuts down.
    public func run() async throws {
        if !isStarted { try await start() }
        // Throws only when the task is cancelled: then the grace period is skipped below too.
        try? await gracefulShutdown()
        await shutdown(gracePeriod: .seconds(shutdownTimeoutSeconds))
    }
}
