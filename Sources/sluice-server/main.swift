import ArgumentParser
import Dispatch
import Logging
import SluiceRedisBackend
import SluiceServer

#if canImport(Glibc)
import Glibc
#endif

/// Flags -> configuration -> run.
@main
struct SluiceServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice-server",
        abstract: "A Redis-protocol rate-limit server."
    )

    @Option(help: "Address to listen on.")
    var bind = "127.0.0.1"

    @Option(help: "TCP port to listen on (0 picks a free port).")
    var port = 6380

    @Option(help: "Event-loop threads serving connections.")
    var threads = 1

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    @Option(name: .customLong("proto-max-bulk-len"), help: "Largest bulk string a client may send, in bytes.")
    var maxBulkLength = ServerConfiguration().maxBulkLength

    @Option(name: .customLong("enable-debug-command"), help: "Allow DEBUG (SET-CLOCK): no, yes or local (loopback clients only).")
    var enableDebugCommand: DebugCommandAccess = .no

    @Option(help: "Keep limiter state in this Redis: redis://[[user]:password@]host[:port][/db] (preview: not wired yet).")
    var backend: String?

    @Option(name: .customLong("backend-password"), help: "Password for the backend Redis (overrides the URL's).")
    var backendPassword: String?

    @Option(name: .customLong("backend-pool-size"), help: "Connections to the backend Redis.")
    var backendPoolSize = RedisBackendConfiguration().poolSize

    @Option(name: .customLong("backend-timeout-ms"), help: "Backend connect and reply timeout, in milliseconds.")
    var backendTimeoutMilliseconds = RedisBackendConfiguration().timeoutMilliseconds

    @Option(name: .customLong("on-backend-failure"), help: "When the backend cannot decide: fail-closed (TRYAGAIN) or fail-open (allow).")
    var onBackendFailure = RedisBackendConfiguration().failurePolicy

    /// The backend settings from the flags; nil without `--backend`.
    func backendConfiguration() throws -> RedisBackendConfiguration? {
        guard let backend else {
            let defaults = RedisBackendConfiguration()
            guard backendPassword == nil, backendPoolSize == defaults.poolSize,
                  backendTimeoutMilliseconds == defaults.timeoutMilliseconds, onBackendFailure == defaults.failurePolicy
            else { throw ValidationError("the --backend-* and --on-backend-failure flags need --backend") }
            return nil
        }
        do {
            var configuration = try RedisBackendConfiguration(url: backend)
            if let backendPassword { configuration.password = backendPassword }
            configuration.poolSize = backendPoolSize
            configuration.timeoutMilliseconds = backendTimeoutMilliseconds
            configuration.failurePolicy = onBackendFailure
            try configuration.validate()
            return configuration
        } catch {
            throw ValidationError("--backend: \(error)")
        }
    }

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard (1...256).contains(threads) else { throw ValidationError("--threads must be between 1 and 256") }
        guard maxBulkLength >= 1 && maxBulkLength <= ServerConfiguration().maxBulkLength else {
            throw ValidationError("--proto-max-bulk-len must be between 1 and \(ServerConfiguration().maxBulkLength)")
        }
        if try backendConfiguration() != nil {
            // Refuse rather than run in memory: instances meant to share state would each admit the full rate.
            throw ValidationError("--backend: backend mode is not wired into the server yet (the flags are only validated)")
        }
    }

    func run() async throws {
        var logger = Logger(label: "sluice")
        logger.logLevel = logLevel
        var configuration = ServerConfiguration()
        configuration.host = bind
        configuration.port = port
        configuration.threads = threads
        configuration.maxBulkLength = maxBulkLength
        configuration.enableDebugCommand = enableDebugCommand
        configuration.backend = try backendConfiguration()

        let server = SluiceServer(configuration: configuration, logger: logger)
        try await server.start()
        logger.info("Sluice \(SluiceServer.version) ready on \(bind):\(server.port) (mode: in-memory, threads: \(threads))")

        // Signals arrive on a dispatch queue and are handed to this task, which shuts down once.
        let (received, continuation) = AsyncStream<Int32>.makeStream()
        let sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
        for await number in received {
            logger.info("Signal \(number) received, shutting down")
            break
        }
        await server.shutdown()
        sources.forEach { $0.cancel() }
        logger.info("Sluice stopped")
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
extension DebugCommandAccess: ExpressibleByArgument {}
extension BackendFailurePolicy: ExpressibleByArgument {}
