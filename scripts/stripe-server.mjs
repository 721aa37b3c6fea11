#!/usr/bin/env node
// Local stand-in for Stripe, started by `npm run dev` and by the tests (scripts/stack.mjs). It speaks
// Stripe's API (version 2025-10-29.clover shapes) for every endpoint the Worker calls, hosts the pages a
// person uses (Checkout, Customer Portal), and sends signed webhook events to the Worker the way Stripe
// does: `Stripe-Signature: t=…,v1=HMAC-SHA256(secret, "t.body")`, unordered, retried on failure.
//
// API (Authorization: Bearer <STRIPE_SECRET_KEY>; form-encoded bodies; Stripe's error envelope
// {error: {type, code?, message, param?}}; a replayed Idempotency-Key gets the first answer back):
//   POST /v1/checkout/sessions                      → checkout.session with a hosted `url`
//   GET  /v1/checkout/sessions/{id}
//   POST /v1/billing_portal/sessions                → billing_portal.session with a hosted `url`
//   GET  /v1/subscriptions/{id} · /v1/customers/{id} · /v1/invoices/{id} · /v1/prices/{id}   (404 resource_missing)
//   POST /v1/billing/meter_events                   (identifier unique per meter event)
//   GET  /v1/billing/meters/{id}/event_summaries?customer=&start_time=&end_time=
//
// Hosted pages (what a person opens): GET /c/pay/{session} with a Pay button (POST /c/pay/{session}),
// which creates the customer, the subscription and its paid invoice (or the one-off payment), sends
// customer.created, customer.subscription.created, invoice.paid and checkout.session.completed, and
// redirects to success_url. GET /p/session/{id}: the portal, to switch plan (customer.subscription.updated
// and a proration invoice.paid) or cancel (customer.subscription.deleted); back to return_url.
//
// Development routes (not Stripe's API):
//   POST /_dev/trigger {event, email, account_id?, plan?, pack?}   what `npm run stripe -- trigger` calls:
//        checkout.session.completed | customer.subscription.created (a paid checkout for plan or pack),
//        customer.subscription.updated (--plan), customer.subscription.deleted, invoice.paid (a renewal),
//        invoice.payment_failed (a failed renewal: the subscription goes past_due), customer.updated
//   POST /_dev/objects {objects: [...]}   store objects as Stripe's current state (tests)
//   GET  /_dev/events                      events sent, with their delivery outcome
//   GET  /_dev/health
//
// Env: STRIPE_PORT (default 54331), STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, STRIPE_WEBHOOK_URL (the
// Worker's webhook route), STRIPE_PRICES (JSON list of {id, plan?, pack?, unit_amount, recurring}).
import http from "node:http";
import crypto from "node:crypto";

const port = Number(process.env.STRIPE_PORT ?? 54331);
const apiKey = process.env.STRIPE_SECRET_KEY;
const webhookSecret = process.env.STRIPE_WEBHOOK_SECRET;
const webhookUrl = process.env.STRIPE_WEBHOOK_URL;
const publicUrl = `http://127.0.0.1:${port}`;
const API_VERSION = "2025-10-29.clover";
if (!apiKey || !webhookSecret || !webhookUrl) {
  console.error("STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET and STRIPE_WEBHOOK_URL are required");
  process.exit(2);
}

const prices = new Map(JSON.parse(process.env.STRIPE_PRICES ?? "[]").map((p) => [p.id, {
  id: p.id, object: "price", active: true, currency: "usd", livemode: false, unit_amount: p.unit_amount,
  nickname: p.plan ?? p.pack ?? null, product: `prod_${p.id.replace(/^price_/, "")}`,
  type: p.recurring ? "recurring" : "one_time",
  recurring: p.recurring ? { interval: "month", interval_count: 1, usage_type: "licensed" } : null,
  metadata: { ...(p.plan ? { plan: p.plan } : {}), ...(p.pack ? { credit_pack: p.pack } : {}) },
}]));

