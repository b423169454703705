//! The normalised alert: what every source (GuardDuty, other tools) is turned into at ingest.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// The tag that marks a resource soar must never touch, whatever a policy says.
pub const PROTECTED_TAG: &str = "soar:protected";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable across re-deliveries and updates of the same finding: the dedup identity.
    pub id: String,
    /// `guardduty` or the `source` a generic alert names.
    pub source: String,
    /// The identifier the source gave the alert (GuardDuty finding id).
    pub source_id: String,
    pub account: String,
    pub region: String,
    /// Finding type, e.g. `UnauthorizedAccess:EC2/TorClient`.
    #[serde(rename = "type")]
    pub kind: String,
    /// 0.0–10.0 as GuardDuty scores it.
    pub severity: f64,
    pub severity_label: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// The resource the finding is about (GuardDuty's `resourceType`).
    pub resource: Resource,
    /// Every other resource the finding names: the other buckets of an S3 finding, the instance
    /// behind a credential, container or Kubernetes finding, each instance and session of an
    /// attack sequence. Policies see them; an action may target them (guard rails apply to each).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related_resources: Vec<Resource>,
    #[serde(default)]
    pub indicators: Vec<Indicator>,
    /// RFC 3339 UTC; with `id` it identifies one revision of the alert.
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
    /// GuardDuty sample finding: must never cause a real action.
    #[serde(default)]
    pub sample: bool,
    /// Archived by an analyst in the source.
    #[serde(default)]
    pub archived: bool,
    /// Tags the ingest policy attached.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Where the finding lives in its source (Security Hub, GuardDuty), for the write-back
    /// actions; `None` for an alert from another tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finding: Option<crate::finding::FindingRef>,
    /// The original payload, kept for policies and audit.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub raw: Value,
}

impl Alert {
    /// The resource, then the related ones.
    pub fn all_resources(&self) -> impl Iterator<Item = &Resource> {
        std::iter::once(&self.resource).chain(&self.related_resources)
    }

    /// The resources of this alert that are `kind` `id` (the finding may name one twice, once
    /// with tags and once without: each copy counts for protection).
    pub fn resources_named<'a>(&'a self, kind: &'a ResourceKind, id: &'a str) -> impl Iterator<Item = &'a Resource> {
        self.all_resources().filter(move |r| &r.kind == kind && r.id == id)
    }

    /// The revision of this alert: its `updatedAt`, or `created_at`, or a fixed marker.
    pub fn revision(&self) -> &str {
        self.updated_at
            .as_deref()
            .or(self.created_at.as_deref())
            .unwrap_or("unversioned")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    pub kind: ResourceKind,
    /// Instance id, access key id, bucket name, ...; empty when the finding names none.
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub account: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Kind-specific facts the remediation needs (VPC, ENIs, security groups, user name, ...).
    #[serde(default)]
    pub attributes: Map<String, Value>,
    /// Set by Rust when any source (the finding's tags, repeated or in any case, or the
    /// inventory) marks the resource protected; once set, no later source clears it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protected: bool,
}

impl Resource {
    pub fn unknown() -> Self {
        Resource {
            kind: ResourceKind::Other("Unknown".into()),
            id: String::new(),
            account: String::new(),
            region: String::new(),
            tags: BTreeMap::new(),
            attributes: Map::new(),
            protected: false,
        }
    }

    pub fn is_protected(&self) -> bool {
        self.protected || tags_mark_protected(&self.tags)
    }
}

/// Any tag marking the resource off limits ([`marks_protected`]).
pub fn tags_mark_protected<'a>(tags: impl IntoIterator<Item = (&'a String, &'a String)>) -> bool {
    tags.into_iter().any(|(k, v)| marks_protected(k, v))
}

/// Whether one tag marks a resource off limits: the key `soar:protected` in any case and
/// spacing, with any value that does not clearly say no ([`crate::json::says_no`]): `true`,
/// `TRUE`, `yes`, and an empty value are protected; `false` and `no` are not. An unclear
/// protection signal is a protection signal.
pub fn marks_protected(key: &str, value: &str) -> bool {
    key.trim().eq_ignore_ascii_case(PROTECTED_TAG) && (value.trim().is_empty() || !crate::json::says_no(value))
}

/// Resource kinds soar knows how to act on; everything else is kept by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    Instance,
    AccessKey,
    S3Bucket,
    /// One object (its id is the object ARN, `arn:aws:s3:::bucket/key`).
    S3Object,
    EksCluster,
    Container,
    Lambda,
    /// An ECS task (its id is the task ARN; attribute `cluster`), related to ECS runtime findings.
    EcsTask,
    RdsDbInstance,
    AttackSequence,
    /// The alert's own finding in its source ([`crate::finding::FindingRef`]): what the
    /// write-back actions work on (its id is the finding's Security Hub `Id`).
    Finding,
    Other(String),
}

