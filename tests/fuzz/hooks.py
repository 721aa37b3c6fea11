"""Schemathesis hooks for the contract fuzz (tests/fuzz/main.rs).

Stripe signs every webhook body; a fuzzer cannot. This hook signs each generated webhook body with the
test stack's endpoint secret exactly as Stripe does (`t=<unix>,v1=<HMAC-SHA256("<t>.<body>")>`), so the
fuzzer reaches the event validation behind the signature check. A case without the signature header (the
negative case for that required header) is left unsigned. Nothing else is changed.
"""
import hashlib
import hmac
import json
import os
import time

import requests

import schemathesis

WEBHOOK_PATH = "/api/v1/billing/webhooks"


@schemathesis.hook
def before_call(context, case, kwargs):
    secret = os.environ.get("FUZZ_STRIPE_WEBHOOK_SECRET")
    if not secret or case.operation.path != WEBHOOK_PATH:
        return
    # A negative case for the header itself (left out) is sent as generated.
    if "Stripe-Signature" not in (case.headers or {}):
        return
    body = case.body
    if isinstance(body, bytes):
        raw = body
    elif body is None or isinstance(body, (dict, list, str, int, float, bool)):
        # The bytes `requests` will send for `json=body` (its own serialisation), so the signature covers
        # exactly them; the case itself is left as generated, so every check judges what was generated.
        raw = requests.compat.json.dumps(body, allow_nan=False).encode("utf-8") if body is not None else b"null"
    else:
        return  # no body generated (the required-body negative case): nothing to sign
    t = str(int(time.time()))
    sig = hmac.new(secret.encode(), t.encode() + b"." + raw, hashlib.sha256).hexdigest()
    case.headers = {**(case.headers or {}), "Stripe-Signature": f"t={t},v1={sig}"}
