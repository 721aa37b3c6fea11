// Signing keys and JWT signing for the local auth stand-in. Keys persist as JWK files in a state
// folder so tokens stay valid across restarts of the dev stack.
import { generateKeyPairSync, createPrivateKey, createPublicKey, sign, randomUUID } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

const b64url = (buf) => Buffer.from(buf).toString("base64url");

export function loadOrCreateKeys(stateDir) {
  fs.mkdirSync(stateDir, { recursive: true });
  const file = path.join(stateDir, "signing-keys.json");
  let stored;
  if (fs.existsSync(file)) {
    stored = JSON.parse(fs.readFileSync(file, "utf8"));
  } else {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    stored = { keys: [{ kid: randomUUID(), alg: "ES256", jwk: privateKey.export({ format: "jwk" }) }], current: 0 };
    fs.writeFileSync(file, JSON.stringify(stored), { mode: 0o600 });
  }
  const entries = stored.keys.map((k) => ({ kid: k.kid, alg: k.alg, key: createPrivateKey({ key: k.jwk, format: "jwk" }) }));
  return {
    current: () => entries[stored.current],
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
