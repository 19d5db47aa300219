import DirectorySource
import Foundation
import LDAPClient
import Logging
import SlapdFixture
import TenureConfig
import TenureCore

/// LDIF helpers: every value is written base64 (`attr:: …`) so hostile values need no thought.
enum LDIF {
    static func entry(_ dn: String, _ attributes: [(String, String)], binary: [(String, [UInt8])] = []) -> String {
        var text = "dn:: \(Data(dn.utf8).base64EncodedString())\n"
        for (name, value) in attributes {
            text += "\(name):: \(Data(value.utf8).base64EncodedString())\n"
        }
        for (name, bytes) in binary {
            text += "\(name):: \(Data(bytes).base64EncodedString())\n"
        }
        return text + "\n"
    }

    static func person(
        _ uid: String,
        suffix: String,
        ou: String = "ou=people",
        extra: [(String, String)] = []
    ) -> String {
        Self.entry(
            "uid=\(uid),\(ou),\(suffix)",
            [
                ("objectClass", "inetOrgPerson"), ("uid", uid), ("cn", uid.capitalized), ("sn", uid),
            ] + extra
        )
    }

    static func group(_ cn: String, suffix: String, members: [String]) -> String {
        Self.entry(
            "cn=\(cn),ou=groups,\(suffix)",
            [("objectClass", "groupOfNames"), ("cn", cn)] + members.map { ("member", $0) }
        )
    }

    /// Reads LDIF content records: unfolds continuation lines, drops comments, returns
    /// (dn, [(attribute, value)]) with base64 values decoded.
    static func parse(_ text: String) -> [(dn: String, attributes: [(String, String)])] {
        var records: [(dn: String, attributes: [(String, String)])] = []
        var lines: [String] = []
        for raw in text.replacingOccurrences(of: "\r\n", with: "\n").split(
            separator: "\n",
            omittingEmptySubsequences: false
        ) {
            if raw.hasPrefix(" "), !lines.isEmpty {
                lines[lines.count - 1] += raw.dropFirst()
            } else {
                lines.append(String(raw))
            }
        }
        var current: [(String, String)] = []
        func flush() {
            if let first = current.first, first.0.lowercased() == "dn" {
                records.append((first.1, Array(current.dropFirst())))
            }
            current = []
        }
        for line in lines {
            if line.isEmpty {
                flush()
                continue
            }
            if line.hasPrefix("#") || line.lowercased().hasPrefix("version:") { continue }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = String(line[..<colon])
            var rest = line[line.index(after: colon)...]
            if rest.hasPrefix(":") {
                rest = rest.dropFirst()
                let decoded = Data(base64Encoded: rest.trimmingCharacters(in: .whitespaces)) ?? Data()
                current.append((name, String(decoding: decoded, as: UTF8.self)))
            } else {
                current.append((name, rest.trimmingCharacters(in: .whitespaces)))
            }
        }
        flush()
        return records
    }
}

/// A configuration for a test server, built through the real YAML loader.
func testConfiguration(
    _ server: SlapdServer,
    urls: [String]? = nil,
    bindDN: String? = nil,
    passwordFile: String? = nil,
    pageSize: Int = 50,
    userBaseDNs: [String]? = nil,
    groupBaseDNs: [String]? = nil,
    extraLDAP: String = "",
    users: String = "",
    groups: String = ""
) throws -> TenureConfiguration {
    let yaml = """
        ldap:
          urls: [\((urls ?? [server.url]).map { "\"\($0)\"" }.joined(separator: ", "))]
          bindDN: "\(bindDN ?? server.readerDN)"
          passwordFile: "\(passwordFile ?? server.readerPasswordFile)"
          pageSize: \(pageSize)
          networkTimeoutSeconds: 5
          operationTimeoutSeconds: 20
        \(extraLDAP)
        users:
          baseDNs: [\((userBaseDNs ?? ["ou=people,\(server.suffix)"]).map { "\"\($0)\"" }.joined(separator: ", "))]
        \(users)
        groups:
          baseDNs: [\((groupBaseDNs ?? ["ou=groups,\(server.suffix)"]).map { "\"\($0)\"" }.joined(separator: ", "))]
        \(groups)
        """
    return try TenureConfiguration.parse(yaml: yaml, file: "test.yaml", environment: [:])
}

/// Pulls with the configuration's own password.
func pull(_ configuration: TenureConfiguration, observer: (any PullObserver)? = nil) async throws -> PullResult {
    let password = try configuration.resolvePassword(environment: [:]).map(LDAPSecret.init)
    var logger = Logger(label: "tenure.tests")
    logger.logLevel = .critical
    let reader = DirectoryReader(configuration: configuration, password: password, logger: logger)
    return try await reader.pull(observer: observer, now: Date().timeIntervalSince1970)
}

/// A connection as the reader account, for checking what the server holds.
func readerConnection(_ server: SlapdServer) async throws -> LDAPConnection {
    var logger = Logger(label: "tenure.tests")
    logger.logLevel = .critical
    return try await LDAPConnection.connect(
        options: LDAPConnectionOptions(
            urls: [server.url],
            bind: .simple(dn: server.readerDN, password: LDAPSecret(server.readerPassword))
        ),
        logger: logger
    )
}

extension DirectorySnapshot {
    func identity(username: String) -> Identity? {
        self.identities.first { $0.username?.lowercased() == username.lowercased() }
    }

    func group(named name: String) -> Group? {
        self.groups.first { $0.name.lowercased() == name.lowercased() }
    }

    func usernames(_ ids: [String]) -> [String] {
        let byID = Dictionary(uniqueKeysWithValues: self.identities.map { ($0.id, $0.username ?? $0.id) })
        return ids.compactMap { byID[$0] }.sorted()
    }
}
