import Testing

@testable import TenureConfig
@testable import TenureCore

private let hash = String(repeating: "ab", count: 32)

@Suite("server: the API and the daemon")
struct ServerConfigTests {
    @Test("tokens, schedule and defaults")
    func fullSection() throws {
        let config = try parse(
            minimalYAML + """
                server:
                  port: 9443
                  tokens:
                    - name: gateway
                      sha256: "\(hash.uppercased())"
                      scopes: [check]
                    - name: alice
                      sha256: "\(String(repeating: "cd", count: 32))"
                      scopes: [approve, activate]
                      subject: alice
                  schedule:
                    cron: "*/15 * * * *"
                    jitter: 30s

                """
        )
        let server = try #require(config.server)
        #expect(server.host == "127.0.0.1")
        #expect(server.port == 9443)
        #expect(server.maxBodyBytes == 1 << 20)
        #expect(server.idleTimeoutSeconds == 60)
        #expect(server.syncLockWaitSeconds == 30)
        #expect(server.tokens.map(\.name) == ["gateway", "alice"])
        #expect(server.tokens[0].sha256 == hash)  // lowercased
        #expect(server.tokens[1].scopes == [.approve, .activate])
        #expect(server.tokens[1].subject == "alice")
        #expect(server.schedule?.when == .cron(try CronSchedule("*/15 * * * *")))
        #expect(server.schedule?.jitterSeconds == 30)
        #expect(config.warnings.isEmpty)

        // config check's output loads back to the same server settings.
        #expect(try parse(config.redactedYAML()).server == config.server)

        let interval = try parse(minimalYAML + "server:\n  schedule: {interval: 15m}\n")
        #expect(try parse(interval.redactedYAML()).server == interval.server)
        #expect(interval.server?.schedule?.when == .interval(seconds: 900))
        #expect(interval.server?.tokens.isEmpty == true)
        // Overridden from the environment like any scalar.
        let overridden = try parse(minimalYAML + "server: {}\n", environment: ["TENURE_SERVER_PORT": "8181"])
        #expect(overridden.server?.port == 8181)
    }

    @Test("the wait for a command-line sync's lock: 0 to 300 seconds")
    func syncLockWait() throws {
        let short = try parse(minimalYAML + "server:\n  syncLockWaitSeconds: 1.5\n")
        #expect(short.server?.syncLockWaitSeconds == 1.5)
        #expect(try parse(short.redactedYAML()).server == short.server)
        #expect(try parse(minimalYAML + "server:\n  syncLockWaitSeconds: 0\n").server?.syncLockWaitSeconds == 0)
        for wrong in ["-1", "301"] {
            let error = try #require(parseError(minimalYAML + "server:\n  syncLockWaitSeconds: \(wrong)\n"))
            #expect(error.description.contains("server.syncLockWaitSeconds"), "\(error.description)")
        }
        let above = try #require(parseError(minimalYAML + "server:\n  syncLockWaitSeconds: 301\n"))
        #expect(above.description.contains("must be between 0 and 300 (seconds)"), "\(above.description)")
    }

