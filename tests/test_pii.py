"""PII detection and redaction rules, each on real text shipped inside installed packages."""
from __future__ import annotations

import re
import sysconfig
from importlib import metadata
from pathlib import Path

import pytest

from codecorpus import tokens
from codecorpus.pii.config import PiiConfig
from codecorpus.pii.detect import find_pii
from codecorpus.pii.redact import IPV4_REPLACEMENTS, IPV6_REPLACEMENTS, redact_text

SITE = Path(sysconfig.get_paths()["purelib"])
CFG = PiiConfig()


def real(relpath: str) -> str:
    path = SITE / relpath
    if not path.is_file():
        pytest.skip(f"{relpath} is not installed")
    return path.read_text(encoding="utf-8")


def snippet(text: str, needle: str, before: int = 200, after: int = 200) -> str:
    at = text.index(needle)
    return text[max(0, at - before):at + len(needle) + after]


def detectors(text: str, cfg: PiiConfig = CFG) -> set[str]:
    return {f.detector for f in find_pii(text, cfg)}


def test_private_key_block_is_found_and_armour_constants_are_not():
    pem = real("moto/moto_proxy/ca.key")
    found = find_pii(pem, CFG)
    assert [f.detector for f in found] == ["private_key"]
    assert "PRIVATE KEY-----" in pem[:found[0].start] and pem[found[0].end:].startswith("-----END")
    # cryptography's OpenSSH serializer spells the armour lines as constants: code, not a key.
    assert "private_key" not in detectors(real("cryptography/hazmat/primitives/serialization/ssh.py"))


def test_jwt_from_joserfc_docs_and_aws_documentation_key_kept():
    doc = metadata.distribution("joserfc").read_text("METADATA")
    assert "jwt" in detectors(snippet(doc, "eyJ0eXAiOiJKV1Qi"))
    # AWS's documented example key id (in moto) ends in EXAMPLE: a placeholder, not a secret.
    sts = real("moto/sts/models.py")
    assert detectors(snippet(sts, "AKIAIOSFODNN7EXAMPLE")) == set()


def test_author_email_in_package_metadata_and_example_email_kept():
    meta = metadata.distribution("pyahocorasick").read_text("METADATA")
    email_line = next(line for line in meta.splitlines() if line.startswith("Author-email"))
    found = find_pii(email_line, CFG)
    assert [f.kind for f in found] == ["email"]
    # RFC 2606 documentation domains are kept (botocore's own docs use them).
    docs = real("botocore/data/ses/2010-12-01/examples-1.json")
    assert "example.com" in docs and "email" not in detectors(docs)


def test_license_header_emails_are_a_config_choice():
    header = real("nltk/parse/generate.py")[:600]
    assert "email" in detectors(header)
    assert "email" not in detectors(header, PiiConfig(keep_license_header_emails=True))


def test_password_in_url_and_placeholder_url_kept():
    smb = real("fsspec/implementations/smb.py")
    found = find_pii(snippet(smb, "smb://myuser:mypassword@"), CFG)
    assert [(f.kind, f.detector) for f in found] == [("password", "url_password")]
    assert detectors("postgres://user:${PASSWORD}@db/app") == set()


def test_assigned_password_literal_and_variable():
    rds = real("moto/rds/models.py")
    hit = snippet(rds, '"password": "P@55w0rd!"', 80, 40)
    assert "assigned_password" in detectors(hit)
    # httpx asks for the password at run time: a call, not a literal.
    assert detectors(snippet(real("httpx2/_main.py"), "password = click.prompt", 0, 40)) == set()


def test_public_ip_found_private_dns_version_and_oid_kept():
    ec2 = real("botocore/data/ec2/2016-04-01/examples-1.json")
    assert "ipv4" in detectors(snippet(ec2, '"54.123.4.56"'))
    oids = real("cryptography/hazmat/_oid.py")
    assert "ipv4" not in detectors(oids)
    assert detectors("nameserver 8.8.8.8\nlisten 127.0.0.1 and 192.168.1.10, 10.0.0.1") == set()


def test_ip_replacement_keeps_version_and_is_consistent_within_a_file():
    ec2 = real("botocore/data/ec2/2016-04-01/examples-1.json")
    ips = sorted(set(re.findall(r'"(\d+\.\d+\.\d+\.\d+)"', ec2)))
    found = find_pii(ec2, CFG)
    redacted = redact_text(ec2, found, seed=7, file_id="f1")
    for ip in {ec2[f.start:f.end] for f in found if f.kind == "ip_address"}:
        assert ip not in redacted
    replaced = set(re.findall(r"172\.16\.\d+\.\d+|192\.168\.\d+\.\d+", redacted)) - set(ips)
    assert replaced and replaced <= set(IPV4_REPLACEMENTS)
    text = "a 2607:f8b0:4005:80a::200e b 2607:f8b0:4005:80a::200e c 93.184.216.34"
    out = redact_text(text, find_pii(text, CFG), seed=1, file_id="x").split()
    assert out[1] == out[3] and out[1] in IPV6_REPLACEMENTS and out[5] in IPV4_REPLACEMENTS


def test_replacements_are_deterministic_per_seed_and_file():
    ec2 = real("botocore/data/ec2/2016-04-01/examples-1.json")
    found = find_pii(ec2, CFG)
    a = redact_text(ec2, found, seed=3, file_id="f")
    assert a == redact_text(ec2, found, seed=3, file_id="f")
    outs = {redact_text(ec2, found, seed=s, file_id="f") for s in range(8)}
    assert len(outs) > 1


def test_tags_come_from_tokens():
    text = 'aws_secret_access_key = "9drTJvcXLB89EXgjUhGkNa4ZbCPn5FfeW2dZLYBL"  # mail jane.smith@gmail.com'
    out = redact_text(text, find_pii(text, CFG), seed=0, file_id="x")
    assert tokens.KEY in out and tokens.EMAIL in out and "9drTJ" not in out


def test_pathological_text_hits_the_time_limit_instead_of_stalling():
    import time
    from codecorpus.pii.detect import ScanTimeout
    # One huge line of anchor characters with NUL bytes: every position is a candidate.
    blob = ("\x00\x01AKIA" + "@" * 50 + "1.2.3." + "::" * 20) * 20000
    started = time.perf_counter()
    with pytest.raises(ScanTimeout):
        find_pii(blob, PiiConfig(max_seconds_per_file=0.2))
    assert time.perf_counter() - started < 2
