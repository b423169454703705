//! EC2 for soar: the instance inventory the enrich phase reads (DescribeInstances, in the
//! resource's own account), and the `ec2.*` actions the remediate phase carries out.
//!
//! Isolation follows the lesson that changing a security group does not cut tracked connections:
//! every ENI first moves to an allow-all "untracking" group (connections matching allow-all rules
//! in both directions are not tracked), then to a quarantine group with no rules at all, which drops
//! them. The original groups are returned for rollback. An ENI always keeps one group.

use async_trait::async_trait;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::config::retry::RetryConfig;
use aws_sdk_ec2::types::{
    AttributeBooleanValue, Filter, Instance, IpPermission, IpRange, Ipv6Range, ResourceType, Tag, TagSpecification,
};
use serde_json::{Map, Value, json};
use soar_aws::AwsError;
use soar_aws::sdk::AccountConfigs;
use soar_core::action::Tags;
use soar_core::alert::{Resource, ResourceKind};
use soar_core::ports::{Inventory, InventoryRecord, ProviderError};
use soar_core::rollback::Undo;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What soar needs to know about an instance.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceFacts {
    pub id: String,
    pub state: String,
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub security_groups: Vec<String>,
    /// (ENI id, its security groups)
    pub network_interfaces: Vec<(String, Vec<String>)>,
    pub volumes: Vec<String>,
    pub instance_profile: Option<String>,
}

impl InstanceFacts {
    fn from_instance(i: &Instance) -> Self {
        InstanceFacts {
            id: i.instance_id().unwrap_or_default().to_string(),
            state: i
                .state()
                .and_then(|s| s.name())
                .map(|n| n.as_str().to_string())
                .unwrap_or_default(),
            vpc_id: i.vpc_id().map(String::from),
            subnet_id: i.subnet_id().map(String::from),
            tags: i
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
                .collect(),
            security_groups: i
                .security_groups()
                .iter()
                .filter_map(|g| g.group_id().map(String::from))
                .collect(),
            network_interfaces: i
                .network_interfaces()
                .iter()
                .filter_map(|eni| {
                    let groups = eni
                        .groups()
                        .iter()
                        .filter_map(|g| g.group_id().map(String::from))
                        .collect();
                    Some((eni.network_interface_id()?.to_string(), groups))
                })
                .collect(),
            volumes: i
                .block_device_mappings()
                .iter()
                .filter_map(|b| b.ebs().and_then(|e| e.volume_id()).map(String::from))
                .collect(),
            instance_profile: i.iam_instance_profile().and_then(|p| p.arn()).map(String::from),
        }
    }

    /// The facts an [`InventoryRecord`] made by this adapter carries (its `attributes`), so an
    /// action reuses the answer the protection check read in the same phase. `None` when the
    /// record does not carry them (another inventory made it).
    pub fn from_record(id: &str, record: &InventoryRecord) -> Option<Self> {
        let a = &record.attributes;
        let strings = |v: Option<&Value>| -> Option<Vec<String>> {
            v?.as_array()?.iter().map(|s| s.as_str().map(String::from)).collect()
        };
        let network_interfaces = a
            .get("network_interfaces")?
            .as_array()?
            .iter()
            .map(|eni| Some((eni.get("id")?.as_str()?.to_string(), strings(eni.get("groups"))?)))
            .collect::<Option<Vec<_>>>()?;
        Some(InstanceFacts {
            id: id.to_string(),
            state: a.get("state")?.as_str()?.to_string(),
            vpc_id: a.get("vpc_id").and_then(Value::as_str).map(String::from),
            subnet_id: a.get("subnet_id").and_then(Value::as_str).map(String::from),
            tags: record.tags.clone(),
            security_groups: strings(a.get("security_groups"))?,
            network_interfaces,
            volumes: strings(a.get("volumes"))?,
            instance_profile: a.get("instance_profile").and_then(Value::as_str).map(String::from),
        })
    }

