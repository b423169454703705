//! The deployment's settings, which the Rust side enforces whatever the policies say.

use crate::action::ActionKind;
use crate::document::Mode;
use crate::egress::OrgConfig;
use std::collections::BTreeSet;
use std::time::Duration;

/// Deployment settings the Rust side enforces (guard rails), whatever the policies say.
#[derive(Debug, Clone)]
pub struct Settings {
    pub mode: Mode,
    /// Action types this deployment may carry out; `None` allows every known type.
    pub allowed_actions: Option<BTreeSet<ActionKind>>,
    /// Deployment-wide cap on executed actions per hour, so a bad policy cannot isolate the fleet.
    pub max_actions_per_hour: u32,
    /// Deployment-wide cap on verdicts written back onto findings per hour, counted apart.
    pub max_write_backs_per_hour: u32,
    pub cache_ttl: Duration,
    /// How long an alert may wait for a provider's quota before it goes on without that lookup.
    pub max_deferral: Duration,
    /// Action types that always wait for a person's approval, whatever the policy returned
    /// (`SOAR_APPROVAL_REQUIRED_ACTIONS`); by default those that lose evidence.
    pub approval_required: BTreeSet<ActionKind>,
    /// Where Rust's own escalation notifications go (after a policy error); the channel of
    /// `data.soar.config.remediate.notify_channel` when the policies name one.
    pub escalation_channel: String,
    /// How long an action waits for an answer before it is recorded `expired`
    /// (`SOAR_APPROVAL_TTL_SECONDS`).
    pub approval_ttl: Duration,
}

impl Settings {
    /// Escalations go to the channel the policy data names (`remediate.notify_channel`).
    pub fn take_escalation_channel(&mut self, org: &OrgConfig) {
        if let Some(channel) = &org.notify_channel {
            self.escalation_channel.clone_from(channel);
        }
    }
}

/// The escalation channel when the policy data names none.
pub(crate) const DEFAULT_ESCALATION_CHANNEL: &str = "security-oncall";

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mode: Mode::DryRun,
            allowed_actions: None,
            max_actions_per_hour: 20,
            max_write_backs_per_hour: 200,
            cache_ttl: Duration::from_secs(6 * 3600),
            max_deferral: Duration::from_secs(15 * 60),
            approval_required: ActionKind::evidence_losing().collect(),
            escalation_channel: DEFAULT_ESCALATION_CHANNEL.to_string(),
            approval_ttl: crate::approval::DEFAULT_APPROVAL_TTL,
        }
    }
}
