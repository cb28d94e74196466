import CEpoll
import Dispatch
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An event loop of Sluice's own for plain-text connections (`PlainChannel`): one thread
/// that waits in `epoll_wait`, reads each ready connection once, then runs the tasks and
/// timers that are due. NIO's socket channels spent about 3,400 instructions and 35
/// atomic reference-count pairs per read on the way to the handler (callgrind, `GET` at
/// `-P 1`; Redis's whole request took 4,000). This loop hands the bytes to the same
/// pipeline and `ConnectionHandler`, so timers, futures and `NIOLoopBound` work as on
/// NIO's loops. TLS connections stay on NIO's loops, behind NIO's TLS handler.
final class PlainEventLoop: EventLoop, @unchecked Sendable {
    // @unchecked: `shared` is behind its mutex; every other mutable property is touched
    // only on the loop's thread (`thread` only by `init` and `stop`).

    private let epoll: CInt
    /// Written by other threads to wake the loop for their tasks (an eventfd).
    private let wakeup: CInt
    /// The loop thread's `pthread_self()`; 0 until it runs.
    private let threadID = Atomic<UInt>(0)
    private var thread = pthread_t()
    private let shared = Mutex(Shared())

    private struct Shared {
        /// Tasks other threads submitted, run in the next tick.
        var tasks: [@Sendable () -> Void] = []
        var stopping = false
        /// Set when the thread has ended: later tasks are dropped, as NIO's loops drop
        /// them once shut down (using a stopped loop is a bug of its caller).
        var stopped = false
    }

    /// Tasks submitted on the loop's own thread.
    private var local: [() -> Void] = []
    /// Emptied task arrays, kept so that a tick allocates nothing.
    private var spareLocal: [() -> Void] = []
    private var spareShared: [@Sendable () -> Void] = []
    private var timers = TimerHeap()
    private var nextSequence: UInt64 = 0
    /// The open channels, so that an event for one always finds it alive.
    private var channels: [ObjectIdentifier: PlainChannel] = [:]
    /// One read buffer for all the loop's connections: each read is handed to the handler,
    /// which keeps only what it has not decoded, so the buffer is free again after it.
    var readBuffer = ByteBufferAllocator().buffer(capacity: PlainEventLoop.readSize)

    /// At most this much is read from one connection per tick, as NIO's channels were
    /// set to and Redis reads one buffer per client per iteration (fairness).
    static let readSize = 64 * 1024

    /// Events taken from the kernel per `epoll_wait`.
    private static let eventCapacity = 256

    /// `data` of the wake-up descriptor's epoll events; channels use their address.
    private static let wakeupToken: UInt64 = 0

    /// The thread's name, as `ps -T` shows it.
    private let name: String

