import CLua
import RESP
import SluiceCore

/// The server's one Lua state and its script cache (EVAL, EVALSHA, SCRIPT).
///
/// Lives in `DatabaseState`, so it is only touched with the database lock held: a
/// Lua state is not thread-safe, and holding the lock for a whole script is what
/// makes the script atomic (hence `@unchecked Sendable`: the lock is the guard).
/// The state is created on first use and dropped by `SCRIPT FLUSH`, which is how
/// Redis empties its cache too.
final class ScriptingEngine: @unchecked Sendable {
    /// Most memory a state may hold; past it, allocations fail with a Lua error the
    /// script sees ("not enough memory") instead of the process running out.
    static let memoryLimit = 512 * 1024 * 1024

    private var lua: OpaquePointer?
    private let context: UnsafeMutablePointer<sluice_lua_context>
    /// Scripts in the cache, by SHA-1: their shebang flags and the registry reference of
    /// their compiled function.
    private var scripts: [ScriptDigest: (flags: ScriptFlags, function: Int32)] = [:]
    /// Registry references of the prelude's error handler and its table of KEYS and ARGV:
    /// an integer look-up, where a named one hashes the name on every run.
    private var errorHandler: Int32 = 0
    private var globals: Int32 = 0
    /// Storage for the words of the commands scripts call, kept from run to run.
    private var callWords = RESPCommands()
    /// The client commands called from scripts run as (Redis's Lua client).
    private var scriptClient: Client?

    init() {
        context = .allocate(capacity: 1)
        context.initialize(to: sluice_lua_context())
    }

    deinit {
        if let lua { sluice_lua_close(lua, context) }
        context.deallocate()
    }

    func contains(_ digest: ScriptDigest) -> Bool {
        scripts[digest] != nil
    }

    /// SCRIPT FLUSH: forgets every script by closing the state.
    func flush() {
        if let lua { sluice_lua_close(lua, context) }
        lua = nil
        scripts.removeAll()
    }

    /// Compiles `body` into the cache unless it is there; returns its SHA-1.
    @discardableResult
    func load(_ body: [UInt8]) throws(CommandError) -> String {
        let digest = ScriptDigest(sha1Of: body)
        if scripts[digest] == nil {
            try compile(body, digest: digest, in: try state())
        }
        return digest.hex
    }

    /// Runs a cached script (compiling `body` first when given and not cached yet).
    /// `database` is the state the caller holds the lock on; commands the script
    /// calls run against it.
    func run(
        digest: ScriptDigest, body: [UInt8]?, keys: Range<Int>, arguments: Range<Int>, readOnly: Bool,
        invocation: Invocation, database: UnsafeMutablePointer<DatabaseState>
    ) throws(CommandError) -> RESPValue {
        let lua = try state()
        var cached = scripts[digest]
        if cached == nil {
            guard let body else { throw .noScript }
            cached = try compile(body, digest: digest, in: lua)
        }
        guard let (flags, function) = cached else { throw .err("Could not compile the script") }
        // A script that declares its flags without no-writes says it may write.
        if readOnly && flags.declared && !flags.noWrites {
            throw .err("Can not execute a script with write flag using *_ro command.")
        }
        // Over maxmemory, Redis 7 refuses a script that declares flags unless they say it
        // writes nothing or may run anyway; a script without a shebang is checked per call.
        let overMemoryLimit = database.pointee.isOverMemoryLimit && !flags.allowOOM
        if overMemoryLimit && flags.declared && !flags.noWrites && !readOnly { throw .outOfMemory }
        lua_settop(lua, 0)  // the error handler goes to index 1
        defer { lua_settop(lua, 0) }

        // Host work (setting KEYS and ARGV, converting replies) may exceed the memory
        // limit; only the script's own allocations are held to it.
        context.pointee.in_host = 1
        setGlobalArray(SLUICE_LUA_NAME_KEYS, keys, of: invocation.arguments, in: lua)
        setGlobalArray(SLUICE_LUA_NAME_ARGV, arguments, of: invocation.arguments, in: lua)
        sluice_lua_getref(lua, errorHandler)
        sluice_lua_getref(lua, function)

        let client = scriptClient ?? Client(id: 0, address: "", localAddress: "", createdAt: invocation.now)
        scriptClient = client
        let run = ScriptRun(
            database: database, invocation: invocation, scriptClient: client, readOnly: readOnly || flags.noWrites,
            words: callWords)
        callWords = RESPCommands()
        defer { callWords = run.words }
        run.refusesOverMemoryLimit = overMemoryLimit
        let status = withExtendedLifetime(run) {
            context.pointee.host = Unmanaged.passUnretained(run).toOpaque()
            context.pointee.in_host = 0
            sluice_lua_arm_time_limit(lua, invocation.server.configuration.luaTimeLimitMilliseconds * 1_000_000)
            let status = lua_pcall(lua, 0, 1, 1)
            sluice_lua_disarm_time_limit(lua)
            context.pointee.in_host = 1
            context.pointee.host = nil
            return status
        }
        sluice_lua_restore_collector(lua, context)
        collectIfNearLimit(lua)

        if context.pointee.timed_out != 0 {
            let limit = invocation.server.configuration.luaTimeLimitMilliseconds
            throw .err("Script killed after running longer than the time limit (\(limit) ms) script: \(digest.hex)")
        }
        guard status == 0 else {
            // A called command's error raised by redis.call was counted where it arose.
            var counted = false
            if lua_type(lua, -1) == LUA_TTABLE {
                rawField(lua, -1, SLUICE_LUA_NAME_IGNORE_ERROR_STATS_UPDATE)
                counted = lua_toboolean(lua, -1) != 0
                sluice_lua_pop(lua, 1)
            }
            throw CommandError(.message(errorText(in: lua, sha: digest.hex)), alreadyCounted: counted)
        }
        // Error tables the script returns count as error replies, as in Redis.
        return luaReply(lua, at: -1, resp3: run.resp3) { database.pointee.stats.recordError(text: $0) }
    }

