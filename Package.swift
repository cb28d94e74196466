// swift-tools-version:6.0
import PackageDescription

/// Release builds skip Swift's run-time exclusivity checks: they cost a thread-local
/// look-up on every access to a class's stored property, and the server touches
/// connection state once per command. Debug builds (and so the tests) keep them.
let releaseSettings: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "sluice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sluice-server", targets: ["sluice-server"]),
        .library(name: "RESP", targets: ["RESP"]),
        .library(name: "SluiceCore", targets: ["SluiceCore"]),
        .library(name: "SluiceServer", targets: ["SluiceServer"]),
        .library(name: "SluiceRedisBackend", targets: ["SluiceRedisBackend"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // RESP2/RESP3 values, decoders and encoder; knows nothing of commands.
        .target(
            name: "RESP",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: releaseSettings
        ),
        // Clock, keyspace with expiry and the rate-limit algorithms; no networking.
        .target(name: "SluiceCore", dependencies: ["CPrefetch"], swiftSettings: releaseSettings),
        // A CPU prefetch hint and glibc's mallopt, which Swift cannot spell.
        .target(name: "CPrefetch"),
        // printf of a long double without Swift's CVarArg boxing, for INCRBYFLOAT.
        .target(name: "CFloatText"),
        // epoll and eventfd, for the plain-text event loop; headers only.
        .systemLibrary(name: "CEpoll"),
        // Debian's Lua 5.1 with lua-cjson and Lua BitOp, for EVAL; only wraps the C libraries.
        .systemLibrary(
            name: "CLua",
            pkgConfig: "lua5.1",
            providers: [.apt(["liblua5.1-0-dev", "lua-cjson-dev", "lua-bitop-dev"])]
        ),
        // NIO listener, connection state, command table and command families.
        .target(
            name: "SluiceServer",
            dependencies: [
                "RESP",
                "SluiceCore",
                "CLua",
                "CEpoll",
                "CFloatText",
                "SluiceRedisBackend",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                // Only the TLS port's connections use it (TLS.swift).
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // `/metrics`: swift-metrics instruments over a swift-prometheus registry (Metrics.swift).
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: releaseSettings
        ),
        // hiredis from the system (Debian's libhiredis-dev); only SluiceRedisBackend uses it.
        // No pkgConfig: hiredis.pc's only flag is -D_FILE_OFFSET_BITS=64, which SwiftPM
        // refuses with a warning on every build, and the headers are in /usr/include.
        .systemLibrary(
            name: "CHiredis",
            providers: [.apt(["libhiredis-dev"]), .brew(["hiredis"])]
        ),
        // The lua/ scripts, embedded at build time (lua/ stays their single source).
        .target(name: "SluiceLuaScripts"),
        // Backend mode's client: a pool of pipelined hiredis connections on their own threads.
        .target(
            name: "SluiceRedisBackend",
            dependencies: ["CHiredis", "SluiceLuaScripts", "RESP", "SluiceCore", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: releaseSettings
        ),
        .executableTarget(
            name: "sluice-server",
            dependencies: [
                "SluiceServer",
                "SluiceRedisBackend",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // The seeded generator the randomized tests share, so a failing sequence replays.
        .target(name: "SeededRandom", path: "Tests/SeededRandom"),
        .testTarget(name: "RESPTests", dependencies: ["RESP", "SeededRandom"]),
        .testTarget(name: "SluiceCoreTests", dependencies: ["SluiceCore", "SeededRandom"]),
        // A throwaway redis-server for the test targets that need one.
        .target(name: "RedisTestSupport", path: "Tests/RedisTestSupport"),
        .testTarget(name: "SluiceRedisBackendTests", dependencies: ["SluiceRedisBackend", "CHiredis", "SluiceCore", "RESP", "RedisTestSupport", "SeededRandom", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(
            name: "SluiceServerTests",
            dependencies: [
                "SluiceServer",
                "RedisTestSupport",
                "SeededRandom",
                "RESP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)
