import Foundation
import Logging
import RESP
import SluiceCore
import SluiceServer
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// One HTTP/1.1 exchange over a plain socket, read until the server closes.
struct HTTPReply {
    let status: String
    let headers: [String: String]
    let body: String

    /// A sample's value by its exact name and labels as the exposition prints them; a
    /// whole number without its fraction, since gauges are written as doubles (`2.0`).
    func sample(_ series: String) -> String? {
        for line in body.split(separator: "\n") where line.hasPrefix(series + " ") {
            let value = String(line.dropFirst(series.count + 1))
            if let number = Double(value), number == number.rounded(), abs(number) < 1e15 { return String(Int(number)) }
            return value
        }
        return nil
    }
}

func httpExchange(port: Int, _ request: String) throws -> HTTPReply {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw TestFailure("socket() failed") }
    defer { close(descriptor) }
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard connected == 0 else { throw TestFailure("connect() to port \(port) failed") }
    let bytes = Array(request.utf8)
    guard bytes.withUnsafeBytes({ send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count else {
        throw TestFailure("send() failed")
    }
    var received: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
        if count == 0 { break }
        guard count > 0 else { throw TestFailure("recv() failed or timed out (errno \(errno))") }
        received += chunk[0..<count]
    }
    let text = String(decoding: received, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n") else { throw TestFailure("no header end in \(text)") }
    let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
    var headers: [String: String] = [:]
    for line in lines.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return HTTPReply(status: lines[0], headers: headers, body: String(text[split.upperBound...]))
}

func scrape(_ server: TestServer, path: String = "/metrics") throws -> HTTPReply {
    guard let port = server.server.metricsPort else { throw TestFailure("metrics are off") }
    return try httpExchange(port: port, "GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
}

/// `INFO` text as `name:value` pairs (section headers and blank lines dropped).
func infoFields(_ connection: RawConnection, _ sections: String...) throws -> [String: String] {
    let reply = try connection.call(["INFO"] + sections)
    guard case .bulkString(let bytes) = reply else { throw TestFailure("INFO replied \(reply)") }
    var fields: [String: String] = [:]
    for line in String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n") {
        guard !line.hasPrefix("#"), let colon = line.firstIndex(of: ":") else { continue }
        fields[String(line[..<colon])] = String(line[line.index(after: colon)...])
    }
    return fields
}

@Suite("Observability: /metrics, INFO counters, logs")
struct ObservabilityTests {
    func withMetrics<T>(_ body: (TestServer) async throws -> T) async throws -> T {
        try await withServer(configure: { $0.metricsPort = 0 }, body)
    }

    @Test("GET /metrics answers 200 with the Prometheus text content type and per-command counts")
    func metricsEndpoint() async throws {
        try await withMetrics { server in
            let c = try server.connect()
            #expect(try c.command("SET", "a", "1") == "+OK\r\n")
            for _ in 0..<3 { #expect(try c.command("GET", "a") == "$1\r\n1\r\n") }
            let reply = try scrape(server)
            #expect(reply.status == "HTTP/1.1 200 OK")
            #expect(reply.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            #expect(reply.body.contains("# TYPE sluice_commands_total counter\n"))
            #expect(reply.body.contains("# HELP sluice_commands_total Calls per command that passed the checks (INFO commandstats calls).\n"))
            #expect(reply.body.contains("# TYPE sluice_command_duration_seconds histogram\n"))
            #expect(reply.sample("sluice_commands_total{command=\"get\"}") == "3")
            #expect(reply.sample("sluice_commands_total{command=\"set\"}") == "1")
            #expect(reply.sample("sluice_connected_clients") == "1")
            #expect(reply.sample("sluice_keys") == "1")
            #expect(reply.sample("sluice_command_duration_seconds_count{command=\"get\"}") == "3")
            #expect(reply.sample("sluice_command_duration_seconds_bucket{command=\"get\",le=\"+Inf\"}") == "3")
            let buckets = reply.body.split(separator: "\n").filter { $0.hasPrefix("sluice_command_duration_seconds_bucket{command=\"get\"") }
            #expect(buckets.map { $0.split(separator: "\"")[3] } == [
                "0.00001", "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.05", "0.1", "0.5", "1.0", "+Inf",
            ])
            #expect(Int(reply.sample("sluice_resident_memory_bytes") ?? "") ?? 0 > 0)
        }
    }

    @Test("allowed and denied decisions are counted per rate-limit command")
    func rateLimitDecisions() async throws {
        try await withMetrics { server in
            let c = try server.connect()
            // Capacity 2, nothing drains while the clock stands still: two fit, then two are refused.
            for _ in 0..<4 { _ = try c.call("CONSUME", "bucket", "2", "1") }
            _ = try c.call("CL.THROTTLE", "gcra", "0", "1", "60")
            _ = try c.call("CL.THROTTLE", "gcra", "0", "1", "60")
            #expect(try c.call("ACQUIRE", "log", "1", "RATE", "1", "1000") == .array([.integer(1), .integer(0), .integer(-1)]))
            #expect(try c.command("INCR", "n", "1", "1", "1000") == ":1\r\n")
            #expect(try c.command("INCR", "n", "1", "1", "1000") == ":0\r\n")
            #expect(try c.command("DECR", "n", "1", "0", "1000") == ":1\r\n")
            #expect(try c.command("ADD", "fresh", "5", "1000") == ":1\r\n")
            #expect(try c.command("ADD", "fresh", "5", "1000") == ":0\r\n")
            #expect(try c.command("INCR_AND_SUM", "s1", "3", "2", "1000", "s2") == ":0\r\n")
            #expect(try c.command("INCR", "plain") == ":1\r\n")  // Redis's INCR decides nothing
            let reply = try scrape(server)
            func decisions(_ command: String) -> [String?] {
                ["allowed", "denied"].map { reply.sample("sluice_ratelimit_decisions_total{command=\"\(command)\",decision=\"\($0)\"}") }
            }
            #expect(decisions("consume") == ["2", "2"])
            #expect(decisions("cl.throttle") == ["1", "1"])
            #expect(decisions("acquire") == ["1", "0"])
            #expect(decisions("incr") == ["1", "1"])
            #expect(decisions("decr") == ["1", "0"])
            #expect(decisions("add") == ["1", "1"])
            #expect(decisions("incr_and_sum") == ["0", "1"])
            let info = try infoFields(c, "stats")
            #expect(info["ratelimit_consume_allowed"] == "2")
            #expect(info["ratelimit_consume_denied"] == "2")
            #expect(info["ratelimit_cl_throttle_denied"] == "1")
            #expect(info["ratelimit_incr_and_sum_denied"] == "1")
        }
    }

    @Test("INFO and /metrics report the same connections, commands, errors, keys and expired keys")
    func infoAgreesWithMetrics() async throws {
        try await withMetrics { server in
            let first = try server.connect()
            let c = try server.connect()
            #expect(try c.command("SET", "gone", "1", "PX", "100") == "+OK\r\n")
            #expect(try c.command("SET", "kept", "x") == "+OK\r\n")
            #expect(try c.command("LPUSH", "kept", "x") == "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
            #expect(try c.command("NOPE").hasPrefix("-ERR unknown command"))
            #expect(try c.command("GET") == "-ERR wrong number of arguments for 'get' command\r\n")
            server.clock.advance(milliseconds: 200)
            #expect(try c.command("GET", "gone") == "$-1\r\n")
            _ = first
            let info = try infoFields(c, "everything")
            let metrics = try scrape(server)
            #expect(info["connected_clients"] == "2")
            #expect(metrics.sample("sluice_connected_clients") == "2")
            #expect(metrics.sample("sluice_connections_received_total") == info["total_connections_received"])
            #expect(metrics.sample("sluice_commands_processed_total") == info["total_commands_processed"])
            #expect(info["total_commands_processed"] == "6")  // unknown commands are not counted
            #expect(info["expired_keys"] == "1")
            #expect(metrics.sample("sluice_expired_keys_total") == "1")
            #expect(info["db0"] == "keys=1,expires=0,avg_ttl=0")
            #expect(metrics.sample("sluice_keys") == "1")
            #expect(info["errorstat_ERR"] == "count=2")
            #expect(info["errorstat_WRONGTYPE"] == "count=1")
            #expect(info["total_error_replies"] == "3")
            #expect(metrics.sample("sluice_errors_total{kind=\"ERR\"}") == "2")
            #expect(metrics.sample("sluice_errors_total{kind=\"WRONGTYPE\"}") == "1")
            #expect(info["cmdstat_set"]?.hasPrefix("calls=2,") == true)
            #expect(metrics.sample("sluice_commands_total{command=\"set\"}") == "2")
        }
    }

    @Test("CONFIG RESETSTAT zeroes the command counters and latency histograms of /metrics too")
    func resetstatRestartsMetrics() async throws {
        try await withMetrics { server in
            let c = try server.connect()
            for _ in 0..<3 { #expect(try c.command("GET", "a") == "$-1\r\n") }
            _ = try c.command("INCR", "a", "b")
            #expect(try c.command("SET", "s", "1") == "+OK\r\n")
            var metrics = try scrape(server)
            #expect(metrics.sample("sluice_commands_total{command=\"get\"}") == "3")
            #expect(metrics.sample("sluice_command_duration_seconds_count{command=\"get\"}") == "3")
            #expect(metrics.sample("sluice_errors_total{kind=\"ERR\"}") == "1")
            #expect(try c.command("CONFIG", "RESETSTAT") == "+OK\r\n")
            #expect(try c.command("GET", "a") == "$-1\r\n")
            metrics = try scrape(server)
            let info = try infoFields(c, "commandstats")
            #expect(info["cmdstat_get"]?.hasPrefix("calls=1,") == true)
            #expect(metrics.sample("sluice_commands_total{command=\"get\"}") == "1")
            #expect(metrics.sample("sluice_command_duration_seconds_count{command=\"get\"}") == "1")
            #expect(metrics.sample("sluice_command_duration_seconds_bucket{command=\"get\",le=\"+Inf\"}") == "1")
            #expect(metrics.sample("sluice_errors_total{kind=\"ERR\"}") == "0")
            #expect(metrics.sample("sluice_commands_total{command=\"set\"}") == "0")
            // CONFIG itself ran before the reset, so only the GET since is counted.
            #expect(metrics.sample("sluice_commands_processed_total") == "1")
        }
    }

    @Test("INFO errorstats lists error replies by prefix, as Redis does")
    func errorstats() async throws {
        try await withServer { server in
            let c = try server.connect()
            func bulk(_ text: String) -> String { "$\(text.utf8.count)\r\n\(text)\r\n" }
            #expect(try c.command("INFO", "errorstats") == bulk("# Errorstats\r\n"))
            _ = try c.command("SET", "k", "v")
            _ = try c.command("INCR", "k")
            _ = try c.command("LPUSH", "k", "v")
            #expect(try c.command("INFO", "errorstats")
                == bulk("# Errorstats\r\nerrorstat_ERR:count=1\r\nerrorstat_WRONGTYPE:count=1\r\n"))
            #expect(try c.command("CONFIG", "RESETSTAT") == "+OK\r\n")
            #expect(try c.command("INFO", "errorstats") == bulk("# Errorstats\r\n"))
        }
    }

    @Test("paths other than /metrics get 404, methods other than GET get 405")
    func otherPaths() async throws {
        try await withMetrics { server in
            #expect(try scrape(server, path: "/").status == "HTTP/1.1 404 Not Found")
            #expect(try scrape(server, path: "/metricsx").status == "HTTP/1.1 404 Not Found")
            #expect(try scrape(server, path: "/metrics?x=1").status == "HTTP/1.1 200 OK")
            let post = try httpExchange(
                port: server.server.metricsPort!,
                "POST /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
            #expect(post.status == "HTTP/1.1 405 Method Not Allowed")
            // The Redis port still answers.
            #expect(try server.connect().command("PING") == "+PONG\r\n")
        }
    }

    @Test("without a metrics port no metrics listener is opened")
    func metricsOffByDefault() async throws {
        #expect(ServerConfiguration().metricsPort == nil)
        let configuration = try ServerConfiguration.load(flags: ["--metrics-port", "0"], environment: [:])
        #expect(configuration.metricsPort == nil)
        try await withServer { server in
            #expect(server.server.metricsPort == nil)
        }
    }

    @Test("a metrics port already in use stops the start with an error naming it")
    func metricsPortInUse() async throws {
        try await withMetrics { server in
            let taken = try #require(server.server.metricsPort)
            var configuration = ServerConfiguration()
            configuration.port = 0
            configuration.metricsPort = taken
            let second = SluiceServer(configuration: configuration)
            do {
                try await second.start()
                await second.shutdown()
                Issue.record("started on a port in use")
            } catch let error as MetricsListenError {
                #expect(error.description.hasPrefix("cannot listen for metrics on 127.0.0.1:\(taken): "))
            }
        }
    }

    @Test("log-format, metrics-port and metrics-bind come from the option table")
    func options() throws {
        let configuration = try ServerConfiguration.load(
            flags: ["--log-format", "JSON", "--metrics-port=9121"], environment: ["SLUICE_METRICS_BIND": "0.0.0.0"])
        #expect(configuration.logFormat == .json)
        #expect(configuration.metricsPort == 9121)
        #expect(configuration.metricsHost == "0.0.0.0")
        #expect(throws: ConfigurationError.self) {
            try ServerConfiguration.load(flags: ["--log-format", "xml"], environment: [:])
        }
        do {
            _ = try ServerConfiguration.load(flags: ["--log-format", "xml"], environment: [:])
        } catch {
            #expect(error.description == "invalid log-format 'xml' (flag --log-format): argument(s) must be one of the following: text, json")
        }
    }

    @Test("CONFIG GET shows the observability options")
    func configGet() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("CONFIG", "GET", "metrics-*")
                == "*4\r\n$12\r\nmetrics-port\r\n$1\r\n0\r\n$12\r\nmetrics-bind\r\n$9\r\n127.0.0.1\r\n")
            #expect(try c.command("CONFIG", "GET", "log-format") == "*2\r\n$10\r\nlog-format\r\n$4\r\ntext\r\n")
        }
    }
}

