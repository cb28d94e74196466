import CLua
import Logging
import RESP

#if canImport(Glibc)
import Glibc
#endif

/// What the `redis` library's functions need while one script runs: the database the
/// caller holds the lock on, the EVAL's invocation (its clock reading and server),
/// whether writes are refused, and the protocol `redis.setresp` chose.
final class ScriptRun {
    let database: UnsafeMutablePointer<DatabaseState>
    let invocation: Invocation
    /// Commands run as this client, as Redis runs them as its Lua client: they reply
    /// in RESP2 unless the script asked for RESP3, whatever the caller speaks.
    let scriptClient: Client
    let readOnly: Bool
    var resp3 = false {
        didSet { scriptClient.protocolVersion = resp3 ? .resp3 : .resp2 }
    }
    /// Set when the data was over `maxmemory` as the script started: commands flagged
    /// `denyoom` are refused until the script has called a write command. Redis's rule:
    /// a script that already wrote may finish, rather than stop half done.
    var refusesOverMemoryLimit = false
    /// The words of the running `redis.call`, copied straight from Lua's strings; the
    /// engine hands the same storage from run to run, so a call reuses its memory instead
    /// of allocating.
    var words: RESPCommands

    init(
        database: UnsafeMutablePointer<DatabaseState>, invocation: Invocation, scriptClient: Client, readOnly: Bool,
        words: RESPCommands
    ) {
        self.words = words
        self.database = database
        self.invocation = invocation
        self.scriptClient = scriptClient
        self.readOnly = readOnly
        scriptClient.protocolVersion = .resp2
    }

    static func current(_ lua: OpaquePointer) -> ScriptRun? {
        sluice_lua_context_of(lua).pointee.host.map { Unmanaged<ScriptRun>.fromOpaque($0).takeUnretainedValue() }
    }

    /// redis.call / redis.pcall: runs a command from the table against the locked
    /// database, with Redis's checks and errors for scripts. Returns the host
    /// function's result count (-1 raises the error table on top).
    /// A called command's error: counted in `INFO errorstats` here, where it arose, as
    /// Redis counts it, and marked so that the script's reply does not count it again.
    private func failed(_ lua: OpaquePointer, _ text: String, _ raising: Bool) -> Int32 {
        database.pointee.stats.recordError(text: text)
        return commandFailed(lua, text, raising)
    }

    func call(_ lua: OpaquePointer, raising: Bool) -> Int32 {
        let count = lua_gettop(lua)
        guard count > 0 else { return failed(lua, "ERR Please specify at least one argument for this redis lib call", raising) }
        words.removeAll()
        // Every word in one append, with room for all: strings are copied from Lua's own
        // bytes, numbers formatted as Redis does (at most 24 characters).
        var byteCount = 0
        for index in 1...count {
            switch lua_type(lua, index) {
            case LUA_TSTRING:
                var length = 0
                _ = lua_tolstring(lua, index, &length)
                byteCount += length
            case LUA_TNUMBER:
                byteCount += 32
            default:
                return failed(lua, "ERR Lua redis lib command arguments must be strings or integers", raising)
            }
        }
        words.appendWords(maxWords: Int(count), maxBytes: byteCount) { writer in
            for index in 1...count {
                if lua_type(lua, index) == LUA_TSTRING {
                    var length = 0
                    let bytes = lua_tolstring(lua, index, &length)
                    writer.append(UnsafeRawBufferPointer(start: bytes, count: bytes == nil ? 0 : length))
                } else {
                    withNumberArgument(lua_tonumber(lua, index)) { writer.append($0) }
                }
            }
            return true
        }
        words.endCommand()
        let table = invocation.server.table
        guard let position = words.withWord(0, { table.lookup($0) }) else {
            return failed(lua, "ERR Unknown Redis command called from script", raising)
        }
        let spec = table.specs[position]
        guard spec.acceptsArgumentCount(Int(count)) else {
            return failed(lua, "ERR Wrong number of args calling Redis command from script", raising)
        }
        if spec.refusedInScripts {
            return failed(lua, "ERR This Redis command is not allowed from script", raising)
        }
        if readOnly && spec.isWrite {
            return failed(lua, "ERR Write commands are not allowed from read-only scripts.", raising)
        }
        if refusesOverMemoryLimit {
            if spec.deniedOverMemoryLimit { return failed(lua, CommandError.outOfMemory.message, raising) }
            if spec.isWrite { refusesOverMemoryLimit = false }
        }

        var inner = Invocation(arguments: Arguments(words, command: 0), now: invocation.now, client: scriptClient, server: invocation.server)
        database.pointee.stats.commandsProcessed += 1
        database.pointee.stats.commands[position].calls += 1
        let reply: RESPValue
        do throws(CommandError) {
            reply = try spec.handler(&inner, &database.pointee)
        } catch {
            database.pointee.stats.commands[position].failedCalls += 1
            return failed(lua, error.message, raising)
        }
        if case .error(let text) = reply { return failed(lua, text, raising) }
        pushReply(reply, resp3: resp3, in: lua)
        return 1
    }
}

/// Calls `body` with a Lua number as a command argument, as Redis formats it (`%.17g`,
/// at most 24 characters), written on the stack. `sluice_format_general` writes what
/// printf would for all but extreme magnitudes; printf itself took about 3,000
/// instructions for a fraction (a timestamp in seconds, as limits' script passes).
private func withNumberArgument(_ number: Double, _ body: (UnsafeRawBufferPointer) -> Void) {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: 32) { buffer in
        let base = buffer.baseAddress!
        var length = sluice_format_general(number, 17, base)
        if length < 0 {
            length = withVaList([number]) { vsnprintf(base, buffer.count, "%.17g", $0) }
            length = max(0, min(length, Int32(buffer.count) - 1))
        }
        body(UnsafeRawBufferPointer(start: base, count: Int(length)))
    }
}

