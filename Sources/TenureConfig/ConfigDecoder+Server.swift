import Foundation
import TenureCore

extension ConfigDecoder {
    mutating func decodeServer(_ node: ConfigNode) throws(ConfigError) -> ServerSettings {
        let server = try self.mapping(node, path: "server", allowed: ConfigSchema.serverKeys)
        var settings = ServerSettings()
        if let host = try self.string(server, "host"), !host.value.isEmpty {
            settings.host = host.value
            if !isLoopbackHost(host.value) {
                self.warn(
                    host.location,
                    host.path,
                    "the API listens on \(host.value) without TLS: bearer tokens would cross the network in clear "
                        + "text; put a TLS-terminating proxy in front or listen on 127.0.0.1"
                )
            }
        }
        settings.port = try self.int(server, "port", default: ServerSettings.defaultPort, range: 0...65_535)
        settings.maxBodyBytes = try self.int(
            server,
            "maxBodyBytes",
            default: ServerSettings.defaultMaxBodyBytes,
            range: 1_024...(64 << 20)
        )
        settings.sweepIntervalSeconds = try self.positiveDouble(
            server,
            "sweepIntervalSeconds",
            default: ServerSettings.defaultSweepIntervalSeconds
        )
        settings.auditFlushSeconds = try self.positiveDouble(
            server,
            "auditFlushSeconds",
            default: ServerSettings.defaultAuditFlushSeconds,
            allowZero: true
        )
        settings.idleTimeoutSeconds = try self.positiveDouble(
            server,
            "idleTimeoutSeconds",
            default: ServerSettings.defaultIdleTimeoutSeconds,
            allowZero: true,
            range: ServerSettings.idleTimeoutRange
        )
        settings.syncLockWaitSeconds = try self.positiveDouble(
            server,
            "syncLockWaitSeconds",
            default: ServerSettings.defaultSyncLockWaitSeconds,
            allowZero: true,
            range: ServerSettings.syncLockWaitRange
        )
        settings.shutdownRotationWaitSeconds = try self.positiveDouble(
            server,
            "shutdownRotationWaitSeconds",
            default: ServerSettings.defaultShutdownRotationWaitSeconds,
            allowZero: true,
            range: ServerSettings.shutdownRotationWaitRange
        )
        settings.eventLoops = try self.int(
            server,
            "eventLoops",
            default: ServerSettings.defaultEventLoops,
            range: ServerSettings.eventLoopsRange
        )
        if let url = try self.string(server, "publicURL"), !url.value.isEmpty {
            settings.publicURL = try self.publicURL(url.value, url.location, url.path)
        }
        if let issuer = try self.string(server, "totpIssuer"), !issuer.value.isEmpty {
            settings.totpIssuer = issuer.value
        }
        if let tokensNode = self.node(server, "tokens") {
            let items: [ConfigNode]
            switch tokensNode.content {
            case .sequence(let list): items = list
            case .scalar(let scalar) where scalar.kind == .null: items = []
            default:
                throw self.error(
                    tokensNode.location,
                    "server.tokens",
                    "expected a list of tokens (- name: …), found " + tokensNode.kindDescription()
                )
            }
            var names: [String: ConfigLocation] = [:]
            var hashes: [String: (name: String, location: ConfigLocation)] = [:]
            for (index, item) in items.enumerated() {
                let token = try self.decodeToken(item, path: "server.tokens[\(index)]")
                if let first = names[token.value.name] {
                    throw self.error(
                        token.location,
                        "server.tokens[\(index)].name",
                        "duplicate token name \(quoted(token.value.name)) (first at \(first))"
                    )
                }
                // One token cannot be two: authentication would pick one entry's scopes by order.
                if let first = hashes[token.value.sha256.lowercased()] {
                    throw self.error(
                        token.location,
                        "server.tokens[\(index)].sha256",
                        "the same token as \(quoted(first.name)) (first at \(first.location)); give each its own"
                    )
                }
                names[token.value.name] = token.location
                hashes[token.value.sha256.lowercased()] = (token.value.name, token.location)
                settings.tokens.append(token.value)
            }
        }
        if let scheduleNode = self.node(server, "schedule"), !scheduleNode.isNull {
            settings.schedule = try self.decodeSchedule(scheduleNode)
        }
        return settings
    }

