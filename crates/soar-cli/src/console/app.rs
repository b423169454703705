//! The console's shared state.

use soar_aws::DynamoState;
use soar_core::approval::Approver;
use soar_core::pipeline::Approvals;
use soar_policy::PolicySet;
use std::sync::Arc;

/// What every page handler shares.
pub(crate) struct App {
    pub(crate) state: Arc<DynamoState>,
    pub(crate) approvals: Approvals,
    pub(crate) policies: Arc<PolicySet>,
    pub(crate) operator: Approver,
    /// This run's form token: a form without it is refused.
    pub(crate) token: String,
    pub(crate) templates: minijinja::Environment<'static>,
    /// The port it listens on (the `Host` and `Origin` a request must name).
    pub(crate) port: u16,
}

/// The console's style sheet, built in.
pub(crate) const STYLE: &str = include_str!("templates/style.css");