    @Test("the wait for a rotation program at shutdown: 0 to 3600 seconds, default 60")
    func shutdownRotationWait() throws {
        #expect(try parse(minimalYAML + "server: {}\n").server?.shutdownRotationWaitSeconds == 60)
        let short = try parse(minimalYAML + "server:\n  shutdownRotationWaitSeconds: 2.5\n")
        #expect(short.server?.shutdownRotationWaitSeconds == 2.5)
        #expect(try parse(short.redactedYAML()).server == short.server)
        #expect(
            try parse(minimalYAML + "server:\n  shutdownRotationWaitSeconds: 0\n").server?.shutdownRotationWaitSeconds
                == 0
        )
        for wrong in ["-1", "3601", "soon"] {
            let error = try #require(parseError(minimalYAML + "server:\n  shutdownRotationWaitSeconds: \(wrong)\n"))
            #expect(error.description.contains("server.shutdownRotationWaitSeconds"), "\(error.description)")
        }
    }

    @Test("the public URL: absolute http(s), trailing slashes dropped, http beyond loopback a warning")
    func publicURL() throws {
        #expect(try parse(minimalYAML + "server: {}\n").server?.publicURL == nil)
        let proxied = try parse(minimalYAML + "server:\n  publicURL: https://pam.example.com/tenure/\n")
        #expect(proxied.server?.publicURL == "https://pam.example.com/tenure")
        #expect(proxied.warnings.isEmpty)
        #expect(try parse(proxied.redactedYAML()).server == proxied.server)
        let local = try parse(minimalYAML + "server:\n  publicURL: http://127.0.0.1:8080\n")
        #expect(local.server?.publicURL == "http://127.0.0.1:8080")
        #expect(local.warnings.isEmpty)
        let clear = try parse(minimalYAML + "server:\n  publicURL: http://pam.example.com\n")
        #expect(clear.warnings.contains { $0.message.contains("https policy_decision_point") })
        for wrong in [
            "pam.example.com", "ftp://pam.example.com", "https://pam.example.com/?a=1", "https://u@pam.example.com",
            "https:///x",
        ] {
            let error = try #require(parseError(minimalYAML + "server:\n  publicURL: \"\(wrong)\"\n"), "\(wrong)")
            #expect(error.description.contains("server.publicURL"), "\(error.description)")
        }
    }

    @Test("event loops: 0 for one fewer than the cores (at least one), or a count up to 256")
    func eventLoops() throws {
        let automatic = try #require(try parse(minimalYAML + "server: {}\n").server)
        #expect(automatic.eventLoops == 0)
        #expect(automatic.resolvedEventLoops(cores: 2) == 1)
        #expect(automatic.resolvedEventLoops(cores: 1) == 1)
        #expect(automatic.resolvedEventLoops(cores: 16) == 15)
        let three = try parse(minimalYAML + "server:\n  eventLoops: 3\n")
        #expect(three.server?.eventLoops == 3)
        #expect(three.server?.resolvedEventLoops(cores: 2) == 3)
        #expect(try parse(three.redactedYAML()).server == three.server)
        let overridden = try parse(minimalYAML + "server: {}\n", environment: ["TENURE_SERVER_EVENT_LOOPS": "2"])
        #expect(overridden.server?.eventLoops == 2)
        for wrong in ["-1", "257", "1.5", "many"] {
            let error = try #require(parseError(minimalYAML + "server:\n  eventLoops: \(wrong)\n"))
            #expect(error.description.contains("server.eventLoops"), "\(error.description)")
        }
    }

    @Test("the idle limit: seconds, 0 for none, from the file or the environment")
    func idleTimeout() throws {
        let short = try parse(minimalYAML + "server:\n  idleTimeoutSeconds: 2.5\n")
        #expect(short.server?.idleTimeoutSeconds == 2.5)
        #expect(try parse(short.redactedYAML()).server == short.server)
        #expect(try parse(minimalYAML + "server:\n  idleTimeoutSeconds: 0\n").server?.idleTimeoutSeconds == 0)
        let environment = try parse(
            minimalYAML + "server: {}\n",
            environment: ["TENURE_SERVER_IDLE_TIMEOUT_SECONDS": "30"]
        )
        #expect(environment.server?.idleTimeoutSeconds == 30)
        for wrong in ["-1", "0.5", "1e12"] {
            let error = try #require(parseError(minimalYAML + "server:\n  idleTimeoutSeconds: \(wrong)\n"))
            #expect(error.description.contains("server.idleTimeoutSeconds"), "\(error.description)")
        }
        let tooShort = try #require(parseError(minimalYAML + "server:\n  idleTimeoutSeconds: 0.5\n"))
        #expect(tooShort.description.contains("must be 0 (none) or between 1 and 86400 (seconds)"), "\(tooShort)")
    }

    @Test("listening beyond loopback is a warning")
    func nonLoopback() throws {
        let config = try parse(minimalYAML + "server:\n  host: 0.0.0.0\n")
        #expect(config.warnings.contains { $0.message.contains("without TLS") })
    }

    @Test(
        "errors name the place, and never repeat what may be a token",
        arguments: [
            (
                "  tokens:\n    - name: a\n      sha256: s3cret-token-value\n      scopes: [check]\n",
                "server.tokens[0].sha256: must be the 64-character hex SHA-256"
            ),
            (
                "  tokens:\n    - name: a\n      sha256: \"\(hash)\"\n      scopes: [chek]\n",
                "unknown value \"chek\" (did you mean \"check\"?)"
            ),
            (
                "  tokens:\n    - name: a\n      sha256: \"\(hash)\"\n",
                "server.tokens[0].scopes: required key is missing"
            ),
            (
                "  tokens:\n    - name: a\n      sha256: \"\(hash)\"\n      scopes: [check]\n    - name: a\n      sha256: \"\(hash)\"\n      scopes: [read]\n",
                "duplicate token name \"a\""
            ),
            (
                "  tokens:\n    - name: a\n      sha256: \"\(hash)\"\n      scopes: [check]\n    - name: b\n      sha256: \"\(hash.uppercased())\"\n      scopes: [admin]\n",
                "server.tokens[1].sha256: the same token as \"a\""
            ),
            ("  tokens:\n    - name: a\n      token: abc\n", "unknown key \"token\""),
            ("  schedule: {interval: 15m, cron: \"* * * * *\"}\n", "set interval or cron, not both"),
            ("  schedule: {}\n", "server.schedule.interval: required key is missing"),
            ("  schedule: {cron: \"61 * * * *\"}\n", "minute field \"61\""),
            ("  schedule: {interval: soon}\n", "invalid duration"),
            ("  port: 70000\n", "server.port"),
        ]
    )
    func errors(_ lines: String, _ fragment: String) throws {
        let error = try #require(parseError(minimalYAML + "server:\n" + lines))
        #expect(error.description.contains(fragment), "\(error.description)")
        #expect(!error.description.contains("s3cret-token-value"))
    }
}
