//! soar's Slack adapter for approvals in Slack: [`signature`], the check every request from
//! Slack passes before anything in it is read, then [`interaction`], the button press it carries.

pub mod interaction;
pub mod signature;
