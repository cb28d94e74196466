import CoreMetrics
import Prometheus
import Synchronization

/// One server's metrics: swift-metrics instruments over a swift-prometheus registry of
/// its own. The process-wide `MetricsSystem` is left alone, so that several servers in
/// one process (the tests) keep their numbers apart.
final class ServerMetrics: Sendable {
    /// Upper bounds of `sluice_command_duration_seconds`: commands take microseconds,
    /// far below the library's default buckets, which start at 5ms.
    static let durationBuckets: [Duration] = [
        .microseconds(10), .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500),
        .milliseconds(1), .microseconds(2_500), .milliseconds(5), .milliseconds(10), .milliseconds(50),
        .milliseconds(100), .milliseconds(500), .seconds(1),
    ]

    /// Each family's `# HELP` line.
    static let help: [String: String] = [
        "sluice_connected_clients": "Client connections open now.",
        "sluice_connections_received_total": "Client connections accepted since start.",
        "sluice_rejected_connections_total": "Connections refused because maxclients were connected.",
        "sluice_commands_processed_total": "Commands received, including rejected ones (INFO total_commands_processed).",
        "sluice_commands_total": "Calls per command that passed the checks (INFO commandstats calls).",
        "sluice_command_duration_seconds": "Time charged per command: its equal share of the read burst it arrived in.",
        "sluice_errors_total": "Error replies by prefix (INFO errorstats).",
        "sluice_ratelimit_decisions_total": "Decisions of the native rate-limit commands.",
        "sluice_keys": "Keys in the keyspace, expired ones not yet removed included.",
        "sluice_expiring_keys": "Keys with a time to live.",
        "sluice_expired_keys_total": "Keys removed because their time to live passed.",
        "sluice_keyspace_hits_total": "Key look-ups that found the key.",
        "sluice_keyspace_misses_total": "Key look-ups that did not find the key.",
        "sluice_resident_memory_bytes": "Resident set size of the process (/proc/self/statm).",
        "sluice_used_memory_bytes": "Estimated bytes of the keys and values, which maxmemory limits.",
        "sluice_maxmemory_bytes": "The maxmemory setting; 0: no limit.",
        "sluice_evicted_keys_total": "Keys evicted to get under maxmemory.",
        "sluice_backend_connected_connections": "Backend mode: pooled connections to Redis open now.",
        "sluice_backend_requests_total": "Backend mode: requests sent to Redis, retries included.",
        "sluice_backend_failures_total": "Backend mode: requests Redis could not answer (down or too slow).",
        "sluice_backend_policy_replies_total": "Backend mode: replies given by the failure policy.",
        "sluice_backend_round_trip_seconds_avg": "Backend mode: mean time to write a batch and read its replies.",
        "sluice_backend_round_trip_seconds": "Backend mode: time to write a batch to Redis and read its replies.",
    ]

    let registry = PrometheusCollectorRegistry()
    let factory: any MetricsFactory
    /// The instruments the snapshot's numbers are published to, made on first use.
    private let publisher: Mutex<MetricsPublisher>

    init() {
        let factory = HelpTextMetricsFactory(registry: registry, help: Self.help, durationBuckets: Self.durationBuckets)
        self.factory = factory
        self.publisher = Mutex(MetricsPublisher(factory: factory))
    }

    /// A command's latency histogram; the dispatcher makes one on a command's first call
    /// and keeps it in the command's statistics.
    func durationTimer(command: String) -> CoreMetrics.Timer {
        CoreMetrics.Timer(label: "sluice_command_duration_seconds", dimensions: [("command", command)], factory: factory)
    }

    /// Registers backend mode's round-trip histogram and returns what feeds it, which the
    /// connections' threads call as each batch's replies are read.
    func backendRoundTripObserver() -> @Sendable (Int) -> Void {
        let timer = CoreMetrics.Timer(label: "sluice_backend_round_trip_seconds", factory: factory)
        return { timer.recordNanoseconds(Int64($0)) }
    }

    /// Publishes the snapshot and writes the registry in the text exposition format, both
    /// under one lock, so that two scrapes at once never see a half-published state.
    func exposition(publishing snapshot: MetricsSnapshot) -> String {
        publisher.withLock { publisher in
            publisher.beginRound()
            snapshot.publish(to: &publisher)
            publisher.endRound()
            return registry.emitToString()
        }
    }
}

/// Sets counters and gauges by name and labels, making each instrument once.
struct MetricsPublisher {
    let factory: any MetricsFactory
    private var counters: [String: CoreMetrics.Counter] = [:]
    private var gauges: [String: CoreMetrics.Gauge] = [:]
    /// Counters set in this round; the others' totals were zeroed (`CONFIG RESETSTAT`).
    private var setThisRound: Set<String> = []

    init(factory: any MetricsFactory) {
        self.factory = factory
    }

    mutating func beginRound() {
        setThisRound.removeAll(keepingCapacity: true)
    }

    /// A series the snapshot no longer lists (a command not called, an error not seen
    /// since the reset) reads 0 rather than its old total.
    mutating func endRound() {
        for (key, counter) in counters where !setThisRound.contains(key) { counter.reset() }
    }

    mutating func counter(_ name: String, _ value: Int) {
        counter(name, [], value)
    }

    /// Sets a counter to a running total kept elsewhere.
    mutating func counter(_ name: String, _ labels: [(String, String)], _ value: Int) {
        let key = Self.key(name, labels)
        let counter = counters[key] ?? CoreMetrics.Counter(label: name, dimensions: labels, factory: factory)
        counters[key] = counter
        setThisRound.insert(key)
        counter.reset()
        counter.increment(by: Int64(value))
    }

    mutating func gauge(_ name: String, _ value: Int) {
        gauge(name, Double(value))
    }

    mutating func gauge(_ name: String, _ value: Double) {
        let gauge = gauges[name] ?? CoreMetrics.Gauge(label: name, factory: factory)
        gauges[name] = gauge
        gauge.record(value)
    }

    private static func key(_ name: String, _ labels: [(String, String)]) -> String {
        labels.reduce(name) { "\($0)\u{0}\($1.0)=\($1.1)" }
    }
}

/// swift-prometheus's own factory registers every metric without a help text; this one
/// passes each family's `# HELP` and the duration buckets to the registry.
struct HelpTextMetricsFactory: MetricsFactory {
    let registry: PrometheusCollectorRegistry
    let help: [String: String]
    let durationBuckets: [Duration]

    private func descriptor(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: help[label] ?? "")
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(descriptor: descriptor(label), labels: dimensions) }
        return registry.makeValueHistogram(descriptor: descriptor(label), labels: dimensions, buckets: [])
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions, buckets: durationBuckets)
    }

    func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
        if let histogram = handler as? ValueHistogram { registry.unregisterValueHistogram(histogram) }
    }

    func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? DurationHistogram { registry.unregisterDurationHistogram(histogram) }
    }
}