/// Pushes `{err = text}`; the host function's result: raise it (-1) or return it (1).
private func fail(_ lua: OpaquePointer, _ text: String, _ raising: Bool) -> Int32 {
    pushErrorTable(text, in: lua)
    return raising ? -1 : 1
}

/// `fail` for the error of a command a script called: Redis marks its table
/// `ignore_error_stats_update`, as the command already counted the error.
private func commandFailed(_ lua: OpaquePointer, _ text: String, _ raising: Bool) -> Int32 {
    let result = fail(lua, text, raising)
    sluice_lua_push_name(lua, Int32(SLUICE_LUA_NAME_IGNORE_ERROR_STATS_UPDATE))
    lua_pushboolean(lua, 1)
    lua_rawset(lua, -3)
    return result
}

/// Redis's shaping of an error text given to `redis.error_reply`: "-CODE message"
/// keeps its code, a text with no code gets "ERR", and line ends are trimmed from
/// both ends of what follows the "-".
private func errorReplyText(_ text: String) -> String {
    // By scalars: "\r\n" is one Character.
    var body = Substring(text.hasPrefix("-") ? String(text.dropFirst()) : text).unicodeScalars
    while let first = body.first, first == "\r" || first == "\n" { body.removeFirst() }
    while let last = body.last, last == "\r" || last == "\n" { body.removeLast() }
    let trimmed = Substring(body)
    guard let space = trimmed.firstIndex(of: " ") else { return "ERR " + trimmed }
    return String(trimmed[..<space]) + " " + trimmed[trimmed.index(after: space)...]
}

private let redisCall: sluice_lua_host_function = { lua in
    guard let lua, let run = ScriptRun.current(lua) else { return -1 }
    return run.call(lua, raising: true)
}

private let redisPcall: sluice_lua_host_function = { lua in
    guard let lua, let run = ScriptRun.current(lua) else { return -1 }
    return run.call(lua, raising: false)
}

private let redisSha1hex: sluice_lua_host_function = { lua in
    guard let lua else { return -1 }
    guard lua_gettop(lua) == 1 else { return fail(lua, "ERR wrong number of arguments", true) }
    let bytes = luaBytes(lua, at: 1) ?? []
    lua_pushstring(lua, sha1Hex(bytes))
    return 1
}

private let redisErrorReply: sluice_lua_host_function = { lua in
    guard let lua else { return -1 }
    guard lua_gettop(lua) == 1, lua_type(lua, 1) == LUA_TSTRING, let text = luaString(lua, at: 1) else {
        return fail(lua, "ERR wrong number or type of arguments", false)
    }
    pushErrorTable(errorReplyText(text), in: lua)
    return 1
}

private let redisStatusReply: sluice_lua_host_function = { lua in
    guard let lua else { return -1 }
    guard lua_gettop(lua) == 1, lua_type(lua, 1) == LUA_TSTRING else {
        return fail(lua, "ERR wrong number or type of arguments", false)
    }
    lua_createtable(lua, 0, 1)
    sluice_lua_push_name(lua, Int32(SLUICE_LUA_NAME_OK))
    lua_pushvalue(lua, 1)
    lua_rawset(lua, -3)
    return 1
}

private let redisLog: sluice_lua_host_function = { lua in
    guard let lua, let run = ScriptRun.current(lua) else { return -1 }
    let count = lua_gettop(lua)
    guard count >= 2 else { return fail(lua, "ERR redis.log() requires two arguments or more.", true) }
    guard lua_type(lua, 1) == LUA_TNUMBER else { return fail(lua, "ERR First argument must be a number (log level).", true) }
    let levels: [Logger.Level] = [.debug, .info, .notice, .warning]
    let level = Int(lua_tonumber(lua, 1))
    guard levels.indices.contains(level) else { return fail(lua, "ERR Invalid debug level.", true) }
    var words: [String] = []
    for index in 2...count where lua_type(lua, index) == LUA_TSTRING || lua_type(lua, index) == LUA_TNUMBER {
        lua_pushvalue(lua, index)  // converted on a copy, so the argument itself is untouched
        words.append(luaString(lua, at: -1) ?? "")
        sluice_lua_pop(lua, 1)
    }
    run.invocation.server.logger.log(level: levels[level], "\(words.joined(separator: " "))")
    return 0
}

private let redisSetresp: sluice_lua_host_function = { lua in
    guard let lua, let run = ScriptRun.current(lua) else { return -1 }
    guard lua_gettop(lua) == 1 else { return fail(lua, "ERR redis.setresp() requires one argument.", true) }
    let version = lua_tonumber(lua, 1)
    guard version == 2 || version == 3 else { return fail(lua, "ERR RESP version must be 2 or 3.", true) }
    run.resp3 = version == 3
    return 0
}

/// Creates the global `redis` table with the host functions; the prelude adds the
/// constants and makes it read-only.
func registerRedisLibrary(_ lua: OpaquePointer) -> Bool {
    let functions: [(String, sluice_lua_host_function)] = [
        ("call", redisCall), ("pcall", redisPcall), ("sha1hex", redisSha1hex), ("error_reply", redisErrorReply),
        ("status_reply", redisStatusReply), ("log", redisLog), ("setresp", redisSetresp),
    ]
    sluice_lua_pushglobaltable(lua)
    lua_pushstring(lua, "redis")
    lua_createtable(lua, 0, Int32(functions.count) + 16)
    for (name, function) in functions {
        lua_pushstring(lua, name)
        sluice_lua_push_host_function(lua, function)
        lua_rawset(lua, -3)
    }
    lua_rawset(lua, -3)
    sluice_lua_pop(lua, 1)
    return true
}
