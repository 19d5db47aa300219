import GRDB

/// The store's schema, as versioned migrations. Never edit a shipped migration: add `v2`, `v3`, …
/// (and a seeding case in `MigrationTests` for the previous version).
enum StoreMigrations {
    /// Every migration id, oldest first.
    static var ids: [String] { Self.migrator.migrations }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: v1)
        }
        migrator.registerMigration("v2") { db in
            try db.execute(sql: v2)
        }
        migrator.registerMigration("v3") { db in
            try db.execute(sql: v3)
        }
        migrator.registerMigration("v4") { db in
            try db.execute(sql: v4)
        }
        migrator.registerMigration("v5") { db in
            try db.execute(sql: v5)
        }
        migrator.registerMigration("v6") { db in
            try db.execute(sql: v6)
        }
        migrator.registerMigration("v7") { db in
            try db.execute(sql: v7)
        }
        migrator.registerMigration("v8") { db in
            try db.execute(sql: v8)
        }
        migrator.registerMigration("v9") { db in
            try db.execute(sql: v9)
        }
        migrator.registerMigration("v10") { db in
            try db.execute(sql: v10)
        }
        migrator.registerMigration("v11") { db in
            try db.execute(sql: v11)
        }
        return migrator
    }

    /// v3: a version can carry the id of the request that made it (`plan:<id>:entry:<id>` for a
    /// rotation a sync plan asked for), so a resumed plan finds its rotation instead of repeating it.
    private static let v3 = """
        ALTER TABLE credential_version ADD COLUMN requestID TEXT;
        CREATE UNIQUE INDEX credential_version_request ON credential_version(requestID) WHERE requestID IS NOT NULL;
        """

    /// v4: vault check-outs (who saw which secret when: a leaver's check-outs within the look-back
    /// window are rotated), the members Tenure wrote into write-back groups, and the drift of write-back groups as last seen (each finding is audited
    /// when it appears and when it goes, not on every run).
    private static let v4 = """
        CREATE TABLE credential_checkout (
            id TEXT PRIMARY KEY NOT NULL,
            name TEXT NOT NULL REFERENCES credential(name) ON DELETE RESTRICT,
            identityID TEXT NOT NULL,
            username TEXT,
            version INTEGER NOT NULL,      -- the version handed out (never the secret)
            exclusive INTEGER NOT NULL CHECK (exclusive IN (0, 1)),
            checkedOutAt REAL NOT NULL,
            dueAt REAL,                    -- when it must be checked in by
            checkedInAt REAL
        );
        CREATE INDEX credential_checkout_time ON credential_checkout(checkedOutAt);
        CREATE INDEX credential_checkout_identity ON credential_checkout(identityID);
        CREATE INDEX credential_checkout_open ON credential_checkout(name) WHERE checkedInAt IS NULL;
        CREATE TRIGGER credential_checkout_no_delete BEFORE DELETE ON credential_checkout
        BEGIN
            SELECT RAISE(ABORT, 'check-outs are never deleted');
        END;

        -- Members Tenure itself wrote into write-back groups (removed again when the holding ends,
        -- whatever the drift policy). One row per group and identity.
        CREATE TABLE writeback_member (
            groupDN TEXT NOT NULL,         -- normalised
            identityID TEXT NOT NULL,
            member TEXT NOT NULL,          -- the DN written
            role TEXT NOT NULL,
            since REAL NOT NULL,
            PRIMARY KEY (groupDN, identityID)
        );

        CREATE TABLE drift_finding (
            role TEXT NOT NULL,
            member TEXT NOT NULL,          -- the member value as the group holds it (normalised DN)
            kind TEXT NOT NULL,
            findingJSON TEXT NOT NULL,
            firstSeen REAL NOT NULL,
            lastSeen REAL NOT NULL,
            PRIMARY KEY (role, member, kind)
        );
        """

    /// v5: the checking API — just-in-time activations, TOTP enrolments (the seed sealed under the
    /// vault's master key), HR records received over SCIM, scheduled offboardings, and credentials
    /// that need MFA at check-out.
    private static let v5 = """
        CREATE TABLE activation (
            id TEXT PRIMARY KEY NOT NULL,
            identityID TEXT NOT NULL,
            role TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'active', 'denied', 'ended', 'expired')),
            requestedBy TEXT NOT NULL,     -- who asked (the token's name)
            requestedAt REAL NOT NULL,
            durationSeconds REAL NOT NULL CHECK (durationSeconds > 0),
            justification TEXT,
            ticket TEXT,
            mfa INTEGER NOT NULL DEFAULT 0 CHECK (mfa IN (0, 1)),
            decidedBy TEXT,                -- who approved or denied
            decidedAt REAL,
            decisionReason TEXT,
            startsAt REAL,
            endsAt REAL,
            endedAt REAL,
            endReason TEXT
        );
        CREATE INDEX activation_identity ON activation(identityID, state);
        CREATE INDEX activation_due ON activation(state, endsAt);

        CREATE TABLE mfa_enrollment (
            identityID TEXT PRIMARY KEY NOT NULL,
            sealedSeed TEXT NOT NULL,      -- sealed by the vault (credential name mfa:<identityID>)
            lastUsedStep INTEGER,          -- a code is never accepted twice
            enrolledAt REAL NOT NULL
        );

        CREATE TABLE hr_user (
            id TEXT PRIMARY KEY NOT NULL,  -- the SCIM id
            userName TEXT NOT NULL,
            externalId TEXT,
            employeeNumber TEXT,
            active INTEGER NOT NULL CHECK (active IN (0, 1)),
            terminationDate REAL,
            identityID TEXT,               -- the directory identity it is linked to, once found
            resourceJSON TEXT NOT NULL,    -- the SCIM resource as last written
            version INTEGER NOT NULL,      -- the ETag's version
            created REAL NOT NULL,
            lastModified REAL NOT NULL,
            deleted INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1))
        );
        CREATE UNIQUE INDEX hr_user_userName ON hr_user(userName COLLATE NOCASE) WHERE deleted = 0;
        CREATE UNIQUE INDEX hr_user_externalId ON hr_user(externalId) WHERE externalId IS NOT NULL AND deleted = 0;
        CREATE INDEX hr_user_identity ON hr_user(identityID);

        CREATE TABLE offboarding (
            id TEXT PRIMARY KEY NOT NULL,
            identityID TEXT NOT NULL,
            effectiveAt REAL NOT NULL,
            reason TEXT NOT NULL,
            requestedBy TEXT NOT NULL,
            requestedAt REAL NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('scheduled', 'done', 'cancelled')),
            doneAt REAL,
            planID INTEGER
        );
        CREATE INDEX offboarding_due ON offboarding(state, effectiveAt);
        CREATE INDEX offboarding_identity ON offboarding(identityID);

        ALTER TABLE credential ADD COLUMN requiresMFA INTEGER NOT NULL DEFAULT 0 CHECK (requiresMFA IN (0, 1));
        """

    /// v6: a credential may be checked out by one person at a time.
    private static let v6 = """
        ALTER TABLE credential ADD COLUMN exclusiveCheckout INTEGER NOT NULL DEFAULT 0
            CHECK (exclusiveCheckout IN (0, 1));
        """

    /// v7: `INSERT OR REPLACE` deletes the row it replaces without firing delete triggers (unless
    /// recursive triggers are on): an insert must come after the newest record, so a replace of an
    /// existing one is refused like an update. (As the other triggers: against mistakes and casual
    /// edits; verifyAudit() catches the rest.)
    private static let v7 = """
        CREATE TRIGGER audit_log_append_only BEFORE INSERT ON audit_log
        WHEN NEW.sequence <= (SELECT MAX(sequence) FROM audit_log)
        BEGIN
            SELECT RAISE(ABORT, 'audit_log is append-only');
        END;
        """

    /// v8: identities by username (ignoring case): a single offboarding asks whether another
    /// account has the leaver's username before it takes that name out of `memberUid`.
    private static let v8 = """
        CREATE INDEX identity_username ON identity(username COLLATE NOCASE);
        """

    /// v9: the link an HR user was last refused (`<identity> <employing HR user>`), so the daemon's
    /// pass over pending users audits a refusal once, not on every pass; cleared when the user is
    /// linked or changed.
    private static let v9 = """
        ALTER TABLE hr_user ADD COLUMN linkRefused TEXT;
        """

    /// v10: a deleted HR user whose termination is still to be settled (its DELETE's settling did
    /// not finish: a retried DELETE, or the daemon's sweep, settles it, once); a partial index for
    /// the sweep. Users deleted before v10 are taken as settled: one whose DELETE had found the
    /// person employed under another record must not be settled now that record may have ended
    /// (the very double termination v10 prevents); one whose settling failed then is a leaver to
    /// the next sync anyway (HR's deletion terminates the identity).
    private static let v10 = """
        ALTER TABLE hr_user ADD COLUMN settlePending INTEGER NOT NULL DEFAULT 0 CHECK (settlePending IN (0, 1));
        CREATE INDEX hr_user_settle_pending ON hr_user(lastModified, id) WHERE settlePending = 1;
        """

    /// v11: the credential a journal entry rotates (NULL for every other action), and a partial
    /// index of the rotations not done yet: a check-out asks whether an open plan still has to
    /// rotate its credential with one index lookup, not a scan of the open plans' journals.
    /// Entries journaled before v11 are filled from their action.
    private static let v11 = """
        ALTER TABLE plan_journal ADD COLUMN credential TEXT;
        UPDATE plan_journal SET credential = json_extract(actionJSON, '$.rotateCredential.name')
            WHERE json_valid(actionJSON) AND json_type(actionJSON, '$.rotateCredential.name') = 'text';
        CREATE INDEX plan_journal_rotation ON plan_journal(credential) WHERE credential IS NOT NULL AND done = 0;
        """

    private static let v1 = """
        CREATE TABLE identity (
            id TEXT PRIMARY KEY NOT NULL,
            state TEXT NOT NULL,
            dn TEXT NOT NULL,
            username TEXT,
            attributes TEXT NOT NULL,  -- JSON object
            groups TEXT NOT NULL,      -- JSON array
            firstSeen REAL NOT NULL,
            lastSeen REAL NOT NULL,
            terminatedAt REAL
        );

        -- One row per recorded change of an identity (state, dn, username, attributes, groups).
        CREATE TABLE identity_history (
            identityID TEXT NOT NULL REFERENCES identity(id) ON DELETE CASCADE,
            sequence INTEGER NOT NULL,
            time REAL NOT NULL,
            state TEXT NOT NULL,
            dn TEXT NOT NULL,
            username TEXT,
            attributes TEXT NOT NULL,
            groups TEXT NOT NULL,
            PRIMARY KEY (identityID, sequence)
        );

        CREATE TABLE assignment (
            identityID TEXT NOT NULL,
            role TEXT NOT NULL,
            state TEXT NOT NULL,
            source TEXT NOT NULL,
            since REAL NOT NULL,
            until REAL,
            PRIMARY KEY (identityID, role, state)
        );

        CREATE TABLE plan (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            hash TEXT NOT NULL,
            createdAt REAL NOT NULL,
            actor TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'applying', 'applied', 'held', 'failed')),
            planJSON TEXT NOT NULL
        );
        CREATE INDEX plan_status ON plan(status, id);

        CREATE TABLE plan_journal (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            planID INTEGER NOT NULL REFERENCES plan(id) ON DELETE CASCADE,
            identityID TEXT NOT NULL,
            actionIndex INTEGER NOT NULL,
            actionJSON TEXT NOT NULL,
            done INTEGER NOT NULL DEFAULT 0,
            doneAt REAL
        );
        CREATE INDEX plan_journal_plan ON plan_journal(planID);

        -- The audit log: append-only. Record n chains to record n-1 through previousHash, and mac is
        -- HMAC-SHA256(audit key, AuditRecord.canonicalBytes(sequence, event, previousHash)).
        CREATE TABLE audit_log (
            sequence INTEGER PRIMARY KEY,
            time REAL NOT NULL,
            actor TEXT NOT NULL,
            type TEXT NOT NULL,
            subject TEXT,
            object TEXT,
            outcome TEXT NOT NULL,
            details TEXT NOT NULL,  -- JSON object, keys sorted
            previousHash TEXT NOT NULL,
            mac TEXT NOT NULL
        );
        CREATE INDEX audit_log_time ON audit_log(time);
        CREATE INDEX audit_log_subject ON audit_log(subject);

        -- Refuse in-place changes through SQLite. These triggers stop mistakes and casual edits, not
        -- an attacker with the file (who can drop them): verifyAudit() still catches any change,
        -- deletion, insertion or reordering, because each MAC needs the key.
        CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN
            SELECT RAISE(ABORT, 'audit_log is append-only');
        END;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN
            SELECT RAISE(ABORT, 'audit_log is append-only');
        END;
        """

    /// The credential vault: each credential's secrets arrive sealed (encrypted by the vault module)
    /// and are stored as opaque text. Versions are never deleted, so no secret is ever lost.
    private static let v2 = """
        CREATE TABLE credential (
            name TEXT PRIMARY KEY NOT NULL CHECK (name <> '' AND name NOT GLOB '*[^A-Za-z0-9._-]*'),
            kind TEXT NOT NULL CHECK (kind IN ('ldapAccount', 'command')),
            kindValue TEXT NOT NULL,      -- the account's DN, or the command's path
            policyJSON TEXT NOT NULL,     -- the password policy (owned by the vault module)
            maxAgeSeconds REAL,
            oneTime INTEGER NOT NULL CHECK (oneTime IN (0, 1)),
            createdAt REAL NOT NULL,
            failures INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
            lastError TEXT,               -- never a secret
            nextAttemptAt REAL
        );

        -- Every secret a credential ever had. At most one current and one pending version each.
        CREATE TABLE credential_version (
            name TEXT NOT NULL REFERENCES credential(name) ON DELETE RESTRICT,
            version INTEGER NOT NULL CHECK (version >= 1),
            state TEXT NOT NULL CHECK (state IN ('pending', 'current', 'retired', 'abandoned')),
            sealed TEXT NOT NULL,         -- the encrypted secret, never decoded by the store
            createdAt REAL NOT NULL,
            settledAt REAL,               -- when it became current, retired or abandoned
            PRIMARY KEY (name, version)
        );
        CREATE UNIQUE INDEX credential_version_one_current ON credential_version(name) WHERE state = 'current';
        CREATE UNIQUE INDEX credential_version_one_pending ON credential_version(name) WHERE state = 'pending';

        -- Like the audit triggers, these stop mistakes, not someone with the file: a version is never
        -- deleted, and only its state (and settledAt) ever changes.
        CREATE TRIGGER credential_version_no_delete BEFORE DELETE ON credential_version
        BEGIN
            SELECT RAISE(ABORT, 'credential versions are never deleted');
        END;
        CREATE TRIGGER credential_version_sealed_fixed BEFORE UPDATE OF name, version, sealed, createdAt
        ON credential_version
        BEGIN
            SELECT RAISE(ABORT, 'a credential version''s secret is never replaced');
        END;
        """
}
