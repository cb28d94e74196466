/// A collection's contents in a heap object of their own, copied on write as an array's
/// are: the key's value holds one reference, and a command changes the contents in
/// place. Boxed in the value instead (`indirect`), every change allocated a new box.
struct CopiedOnWrite<Contents>: @unchecked Sendable {
    // Sendable as a value is: the object is shared only until a change copies it.
    private final class Box {
        var contents: Contents
        init(_ contents: Contents) { self.contents = contents }
    }

    private var box: Box

    init(_ contents: Contents) { box = Box(contents) }

    /// What the heap object takes, for the keyspace's memory estimate.
    static var heapBytes: Int { MemoryEstimate.box(Contents.self) }

    /// The contents, read in place.
    var contents: Contents {
        _read { yield box.contents }
    }

    /// Changes the contents, after copying them if another value shares them.
    @inline(__always)
    mutating func modify<R, E: Error>(_ body: (inout Contents) throws(E) -> R) throws(E) -> R {
        if !isKnownUniquelyReferenced(&box) { box = Box(box.contents) }
        return try body(&box.contents)
    }
}