    /// Starts the loop's thread, called `name`.
    init(name: String) throws {
        self.name = name
        epoll = epoll_create1(CInt(EPOLL_CLOEXEC))
        guard epoll >= 0 else { throw IOError(errnoCode: errno, reason: "epoll_create1") }
        wakeup = eventfd(0, CInt(EFD_CLOEXEC) | CInt(EFD_NONBLOCK))
        guard wakeup >= 0 else {
            let code = errno
            Glibc.close(epoll)
            throw IOError(errnoCode: code, reason: "eventfd")
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.u64 = Self.wakeupToken
        guard epoll_ctl(epoll, EPOLL_CTL_ADD, wakeup, &event) == 0 else {
            let code = errno
            Glibc.close(wakeup)
            Glibc.close(epoll)
            throw IOError(errnoCode: code, reason: "epoll_ctl")
        }
        let result = pthread_create(&thread, nil, { argument in
            let loop = Unmanaged<PlainEventLoop>.fromOpaque(argument!).takeRetainedValue()
            loop.run()
            return nil
        }, Unmanaged.passRetained(self).toOpaque())
        precondition(result == 0, "cannot start an event loop thread: error \(result)")
    }

    // MARK: EventLoop

    var inEventLoop: Bool {
        threadID.load(ordering: .relaxed) == UInt(pthread_self())
    }

    func execute(_ task: @escaping @Sendable () -> Void) {
        if inEventLoop {
            local.append(task)
            return
        }
        let first = shared.withLock { shared -> Bool in
            guard !shared.stopped else { return false }
            shared.tasks.append(task)
            return shared.tasks.count == 1
        }
        // A queue that was not empty has woken the loop already.
        if first { wake() }
    }

    func _executeIsolatedUnsafeUnchecked(_ task: @escaping () -> Void) {
        local.append(task)
    }

    @discardableResult
    func scheduleTask<T>(deadline: NIODeadline, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        let promise = makePromise(of: T.self)
        let timer = Timer(deadline: deadline.uptimeNanoseconds) {
            // Runs on the loop, where the promise is completed.
            do { promise.assumeIsolatedUnsafeUnchecked().succeed(try task()) } catch { promise.fail(error) }
        } abandon: {
            promise.fail(EventLoopError.shutdown)
        }
        let schedule = { @Sendable in self.insert(timer) }
        if inEventLoop { schedule() } else { execute(schedule) }
        return Scheduled(promise: promise) {
            let cancel = { @Sendable in self.timers.remove(timer) }
            if self.inEventLoop { cancel() } else { self.execute(cancel) }
        }
    }

    @discardableResult
    func scheduleTask<T>(in delay: TimeAmount, _ task: @escaping @Sendable () throws -> T) -> Scheduled<T> {
        scheduleTask(deadline: .now() + delay, task)
    }

    func shutdownGracefully(queue: DispatchQueue, _ callback: @escaping @Sendable (Error?) -> Void) {
        DispatchQueue.global().async {
            self.stop()
            queue.async { callback(nil) }
        }
    }

    func next() -> EventLoop { self }

    func any() -> EventLoop { self }

    func makeIterator() -> EventLoopIterator { EventLoopIterator([self]) }

    // MARK: Channels

    /// Watches `channel`'s descriptor for reads (on the loop). False, with errno set, if
    /// the kernel refuses.
    func register(_ channel: PlainChannel) -> Bool {
        guard watch(channel, EPOLL_CTL_ADD, writable: false) else { return false }
        channels[ObjectIdentifier(channel)] = channel
        return true
    }

    /// Also watches for room to write while `channel` has writes the socket did not take.
    func watchWritable(_ channel: PlainChannel, _ writable: Bool) {
        _ = watch(channel, EPOLL_CTL_MOD, writable: writable)
    }

    /// Reads, and writes if asked, of `channel`'s descriptor, reported with its address.
    private func watch(_ channel: PlainChannel, _ operation: CInt, writable: Bool) -> Bool {
        var event = epoll_event()
        event.events = EPOLLIN.rawValue | (writable ? EPOLLOUT.rawValue : 0)
        event.data.u64 = UInt64(UInt(bitPattern: Unmanaged.passUnretained(channel).toOpaque()))
        return epoll_ctl(epoll, operation, channel.descriptor, &event) == 0
    }

    /// Stops watching a channel about to close its descriptor. It stays referenced until
    /// the tick's tasks run, as the events already taken may still name it.
    func unregister(_ channel: PlainChannel) {
        _ = epoll_ctl(epoll, EPOLL_CTL_DEL, channel.descriptor, nil)
        local.append { self.channels[ObjectIdentifier(channel)] = nil }
    }

    // MARK: The loop

    /// Ends the loop once its queued tasks have run, failing the timers not yet due;
    /// returns when its thread has. Close the channels first. Call once, off the loop.
    func stop() {
        precondition(!inEventLoop, "an event loop cannot wait for itself to stop")
        shared.withLock { $0.stopping = true }
        wake()
        pthread_join(thread, nil)
        Glibc.close(wakeup)
        Glibc.close(epoll)
    }

    private func wake() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeup, &one, MemoryLayout<UInt64>.size)
    }

    private func insert(_ timer: Timer) {
        timer.sequence = nextSequence
        nextSequence &+= 1
        timers.insert(timer)
    }

    private func run() {
        threadID.store(UInt(pthread_self()), ordering: .relaxed)
        sluice_name_thread(name)
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: Self.eventCapacity)
        defer { events.deallocate() }
        while true {
            let count = epoll_wait(epoll, events, CInt(Self.eventCapacity), waitMilliseconds())
            for index in 0..<max(Int(count), 0) {
                let event = events[index]
                if event.data.u64 == Self.wakeupToken {
                    var value: UInt64 = 0
                    _ = Glibc.read(wakeup, &value, MemoryLayout<UInt64>.size)
                    continue
                }
                // `channels` holds it for at least this tick.
                let channel = Unmanaged<PlainChannel>.fromOpaque(UnsafeRawPointer(bitPattern: UInt(event.data.u64))!)
                channel._withUnsafeGuaranteedRef { $0.ready(event.events) }
            }
            let stopping = runTasks()
            runTimers()
            if stopping {
                // Tasks the last ones queued, then nothing more.
                while let timer = timers.popFirst() { timer.abandon() }
                while !local.isEmpty || shared.withLock({ !$0.tasks.isEmpty }) { _ = runTasks() }
                shared.withLock { $0.stopped = true }
                // What was queued between the last look and `stopped`.
                _ = runTasks()
                return
            }
        }
    }

    /// No wait while tasks are queued; otherwise until the next timer (rounded up to a
    /// millisecond), or a wake-up.
    private func waitMilliseconds() -> CInt {
        if !local.isEmpty { return 0 }
        guard let first = timers.first else { return -1 }
        let now = NIODeadline.now().uptimeNanoseconds
        guard first.deadline > now else { return 0 }
        return CInt(min((first.deadline - now + 999_999) / 1_000_000, UInt64(CInt.max)))
    }

    /// Runs the tasks other threads queued, then those queued on the loop before this
    /// call; those they queue wait for the next tick. Returns whether `stop` was asked.
    private func runTasks() -> Bool {
        var incoming = spareShared
        let stopping = shared.withLock { shared -> Bool in
            swap(&shared.tasks, &incoming)
            return shared.stopping
        }
        for task in incoming { task() }
        incoming.removeAll(keepingCapacity: true)
        spareShared = incoming
        if !local.isEmpty {
            var tasks = spareLocal
            swap(&tasks, &local)
            for task in tasks { task() }
            tasks.removeAll(keepingCapacity: true)
            spareLocal = tasks
        }
        return stopping
    }

    private func runTimers() {
        guard let first = timers.first else { return }
        let now = NIODeadline.now().uptimeNanoseconds
        guard first.deadline <= now else { return }
        while let timer = timers.first, timer.deadline <= now {
            _ = timers.popFirst()
            timer.run()
        }
    }
}

