"""The PII and secret formats, as regular expressions, and the literal anchors that find their candidates.

A file is scanned once by a prefilter of literal anchors (one Aho-Corasick automaton, plus two
literal-led regexes for address shapes); a detector's full pattern, and the slower checks in `detect.py`
(entropy, address validation, placeholder lists), only run at the few anchors found. Token formats follow
what each service documents:
AWS IAM key ids (AKIA/ASIA...), GitHub (ghp_/gho_/ghu_/ghs_/ghr_, github_pat_), GitLab (glpat-...),
Slack (xox?-, hooks.slack.com), Stripe (sk_/rk_ live/test), npm (npm_), Google (AIza, GOCSPX-, ya29.),
Azure storage connection strings (AccountKey=) and Entra client secrets (..Q~..), JWTs (RFC 7519),
PEM private key blocks (RFC 7468).

Every pattern is bounded (no unbounded repeat that can backtrack), so checking one anchor costs at most
a few thousand steps, and a scan stays linear in the text.
"""
from __future__ import annotations

import re

# A token must not be glued to a longer identifier on either side.
_L = r"(?<![A-Za-z0-9_])"
_R = r"(?![A-Za-z0-9_])"
_B64 = r"[A-Za-z0-9_-]"

# Service tokens: the value is the whole match. name -> pattern (no capture groups of their own).
TOKENS: dict[str, str] = {
    "aws_access_key_id": _L + r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA|A3T[A-Z0-9])[A-Z0-9]{16}" + _R,
    "github_token": _L + r"(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,255})" + _R,
    "gitlab_token": _L + r"gl(?:pat|dt|rt|ptt|soat|cbt|oas)-[A-Za-z0-9_-]{20,64}" + _R,
    "slack_token": _L + r"(?:xox[abposer]-[0-9A-Za-z-]{10,250}|xapp-\d-[A-Z0-9]{6,16}-\d{6,16}-[a-f0-9]{32,80})" + _R,
    "stripe_key": _L + r"(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{10,247}" + _R,
    "npm_token": _L + r"npm_[A-Za-z0-9]{36}" + _R,
    "gcp_api_key": _L + r"AIza[0-9A-Za-z_-]{35}" + r"(?![A-Za-z0-9_-])",
    "gcp_oauth_secret": _L + r"GOCSPX-[A-Za-z0-9_-]{28}" + r"(?![A-Za-z0-9_-])",
    "gcp_access_token": _L + r"ya29\.[0-9A-Za-z_-]{20,2048}" + r"(?![A-Za-z0-9_-])",
    "azure_client_secret": _L + r"[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}" + r"(?![A-Za-z0-9_~.-])",
    "jwt": _L + r"eyJ" + _B64 + r"{5,2048}\.eyJ" + _B64 + r"{5,8192}\." + _B64 + r"{0,2048}" + r"(?![A-Za-z0-9_.-])",
}

# Detectors where only a sub-span (group ``<name>_v``) is the secret.
SPANS: dict[str, str] = {
    # RFC 7468 armour; the body holds base64, optional RFC 1421 headers, or JSON-escaped newlines.
    "private_key": r"-----BEGIN[A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----"
                   r"(?P<private_key_v>[A-Za-z0-9+/=\s\\:,-]{32,20000}?)"
                   r"-----END[A-Z0-9 ]{0,30}PRIVATE KEY(?: BLOCK)?-----",
    "slack_webhook": r"hooks\.slack\.com/services/(?P<slack_webhook_v>T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}/[A-Za-z0-9]{20,32})",
    "azure_storage_key": r"(?:AccountKey|SharedAccessKey)=(?P<azure_storage_key_v>[A-Za-z0-9+/]{30,100}={0,2})",
    # scheme://user:password@host (RFC 3986 userinfo)
    "url_password": r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{1,15}://[^\s:/@'\"<>`]{1,64}:"
                    r"(?P<url_password_v>[^\s:/@'\"<>`]{1,128})@",
    # name = value, where the name says secret/token/password/...; quoted or bare value.
    "assigned": r"(?P<assigned_name>(?i:passw(?:or)?d|passwd|pwd|passphrase|secret|token|auth[_-]?key|apikey"
                r"|(?:api|access|secret|private|signing|encryption|master|app|client|consumer|account)[_.-]?key"
                r"|credential)s?)"
                r"[A-Za-z0-9_.-]{0,30}?['\"]?\]?\s{0,3}(?:=|:=|==|:|=>|>)\s{0,3}"
                r"(?:[bfruBFRU]{0,2}(?P<assigned_q>['\"`])(?P<assigned_qv>[^'\"`\n]{1,256})(?P=assigned_q)"
                r"|(?P<assigned_uv>[^\s'\"`;,&()\[\]{}<>=][^\s'\"`;,&()\[\]{}<>]{0,255}))",
    "email": r"(?<![A-Za-z0-9._%+-])(?P<email_v>[A-Za-z0-9._%+-]{1,64}+@"
             r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24})(?![A-Za-z0-9-])",
    "ipv4": r"(?<![\w.])(?P<ipv4_v>(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))"
            r"(?!\w|\.\w)",
    "ipv6": r"(?<![\w:.])(?P<ipv6_v>[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{0,4}){2,7})(?![\w:.])",
}

