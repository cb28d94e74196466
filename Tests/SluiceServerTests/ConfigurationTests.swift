import SluiceServer
import Testing

@Suite("Configuration sources and CONFIG")
struct ConfigurationTests {
    /// Loads with an injected file, so no test touches the disk.
    func load(flags: [String] = [], file: String? = nil, environment: [String: String] = [:]) throws(ConfigurationError) -> ServerConfiguration {
        try ServerConfiguration.load(
            flags: flags, configPath: file == nil ? nil : "sluice.toml", environment: environment,
            readFile: { _ throws(ConfigurationError) in file ?? "" })
    }

    func loadError(flags: [String] = [], file: String? = nil, environment: [String: String] = [:]) -> String {
        do {
            _ = try load(flags: flags, file: file, environment: environment)
            return "no error"
        } catch {
            return error.description
        }
    }

    @Test("defaults, then the file, then the environment, then flags: each later source wins")
    func precedence() throws {
        let file = "port = 7001\nmaxclients = 50\n"
        let environment = ["SLUICE_PORT": "7002", "SLUICE_TIMEOUT": "30"]
        #expect(try load().port == 6380)
        #expect(try load(file: file).port == 7001)
        #expect(try load(file: file, environment: environment).port == 7002)
        let all = try load(flags: ["--port", "7003", "--requirepass=pw"], file: file, environment: environment)
        #expect(all.port == 7003)
        #expect(all.maxClients == 50)
        #expect(all.idleTimeoutSeconds == 30)
        #expect(all.requirePass == "pw")
    }

    @Test("SLUICE_CONFIG names the file when --config is not given")
    func configFromEnvironment() throws {
        let configuration = try ServerConfiguration.load(
            flags: [], environment: ["SLUICE_CONFIG": "/etc/sluice.toml"],
            readFile: { path throws(ConfigurationError) in path == "/etc/sluice.toml" ? "timeout = 9" : "" })
        #expect(configuration.idleTimeoutSeconds == 9)
    }

    @Test("the TOML subset: comments, basic and literal strings, integers with separators, booleans, memory units")
    func tomlSubset() throws {
        let file = """
            # Sluice
            bind = "0.0.0.0"   # all interfaces
            requirepass = "a \\"quoted\\" #secret"
            "protected-mode" = false

            maxclients = 1_000
            client-output-buffer-limit = '64mb'
            proto-max-bulk-len = "1k"
            """
        let configuration = try load(file: file)
        #expect(configuration.host == "0.0.0.0")
        #expect(configuration.requirePass == "a \"quoted\" #secret")
        #expect(configuration.protectedMode == false)
        #expect(configuration.maxClients == 1_000)
        #expect(configuration.maxOutputBufferBytes == 64 * 1024 * 1024)
        #expect(configuration.maxBulkLength == 1_000)
    }

    @Test("file errors name the file, the line and the reason")
    func fileErrors() {
        #expect(loadError(file: "port = 1\nbogus = 2") == "sluice.toml line 2: unknown option 'bogus'")
        #expect(loadError(file: "\n\nport = x") == "sluice.toml line 3: port: unsupported value 'x' (this TOML subset takes strings, integers and booleans)")
        #expect(loadError(file: "port = 1.5") == "sluice.toml line 1: port: unsupported value '1.5' (this TOML subset takes strings, integers and booleans)")
        #expect(loadError(file: "[server]\nport = 1") == "sluice.toml line 1: tables are not supported; write key = value lines only")
        #expect(loadError(file: "requirepass = \"open") == "sluice.toml line 1: requirepass: unterminated string")
        #expect(loadError(file: "port = 1\nport = 2") == "sluice.toml line 2: duplicate key 'port'")
        #expect(loadError(file: "port") == "sluice.toml line 1: expected key = value")
        #expect(loadError(file: "port = 1 2") == "sluice.toml line 1: port: unexpected text after the value")
        #expect(loadError(file: "port = 70000") == "invalid port '70000' (sluice.toml line 1): argument must be between 0 and 65535 inclusive")
    }

    @Test("an unreadable file is an error naming it")
    func unreadableFile() {
        do {
            _ = try ServerConfiguration.load(flags: [], configPath: "/nonexistent/sluice.toml", environment: [:])
            Issue.record("no error")
        } catch {
            #expect(error.description == "cannot read configuration file /nonexistent/sluice.toml: No such file or directory")
        }
    }

