//! soar's Slack adapter for approvals in Slack: [`signature`], the check every request from
//! Slack passes before anything in it is read; [`interaction`], the button press it carries;
//! [`message`], the Block Kit question and its answered form; [`web`], the Web API calls that
//! post and update them. Knows nothing of AWS: the bot token comes through soar-core's
//! `SecretSource` port.

pub mod interaction;
pub mod message;
pub mod signature;
pub mod web;

pub use web::{API_URL, SlackApi, SlackApprovals, SlackError};