    fn to_record(&self) -> InventoryRecord {
        let tag = |names: &[&str]| names.iter().find_map(|n| self.tags.get(*n).cloned());
        let mut attributes = Map::new();
        attributes.insert("state".into(), json!(self.state));
        attributes.insert("vpc_id".into(), json!(self.vpc_id));
        attributes.insert("subnet_id".into(), json!(self.subnet_id));
        attributes.insert("security_groups".into(), json!(self.security_groups));
        attributes.insert(
            "network_interfaces".into(),
            json!(
                self.network_interfaces
                    .iter()
                    .map(|(id, groups)| json!({"id": id, "groups": groups}))
                    .collect::<Vec<_>>()
            ),
        );
        attributes.insert("volumes".into(), json!(self.volumes));
        attributes.insert("instance_profile".into(), json!(self.instance_profile));
        InventoryRecord {
            tags: self.tags.clone(),
            owner: tag(&["owner", "Owner", "team", "Team"]),
            environment: tag(&["environment", "Environment", "env", "Env"]),
            attributes,
        }
    }
}

/// EC2 in whichever account and region a finding concerns.
#[derive(Clone)]
pub struct Ec2 {
    accounts: Arc<AccountConfigs>,
}

/// A failed EC2 action or lookup.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Ec2Error {
    /// EC2 answered with an error (or did not answer): see the kind.
    #[error("EC2 {0}")]
    Aws(#[from] AwsError),
    /// The instance does not exist (or no longer).
    #[error("instance {0} not found")]
    InstanceNotFound(String),
    /// The instance is not in a state the action can work with (no VPC, no volume, ...).
    #[error("{0}")]
    Unsuitable(String),
    /// No credentials for the resource's account (the responder role could not be assumed).
    #[error("{0}")]
    Credentials(String),
}

/// Attempts at a snapshot: each first looks for the one an earlier attempt may have made.
const SNAPSHOT_ATTEMPTS: u32 = 3;