/// Collects the lines a `JSONLogHandler` writes.
final class LineSink: Sendable {
    let lines = Mutex<[String]>([])
    func write(_ line: String) { lines.withLock { $0.append(line) } }
    var objects: [[String: Any]] {
        get throws {
            try lines.withLock { $0 }.map { line in
                #expect(line.hasSuffix("\n") && line.dropLast().contains("\n") == false)
                guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    throw TestFailure("not a JSON object: \(line)")
                }
                return object
            }
        }
    }
}

@Suite("Structured logs")
struct StructuredLogTests {
    @Test("the JSON handler writes one parseable object per line with ts, level, message, label and metadata")
    func jsonLine() throws {
        let sink = LineSink()
        var logger = Logger(label: "sluice") { label in
            JSONLogHandler(label: label, clock: { (1_700_000_000, 123_456_789) }, sink: sink.write)
        }
        logger[metadataKey: "mode"] = "in-memory"
        logger.info("say \"hi\"\nand\tgo \u{1}", metadata: ["port": "6380", "list": ["a", "b"], "nested": ["k": "v"]])
        logger.debug("below the level")
        let objects = try sink.objects
        #expect(objects.count == 1)
        let object = objects[0]
        #expect(object["ts"] as? String == "2023-11-14T22:13:20.123Z")
        #expect(object["level"] as? String == "info")
        #expect(object["message"] as? String == "say \"hi\"\nand\tgo \u{1}")
        #expect(object["label"] as? String == "sluice")
        let metadata = object["metadata"] as? [String: Any]
        #expect(metadata?["mode"] as? String == "in-memory")
        #expect(metadata?["port"] as? String == "6380")
        #expect(metadata?["list"] as? [String] == ["a", "b"])
        #expect((metadata?["nested"] as? [String: String]) == ["k": "v"])
    }