const customers = new Map();
const subscriptions = new Map();
const invoices = new Map();
const checkoutSessions = new Map();
const portalSessions = new Map();
const meterEvents = [];
const idempotent = new Map(); // Idempotency-Key → [status, body]
const sent = []; // {id, type, status: "pending"|"delivered"|"failed", attempts, last_status}

const now = () => Math.floor(Date.now() / 1000);
const newId = (prefix) => `${prefix}_${crypto.randomBytes(12).toString("base64url").replace(/[-_]/g, "x")}`;
const DAY = 86400;

// ---- webhooks ------------------------------------------------------------------------------------
function sign(body, t = now()) {
  const v1 = crypto.createHmac("sha256", webhookSecret).update(`${t}.${body}`).digest("hex");
  return `t=${t},v1=${v1}`;
}

async function deliver(record, body) {
  // Stripe retries for days with backoff; here seconds, enough for a dev stack that restarts.
  for (let attempt = 1; attempt <= 8; attempt++) {
    record.attempts = attempt;
    try {
      const r = await fetch(webhookUrl, {
        method: "POST", body, signal: AbortSignal.timeout(10000),
        headers: { "content-type": "application/json; charset=utf-8", "stripe-signature": sign(body), "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)" },
      });
      record.last_status = r.status;
      if (r.ok) { record.status = "delivered"; return; }
    } catch (e) { record.last_status = e.cause?.code ?? e.message; }
    await new Promise((r) => setTimeout(r, Math.min(1000 * 2 ** (attempt - 1), 30000)));
  }
  record.status = "failed";
}

// Sends events the way Stripe does: each on its own, not waiting for the others (no order promised).
function emit(type, object, previous) {
  const event = {
    id: newId("evt"), object: "event", api_version: API_VERSION, created: now(), livemode: false,
    pending_webhooks: 1, request: { id: null, idempotency_key: null }, type,
    data: { object: structuredClone(object), ...(previous ? { previous_attributes: previous } : {}) },
  };
  const record = { id: event.id, type, status: "pending", attempts: 0, last_status: null };
  sent.push(record);
  deliver(record, JSON.stringify(event));
  return event.id;
}

// ---- objects -------------------------------------------------------------------------------------
function customerFor({ email, customer }) {
  if (customer && customers.has(customer)) return customers.get(customer);
  const existing = email && [...customers.values()].find((c) => c.email === email && !c.deleted);
  if (existing) return existing;
  const c = { id: newId("cus"), object: "customer", email: email ?? null, name: null, created: now(), livemode: false, metadata: {}, invoice_prefix: crypto.randomBytes(4).toString("hex").toUpperCase() };
  customers.set(c.id, c);
  emit("customer.created", c);
  return c;
}

function subscriptionItem(sub, price, start, end) {
  return { id: newId("si"), object: "subscription_item", created: start, price, quantity: 1, subscription: sub.id, current_period_start: start, current_period_end: end, metadata: {} };
}

function createSubscription(customer, price, metadata) {
  const start = now();
  const sub = {
    id: newId("sub"), object: "subscription", customer: customer.id, status: "active", livemode: false, currency: "usd",
    cancel_at_period_end: false, canceled_at: null, ended_at: null, created: start, start_date: start,
    collection_method: "charge_automatically", metadata: { ...metadata }, latest_invoice: null,
    items: { object: "list", data: [], has_more: false, total_count: 1, url: "" },
  };
  sub.items.data.push(subscriptionItem(sub, price, start, start + 30 * DAY));
  sub.items.url = `/v1/subscription_items?subscription=${sub.id}`;
  subscriptions.set(sub.id, sub);
  return sub;
}

function invoiceLine(invoiceId, sub, price, amount, start, end, proration) {
  return {
    id: newId("il"), object: "line_item", amount, currency: "usd", description: `${proration ? "Remaining time on " : "1 × "}${price.nickname}`,
    invoice: invoiceId, livemode: false, metadata: {}, period: { start, end }, quantity: 1,
    parent: {
      type: "subscription_item_details", invoice_item_details: null,
      subscription_item_details: { invoice_item: null, proration, proration_details: { credited_items: null }, subscription: sub.id, subscription_item: sub.items.data[0].id },
    },
    pricing: { type: "price_details", price_details: { price: price.id, product: price.product }, unit_amount_decimal: String(price.unit_amount) },
  };
}