/// One snapshot of `volume` for `response_id` (an incident, or an alert alone), exactly once: CreateSnapshot has no idempotency
/// token, and a call whose answer was lost (a timeout, a reset connection) may have made one.
/// So the SDK never retries it on its own; each attempt first looks for a snapshot of this
/// volume tagged with this alert (the tags are set in the same call that creates it) and
/// returns that one if there is one; only a throttled attempt is repeated at once. An interrupted invocation resumed from the ledger finds
/// its snapshot the same way.
async fn snapshot_once(
    client: &Client,
    volume: &str,
    response_id: &str,
    (description, tags): (&str, TagSpecification),
) -> Result<String, AwsError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        if let Some(existing) = existing_snapshot(client, volume, response_id).await? {
            return Ok(existing);
        }
        let created = client
            .create_snapshot()
            .volume_id(volume)
            .description(description)
            .tag_specifications(tags.clone())
            .customize()
            .config_override(aws_sdk_ec2::config::Config::builder().retry_config(RetryConfig::disabled()))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("CreateSnapshot", e));
        match created {
            Ok(out) => return Ok(out.snapshot_id().unwrap_or_default().to_string()),
            // Only a throttled call surely made nothing. After a lost answer or a server error
            // a snapshot may exist that DescribeSnapshots (eventually consistent) does not show
            // yet: the error goes back, and the alert's retry, minutes later, looks again.
            Err(AwsError::Throttled { .. }) if attempt < SNAPSHOT_ATTEMPTS => {
                tokio::time::sleep(std::time::Duration::from_millis(200 * u64::from(attempt))).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The snapshot of `volume` soar already made for `response_id`, if any.
async fn existing_snapshot(client: &Client, volume: &str, response_id: &str) -> Result<Option<String>, AwsError> {
    let filter = |name: &str, value: &str| Filter::builder().name(name).values(value).build();
    let out = client
        .describe_snapshots()
        .owner_ids("self")
        .filters(filter("volume-id", volume))
        .filters(filter("tag:soar:response-id", response_id))
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeSnapshots", e))?;
    Ok(out
        .snapshots()
        .iter()
        .filter(|s| s.state().is_none_or(|state| state.as_str() != "error"))
        .find_map(|s| s.snapshot_id().map(String::from)))
}

impl Ec2 {
    pub fn new(accounts: Arc<AccountConfigs>) -> Self {
        Ec2 { accounts }
    }

    pub async fn client(&self, account: &str, region: &str) -> Result<Client, Ec2Error> {
        let config = self
            .accounts
            .for_resource(account, region)
            .await
            .map_err(Ec2Error::Credentials)?;
        Ok(Client::new(&config))
    }

    /// `None` when the instance does not exist (or no longer). A malformed id is an error, never
    /// "not found" (which would read as "not protected").
    pub async fn describe_instance(
        &self,
        account: &str,
        region: &str,
        id: &str,
    ) -> Result<Option<InstanceFacts>, Ec2Error> {
        let client = self.client(account, region).await?;
        describe(&client, id).await
    }

    async fn require_instance(&self, client: &Client, id: &str) -> Result<InstanceFacts, Ec2Error> {
        describe(client, id)
            .await?
            .ok_or_else(|| Ec2Error::InstanceNotFound(id.to_string()))
    }

    /// Moves every ENI to the untracking group, then to the quarantine group of its VPC.
    pub async fn isolate(&self, account: &str, region: &str, id: &str, alert_id: &str) -> Result<Value, Ec2Error> {
        self.isolate_described(account, region, id, alert_id, None).await
    }

    /// [`Ec2::isolate`] with the instance's facts when this phase has read them already.
    pub async fn isolate_described(
        &self,
        account: &str,
        region: &str,
        id: &str,
        alert_id: &str,
        known: Option<InstanceFacts>,
    ) -> Result<Value, Ec2Error> {
        let client = self.client(account, region).await?;
        let facts = match known {
            Some(facts) => facts,
            None => self.require_instance(&client, id).await?,
        };
        let vpc = facts
            .vpc_id
            .clone()
            .ok_or_else(|| Ec2Error::Unsuitable(format!("instance {id} is not in a VPC")))?;
        if facts.network_interfaces.is_empty() {
            return Err(Ec2Error::Unsuitable(format!(
                "instance {id} has no network interface to isolate"
            )));
        }
        let untracking = ensure_group(&client, &vpc, GroupKind::Untracking, alert_id).await?;
        let quarantine = ensure_group(&client, &vpc, GroupKind::Quarantine, alert_id).await?;
        let mut original = Map::new();
        for (eni, groups) in &facts.network_interfaces {
            original.insert(eni.clone(), json!(groups));
        }
        for group in [&untracking, &quarantine] {
            for (eni, _) in &facts.network_interfaces {
                client
                    .modify_network_interface_attribute()
                    .network_interface_id(eni)
                    .groups(group)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("ModifyNetworkInterfaceAttribute", e))?;
            }
            // With one interface, the instance's own group list is that interface's: set it too, so
            // every view of the instance agrees (emulators keep the two lists apart).
            if facts.network_interfaces.len() == 1 {
                client
                    .modify_instance_attribute()
                    .instance_id(id)
                    .groups(group)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("ModifyInstanceAttribute (groups)", e))?;
            }
        }
        tracing::info!(instance = id, %vpc, %quarantine, "instance isolated");
        let rollback: Vec<String> = facts
            .network_interfaces
            .iter()
            .map(|(eni, groups)| {
                format!(
                    "aws ec2 modify-network-interface-attribute --network-interface-id {eni} --groups {}",
                    groups.join(" ")
                )
            })
            .collect();
        let undo = Undo::RestoreGroups {
            instance_id: id.to_string(),
            groups: facts.network_interfaces.iter().cloned().collect(),
        };
        Ok(json!({
            "vpc_id": vpc,
            "untracking_group": untracking,
            "quarantine_group": quarantine,
            "original_groups": original,
            "rollback": rollback,
            "undo": undo.data(),
        }))
    }

    /// Snapshots every attached volume, tagged with the alert id (`soar:alert-id`), the
    /// response it is evidence for (`soar:response-id`: the alert's incident, else the alert;
    /// what an interrupted attempt is found by) and the instance (`soar:instance-id`).
    /// `extra`: tags the policy asked for besides soar's (which win: EC2 refuses a key twice in
    /// one request).
    pub async fn snapshot(
        &self,
        account: &str,
        region: &str,
        id: &str,
        (alert_id, response_id): (&str, &str),
        extra: Option<&Tags>,
    ) -> Result<Value, Ec2Error> {
        self.snapshot_described(account, region, id, ((alert_id, response_id), extra), None)
            .await
    }

    /// [`Ec2::snapshot`] with the instance's facts when this phase has read them already.
    pub async fn snapshot_described(
        &self,
        account: &str,
        region: &str,
        id: &str,
        ((alert_id, response_id), extra): ((&str, &str), Option<&Tags>),
        known: Option<InstanceFacts>,
    ) -> Result<Value, Ec2Error> {
        let client = self.client(account, region).await?;
        let facts = match known {
            Some(facts) => facts,
            None => self.require_instance(&client, id).await?,
        };
        if facts.volumes.is_empty() {
            return Err(Ec2Error::Unsuitable(format!(
                "instance {id} has no EBS volume to snapshot"
            )));
        }
        let mut wanted: BTreeMap<&str, &str> = extra.into_iter().flat_map(Tags::iter).collect();
        wanted.insert("soar:alert-id", alert_id);
        wanted.insert("soar:response-id", response_id);
        wanted.insert("soar:instance-id", id);
        let mut snapshots = Vec::new();
        for volume in &facts.volumes {
            let tags = wanted
                .iter()
                .fold(
                    TagSpecification::builder().resource_type(ResourceType::Snapshot),
                    |b, (k, v)| b.tags(Tag::builder().key(*k).value(*v).build()),
                )
                .build();
            let description = format!("soar evidence for {alert_id} ({id})");
            let snapshot_id = snapshot_once(&client, volume, response_id, (&description, tags)).await?;
            snapshots.push(json!({"volume_id": volume, "snapshot_id": snapshot_id}));
        }
        Ok(json!({"snapshots": snapshots}))
    }

    /// Stops the instance. A stop is deliberate (the default policy asks for approval first), so
    /// stop protection, which `ec2.protect` may have set moments before, is lifted for it.
    pub async fn stop(&self, account: &str, region: &str, id: &str) -> Result<Value, Ec2Error> {
        let client = self.client(account, region).await?;
        let off = AttributeBooleanValue::builder().value(false).build();
        if let Err(e) = client
            .modify_instance_attribute()
            .instance_id(id)
            .disable_api_stop(off)
            .send()
            .await
        {
            tracing::warn!(instance = id, error = %AwsError::from_sdk("ModifyInstanceAttribute", e), "stop protection not lifted");
        }
        client
            .stop_instances()
            .instance_ids(id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("StopInstances", e))?;
        let undo = Undo::StartInstance {
            instance_id: id.to_string(),
        };
        Ok(json!({
            "stopped": id,
            "rollback": format!("aws ec2 start-instances --instance-ids {id}"),
            "undo": undo.data(),
        }))
    }

    /// Removes the instance's IAM instance profile (DisassociateIamInstanceProfile for each
    /// association DescribeIamInstanceProfileAssociations lists as associated or associating), so
    /// the role's credentials the instance fetches from its metadata service are no longer
    /// renewed. Credentials already taken stay valid until they expire: `iam.revoke_role_sessions`
    /// is what ends those. Rollback data: each association's profile ARN, and the
    /// AssociateIamInstanceProfile command that restores it. An instance without a profile is
    /// left as it is.
    pub async fn detach_instance_profile(&self, account: &str, region: &str, id: &str) -> Result<Value, Ec2Error> {
        use aws_sdk_ec2::types::{Filter, IamInstanceProfileAssociationState};
        let client = self.client(account, region).await?;
        let listed = client
            .describe_iam_instance_profile_associations()
            .filters(Filter::builder().name("instance-id").values(id).build())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeIamInstanceProfileAssociations", e))?;
        let mut detached = Vec::new();
        let mut arns = Vec::new();
        for association in listed.iam_instance_profile_associations() {
            let live = matches!(
                association.state(),
                Some(IamInstanceProfileAssociationState::Associated | IamInstanceProfileAssociationState::Associating)
            );
            let (Some(association_id), true) = (association.association_id(), live) else {
                continue;
            };
            let arn = association
                .iam_instance_profile()
                .and_then(|p| p.arn())
                .unwrap_or_default();
            client
                .disassociate_iam_instance_profile()
                .association_id(association_id)
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("DisassociateIamInstanceProfile", e))?;
            arns.push(arn.to_string());
            detached.push(json!({
                "association_id": association_id,
                "instance_profile_arn": arn,
                "rollback": format!("aws ec2 associate-iam-instance-profile --instance-id {id} --iam-instance-profile Arn={arn}"),
            }));
        }
        let undo = Undo::AssociateInstanceProfiles {
            instance_id: id.to_string(),
            instance_profile_arns: arns,
        };
        Ok(json!({"instance": id, "detached": detached, "undo": undo.data()}))
    }

    /// CreateTags; `tags` are checked against EC2's limits when the action is decoded.
    pub async fn tag(&self, account: &str, region: &str, id: &str, tags: &Tags) -> Result<Value, Ec2Error> {
        let client = self.client(account, region).await?;
        let mut request = client.create_tags().resources(id);
        for (k, v) in tags.iter() {
            request = request.tags(Tag::builder().key(k).value(v).build());
        }
        request.send().await.map_err(|e| AwsError::from_sdk("CreateTags", e))?;
        Ok(json!({"tagged": id, "tags": tags}))
    }

    /// Termination and stop protection, so evidence survives an attacker's (or an autoscaler's) cleanup.
    pub async fn protect(&self, account: &str, region: &str, id: &str) -> Result<Value, Ec2Error> {
        let client = self.client(account, region).await?;
        let on = AttributeBooleanValue::builder().value(true).build();
        client
            .modify_instance_attribute()
            .instance_id(id)
            .disable_api_termination(on.clone())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ModifyInstanceAttribute (termination)", e))?;
        let stop = client
            .modify_instance_attribute()
            .instance_id(id)
            .disable_api_stop(on)
            .send()
            .await;
        let stop_protected = match stop {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(instance = id, error = %AwsError::from_sdk("ModifyInstanceAttribute", e), "stop protection not set");
                false
            }
        };
        let undo = Undo::Unprotect {
            instance_id: id.to_string(),
        };
        Ok(json!({"termination_protection": true, "stop_protection": stop_protected, "undo": undo.data()}))
    }

    /// Puts each ENI back in the groups it had before `ec2.isolate` (the quarantine group stays,
    /// unused, for the next isolation in the VPC).
    pub async fn restore_groups(
        &self,
        account: &str,
        region: &str,
        instance_id: &str,
        groups: &BTreeMap<String, Vec<String>>,
    ) -> Result<Value, Ec2Error> {
        let client = self.client(account, region).await?;
        for (eni, ids) in groups {
            if ids.is_empty() {
                return Err(Ec2Error::Unsuitable(format!("no original group recorded for {eni}")));
            }
            client
                .modify_network_interface_attribute()
                .network_interface_id(eni)
                .set_groups(Some(ids.clone()))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ModifyNetworkInterfaceAttribute", e))?;
        }
        // As isolation does: with one interface, the instance's own list is set too, so that
        // every view of the instance agrees.
        if let [(_, ids)] = groups.iter().collect::<Vec<_>>().as_slice() {
            client
                .modify_instance_attribute()
                .instance_id(instance_id)
                .set_groups(Some(ids.to_vec()))
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ModifyInstanceAttribute (groups)", e))?;
        }
        Ok(json!({"restored_groups": groups}))
    }

    /// StartInstances: the rollback of `ec2.stop`.
    pub async fn start(&self, account: &str, region: &str, id: &str) -> Result<Value, Ec2Error> {
        let client = self.client(account, region).await?;
        client
            .start_instances()
            .instance_ids(id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("StartInstances", e))?;
        Ok(json!({"started": id}))
    }

    /// Termination and stop protection lifted: the rollback of `ec2.protect`.
    pub async fn unprotect(&self, account: &str, region: &str, id: &str) -> Result<Value, Ec2Error> {
        let client = self.client(account, region).await?;
        let off = AttributeBooleanValue::builder().value(false).build();
        client
            .modify_instance_attribute()
            .instance_id(id)
            .disable_api_termination(off.clone())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ModifyInstanceAttribute (termination)", e))?;
        client
            .modify_instance_attribute()
            .instance_id(id)
            .disable_api_stop(off)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ModifyInstanceAttribute (stop)", e))?;
        Ok(json!({"termination_protection": false, "stop_protection": false}))
    }

    /// AssociateIamInstanceProfile for each profile `ec2.detach_instance_profile` removed.
    pub async fn associate_instance_profiles(
        &self,
        account: &str,
        region: &str,
        id: &str,
        arns: &[String],
    ) -> Result<Value, Ec2Error> {
        use aws_sdk_ec2::types::IamInstanceProfileSpecification;
        let client = self.client(account, region).await?;
        let mut associated = Vec::new();
        for arn in arns {
            let out = client
                .associate_iam_instance_profile()
                .instance_id(id)
                .iam_instance_profile(IamInstanceProfileSpecification::builder().arn(arn).build())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("AssociateIamInstanceProfile", e))?;
            associated.push(json!({
                "instance_profile_arn": arn,
                "association_id": out.iam_instance_profile_association().and_then(|a| a.association_id()),
            }));
        }
        Ok(json!({"instance": id, "associated": associated}))
    }
}

