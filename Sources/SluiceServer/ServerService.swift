import ServiceLifecycle

/// The server as a swift-service-lifecycle `Service`: a `ServiceGroup` runs it, and its
/// graceful shutdown (the executable's SIGTERM and SIGINT) or a `SHUTDOWN` command
/// becomes `shutdown(gracePeriod:)` with the `shutdown-timeout` setting. Cancelling the
/// task ends the grace period early.
extension SluiceServer: Service {
    /// Starts the server unless `start()` already did, serves until graceful shutdown is
    /// triggered, `SHUTDOWN` is sent or the task is cancelled, then shuts down. After a
    /// `SHUTDOWN` it returns on its own, so the group must let a finished service end it.
    public func run() async throws {
        if !isStarted { try await start() }
        let requests = dispatcher.context.shutdownRequest
        let requested = await withTaskGroup(of: ShutdownRequest.Options?.self) { waits in
            // Both end early only when the task is cancelled: then the grace period is skipped below too.
            waits.addTask { try? await gracefulShutdown(); return nil }
            waits.addTask { await requests.wait() }
            let first = await waits.next() ?? nil
            waits.cancelAll()
            return first
        }
        await shutdown(gracePeriod: requested?.immediate == true ? .zero : .seconds(shutdownTimeoutSeconds),
                       snapshot: requested?.snapshot ?? .asConfigured)
    }
}
