import Testing
import RESP
import SluiceServer

struct RESPValueWrapper: Hashable {
    let value: RESPValue
}

@Suite("Connection and server commands")
struct ConnectionAndServerCommandTests {
    @Test("PING with and without a message, ECHO, and arity errors")
    func pingEcho() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("PING") == "+PONG\r\n")
            #expect(try c.command("ping", "hi") == "$2\r\nhi\r\n")
            #expect(try c.command("PING", "a", "b") == "-ERR wrong number of arguments for 'ping' command\r\n")
            #expect(try c.command("ECHO", "x") == "$1\r\nx\r\n")
            #expect(try c.command("ECHO") == "-ERR wrong number of arguments for 'echo' command\r\n")
        }
    }

    @Test("an unknown command is named with its first arguments and the connection keeps working")
    func unknownCommand() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("FOO", "a", "b") == "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n")
            #expect(try c.command("NOPE") == "-ERR unknown command 'NOPE', with args beginning with: \r\n")
            // Words end at a NUL and the arguments shown stop after 128 bytes, as Redis's "%.*s".
            #expect(try c.command("FO\0O", "a\0b", "c") == "-ERR unknown command 'FO', with args beginning with: 'a' 'c' \r\n")
            let long = String(repeating: "é", count: 100)
            let shown = String(repeating: "é", count: 64)  // 128 bytes, not 128 characters
            #expect(try c.command("FOO", long, "x") == "-ERR unknown command 'FOO', with args beginning with: '\(shown)' \r\n")
            #expect(try c.command("CLIENT", "NO\0PE") == "-ERR unknown subcommand 'NO'. Try CLIENT HELP.\r\n")
            #expect(try c.command("PING") == "+PONG\r\n")
        }
    }

    @Test("SELECT accepts only database 0")
    func select() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("SELECT", "0") == "+OK\r\n")
            #expect(try c.command("SELECT", "1") == "-ERR DB index is out of range\r\n")
            #expect(try c.command("SELECT", "9999999999") == "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n")
            #expect(try c.command("SELECT", "x") == "-ERR value is not an integer or out of range\r\n")
        }
    }

    @Test("CLIENT ID, SETNAME, GETNAME, SETINFO, INFO and LIST")
    func client() async throws {
        try await withServer { server in
            let c = try server.connect()
            let other = try server.connect()
            _ = try other.command("PING")
            guard case .integer(let id) = try c.call("CLIENT", "ID") else { throw TestFailure("no id") }
            #expect(try c.command("CLIENT", "GETNAME") == "$-1\r\n")
            #expect(try c.command("CLIENT", "SETNAME", "worker-1") == "+OK\r\n")
            #expect(try c.command("CLIENT", "GETNAME") == "$8\r\nworker-1\r\n")
            #expect(try c.command("CLIENT", "SETNAME", "two words") == "-ERR Client names cannot contain spaces, newlines or special characters.\r\n")
            #expect(try c.command("CLIENT", "SETINFO", "LIB-NAME", "redis-py") == "+OK\r\n")
            #expect(try c.command("CLIENT", "SETINFO", "LIB-VER", "5.0.1") == "+OK\r\n")
            #expect(try c.command("CLIENT", "SETINFO", "COLOR", "red") == "-ERR Unrecognized option 'COLOR'\r\n")
            let info = try c.command("CLIENT", "INFO")
            #expect(info.contains("id=\(id) addr=127.0.0.1:"))
            #expect(info.contains("name=worker-1 "))
            #expect(info.contains("cmd=client"))
            #expect(info.contains("lib-name=redis-py lib-ver=5.0.1"))
            guard case .bulkString(let list) = try c.call("CLIENT", "LIST") else { throw TestFailure("no list") }
            #expect(String(decoding: list, as: UTF8.self).split(separator: "\n").count == 2)
            #expect(try c.command("CLIENT", "NOPE") == "-ERR unknown subcommand 'NOPE'. Try CLIENT HELP.\r\n")
            // Redis 7.0's CLIENT LIST options: TYPE, and ID lists in the order given, unknown ids skipped.
            func listedIDs(_ arguments: String...) throws -> [String] {
                guard case .bulkString(let text) = try c.call(["CLIENT", "LIST"] + arguments) else { throw TestFailure("no list") }
                return String(decoding: text, as: UTF8.self).split(separator: "\n").map { String($0.split(separator: " ")[0]) }
            }
            guard case .integer(let me) = try c.call("CLIENT", "ID") else { throw TestFailure("no id") }
            guard case .integer(let them) = try other.call("CLIENT", "ID") else { throw TestFailure("no id") }
            #expect(try listedIDs("TYPE", "normal") == ["id=\(me)", "id=\(them)"])
            #expect(try listedIDs("type", "PUBSUB") == [])
            #expect(try c.command("CLIENT", "LIST", "TYPE", "foo") == "-ERR Unknown client type 'foo'\r\n")
            #expect(try listedIDs("ID", "\(them)", "0", "-1", "\(me)", "\(them)") == ["id=\(them)", "id=\(me)", "id=\(them)"])
            #expect(try c.command("CLIENT", "LIST", "ID", "x") == "-ERR Invalid client ID\r\n")
            #expect(try c.command("CLIENT", "LIST", "ID") == "-ERR syntax error\r\n")
            #expect(try c.command("CLIENT", "LIST", "TYPE", "normal", "x") == "-ERR syntax error\r\n")
            #expect(try c.command("CLIENT", "SETNAME") == "-ERR wrong number of arguments for 'client|setname' command\r\n")
        }
    }

    @Test("COMMAND COUNT, INFO and DOCS come from the command table")
    func command() async throws {
        try await withServer { server in
            let c = try server.connect()
            guard case .integer(let count) = try c.call("COMMAND", "COUNT") else { throw TestFailure("no count") }
            guard case .array(let all) = try c.call("COMMAND") else { throw TestFailure("no list") }
            #expect(all.count == Int(count))
            #expect(try c.command("COMMAND", "INFO", "get").hasPrefix("*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n"))
            #expect(try c.command("COMMAND", "INFO", "nosuch") == "*1\r\n*-1\r\n")
            #expect(try c.command("COMMAND", "INFO", "CONFIG|Get", "config|nosuch").hasPrefix("*2\r\n*10\r\n$10\r\nconfig|get\r\n:-3\r\n"))
            #expect(try c.command("COMMAND", "INFO", "config|nosuch") == "*1\r\n*-1\r\n")
            let docs = try c.command("COMMAND", "DOCS", "set")
            #expect(docs.hasPrefix("*2\r\n$3\r\nset\r\n*6\r\n$7\r\nsummary\r\n"))
            #expect(try c.command("COMMAND", "BOGUS") == "-ERR unknown subcommand 'BOGUS'. Try COMMAND HELP.\r\n")
            // COMMAND LIST names subcommands too, and filters as Redis 7.0 does.
            guard case .array(let names) = try c.call("COMMAND", "LIST") else { throw TestFailure("no list") }
            #expect(names.contains(.bulk("config|get")) && names.contains(.bulk("zadd")))
            #expect(try c.call("COMMAND", "LIST", "FILTERBY", "PATTERN", "ZAD*") == .array([.bulk("zadd")]))
            #expect(try c.call("COMMAND", "LIST", "FILTERBY", "MODULE", "x") == .array([]))
            guard case .array(let transactions) = try c.call("COMMAND", "LIST", "filterby", "aclcat", "transaction") else { throw TestFailure("no list") }
            #expect(Set(transactions) == Set(["multi", "exec", "discard", "watch", "unwatch"].map(RESPValue.bulk)))
            #expect(try c.command("COMMAND", "LIST", "x") == "-ERR syntax error\r\n")
            // The HELP the unknown-subcommand errors point to.
            for command in ["CLIENT", "CONFIG", "COMMAND"] {
                guard case .array(let lines) = try c.call(command, "HELP") else { throw TestFailure("no help") }
                #expect(lines.first == .simpleString("\(command) <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"))
                #expect(lines.suffix(2) == [.simpleString("HELP"), .simpleString("    Print this help.")])
            }
            guard case .array(let clientHelp) = try c.call("client", "help") else { throw TestFailure("no help") }
            #expect(clientHelp.contains(.simpleString("UNBLOCK")) && clientHelp.contains(.simpleString("LIST")))
            #expect(try c.command("COMMAND", "LIST", "FILTERBY", "NAME", "x") == "-ERR syntax error\r\n")
        }
    }

    @Test("INFO has the default sections, and commandstats on request")
    func info() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("SET", "k", "v", "EX", "100")
            _ = try c.command("SET", "p", "v")
            guard case .bulkString(let bytes) = try c.call("INFO") else { throw TestFailure("no info") }
            let text = String(decoding: bytes, as: UTF8.self)
            for section in ["# Server", "# Clients", "# Memory", "# Stats", "# Keyspace"] { #expect(text.contains(section)) }
            #expect(text.contains("redis_version:7.2.0\r\n"))
            #expect(text.contains("tcp_port:\(server.port)\r\n"))
            #expect(text.contains("connected_clients:1\r\n"))
            #expect(text.contains("db0:keys=2,expires=1,avg_ttl=0\r\n"))
            #expect(!text.contains("# Commandstats"))
            guard case .bulkString(let stats) = try c.call("INFO", "commandstats") else { throw TestFailure("no stats") }
            let statsText = String(decoding: stats, as: UTF8.self)
            #expect(statsText.hasPrefix("# Commandstats\r\n"))
            #expect(statsText.contains("cmdstat_set:calls=2,"))
            #expect(try c.command("HELLO", "3").hasPrefix("%"))
            #expect(try c.command("INFO", "keyspace") == "=48\r\ntxt:# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=0\r\n\r\n")
        }
    }

    @Test("CONFIG GET answers the parameters redis-benchmark and clients ask for")
    func configGet() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("CONFIG", "GET", "save") == "*2\r\n$4\r\nsave\r\n$0\r\n\r\n")
            #expect(try c.command("CONFIG", "GET", "appendonly") == "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n")
            #expect(try c.command("CONFIG", "GET", "PORT") == "*2\r\n$4\r\nport\r\n$\(String(server.port).count)\r\n\(server.port)\r\n")
            #expect(try c.command("CONFIG", "GET", "nothing*") == "*0\r\n")
            #expect(try c.command("CONFIG", "SET", "port", "1") == "-ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config\r\n")
            #expect(try c.command("CONFIG", "GET") == "-ERR wrong number of arguments for 'config|get' command\r\n")
        }
    }

    @Test("TIME reports the clock as seconds and microseconds")
    func time() async throws {
        try await withServer { server in
            let c = try server.connect()
            server.clock.set(.init(nanoseconds: 1_700_000_123_456_789_000))
            #expect(try c.command("TIME") == "*2\r\n$10\r\n1700000123\r\n$6\r\n456789\r\n")
        }
    }

    @Test("DBSIZE, FLUSHDB and FLUSHALL")
    func flush() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("MSET", "a", "1", "b", "2")
            #expect(try c.command("DBSIZE") == ":2\r\n")
            #expect(try c.command("FLUSHDB") == "+OK\r\n")
            #expect(try c.command("DBSIZE") == ":0\r\n")
            _ = try c.command("SET", "a", "1")
            #expect(try c.command("FLUSHALL", "ASYNC") == "+OK\r\n")
            #expect(try c.command("DBSIZE") == ":0\r\n")
            #expect(try c.command("FLUSHALL", "LATER") == "-ERR syntax error\r\n")
        }
    }
}
