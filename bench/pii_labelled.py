"""Per-kind recall and false-positive rate on a labelled set: real files with inserted PII and decoys.

    .venv/bin/python bench/pii_labelled.py [N_FILES] [SEED]

Host files are real Python files from site-packages (fixed seed). Into each, one line is inserted: a
positive built from the format its service documents (random characters from the documented alphabet
and length, never from our own regexes), or a negative (documented placeholders, private/loopback/doc
addresses, DNS resolvers, versions, hashes, UUIDs, example emails). A positive counts as found when a
finding of its kind covers the inserted value; a negative is a false positive when any finding overlaps it.
"""
from __future__ import annotations

import random
import string
import sys
import uuid
import hashlib
from collections import Counter

from bench.pii_speed import sample
from codecorpus.pii.config import PiiConfig
from codecorpus.pii.detect import find_pii

A, D, U, L = string.ascii_letters + string.digits, string.digits, string.ascii_uppercase, string.ascii_lowercase


def pick(rng, alphabet, n):
    return "".join(rng.choice(alphabet) for _ in range(n))


def positives(rng):
    """(kind, detector family, line template with {v}, value)."""
    b64 = A + "+/"
    yield "key", "aws_access_key_id", 'aws_access_key_id = "{v}"', "AKIA" + pick(rng, U + "234567", 16)
    yield "key", "aws_secret_key", "AWS_SECRET_ACCESS_KEY={v}", pick(rng, b64, 40)
    yield "key", "github_token", "GITHUB_TOKEN: {v}", "ghp_" + pick(rng, A, 36)
    yield "key", "gitlab_token", 'headers = {{"PRIVATE-TOKEN": "{v}"}}', "glpat-" + pick(rng, A + "_-", 20)
    yield "key", "slack_token", 'client = WebClient("{v}")', "xoxb-" + pick(rng, D, 12) + "-" + pick(rng, D, 13) + "-" + pick(rng, A, 24)
    yield "key", "stripe_key", 'stripe.api_key = "{v}"', "sk_live_" + pick(rng, A, 24)
    yield "key", "npm_token", "//registry.npmjs.org/:_authToken={v}", "npm_" + pick(rng, A, 36)
    yield "key", "gcp_api_key", 'MAPS = "{v}"', "AIza" + pick(rng, A + "_-", 35)
    yield "key", "azure_storage_key", 'conn = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={v};"', pick(rng, A + "+/", 86) + "=="
    header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    yield "key", "jwt", 'Authorization = "Bearer {v}"', header + ".eyJ" + pick(rng, A + "_-", 40) + "." + pick(rng, A + "_-", 43)
    body = "\n".join(pick(rng, A + "+/", 64) for _ in range(6))
    yield "key", "private_key", "KEY = '''-----BEGIN RSA PRIVATE KEY-----\n{v}\n-----END RSA PRIVATE KEY-----'''", body
    yield "key", "assigned_secret", 'SECRET_KEY = "{v}"', pick(rng, A + "!@#%^*-_", 50)
    yield "password", "url_password", 'DB = "postgresql://app:{v}@db1.internal:5432/app"', pick(rng, A, 10) + rng.choice("!_-") + pick(rng, D, 2)
    yield "password", "assigned_password", 'db_password = "{v}"', pick(rng, L, 6) + pick(rng, D, 3) + rng.choice("!#")
    yield "email", "email", "# Maintainer: {v}", pick(rng, L, 7) + "." + pick(rng, L, 6) + "@" + rng.choice(["gmail.com", "univ-lyon1.fr", "corp.co.uk", "proton.me"])
    yield "ip_address", "ipv4", 'HOST = "{v}"', ".".join([str(rng.randint(11, 99)), *(str(rng.randint(1, 254)) for _ in range(3))])
    yield "ip_address", "ipv6", "server {v} port 443", "2a0%d:%x:%x::%x" % (rng.randint(0, 9), rng.randint(1, 65535), rng.randint(1, 65535), rng.randint(1, 65535))