function createInvoice(sub, { reason, lines, paid }) {
  const id = newId("in");
  const data = lines.map((l) => invoiceLine(id, sub, l.price, l.amount, l.start, l.end, l.proration));
  const total = data.reduce((s, l) => s + l.amount, 0);
  const c = customers.get(sub.customer);
  const inv = {
    id, object: "invoice", customer: sub.customer, customer_email: c?.email ?? null, livemode: false, currency: "usd",
    status: paid ? "paid" : "open", billing_reason: reason, created: now(), amount_due: total, amount_paid: paid ? total : 0,
    amount_remaining: paid ? 0 : total, attempt_count: 1, attempted: true,
    period_start: data[0]?.period.start ?? now(), period_end: data[0]?.period.end ?? now(),
    parent: { type: "subscription_details", quote_details: null, subscription_details: { subscription: sub.id, metadata: { ...sub.metadata } } },
    lines: { object: "list", data, has_more: false, total_count: data.length, url: `/v1/invoices/${id}/lines` },
    status_transitions: { finalized_at: now(), paid_at: paid ? now() : null },
  };
  invoices.set(id, inv);
  sub.latest_invoice = id;
  return inv;
}

function completeCheckout(session) {
  if (session.status === "complete") return;
  const customer = customerFor({ email: session.customer_email, customer: session.customer });
  const price = prices.get(session.line_items[0].price);
  session.customer = customer.id;
  session.customer_details = { email: customer.email, name: null };
  session.status = "complete";
  session.payment_status = "paid";
  if (session.mode === "subscription") {
    const sub = createSubscription(customer, price, session.subscription_data_metadata);
    const item = sub.items.data[0];
    const inv = createInvoice(sub, { reason: "subscription_create", paid: true, lines: [{ price, amount: price.unit_amount, start: item.current_period_start, end: item.current_period_end, proration: false }] });
    session.subscription = sub.id;
    session.invoice = inv.id;
    emit("customer.subscription.created", sub);
    emit("invoice.paid", inv);
  } else {
    session.payment_intent = newId("pi");
  }
  emit("checkout.session.completed", publicSession(session));
}

function publicSession(s) {
  const { line_items, subscription_data_metadata, ...rest } = s;
  return rest;
}

function liveSubscription(customer) {
  return [...subscriptions.values()].find((s) => s.customer === customer.id && ["active", "trialing", "past_due"].includes(s.status));
}

function switchPlan(sub, price) {
  const item = sub.items.data[0];
  const previous = { items: structuredClone(sub.items) };
  const old = item.price;
  item.price = price;
  const t = now();
  emit("customer.subscription.updated", sub, previous);
  // Stripe invoices the difference at once when prorations are billed immediately.
  const inv = createInvoice(sub, { reason: "subscription_update", paid: true, lines: [
    { price: old, amount: -Math.round(old.unit_amount / 2), start: t, end: item.current_period_end, proration: true },
    { price, amount: Math.round(price.unit_amount / 2), start: t, end: item.current_period_end, proration: true },
  ] });
  emit("invoice.paid", inv);
}

function cancel(sub) {
  sub.status = "canceled";
  sub.canceled_at = sub.ended_at = now();
  emit("customer.subscription.deleted", sub);
}

