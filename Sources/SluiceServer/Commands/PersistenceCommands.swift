import RESP
import SluiceCore

/// SAVE, BGSAVE and LASTSAVE: the snapshot file (`--snapshot`), not Redis's RDB.
enum PersistenceCommands {
    static let specs: [CommandSpec] = [
        CommandSpec("save", arity: 1, flags: ["admin", "noscript", "no_async_loading", "no_multi"], group: "server",
                    summary: "Synchronously saves the database(s) to disk.", handler: save),
        CommandSpec("bgsave", arity: -1, flags: ["admin", "noscript", "no_async_loading"], group: "server",
                    summary: "Asynchronously saves the database(s) to disk.", handler: backgroundSave),
        CommandSpec("shutdown", arity: -1, flags: ["admin", "noscript", "loading", "stale", "no_multi", "allow_busy"],
                    group: "server", summary: "Synchronously saves the database(s) to disk and shuts down the Redis server.",
                    handler: shutdown),
        CommandSpec("lastsave", arity: 1, flags: ["loading", "stale", "fast"], group: "server",
                    summary: "Returns the Unix timestamp of the last successful save to disk.") { invocation, _ throws(CommandError) in
            // Without a snapshot, as Redis without saves: the start time.
            let seconds = invocation.server.persistence?.currentStatus.lastSave ?? invocation.server.startedAt.milliseconds / 1000
            return .integer(seconds)
        },
    ]

    static let notConfigured = CommandError.err("snapshot persistence is not configured (start the server with --snapshot PATH)")

    /// SAVE: writes the file before replying, holding the keyspace meanwhile, as Redis's SAVE blocks.
    private static func save(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        guard let persistence = invocation.server.persistence else { throw notConfigured }
        do throws(PersistenceError) {
            try persistence.save(state.keyspace.copies, now: invocation.now)
        } catch {
            throw .err(error.description)
        }
        return .ok
    }

    /// BGSAVE [SCHEDULE]: collects the keyspace in steps and writes it off the lock. SCHEDULE is
    /// accepted for compatibility; as in Redis, a save under way is still an error.
    private static func backgroundSave(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        if !invocation.arguments.isEmpty {
            guard try invocation.arguments.nextKeyword() == "SCHEDULE" else { throw .syntax }
            try invocation.arguments.finish()
        }
        guard let persistence = invocation.server.persistence else { throw notConfigured }
        guard persistence.saveInBackground(&state.keyspace, now: invocation.now) else {
            throw .err("Background save already in progress")
        }
        return .simpleString("Background saving started")
    }

    /// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] | SHUTDOWN ABORT: stops the server as SIGTERM
    /// does (Server.swift's `shutdown`); `NOW` closes open connections at once. As in
    /// Redis, the client gets no reply: its connection closes as the server stops.
    private static func shutdown(_ invocation: inout Invocation, _ state: inout DatabaseState) throws(CommandError) -> RESPValue {
        var save: Bool?
        var now = false
        var force = false
        var abort = false
        while !invocation.arguments.isEmpty {
            switch try invocation.arguments.nextKeyword() {
            case "NOSAVE" where save != true: save = false
            case "SAVE" where save != false: save = true
            case "NOW": now = true
            case "FORCE": force = true
            case "ABORT": abort = true
            default: throw .syntax
            }
        }
        let server = invocation.server
        if abort {
            guard save == nil && !now && !force else { throw .syntax }
            // A shutdown that has begun closes every connection and cannot be called back.
            throw .err(server.shutdownRequest.isRequested ? "a shutdown in progress cannot be aborted" : "No shutdown in progress.")
        }
        if save == true && server.persistence == nil && !force {
            server.logger.warning("SHUTDOWN SAVE refused: snapshot persistence is not configured (start the server with --snapshot PATH), and FORCE was not given")
            throw .err("Errors trying to SHUTDOWN. Check logs.")
        }
        let options = ShutdownRequest.Options(snapshot: save == false ? .skip : .asConfigured, immediate: now)
        if server.shutdownRequest.request(options) {
            server.logger.info("SHUTDOWN received from \(invocation.client.address), shutting down")
        }
        invocation.client.closesSilently = true
        invocation.client.closeAfterReply = true
        return .ok
    }

    /// INFO's `persistence` section, with Redis's field names for what Sluice has.
    /// `progress` is the background write's collection (`Keyspace.captureCounts`),
    /// nil before and after it.
    static func info(_ server: ServerContext, now: Instant, progress: (collected: Int, total: Int)?) -> [String] {
        let status = server.persistence?.currentStatus
        let lastSave = status?.lastSave ?? server.startedAt.milliseconds / 1000
        let inProgress = status?.inProgress ?? false
        return [
            "loading:0",
            "snapshot_enabled:\(status == nil ? 0 : 1)",
            "rdb_bgsave_in_progress:\(inProgress ? 1 : 0)",
            "rdb_last_save_time:\(lastSave)",
            "rdb_last_bgsave_status:\(status?.lastBackgroundSaveOK ?? true ? "ok" : "err")",
            "rdb_last_bgsave_time_sec:\(status?.lastDurationSeconds ?? -1)",
            "rdb_current_bgsave_time_sec:\(inProgress ? max(0, now.milliseconds / 1000 - status!.startedAt) : -1)",
            "current_save_keys_processed:\(progress?.collected ?? 0)",
            "current_save_keys_total:\(progress?.total ?? 0)",
            "rdb_saves:\(status?.saves ?? 0)",
            "rdb_last_load_keys_expired:\(status?.expiredOnLoad ?? 0)",
            "rdb_last_load_keys_loaded:\(status?.loadedKeys ?? 0)",
            "aof_enabled:0",
        ]
    }
}