# Literal anchors for the one-pass prefilter (an Aho-Corasick automaton over the lower-cased text).
# Each anchor names its detector and where the detector's full pattern starts relative to it:
# ("at", k) means exactly k characters before the anchor; ("run", chars, k) means at the start of the run
# of ``chars`` (a character class) that ends at the anchor, at most k long (an email's local part).
ANCHORS: dict[str, tuple[str, tuple[str, int]]] = {}


def _anchor(detector: str, where: tuple[str, int], *literals: str) -> None:
    for literal in literals:
        ANCHORS[literal] = (detector, where)


_anchor("aws_access_key_id", ("at", 0), "akia", "asia", "abia", "acca", "agpa", "aida", "aroa", "aipa", "anpa",
        "anva", "apka", "a3t")
_anchor("github_token", ("at", 0), "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")
_anchor("gitlab_token", ("at", 0), "glpat-", "gldt-", "glrt-", "glptt-", "glsoat-", "glcbt-", "gloas-")
_anchor("slack_token", ("at", 0), "xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxe-", "xoxr-", "xapp-")
_anchor("stripe_key", ("at", 0), "sk_live_", "sk_test_", "rk_live_", "rk_test_")
_anchor("npm_token", ("at", 0), "npm_")
_anchor("gcp_api_key", ("at", 0), "aiza")
_anchor("gcp_oauth_secret", ("at", 0), "gocspx-")
_anchor("gcp_access_token", ("at", 0), "ya29.")
_anchor("jwt", ("at", 0), "eyj")
_anchor("private_key", ("at", 0), "-----begin")
_anchor("slack_webhook", ("at", 0), "hooks.slack.com/services/")
_anchor("azure_storage_key", ("at", 0), "accountkey=", "sharedaccesskey=")
_anchor("azure_client_secret", ("at", 4), "q~")
_anchor("url_password", ("run", "A-Za-z0-9+.-", 16), "://")
_anchor("email", ("run", "A-Za-z0-9._%+-", 64), "@")
_anchor("assigned", ("at", 0), "passw", "pwd", "passphrase", "secret", "token", "credential", *(
    f"{word}{sep}key" for word in ("api", "access", "private", "signing", "encryption", "master", "app",
                                   "client", "consumer", "account", "auth")
    for sep in ("", "_", "-", ".")))

# Address shapes have no literal to anchor on; these two regexes start with a literal ('.' or ':'),
# which Python's regex engine searches for at memchr speed.
IPV4_ANCHOR = re.compile(r"\.\d{1,3}\.\d{1,3}\.\d")      # the '.' after the first octet
IPV6_ANCHOR = re.compile(r":[0-9A-Fa-f]{0,4}:")           # a colon pair after the first group
IPV4_WHERE = ("run", "0-9", 3)
IPV6_WHERE = ("run", "0-9A-Fa-f", 4)

# Full patterns, used only at anchored positions.
FULL: dict[str, re.Pattern] = {name: re.compile(body) for name, body in {**TOKENS, **SPANS}.items()}

# For classifying a value already found by `assigned` (so `api_key = "AIza..."` reports gcp_api_key).
TOKEN_FULL = {name: FULL[name] for name in TOKENS}
