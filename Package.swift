// swift-tools-version:6.2
import PackageDescription

// Tenure: privileged identity lifecycle. Targets are listed in data-flow order:
// C shims → LDAP client → pure core → configuration → directory source → CLI.
// The store, vault, engine and API modules join in later issues between
// `DirectorySource` and `tenure`.

let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let yams: Target.Dependency = .product(name: "Yams", package: "Yams")
let grdb: Target.Dependency = .product(name: "GRDB", package: "GRDB.swift")

let package = Package(
    name: "tenure",
    platforms: [.macOS(.v15)],  // Linux is the target; macOS only for local development
    products: [
        .executable(name: "tenure", targets: ["tenure"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // MARK: - C libraries (from the system, through pkg-config)
        .systemLibrary(name: "CLDAP", pkgConfig: "ldap", providers: [.apt(["libldap-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        // MARK: - 1. LDAP client (knows nothing of identities)
        .target(name: "LDAPClient", dependencies: ["CLDAP", logging]),

        // MARK: - 2. Pure core: snapshot model, group closure, disabled rules (no I/O)
        .target(name: "TenureCore"),

        // MARK: - 3. Configuration (YAML + environment, located errors, redaction)
        .target(name: "TenureConfig", dependencies: ["TenureCore", "LDAPClient", yams]),

        // MARK: - 4. Directory source: configuration + LDAP client → complete snapshot
        .target(name: "DirectorySource", dependencies: ["LDAPClient", "TenureCore", "TenureConfig", logging]),

        // MARK: - 5. Crypto over libcrypto (SHA-256, HMAC-SHA256, random bytes)
        .target(name: "TenureCrypto", dependencies: ["COpenSSL"]),

        // MARK: - Vault: envelope encryption of credentials (AES-256-GCM over libcrypto)
        .target(name: "TenureVault", dependencies: ["COpenSSL", "TenureCrypto"]),

        // MARK: - 6. The PIM store: SQLite through GRDB (behind the PIMStore protocol), audit chain
        .target(
            name: "TenureStore",
            dependencies: ["TenureCore", "TenureCrypto", grdb, .product(name: "GRDBSQLite", package: "GRDB.swift")]
        ),

        // MARK: - SCIM 2.0 for HR pushes: User resources, filters, PATCH, discovery (pure; no store)
        .target(name: "TenureSCIM", dependencies: ["TenureCore"]),

        // MARK: - 7. Engine: pull + plan + journaled apply
        .target(
            name: "TenureEngine",
            dependencies: [
                "DirectorySource", "LDAPClient", "TenureConfig", "TenureCore", "TenureCrypto", "TenureStore",
                "TenureVault", logging,
            ]
        ),

        // MARK: - Access decisions: AuthZEN evaluation and activation policy over the PIM model (pure)
        .target(name: "TenureAccess", dependencies: ["TenureCore"]),

        // MARK: - The API server and the daemon (Hummingbird, ServiceLifecycle, Prometheus)
        .target(
            name: "TenureServer",
            dependencies: [
                "DirectorySource", "LDAPClient", "TenureAccess", "TenureConfig", "TenureCore", "TenureCrypto",
                "TenureEngine", "TenureSCIM", "TenureStore", "TenureVault", logging,
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Resources/openapi.json")]
        ),

        // MARK: - CLI
        .executableTarget(
            name: "tenure",
            dependencies: [
                "DirectorySource", "LDAPClient", "TenureAccess", "TenureConfig", "TenureCore", "TenureCrypto",
                "TenureEngine", "TenureServer", "TenureStore", "TenureVault", argumentParser, logging,
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),

        // MARK: - Benchmarks (Benchmarks/*.sh run it; not shipped)
        .executableTarget(
            name: "tenure-bench",
            dependencies: ["TenureCore", "TenureCrypto", "TenureEngine", "TenureStore", argumentParser],
            path: "Benchmarks/Sources/tenure-bench"
        ),

        // MARK: - Tests
        // A throwaway slapd for the integration and CLI tests (scripts/slapd-test-server.sh).
        .target(name: "SlapdFixture", path: "Tests/SlapdFixture"),
        .testTarget(name: "LDAPClientTests", dependencies: ["LDAPClient"]),
        .testTarget(name: "TenureCoreTests", dependencies: ["TenureCore"]),
        .testTarget(name: "TenureConfigTests", dependencies: ["TenureConfig", "TenureCore", "LDAPClient"]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["DirectorySource", "LDAPClient", "SlapdFixture", "TenureConfig", "TenureCore", logging]
        ),
        .testTarget(
            name: "TenureCLITests",
            dependencies: [
                "SlapdFixture", "TenureCore", "TenureCrypto", "TenureEngine", "TenureStore", "TenureVault", "tenure",
                grdb,
            ]
        ),
        .testTarget(name: "TenureCryptoTests", dependencies: ["TenureCrypto"]),
        .testTarget(name: "TenureAccessTests", dependencies: ["TenureAccess", "TenureCore"]),
        .testTarget(
            name: "TenureServerTests",
            dependencies: [
                "LDAPClient", "SlapdFixture", "TenureAccess", "TenureConfig", "TenureCore", "TenureCrypto",
                "TenureEngine", "TenureServer", "TenureStore", "TenureVault", logging,
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"), grdb,
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            ]
        ),
        .testTarget(name: "TenureVaultTests", dependencies: ["SlapdFixture", "TenureCrypto", "TenureVault"]),
        .testTarget(
            name: "TenureStoreTests",
            dependencies: [
                "TenureCore", "TenureCrypto", "TenureStore", grdb, .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),
        .testTarget(name: "TenureSCIMTests", dependencies: ["TenureCore", "TenureSCIM", "TenureStore"]),
        .testTarget(
            name: "TenureEngineTests",
            dependencies: [
                "DirectorySource", "LDAPClient", "SlapdFixture", "TenureConfig", "TenureCore", "TenureEngine",
                "TenureStore", "TenureVault", logging, grdb,
            ]
        ),
    ]
)

// Upcoming language features for every Swift target (the swift-log / hummingbird idiom).
for target in package.targets {
    switch target.type {
    case .regular, .test, .executable:
        var settings = target.swiftSettings ?? []
        settings.append(.enableUpcomingFeature("ExistentialAny"))
        settings.append(.enableUpcomingFeature("MemberImportVisibility"))
        settings.append(.enableUpcomingFeature("InternalImportsByDefault"))
        settings.append(.enableUpcomingFeature("NonisolatedNonsendingByDefault"))
        settings.append(.enableUpcomingFeature("InferIsolatedConformances"))
        target.swiftSettings = settings
    case .macro, .plugin, .system, .binary:
        ()
    @unknown default:
        ()
    }
}
