#!/usr/bin/env python3
"""Generate a deterministic synthetic LDAP directory as LDIF.

Usage:
  scripts/gen-directory.py --users N --groups M --out FILE
      [--suffix dc=tenure,dc=test] [--big-groups K --big-group-size S]
      [--nesting] [--disabled-fraction F] [--ad-attributes] [--memberof]
      [--with-base] [--seed 42]

The output is meant for `slapadd -q` (scripts/slapd-test-server.sh start DIR
--slapadd FILE); it also loads with ldapadd. It contains no operational
attributes except pwdAccountLockedTime (ppolicy) on disabled users, and
memberOf with --memberof: slapadd itself adds entryUUID, entryCSN,
createTimestamp, creatorsName, modifyTimestamp and modifiersName. Without
--with-base it does not contain the suffix, ou=people or ou=groups entries
(the test server creates them).

The same arguments and seed give byte-identical output (for a given Python
3 minor version's `random`).

Users: uid=<uid>,ou=people,<suffix>, inetOrgPerson with uid, cn, sn,
givenName, displayName, mail, employeeNumber (100000 + index),
departmentNumber, title, employeeType (Employee/Contractor/Intern), manager
(a tree with fan-out 8 rooted at the first user). A few names are non-ASCII
(base64 in the LDIF). uid is <initial><surname><index>, ASCII only.
  --disabled-fraction F: that fraction of users (chosen at random) get
    pwdAccountLockedTime: 000001010000Z (ppolicy: locked until removed); with
    --ad-attributes also userAccountControl 514 (else 512) and nsAccountLock
    "true" (absent otherwise).
  --ad-attributes: add the auxiliary class tenureTestAccount
    (scripts/ldap/tenure-test.ldif) with userAccountControl, objectGUID (16
    random bytes) and accountExpires (mostly never = 9223372036854775807 or 0,
    10% a date in 2020-2030, so some are expired).

Groups: cn=<name>,ou=groups,<suffix>, groupOfNames, M in total:
  big-01 .. big-K   --big-group-size S user members each (S capped at N)
  grp-00001 ...     the rest: 1 to 500 user members (heavy-tailed, mean ~14);
                    every 200th one has no real member and carries the empty
                    DN as its only `member` (groupOfNames requires one).
  With --nesting:
    about 10% of the grp-* groups are arranged in trees of up to 15 groups,
    each group also a member of its parent, nesting depth at most 3
    (root ∋ level 1 ∋ level 2 ∋ level 3); the first tree always has a chain of
    depth 3, and its root also contains big-01 (if any) and cycle-a;
    cycle-a ∋ cycle-b ∋ cycle-a and cycle-x ∋ cycle-y ∋ cycle-z ∋ cycle-x
    (these five count towards M and have a few users each).
  --memberof: also write memberOf on users and groups for their direct
    memberships, as the memberof overlay would (slapadd does not run it).

Timing: 100,000 users + 10,000 groups + 3 x 20,000 members (64 MiB of LDIF)
takes under a second; slapadd -q loads it in about 3.5 s.
"""

import argparse
import base64
import random
import re
import sys
import time
import unicodedata