    @Test("bad values name the option, the source and Redis's reason")
    func valueErrors() {
        #expect(loadError(environment: ["SLUICE_PORT": "abc"]) == "invalid port 'abc' (environment variable SLUICE_PORT): argument couldn't be parsed into an integer")
        #expect(loadError(flags: ["--protected-mode", "maybe"]) == "invalid protected-mode 'maybe' (flag --protected-mode): argument must be 'yes' or 'no'")
        #expect(loadError(flags: ["--client-query-buffer-limit", "lots"]) == "invalid client-query-buffer-limit 'lots' (flag --client-query-buffer-limit): argument must be a memory value")
        #expect(loadError(flags: ["--enable-debug-command", "sometimes"]) == "invalid enable-debug-command 'sometimes' (flag --enable-debug-command): argument(s) must be one of the following: no, yes, local")
        #expect(loadError(flags: ["--maxclients", "0"]) == "invalid maxclients '0' (flag --maxclients): argument must be between 1 and 1000000 inclusive")
        #expect(loadError(flags: ["--nope", "1"]) == "unknown option '--nope' (see --help)")
        #expect(loadError(flags: ["--port"]) == "option '--port' needs a value")
        #expect(loadError(flags: ["stray"]) == "unexpected argument 'stray'")
    }

    @Test("flags take --name value, --name=value and the --threads alias")
    func flagForms() throws {
        let configuration = try load(flags: ["--threads", "3", "--timeout=4", "--hz", "20", "--log-level", "debug"])
        #expect(configuration.threads == 3)
        #expect(configuration.idleTimeoutSeconds == 4)
        #expect(configuration.expiryIntervalMilliseconds == 50)
        #expect(configuration.logLevel == .debug)
        #expect(try load(flags: ["--requirepass", ""]).requirePass == nil)
    }

    @Test("keyspace shards: a power of two up to 256, or 0 for one with one io-thread and four per io-thread with more")
    func keyspaceShards() throws {
        #expect(try load(flags: []).shards == 1)
        #expect(try load(flags: ["--threads", "2"]).shards == 8)
        #expect(try load(flags: ["--threads", "3"]).shards == 16)
        #expect(try load(flags: ["--threads", "100"]).shards == 256)
        #expect(try load(flags: ["--threads", "2", "--shards", "1"]).shards == 1)
        #expect(try load(flags: ["--threads", "2", "--backend", "redis://127.0.0.1:6379"]).shards == 1)
        #expect(try load(environment: ["SLUICE_KEYSPACE_SHARDS": "64"]).shards == 64)
        #expect(loadError(flags: ["--keyspace-shards", "3"]) == "invalid keyspace-shards '3' (flag --keyspace-shards): argument must be 0 or a power of two")
        #expect(loadError(flags: ["--keyspace-shards", "512"]) == "invalid keyspace-shards '512' (flag --keyspace-shards): argument must be between 0 and 256 inclusive")
    }

    @Test("protected mode refuses a non-loopback bind without a password, unless turned off")
    func protectedMode() throws {
        #expect(loadError(flags: ["--bind", "0.0.0.0"]) == "refusing to start: bind 0.0.0.0 is not a loopback address and no requirepass is set (protected mode). Set requirepass, or pass --protected-mode no to accept clients without a password.")
        #expect(loadError(environment: ["SLUICE_BIND": "10.1.2.3"]).hasPrefix("refusing to start: bind 10.1.2.3"))
        #expect(try load(flags: ["--bind", "0.0.0.0", "--requirepass", "pw"]).host == "0.0.0.0")
        #expect(try load(flags: ["--bind", "0.0.0.0", "--protected-mode", "no"]).protectedMode == false)
        for loopback in ["127.0.0.1", "127.0.0.2", "::1", "localhost"] {
            #expect(try load(flags: ["--bind", loopback]).host == loopback)
        }
    }

