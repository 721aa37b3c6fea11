"""The load test's workload (scripts/loadtest.mjs runs it): the seeds' 10,000 requests a minute across the
core endpoints, plus live SSE streams.

Each `ApiUser` makes about one request a second (`constant_throughput(1)`), so `LOADTEST_USERS` API users
offer that many requests a second; the mix per user (task weights): public reads (`/health`, pricing),
authenticated reads (`/me`, the jobs list, one job), job submissions, and signed Stripe webhooks. Each
`StreamUser` holds one `/api/v1/jobs/stream` open for the whole run and records every frame it receives.

Input (environment): LOADTEST_SETUP, a JSON file written by scripts/loadtest.mjs with the users' tokens,
the webhook signing secret and a URL for http.request jobs to call.
"""

import hashlib
import hmac
import itertools
import json
import os
import time
import uuid
from datetime import datetime

from locust import HttpUser, constant_throughput, events, task

SETUP = json.load(open(os.environ["LOADTEST_SETUP"]))
TOKENS = itertools.cycle(SETUP["tokens"])
STREAM_TOKENS = itertools.cycle(SETUP["stream_tokens"])


def signed(body: str) -> str:
    t = str(int(time.time()))
    sig = hmac.new(SETUP["webhook_secret"].encode(), f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={t},v1={sig}"


class ApiUser(HttpUser):
    wait_time = constant_throughput(1)

    def on_start(self):
        self.auth = {"Authorization": f"Bearer {next(TOKENS)}"}
        self.job_ids = []

    @task(3)
    def health(self):
        self.client.get("/health", name="GET /health")

    @task(1)
    def pricing(self):
        self.client.get("/api/v1/credits/pricing", name="GET /api/v1/credits/pricing")

    @task(3)
    def me(self):
        self.client.get("/api/v1/me", headers=self.auth, name="GET /api/v1/me")

    @task(1)
    def list_jobs(self):
        self.client.get("/api/v1/jobs?limit=20", headers=self.auth, name="GET /api/v1/jobs")

    @task(1)
    def get_job(self):
        if self.job_ids:
            self.client.get(f"/api/v1/jobs/{self.job_ids[-1]}", headers=self.auth, name="GET /api/v1/jobs/{id}")

    @task(1)
    def submit_job(self):
        body = {"task_type": "http.request", "payload": {"url": f"{SETUP['job_url']}?k={uuid.uuid4().hex}"}}
        with self.client.post("/api/v1/jobs", json=body, headers=self.auth, name="POST /api/v1/jobs", catch_response=True) as r:
            if r.status_code == 202:
                self.job_ids = (self.job_ids + [r.json()["data"]["id"]])[-10:]
                r.success()
            else:
                r.failure(f"HTTP {r.status_code}: {r.text[:200]}")

    @task(1)
    def webhook(self):
        event = {"id": f"evt_load{uuid.uuid4().hex}", "object": "event", "type": "charge.succeeded",
                 "created": int(time.time()), "livemode": False, "data": {"object": {"id": f"ch_{uuid.uuid4().hex}"}}}
        body = json.dumps(event)
        self.client.post("/api/v1/billing/webhooks", data=body, name="POST /api/v1/billing/webhooks",
                         headers={"Content-Type": "application/json", "Stripe-Signature": signed(body)})


class StreamUser(HttpUser):
    """Holds one SSE stream open. Each `job` frame is recorded as a request named `SSE frame delivery`
    whose time is the frame's delivery latency: now minus the job's `updated_at` (same machine clock)."""

    weight = 0  # spawned with fixed_count

    fixed_count = int(os.environ.get("LOADTEST_STREAMS", "100"))

    @task
    def stream(self):
        token = next(STREAM_TOKENS)
        with self.client.get("/api/v1/jobs/stream", headers={"Authorization": f"Bearer {token}"}, stream=True,
                             name="GET /api/v1/jobs/stream (open)", catch_response=True, timeout=None) as r:
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}")
                time.sleep(5)
                return
            r.success()
            for line in r.iter_lines():
                if line.startswith(b"data:"):
                    try:
                        updated = json.loads(line[5:])["updated_at"]
                        sent = datetime.fromisoformat(updated.replace("Z", "+00:00")).timestamp()
                        latency = max(0.0, (time.time() - sent) * 1000)
                    except (ValueError, KeyError):
                        latency = 0.0
                    events.request.fire(request_type="SSE", name="SSE frame delivery", response_time=latency,
                                        response_length=len(line), exception=None, context={})
                if not self.environment.runner or self.environment.runner.state in ("stopping", "stopped"):
                    break