function renew(sub, paid) {
  const item = sub.items.data[0];
  const start = item.current_period_end;
  const inv = createInvoice(sub, { reason: "subscription_cycle", paid, lines: [{ price: item.price, amount: item.price.unit_amount, start, end: start + 30 * DAY, proration: false }] });
  if (paid) {
    item.current_period_start = start;
    item.current_period_end = start + 30 * DAY;
    const wasPastDue = sub.status === "past_due";
    sub.status = "active";
    emit("invoice.paid", inv);
    if (wasPastDue) emit("customer.subscription.updated", sub, { status: "past_due" });
  } else {
    inv.next_payment_attempt = now() + 3 * DAY;
    sub.status = "past_due";
    emit("customer.subscription.updated", sub, { status: "active" });
    emit("invoice.payment_failed", inv);
  }
  return inv;
}

// ---- meters (Billing Meters v1) ------------------------------------------------------------------
function meterEvent(form) {
  const identifier = form.identifier ?? newId("mtrevt");
  if (meterEvents.some((e) => e.identifier === identifier)) {
    return [400, stripeError("invalid_request_error", `An event with identifier ${identifier} already exists.`, { code: "resource_already_exists", param: "identifier" })];
  }
  const ev = { identifier, event_name: form.event_name, customer: form["payload[stripe_customer_id]"], value: Number(form["payload[value]"] ?? 0), timestamp: Number(form.timestamp ?? now()) };
  meterEvents.push(ev);
  return [200, { object: "billing.meter_event", event_name: ev.event_name, identifier, livemode: false, created: now(), payload: { stripe_customer_id: ev.customer, value: String(ev.value) }, timestamp: ev.timestamp }];
}

function meterSummaries(meter, q) {
  const start = Number(q.get("start_time")), end = Number(q.get("end_time")), customer = q.get("customer");
  if (!customer) return [400, stripeError("invalid_request_error", "Missing required param: customer.", { param: "customer" })];
  if (!(start >= 0) || !(end > start) || start % 60 || end % 60) {
    return [400, stripeError("invalid_request_error", "start_time and end_time must be minute-aligned, start before end")];
  }
  const evs = meterEvents.filter((e) => e.customer === customer && e.timestamp >= start && e.timestamp < end);
  const data = evs.length ? [{ id: newId("mtrusg"), object: "billing.meter_event_summary", aggregated_value: evs.reduce((s, e) => s + e.value, 0), start_time: start, end_time: end, livemode: false, meter }] : [];
  return [200, { object: "list", data, has_more: false, url: `/v1/billing/meters/${meter}/event_summaries` }];
}

// ---- HTTP ----------------------------------------------------------------------------------------
function stripeError(type, message, extra = {}) {
  return { error: { type, message, ...extra } };
}
const missing = (kind, id) => [404, stripeError("invalid_request_error", `No such ${kind}: '${id}'`, { code: "resource_missing", param: "id" })];

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

function sendJson(res, status, body) {
  res.writeHead(status, { "content-type": "application/json", "request-id": newId("req"), "stripe-version": API_VERSION });
  res.end(JSON.stringify(body));
}

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
function page(res, title, body) {
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  res.end(`<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)} · Stripe (local)</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;color:#1a1f36}button{background:#635bff;color:#fff;border:0;border-radius:6px;padding:.7rem 1.2rem;font-size:1rem;cursor:pointer}
.card{border:1px solid #e3e8ee;border-radius:8px;padding:1rem 1.5rem;margin:1rem 0}.muted{color:#697386;font-size:.9rem}</style></head>
<body><p class="muted">Local Stripe stand-in (test mode): no real payment happens.</p>${body}</body></html>`);
}
const money = (cents) => `$${(cents / 100).toFixed(2)}`;

function redirect(res, to) {
  res.writeHead(303, { location: to });
  res.end();
}

async function api(req, res, url, form) {
  const key = req.headers["idempotency-key"];
  if (req.method === "POST" && key && idempotent.has(key)) {
    const [status, body] = idempotent.get(key);
    res.setHeader("idempotent-replayed", "true");
    return sendJson(res, status, body);
  }
  const [status, body] = route(req.method, url, form);
  if (req.method === "POST" && key && status < 500) idempotent.set(key, [status, body]);
  sendJson(res, status, body);
}