impl ResourceKind {
    pub fn as_str(&self) -> &str {
        match self {
            ResourceKind::Instance => "Instance",
            ResourceKind::AccessKey => "AccessKey",
            ResourceKind::S3Bucket => "S3Bucket",
            ResourceKind::S3Object => "S3Object",
            ResourceKind::EksCluster => "EKSCluster",
            ResourceKind::Container => "Container",
            ResourceKind::Lambda => "Lambda",
            ResourceKind::EcsTask => "ECSTask",
            ResourceKind::RdsDbInstance => "RDSDBInstance",
            ResourceKind::AttackSequence => "AttackSequence",
            ResourceKind::Finding => "Finding",
            ResourceKind::Other(name) => name,
        }
    }

    pub fn from_name(name: &str) -> Self {
        match name {
            "Instance" => ResourceKind::Instance,
            "AccessKey" => ResourceKind::AccessKey,
            "S3Bucket" => ResourceKind::S3Bucket,
            "S3Object" => ResourceKind::S3Object,
            "EKSCluster" => ResourceKind::EksCluster,
            "Container" | "ECSCluster" => ResourceKind::Container,
            "Lambda" => ResourceKind::Lambda,
            "ECSTask" => ResourceKind::EcsTask,
            "RDSDBInstance" => ResourceKind::RdsDbInstance,
            "AttackSequence" => ResourceKind::AttackSequence,
            "Finding" => ResourceKind::Finding,
            other => ResourceKind::Other(other.to_string()),
        }
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ResourceKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ResourceKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Ok(ResourceKind::from_name(&name))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndicatorKind {
    Ip,
    Domain,
    Hash,
    Url,
    Email,
    AccessKey,
    User,
    /// A malware scanner's name for what it found (`EICAR-Test-File (not a virus)`). Never
    /// sent to a provider: no provider looks names up.
    ThreatName,
}

impl IndicatorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IndicatorKind::Ip => "ip",
            IndicatorKind::Domain => "domain",
            IndicatorKind::Hash => "hash",
            IndicatorKind::Url => "url",
            IndicatorKind::Email => "email",
            IndicatorKind::AccessKey => "access_key",
            IndicatorKind::User => "user",
            IndicatorKind::ThreatName => "threat_name",
        }
    }
}

impl fmt::Display for IndicatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An observable in the alert (or found by an enrichment), and where it was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indicator {
    #[serde(rename = "type")]
    pub kind: IndicatorKind,
    pub value: String,
    /// Where it was seen: a path in the finding (`service.action....ipAddressV4`) or
    /// `enrichment:<provider>` for indicators a lookup returned.
    pub seen_in: String,
    /// Role in the alert: `remote`, `local`, `actor`, `target`, `related`.
    #[serde(default)]
    pub role: String,
    /// 0 for indicators in the alert; n for indicators found at enrichment round n.
    #[serde(default)]
    pub depth: u32,
    /// The value as the source wrote it, when that differs from the canonical `value`
    /// (`0xa.0.0.1` for `10.0.0.1`); see [`crate::canonical`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written: Option<String>,
    /// Set by the enrich step: the egress guard classifies this indicator internal (the policy
    /// reads it as `ind.internal`; the guard enforces it whatever the policy does).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
}

impl Indicator {
    pub fn new(kind: IndicatorKind, value: impl Into<String>, seen_in: impl Into<String>, role: &str) -> Self {
        Indicator {
            kind,
            value: value.into(),
            seen_in: seen_in.into(),
            role: role.to_string(),
            depth: 0,
            written: None,
            internal: false,
        }
    }

    /// Identity for dedup and the enrichment cache: kind and value, not where it was seen.
    pub fn key(&self) -> (IndicatorKind, &str) {
        (self.kind, self.value.as_str())
    }
}

/// GuardDuty's own bands: 1.0–3.9 low, 4.0–6.9 medium, 7.0–8.9 high, 9.0–10.0 critical.
pub fn severity_label(severity: f64) -> &'static str {
    match severity {
        s if s >= 9.0 => "critical",
        s if s >= 7.0 => "high",
        s if s >= 4.0 => "medium",
        s if s > 0.0 => "low",
        _ => "informational",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_bands_follow_guardduty() {
        assert_eq!(severity_label(9.0), "critical");
        assert_eq!(severity_label(8.9), "high");
        assert_eq!(severity_label(5.0), "medium");
        assert_eq!(severity_label(1.0), "low");
        assert_eq!(severity_label(0.0), "informational");
    }

    #[test]
    fn protected_tag_needs_true() {
        let mut r = Resource::unknown();
        r.tags.insert(PROTECTED_TAG.into(), "TRUE".into());
        assert!(r.is_protected());
        r.tags.insert(PROTECTED_TAG.into(), "no".into());
        assert!(!r.is_protected());
        r.tags.insert(" SOAR:Protected".into(), "yes".into());
        assert!(r.is_protected());
        r.tags.clear();
        r.protected = true;
        assert!(r.is_protected(), "a protection signal from another source stays");
    }

    #[test]
    fn unknown_resource_kinds_round_trip_by_name() {
        let kind: ResourceKind = serde_json::from_str("\"KubernetesCluster\"").unwrap();
        assert_eq!(kind, ResourceKind::Other("KubernetesCluster".into()));
        assert_eq!(serde_json::to_string(&kind).unwrap(), "\"KubernetesCluster\"");
        let kind: ResourceKind = serde_json::from_str("\"EKSCluster\"").unwrap();
        assert_eq!(kind, ResourceKind::EksCluster);
    }
}
