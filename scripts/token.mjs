// npm run token -- --email you@example.com
// Prints only a signed access token for that dev user (created in the local auth.users if new), from
// the running dev stack (npm run dev).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const i = args.indexOf("--email");
const email = i >= 0 ? args[i + 1] : args.find((a) => a.startsWith("--email="))?.slice(8);
if (!email) { console.error("usage: npm run token -- --email you@example.com"); process.exit(2); }

const stackFile = path.join(root, ".local", "dev", "stack.json");
if (!fs.existsSync(stackFile)) { console.error("the dev stack is not running: start it with `npm run dev`"); process.exit(1); }
const { supabase_url } = JSON.parse(fs.readFileSync(stackFile, "utf8"));
try {
  const r = await fetch(`${supabase_url}/_dev/token`, {
    method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email }),
  });
  const body = await r.json();
  if (!r.ok) { console.error(`token: ${body.error ?? r.status}`); process.exit(1); }
  console.log(body.access_token);
} catch (e) {
  console.error(`the dev stack is not reachable at ${supabase_url} (is \`npm run dev\` running?)`);
  process.exit(1);
}