#[async_trait]
impl Inventory for Ec2 {
    async fn describe(&self, resource: &Resource) -> Result<Option<InventoryRecord>, ProviderError> {
        if resource.kind != ResourceKind::Instance || resource.id.is_empty() {
            return Ok(None);
        }
        self.describe_instance(&resource.account, &resource.region, &resource.id)
            .await
            .map(|facts| facts.map(|f| f.to_record()))
            .map_err(|e| {
                let transient = matches!(&e, Ec2Error::Aws(aws) if aws.is_transient());
                ProviderError::new("ec2", e.to_string()).transient(transient)
            })
    }
}

/// DescribeInstances for one id: `None` when EC2 says it does not exist.
async fn describe(client: &Client, id: &str) -> Result<Option<InstanceFacts>, Ec2Error> {
    match client.describe_instances().instance_ids(id).send().await {
        Ok(out) => Ok(out
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .next()
            .map(InstanceFacts::from_instance)),
        Err(e) => match AwsError::from_sdk("DescribeInstances", e) {
            AwsError::NotFound { .. } => Ok(None),
            other => Err(other.into()),
        },
    }
}

#[derive(Clone, Copy)]
enum GroupKind {
    Untracking,
    Quarantine,
}

impl GroupKind {
    fn name(self, vpc: &str) -> String {
        match self {
            GroupKind::Untracking => format!("soar-untracking-{vpc}"),
            GroupKind::Quarantine => format!("soar-quarantine-{vpc}"),
        }
    }
}