    @Test("failed authentications are logged at most once per 10 seconds, with a count of those held back")
    func authFailuresRateLimited() async throws {
        let sink = LineSink()
        let clock = ManualTimeSource()
        var configuration = ServerConfiguration()
        configuration.port = 0
        configuration.requirePass = "secret"
        let logger = Logger(label: "sluice") { JSONLogHandler(label: $0, sink: sink.write) }
        let server = SluiceServer(configuration: configuration, timeSource: clock, logger: logger)
        try await server.start()
        do {
            try checkAuthFailures(server: server, clock: clock, sink: sink)
        } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }

    func checkAuthFailures(server: SluiceServer, clock: ManualTimeSource, sink: LineSink) throws {
        let c = try RawConnection(port: server.port)
        let wrong = "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
        #expect(try c.command("AUTH", "nope") == wrong)
        #expect(try c.command("AUTH", "nope") == wrong)
        clock.advance(milliseconds: 9_999)
        #expect(try c.command("AUTH", "someone", "nope") == wrong)
        #expect(try sink.objects.count == 1)
        clock.advance(milliseconds: 1)
        #expect(try c.command("AUTH", "nope") == wrong)
        #expect(try c.command("AUTH", "secret") == "+OK\r\n")
        let objects = try sink.objects
        #expect(objects.count == 2)
        #expect(objects.map { $0["level"] as? String } == ["warning", "warning"])
        #expect(objects.map { $0["message"] as? String } == ["Authentication failed", "Authentication failed"])
        let metadata = objects.map { $0["metadata"] as? [String: String] ?? [:] }
        #expect(metadata.map { $0["suppressed"] } == ["0", "2"])
        #expect(metadata.map { $0["user"] } == ["default", "default"])
        #expect(metadata[0]["client"]?.hasPrefix("127.0.0.1:") == true)
    }
}
