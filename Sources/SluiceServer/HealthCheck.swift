#if canImport(Glibc)
import Glibc
#endif

/// `sluice-server --health-check`: connects to the configured port, authenticates if a
/// password is set, sends `PING` and expects `+PONG`. Plain blocking sockets: it runs
/// alone in its own short-lived process (a container's HEALTHCHECK), not in the server.
public enum HealthCheck {
    /// nil when the server answered PONG, else why not.
    public static func run(_ configuration: ServerConfiguration, timeoutSeconds: Int = 3) -> String? {
        guard configuration.plainTextEnabled else {
            return "port 0 with tls-port serves TLS only, and the health check speaks plain text"
        }
        // A wildcard bind is reached through loopback.
        let host = switch configuration.host {
        case "0.0.0.0", "*": "127.0.0.1"
        case "::": "::1"
        default: configuration.host
        }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(configuration.port), &hints, &found) == 0, let address = found else {
            return "cannot resolve \(host)"
        }
        defer { freeaddrinfo(found) }
        let descriptor = socket(address.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return "socket() failed" }
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard connect(descriptor, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 else {
            return "cannot connect to \(host):\(configuration.port): \(String(cString: strerror(errno)))"
        }
        var request = ""
        var expected = "+PONG\r\n"
        if let password = configuration.requirePass {
            request += "*2\r\n$4\r\nAUTH\r\n$\(password.utf8.count)\r\n\(password)\r\n"
            expected = "+OK\r\n" + expected
        }
        request += "*1\r\n$4\r\nPING\r\n"
        let bytes = Array(request.utf8)
        guard bytes.withUnsafeBytes({ send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count else {
            return "send() failed"
        }
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while reply.count < expected.utf8.count {
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { break }
            reply += chunk[0..<count]
        }
        let text = String(decoding: reply, as: UTF8.self)
        return text == expected ? nil : "unexpected reply: \(text.isEmpty ? "(none)" : text)"
    }
}