    /// Memory held after a script above which the state is collected at once.
    private var collectAbove = ScriptingEngine.memoryLimit / 2

    /// Lua 5.1 fails an allocation over the limit without collecting first, so the
    /// garbage of a script that came near the limit (or hit it) would fail the next
    /// scripts' allocations, small ones too, until the collector caught up. Past half
    /// the limit the state is collected in full; if that still leaves much held (cached
    /// scripts), the mark moves up, so each script does not pay for a collection.
    private func collectIfNearLimit(_ lua: OpaquePointer) {
        guard context.pointee.memory_used > collectAbove else { return }
        lua_cpcall(lua, sluice_lua_collect, nil)
        collectAbove = max(Self.memoryLimit / 2, context.pointee.memory_used + Self.memoryLimit / 4)
    }

    /// The state, created with its libraries on first use.
    private func state() throws(CommandError) -> OpaquePointer {
        if let lua { return lua }
        context.pointee = sluice_lua_context()
        context.pointee.memory_limit = ScriptingEngine.memoryLimit
        collectAbove = ScriptingEngine.memoryLimit / 2
        context.pointee.in_host = 1
        guard let lua = sluice_lua_newstate(context) else { throw .err("Could not create the scripting engine") }
        guard lua_cpcall(lua, sluice_lua_open_libraries, nil) == 0, lua_cpcall(lua, sluice_lua_make_names, nil) == 0,
              registerRedisLibrary(lua), runPrelude(lua) else {
            sluice_lua_close(lua, context)
            throw .err("Could not create the scripting engine")
        }
        sluice_lua_getregistry(lua, "sluice_error_handler")
        errorHandler = sluice_lua_ref(lua)
        sluice_lua_getregistry(lua, "sluice_globals")
        globals = sluice_lua_ref(lua)
        lua_settop(lua, 0)
        self.lua = lua
        return lua
    }

    private func runPrelude(_ lua: OpaquePointer) -> Bool {
        let loaded = luaPrelude.utf8CString.withUnsafeBufferPointer {
            luaL_loadbuffer(lua, $0.baseAddress, $0.count - 1, "=sluice_prelude")
        }
        guard loaded == 0 else { return false }
        let version = ServerContext.redisCompatibilityVersion
        lua_pushstring(lua, version)
        let parts = version.split(separator: ".").compactMap { Int($0) }
        lua_pushnumber(lua, Double(parts.reduce(0) { $0 << 8 | $1 }))
        return lua_pcall(lua, 2, 0, 0) == 0
    }

