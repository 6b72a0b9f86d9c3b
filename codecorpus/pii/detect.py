"""Find PII and secrets in one text: one prefilter pass for anchors, then full patterns and checks on them.

`find_pii(text, cfg, path)` returns `Finding`s (span of the value to replace, kind, detector) in text
order, or raises `ScanTimeout` when a file takes longer than the configured limit. What is kept on
purpose (not PII): non-global IP addresses (loopback, private, link-local, documentation ranges),
popular public DNS resolvers, IPs in a version context, documentation/example emails and keys,
placeholders, hashes, UUIDs and lock-file checksums, and (as a config choice) license-header emails.
"""
from __future__ import annotations

import base64
import ipaddress
import json
import math
import re
import time
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import ahocorasick

from codecorpus.pii import patterns
from codecorpus.pii.config import PiiConfig

# StarPII leaves these public resolvers alone (bigcode-dataset pii/ner/pii_redaction/utils.py).
POPULAR_DNS_SERVERS = frozenset({
    "8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "76.76.19.19", "76.223.122.150", "9.9.9.9",
    "149.112.112.112", "208.67.222.222", "208.67.220.220", "8.26.56.26", "8.20.247.20",
    "94.140.14.14", "94.140.15.15",
})
# RFC 2606 / RFC 6761 reserved names, and domains only ever used as placeholders.
EXAMPLE_DOMAINS = ("example.com", "example.org", "example.net", "example.edu", "test.com", "domain.com",
                   "email.com", "company.com", "yourdomain.com", "mydomain.com", "host.com", "foo.com",
                   "bar.com", "acme.com")
RESERVED_TLDS = ("example", "test", "invalid", "localhost", "local", "internal")
# "icon@2x.png": the part after @ of asset names is a file extension, not a top-level domain.
FILE_EXTENSION_TLDS = frozenset({
    "png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "js", "mjs", "ts", "tsx", "jsx", "css",
    "scss", "less", "map", "json", "html", "htm", "xml", "py", "rb", "go", "rs", "java", "php", "md", "txt",
    "yml", "yaml", "toml", "lock", "zip", "gz", "tar", "so", "dll", "exe", "wasm", "woff", "woff2", "ttf",
})
PLACEHOLDER_LOCALPARTS = frozenset({
    "user", "username", "name", "you", "your", "youremail", "your.email", "your.name", "yourname", "me",
    "someone", "somebody", "email", "mail", "foo", "bar", "test", "john.doe", "jane.doe", "johndoe",
    "janedoe", "firstname.lastname", "first.last", "noreply", "no-reply", "nobody", "x", "xxx", "abc",
    "a", "b", "info", "admin", "root",
})
# Words that mark a value as a stand-in rather than a credential (AWS's own docs end keys in EXAMPLE).
PLACEHOLDER_WORDS = ("example", "sample", "dummy", "placeholder", "your_", "your-", "yourpass", "yourkey",
                     "yoursecret", "xxxx", "****", "....", "changeme", "change_me", "redacted", "<", ">",
                     "${", "{{", "%s", "%(", "#{", "process.env", "os.environ", "getenv", "env[",
                     "insert", "replace", "fixme", "todo", "{", "}")
PLACEHOLDER_VALUES = frozenset({
    "password", "passwd", "pass", "pwd", "secret", "token", "key", "none", "null", "nil", "true", "false",
    "undefined", "string", "str", "required", "optional", "hidden", "empty", "default", "value", "test",
    "bytes", "int", "bool", "any", "object", "text",
})
VERSION_CONTEXT = re.compile(r"(?i)(?:version|ver|release|build|v|==|>=|<=|~=|\^|~|@)[\s:=\"'(]{0,3}$")
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
HASH_PREFIX = re.compile(r"(?i)^(?:sha(?:1|224|256|384|512)|md5|blake2b?|xxh(?:32|64|3)?)[-:=]")
WORDS_ONLY = re.compile(r"[A-Za-z_ -]+")
HEX = re.compile(r"[0-9a-fA-F]+")
LOCK_FILES = ("package-lock.json", "yarn.lock", "pnpm-lock.yaml", "cargo.lock", "poetry.lock",
              "pipfile.lock", "composer.lock", "gemfile.lock", "go.sum", "flake.lock", "uv.lock",
              "npm-shrinkwrap.json", "packages.lock.json", "podfile.lock", "mix.lock", "pubspec.lock")
LICENSE_WORDS = ("copyright", "author", "license", "licence", "maintainer", "(c)", "©")
PASSWORD_NAMES = ("pass", "pwd")

