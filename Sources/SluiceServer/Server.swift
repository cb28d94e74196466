import Logging
import NIOCore
import NIOPosix
import SluiceCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A running Sluice server: listener, connections and active expiry.
public final class SluiceServer: Sendable {
    public static let version = ServerContext.version

    public let configuration: ServerConfiguration
    private let group: MultiThreadedEventLoopGroup
    private let dispatcher: Dispatcher
    private let logger: Logger
    private let channels = Mutex<(listener: Channel?, connections: [ObjectIdentifier: Channel])>((nil, [:]))
    private let expiryTask = Mutex<RepeatedTask?>(nil)
    /// The Prometheus listener (MetricsServer.swift), when `metricsPort` is set.
    private let metricsListener = Mutex<Channel?>(nil)

    public init(configuration: ServerConfiguration, timeSource: any TimeSource = SystemTimeSource(), logger: Logger = Logger(label: "sluice")) {
        self.configuration = configuration
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, configuration.threads))
        let table = CommandTable.all
        // Only a server that allows DEBUG pays for a clock that DEBUG SET-CLOCK can pin.
        let debugClock = configuration.enableDebugCommand == .no ? nil : SwitchableTimeSource(timeSource)
        let context = ServerContext(
            configuration: configuration, table: table, startedAt: timeSource.now(), processID: getpid(),
            debugClock: debugClock, logger: logger)
        self.dispatcher = Dispatcher(
            context: context, database: Database(commandCount: table.specs.count), timeSource: debugClock ?? timeSource)
    }

    /// The port actually bound (useful when configured with port 0).
    public var port: Int { dispatcher.context.boundPort.load(ordering: .relaxed) }

    /// The port serving `/metrics`, nil when metrics are off.
    public var metricsPort: Int? { metricsListener.withLock { $0?.localAddress?.port } }

    /// Binds and starts serving; returns once the listener is ready.
    public func start() async throws {
        let dispatcher = self.dispatcher
        // Unread replies past the output limit make the channel unwritable, and the handler closes it.
        let outputLimit = configuration.maxOutputBufferBytes > 0 ? configuration.maxOutputBufferBytes : Int.max
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 511)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: outputLimit / 2, high: outputLimit))
            .childChannelInitializer { channel in
                let id = ObjectIdentifier(channel)
                self.channels.withLock { $0.connections[id] = channel }
                channel.closeFuture.whenComplete { _ in
                    _ = self.channels.withLock { $0.connections.removeValue(forKey: id) }
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ConnectionHandler(dispatcher: dispatcher))
                }
            }
        let listener = try await bootstrap.bind(host: configuration.host, port: configuration.port).get()
        self.channels.withLock { $0.listener = listener }
        dispatcher.context.boundPort.store(listener.localAddress?.port ?? configuration.port, ordering: .relaxed)

        let interval = TimeAmount.milliseconds(configuration.expiryIntervalMilliseconds)
        let task = group.next().scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
            dispatcher.expireKeys()
        }
        expiryTask.withLock { $0 = task }

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

    /// Stops accepting, closes every connection and the event loops.
    public func shutdown() async {
        expiryTask.withLock { $0?.cancel(); $0 = nil }
        let (listener, connections) = channels.withLock { ($0.listener, Array($0.connections.values)) }
        try? await listener?.close()
        try? await metricsListener.withLock { $0 }?.close()
        for connection in connections {
            try? await connection.close()
        }
        try? await group.shutdownGracefully()
    }
}
