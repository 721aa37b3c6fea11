// Sign in with a password (or create an account), or with a magic link / 6-digit code from the mail.
import { useState } from "preact/hooks";
import * as auth from "../auth";
import { config } from "../config";
import { Banner, Field } from "../ui";

export function SignIn() {
  const [mode, setMode] = useState<"password" | "link">("password");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [sent, setSent] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const run = async (f: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await f();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="signin" id="main">
      <h1>Sign in</h1>
      <div class="tabs" role="tablist" aria-label="Sign-in method">
        <button role="tab" type="button" aria-selected={mode === "password"} onClick={() => (setMode("password"), setError(null))}>
          Password
        </button>
        <button role="tab" type="button" aria-selected={mode === "link"} onClick={() => (setMode("link"), setError(null))}>
          Magic link
        </button>
      </div>
      <Banner error={error} />
      {mode === "password" ? (
        <form
          aria-label="Sign in with a password"
          onSubmit={(e) => {
            e.preventDefault();
            void run(() => auth.signInWithPassword(email, password));
          }}
        >
          <Field label="Email" name="email" type="email" autocomplete="email" required value={email} onInput={setEmail} />
          <Field label="Password" name="password" type="password" autocomplete="current-password" required value={password} onInput={setPassword} />
          <div class="actions">
            <button type="submit" disabled={busy}>
              Sign in
            </button>
            <button type="button" class="secondary" disabled={busy} onClick={() => void run(() => auth.signUp(email, password))}>
              Create account
            </button>
          </div>
        </form>
      ) : !sent ? (
        <form
          aria-label="Sign in with a magic link"
          onSubmit={(e) => {
            e.preventDefault();
            void run(async () => {
              await auth.sendMagicLink(email);
              setSent(true);
            });
          }}
        >
          <Field label="Email" name="email" type="email" autocomplete="email" required value={email} onInput={setEmail} />
          <button type="submit" disabled={busy}>
            Email me a sign-in link
          </button>
        </form>
      ) : (
        <form
          aria-label="Enter the code from the mail"
          onSubmit={(e) => {
            e.preventDefault();
            void run(() => auth.verifyCode(email, code.trim()));
          }}
        >
          <p role="status">
            We sent a sign-in link to <strong>{email}</strong>. Open it on this device, or enter the 6-digit code from the mail.
          </p>
          <Field label="Code" name="code" inputmode="numeric" autocomplete="one-time-code" required value={code} onInput={setCode} />
          <div class="actions">
            <button type="submit" disabled={busy}>
              Verify code
            </button>
            <button type="button" class="secondary" onClick={() => setSent(false)}>
              Use another email
            </button>
          </div>
        </form>
      )}
      {config.environment === "development" && (
        <p class="hint dev">
          Local stack: mails are not sent; they land in the auth server's outbox at{" "}
          <a href={`${config.supabase_url}/_dev/outbox`} target="_blank" rel="noreferrer">
            {config.supabase_url}/_dev/outbox
          </a>
          .
        </p>
      )}
    </main>
  );
}

/** Where a magic link lands: the session is in the URL fragment. */
export function AuthCallback(props: { onDone: () => void }) {
  const [error, setError] = useState<unknown>(null);
  const [started, setStarted] = useState(false);
  if (!started) {
    setStarted(true);
    const hash = location.hash;
    history.replaceState(null, "", "/auth/callback"); // tokens never stay in the address bar
    auth.fromRedirect(hash).then(props.onDone, setError);
  }
  return (
    <main id="main" class="signin">
      <h1>Signing you in…</h1>
      <Banner error={error} />
      {!!error && <a href="/signin">Back to sign in</a>}
    </main>
  );
}
