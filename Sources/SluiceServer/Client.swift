import RESP
import SluiceCore

/// One connection's state.
///
/// Owned by the connection's event loop; fields are written only while the
/// database lock is held, so `CLIENT LIST` on another thread (also under the
/// lock) reads a consistent record. The exception, with a sharded keyspace: a
/// command run on its shard alone sets `lastCommand` and `lastInteraction` under
/// that shard's lock only; each is one word, and the commands a `lastCommand` may
/// point to live as long as the server, so `CLIENT LIST` reads the old value or the new.
final class Client: @unchecked Sendable {
    let id: Int64
    let address: String
    let localAddress: String
    let createdAt: Instant

    var protocolVersion: RESPVersion = .resp2
    var name: [UInt8]?
    var libraryName: String?
    var libraryVersion: String?
    /// Not retained, as the command table keeps its specs while the server runs: setting
    /// it on every command then costs no reference counting.
    unowned(unsafe) var lastCommand: CommandSpec?
    var lastInteraction: Instant
    /// Set by `QUIT`: reply, flush, then close.
    var closeAfterReply = false
    /// False until `AUTH` or `HELLO AUTH` succeeds, when a password is required.
    var authenticated = true
    var transaction = Transaction()
    /// Set by MULTI/EXEC and scripts while they run commands: blocking commands then
    /// answer at once, as if their timeout had passed (Redis's rule).
    var denyBlocking = false
    /// The command this client waits in (Blocking.swift); its later commands wait too.
    var blockedRequest: BlockedRequest?
    /// Set by `SHUTDOWN`: the connection closes with no reply, as Redis's does when it exits.
    var closesSilently = false
    /// Hands a parked client's late reply to its connection, from any thread; set on
    /// connect, cleared on disconnect.
    var resume: (@Sendable (RESPValue) -> Void)?
    /// The rates of this connection's last `ACQUIRE`, reused while they repeat.
    var lastAcquireRates: AcquireRates?

    init(id: Int64, address: String, localAddress: String, createdAt: Instant) {
        self.id = id
        self.address = address
        self.localAddress = localAddress
        self.createdAt = createdAt
        self.lastInteraction = createdAt
    }

    /// The `CLIENT LIST` / `CLIENT INFO` line, in Redis's field order for the fields Sluice has.
    func infoLine(now: Instant) -> String {
        let age = (now.nanoseconds - createdAt.nanoseconds) / 1_000_000_000
        let idle = (now.nanoseconds - lastInteraction.nanoseconds) / 1_000_000_000
        let nameText = name.map { String(decoding: $0, as: UTF8.self) } ?? ""
        return "id=\(id) addr=\(address) laddr=\(localAddress) fd=-1 name=\(nameText) age=\(max(age, 0)) idle=\(max(idle, 0)) flags=\(transaction.isQueuing ? "x" : blockedRequest != nil ? "b" : "N") db=0 sub=0 psub=0 ssub=0 multi=\(transaction.queuedCount) watch=\(transaction.watchedCount) qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=\(lastCommand?.name ?? "NULL") user=default redir=-1 resp=\(protocolVersion.rawValue) lib-name=\(libraryName ?? "") lib-ver=\(libraryVersion ?? "")"
    }
}
