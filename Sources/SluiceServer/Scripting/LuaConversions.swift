import CLua
import RESP

// Redis's conversion rules between replies and Lua values, both ways. Everything
// here runs outside any protected call, so it uses only Lua functions that cannot
// raise an error (raw table access, no metamethods, no number-to-text conversion).

/// Deepest table nesting a script's return value may have; deeper tables (such as a
/// table that contains itself) end in an error element, as Redis's stack limit does.
private let maxReplyDepth = 200

func pushBytes(_ bytes: some Collection<UInt8>, in lua: OpaquePointer) {
    let pushed: Bool? = bytes.withContiguousStorageIfAvailable { buffer in
        buffer.withMemoryRebound(to: CChar.self) { lua_pushlstring(lua, $0.baseAddress, $0.count) }
        return true
    }
    if pushed == nil {
        Array(bytes).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { lua_pushlstring(lua, $0.baseAddress, $0.count) }
        }
    }
}

/// The string at `index` (only call for strings, or numbers whose slot may change).
func luaString(_ lua: OpaquePointer, at index: Int32) -> String? {
    luaBytes(lua, at: index).map { String(decoding: $0, as: UTF8.self) }
}

func luaBytes(_ lua: OpaquePointer, at index: Int32) -> [UInt8]? {
    var length = 0
    guard let pointer = lua_tolstring(lua, index, &length) else { return nil }
    return pointer.withMemoryRebound(to: UInt8.self, capacity: length) { Array(UnsafeBufferPointer(start: $0, count: length)) }
}

/// Pushes `table[name]` without metamethods; `name` is one of `SLUICE_LUA_NAME_*`.
func rawField(_ lua: OpaquePointer, _ index: Int32, _ name: Int) {
    let table = index < 0 ? lua_gettop(lua) + index + 1 : index
    sluice_lua_push_name(lua, Int32(name))
    lua_rawget(lua, table)
}

/// Sets `name` (one of `SLUICE_LUA_NAME_*`) in the table on top of the stack to the
/// value pushed by `push`.
private func setField(_ lua: OpaquePointer, _ name: Int, _ push: () -> Void) {
    sluice_lua_push_name(lua, Int32(name))
    push()
    lua_rawset(lua, -3)
}

/// A script's status text as Redis sends it: up to a NUL byte, as Redis formats it as
/// a C string.
func cString(_ text: String) -> String {
    guard let nul = text.utf8.firstIndex(of: 0) else { return text }
    return String(text[..<nul])
}

/// The error text of a script's `{err = ...}` reply as Redis sends it: up to a NUL
/// byte and without line ends at its end (ones elsewhere go out as spaces, as in any
/// error; Redis trims the text with its leading "-", so nothing at the start).
func replyErrorText(_ text: String) -> String {
    var scalars = Substring(cString(text)).unicodeScalars
    while let last = scalars.last, last == "\r" || last == "\n" { scalars.removeLast() }
    return String(scalars)
}

/// `{err = text}`, how Lua sees an error reply: up to a NUL byte, as Redis formats the
/// text as a C string (a status keeps all its bytes, as in Redis).
func pushErrorTable(_ text: String, in lua: OpaquePointer) {
    lua_createtable(lua, 0, 1)
    setField(lua, SLUICE_LUA_NAME_ERR) { pushBytes(cString(text).utf8, in: lua) }
}