    @Test("every option has a distinct name and environment variable, and its default reads back unchanged")
    func optionTable() throws {
        let options = ConfigurationOption.all
        #expect(Set(options.map(\.name)).count == options.count)
        #expect(Set(options.map(\.environmentName)).count == options.count)
        #expect(ConfigurationOption.all.first { $0.name == "client-query-buffer-limit" }?.environmentName == "SLUICE_CLIENT_QUERY_BUFFER_LIMIT")
        let defaults = ServerConfiguration()
        for option in options {
            let text = option.value(in: defaults)
            let loaded = try load(flags: ["--\(option.name)", text])
            #expect(option.value(in: loaded) == text, "\(option.name)")
        }
        for option in options {
            #expect(ServerConfiguration.optionsHelp.contains("--\(option.name) <"), "\(option.name) missing from --help")
        }
    }

    @Test("CONFIG GET * lists every option with its effective value")
    func configGetAll() async throws {
        try await withServer(configure: { $0.maxClients = 77; $0.requirePass = nil }) { server in
            let c = try server.connect()
            guard case .map(let pairs) = try c.call("HELLO", "3", "AUTH", "default", "x"), !pairs.isEmpty else {
                Issue.record("HELLO failed")
                return
            }
            guard case .map(let all) = try c.call("CONFIG", "GET", "*") else {
                Issue.record("not a map")
                return
            }
            let names = Set(all.map { $0.key })
            for option in ConfigurationOption.all {
                #expect(names.contains(.bulk(option.name)), "\(option.name)")
            }
            #expect(try c.command("CONFIG", "GET", "maxclients") == "%1\r\n$10\r\nmaxclients\r\n$2\r\n77\r\n")
            #expect(try c.command("CONFIG", "GET", "requirepass") == "%1\r\n$11\r\nrequirepass\r\n$0\r\n\r\n")
        }
    }

    @Test("CONFIG SET changes run-time settings all at once, and CONFIG GET and INFO show them")
    func configSet() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("CONFIG", "SET", "maxclients", "5", "TIMEOUT", "7", "client-query-buffer-limit", "2mb") == "+OK\r\n")
            #expect(try c.command("CONFIG", "GET", "maxclients") == "*2\r\n$10\r\nmaxclients\r\n$1\r\n5\r\n")
            #expect(try c.command("CONFIG", "GET", "timeout") == "*2\r\n$7\r\ntimeout\r\n$1\r\n7\r\n")
            #expect(try c.command("CONFIG", "GET", "client-query-buffer-limit") == "*2\r\n$25\r\nclient-query-buffer-limit\r\n$7\r\n2097152\r\n")
            guard case .bulkString(let info) = try c.call("INFO", "clients") else { Issue.record("INFO"); return }
            #expect(String(decoding: info, as: UTF8.self).contains("maxclients:5\r\n"))
        }
    }

    @Test("CONFIG SET errors are Redis's, and a refused CONFIG SET changes nothing")
    func configSetErrors() async throws {
        try await withServer { server in
            let c = try server.connect()
            let failed = { (name: String, reason: String) in "-ERR CONFIG SET failed (possibly related to argument '\(name)') - \(reason)\r\n" }
            #expect(try c.command("CONFIG", "SET", "maxclients", "abc") == failed("maxclients", "argument couldn't be parsed into an integer"))
            #expect(try c.command("CONFIG", "SET", "timeout", "-1") == failed("timeout", "argument must be between 0 and 2147483647 inclusive"))
            #expect(try c.command("CONFIG", "SET", "maxclients", "5", "maxclients", "6") == failed("maxclients", "duplicate parameter"))
            #expect(try c.command("CONFIG", "SET", "bind", "1.2.3.4") == failed("bind", "can't set immutable config"))
            #expect(try c.command("CONFIG", "SET", "protected-mode", "no") == failed("protected-mode", "can't set immutable config"))
            #expect(try c.command("CONFIG", "SET", "save", "") == failed("save", "can't set immutable config"))
            #expect(try c.command("CONFIG", "SET", "foo", "bar") == "-ERR Unknown option or number of arguments for CONFIG SET - 'foo'\r\n")
            #expect(try c.command("CONFIG", "SET", "maxclients", "10", "timeout") == "-ERR syntax error\r\n")
            #expect(try c.command("CONFIG", "SET", "maxclients", "9", "timeout", "x") == failed("timeout", "argument couldn't be parsed into an integer"))
            #expect(try c.command("CONFIG", "GET", "maxclients") == "*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n")
        }
    }
}
