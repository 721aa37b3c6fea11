// npm run stripe -- trigger <event> --email you@example.com [--plan PRO|ENTERPRISE] [--pack small]
// Like the Stripe CLI's `stripe trigger`, against the local Stripe stand-in of the running dev stack
// (npm run dev): it creates what the event needs for that user's account and sends the signed events to
// the Worker. Events: checkout.session.completed (--plan or --pack; a paid checkout), customer.subscription.created
// (--plan), customer.subscription.updated (--plan: switch), customer.subscription.deleted, invoice.paid (a
// renewal: the plan's monthly credits), invoice.payment_failed (a failed renewal), customer.updated.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const [command, event, ...rest] = process.argv.slice(2);
const opt = (name) => {
  const i = rest.indexOf(`--${name}`);
  return i >= 0 ? rest[i + 1] : rest.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
};
const usage = "usage: npm run stripe -- trigger <event> --email you@example.com [--plan PRO|ENTERPRISE] [--pack small]";
if (command !== "trigger" || !event || !opt("email")) { console.error(usage); process.exit(2); }

const stackFile = path.join(root, ".local", "dev", "stack.json");
if (!fs.existsSync(stackFile)) { console.error("the dev stack is not running: start it with `npm run dev`"); process.exit(1); }
const { supabase_url, worker_url, stripe_url } = JSON.parse(fs.readFileSync(stackFile, "utf8"));
const email = opt("email");
try {
  // The user's active account, as the Worker sees it (the user is created if new).
  const tok = await (await fetch(`${supabase_url}/_dev/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email }) })).json();
  const me = await (await fetch(`${worker_url}/api/v1/me`, { headers: { authorization: `Bearer ${tok.access_token}` } })).json();
  const account_id = me?.data?.account?.id;
  if (!account_id) { console.error(`could not read ${email}'s account from ${worker_url}/api/v1/me: ${JSON.stringify(me)}`); process.exit(1); }
  const r = await fetch(`${stripe_url}/_dev/trigger`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ event, email, account_id, plan: opt("plan"), pack: opt("pack") }),
  });
  const body = await r.json();
  if (!r.ok) { console.error(`trigger ${event}: ${body.error ?? r.status}`); process.exit(1); }
  for (const e of body.events) console.log(`Trigger sent ${e.type} [${e.id}]`);
} catch (e) {
  console.error(`the dev stack is not reachable (is \`npm run dev\` running?): ${e.message}`);
  process.exit(1);
}
