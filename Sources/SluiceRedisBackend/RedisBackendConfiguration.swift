/// Where backend mode keeps limiter state and how it talks to that Redis.
public struct RedisBackendConfiguration: Sendable, Hashable {
    /// Redis host name or address.
    public var host: String = "127.0.0.1"
    /// Redis TCP port.
    public var port: Int = 6379
    /// Database selected on every connection (`SELECT`); 0 sends nothing.
    public var database: Int = 0
    /// ACL user name for `AUTH`; nil authenticates as the default user.
    public var username: String? = nil
    /// Password for `AUTH`; nil sends no `AUTH`.
    public var password: String? = nil
    /// Connections to Redis, each with its own thread; requests are pipelined onto them.
    public var poolSize: Int = 4
    /// Longest wait for connecting and for each reply, in milliseconds.
    public var timeoutMilliseconds: Int = 1000
    /// What the server answers when the backend cannot decide.
    public var failurePolicy: BackendFailurePolicy = .failClosed
    /// First wait before reconnecting after a failure, in milliseconds; doubles up to the maximum.
    public var reconnectMinimumMilliseconds: Int = 50
    /// Longest wait between reconnection attempts, in milliseconds.
    public var reconnectMaximumMilliseconds: Int = 2000

    public init() {}

    /// Reads `redis://[[user]:password@]host[:port][/db]` (port 6379 and database 0 by default).
    public init(url: String) throws(BackendConfigurationError) {
        guard url.hasPrefix("redis://") else { throw .init("backend URL must start with redis://") }
        var rest = Substring(url.dropFirst("redis://".count))
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
            if !path.isEmpty {
                guard let database = Int(path), database >= 0 else {
                    throw .init("backend URL database must be a non-negative integer")
                }
                self.database = database
            }
        }
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = credentials[..<colon]
                username = user.isEmpty ? nil : String(user)
                password = String(credentials[credentials.index(after: colon)...])
            } else {
                password = String(credentials)
            }
        }
        // An IPv6 address comes in brackets: [::1]:6379.
        var hostPart = rest
        var portPart: Substring?
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            hostPart = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { portPart = after.dropFirst() } else if !after.isEmpty {
                throw .init("backend URL has text after the host")
            }
        } else if let colon = rest.lastIndex(of: ":") {
            hostPart = rest[..<colon]
            portPart = rest[rest.index(after: colon)...]
        }
        guard !hostPart.isEmpty else { throw .init("backend URL needs a host") }
        host = String(hostPart)
        if let portPart {
            guard let port = Int(portPart), (1...65535).contains(port) else {
                throw .init("backend URL port must be between 1 and 65535")
            }
            self.port = port
        }
    }

    /// `host:port`, for logs and `INFO`.
    public var address: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Checks the numbers; the message names the flag's subject.
    public func validate() throws(BackendConfigurationError) {
        guard poolSize >= 1, poolSize <= 1024 else { throw .init("backend pool size must be between 1 and 1024") }
        guard timeoutMilliseconds >= 1 else { throw .init("backend timeout must be a positive number of milliseconds") }
        guard reconnectMinimumMilliseconds >= 1, reconnectMaximumMilliseconds >= reconnectMinimumMilliseconds else {
            throw .init("backend reconnect waits must be positive, the maximum at least the minimum")
        }
    }
}

/// What a rate-limit command answers when the backend is down, slow or refusing.
public enum BackendFailurePolicy: String, Sendable, Hashable, CaseIterable {
    /// Reply `-TRYAGAIN backend unavailable: ...`: nobody is admitted without the shared state.
    case failClosed = "fail-closed"
    /// Answer "allowed" and count it: availability over exact limits.
    case failOpen = "fail-open"
}

/// A backend URL or setting that cannot be used; the message says which and why.
public struct BackendConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