/// A scheduled task of a `PlainEventLoop`, with its place in the loop's heap so that a
/// cancelled one is removed at once rather than kept until its deadline.
private final class Timer: @unchecked Sendable {
    // @unchecked: created anywhere, then touched only on its loop.
    let deadline: UInt64
    var sequence: UInt64 = 0
    /// Its index in the heap; -1 once out of it.
    var index = -1
    let run: () -> Void
    let abandon: () -> Void

    init(deadline: UInt64, run: @escaping () -> Void, abandon: @escaping () -> Void) {
        self.deadline = deadline
        self.run = run
        self.abandon = abandon
    }

    /// Earlier deadline first; among equal deadlines, the one scheduled first.
    func precedes(_ other: Timer) -> Bool {
        deadline != other.deadline ? deadline < other.deadline : sequence < other.sequence
    }
}

/// A binary min-heap of timers that can remove any of them.
private struct TimerHeap {
    private var items: [Timer] = []

    var first: Timer? { items.first }

    mutating func insert(_ timer: Timer) {
        timer.index = items.count
        items.append(timer)
        siftUp(timer.index)
    }

    mutating func popFirst() -> Timer? {
        guard let first = items.first else { return nil }
        remove(first)
        return first
    }

    /// Removes `timer` if it is still in the heap.
    mutating func remove(_ timer: Timer) {
        let index = timer.index
        guard index >= 0, index < items.count, items[index] === timer else { return }
        timer.index = -1
        let last = items.removeLast()
        guard index < items.count else { return }
        items[index] = last
        last.index = index
        siftUp(index)
        siftDown(last.index)
    }

    private mutating func siftUp(_ start: Int) {
        var index = start
        while index > 0 {
            let parent = (index - 1) / 2
            guard items[index].precedes(items[parent]) else { return }
            swapAt(index, parent)
            index = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var index = start
        while true {
            let left = 2 * index + 1
            guard left < items.count else { return }
            let right = left + 1
            let child = right < items.count && items[right].precedes(items[left]) ? right : left
            guard items[child].precedes(items[index]) else { return }
            swapAt(index, child)
            index = child
        }
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        items.swapAt(a, b)
        items[a].index = a
        items[b].index = b
    }
}