GIVEN = [
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
    "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
    "Thomas", "Sarah", "Carlos", "Karen", "Wei", "Mei", "Hiroshi", "Yuki", "Priya",
    "Rahul", "Olu", "Amara", "Lars", "Ingrid", "Pierre", "Amélie", "José", "Lucía",
    "Zoë", "Björn", "Søren", "Chloé", "Nadia", "Omar", "Fatima", "Ahmed", "Anya",
    "Dmitri", "Katrin", "Jürgen", "Siobhán", "Aoife", "Mateo", "Valentina", "Kwame",
    "Ama", "Raj", "Ananya", "Noah", "Emma", "Liam", "Olivia", "Ethan", "Ava",
]
SURNAMES = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernández", "Lopez", "Gonzalez", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Chen", "Wang", "Li",
    "Zhang", "Kim", "Park", "Sato", "Suzuki", "Tanaka", "Patel", "Shah", "Nair",
    "Okafor", "Adeyemi", "Mensah", "Müller", "Schmidt", "Schneider", "Fischer",
    "Dubois", "Lefèvre", "Rossi", "Russo", "Ferrari", "Novak", "Kowalski", "Nowak",
    "Ivanova", "Petrov", "Lindqvist", "Andersson", "Nielsen", "Jensen", "O'Brien",
    "Murphy", "Kelly", "Silva", "Santos", "Ahmed",
]
DEPARTMENTS = {
    "Engineering": ["Software Engineer", "Senior Software Engineer", "Staff Engineer",
                    "Site Reliability Engineer", "Engineering Manager", "QA Engineer"],
    "Database": ["Database Administrator", "Senior Database Administrator",
                 "Database Reliability Engineer", "Data Engineer"],
    "Security": ["Security Engineer", "Security Analyst", "Penetration Tester",
                 "Security Architect"],
    "IT": ["Systems Administrator", "Help Desk Technician", "Network Engineer",
           "IT Manager"],
    "Finance": ["Accountant", "Financial Analyst", "Payroll Specialist", "Controller"],
    "HR": ["HR Business Partner", "Recruiter", "HR Generalist", "People Operations Lead"],
    "Sales": ["Account Executive", "Sales Engineer", "Sales Manager", "SDR"],
    "Marketing": ["Marketing Manager", "Content Strategist", "Product Marketing Manager"],
    "Support": ["Support Engineer", "Customer Success Manager", "Support Lead"],
    "Legal": ["Counsel", "Paralegal", "Compliance Officer"],
    "Operations": ["Operations Analyst", "Facilities Manager", "Program Manager"],
    "Product": ["Product Manager", "Senior Product Manager", "UX Designer"],
}
DEPT_NAMES = list(DEPARTMENTS)

NEVER_EXPIRES = "9223372036854775807"
FILETIME_2020 = 132223104000000000  # 2020-01-01T00:00:00Z in 100 ns since 1601
FILETIME_2030 = 142478208000000000  # 2030-01-01T00:00:00Z
LOCKED_FOREVER = "000001010000Z"


def ldif_line(attr, value):
    """attr: value, or attr:: base64 when RFC 2849 requires it."""
    if isinstance(value, bytes):
        return f"{attr}:: {base64.b64encode(value).decode('ascii')}"
    if value and (value[0] in " :<" or value[-1] == " " or not value.isascii()
                  or "\n" in value or "\r" in value or "\0" in value):
        return f"{attr}:: {base64.b64encode(value.encode('utf-8')).decode('ascii')}"
    return f"{attr}: {value}"


def ascii_fold(s):
    folded = unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def parse_args(argv):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suffix", default="dc=tenure,dc=test")
    p.add_argument("--users", type=int, required=True, help="number of users")
    p.add_argument("--groups", type=int, required=True,
                   help="total number of groups (big and cycle groups included)")
    p.add_argument("--big-groups", type=int, default=0, help="number of big groups (K)")
    p.add_argument("--big-group-size", type=int, default=20000,
                   help="members of each big group (S, default 20000)")
    p.add_argument("--nesting", action="store_true",
                   help="nested groups (depth <= 3) and two membership cycles")
    p.add_argument("--disabled-fraction", type=float, default=0.0,
                   help="fraction of users that are disabled (0..1)")
    p.add_argument("--ad-attributes", action="store_true",
                   help="add tenureTestAccount: userAccountControl, objectGUID, accountExpires")
    p.add_argument("--memberof", action="store_true",
                   help="write memberOf for direct memberships")
    p.add_argument("--with-base", action="store_true",
                   help="also write the suffix, ou=people and ou=groups entries")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", required=True, help="output file, or - for stdout")
    a = p.parse_args(argv)
    if a.users < 0 or a.groups < 0 or a.big_groups < 0 or a.big_group_size < 1:
        p.error("counts must be non-negative (and --big-group-size positive)")
    if not 0.0 <= a.disabled_fraction <= 1.0:
        p.error("--disabled-fraction must be between 0 and 1")
    if a.big_groups > a.groups:
        p.error("--big-groups cannot exceed --groups")
    if a.nesting and a.groups - a.big_groups < 5:
        p.error("--nesting needs at least 5 groups besides the big ones (for the cycles)")
    if not re.fullmatch(r"[A-Za-z]+=[^,=+]+(,[A-Za-z]+=[^,=+]+)*", a.suffix):
        p.error(f"unsupported suffix {a.suffix!r}")
    return a


