import NIOCore
import Synchronization

/// One object per event loop, made the first time a connection on that loop asks.
final class PerEventLoop<Value: AnyObject & Sendable>: Sendable {
    private let values = Mutex<[ObjectIdentifier: Value]>([:])

    /// `eventLoop`'s object; `make` gets the loop and how many loops already have one.
    /// Ask once per connection: this takes a lock.
    func value(for eventLoop: any EventLoop, make: (any EventLoop, Int) -> Value) -> Value {
        values.withLock { values in
            if let value = values[ObjectIdentifier(eventLoop)] { return value }
            let value = make(eventLoop, values.count)
            values[ObjectIdentifier(eventLoop)] = value
            return value
        }
    }
}
