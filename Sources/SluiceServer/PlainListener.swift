import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The plain-text port. Connections are accepted on a thread of the listener's own and
/// handed by their descriptor to one of Sluice's own event loops (`PlainEventLoop`),
/// which serves them as `PlainChannel`s. NIO accepts for the TLS port, whose replies go
/// through the TLS handler anyway.
final class PlainListener: Sendable {
    /// The port bound: the configured one, or the one the system chose for port 0.
    let port: Int
    private let descriptor: CInt
    /// The accepting thread's handle, as an integer to keep the class `Sendable`; joined once by `stop`.
    private let thread: UInt

    /// Binds and listens on `host`:`port` (the host resolved as NIO's `bind(host:port:)`
    /// resolves it), then starts accepting; each new connection's descriptor goes to
    /// `accepted`, on the accepting thread. Throws NIO's `IOError` naming the failed call.
    init(host: String, port: Int, backlog: CInt, accepted: @escaping @Sendable (CInt) -> Void) throws {
        let address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        let descriptor = socket(address.protocol.rawValue, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        do {
            var one: CInt = 1
            guard setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size)) == 0 else {
                throw IOError(errnoCode: errno, reason: "setsockopt(SO_REUSEADDR)")
            }
            guard address.withSockAddr({ Glibc.bind(descriptor, $0, socklen_t($1)) }) == 0 else {
                throw IOError(errnoCode: errno, reason: "bind(\(host):\(port))")
            }
            guard listen(descriptor, backlog) == 0 else { throw IOError(errnoCode: errno, reason: "listen") }
            self.port = try Self.boundPort(descriptor)
        } catch {
            close(descriptor)
            throw error
        }
        self.descriptor = descriptor
        let loop = AcceptLoop(descriptor: descriptor, accepted: accepted)
        var handle = pthread_t()
        let result = pthread_create(&handle, nil, { argument in
            Unmanaged<AcceptLoop>.fromOpaque(argument!).takeRetainedValue().run()
            return nil
        }, Unmanaged.passRetained(loop).toOpaque())
        precondition(result == 0, "cannot start the accepting thread: error \(result)")
        self.thread = UInt(handle)
    }

    /// Stops accepting and closes the listening socket; returns once the accepting thread
    /// has ended. Call once. Connections already handed over stay open.
    func stop() {
        // On Linux, shutting a listening socket down wakes a blocked accept with EINVAL.
        shutdown(descriptor, CInt(SHUT_RDWR))
        pthread_join(pthread_t(thread), nil)
        close(descriptor)
    }

    private static func boundPort(_ descriptor: CInt) throws -> Int {
        guard let port = socketAddress(of: descriptor, getsockname)?.port else {
            throw IOError(errnoCode: errno, reason: "getsockname")
        }
        return port
    }
}

/// What the accepting thread runs.
private final class AcceptLoop {
    let descriptor: CInt
    let accepted: @Sendable (CInt) -> Void

    init(descriptor: CInt, accepted: @escaping @Sendable (CInt) -> Void) {
        self.descriptor = descriptor
        self.accepted = accepted
    }

    func run() {
        while true {
            // The channel makes the socket non-blocking when it takes it over.
            let connection = accept(descriptor, nil, nil)
            if connection >= 0 {
                _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
                accepted(connection)
                continue
            }
            switch errno {
            case EINTR, ECONNABORTED, EAGAIN:
                continue
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                // Out of descriptors or memory: the pending connection waits in the backlog
                // until some close, rather than the thread spinning.
                usleep(10_000)
            default:
                // EINVAL once `stop` shut the socket down.
                return
            }
        }
    }
}