    /// `server.publicURL`: an absolute http(s) URL with a host, no user, query or fragment; its
    /// trailing slashes dropped. `http` for a host that is not loopback is allowed with a warning
    /// (AuthZEN wants an https identifier; a client will discard a document naming another).
    mutating func publicURL(_ text: String, _ location: ConfigLocation, _ path: String) throws(ConfigError)
        -> String
    {
        var trimmed = Substring(text)
        while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let components = URLComponents(string: String(trimmed)),
            let scheme = components.scheme?.lowercased(), scheme == "https" || scheme == "http",
            let host = components.host, !host.isEmpty,
            components.user == nil, components.password == nil, components.query == nil,
            components.fragment == nil
        else {
            throw self.error(
                location,
                path,
                "expected the API's absolute URL as clients reach it, e.g. https://pam.example.com "
                    + "(http or https, a host, no user, query or fragment)"
            )
        }
        if scheme == "http" && !isLoopbackHost(host) {
            self.warn(
                location,
                path,
                "an http URL for a host that is not loopback: AuthZEN clients expect an https "
                    + "policy_decision_point, and tokens would cross the network in clear text"
            )
        }
        return String(trimmed)
    }

    mutating func decodeToken(_ node: ConfigNode, path: String) throws(ConfigError) -> Located<APIToken> {
        let token = try self.mapping(
            node,
            path: path,
            allowed: ConfigSchema.tokenKeys,
            what: "a token (name, sha256, scopes)"
        )
        guard let name = try self.string(token, "name"), !name.value.isEmpty else {
            throw self.missing(token, "name", "name the token, e.g. name: pam-gateway")
        }
        guard let hash = try self.string(token, "sha256") else {
            throw self.missing(
                token,
                "sha256",
                "give the SHA-256 of the token (tenure token create prints a token and this line)"
            )
        }
        let hex = hash.value.lowercased()
        guard hex.count == 64, hex.allSatisfy({ $0.isHexDigit }) else {
            // Never repeat the value: it could be the token itself pasted by mistake.
            throw self.error(
                hash.location,
                hash.path,
                "must be the 64-character hex SHA-256 of the token, not the token itself "
                    + "(tenure token create prints both)"
            )
        }
        guard let scopeValues = try self.stringList(token, "scopes"), !scopeValues.isEmpty else {
            throw self.missing(
                token,
                "scopes",
                "list what it may do: " + APIScope.allCases.map(\.rawValue).joined(separator: ", ")
            )
        }
        var scopes = Set<APIScope>()
        for value in scopeValues {
            let choice = try self.choice(value, among: APIScope.allCases.map(\.rawValue))
            if let scope = APIScope(rawValue: choice) { scopes.insert(scope) }
        }
        let subject = try self.string(token, "subject").flatMap { $0.value.isEmpty ? nil : $0.value }
        return Located(
            value: APIToken(name: name.value, sha256: hex, scopes: scopes, subject: subject),
            location: name.location,
            path: path
        )
    }

    mutating func decodeSchedule(_ node: ConfigNode) throws(ConfigError) -> ScheduleSettings {
        let schedule = try self.mapping(node, path: "server.schedule", allowed: ConfigSchema.scheduleKeys)
        let interval = try self.string(schedule, "interval")
        let cron = try self.string(schedule, "cron")
        let when: ScheduleSettings.When
        switch (interval, cron) {
        case (let interval?, nil):
            do {
                when = .interval(seconds: Double(try parseDuration(interval.value)))
            } catch {
                throw self.error(interval.location, interval.path, error.message)
            }
        case (nil, let cron?):
            do {
                when = .cron(try CronSchedule(cron.value))
            } catch {
                throw self.error(cron.location, cron.path, error.description)
            }
        case (_?, let cron?):
            throw self.error(cron.location, cron.path, "set interval or cron, not both")
        case (nil, nil):
            throw self.missing(schedule, "interval", "say when to sync: interval: 15m, or cron: \"*/15 * * * *\"")
        }
        var jitter: Double = 0
        if let value = try self.string(schedule, "jitter") {
            do {
                jitter = Double(try parseDuration(value.value, allowZero: true))
            } catch {
                throw self.error(value.location, value.path, error.message)
            }
        }
        return ScheduleSettings(when: when, jitterSeconds: jitter)
    }
}