def mail_domain(suffix):
    dcs = [rdn.split("=", 1)[1] for rdn in suffix.split(",") if rdn.lower().startswith("dc=")]
    return ".".join(dcs) if dcs else "example.test"


def main(argv):
    a = parse_args(argv)
    t0 = time.monotonic()
    rng = random.Random(a.seed)
    suffix = a.suffix
    people = f"ou=people,{suffix}"
    groups_base = f"ou=groups,{suffix}"
    domain = mail_domain(suffix)
    n = a.users

    # ---- users (attributes decided up front, written after the groups) ----
    user_dn = []
    user_rec = []
    for i in range(n):
        given = rng.choice(GIVEN)
        sn = rng.choice(SURNAMES)
        uid = f"{ascii_fold(given)[:1]}{ascii_fold(sn)}{i}"
        dept = DEPT_NAMES[rng.randrange(len(DEPT_NAMES))]
        title = rng.choice(DEPARTMENTS[dept])
        r = rng.random()
        etype = "Employee" if r < 0.85 else ("Contractor" if r < 0.95 else "Intern")
        disabled = rng.random() < a.disabled_fraction
        user_dn.append(f"uid={uid},{people}")
        user_rec.append((uid, given, sn, dept, title, etype, disabled))

    # ---- groups ----
    m = a.groups
    k = a.big_groups
    size = min(a.big_group_size, n)
    if k and a.big_group_size > n:
        print(f"gen-directory: --big-group-size {a.big_group_size} > --users {n}; using {n}",
              file=sys.stderr)
    names = [f"big-{j + 1:02d}" for j in range(k)]
    n_cycle = 5 if a.nesting else 0
    n_normal = m - k - n_cycle
    names += [f"grp-{j + 1:05d}" for j in range(n_normal)]
    if a.nesting:
        names += ["cycle-a", "cycle-b", "cycle-x", "cycle-y", "cycle-z"]
    gdn = [f"cn={name},{groups_base}" for name in names]
    user_members = [[] for _ in range(m)]   # user indices
    group_members = [[] for _ in range(m)]  # group indices

    for j in range(k):
        user_members[j] = rng.sample(range(n), size)
    for j in range(k, k + n_normal):
        ordinal = j - k + 1
        if ordinal % 200 == 0 or n == 0:
            continue  # "empty" group: gets the placeholder
        cnt = min(n, 500, int(rng.paretovariate(1.3) * 4))
        user_members[j] = rng.sample(range(n), max(cnt, 1))

    if a.nesting:
        normal = list(range(k, k + n_normal))
        n_nested = max(4, n_normal // 10) if n_normal >= 4 else n_normal
        nested = normal[:n_nested]
        level = {}
        tree = []
        for idx, g in enumerate(nested):
            if idx % 15 == 0:
                tree = [g]
                level[g] = 0
                continue
            if idx < 4:
                parent = nested[idx - 1]  # the first tree: a chain of depth 3
            else:
                parent = rng.choice([c for c in tree if level[c] < 3])
            level[g] = level[parent] + 1
            group_members[parent].append(g)
            tree.append(g)
        if nested:
            root = nested[0]
            if k:
                group_members[root].append(0)  # big-01
            cyc = k + n_normal
            a_, b_, x_, y_, z_ = cyc, cyc + 1, cyc + 2, cyc + 3, cyc + 4
            group_members[root].append(a_)
        else:
            cyc = k + n_normal
            a_, b_, x_, y_, z_ = cyc, cyc + 1, cyc + 2, cyc + 3, cyc + 4
        group_members[a_].append(b_)
        group_members[b_].append(a_)
        group_members[x_].append(y_)
        group_members[y_].append(z_)
        group_members[z_].append(x_)
        for g in (a_, b_, x_, y_, z_):
            if n:
                user_members[g] = rng.sample(range(n), min(n, 3))

    user_memberof = None
    group_memberof = None
    if a.memberof:
        user_memberof = [[] for _ in range(n)]
        group_memberof = [[] for _ in range(m)]
        for g in range(m):
            for u in user_members[g]:
                user_memberof[u].append(g)
            for c in group_members[g]:
                group_memberof[c].append(g)

    # ---- user attributes that need the rng, in a fixed order ----
    out = open(a.out, "w", encoding="utf-8", newline="\n") if a.out != "-" else sys.stdout
    w = out.write
    shown = []  # the arguments, without --out (so the output does not depend on it)
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--out":
            skip = True
        elif not arg.startswith("--out="):
            shown.append(arg)
    w(f"# generated by scripts/gen-directory.py {' '.join(shown)}\n")
    w(f"# {n} users, {m} groups under {suffix}\n\n")
    if a.with_base:
        rdn = suffix.split(",", 1)[0]
        attr, val = rdn.split("=", 1)
        if attr.lower() == "dc":
            w(f"dn: {suffix}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\n"
              f"dc: {val}\no: {val}\n\n")
        elif attr.lower() == "o":
            w(f"dn: {suffix}\nobjectClass: top\nobjectClass: organization\no: {val}\n\n")
        else:
            w(f"dn: {suffix}\nobjectClass: top\nobjectClass: organizationalUnit\nou: {val}\n\n")
        w(f"dn: {people}\nobjectClass: top\nobjectClass: organizationalUnit\nou: people\n\n")
        w(f"dn: {groups_base}\nobjectClass: top\nobjectClass: organizationalUnit\nou: groups\n\n")

    oc = ("objectClass: top\nobjectClass: person\nobjectClass: organizationalPerson\n"
          "objectClass: inetOrgPerson\n")
    if a.ad_attributes:
        oc += "objectClass: tenureTestAccount\n"
    buf = []
    for i in range(n):
        uid, given, sn, dept, title, etype, disabled = user_rec[i]
        cn = f"{given} {sn}"
        lines = [
            f"dn: {user_dn[i]}",
            oc.rstrip("\n"),
            f"uid: {uid}",
            ldif_line("cn", cn),
            ldif_line("sn", sn),
            ldif_line("givenName", given),
            ldif_line("displayName", cn),
            f"mail: {uid}@{domain}",
            f"employeeNumber: {100000 + i}",
            f"departmentNumber: {dept}",
            f"title: {title}",
            f"employeeType: {etype}",
        ]
        if i > 0:
            lines.append(f"manager: {user_dn[(i - 1) // 8]}")
        if a.ad_attributes:
            lines.append(f"userAccountControl: {514 if disabled else 512}")
            lines.append(ldif_line("objectGUID", rng.getrandbits(128).to_bytes(16, "little")))
            r = rng.random()
            if r < 0.7:
                expires = NEVER_EXPIRES
            elif r < 0.9:
                expires = "0"
            else:
                expires = str(rng.randrange(FILETIME_2020, FILETIME_2030))
            lines.append(f"accountExpires: {expires}")
            if disabled:
                lines.append("nsAccountLock: true")
        if disabled:
            lines.append(f"pwdAccountLockedTime: {LOCKED_FOREVER}")
        if user_memberof is not None:
            lines.extend(f"memberOf: {gdn[g]}" for g in user_memberof[i])
        buf.append("\n".join(lines))
        buf.append("\n\n")
        if len(buf) >= 4096:
            w("".join(buf))
            buf.clear()
    w("".join(buf))
    buf.clear()

    for g in range(m):
        lines = [f"dn: {gdn[g]}", "objectClass: top", "objectClass: groupOfNames",
                 f"cn: {names[g]}"]
        um = sorted(user_members[g])
        gm = group_members[g]
        lines.append(f"description: generated group ({len(um)} users, {len(gm)} groups)")
        if not um and not gm:
            lines.append("member:")  # the empty DN: groupOfNames needs a member
        lines.extend(f"member: {user_dn[u]}" for u in um)
        lines.extend(f"member: {gdn[c]}" for c in gm)
        if group_memberof is not None:
            lines.extend(f"memberOf: {gdn[p]}" for p in group_memberof[g])
        buf.append("\n".join(lines))
        buf.append("\n\n")
        if len(buf) >= 1024:
            w("".join(buf))
            buf.clear()
    w("".join(buf))
    if out is not sys.stdout:
        out.close()
    n_members = sum(len(x) for x in user_members) + sum(len(x) for x in group_members)
    print(f"gen-directory: {n} users, {m} groups, {n_members} member values "
          f"in {time.monotonic() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