CHECK_EVERY = 64        # anchors between two looks at the clock
WINDOW = 1 << 16        # the prefilter runs window by window so the clock is checked on one huge line
ANCHOR_REACH = 64       # longer than any anchor

@dataclass(frozen=True)
class Finding:
    start: int        # offsets into the original text, in characters, end exclusive
    end: int
    kind: str         # email, key, password, ip_address
    detector: str     # which rule found it (aws_access_key_id, email, assigned_secret, ...)


class ScanTimeout(Exception):
    """A file took longer than `PiiConfig.max_seconds_per_file`; the stage drops it with a ledger row."""

    def __init__(self, seconds: float):
        super().__init__(f"pii scan exceeded its time limit after {seconds:.2f}s")
        self.seconds = seconds


@lru_cache(maxsize=1)
def _automaton() -> ahocorasick.Automaton:
    # Built once per Python worker, then reused for every file of every batch.
    automaton = ahocorasick.Automaton()
    for literal, (detector, where) in patterns.ANCHORS.items():
        automaton.add_word(literal, (len(literal), detector, where))
    automaton.make_automaton()
    return automaton


def _lower(text: str) -> str:
    """Lower-case with offsets unchanged (a few non-ASCII letters grow when lower-cased)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def anchors(text: str, low: str | None = None, begin: int = 0, end: int | None = None
            ) -> list[tuple[int, str, tuple]]:
    """(offset, detector, where) of every anchor starting in [begin, end), by offset: the prefilter."""
    low = _lower(text) if low is None else low
    end = len(text) if end is None else end
    reach = min(len(text), end + ANCHOR_REACH)      # anchors that start inside may end past ``end``
    found = [(stop - size + 1, detector, where)
             for stop, (size, detector, where) in _automaton().iter(low, begin, reach)]
    found += [(m.start(), "ipv4", patterns.IPV4_WHERE) for m in patterns.IPV4_ANCHOR.finditer(text, begin, reach)]
    found += [(m.start(), "ipv6", patterns.IPV6_WHERE) for m in patterns.IPV6_ANCHOR.finditer(text, begin, reach)]
    found = [a for a in found if begin <= a[0] < end]
    found.sort(key=lambda a: a[0])
    return found


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value``'s own character distribution."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def is_placeholder(value: str) -> bool:
    low = value.lower()
    if low in PLACEHOLDER_VALUES or len(set(low)) <= 2:
        return True
    return any(word in low for word in PLACEHOLDER_WORDS)


def looks_random(value: str, cfg: PiiConfig) -> bool:
    """A key or token value: long, no spaces, mixes letters and digits, high entropy, not a hash/UUID."""
    if len(value) < cfg.min_key_length or any(c.isspace() for c in value):
        return False
    if not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
        return False
    if UUID.fullmatch(value) or HASH_PREFIX.match(value) or "://" in value or value.count(".") > 2:
        return False
    if HEX.fullmatch(value) and len(value) < 32:
        return False    # short hex: ids and truncated hashes, not keys (hex API keys are 32+)
    return shannon_entropy(value) >= cfg.min_key_entropy


def is_lock_file(path: str | None) -> bool:
    return bool(path) and path.rsplit("/", 1)[-1].lower() in LOCK_FILES


def _public_ip(value: str, text: str, start: int) -> bool:
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return False
    if ip.version == 6:
        # Only global unicast (2000::/3) is a real public address; this also rejects "a::b" in C++.
        if not ip in ipaddress.ip_network("2000::/3") or not ip.is_global:
            return False
        return sum(c.isdigit() for c in value) > 0
    if not ip.is_global or value in POPULAR_DNS_SERVERS:
        return False
    if int(value.split(".", 1)[0]) <= 2:
        return False    # 1.x.x.x / 2.x.x.x in code are versions and ASN.1 OIDs (2.5.29.17), rarely hosts
    return not VERSION_CONTEXT.search(text[max(0, start - 12):start])


def _keep_email(value: str, text: str, start: int, cfg: PiiConfig) -> bool:
    local, _, domain = value.rpartition("@")
    domain = domain.lower()
    tld = domain.rsplit(".", 1)[-1]
    if tld in FILE_EXTENSION_TLDS or tld in RESERVED_TLDS or local.lower() in PLACEHOLDER_LOCALPARTS:
        return True
    if any(domain == d or domain.endswith("." + d) for d in EXAMPLE_DOMAINS):
        return True
    if cfg.keep_license_header_emails and start < cfg.license_header_chars:
        header = text[:cfg.license_header_chars].lower()
        return any(word in header for word in LICENSE_WORDS)
    return False


def _jwt_header_ok(token: str) -> bool:
    head = token.split(".", 1)[0]
    try:
        return "alg" in json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (ValueError, UnicodeDecodeError, TypeError):
        return False


# `passwords_hashed?`, `save!`: a Ruby predicate or bang method call, code rather than a literal.
RUBY_METHOD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*[?!]")


def _classify_assigned(m: re.Match, cfg: PiiConfig, path: str | None) -> Finding | None:
    quoted = m.group("assigned_qv") is not None
    group = "assigned_qv" if quoted else "assigned_uv"
    value, start, end = m.group(group), m.start(group), m.end(group)
    for name, token in patterns.TOKEN_FULL.items():
        if token.fullmatch(value):
            return None if is_placeholder(value) else Finding(start, end, "key", name)
    if is_placeholder(value) or is_lock_file(path):
        return None
    if not quoted and ("." in value or "->" in value or "::" in value or value[0] in "$@&*%-"
                       or WORDS_ONLY.fullmatch(value) or RUBY_METHOD.fullmatch(value)):
        return None     # a variable, attribute or call, not a literal
    name = m.group("assigned_name").lower()
    if any(word in name for word in PASSWORD_NAMES):
        # Letters-only values are field names, keywords and labels far more often than passwords.
        if len(value) < cfg.min_password_length or WORDS_ONLY.fullmatch(value):
            return None
        return Finding(start, end, "password", "assigned_password")
    if not looks_random(value, cfg) or any(word in value.lower() for word in ("secret", "token", "passw")):
        return None
    detector = "aws_secret_key" if len(value) == 40 and re.fullmatch(r"[A-Za-z0-9/+]{40}", value) else "assigned_secret"
    return Finding(start, end, "key", detector)


def _check(m: re.Match, name: str, text: str, cfg: PiiConfig, path: str | None) -> Finding | None:
    if name == "assigned":
        return _classify_assigned(m, cfg, path)
    group = name + "_v" if name in patterns.SPANS else 0
    value, start, end = m.group(group), m.start(group), m.end(group)
    if name in ("ipv4", "ipv6"):
        return Finding(start, end, "ip_address", name) if _public_ip(value, text, start) else None
    if name == "email":
        return None if _keep_email(value, text, start, cfg) else Finding(start, end, "email", name)
    if name == "url_password":
        if is_placeholder(value) or value.startswith(("$", "%", "*")) or len(value) < cfg.min_password_length:
            return None
        return Finding(start, end, "password", name)
    if name == "jwt" and not _jwt_header_ok(value):
        return None
    if name == "private_key" and sum(c.isalnum() for c in value) < 64:
        return None
    if name == "azure_client_secret" and not looks_random(value, cfg):
        return None
    if is_placeholder(value):
        return None
    return Finding(start, end, "key", name)


@lru_cache(maxsize=None)
def _not_in(chars: str) -> re.Pattern:
    return re.compile(f"[^{chars}]")


def _candidate(text: str, pos: int, detector: str, where: tuple) -> re.Match | None:
    """The full pattern's match that starts where this anchor says, if any."""
    if where[0] == "at":
        start = pos - where[1]
    else:
        # Walk back over the run of ``chars`` before the anchor: search the reversed slice in C.
        _, chars, longest = where
        before = text[max(0, pos - longest - 1):pos][::-1]
        stop = _not_in(chars).search(before)
        start = pos - (stop.start() if stop else len(before))
    return patterns.FULL[detector].match(text, start) if start >= 0 else None


def find_pii(text: str, cfg: PiiConfig, path: str | None = None) -> list[Finding]:
    """Every PII span of ``text`` that ``cfg`` asks to redact, in text order, non-overlapping."""
    wanted = set(cfg.kinds)
    started = time.perf_counter()
    found: list[Finding] = []
    covered = 0          # end of the last match: anchors inside it belong to it
    low = _lower(text)
    for begin in range(0, len(text), WINDOW):
        for i, (pos, detector, where) in enumerate(anchors(text, low, begin, begin + WINDOW)):
            if i % CHECK_EVERY == 0 and time.perf_counter() - started > cfg.max_seconds_per_file:
                raise ScanTimeout(time.perf_counter() - started)
            if pos < covered:
                continue
            m = _candidate(text, pos, detector, where)
            if m is None or m.start() < covered:
                continue
            finding = _check(m, detector, text, cfg, path)
            # A URL's userinfo is settled by its own check: "user:pass@host" must not turn into an email.
            if finding is not None or detector == "url_password":
                covered = m.end()
            if finding is not None and finding.kind in wanted:
                found.append(finding)
    return found
