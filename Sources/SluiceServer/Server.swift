import Dispatch
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SluiceCore
import SluiceRedisBackend
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A running Sluice server: listener, connections and active expiry.
public final class SluiceServer: Sendable {
    public static let version = ServerContext.version

    public let configuration: ServerConfiguration
    private let group: MultiThreadedEventLoopGroup
    let dispatcher: Dispatcher
    private let logger: Logger
    /// `draining` is set when shutdown begins: connections accepted after it are closed.
    private let channels = Mutex<(listeners: [Channel], connections: [ObjectIdentifier: Channel], draining: Bool)>(([], [:], false))
    /// The plain-text port's listener, when plain text is served.
    private let plainListener = Mutex<PlainListener?>(nil)
    /// The plain-text connections' event loops (`PlainEventLoop`), `threads` of them,
    /// started with the listener; connections go to them in turn.
    private let plainLoops = Mutex<[PlainEventLoop]>([])
    private let nextPlainLoop = Atomic<Int>(0)
    /// The next active-expiry run, and whether shutdown has stopped the runs.
    private let expiry = Mutex<(next: Scheduled<Void>?, stopped: Bool)>((nil, false))
    private let snapshotTask = Mutex<RepeatedTask?>(nil)
    /// Set once the snapshot loaded: only then may shutdown write one (a file that failed
    /// to load is never overwritten by an empty keyspace).
    private let snapshotLoaded = Atomic<Bool>(false)
    /// The Prometheus listener (MetricsServer.swift), when `metricsPort` is set.
    private let metricsListener = Mutex<Channel?>(nil)
    /// Set by `start()`, so that `run()` (ServerService.swift) starts only once.
    private let started = Atomic<Bool>(false)

