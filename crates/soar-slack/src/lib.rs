//! soar's Slack adapter for approvals in Slack. So far: [`signature`], the check every request
//! from Slack passes before anything in it is read.

pub mod signature;