def negatives(rng):
    yield "aws documented example", 'aws_access_key_id = "{v}"', "AKIAIOSFODNN7EXAMPLE"
    yield "aws documented example", "aws_secret_access_key = {v}", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    yield "example email", "# contact {v}", rng.choice(["user@example.com", "jane@example.org", "you@yourdomain.com"])
    yield "loopback/private ip", 'HOST = "{v}"', rng.choice(["127.0.0.1", "10.%d.0.1" % rng.randint(0, 255), "192.168.%d.%d" % (rng.randint(0, 255), rng.randint(1, 254)), "172.20.0.%d" % rng.randint(1, 254)])
    yield "documentation ip", 'HOST = "{v}"', rng.choice(["192.0.2.%d" % rng.randint(1, 254), "198.51.100.7", "203.0.113.9", "2001:db8::%x" % rng.randint(1, 999)])
    yield "dns server", "nameserver {v}", rng.choice(["8.8.8.8", "1.1.1.1", "9.9.9.9", "208.67.222.222"])
    yield "version", "__version__ = 'v{v}'", ".".join(str(rng.randint(0, 30)) for _ in range(4))
    yield "version", 'requires = ["pkg=={v}"]', ".".join(str(rng.randint(0, 30)) for _ in range(4))
    yield "git hash", "commit = '{v}'", hashlib.sha1(str(rng.random()).encode()).hexdigest()
    yield "uuid", 'api_key_id = "{v}"', str(uuid.UUID(int=rng.getrandbits(128)))
    yield "lockfile checksum", '"integrity": "{v}"', "sha512-" + pick(rng, A + "+/", 86) + "=="
    yield "placeholder", 'password = "{v}"', rng.choice(["<your-password>", "${DB_PASSWORD}", "changeme", "********", "password"])
    yield "variable", "password = {v}", rng.choice(["os.environ['PW']", "getpass.getpass()", "self.password", "args.password"])


def main(n: int, seed: int) -> None:
    rng = random.Random(seed)
    hosts = [p.read_text(encoding="utf-8", errors="replace") for p in sample(n, seed) if p.suffix == ".py"]
    cfg = PiiConfig(max_seconds_per_file=60)
    hit, total, fp, neg = Counter(), Counter(), Counter(), Counter()
    for i, host in enumerate(hosts):
        lines = host.splitlines(True)
        at = rng.randint(0, len(lines))
        prefix = "".join(lines[:at]) + ("\n" if at and not lines[at - 1].endswith("\n") else "")
        cases = [("pos",) + p for p in positives(rng)] + [("neg", None, name, line, v) for name, line, v in negatives(rng)]
        kind_type, kind, name, line, value = cases[i % len(cases)]
        inserted = line.format(v=value)
        text = prefix + inserted + "\n" + "".join(lines[at:])
        start = len(prefix) + inserted.index(value)
        end = start + len(value)
        found = find_pii(text, cfg)
        if kind_type == "pos":
            total[name] += 1
            hit[name] += any(f.kind == kind and f.start <= start and f.end >= end for f in found)
        else:
            neg[name] += 1
            fp[name] += any(f.start < end and f.end > start for f in found)
    print(f"{'positive (detector family)':28s} {'n':>5s} {'recall':>7s}")
    for name in total:
        print(f"{name:28s} {total[name]:5d} {hit[name] / total[name]:7.3f}")
    print(f"{'negative':28s} {'n':>5s} {'FP rate':>7s}")
    for name in neg:
        print(f"{name:28s} {neg[name]:5d} {fp[name] / neg[name]:7.3f}")
    print(f"all negatives: {sum(neg.values())}, false positives: {sum(fp.values())}"
          f" ({sum(fp.values()) / max(1, sum(neg.values())):.3%})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000, int(sys.argv[2]) if len(sys.argv) > 2 else 0)