function route(method, url, form) {
  const p = url.pathname;
  let m;
  if (method === "POST" && p === "/v1/checkout/sessions") {
    const mode = form.mode;
    const price = prices.get(form["line_items[0][price]"]);
    if (!["subscription", "payment"].includes(mode)) return [400, stripeError("invalid_request_error", "Invalid mode: must be one of payment, setup, or subscription", { param: "mode" })];
    if (!price) return [400, stripeError("invalid_request_error", `No such price: '${form["line_items[0][price]"]}'`, { code: "resource_missing", param: "line_items[0][price]" })];
    if ((mode === "subscription") !== (price.type === "recurring")) {
      return [400, stripeError("invalid_request_error", mode === "subscription" ? "You must provide at least one recurring price in `subscription` mode when using prices." : "You specified `payment` mode but passed a recurring price.", { param: "line_items[0][price]" })];
    }
    if (!form.success_url) return [400, stripeError("invalid_request_error", "Missing required param: success_url.", { param: "success_url" })];
    if (form.customer && !customers.has(form.customer)) return missing("customer", form.customer);
    const metadata = Object.fromEntries(Object.entries(form).filter(([k]) => /^metadata\[[^\]]+\]$/.test(k)).map(([k, v]) => [k.slice(9, -1), v]));
    const subMeta = Object.fromEntries(Object.entries(form).filter(([k]) => /^subscription_data\[metadata\]\[[^\]]+\]$/.test(k)).map(([k, v]) => [k.slice(28, -1), v]));
    const id = newId("cs_test");
    const s = {
      id, object: "checkout.session", livemode: false, mode, status: "open", payment_status: "unpaid", created: now(), expires_at: now() + DAY,
      url: `${publicUrl}/c/pay/${id}`, success_url: form.success_url, cancel_url: form.cancel_url ?? null,
      client_reference_id: form.client_reference_id ?? null, customer: form.customer ?? null, customer_email: form.customer_email ?? null,
      customer_details: null, metadata, amount_total: price.unit_amount, currency: "usd", subscription: null, invoice: null, payment_intent: null,
      line_items: [{ price: price.id, quantity: Number(form["line_items[0][quantity]"] ?? 1) }], subscription_data_metadata: subMeta,
    };
    checkoutSessions.set(id, s);
    return [200, publicSession(s)];
  }
  if (method === "GET" && (m = p.match(/^\/v1\/checkout\/sessions\/([\w]+)$/))) {
    const s = checkoutSessions.get(m[1]);
    return s ? [200, publicSession(s)] : missing("checkout.session", m[1]);
  }
  if (method === "POST" && p === "/v1/billing_portal/sessions") {
    if (!form.customer) return [400, stripeError("invalid_request_error", "Missing required param: customer.", { param: "customer" })];
    if (!customers.has(form.customer)) return missing("customer", form.customer);
    const id = newId("bps");
    const s = { id, object: "billing_portal.session", customer: form.customer, livemode: false, created: now(), return_url: form.return_url ?? null, url: `${publicUrl}/p/session/${id}` };
    portalSessions.set(id, s);
    return [200, s];
  }
  for (const [kind, map] of [["subscription", subscriptions], ["customer", customers], ["invoice", invoices], ["price", prices]]) {
    if (method === "GET" && (m = p.match(new RegExp(`^/v1/${kind}s/([\\w]+)$`)))) {
      const o = map.get(m[1]);
      if (!o) return missing(kind, m[1]);
      return [200, o.deleted ? { id: o.id, object: o.object, deleted: true } : o];
    }
  }
  if (method === "POST" && p === "/v1/billing/meter_events") return meterEvent(form);
  if (method === "GET" && (m = p.match(/^\/v1\/billing\/meters\/([\w]+)\/event_summaries$/))) return meterSummaries(m[1], url.searchParams);
  return [404, stripeError("invalid_request_error", `Unrecognized request URL (${method}: ${p}).`)];
}