    /// Compiles a script as Redis 7 does: chunk name `@user_script`, shebang line kept
    /// out of the code but counted in line numbers; kept in the registry by reference.
    @discardableResult
    private func compile(_ body: [UInt8], digest: ScriptDigest, in lua: OpaquePointer) throws(CommandError) -> (flags: ScriptFlags, function: Int32) {
        let (flags, codeStart) = try ScriptFlags.parse(body)
        // Lua 5.1 would load a body starting with ESC as bytecode, which it does not
        // verify: refused with the error Redis's Lua gives, which reads only source.
        if codeStart < body.count && body[codeStart] == 27 {
            throw .err("Error compiling script (new function): user_script:1: unexpected symbol near 'char(27)'")
        }
        let status = body.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) {
                luaL_loadbuffer(lua, $0.baseAddress.map { $0 + codeStart }, $0.count - codeStart, "@user_script")
            }
        }
        guard status == 0 else {
            let message = luaString(lua, at: -1) ?? "unknown error"
            lua_settop(lua, 0)
            throw .err("Error compiling script (new function): \(message)")
        }
        let compiled = (flags: flags, function: sluice_lua_ref(lua))
        scripts[digest] = compiled
        return compiled
    }

    /// KEYS or ARGV for the next script, set past the read-only globals (in the table
    /// the prelude keeps them in).
    private func setGlobalArray(_ name: Int, _ words: Range<Int>, of command: Arguments, in lua: OpaquePointer) {
        sluice_lua_getref(lua, globals)
        sluice_lua_push_name(lua, Int32(name))
        lua_createtable(lua, Int32(words.count), 0)
        for (offset, index) in words.enumerated() {
            command.withWord(index) { word in
                if let start = word.baseAddress, word.count > 0 {
                    lua_pushlstring(lua, start.assumingMemoryBound(to: CChar.self), word.count)
                } else {
                    lua_pushlstring(lua, "", 0)
                }
            }
            lua_rawseti(lua, -2, Int32(offset + 1))
        }
        lua_rawset(lua, -3)
        sluice_lua_pop(lua, 1)
    }

    /// The reply for a failed script, from the error handler's table:
    /// `<text> script: <sha>, on @user_script:<line>.`
    private func errorText(in lua: OpaquePointer, sha: String) -> String {
        guard lua_type(lua, -1) == LUA_TTABLE else {
            let message = luaString(lua, at: -1) ?? "execution failure"
            return "ERR Error running script \(sha), \(message.prefix(100))"
        }
        var text = "ERR unknown error"
        rawField(lua, -1, SLUICE_LUA_NAME_ERR)
        if lua_type(lua, -1) == LUA_TSTRING || lua_type(lua, -1) == LUA_TNUMBER, let message = luaString(lua, at: -1) {
            // Redis formats the text as a C string inside its own line: up to a NUL.
            text = cString(message)
        }
        rawField(lua, -2, SLUICE_LUA_NAME_SOURCE)
        rawField(lua, -3, SLUICE_LUA_NAME_LINE)
        if lua_type(lua, -2) == LUA_TSTRING, lua_type(lua, -1) == LUA_TNUMBER, let source = luaString(lua, at: -2) {
            text += " script: \(sha), on \(source):\(Int(lua_tonumber(lua, -1)))."
        }
        sluice_lua_pop(lua, 3)
        return text
    }
}

/// The flags a script may declare on a first line such as `#!lua flags=no-writes`.
struct ScriptFlags {
    /// Redis 7's `no-writes`: the script runs as with EVAL_RO.
    var noWrites = false
    /// `allow-oom`: runs and writes over `maxmemory`.
    var allowOOM = false
    /// The script has a shebang line, so Redis 7 judges it by its flags before it runs.
    var declared = false

    static let known: Set<String> = ["no-writes", "allow-oom", "allow-stale", "no-cluster", "allow-cross-slot-keys"]

    /// The flags, and where the code starts (at the shebang's line end, so line numbers
    /// stay right). Redis's errors for a malformed shebang.
    static func parse(_ body: [UInt8]) throws(CommandError) -> (ScriptFlags, Int) {
        guard body.starts(with: "#!".utf8) else { return (ScriptFlags(), 0) }
        guard let lineEnd = body.firstIndex(of: UInt8(ascii: "\n")) else { throw .err("Invalid script shebang") }
        // Split as Redis splits it, with sdssplitargs (RESPInlineSplitter's rules).
        guard let words = body[..<lineEnd].withUnsafeBytes(RESPInlineSplitter.split)?.map({ String(decoding: $0, as: UTF8.self) })
        else { throw .err("Invalid script shebang") }
        guard let engine = words.first, engine == "#!lua" else {
            throw .err("Unexpected engine in script shebang: \(words.first ?? "")")
        }
        var flags = ScriptFlags()
        flags.declared = true
        for word in words.dropFirst() {
            guard word.hasPrefix("flags=") else { throw .err("Unknown lua shebang option: \(word)") }
            // An empty flag (a trailing comma) is unknown, as in Redis; "flags=" alone is none.
            let list = word.dropFirst("flags=".count)
            for flag in list.isEmpty ? [] : list.split(separator: ",", omittingEmptySubsequences: false).map(String.init) {
                guard known.contains(flag) else { throw .err("Unexpected flag in script shebang: \(flag)") }
                if flag == "no-writes" { flags.noWrites = true }
                if flag == "allow-oom" { flags.allowOOM = true }
            }
        }
        return (flags, lineEnd)
    }
}
