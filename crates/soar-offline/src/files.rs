//! Providers for offline use, fed from files: an inventory (instances with tags, owner and
//! environment) and threat lists (bad IPs, domains, hashes). Both are internal: they run inside
//! the organisation, so the egress guard lets them see anything.

use crate::memory::StaticInventory;
use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};
use soar_core::alert::{Indicator, IndicatorKind};
use soar_core::egress::{Locality, cidr_contains};
use soar_core::ports::{IntelProvider, InventoryRecord, Lookup, ProviderError};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct FileError {
    pub path: PathBuf,
    pub message: String,
}

impl FileError {
    fn new(path: &Path, message: impl Into<String>) -> Self {
        FileError {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

// A misspelled `instances` is an error, not an empty inventory that protects nothing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InventoryFile {
    instances: Vec<InventoryEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InventoryEntry {
    id: String,
    /// A map or `[{Key, Value}]`, read as finding tags are (see `guardduty::tags`).
    #[serde(default)]
    tags: Value,
    #[serde(default)]
    owner: Option<String>,
    #[serde(default)]
    environment: Option<String>,
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    attributes: serde_json::Map<String, Value>,
}

/// Loads `{"instances": [{"id", "tags", "owner", "environment", "account", "attributes"}]}`.
pub fn load_inventory(path: &Path) -> Result<StaticInventory, FileError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| FileError::new(path, format!("cannot read inventory: {e}")))?;
    parse_inventory(&text).map_err(|message| FileError::new(path, message))
}

/// The same format from a string.
pub fn parse_inventory(text: &str) -> Result<StaticInventory, String> {
    let expected = "expected {\"instances\": [{\"id\": ..., \"tags\": {...}}]}";
    // Read as alerts are: a tag given twice keeps both values, and protection wins.
    let value = soar_core::json::from_slice_keeping_duplicates(text.as_bytes())
        .map_err(|e| format!("not an inventory ({expected}): {e}"))?;
    let file: InventoryFile =
        serde_json::from_value(value).map_err(|e| format!("not an inventory ({expected}): {e}"))?;
    let mut records: HashMap<String, InventoryRecord> = HashMap::new();
    for entry in file.instances {
        let mut attributes = entry.attributes;
        if let Some(account) = entry.account {
            attributes.insert("account".into(), Value::String(account));
        }
        let (mut tags, protected) = soar_core::input::fields::tags(Some(&entry.tags));
        let id = entry.id.trim().to_string();
        // One instance listed twice: every tag counts, and a protection signal is never lost.
        if let Some(earlier) = records.remove(&id) {
            let was_protected = soar_core::alert::tags_mark_protected(&earlier.tags);
            for (k, v) in earlier.tags {
                tags.entry(k).or_insert(v);
            }
            if was_protected {
                tags.insert(soar_core::alert::PROTECTED_TAG.to_string(), "true".to_string());
            }
        }
        if protected {
            tags.insert(soar_core::alert::PROTECTED_TAG.to_string(), "true".to_string());
        }
        records.insert(
            id,
            InventoryRecord {
                tags,
                owner: entry.owner,
                environment: entry.environment,
                attributes,
            },
        );
    }
    Ok(StaticInventory::new(records))
}

/// One listed entry: the value (or CIDR), the list file it came from and its comment.
#[derive(Debug, Clone)]
struct Listed {
    entry: String,
    list: String,
    comment: String,
}

/// Threat lists from a folder: `*.txt` files whose name starts with `ip`, `domain` or `hash`, one
/// entry per line, `#` starts a comment (kept as the entry's description). IP lists take CIDRs;
/// a listed domain also covers its subdomains.
pub struct ThreatListProvider {
    ips: Vec<Listed>,
    domains: HashMap<String, Listed>,
    hashes: HashMap<String, Listed>,
}

impl ThreatListProvider {
    pub const NAME: &'static str = "threatlist";

    pub fn load(dir: &Path) -> Result<Self, FileError> {
        let mut provider = ThreatListProvider {
            ips: Vec::new(),
            domains: HashMap::new(),
            hashes: HashMap::new(),
        };
        let entries =
            std::fs::read_dir(dir).map_err(|e| FileError::new(dir, format!("cannot read threat-list folder: {e}")))?;
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths.into_iter().filter(|p| p.extension().is_some_and(|e| e == "txt")) {
            let list = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let kind = if list.starts_with("ip") {
                IndicatorKind::Ip
            } else if list.starts_with("domain") {
                IndicatorKind::Domain
            } else if list.starts_with("hash") {
                IndicatorKind::Hash
            } else {
                return Err(FileError::new(
                    &path,
                    "threat-list files must be named ip*.txt, domain*.txt or hash*.txt",
                ));
            };
            let text = std::fs::read_to_string(&path).map_err(|e| FileError::new(&path, e.to_string()))?;
            for (n, line) in text.lines().enumerate() {
                let (entry, comment) = line.split_once('#').unwrap_or((line, ""));
                let entry = entry.trim().to_ascii_lowercase();
                if entry.is_empty() {
                    continue;
                }
                let listed = Listed {
                    entry: entry.clone(),
                    list: list.clone(),
                    comment: comment.trim().to_string(),
                };
                match kind {
                    IndicatorKind::Ip => {
                        let net = entry.split('/').next().unwrap_or_default();
                        if net.parse::<IpAddr>().is_err() {
                            return Err(FileError::new(
                                &path,
                                format!("line {}: `{entry}` is not an IP address or CIDR", n + 1),
                            ));
                        }
                        provider.ips.push(listed);
                    }
                    IndicatorKind::Domain => {
                        provider.domains.insert(entry.trim_end_matches('.').to_string(), listed);
                    }
                    _ => {
                        provider.hashes.insert(entry, listed);
                    }
                }
            }
        }
        Ok(provider)
    }

