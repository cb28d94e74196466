import ArgumentParser
import Logging
import ServiceLifecycle
import SluiceRedisBackend
import SluiceServer
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// Flags, environment and file -> configuration -> run. The settings themselves are
/// `ConfigurationOption.all` in SluiceServer; this only collects their sources.
@main
struct SluiceServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice-server",
        abstract: "A Redis-protocol rate-limit server.",
        discussion: ServerConfiguration.optionsHelp
    )

    @Option(help: "TOML configuration file (key = value lines); also SLUICE_CONFIG.")
    var config: String?

    @Flag(name: .customLong("health-check"), help: "PING the configured server and exit 0 if it answers PONG.")
    var healthCheck = false

    @Argument(parsing: .allUnrecognized, help: .hidden)
    var settings: [String] = []

    func run() async throws {
        let configuration: ServerConfiguration
        do {
            configuration = try ServerConfiguration.load(
                flags: settings, configPath: config, environment: Self.environment(), validating: !healthCheck)
        } catch {
            Self.printError("sluice-server: \(error)")
            throw ExitCode.failure
        }
        if healthCheck {
            if let problem = await HealthCheck.run(configuration) {
                Self.printError("sluice-server: health check failed: \(problem)")
                throw ExitCode.failure
            }
            return
        }

        if configuration.logFormat == .json {
            LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
        }
        var logger = Logger(label: "sluice")
        logger.logLevel = configuration.logLevel
        let server = SluiceServer(configuration: configuration, logger: logger)
        // The group turns the first SIGTERM or SIGINT into a graceful shutdown with the
        // shutdown-timeout grace period (SluiceServer.run, shutdown(gracePeriod:)).
        let services = ServiceGroup(configuration: ServiceGroupConfiguration(
            // SHUTDOWN ends the server's run() on its own; that ends the group, as a signal would.
            services: [.init(service: server, successTerminationBehavior: .gracefullyShutdownGroup)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        // These handlers exist from before the ready line, while the group installs its
        // own only once it runs: a signal in between must not kill the process, and it is
        // handed to the group here. A second signal cancels the group, which ends the
        // grace period: open connections are closed at once; the snapshot is still written.
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        do {
            try await server.start()
        } catch let error as PersistenceError {
            Self.printError("sluice-server: \(error)")
            throw ExitCode.failure
        } catch let error as ConfigurationError {
            Self.printError("sluice-server: \(error)")
            throw ExitCode.failure
        } catch let error as BackendConfigurationError {
            Self.printError("sluice-server: backend: \(error)")
            throw ExitCode.failure
        }
        let metrics = server.metricsPort.map { "\(configuration.metricsHost):\($0)" } ?? "off"
        let snapshot = configuration.snapshotPath ?? "off"
        // "HOST:PORT", "HOST:PORT, TLS HOST:PORT" or, TLS only, "TLS HOST:PORT".
        let listening = [
            configuration.plainTextEnabled ? "\(configuration.host):\(server.port)" : nil,
            server.tlsPort.map { "TLS \(configuration.host):\($0)" },
        ].compactMap { $0 }.joined(separator: ", ")
        logger.info("Sluice \(SluiceServer.version) ready on \(listening) (mode: \(server.modeDescription), threads: \(configuration.threads), shards: \(configuration.shards), auth: \(configuration.requirePass == nil ? "off" : "on"), maxclients: \(configuration.maxClients), snapshot: \(snapshot), metrics: \(metrics))", metadata: configuration.logFormat == .text ? nil : [
            // JSON lines carry the summary as fields too; text keeps its one-line form.
            "version": "\(SluiceServer.version)", "mode": "\(server.modeDescription)", "bind": "\(configuration.host)",
            "port": "\(configuration.plainTextEnabled ? String(server.port) : "off")", "tls_port": "\(server.tlsPort.map(String.init) ?? "off")",
            "threads": "\(configuration.threads)", "shards": "\(configuration.shards)", "auth": "\(configuration.requirePass == nil ? "off" : "on")",
            "maxclients": "\(configuration.maxClients)", "snapshot": "\(snapshot)", "metrics": "\(metrics)",
        ])

        let lifecycle = Task { try await services.run() }
        let escalation = Task {
            var count = 0
            for await signal in signals {
                count += 1
                if count == 1 {
                    logger.info("\(signal) received, shutting down (grace period \(server.shutdownTimeoutSeconds) s; send it again to close connections at once)")
                    await services.triggerGracefulShutdown()
                } else if count == 2 {
                    logger.info("\(signal) received again, closing connections now")
                    lifecycle.cancel()
                }
            }
        }
        try await lifecycle.value
        escalation.cancel()
        logger.info("Sluice stopped")
    }

    static func environment() -> [String: String] {
        var result: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        return result
    }

    static func printError(_ text: String) {
        let bytes = Array((text + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}