    public init(configuration: ServerConfiguration, timeSource: any TimeSource = SystemTimeSource(), logger: Logger = Logger(label: "sluice")) {
        self.configuration = configuration
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads))
        let table = CommandTable.all
        // Only a server that allows DEBUG pays for a clock that DEBUG SET-CLOCK can pin.
        let debugClock = configuration.enableDebugCommand == .no ? nil : SwitchableTimeSource(timeSource)
        let database = Database(commandCount: table.specs.count, shards: configuration.shards)
        let persistence = configuration.snapshotPath.map {
            Persistence(path: $0, clock: debugClock ?? timeSource, logger: logger, database: database)
        }
        database.state.withLock { $0.memoryLimit = MemoryLimit(configuration) }
        // A backend setting that does not validate leaves this nil, and start() reports it.
        let metrics = configuration.metricsPort == nil ? nil : ServerMetrics()
        var backend: BackendMode?
        if let settings = (try? configuration.backendConfiguration()) ?? nil,
           let client = try? RedisBackend(configuration: settings, roundTripObserver: metrics?.backendRoundTripObserver()) {
            backend = BackendMode(backend: client, database: database, table: table)
        }
        let context = ServerContext(
            configuration: configuration, table: table, startedAt: timeSource.now(), processID: getpid(),
            debugClock: debugClock, logger: logger, persistence: persistence, backend: backend,
            metrics: metrics)
        self.dispatcher = Dispatcher(
            context: context, database: database, timeSource: debugClock ?? timeSource)
    }

    /// The port actually bound (useful when configured with port 0); 0 when only TLS is served.
    public var port: Int { dispatcher.context.boundPort.load(ordering: .relaxed) }

    /// The TLS port actually bound, nil without TLS.
    public var tlsPort: Int? {
        let port = dispatcher.context.boundTLSPort.load(ordering: .relaxed)
        return port == 0 ? nil : port
    }

    /// `in-memory`, or `backend redis://host:port/db`, for the ready line.
    public var modeDescription: String {
        dispatcher.context.backend.map { "backend \($0.url)" } ?? "in-memory"
    }

    /// The port serving `/metrics`, nil when metrics are off.
    public var metricsPort: Int? { metricsListener.withLock { $0?.localAddress?.port } }

    var isStarted: Bool { started.load(ordering: .relaxed) }

    /// The grace period of a graceful shutdown: `shutdown-timeout`, as `CONFIG SET` last left it.
    public var shutdownTimeoutSeconds: Int { dispatcher.context.settings.shutdownTimeoutSeconds.load(ordering: .relaxed) }

    /// Loads the snapshot, if configured, then binds and starts serving; returns once the
    /// listeners are ready. Throws `PersistenceError` for a snapshot that cannot be loaded,
    /// `ConfigurationError` for TLS files that cannot be used.
    public func start() async throws {
        started.store(true, ordering: .relaxed)
        Keyspace.configureAllocator()
        let dispatcher = self.dispatcher
        let tlsContext = try configuration.makeTLSContext()
        try await startBackend()
        try loadSnapshot()
        if configuration.plainTextEnabled {
            do {
                // One at a time, so that a failure stops the ones already running.
                for index in 0..<max(1, configuration.threads) {
                    let loop = try PlainEventLoop(name: "sluice-loop-\(index)")
                    plainLoops.withLock { $0.append(loop) }
                }
                let loops = plainLoops.withLock { $0 }
                let listener = try PlainListener(host: configuration.host, port: configuration.port, backlog: Self.backlog) { descriptor in
                    self.adopt(descriptor, loops: loops)
                }
                plainListener.withLock { $0 = listener }
                dispatcher.context.boundPort.store(listener.port, ordering: .relaxed)
            } catch {
                await stopPlainLoops()
                throw error
            }
        }
        if let tlsContext, let tlsPort = configuration.tlsPort {
            do {
                let listener = try await bootstrap(tls: tlsContext).bind(host: configuration.host, port: tlsPort).get()
                self.channels.withLock { $0.listeners.append(listener) }
                dispatcher.context.boundTLSPort.store(listener.localAddress?.port ?? tlsPort, ordering: .relaxed)
            } catch {
                await shutdown()
                throw error
            }
        }

        let expiryLoops: [any EventLoop] = plainLoops.withLock { $0 }
        scheduleExpiry(after: .milliseconds(configuration.expiryIntervalMilliseconds),
                       on: expiryLoops.isEmpty ? [group.next()] : expiryLoops)
        scheduleSnapshots()

        if let metricsPort = configuration.metricsPort {
            do {
                let metrics = try await Self.bindMetrics(host: configuration.metricsHost, port: metricsPort, group: group, dispatcher: dispatcher)
                metricsListener.withLock { $0 = metrics }
            } catch {
                await shutdown()
                throw MetricsListenError(host: configuration.metricsHost, port: metricsPort, underlying: error)
            }
        }
    }

    /// Pending connections a listener keeps, as Redis's default `tcp-backlog`.
    static let backlog: CInt = 511

    /// The TLS port's bootstrap: NIO accepts, and each connection gets a TLS handler in
    /// front of the connection handler.
    private func bootstrap(tls: NIOSSLContext) -> ServerBootstrap {
        ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: Int32(Self.backlog))
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 1)
            .childChannelOption(.writeBufferWaterMark, value: outputWaterMark)
            .childChannelInitializer { channel in self.initialize(channel, tls: tls, descriptor: nil) }
    }

    /// A connection the plain-text listener accepted (on its thread): goes to the next
    /// plain-text event loop, which makes it a `PlainChannel` with the same pipeline as a
    /// TLS connection, minus the TLS handler, and owns the descriptor from then on.
    private func adopt(_ descriptor: CInt, loops: [PlainEventLoop]) {
        let loop = loops[nextPlainLoop.wrappingAdd(1, ordering: .relaxed).oldValue % loops.count]
        let waterMark = outputWaterMark
        loop.execute {
            let channel = PlainChannel(descriptor: descriptor, loop: loop, waterMark: waterMark)
            self.initialize(channel, tls: nil, descriptor: descriptor).whenComplete { result in
                switch result {
                case .success: channel.activate()
                case .failure: channel.close(promise: nil)
                }
            }
        }
    }

    /// Unread replies past the output limit make the channel unwritable, and the handler closes it.
    private var outputWaterMark: ChannelOptions.Types.WriteBufferWaterMark {
        let limit = configuration.maxOutputBufferBytes > 0 ? configuration.maxOutputBufferBytes : Int.max
        return .init(low: limit / 2, high: limit)
    }

    /// A new connection's pipeline; refused once shutdown has begun.
    private func initialize(_ channel: Channel, tls: NIOSSLContext?, descriptor: CInt?) -> EventLoopFuture<Void> {
        let id = ObjectIdentifier(channel)
        let accepted = self.channels.withLock { channels in
            guard !channels.draining else { return false }
            channels.connections[id] = channel
            return true
        }
        // Accepted just before the listener closed: the bootstrap closes it.
        guard accepted else { return channel.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
        channel.closeFuture.whenComplete { _ in
            _ = self.channels.withLock { $0.connections.removeValue(forKey: id) }
        }
        let dispatcher = self.dispatcher
        return channel.eventLoop.makeCompletedFuture {
            if let tls {
                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls))
            }
            try channel.pipeline.syncOperations.addHandler(ConnectionHandler(dispatcher: dispatcher, descriptor: descriptor))
        }
    }

    // MARK: Backend

    /// Loads the scripts; a Redis that is down is logged, not fatal: commands fail by the
    /// policy until it is back, and the scripts load on first use.
    private func startBackend() async throws {
        guard let configuration = try self.configuration.backendConfiguration() else { return }
        guard let backend = dispatcher.context.backend?.backend else {
            // The client refused these settings in init (e.g. the pool size): say why.
            try configuration.validate()
            return
        }
        do {
            try await backend.loadScripts()
            logger.info("Backend \(configuration.address) ready, scripts loaded")
        } catch {
            logger.warning("Backend \(configuration.address) not ready (\(error)); rate-limit commands answer by the \(configuration.failurePolicy.rawValue) policy until it is back")
        }
    }

    /// Closes the backend's connections; their threads are joined off the event loops.
    private func stopBackend() async {
        guard let backend = dispatcher.context.backend?.backend else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                backend.shutdown()
                continuation.resume()
            }
        }
    }

    // MARK: Snapshots

    private func loadSnapshot() throws(PersistenceError) {
        guard let persistence = dispatcher.context.persistence else { return }
        var keyspace = Keyspace()
        let now = dispatcher.timeSource.now()
        _ = try persistence.load(into: &keyspace, now: now, ignoreCorrupt: configuration.snapshotIgnoreCorrupt)
        dispatcher.database.withExclusive { $0.keyspace.replaceAll(with: keyspace, now: now) }
        snapshotLoaded.store(true, ordering: .relaxed)
    }

    /// Runs active expiry after `delay` on one of `loops`, then schedules the next run on
    /// the next loop: an interval after it ends, or when it stopped on its slice with keys
    /// still mostly expired, a slice later (at least a millisecond), so a backlog gets up
    /// to half a loop in slices between its reads until it is gone. The plain-text loops
    /// take turns; without them, NIO's.
    private func scheduleExpiry(after delay: TimeAmount, on loops: [any EventLoop], turn: Int = 0) {
        let dispatcher = self.dispatcher
        let interval = TimeAmount.milliseconds(configuration.expiryIntervalMilliseconds)
        let pause = TimeAmount.microseconds(max(configuration.expirySliceMicroseconds, 1_000))
        expiry.withLock { state in
            guard !state.stopped else { return }
            state.next = loops[turn % loops.count].scheduleTask(in: delay) {
                let backlog = dispatcher.expireKeys()
                self.scheduleExpiry(after: backlog ? pause : interval, on: loops, turn: turn &+ 1)
            }
        }
    }

    private func scheduleSnapshots() {
        guard let persistence = dispatcher.context.persistence, configuration.snapshotIntervalSeconds > 0 else { return }
        let dispatcher = self.dispatcher
        let interval = TimeAmount.seconds(Int64(configuration.snapshotIntervalSeconds))
        let task = group.next().scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            let now = dispatcher.timeSource.now()
            dispatcher.database.withExclusive { state in
                _ = persistence.saveInBackground(&state.keyspace, now: now)
            }
        }
        snapshotTask.withLock { $0 = task }
    }

    /// The shutdown snapshot, once no connection can change the keyspace any more.
    private func saveSnapshotAtShutdown() {
        guard let persistence = dispatcher.context.persistence, snapshotLoaded.exchange(false, ordering: .relaxed) else { return }
        let dispatcher = self.dispatcher
        do throws(PersistenceError) {
            let count = try persistence.saveAfterPendingWrites(now: dispatcher.timeSource.now()) {
                dispatcher.database.withExclusive { $0.keyspace.copies }
            }
            logger.info("Snapshot saved to \(persistence.path) (\(count) keys)")
        } catch {
            logger.error("Snapshot at shutdown failed: \(error)")
        }
    }

    /// Stops the server. The listeners close first, so new connections are refused. Open
    /// connections then get up to `gracePeriod` to finish what they sent: each closes once
    /// it has been quiet for `ConnectionHandler.drainQuietTime` with every reply it is
    /// owed written; one parked in a blocking command closes then too. Whatever is still
    /// open when the grace period ends, or when the calling task is cancelled, is closed.
    /// Then the snapshot is written (if configured), the backend closed and the event
    /// loops stopped. With no grace period every connection is closed at once.
    public func shutdown(gracePeriod: Duration = .zero) async {
        await shutdown(gracePeriod: gracePeriod, snapshot: .asConfigured)
    }

    func shutdown(gracePeriod: Duration, snapshot: ShutdownRequest.Snapshot) async {
        let (listeners, connections) = channels.withLock { channels in
            channels.draining = true
            return (channels.listeners, Array(channels.connections.values))
        }
        if let listener = plainListener.withLock({ $0.take() }) {
            // Joins the accepting thread, which is only ever in accept or handing one over.
            listener.stop()
        }
        for listener in listeners {
            try? await listener.close()
        }
        try? await metricsListener.withLock { $0 }?.close()
        if gracePeriod > .zero && !connections.isEmpty {
            await drain(connections, within: gracePeriod)
        }
        for connection in channels.withLock({ Array($0.connections.values) }) {
            try? await connection.close()
        }
        expiry.withLock { state in
            state.stopped = true
            state.next?.cancel()
            state.next = nil
        }
        snapshotTask.withLock { $0?.cancel(); $0 = nil }
        if snapshot == .asConfigured { saveSnapshotAtShutdown() }
        await stopBackend()
        await stopPlainLoops()
        try? await group.shutdownGracefully()
    }

    /// Ends the plain-text event loops' threads, off the caller's, once their connections are closed.
    private func stopPlainLoops() async {
        let loops = plainLoops.withLock { loops in
            defer { loops = [] }
            return loops
        }
        guard !loops.isEmpty else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                for loop in loops { loop.stop() }
                continuation.resume()
            }
        }
    }

    /// Asks each connection to close once it is done, and waits until all have closed,
    /// the grace period has passed or the task is cancelled.
    private func drain(_ connections: [Channel], within gracePeriod: Duration) async {
        logger.info("Shutting down: \(connections.count) connection(s) open, waiting up to \(gracePeriod) for them to finish")
        let allClosed = EventLoopFuture.andAllComplete(connections.map(\.closeFuture), on: group.next())
        for connection in connections {
            connection.pipeline.fireUserInboundEventTriggered(ConnectionHandler.Drain())
        }
        await withTaskGroup(of: Bool.self) { tasks in
            tasks.addTask { (try? await allClosed.get()) != nil }
            tasks.addTask {
                try? await Task.sleep(for: gracePeriod)
                return false
            }
            let finished = await tasks.next() ?? false
            tasks.cancelAll()
            if !finished {
                // Closing them also ends the task waiting for them.
                let open = channels.withLock { Array($0.connections.values) }
                logger.warning("Shutting down: grace period ended, closing \(open.count) connection(s) still open")
                for connection in open { connection.close(promise: nil) }
            }
        }
    }
}
