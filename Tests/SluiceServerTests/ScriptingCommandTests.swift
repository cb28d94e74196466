import RESP
import SeededRandom
@testable import SluiceServer
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Scripting commands")
struct ScriptingCommandTests {
    @Test("Lua values become replies: numbers truncate, true is 1, false and nil are null, tables are arrays up to the first nil")
    func luaToReply() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("EVAL", "return 42", "0") == ":42\r\n")
            #expect(try c.command("EVAL", "return 3.99", "0") == ":3\r\n")
            #expect(try c.command("EVAL", "return -3.99", "0") == ":-3\r\n")
            #expect(try c.command("EVAL", "return 1e20", "0") == ":-9223372036854775808\r\n")
            #expect(try c.command("EVAL", "return 'a\\0b'", "0") == "$3\r\na\0b\r\n")
            #expect(try c.command("EVAL", "return true", "0") == ":1\r\n")
            #expect(try c.command("EVAL", "return false", "0") == "$-1\r\n")
            #expect(try c.command("EVAL", "return nil", "0") == "$-1\r\n")
            #expect(try c.command("EVAL", "return {1, 2, nil, 3}", "0") == "*2\r\n:1\r\n:2\r\n")
            #expect(try c.command("EVAL", "return {1, {'a', {false}}, true}", "0") == "*3\r\n:1\r\n*2\r\n$1\r\na\r\n*1\r\n$-1\r\n:1\r\n")
            #expect(try c.command("EVAL", "return {a = 1}", "0") == "*0\r\n")
        }
    }

    @Test("{ok=...}, {err=...}, redis.status_reply and redis.error_reply become status and error replies")
    func statusAndErrorTables() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("EVAL", "return {ok = 'FINE'}", "0") == "+FINE\r\n")
            #expect(try c.command("EVAL", "return {err = 'CODE message'}", "0") == "-CODE message\r\n")
            #expect(try c.command("EVAL", "return {err = 'x', ok = 'y'}", "0") == "-x\r\n")
            #expect(try c.command("EVAL", "return {ok = 'a\\r\\nb'}", "0") == "+a  b\r\n")
            #expect(try c.command("EVAL", "return redis.status_reply('DONE')", "0") == "+DONE\r\n")
            #expect(try c.command("EVAL", "return redis.error_reply('bad')", "0") == "-ERR bad\r\n")
            #expect(try c.command("EVAL", "return redis.error_reply('MY bad')", "0") == "-MY bad\r\n")
            #expect(try c.command("EVAL", "return redis.error_reply('-OOPS')", "0") == "-ERR OOPS\r\n")
            #expect(try c.command("EVAL", "return redis.error_reply(1)", "0") == "-ERR wrong number or type of arguments\r\n")
            // In Lua, an error table's text stops at a NUL byte and a status keeps every byte, as in Redis.
            #expect(try c.command("EVAL", "return #redis.error_reply('a\\0b').err", "0") == ":5\r\n")
            #expect(try c.command("EVAL", "return #redis.status_reply('a\\0b').ok", "0") == ":3\r\n")
            #expect(try c.command("EVAL", "return {1, redis.status_reply('x'), redis.error_reply('y')}", "0") == "*3\r\n:1\r\n+x\r\n-ERR y\r\n")
            #expect(try c.command("EVAL", "return {double = 1.5}", "0") == "$3\r\n1.5\r\n")
        }
    }

    @Test("Replies become Lua values: integer is a number, bulk a string, null bulk false, status {ok=}, array a table")
    func replyToLua() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("SET", "s", "text") == "+OK\r\n")
            #expect(try c.command("EVAL", "return type(redis.call('incr', 'n'))", "0") == "$6\r\nnumber\r\n")
            #expect(try c.command("EVAL", "return redis.call('get', 's') .. '!'", "0") == "$5\r\ntext!\r\n")
            #expect(try c.command("EVAL", "return tostring(redis.call('get', 'missing'))", "0") == "$5\r\nfalse\r\n")
            #expect(try c.command("EVAL", "return redis.call('ping').ok", "0") == "$4\r\nPONG\r\n")
            #expect(try c.command("EVAL", "return redis.call('set', 'x', 'y')", "0") == "+OK\r\n")
            #expect(try c.command("EVAL", "local t = redis.call('mget', 's', 'missing', 'x'); return {#t, t[1], tostring(t[2]), t[3]}", "0")
                == "*4\r\n:3\r\n$4\r\ntext\r\n$5\r\nfalse\r\n$1\r\ny\r\n")
            #expect(try c.command("EVAL", "return redis.pcall('incr', 's').err", "0") == "$43\r\nERR value is not an integer or out of range\r\n")
        }
    }

    @Test("Lua numbers passed to redis.call are formatted as Redis does (%.17g)")
    func numberArguments() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("EVAL", "redis.call('set', 'a', 12345678901234); redis.call('set', 'b', 0.1); redis.call('set', 'c', 1e20); return redis.call('mget', 'a', 'b', 'c')", "0")
                == "*3\r\n$14\r\n12345678901234\r\n$19\r\n0.10000000000000001\r\n$5\r\n1e+20\r\n")
            #expect(try c.command("EVAL", "redis.call('set', 'a', -42); redis.call('set', 'b', 0); redis.call('set', 'c', 999999999999999); redis.call('set', 'd', -1e15); return redis.call('mget', 'a', 'b', 'c', 'd')", "0")
                == "*4\r\n$3\r\n-42\r\n$1\r\n0\r\n$15\r\n999999999999999\r\n$17\r\n-1000000000000000\r\n")
        }
    }

    @Test("With redis.setresp(3) a null reply is nil and booleans stay booleans")
    func resp3Conversions() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("EVAL", "redis.setresp(3); return type(redis.call('get', 'missing'))", "0") == "$3\r\nnil\r\n")
            #expect(try c.command("EVAL", "redis.setresp(3); return false", "0") == ":0\r\n")
            #expect(try c.command("EVAL", "return redis.setresp(4)", "0") == "-ERR RESP version must be 2 or 3. script: 921c0a48021d97dfd5884aeea41875972c7804d9, on @user_script:1.\r\n")
            #expect(try c.command("HELLO", "3").hasPrefix("%"))
            #expect(try c.command("EVAL", "redis.setresp(3); return true", "0") == "#t\r\n")
            #expect(try c.command("EVAL", "return {map = {a = 1}}", "0") == "%1\r\n$1\r\na\r\n:1\r\n")
        }
    }

    @Test("Commands in a script reply in RESP2 even to a RESP3 caller, unless the script calls redis.setresp(3)")
    func scriptProtocol() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("HELLO", "3").hasPrefix("%"))
            #expect(try c.command("EVAL", "local r = redis.call('consume', KEYS[1], 5, 1); return {r[1], r[2], r[3]}", "1", "b")
                == "*3\r\n:1\r\n:1\r\n$1\r\n1\r\n")
            #expect(try c.command("EVAL", "redis.setresp(3); local r = redis.call('peek', KEYS[1], 5, 1); return {r.map.success, r.map.level, r.map.until_next_drop.double}", "1", "b")
                == "*3\r\n#t\r\n:1\r\n:1\r\n")
            #expect(try c.command("EVAL", "return type(redis.call('get', 'missing'))", "0") == "$7\r\nboolean\r\n")
        }
    }

    @Test("KEYS and ARGV hold the keys and arguments after numkeys, binary-safe")
    func keysAndArguments() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("EVAL", "return {#KEYS, #ARGV, KEYS[1], KEYS[2], ARGV[1]}", "2", "k1", "k\0", "a1")
                == "*5\r\n:2\r\n:1\r\n$2\r\nk1\r\n$2\r\nk\0\r\n$2\r\na1\r\n")
            #expect(try c.command("EVAL", "return {#KEYS, #ARGV}", "0") == "*2\r\n:0\r\n:0\r\n")
            #expect(try c.command("EVAL", "return redis.call('set', KEYS[1], ARGV[1])", "1", "key", "value") == "+OK\r\n")
            #expect(try c.command("GET", "key") == "$5\r\nvalue\r\n")
        }
    }

    @Test("numkeys must be an integer between 0 and the number of remaining arguments")
    func numberOfKeys() async throws {
        try await withServer { server in
            let c = try server.connect()
            try c.expectErrors(["EVAL", "return 1"], [
                (["2", "a"], "Number of keys can't be greater than number of args"),
                (["-1"], "Number of keys can't be negative"),
                (["x"], "value is not an integer or out of range"),
            ])
            #expect(try c.command("EVAL", "return 1") == "-ERR wrong number of arguments for 'eval' command\r\n")
            #expect(try c.command("EVALSHA", "x", "x") == "-ERR value is not an integer or out of range\r\n")
        }
    }

    @Test("redis.call raises a failing command's error with the script's position; redis.pcall returns it as a table")
    func callVersusPcall() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("SET", "s", "text") == "+OK\r\n")
            let incr = "return redis.call('incr', 's')"
            #expect(try c.command("EVAL", incr, "0") == "-ERR value is not an integer or out of range script: 70abbef89e172316f9219e67e313f248a5b98d9b, on @user_script:1.\r\n")
            #expect(try c.command("EVAL", "return redis.pcall('incr', 's')", "0") == "-ERR value is not an integer or out of range\r\n")
            #expect(try c.command("EVAL", "local ok, e = pcall(redis.call, 'incr', 's'); return {tostring(ok), e}", "0")
                == "*2\r\n$5\r\nfalse\r\n$43\r\nERR value is not an integer or out of range\r\n")
            #expect(try c.command("EVAL", "return redis.pcall('nosuch').err", "0") == "$44\r\nERR Unknown Redis command called from script\r\n")
            #expect(try c.command("EVAL", "return redis.pcall('get').err", "0") == "$58\r\nERR Wrong number of args calling Redis command from script\r\n")
            #expect(try c.command("EVAL", "return redis.pcall('get', {}).err", "0") == "$63\r\nERR Lua redis lib command arguments must be strings or integers\r\n")
            #expect(try c.command("EVAL", "return redis.pcall().err", "0") == "$64\r\nERR Please specify at least one argument for this redis lib call\r\n")
        }
    }

    @Test("Runtime and compile errors have Redis 7's shapes")
    func errorShapes() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("EVAL", "error('boom')", "0") == "-ERR user_script:1: boom script: 82903a0434f1503e152f89c03c9acd881a0e8150, on @user_script:1.\r\n")
            #expect(try c.command("EVAL", "\nreturn 1 +\n nil", "0") == "-ERR user_script:3: attempt to perform arithmetic on a nil value script: c10a17a935543766ce84664cb640f808aa4d67e4, on @user_script:3.\r\n")
            #expect(try c.command("EVAL", "error({err='MYERR boom'})", "0") == "-MYERR boom script: 600444ab00b1281c55abc9ff7e35bea4f11a3742, on @user_script:1.\r\n")
            #expect(try c.command("EVAL", "return 'a' .. ", "0") == "-ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'\r\n")
            #expect(try c.command("SCRIPT", "LOAD", "return (") == "-ERR Error compiling script (new function): user_script:1: unexpected symbol near '<eof>'\r\n")
            #expect(try c.command("EVAL", "error({})", "0").hasPrefix("-ERR unknown error script: "))
            #expect(try c.command("PING") == "+PONG\r\n")
        }
    }

    @Test("EVALSHA runs cached scripts: after SCRIPT LOAD or EVAL, any letter case; otherwise NOSCRIPT")
    func evalsha() async throws {
        try await withServer { server in
            let c = try server.connect()
            let sha = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
            #expect(try c.command("EVALSHA", sha, "0") == "-NOSCRIPT No matching script. Please use EVAL.\r\n")
            #expect(try c.command("EVALSHA", "abc", "0") == "-NOSCRIPT No matching script. Please use EVAL.\r\n")
            #expect(try c.command("SCRIPT", "LOAD", "return 1") == "$40\r\n\(sha)\r\n")
            #expect(try c.command("EVALSHA", sha, "0") == ":1\r\n")
            #expect(try c.command("EVALSHA", sha.uppercased(), "0") == ":1\r\n")
            #expect(try c.command("EVALSHA_RO", sha, "0") == ":1\r\n")
            #expect(try c.command("EVAL", "return 2", "0") == ":2\r\n")
            #expect(try c.command("EVALSHA", "7f923f79fe76194c868d7e1d0820de36700eb649", "0") == ":2\r\n")
        }
    }

    @Test("A script's digest reads from 40 hex digits in any case, and from nothing else")
    func digestParsing() {
        let sha = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
        func digest(_ text: String) -> ScriptDigest? { Array(text.utf8).withUnsafeBytes { ScriptDigest(hex: $0) } }
        #expect(digest(sha) == ScriptDigest(sha1Of: Array("return 1".utf8)))
        #expect(digest(sha.uppercased()) == digest(sha))
        #expect(digest(sha)?.hex == sha)
        #expect(digest(sha.uppercased())?.hex == sha)
        #expect(digest("0123456789abcdefABCDEF0123456789abcdef01")?.hex == "0123456789abcdefabcdef0123456789abcdef01")
        #expect(digest(sha) != digest("f" + sha.dropFirst()))
        #expect(digest(sha) != digest(sha.dropLast() + "a"))
        // Wrong lengths, and bytes either side of each hex range, including those that
        // lower-case onto a letter only by a bit (`@`, `G`, `` ` ``, `g`) or onto a digit.
        for bad in [String(sha.dropLast()), sha + "0", "", "/", ":", "@", "G", "`", "g", " ", "\u{10}", "\u{19}", "\u{7F}"] {
            let text = bad.count == 1 ? String(sha.dropLast()) + bad : bad
            #expect(digest(text) == nil, "\(Array(text.utf8))")
        }
    }

    @Test("SCRIPT EXISTS reports cached digests, SCRIPT FLUSH empties the cache, SCRIPT KILL finds nothing running")
    func scriptSubcommands() async throws {
        try await withServer { server in
            let c = try server.connect()
            let sha = "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
            #expect(try c.command("SCRIPT", "EXISTS", sha, "nope") == "*2\r\n:0\r\n:0\r\n")
            #expect(try c.command("EVAL", "return 1", "0") == ":1\r\n")
            #expect(try c.command("SCRIPT", "EXISTS", sha, sha.uppercased(), "nope") == "*3\r\n:1\r\n:1\r\n:0\r\n")
            #expect(try c.command("SCRIPT", "FLUSH") == "+OK\r\n")
            #expect(try c.command("SCRIPT", "EXISTS", sha) == "*1\r\n:0\r\n")
            #expect(try c.command("EVALSHA", sha, "0") == "-NOSCRIPT No matching script. Please use EVAL.\r\n")
            #expect(try c.command("SCRIPT", "LOAD", "return 1") == "$40\r\n\(sha)\r\n")
            #expect(try c.command("SCRIPT", "FLUSH", "ASYNC") == "+OK\r\n")
            #expect(try c.command("SCRIPT", "FLUSH", "sync") == "+OK\r\n")
            #expect(try c.command("SCRIPT", "FLUSH", "bad") == "-ERR SCRIPT FLUSH only support SYNC|ASYNC option\r\n")
            #expect(try c.command("SCRIPT", "FLUSH", "SYNC", "x") == "-ERR SCRIPT FLUSH only support SYNC|ASYNC option\r\n")
            #expect(try c.command("SCRIPT", "KILL") == "-NOTBUSY No scripts in execution right now.\r\n")
            #expect(try c.command("SCRIPT", "EXISTS") == "-ERR wrong number of arguments for 'script|exists' command\r\n")
            #expect(try c.command("SCRIPT", "NOPE") == "-ERR unknown subcommand 'NOPE'. Try SCRIPT HELP.\r\n")
            #expect(try c.command("EVAL", "return 1", "0") == ":1\r\n")
        }
    }

    @Test("EVAL_RO, EVALSHA_RO and the no-writes shebang flag refuse write commands but run reads")
    func readOnlyScripts() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("EVAL_RO", "return redis.call('set', 'a', 'b')", "0") == "-ERR Write commands are not allowed from read-only scripts. script: 1ec5c8569e0cb2caa15ae94d564a56e22a60ce3e, on @user_script:1.\r\n")
            #expect(try c.command("EVAL_RO", "return redis.pcall('set', 'a', 'b')", "0") == "-ERR Write commands are not allowed from read-only scripts.\r\n")
            #expect(try c.command("EVAL_RO", "return redis.call('get', 'a')", "0") == "$-1\r\n")
            let sha = try c.call("SCRIPT", "LOAD", "return redis.call('del', 'a')")
            guard case .bulkString(let digest) = sha else { throw TestFailure("no digest") }
            #expect(try c.command("EVALSHA_RO", String(decoding: digest, as: UTF8.self), "0").hasPrefix("-ERR Write commands are not allowed from read-only scripts."))
            #expect(try c.command("EVALSHA", String(decoding: digest, as: UTF8.self), "0") == ":0\r\n")
            #expect(try c.command("EVAL", "#!lua flags=no-writes\nreturn redis.call('set','a','b')", "0") == "-ERR Write commands are not allowed from read-only scripts. script: 6acb400a50fe96e33eca4e0af6e9dcfb21193726, on @user_script:2.\r\n")
            #expect(try c.command("EVAL", "#!lua flags=bad\nreturn 1", "0") == "-ERR Unexpected flag in script shebang: bad\r\n")
            #expect(try c.command("EVAL", "#!lua name=x\nreturn 1", "0") == "-ERR Unknown lua shebang option: name=x\r\n")
            #expect(try c.command("EVAL", "#!luax\nreturn 1", "0") == "-ERR Unexpected engine in script shebang: #!luax\r\n")
            #expect(try c.command("EVAL", "#!lua", "0") == "-ERR Invalid script shebang\r\n")
            #expect(try c.command("EVAL", "#!lua\n\nerror('x')", "0") == "-ERR user_script:3: x script: d5c067904293d26cc22cb0530ae28ee1fdc88fbc, on @user_script:3.\r\n")
        }
    }

    @Test("Commands flagged noscript (EVAL, SCRIPT, HELLO, CLIENT, QUIT) are refused inside scripts")
    func noscriptCommands() async throws {
        try await withServer { server in
            let c = try server.connect()
            for command in ["'eval', 'return 1', '0'", "'script', 'flush'", "'hello'", "'client', 'id'", "'quit'", "'evalsha', 'x', '0'"] {
                #expect(try c.command("EVAL", "return redis.pcall(\(command)).err", "0") == "$49\r\nERR This Redis command is not allowed from script\r\n", "\(command)")
            }
            #expect(try c.command("EVAL", "return redis.call('echo', 'still here')", "0") == "$10\r\nstill here\r\n")
        }
    }

    @Test("Globals are read-only and missing globals are errors, as in Redis 7; nothing leaks to the next script")
    func globalProtection() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("EVAL", "x = 1", "0") == "-ERR user_script:1: Attempt to modify a readonly table script: 34bce5f775de97f557a34088509c8bfe1ea17e52, on @user_script:1.\r\n")
            #expect(try c.command("EVAL", "return x", "0") == "-ERR user_script:1: Script attempted to access nonexistent global variable 'x' script: 03c387736bb5cc009ff35151572cee04677aa374, on @user_script:1.\r\n")
            #expect(try c.command("EVAL", "rawset(_G, 'x', 1); return 1", "0") == "-ERR Attempt to modify a readonly table script: 76735966bd59eaf0fae356abcc6b1c8eba37a04f, on @user_script:1.\r\n")
            #expect(try c.command("EVAL", "string.x = 1; return 1", "0") == "-ERR user_script:1: Attempt to modify a readonly table script: 1b603fdbd75a68bf1b3b7c344d79036256ba1636, on @user_script:1.\r\n")
            #expect(try c.command("EVAL", "redis.call = nil", "0").hasPrefix("-ERR user_script:1: Attempt to modify a readonly table"))
            #expect(try c.command("EVAL", "setmetatable(_G, nil)", "0").hasPrefix("-ERR user_script:1: cannot change a protected metatable"))
            #expect(try c.command("EVAL", "function f() end", "0").hasPrefix("-ERR user_script:1: Attempt to modify a readonly table"))
            #expect(try c.command("EVAL", "local x = 5; return x", "0") == ":5\r\n")
            #expect(try c.command("EVAL", "return type(rawget(_G, 'x'))", "0") == "$3\r\nnil\r\n")
            #expect(try c.command("EVAL", "return type(redis.call)", "0") == "$8\r\nfunction\r\n")
            for name in ["os", "io", "loadfile", "dofile", "require", "debug", "setfenv", "getfenv", "print"] {
                #expect(try c.command("EVAL", "return \(name)", "0").hasPrefix("-ERR user_script:1: Script attempted to access nonexistent global variable '\(name)'"), "\(name)")
            }
        }
    }

    @Test("A global that exists cannot be assigned either, so no script can change what another one sees")
    func existingGlobals() async throws {
        try await withServer { server in
            let c = try server.connect()
            for script in ["redis = {call = function() return 'pwned' end}", "redis = nil", "KEYS = {}", "tostring = nil", "_G.cjson = 1", "_G._G = 1"] {
                #expect(try c.command("EVAL", script, "0").hasPrefix("-ERR user_script:1: Attempt to modify a readonly table script: "), "\(script)")
            }
            // Nor through the functions that write into a table raw.
            for script in ["table.insert(math, 1) return 1", "table.insert(_G, 'x') return 1", "table.insert(redis, 1, 'x') return 1", "rawset(_G, 'redis', 1) return 1"] {
                #expect(try c.command("EVAL", script, "0").hasPrefix("-ERR Attempt to modify a readonly table script: "), "\(script)")
            }
            // What would write nothing there writes nothing, as in Redis: a library holds no array.
            #expect(try c.command("EVAL", "table.sort(redis) return {table.remove(_G), table.remove(string, 1)}", "0") == "*0\r\n")
            // Argument errors come first, at the script's line.
            #expect(try c.command("EVAL", "table.insert(_G) return 1", "0").hasPrefix("-ERR user_script:1: wrong number of arguments to 'insert' script: "))
            #expect(try c.command("EVAL", "local x = pairs('x') return 1", "0").hasPrefix("-ERR user_script:1: bad argument #1 to 'pairs' (table expected, got string) script: "))
            #expect(try c.command("EVAL", "local x = rawget({}) return 1", "0").hasPrefix("-ERR user_script:1: bad argument #2 to 'rawget' (value expected) script: "))
            #expect(try c.command("EVAL", "return {math[1], rawget(_G, 1)}", "0") == "*0\r\n")
            // Looking through _G and the libraries raw still finds what they hold.
            #expect(try c.command("EVAL", "local n = 0 for k in pairs(_G) do n = n + 1 end return {n > 20, type(rawget(_G, 'redis')), type(next(_G)), rawget(_G, 'nope')}", "0")
                == "*3\r\n:1\r\n$5\r\ntable\r\n$6\r\nstring\r\n")
            #expect(try c.command("EVAL", "local n = 0 for k in pairs(redis) do n = n + 1 end local t = {3, 1, 2} table.sort(t) table.insert(t, 4) return {n > 10, t[1], t[4]}", "0")
                == "*3\r\n:1\r\n:1\r\n:4\r\n")
            let other = try server.connect()
            #expect(try other.command("EVAL", "return {redis.call('PING'), tostring(1), KEYS[1], type(cjson)}", "1", "k")
                == "*4\r\n+PONG\r\n$1\r\n1\r\n$1\r\nk\r\n$5\r\ntable\r\n")
        }
    }

    @Test("Edges of script text, arguments and replies, as Redis 7 has them")
    func scriptEdges() async throws {
        try await withServer { server in
            let c = try server.connect()
            // A body starting with ESC would be loaded as unverified bytecode.
            #expect(try c.command("EVAL", "\u{1B}Lua", "0") == "-ERR Error compiling script (new function): user_script:1: unexpected symbol near 'char(27)'\r\n")
            #expect(try c.command("EVAL", "return load(function() return '\\27Lua' end)", "0") == "$-1\r\n")
            // A shebang line is split on any whitespace, CR and tab included.
            #expect(try c.command("EVAL", "#!lua\r\nreturn 1", "0") == ":1\r\n")
            #expect(try c.command("EVAL", "#!lua\tflags=no-writes\r\nreturn 2", "0") == ":2\r\n")
            // -0 is sent as Redis's %.17g writes it.
            #expect(try c.command("EVAL", "redis.call('SET', 'k', -0) return redis.call('GET', 'k')", "0") == "$2\r\n-0\r\n")
            // Status and error texts end at a NUL; an error's line ends at either end go.
            #expect(try c.command("EVAL", "return {ok = 'a\\0b'}", "0") == "+a\r\n")
            #expect(try c.command("EVAL", "return {err = 'a\\0b'}", "0") == "-a\r\n")
            #expect(try c.command("EVAL", "return {err = 'x\\n'}", "0") == "-x\r\n")
            #expect(try c.command("EVAL", "return {err = '\\r\\nx'}", "0") == "-  x\r\n")
            #expect(try c.command("EVAL", "error('x\\n')", "0").hasPrefix("-ERR user_script:1: x  script: "))
            #expect(try c.command("EVAL", "return redis.error_reply('\\nx\\n')", "0") == "-ERR x\r\n")
            #expect(try c.command("EVAL", "return redis.error_reply('x\\r\\n').err", "0") == "$5\r\nERR x\r\n")
            // A command's error table is marked as counted, as Redis marks it.
            #expect(try c.command("EVAL", "return redis.pcall('GET').ignore_error_stats_update", "0") == ":1\r\n")
            // redis.set_repl checks its argument, though Sluice does not replicate.
            #expect(try c.command("EVAL", "redis.set_repl(99) return 1", "0").hasPrefix("-ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."))
            #expect(try c.command("EVAL", "redis.set_repl() return 1", "0").hasPrefix("-ERR redis.set_repl() requires two arguments."))
            #expect(try c.command("EVAL", "redis.set_repl(redis.REPL_ALL) return 1", "0") == ":1\r\n")
            // Read as Redis reads it: numeric text, truncated, anything else 0.
            #expect(try c.command("EVAL", "redis.set_repl('3') redis.set_repl(3.9) redis.set_repl('x') return 1", "0") == ":1\r\n")
            #expect(try c.command("EVAL", "redis.set_repl(0/0) return 1", "0").hasPrefix("-ERR Invalid replication flags."))
            // Whitespace before a shebang word is skipped; VT inside a word stays.
            #expect(try c.command("EVAL", "#!lua \u{0B} flags=no-writes\nreturn 1", "0") == ":1\r\n")
            #expect(try c.command("EVAL", "#!lua\u{0B}flags=no-writes\nreturn 1", "0") == "-ERR Unexpected engine in script shebang: #!lua\u{0B}flags=no-writes\r\n")
            #expect(try c.command("EVAL", "return {pcall(redis.set_repl, 9)}", "0") == "*2\r\n$-1\r\n$81\r\nERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.\r\n")
            // A script with a shebang but without no-writes may write: refused by EVAL_RO.
            #expect(try c.command("EVAL_RO", "#!lua\nreturn 1", "0") == "-ERR Can not execute a script with write flag using *_ro command.\r\n")
            #expect(try c.command("EVAL_RO", "#!lua flags=no-writes\nreturn 1", "0") == ":1\r\n")
            #expect(try c.command("EVAL", "#!lua flags=no-writes,\nreturn 1", "0") == "-ERR Unexpected flag in script shebang: \r\n")
            #expect(try c.command("EVAL", "local f = load(1) return 1", "0").hasPrefix("-ERR user_script:1: bad argument #1 to 'load' (function expected, got number)"))
            #expect(try c.command("EVAL", "local ok, e = pcall(loadstring, nil) return e", "0") == "$58\r\nbad argument #1 to 'loadstring' (string expected, got nil)\r\n")
        }
    }

    @Test("Each error a script makes counts once in INFO errorstats, where Redis counts it")
    func scriptErrorStats() async throws {
        try await withServer { server in
            let c = try server.connect()
            _ = try c.command("SET", "s", "abc")
            let cases: [(String, String)] = [
                // A called command's error counts where it fails, and not again as the reply.
                ("redis.pcall('NOPE') return 1", "ERR"), ("return redis.pcall('NOPE')", "ERR"),
                ("return redis.pcall('INCR', 's')", "ERR"), ("return redis.call('INCR', 's')", "ERR"),
                ("redis.pcall('GET') return 1", "ERR"),
                // The script's own errors count as replies, nested ones too.
                ("return {err = 'MY x'}", "MY"), ("error('x')", "ERR"), ("return {1, {err = 'NE y'}}", "NE"),
            ]
            for (script, prefix) in cases {
                _ = try c.command("CONFIG", "RESETSTAT")
                _ = try c.command("EVAL", script, "0")
                let errors = try c.command("INFO", "errorstats")
                let stats = try c.command("INFO", "stats")
                #expect(errors.contains("errorstat_\(prefix):count=1\r\n"), "\(script): \(errors)")
                #expect(errors.components(separatedBy: "errorstat_").count == 2, "\(script): \(errors)")
                #expect(stats.contains("total_error_replies:1\r\n"), "\(script)")
            }
        }
    }

    /// A script that stops the collector or changes its pace leaves the next script
    /// the collector as the state was made: running, with Lua's pause and step (200).
    @Test("a script's collectgarbage stop, setpause and setstepmul do not outlast it")
    func collectorRestored() async throws {
        // Garbage of about 12 MB: with the collector stopped, all of it stays in use.
        let garbage = """
            local before = collectgarbage('count')
            for i = 1, 50000 do local t = {string.rep('x', 100) .. i} end
            return math.floor(collectgarbage('count') - before)
            """
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("EVAL", "collectgarbage('setpause', 777); collectgarbage('setstepmul', 555); collectgarbage('stop')", "0") == "$-1\r\n")
            let pace = try c.command("EVAL", "return {collectgarbage('setpause', 300), collectgarbage('setstepmul', 400)}", "0")
            #expect(pace == "*2\r\n:200\r\n:200\r\n")
            #expect(try c.command("EVAL", "return {collectgarbage('setpause', 200), collectgarbage('setstepmul', 200)}", "0") == "*2\r\n:200\r\n:200\r\n")
            // ":<n>\r\n", where "\r\n" is one Character; the growth is below 0 where the
            // collector freed more than the script made.
            func kilobytes(_ reply: String) -> Int? { reply.first == ":" ? Int(reply.dropFirst().dropLast()) : nil }
            let grown = try c.command("EVAL", garbage, "0")
            #expect(kilobytes(grown).map { $0 < 2_000 } == true, "\(grown)")
            #expect(try c.command("EVAL", "collectgarbage('stop')", "0") == "$-1\r\n")
            let after = try c.command("EVAL", garbage, "0")
            #expect(kilobytes(after).map { $0 < 2_000 } == true, "\(after)")
            // Within one script, stopped is stopped.
            let stopped = try c.command("EVAL", "collectgarbage('stop')\n" + garbage, "0")
            #expect(kilobytes(stopped).map { $0 > 5_000 } == true, "\(stopped)")
        }
    }

    /// Lua's small blocks come from free lists of 16-byte classes up to 256 bytes: strings
    /// of every length up to 300 and a table's array grown through every class past it,
    /// freed by full collections, must read back whole, across `SCRIPT FLUSH` (which
    /// closes the state and frees the lists) and in scripts that a later one follows.
    @Test("allocations of every size class survive collections and SCRIPT FLUSH")
    func smallBlockPools() async throws {
        let script = """
            local total = 0
            for round = 1, 20 do
              local t = {}
              for i = 1, 300 do t[i] = string.rep(string.char(65 + i % 26), i % 300) end
              for i = 1, 300 do
                if #t[i] ~= i % 300 or (i % 300 > 0 and t[i]:byte(-1) ~= 65 + i % 26) then return 'damaged ' .. i end
              end
              total = total + #table.concat(t)
              local nested = {}
              for i = 1, 50 do nested[i] = {i, tostring(i), {x = i, name = string.rep('n', i * 5)}} end
              for i = 1, 50 do total = total + nested[i][1] + #nested[i][2] + nested[i][3].x + #nested[i][3].name end
              collectgarbage('collect')
            end
            return total
            """
        // Per round: the lengths 1 to 299 (44,850), and per nested entry i, i, its digits, i, 5i.
        var perRound = 44_850
        for i in 1...50 { perRound += 7 * i + String(i).count }
        try await withServer { server in
            let c = try server.connect()
            for _ in 0..<3 {
                for _ in 0..<3 { #expect(try c.command("EVAL", script, "0") == ":\(20 * perRound)\r\n") }
                #expect(try c.command("SCRIPT", "FLUSH") == "+OK\r\n")
            }
            #expect(try c.command("EVAL", "return #string.rep('x', 100000)", "0") == ":100000\r\n")
        }
    }

    @Test("string, math, table, cjson and bit are available; bytecode cannot be loaded")
    func libraries() async throws {
        try await withServer { server in
            let c = try server.connect()
            #expect(try c.command("EVAL", "return string.format('%s-%d', string.upper('a'), math.floor(2.7)) .. table.concat({1, 2}, ',')", "0") == "$6\r\nA-21,2\r\n")
            #expect(try c.command("EVAL", "return cjson.encode(cjson.decode(ARGV[1]))", "0", "{\"a\":[1,2.5,null,\"x\"]}") == "$22\r\n{\"a\":[1,2.5,null,\"x\"]}\r\n")
            #expect(try c.command("EVAL", "local t = cjson.decode('{\"n\":3,\"s\":\"v\"}'); return {t.n, t.s}", "0") == "*2\r\n:3\r\n$1\r\nv\r\n")
            #expect(try c.command("EVAL", "return cjson.decode('[')", "0").hasPrefix("-ERR user_script:1: Expected value but found T_END at character 2"))
            #expect(try c.command("EVAL", "return {bit.band(7, 3), bit.bor(1, 4), bit.lshift(1, 10)}", "0") == "*3\r\n:3\r\n:5\r\n:1024\r\n")
            #expect(try c.command("EVAL", "return loadstring('return 7')()", "0") == ":7\r\n")
            #expect(try c.command("EVAL", "return tostring(loadstring(string.dump(function() return 1 end)))", "0") == "$3\r\nnil\r\n")
            // Lua 5.1 matches patterns recursively on the C stack: a very long one would crash the server.
            #expect(try c.command("EVAL", "local r = ('a'):rep(300000):find(('a?'):rep(300000)); return r", "0")
                .hasPrefix("-ERR user_script:1: pattern too long (at most 4096 bytes) script: "))
            #expect(try c.command("EVAL", "local r = string.find(('a'):rep(10), ('a?'):rep(10)); return r", "0") == ":1\r\n")
            #expect(try c.command("PING") == "+PONG\r\n")
            #expect(try c.command("EVAL", "return redis.sha1hex('')", "0") == "$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n")
            #expect(try c.command("EVAL", "return redis.sha1hex(string.rep('a', 1000))", "0") == "$40\r\n291e9a6c66994949b57ba5e650361e98fc36b1ba\r\n")
            #expect(try c.command("EVAL", "return redis.log(redis.LOG_DEBUG, 'from a script')", "0") == "$-1\r\n")
            #expect(try c.command("EVAL", "return redis.log(99, 'x')", "0").hasPrefix("-ERR Invalid debug level. script: "))
            #expect(try c.command("EVAL", "return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}", "0") == "*4\r\n:0\r\n:1\r\n:2\r\n:3\r\n")
        }
    }

    @Test("tonumber reads plain decimals itself exactly as Lua's strtod does; other forms, bases and errors are the base library's")
    func tonumber() async throws {
        try await withServer { server in
            let c = try server.connect()
            // Decimals of every length around the fast path's limits (19 digits, 2^53, 22
            // places), each compared with the same text plus "e0", which only strtod reads.
            var random = SplitMix64(seed: 7)
            func next(_ bound: Int) -> Int { Int.random(in: 0..<bound, using: &random) }
            let digits = Array("0123456789")
            var words = ["0", "-0", "9007199254740992", "9007199254740993", "-9007199254740993", "0.1", "0.3",
                         "1765000000.123456", "1.7976931348623157", "123456789012345678.9", "0.0000000000000000000001",
                         "0.00000000000000000000001", "5.", ".5", "-.5", "00000000000000000000012"]
            for _ in 0..<3_000 {
                var word = next(4) == 0 ? "-" : ""
                word += String((0..<next(20)).map { _ in digits[next(10)] })
                if next(3) > 0 { word += "." + String((0..<next(24)).map { _ in digits[next(10)] }) }
                if word.allSatisfy({ $0 == "-" || $0 == "." }) { word += "7" }
                words.append(word)
            }
            let check = """
                for _, s in ipairs(ARGV) do
                  local a, b = tonumber(s), tonumber(s .. 'e0')
                  if a == nil or a ~= b or 1 / a ~= 1 / b then return s end
                end
                return #ARGV
                """
            #expect(try c.command(["EVAL", check, "0"] + words) == ":\(words.count)\r\n")
            // What the fast path leaves to the base library.
            let others = """
                return {tostring(1 / tonumber('-0')), tonumber('0x10'), tonumber(' 5 '), tonumber('1e3'), tonumber('+5'),
                  tostring(tonumber('.')), tostring(tonumber('-')), tostring(tonumber('')), tostring(tonumber('1.2.3')),
                  tostring(tonumber('5 x')), tonumber('5\\0x'), tonumber('ff', 16), tonumber('z', 36), tonumber(7),
                  tostring(tonumber(nil)), tostring(tonumber('1', 10)), tostring(tonumber('inf'))}
                """
            #expect(try c.command("EVAL", others, "0")
                == "*17\r\n$4\r\n-inf\r\n:16\r\n:5\r\n:1000\r\n:5\r\n$3\r\nnil\r\n$3\r\nnil\r\n$3\r\nnil\r\n$3\r\nnil\r\n$3\r\nnil\r\n:5\r\n:255\r\n:35\r\n:7\r\n$3\r\nnil\r\n$1\r\n1\r\n$3\r\ninf\r\n")
            #expect(try c.command("EVAL", "return tonumber()", "0").hasPrefix("-ERR user_script:1: bad argument #1 to 'tonumber' (value expected) script: "))
            #expect(try c.command("EVAL", "return tonumber('7', 99)", "0").hasPrefix("-ERR user_script:1: bad argument #2 to 'tonumber' (base out of range) script: "))
        }
    }

    @Test("tostring of a number, string.format's %d, %f and %.Nf, and numbers passed to redis.call (%.17g) are what C's printf writes; other formats are the string library's")
    func numberFormatting() async throws {
        try await withServer { server in
            let c = try server.connect()
            // Doubles of every kind the fast paths meet or refuse: random bits over the
            // whole range, decimals, exact ties for 6 places (n / 2^k) and for 14 digits
            // (15-digit integers ending in 5), integers, zeros and the edges of the ranges.
            var random = SplitMix64(seed: 11)
            func next() -> UInt64 { random.next() }
            var values: [Double] = [0, -0.0, 0.5, 1.5, 2.5, -2.5, 0.0078125, 1e-9, 9.99999999999995e-10, 1e38, 9.9999999999999e37,
                                    99999999999999.5, 999999999999995, 0.000099999999999995, 1e14, 1e15, 123456.7, 9.2e18, -9.2e18,
                                    1765000000.123456, 2.0 / 3, .infinity, -.infinity, Double("1e-320")!, .leastNonzeroMagnitude,
                                    .greatestFiniteMagnitude]
            for _ in 0..<600 {
                values.append(Double(bitPattern: next()))
                values.append(Double(Int64(bitPattern: next()) >> Int64(next() % 60)) / Double(UInt64(1) << (next() % 21)))
                values.append(Double(next() % 1_000_000_000_000_000) / pow(10, Double(next() % 25)) * (next() % 2 == 0 ? 1 : -1))
                values.append(Double(next() % 100_000_000_000_000 * 10 + 5))
            }
            // Powers of ten and their neighbours: several lie just below the power they are
            // written as (1e-6 is 9.9999999999999995e-07 at 17 digits), where the exponent
            // must come from the exact value, not from digits rounded up to the power.
            for exponent in -10...38 {
                let power = Double("1e\(exponent)")!
                values += [power, power.nextDown, power.nextUp, -power]
            }
            values = values.filter { !$0.isNaN }
            func printf(_ format: String, _ value: CVarArg) -> String {
                var buffer = [CChar](repeating: 0, count: 512)
                _ = withVaList([value]) { vsnprintf(&buffer, buffer.count, format, $0) }
                return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            let script = """
                local out = {}
                for i, s in ipairs(ARGV) do
                  local v = tonumber(s)
                  local d = math.abs(v) < 9e18 and string.format('%d', v) or '-'
                  redis.call('SET', KEYS[1], v)
                  out[i] = table.concat({tostring(v), string.format('%f', v), string.format('%.0f|%.3f', v, v), d,
                    string.format('<%s %d%%>', 'x', 7), redis.call('GET', KEYS[1])}, '|')
                end
                return out
                """
            for chunk in stride(from: 0, to: values.count, by: 500) {
                let part = Array(values[chunk..<min(chunk + 500, values.count)])
                let reply = try c.call(["EVAL", script, "1", "n"] + part.map { printf("%.17g", $0) })
                guard case .array(let elements) = reply else {
                    Issue.record("not an array: \(reply)")
                    return
                }
                for (value, element) in zip(part, elements) {
                    let d = abs(value) < 9e18 ? String(Int(value)) : "-"
                    let expected = [printf("%.14g", value), printf("%f", value), printf("%.0f", value), printf("%.3f", value), d, "<x 7%>", printf("%.17g", value)]
                        .joined(separator: "|")
                    #expect(element == .bulkString(Array(expected.utf8)), "\(printf("%.17g", value))")
                }
            }
            // What the fast path leaves to the string library, with its errors.
            #expect(try c.command("EVAL", "return string.format('%5.1f|%x|%s|%q|%i|%-3d|%s', 2.25, 255, 12, 'a\\0b', 3, 4, ('y'):rep(600))", "0")
                == "$627\r\n  2.2|ff|12|\"a\\000b\"|3|4  |\(String(repeating: "y", count: 600))\r\n")
            #expect(try c.command("EVAL", "return string.format('%s|%s', 'a\\0b', ('z'):rep(99) .. '\\0')", "0")
                == "$102\r\na|\(String(repeating: "z", count: 99))\0\r\n")
            #expect(try c.command("EVAL", "return ('%d-%s'):format(-3.9, 'k')", "0") == "$4\r\n-3-k\r\n")
            #expect(try c.command("EVAL", "return string.format('%d', 'x')", "0").hasPrefix("-ERR user_script:1: bad argument #2 to 'format' (number expected, got string) script: "))
            #expect(try c.command("EVAL", "return string.format('%f')", "0").hasPrefix("-ERR user_script:1: bad argument #2 to 'format' (no value) script: "))
            #expect(try c.command("EVAL", "return string.format('%y', 1)", "0").hasPrefix("-ERR user_script:1: invalid option '%y' to 'format' script: "))
            #expect(try c.command("EVAL", "return {tostring(nil), tostring(true), tostring('s'), tostring(1/0), tostring(-1/0)}", "0")
                == "*5\r\n$3\r\nnil\r\n$4\r\ntrue\r\n$1\r\ns\r\n$3\r\ninf\r\n$4\r\n-inf\r\n")
        }
    }

    @Test("A script that runs past the time limit is stopped, even through pcall, and the server keeps answering")
    func timeLimit() async throws {
        try await withServer(configure: { $0.luaTimeLimitMilliseconds = 100 }) { server in
            let c = try server.connect()
            #expect(try c.command("EVAL", "while true do end", "0")
                == "-ERR Script killed after running longer than the time limit (100 ms) script: 694a5fe1ddb97a4c6a1bf299d9537c7d3d0f84e7\r\n")
            #expect(try c.command("PING") == "+PONG\r\n")
            #expect(try c.command("EVAL", "while true do pcall(function() while true do end end) end", "0").hasPrefix("-ERR Script killed"))
            #expect(try c.command("EVAL", "return coroutine.wrap(function() while true do end end)()", "0").hasPrefix("-ERR Script killed"))
            // Error handlers: Lua runs them with hooks off once the time limit's error is raised.
            #expect(try c.command("EVAL", "return xpcall(function() error('a') end, function(e) while true do end end)", "0").hasPrefix("-ERR Script killed"))
            #expect(try c.command("EVAL", "error(setmetatable({}, {__newindex = function() while true do end end}))", "0").hasPrefix("-ERR unknown error script: "))
            #expect(try c.command("EVAL", "table.sort({3, 2, 1}, function(a, b) while true do end end)", "0").hasPrefix("-ERR Script killed"))
            let other = try server.connect()
            #expect(try other.command("PING") == "+PONG\r\n")
            #expect(try c.command("EVAL", "local n = 0; for i = 1, 1000 do n = n + i end; return n", "0") == ":500500\r\n")
        }
    }

    @Test("A short loop that builds big strings is stopped at the time limit, also through pcall")
    func timeLimitInAllocations() async throws {
        try await withServer(configure: { $0.luaTimeLimitMilliseconds = 100 }) { server in
            let c = try server.connect()
            // A few hundred instructions in all: the instruction hook alone lets these run
            // for seconds, one `rep` at a time.
            #expect(try c.command("EVAL", "for i = 1, 100 do local s = ('y'):rep(2e7) end return 1", "0")
                .hasPrefix("-ERR Script killed after running longer than the time limit (100 ms) script: "))
            #expect(try c.command("EVAL", "for i = 1, 100 do pcall(string.rep, 'y', 2e7) end return 1", "0")
                .hasPrefix("-ERR Script killed after running longer than the time limit (100 ms) script: "))
            #expect(try c.command("EVAL", "return #('y'):rep(2e6)", "0") == ":2000000\r\n")
        }
    }

    @Test("The garbage of a script that ran out of Lua memory is collected before the next script")
    func memoryLimitGarbage() async throws {
        try await withServer { server in
            let c = try server.connect()
            let failed = try c.command("EVAL", "local s = 'x' for i = 1, 30 do s = s .. s end return #s", "0")
            #expect(failed.hasPrefix("-ERR Error running script ") && failed.hasSuffix(", not enough memory\r\n"), "\(failed)")
            // Left to the collector's pace, about 400 MiB of it stayed, and later scripts'
            // allocations failed against the 512 MiB limit.
            let held = try c.command("EVAL", "return collectgarbage('count')", "0")  // KiB
            let kib = Int(String(held.dropFirst().prefix { $0.isNumber })) ?? .max
            #expect(kib < 256 * 1024, "\(held)")
            #expect(try c.command("EVAL", "local s = 'y' for i = 1, 26 do s = s .. s end return #s", "0") == ":67108864\r\n")
        }
    }

    @Test("Commands in a script read the EVAL's clock")
    func scriptClock() async throws {
        try await withServer { server in
            let c = try server.connect()
            let micros = server.clock.now().microseconds
            #expect(try c.command("EVAL", "local t = redis.call('time'); return t[1] * 1000000 + t[2]", "0") == ":\(micros)\r\n")
            #expect(try c.command("EVAL", "redis.call('set', KEYS[1], 'v', 'PX', 1500); return redis.call('pttl', KEYS[1])", "1", "k") == ":1500\r\n")
        }
    }

    @Test("A script is atomic: no other client's command runs between its commands")
    func atomicity() async throws {
        try await withServer(configure: { $0.threads = 2 }) { server in
            let writer = try server.connect()
            let reader = try server.connect()
            let script = "for i = 1, 500 do redis.call('incr', KEYS[1]) end return redis.call('get', KEYS[1])"
            let runs = 20
            var pipeline = ""
            for _ in 0..<runs { pipeline += "*4\r\n$4\r\nEVAL\r\n$\(script.utf8.count)\r\n\(script)\r\n$1\r\n1\r\n$1\r\nn\r\n" }
            try writer.send(pipeline)
            var seen: [Int] = []
            for _ in 0..<50 {
                if case .bulkString(let bytes) = try reader.call("GET", "n"), let value = Int(String(decoding: bytes, as: UTF8.self)) {
                    seen.append(value)
                }
            }
            for _ in 0..<runs { _ = try writer.readRaw() }
            #expect(seen.allSatisfy { $0 % 500 == 0 }, "\(seen)")
            #expect(try reader.command("GET", "n") == "$5\r\n10000\r\n")
        }
    }
}
