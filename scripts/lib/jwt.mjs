// Signing keys and JWT signing for the local auth stand-in. Keys persist as JWK files in a state
// folder so tokens stay valid across restarts of the dev stack. New keys can be added (rotation); the
// JWKS always publishes every key's public half.
import { generateKeyPairSync, createPrivateKey, createPublicKey, createHmac, sign, verify, randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

const b64url = (buf) => Buffer.from(buf).toString("base64url");

function generate(alg) {
  const { privateKey } = alg === "RS256"
    ? generateKeyPairSync("rsa", { modulusLength: 2048 })
    : generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { kid: randomUUID(), alg, jwk: privateKey.export({ format: "jwk" }) };
}

export function loadOrCreateKeys(stateDir) {
  fs.mkdirSync(stateDir, { recursive: true });
  const file = path.join(stateDir, "signing-keys.json");
  const stored = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : { keys: [generate("ES256")] };
  const save = () => fs.writeFileSync(file, JSON.stringify(stored), { mode: 0o600 });
  save();
  const entry = (k) => ({ kid: k.kid, alg: k.alg, key: createPrivateKey({ key: k.jwk, format: "jwk" }) });
  let entries = stored.keys.map(entry);
  return {
    /** The newest key for `alg` (ES256 unless asked). */
    current: (alg = "ES256") => [...entries].reverse().find((e) => e.alg === alg),
    byKid: (kid) => entries.find((e) => e.kid === kid),
    /** Adds a new key (rotation) and returns it; it is published at once. */
    add: (alg) => {
      const k = generate(alg);
      stored.keys.push(k);
      save();
      entries = stored.keys.map(entry);
      return entries[entries.length - 1];
    },
    publicJwks: () => entries.map((e) => ({
      ...createPublicKey(e.key).export({ format: "jwk" }), kid: e.kid, alg: e.alg, use: "sig", key_ops: ["verify"],
    })),
  };
}

export function signJwt(entry, claims) {
  const header = { alg: entry.alg, typ: "JWT", kid: entry.kid };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const opts = entry.alg.startsWith("ES") ? { key: entry.key, dsaEncoding: "ieee-p1363" } : entry.key;
  return `${input}.${b64url(sign("sha256", Buffer.from(input), opts))}`;
}

/** HS256 with a shared secret, as Supabase projects on the legacy JWT secret sign (no kid). */
export function signHs256(secret, claims) {
  const input = `${b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${b64url(createHmac("sha256", secret).update(input).digest())}`;
}

/** The claims of a token signed by one of `keys` (ES256/RS256, by kid), or null. Expiry is the caller's. */
export function verifyJwt(keys, token) {
  const parts = String(token).split(".");
  if (parts.length !== 3) return null;
  try {
    const header = JSON.parse(Buffer.from(parts[0], "base64url").toString("utf8"));
    const entry = keys.byKid(header.kid);
    if (!entry || entry.alg !== header.alg) return null;
    const key = createPublicKey(entry.key);
    const opts = entry.alg.startsWith("ES") ? { key, dsaEncoding: "ieee-p1363" } : key;
    if (!verify("sha256", Buffer.from(`${parts[0]}.${parts[1]}`), opts, Buffer.from(parts[2], "base64url"))) return null;
    return JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
  } catch {
    return null;
  }
}