/// Pushes a command's reply as Lua sees it: integer -> number, bulk -> string, status
/// -> {ok=...}, error -> {err=...}, array -> table, null -> false. With RESP3
/// (`redis.setresp(3)`) null is nil, booleans are booleans, and doubles, maps, sets,
/// big numbers and verbatim strings are tables as in Redis; with RESP2 they arrive
/// as a RESP2 client would see them.
func pushReply(_ value: RESPValue, resp3: Bool, in lua: OpaquePointer) {
    guard lua_checkstack(lua, 4) != 0 else {
        lua_pushboolean(lua, 0)
        return
    }
    switch value {
    case .simpleString(let text):
        lua_createtable(lua, 0, 1)
        setField(lua, SLUICE_LUA_NAME_OK) { pushBytes(text.utf8, in: lua) }
    case .error(let text):
        pushErrorTable(text, in: lua)
    case .bulkError(let bytes):
        pushErrorTable(String(decoding: bytes, as: UTF8.self), in: lua)
    case .integer(let number):
        lua_pushnumber(lua, Double(number))
    case .bulkString(let bytes):
        pushBytes(bytes, in: lua)
    case .null, .nullArray:
        if resp3 { lua_pushnil(lua) } else { lua_pushboolean(lua, 0) }
    case .array(let elements), .push(let elements):
        pushArray(elements, resp3: resp3, in: lua)
    case .boolean(let flag):
        if resp3 { lua_pushboolean(lua, flag ? 1 : 0) } else { lua_pushnumber(lua, flag ? 1 : 0) }
    case .double(let number):
        if resp3 {
            lua_createtable(lua, 0, 1)
            setField(lua, SLUICE_LUA_NAME_DOUBLE) { lua_pushnumber(lua, number) }
        } else {
            pushBytes(RESPValue.formatDouble(number).utf8, in: lua)
        }
    case .bigNumber(let text):
        if resp3 {
            lua_createtable(lua, 0, 1)
            setField(lua, SLUICE_LUA_NAME_BIG_NUMBER) { pushBytes(text.utf8, in: lua) }
        } else {
            pushBytes(text.utf8, in: lua)
        }
    case .verbatimString(let format, let text):
        if resp3 {
            lua_createtable(lua, 0, 1)
            setField(lua, SLUICE_LUA_NAME_VERBATIM_STRING) {
                lua_createtable(lua, 0, 2)
                setField(lua, SLUICE_LUA_NAME_FORMAT) { pushBytes(format.utf8, in: lua) }
                setField(lua, SLUICE_LUA_NAME_STRING) { pushBytes(text, in: lua) }
            }
        } else {
            pushBytes(text, in: lua)
        }
    case .map(let pairs):
        if resp3 {
            lua_createtable(lua, 0, 1)
            sluice_lua_push_name(lua, Int32(SLUICE_LUA_NAME_MAP))
            lua_createtable(lua, 0, Int32(clamping: pairs.count))
            for pair in pairs {
                pushReply(pair.key, resp3: resp3, in: lua)
                pushReply(pair.value, resp3: resp3, in: lua)
                setUnlessNilKey(lua)
            }
            lua_rawset(lua, -3)
        } else {
            pushArray(pairs.flatMap { [$0.key, $0.value] }, resp3: resp3, in: lua)
        }
    case .set(let elements):
        if resp3 {
            lua_createtable(lua, 0, 1)
            sluice_lua_push_name(lua, Int32(SLUICE_LUA_NAME_SET))
            lua_createtable(lua, 0, Int32(clamping: elements.count))
            for element in elements {
                pushReply(element, resp3: resp3, in: lua)
                lua_pushboolean(lua, 1)
                setUnlessNilKey(lua)
            }
            lua_rawset(lua, -3)
        } else {
            pushArray(elements, resp3: resp3, in: lua)
        }
    case .attribute(_, let attributed):
        pushReply(attributed, resp3: resp3, in: lua)
    }
}

private func pushArray(_ elements: [RESPValue], resp3: Bool, in lua: OpaquePointer) {
    lua_createtable(lua, Int32(clamping: elements.count), 0)
    for (index, element) in elements.enumerated() {
        pushReply(element, resp3: resp3, in: lua)
        lua_rawseti(lua, -2, Int32(clamping: index + 1))
    }
}

/// Key and value are on top of a table; a nil key (RESP3 null) cannot be stored.
private func setUnlessNilKey(_ lua: OpaquePointer) {
    if lua_type(lua, -2) == LUA_TNIL {
        sluice_lua_pop(lua, 2)
    } else {
        lua_rawset(lua, -3)
    }
}

/// A script's return value as a reply: number -> integer (truncated), string -> bulk,
/// true -> 1, false and nil -> null, {err=...} -> error, {ok=...} -> status, other
/// tables -> array up to the first nil; Redis 7's {double=}, {map=}, {set=},
/// {big_number=} and {verbatim_string=} tables too. With `redis.setresp(3)` booleans
/// stay booleans.
func luaReply(_ lua: OpaquePointer, at index: Int32, resp3: Bool, depth: Int = 0, countError: (String) -> Void = { _ in }) -> RESPValue {
    let index = index < 0 ? lua_gettop(lua) + index + 1 : index
    switch lua_type(lua, index) {
    case LUA_TNUMBER:
        return .integer(truncatedInteger(lua_tonumber(lua, index)))
    case LUA_TSTRING:
        return .bulkString(luaBytes(lua, at: index) ?? [])
    case LUA_TBOOLEAN:
        let flag = lua_toboolean(lua, index) != 0
        if resp3 { return .boolean(flag) }
        return flag ? .integer(1) : .null
    case LUA_TTABLE:
        guard depth < maxReplyDepth, lua_checkstack(lua, 4) != 0 else { return .error("ERR reached lua stack limit") }
        return tableReply(lua, at: index, resp3: resp3, depth: depth, countError: countError)
    default:
        return .null
    }
}

