/// Why a backend request produced no reply to use.
public enum BackendError: Error, Hashable, Sendable, CustomStringConvertible {
    /// No connection to Redis (refused, closed, reconnect backoff, shut down); the reason says which.
    case unavailable(String)
    /// Redis did not answer within the configured timeout (the connection is then reset).
    case timeout
    /// Redis answered with an error, e.g. `WRONGTYPE ...` or a script's `ERR capacity must be ...`;
    /// the text is Redis's, without the leading `-`.
    case replyError(String)

    public var description: String {
        switch self {
        case .unavailable(let reason): "backend unavailable: \(reason)"
        case .timeout: "backend unavailable: timed out"
        case .replyError(let text): text
        }
    }

    /// True for `unavailable` and `timeout`: the backend could not decide, so the failure policy applies.
    public var isBackendFailure: Bool {
        if case .replyError = self { return false }
        return true
    }
}
