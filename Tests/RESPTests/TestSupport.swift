import NIOCore
import RESP

/// One value with its exact wire form, for decoding and encoding tables.
struct Frame: Sendable, CustomStringConvertible {
    var wire: String
    var value: RESPValue

    init(_ wire: String, _ value: RESPValue) {
        self.wire = wire
        self.value = value
    }

    var description: String {
        self.wire.debugDescription
    }
}

/// The bytes `value` encodes to for `version`, as text.
func encoded(_ value: RESPValue, _ version: RESPVersion) -> String {
    var buffer = ByteBuffer()
    buffer.writeRESPValue(value, version: version)
    return String(buffer: buffer)
}

/// Every whole value in `bytes`, in order, with the bytes left over.
func decodeValues(
    _ bytes: ByteBuffer,
    decoder: RESPValueDecoder = RESPValueDecoder()
) throws(RESPProtocolError) -> (values: [RESPValue], rest: Int) {
    var buffer = bytes
    var values: [RESPValue] = []
    while let value = try decoder.decode(&buffer) {
        values.append(value)
    }
    return (values, buffer.readableBytes)
}

/// The single value `wire` decodes to, or nil when it is incomplete.
func decodeValue(_ wire: String, limits: RESPLimits = RESPLimits()) throws(RESPProtocolError) -> RESPValue? {
    var buffer = ByteBuffer(string: wire)
    return try RESPValueDecoder(limits: limits).decode(&buffer)
}

/// Every complete command in `wire`, arguments as text.
func decodeCommands(_ wire: String, limits: RESPLimits = RESPLimits()) throws(RESPProtocolError) -> [[String]] {
    var buffer = ByteBuffer(string: wire)
    var decoder = RESPRequestDecoder(limits: limits)
    var commands: [[String]] = []
    while let arguments = try decoder.decode(&buffer) {
        commands.append(arguments.map { String(decoding: $0, as: UTF8.self) })
    }
    return commands
}