private func tableReply(_ lua: OpaquePointer, at index: Int32, resp3: Bool, depth: Int, countError: (String) -> Void) -> RESPValue {
    let base = lua_gettop(lua)
    defer { lua_settop(lua, base) }
    rawField(lua, index, SLUICE_LUA_NAME_ERR)
    if lua_type(lua, -1) == LUA_TSTRING {
        let text = replyErrorText(luaString(lua, at: -1) ?? "")
        // A called command's error was counted where it arose (see ScriptRun.failed).
        rawField(lua, index, SLUICE_LUA_NAME_IGNORE_ERROR_STATS_UPDATE)
        if lua_toboolean(lua, -1) == 0 { countError(text) }
        return .error(text)
    }
    rawField(lua, index, SLUICE_LUA_NAME_OK)
    if lua_type(lua, -1) == LUA_TSTRING { return .simpleString(cString(luaString(lua, at: -1) ?? "")) }
    rawField(lua, index, SLUICE_LUA_NAME_DOUBLE)
    if lua_type(lua, -1) == LUA_TNUMBER { return .double(lua_tonumber(lua, -1)) }
    rawField(lua, index, SLUICE_LUA_NAME_BIG_NUMBER)
    if lua_type(lua, -1) == LUA_TSTRING { return .bigNumber(luaString(lua, at: -1) ?? "") }
    rawField(lua, index, SLUICE_LUA_NAME_MAP)
    if lua_type(lua, -1) == LUA_TTABLE {
        var pairs: [RESPPair] = []
        forEachEntry(lua, table: lua_gettop(lua)) { key, value in
            pairs.append(RESPPair(luaReply(lua, at: key, resp3: resp3, depth: depth + 1, countError: countError),
                                  luaReply(lua, at: value, resp3: resp3, depth: depth + 1, countError: countError)))
        }
        return .map(pairs)
    }
    rawField(lua, index, SLUICE_LUA_NAME_SET)
    if lua_type(lua, -1) == LUA_TTABLE {
        var elements: [RESPValue] = []
        forEachEntry(lua, table: lua_gettop(lua)) { key, _ in
            elements.append(luaReply(lua, at: key, resp3: resp3, depth: depth + 1, countError: countError))
        }
        return .set(elements)
    }
    rawField(lua, index, SLUICE_LUA_NAME_VERBATIM_STRING)
    if lua_type(lua, -1) == LUA_TTABLE {
        let table = lua_gettop(lua)
        rawField(lua, table, SLUICE_LUA_NAME_FORMAT)
        rawField(lua, table, SLUICE_LUA_NAME_STRING)
        if lua_type(lua, -2) == LUA_TSTRING, lua_type(lua, -1) == LUA_TSTRING {
            return .verbatimString(format: luaString(lua, at: -2) ?? "txt", text: luaBytes(lua, at: -1) ?? [])
        }
    }
    lua_settop(lua, base)
    var elements: [RESPValue] = []
    // A border of the table: its length when it has no holes, so the array is made once
    // rather than grown (three allocations for a four-element reply).
    elements.reserveCapacity(min(lua_objlen(lua, index), 1_024))
    var position: Int32 = 1
    while true {
        lua_rawgeti(lua, index, position)
        if lua_type(lua, -1) == LUA_TNIL { break }
        elements.append(luaReply(lua, at: -1, resp3: resp3, depth: depth + 1, countError: countError))
        lua_settop(lua, base)
        position += 1
    }
    return .array(elements)
}

/// Calls `body` with the stack positions of each key and value of the table at `table`.
private func forEachEntry(_ lua: OpaquePointer, table: Int32, _ body: (Int32, Int32) -> Void) {
    lua_pushnil(lua)
    while lua_next(lua, table) != 0 {
        let top = lua_gettop(lua)
        body(top - 1, top)
        lua_settop(lua, top - 1)
    }
}

/// Lua number to integer reply as Redis's C cast does on x86-64: toward zero, and
/// the smallest integer for NaN and anything out of range.
func truncatedInteger(_ number: Double) -> Int64 {
    guard number.isFinite, number > -9.223_372_036_854_775_808e18, number < 9.223_372_036_854_775_808e18 else { return .min }
    return Int64(number)
}