function trigger(body) {
  const { event, email, account_id: account, plan, pack } = body;
  const customer = email ? [...customers.values()].find((c) => c.email === email && !c.deleted) : null;
  const sub = customer && liveSubscription(customer);
  const priceOf = (what) => [...prices.values()].find((p) => p.metadata.plan === what || p.metadata.credit_pack === what);
  const before = sent.length;
  switch (event) {
    case "checkout.session.completed":
    case "customer.subscription.created": {
      const price = priceOf(pack ?? plan ?? "PRO");
      if (!price) return [400, { error: `no dev price for ${pack ?? plan}` }];
      if (!account) return [400, { error: "account_id is required (the CLI looks it up from --email)" }];
      if (price.type === "recurring" && sub) return [409, { error: `${email} already has live subscription ${sub.id}; use customer.subscription.updated --plan` }];
      const id = newId("cs_test");
      const s = {
        id, object: "checkout.session", livemode: false, mode: price.type === "recurring" ? "subscription" : "payment", status: "open", payment_status: "unpaid",
        created: now(), url: `${publicUrl}/c/pay/${id}`, success_url: null, cancel_url: null, client_reference_id: account,
        customer: customer?.id ?? null, customer_email: customer ? null : email ?? null, customer_details: null,
        metadata: { account_id: account, ...(pack ? { credit_pack: pack } : {}) }, amount_total: price.unit_amount, currency: "usd",
        subscription: null, invoice: null, line_items: [{ price: price.id, quantity: 1 }], subscription_data_metadata: { account_id: account },
      };
      checkoutSessions.set(id, s);
      completeCheckout(s);
      break;
    }
    case "customer.subscription.updated": {
      const price = priceOf(plan ?? "ENTERPRISE");
      if (!sub || !price || price.type !== "recurring") return [400, { error: "needs a live subscription and --plan PRO|ENTERPRISE" }];
      switchPlan(sub, price);
      break;
    }
    case "customer.subscription.deleted":
      if (!sub) return [400, { error: `${email} has no live subscription` }];
      cancel(sub);
      break;
    case "invoice.paid":
    case "invoice.payment_failed":
      if (!sub) return [400, { error: `${email} has no live subscription: trigger checkout.session.completed --plan PRO first` }];
      renew(sub, event === "invoice.paid");
      break;
    case "customer.updated":
      if (!customer) return [400, { error: `no customer with email ${email}` }];
      customer.name = body.name ?? `Updated ${new Date().toISOString()}`;
      emit("customer.updated", customer, { name: null });
      break;
    default:
      return [400, { error: `unsupported event ${event}` }];
  }
  return [200, { events: sent.slice(before).map((e) => ({ id: e.id, type: e.type })) }];
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, publicUrl);
  const raw = await readBody(req);
  const form = Object.fromEntries(new URLSearchParams(req.headers["content-type"]?.includes("json") ? "" : raw));
  try {
    if (url.pathname.startsWith("/v1/")) {
      if (req.headers.authorization !== `Bearer ${apiKey}`) {
        return sendJson(res, 401, stripeError("invalid_request_error", "Invalid API Key provided: " + (req.headers.authorization ?? "").slice(7, 15) + "****"));
      }
      return await api(req, res, url, form);
    }
    let m;
    if ((m = url.pathname.match(/^\/c\/pay\/([\w]+)$/))) {
      const s = checkoutSessions.get(m[1]);
      if (!s) return page(res, "Not found", "<h1>This checkout session does not exist.</h1>");
      const price = prices.get(s.line_items[0].price);
      if (req.method === "POST") {
        if (form.email && !s.customer) s.customer_email = form.email;
        completeCheckout(s);
        return s.success_url ? redirect(res, s.success_url.replace("{CHECKOUT_SESSION_ID}", s.id)) : page(res, "Paid", "<h1>Payment complete</h1>");
      }
      if (s.status === "complete") return page(res, "Paid", `<h1 data-testid="paid">Already paid</h1>`);
      return page(res, "Checkout", `<h1>${esc(price.nickname)}</h1><div class="card"><p>${money(price.unit_amount)}${price.recurring ? " per month" : ""}</p>
<form method="post"><p><label>Email <input name="email" value="${esc(s.customer_email ?? customers.get(s.customer)?.email ?? "")}"></label></p>
<p><label>Card <input value="4242 4242 4242 4242" readonly></label></p><button type="submit" data-testid="pay">Pay ${money(price.unit_amount)}</button></form></div>
${s.cancel_url ? `<p><a href="${esc(s.cancel_url)}">Cancel</a></p>` : ""}`);
    }
    if ((m = url.pathname.match(/^\/p\/session\/([\w]+)(?:\/(update|cancel))?$/))) {
      const ps = portalSessions.get(m[1]);
      if (!ps) return page(res, "Not found", "<h1>This portal session does not exist.</h1>");
      const customer = customers.get(ps.customer);
      if (req.method === "POST" && m[2]) {
        const sub = subscriptions.get(form.subscription);
        if (!sub || sub.customer !== customer.id) return page(res, "Not found", "<h1>No such subscription.</h1>");
        if (m[2] === "cancel") cancel(sub);
        else if (prices.get(form.price)?.type === "recurring") switchPlan(sub, prices.get(form.price));
        return ps.return_url ? redirect(res, ps.return_url) : page(res, "Done", "<h1>Done</h1>");
      }
      const subs = [...subscriptions.values()].filter((s) => s.customer === customer.id && s.status !== "canceled");
      const plans = [...prices.values()].filter((p) => p.type === "recurring");
      return page(res, "Billing portal", `<h1>Billing for ${esc(customer.email)}</h1>` + (subs.map((s) => `<div class="card" data-subscription="${s.id}">
<p><strong>${esc(s.items.data[0].price.nickname)}</strong> · ${esc(s.status)} · renews ${new Date(s.items.data[0].current_period_end * 1000).toISOString().slice(0, 10)}</p>
${plans.filter((p) => p.id !== s.items.data[0].price.id).map((p) => `<form method="post" action="/p/session/${ps.id}/update"><input type="hidden" name="subscription" value="${s.id}"><input type="hidden" name="price" value="${p.id}"><button data-testid="switch-${esc(p.nickname)}">Switch to ${esc(p.nickname)} (${money(p.unit_amount)}/month)</button></form>`).join("")}
<form method="post" action="/p/session/${ps.id}/cancel"><input type="hidden" name="subscription" value="${s.id}"><button data-testid="cancel">Cancel subscription</button></form></div>`).join("") || "<p>No subscriptions.</p>")
        + (ps.return_url ? `<p><a href="${esc(ps.return_url)}">Return</a></p>` : ""));
    }
    if (url.pathname === "/_dev/health") return sendJson(res, 200, { ok: true });
    if (url.pathname === "/_dev/events") return sendJson(res, 200, { events: sent });
    if (url.pathname === "/_dev/trigger" && req.method === "POST") {
      const [status, body] = trigger(JSON.parse(raw || "{}"));
      return sendJson(res, status, body);
    }
    if (url.pathname === "/_dev/objects" && req.method === "POST") {
      const maps = { subscription: subscriptions, customer: customers, invoice: invoices };
      for (const o of JSON.parse(raw).objects ?? []) {
        if (!maps[o.object] || typeof o.id !== "string") return sendJson(res, 400, { error: `not a subscription, customer or invoice: ${JSON.stringify(o).slice(0, 200)}` });
        maps[o.object].set(o.id, o);
      }
      return sendJson(res, 200, { ok: true });
    }
    sendJson(res, 404, stripeError("invalid_request_error", `Unrecognized request URL (${req.method}: ${url.pathname}).`));
  } catch (e) {
    console.error(e);
    sendJson(res, 500, stripeError("api_error", "An unknown error occurred in the local stand-in."));
  }
});
server.listen(port, "127.0.0.1", () => console.log(`stripe stand-in on ${publicUrl}, webhooks to ${webhookUrl}`));
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => server.close(() => process.exit(0)));
