// The client configuration the Worker writes into index.html (src/dashboard.rs): public values only.
export interface AppConfig {
  supabase_url: string;
  supabase_anon_key: string;
  environment: string;
  /** Task types the API accepts now (feature flags applied); lead.analyze has its own pages. */
  task_types: string[];
  /** Lead-analysis tiers switched on. */
  lead_tiers: string[];
}

function read(): AppConfig {
  const el = document.getElementById("app-config");
  const parsed = el?.textContent ? (JSON.parse(el.textContent) as Partial<AppConfig>) : {};
  return {
    supabase_url: (parsed.supabase_url ?? "").replace(/\/$/, ""),
    supabase_anon_key: parsed.supabase_anon_key ?? "",
    environment: parsed.environment ?? "production",
    task_types: parsed.task_types ?? [],
    lead_tiers: parsed.lead_tiers ?? [],
  };
}

export const config = read();
