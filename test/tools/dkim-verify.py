#!/usr/bin/env python3
"""Verifies every DKIM-Signature of a message with dkimpy, an implementation independent of the
signer's (rspamd), against the TXT records given (a stack's dnsRecords output) instead of DNS.

stdin: {"message": "<the message as received>", "records": [{"name", "type", "value"}, ...]}
stdout: [{"domain", "selector", "algorithm", "valid"}, ...], one per signature, top down.
"""
import json
import sys

import dkim


def main():
    request = json.load(sys.stdin)
    txt = {}
    for record in request["records"]:
        if record["type"] == "TXT":
            txt.setdefault(record["name"].lower().rstrip("."), []).append(record["value"])

    def dnsfunc(name, timeout=5):
        values = txt.get(name.decode("ascii").lower().rstrip("."))
        return values[0].encode("ascii") if values else None

    message = request["message"].encode("utf-8")
    headers, _ = dkim.rfc822_parse(message)
    signatures = [value for name, value in headers if name.lower() == b"dkim-signature"]
    results = []
    for index, value in enumerate(signatures):
        tags = dkim.util.parse_tag_value(b"".join(value.split()))
        valid = dkim.DKIM(message).verify(idx=index, dnsfunc=dnsfunc)
        results.append(
            {
                "domain": tags.get(b"d", b"").decode(),
                "selector": tags.get(b"s", b"").decode(),
                "algorithm": tags.get(b"a", b"").decode(),
                "valid": bool(valid),
            }
        )
    json.dump(results, sys.stdout)


main()
