// The dashboard: sign-in, then Jobs, Billing, Usage and Leads in one shell (docs/adr/0020).
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import "./styles.css";
import * as api from "./api";
import * as auth from "./auth";
import { config } from "./config";
import { AuthCallback, SignIn } from "./pages/SignIn";
import { BillingPage } from "./pages/Billing";
import { JobDetail, Jobs } from "./pages/Jobs";
import { LeadDetail, LeadsPage } from "./pages/Leads";
import { UsagePage } from "./pages/Usage";
import { match, navigate, onLinkClick, usePath } from "./router";

function useSession() {
  const [s, setS] = useState(auth.current());
  useEffect(() => auth.onChange(setS), []);
  return s;
}

function Shell() {
  const session = useSession();
  const path = usePath();
  const [me, setMe] = useState<api.Me | null>(null);
  const [meVersion, setMeVersion] = useState(0);

  useEffect(() => {
    if (!session) {
      setMe(null);
      return;
    }
    api.get<api.Me>("/me").then(setMe, () => undefined);
  }, [session?.user.id, meVersion]);

  useEffect(() => {
    if (!session && path !== "/signin" && path !== "/auth/callback") navigate("/signin", true);
    if (session && (path === "/signin" || path === "/")) navigate("/jobs", true);
  }, [session, path]);

  useEffect(() => {
    const main = document.getElementById("main");
    main?.focus({ preventScroll: true });
  }, [path]);

  if (path === "/auth/callback") return <AuthCallback onDone={() => navigate("/jobs", true)} />;
  if (!session) return <SignIn />;

  let page;
  let p: Record<string, string> | null;
  if (path === "/jobs") page = <Jobs />;
  else if ((p = match("/jobs/:id", path))) page = <JobDetail id={p.id} key={p.id} />;
  else if (path === "/billing") page = <BillingPage onPlanChange={() => setMeVersion((v) => v + 1)} />;
  else if (path === "/usage") page = <UsagePage />;
  else if (path === "/leads") page = <LeadsPage />;
  else if ((p = match("/leads/:id", path))) page = <LeadDetail id={p.id} key={p.id} onDeleted={() => navigate("/leads")} />;
  else
    page = (
      <main id="main">
        <h1>Not found</h1>
        <p>
          There is no page here. <a href="/jobs">Go to your jobs</a>.
        </p>
      </main>
    );

  const nav: [string, string][] = [["/jobs", "Jobs"], ["/billing", "Billing"], ["/usage", "Usage"]];
  if (config.lead_tiers.length) nav.push(["/leads", "Leads"]);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <nav aria-label="Main">
          <span class="brand">Edge SaaS</span>
          <ul>
            {nav.map(([href, label]) => (
              <li key={href}>
                <a href={href} aria-current={path === href || path.startsWith(`${href}/`) ? "page" : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="who">
          <span data-testid="account-plan">{me ? `${me.account.plan} · ${me.credits.balance} credits` : ""}</span>
          <span class="email">{session.user.email}</span>
          <button type="button" class="secondary" onClick={() => void auth.signOut()}>
            Sign out
          </button>
        </div>
      </header>
      {page}
    </>
  );
}

document.addEventListener("click", onLinkClick);
const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<Shell />, root);
}
