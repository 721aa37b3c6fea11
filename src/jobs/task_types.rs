//! The task-type registry: which task types exist, where their envelopes are queued, and which feature
//! flags gate them. Names are also a SQL concern (`task_types` table); a host test keeps the two equal.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskType {
    HttpRequest,
    BrowserExtractText,
    /// A lead analysis (docs/adr/0018): submitted only through `/api/v1/leads/analyze`, which creates
    /// the lead and the analysis with it.
    LeadAnalyze,
}

/// Every task type's canonical name, for error messages.
pub const TASK_TYPE_NAMES: &str = "http.request, browser.extract_text (alias navigate_and_extract_text)";

/// What `POST /api/v1/jobs` and batch items say about a task type they do not accept.
pub const LEAD_ANALYZE_ROUTE: &str = "lead analyses are submitted with POST /api/v1/leads/analyze";

impl TaskType {
    pub const ALL: [TaskType; 3] = [TaskType::HttpRequest, TaskType::BrowserExtractText, TaskType::LeadAnalyze];

    /// The registry. Unknown names are `None` (400 at submission). Aliases map to the canonical type,
    /// which is what is stored and queued.
    pub fn parse(name: &str) -> Option<TaskType> {
        match name {
            "http.request" => Some(TaskType::HttpRequest),
            "browser.extract_text" | "navigate_and_extract_text" => Some(TaskType::BrowserExtractText),
            "lead.analyze" => Some(TaskType::LeadAnalyze),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskType::HttpRequest => "http.request",
            TaskType::BrowserExtractText => "browser.extract_text",
            TaskType::LeadAnalyze => "lead.analyze",
        }
    }

    /// The queue producer binding a task type's envelopes go to.
    pub fn queue_binding(self) -> &'static str {
        match self {
            TaskType::HttpRequest => crate::config::bindings::JOBS_QUEUE,
            TaskType::BrowserExtractText => crate::config::bindings::BROWSER_JOBS_QUEUE,
            TaskType::LeadAnalyze => crate::config::bindings::LEAD_ANALYSIS_QUEUE,
        }
    }

    /// The feature flags that must all be on for this task type to be submitted or run.
    pub fn required_flags(self) -> &'static [&'static str] {
        match self {
            TaskType::HttpRequest => &[],
            TaskType::BrowserExtractText => &["FF_BROWSER_WORKER_ENABLED", "FF_BROWSER_TASK_EXTRACT_TEXT_ENABLED"],
            // Each tier has its own flag (`leads::Tier::flag`), checked with the payload.
            TaskType::LeadAnalyze => &[],
        }
    }
}

/// The first of `task`'s required flags that is off, given the configured flags.
pub fn disabled_flag(task: TaskType, flags: &[(&'static str, bool)]) -> Option<&'static str> {
    task.required_flags().iter().copied().find(|f| !flags.iter().any(|(name, on)| name == f && *on))
}