/// Finds or creates soar's group of `kind` in `vpc`, with exactly the rules it must have.
async fn ensure_group(client: &Client, vpc: &str, kind: GroupKind, alert_id: &str) -> Result<String, Ec2Error> {
    let name = kind.name(vpc);
    if let Some(id) = find_group(client, vpc, &name).await? {
        return Ok(id);
    }
    let description = match kind {
        GroupKind::Untracking => "soar isolation step 1: allow-all so existing connections become untracked",
        GroupKind::Quarantine => "soar isolation step 2: no rules, no traffic",
    };
    let created = client
        .create_security_group()
        .group_name(&name)
        .description(description)
        .vpc_id(vpc)
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::SecurityGroup)
                .tags(Tag::builder().key("soar:managed").value("true").build())
                .tags(Tag::builder().key("soar:created-for").value(alert_id).build())
                .build(),
        )
        .send()
        .await;
    let id = match created.map_err(|e| AwsError::from_sdk("CreateSecurityGroup", e)) {
        Ok(out) => out.group_id().unwrap_or_default().to_string(),
        // Another invocation created it a moment ago.
        Err(AwsError::AlreadyExists { .. }) => {
            return find_group(client, vpc, &name)
                .await?
                .ok_or_else(|| Ec2Error::Unsuitable(format!("group {name} vanished")));
        }
        Err(e) => return Err(e.into()),
    };
    let all_v4 = || {
        IpPermission::builder()
            .ip_protocol("-1")
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
    };
    match kind {
        GroupKind::Untracking => {
            let rule = all_v4()
                .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
                .build();
            ignore_duplicate(
                client
                    .authorize_security_group_ingress()
                    .group_id(&id)
                    .ip_permissions(rule.clone())
                    .send()
                    .await,
                "AuthorizeSecurityGroupIngress",
            )?;
            ignore_duplicate(
                client
                    .authorize_security_group_egress()
                    .group_id(&id)
                    .ip_permissions(rule)
                    .send()
                    .await,
                "AuthorizeSecurityGroupEgress",
            )?;
        }
        GroupKind::Quarantine => {
            // New groups allow all egress by default: take that away.
            let revoke = client
                .revoke_security_group_egress()
                .group_id(&id)
                .ip_permissions(all_v4().build())
                .send()
                .await;
            match revoke.map_err(|e| AwsError::from_sdk("RevokeSecurityGroupEgress", e)) {
                Ok(_) | Err(AwsError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(id)
}

/// A rule that is there already is as good as one just added.
fn ignore_duplicate<T, E, R>(
    result: Result<T, aws_sdk_ec2::error::SdkError<E, R>>,
    op: &'static str,
) -> Result<(), Ec2Error>
where
    E: aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result.map_err(|e| AwsError::from_sdk(op, e)) {
        Ok(_) | Err(AwsError::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn find_group(client: &Client, vpc: &str, name: &str) -> Result<Option<String>, Ec2Error> {
    let out = client
        .describe_security_groups()
        .filters(Filter::builder().name("vpc-id").values(vpc).build())
        .filters(Filter::builder().name("group-name").values(name).build())
        .send()
        .await
        .map_err(|e| AwsError::from_sdk("DescribeSecurityGroups", e))?;
    Ok(out
        .security_groups()
        .first()
        .and_then(|g| g.group_id())
        .map(String::from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_ec2::operation::describe_instances::{DescribeInstancesError, DescribeInstancesOutput};
    use aws_sdk_ec2::types::Reservation;
    use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
    use aws_smithy_types::error::ErrorMetadata;

    /// A real EC2 client whose every call gets `rule`'s canned answer (aws-smithy-mocks).
    fn client(rule: &Rule) -> Client {
        let config = aws_sdk_ec2::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
            .http_client(create_mock_http_client())
            .interceptor(
                MockResponseInterceptor::new()
                    .rule_mode(RuleMode::MatchAny)
                    .with_rule(rule),
            )
            .build();
        Client::from_conf(config)
    }

    fn failing(code: &'static str) -> Rule {
        mock!(Client::describe_instances).then_error(move || {
            DescribeInstancesError::generic(ErrorMetadata::builder().code(code).message("from the mock").build())
        })
    }

    /// Only EC2's "not found" is "no such instance" (which protection reads as "nothing to
    /// protect"); a malformed id, throttling or a missing permission are errors the caller sees.
    #[tokio::test]
    async fn only_not_found_means_no_instance() {
        let none = describe(&client(&failing("InvalidInstanceID.NotFound")), "i-0123456789abcdef0").await;
        assert_eq!(none, Ok(None));
        for code in [
            "InvalidInstanceID.Malformed",
            "RequestLimitExceeded",
            "UnauthorizedOperation",
        ] {
            let Err(Ec2Error::Aws(e)) = describe(&client(&failing(code)), "i-0123456789abcdef0").await else {
                panic!("{code}: not an EC2 error");
            };
            let kind_matches = match code {
                "InvalidInstanceID.Malformed" => matches!(e, AwsError::InvalidId { .. }),
                "RequestLimitExceeded" => matches!(e, AwsError::Throttled { .. }),
                _ => matches!(e, AwsError::AccessDenied { .. }),
            };
            assert!(kind_matches, "{code}: {e:?}");
        }
        let record = InstanceFacts {
            id: "i-0123456789abcdef0".into(),
            state: "running".into(),
            vpc_id: Some("vpc-1".into()),
            subnet_id: None,
            tags: [("Name".to_string(), "web".to_string())].into(),
            security_groups: vec!["sg-1".into()],
            network_interfaces: vec![("eni-1".into(), vec!["sg-1".into()])],
            volumes: vec!["vol-1".into()],
            instance_profile: None,
        };
        let read_back = InstanceFacts::from_record("i-0123456789abcdef0", &record.to_record());
        assert_eq!(
            read_back,
            Some(record),
            "the protection check's record carries the facts an action needs"
        );
        let found = mock!(Client::describe_instances).then_output(|| {
            DescribeInstancesOutput::builder()
                .reservations(
                    Reservation::builder()
                        .instances(Instance::builder().instance_id("i-0123456789abcdef0").build())
                        .build(),
                )
                .build()
        });
        let facts = describe(&client(&found), "i-0123456789abcdef0").await.unwrap().unwrap();
        assert_eq!(facts.id, "i-0123456789abcdef0");
    }
}