    pub fn len(&self) -> usize {
        self.ips.len() + self.domains.len() + self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn find(&self, indicator: &Indicator) -> Option<&Listed> {
        let value = indicator.value.trim().to_ascii_lowercase();
        match indicator.kind {
            IndicatorKind::Ip => {
                let ip = value.parse::<IpAddr>().ok()?;
                self.ips.iter().find(|l| cidr_contains(&l.entry, ip))
            }
            IndicatorKind::Domain => {
                let mut name = value.trim_end_matches('.');
                loop {
                    if let Some(hit) = self.domains.get(name) {
                        return Some(hit);
                    }
                    name = name.split_once('.')?.1;
                }
            }
            IndicatorKind::Hash => self.hashes.get(&value),
            _ => None,
        }
    }
}

#[async_trait]
impl IntelProvider for ThreatListProvider {
    fn name(&self) -> &str {
        Self::NAME
    }
    fn locality(&self) -> Locality {
        Locality::Internal
    }
    fn indicator_kinds(&self) -> &[IndicatorKind] {
        &[IndicatorKind::Ip, IndicatorKind::Domain, IndicatorKind::Hash]
    }
    async fn lookup(&self, indicator: &Indicator) -> Result<Lookup, ProviderError> {
        Ok(match self.find(indicator) {
            Some(hit) => Lookup {
                found: true,
                data: json!({"list": hit.list, "entry": hit.entry, "comment": hit.comment, "malicious": true}),
                related: Vec::new(),
            },
            None => Lookup {
                found: false,
                data: Value::Null,
                related: Vec::new(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use soar_core::ports::Inventory;

    /// The inventory is read the safe way too: a protection signal is never lost.
    #[tokio::test]
    async fn inventory_protection_survives_repeats_and_padding() {
        let id = "i-0c0ffee0c0ffee001";
        for text in [
            r#"{"instances": [{"id": "i-0c0ffee0c0ffee001", "tags": {"soar:protected": "true", "soar:protected": "false"}}]}"#,
            r#"{"instances": [{"id": "i-0c0ffee0c0ffee001", "tags": {"soar:protected": "true"}}, {"id": "i-0c0ffee0c0ffee001", "tags": {"Name": "x"}}]}"#,
            r#"{"instances": [{"id": " i-0c0ffee0c0ffee001 ", "tags": [{"Key": "soar:protected", "Value": "true"}]}]}"#,
        ] {
            let inventory = parse_inventory(text).unwrap();
            let resource = soar_core::alert::Resource {
                kind: soar_core::alert::ResourceKind::Instance,
                id: id.into(),
                ..soar_core::alert::Resource::unknown()
            };
            let record = inventory.describe(&resource).await.unwrap().expect(text);
            assert!(soar_core::alert::tags_mark_protected(&record.tags), "{text}");
        }
        let Err(e) = parse_inventory(r#"{"Instances": []}"#) else {
            panic!("a misspelled `instances` is an error")
        };
        assert!(e.contains("Instances"), "{e}");
    }

    #[tokio::test]
    async fn threat_lists_match_cidrs_subdomains_and_hashes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ips.txt"),
            "# tor exits\n198.51.100.0/24 # tor\n203.0.113.7\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("domains.txt"), "evil.example\n").unwrap();
        std::fs::write(dir.path().join("hashes.txt"), "E3B0C442\n").unwrap();
        let p = ThreatListProvider::load(dir.path()).unwrap();
        assert_eq!(p.len(), 4);
        let hit = |kind, value: &str| {
            let p = &p;
            let ind = Indicator::new(kind, value, "test", "remote");
            async move { p.lookup(&ind).await.unwrap() }
        };
        let tor = hit(IndicatorKind::Ip, "198.51.100.42").await;
        assert!(tor.found);
        assert_eq!(tor.data["comment"], "tor");
        assert!(!hit(IndicatorKind::Ip, "198.51.101.1").await.found);
        assert!(hit(IndicatorKind::Domain, "c2.evil.example").await.found);
        assert!(!hit(IndicatorKind::Domain, "notevil.example").await.found);
        assert!(hit(IndicatorKind::Hash, "e3b0c442").await.found);
    }

    #[test]
    fn bad_list_lines_name_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ips.txt"), "1.2.3.4\nnot-an-ip\n").unwrap();
        let err = ThreatListProvider::load(dir.path()).err().unwrap().to_string();
        assert!(err.contains("ips.txt") && err.contains("line 2"), "{err}");
    }

    #[tokio::test]
    async fn inventory_file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("inventory.json");
        std::fs::write(&path, r#"{"instances": [{"id": "i-1", "owner": "web", "environment": "prod", "tags": {"soar:protected": "true"}}]}"#).unwrap();
        let inv = load_inventory(&path).unwrap();
        let mut r = soar_core::alert::Resource::unknown();
        r.id = "i-1".into();
        let rec = inv.describe(&r).await.unwrap().unwrap();
        assert_eq!(rec.owner.as_deref(), Some("web"));
        assert_eq!(rec.tags["soar:protected"], "true");
        std::fs::write(&path, r#"{"instances": [{"name": "i-1"}]}"#).unwrap();
        let err = load_inventory(&path).err().unwrap().to_string();
        assert!(err.contains("not an inventory"), "{err}");
    }
}
