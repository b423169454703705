//! The resources a GuardDuty finding names besides the one it is about, and the indicators of an
//! attack sequence. Formats: GuardDuty API reference (`Resource`, `S3BucketDetail`,
//! `RdsDbUserDetails`, `Sequence`, `ResourceV2`, `Actor`, `NetworkEndpoint`, `Indicator`).
//!
//! - the instance behind a credential, container, ECS or EKS finding (`resource.instanceDetails`
//!   when the finding is about something else);
//! - every bucket of `resource.s3BucketDetails` after the first;
//! - the task of an ECS runtime finding (`resource.ecsClusterDetails.taskDetails`);
//! - the access key behind a finding about something else (`resource.accessKeyDetails`);
//! - the database user of an RDS login finding;
//! - every resource and actor session of an attack sequence (`service.detection.sequence`).

use super::fields::{tags_in, text};
use crate::alert::{IndicatorKind, Resource, ResourceKind};
use serde_json::{Map, Value, json};

/// The related resources of `finding`, whose primary resource is `primary`.
pub(super) fn related_resources(finding: &Value, primary: &Resource) -> Vec<Resource> {
    let resource = &finding["resource"];
    let mut out = Vec::new();
    let instance = &resource["instanceDetails"];
    if primary.kind != ResourceKind::Instance
        && let Some(id) = text(instance.get("instanceId"))
            .map(|id| id.trim().to_string())
            .filter(|id| !id.is_empty())
    {
        let mut behind = Resource {
            kind: ResourceKind::Instance,
            id,
            ..Resource::unknown()
        };
        (behind.tags, behind.protected) = tags_in(&[instance]);
        super::instance::instance_attributes(instance, &mut behind.attributes);
        out.push(behind);
    }
    for bucket in resource["s3BucketDetails"].as_array().into_iter().flatten().skip(1) {
        let Some(name) = text(bucket.get("name")).filter(|n| !n.trim().is_empty()) else {
            continue;
        };
        let mut other = Resource {
            kind: ResourceKind::S3Bucket,
            id: name.trim().to_string(),
            ..Resource::unknown()
        };
        (other.tags, other.protected) = tags_in(&[bucket]);
        out.push(other);
    }
    out.extend(ecs_task(resource));
    if primary.kind != ResourceKind::AccessKey
        && let Some(key) = access_key(resource)
    {
        out.push(key);
    }
    if let Some(user) = text(resource["rdsDbUserDetails"].get("user")).filter(|u| !u.is_empty()) {
        let mut attributes = Map::new();
        for (from, to) in [
            ("database", "database"),
            ("application", "application"),
            ("authMethod", "auth_method"),
        ] {
            if let Some(v) = text(resource["rdsDbUserDetails"].get(from)) {
                attributes.insert(to.into(), json!(v));
            }
        }
        out.push(Resource {
            kind: ResourceKind::Other("RDSDBUser".into()),
            id: user,
            attributes,
            ..Resource::unknown()
        });
    }
    let sequence = &finding["service"]["detection"]["sequence"];
    out.extend(
        sequence["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(sequence_resource),
    );
    out.extend(
        sequence["actors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(actor_session),
    );
    for r in &mut out {
        if r.account.is_empty() {
            r.account = text(finding.get("accountId")).unwrap_or_default();
        }
        if r.region.is_empty() {
            r.region = text(finding.get("region")).unwrap_or_default();
        }
    }
    out
}

/// The credentials behind a finding about something else (an S3 data event names the caller's
/// key in `accessKeyDetails`): what a credential response acts on.
fn access_key(resource: &Value) -> Option<Resource> {
    let details = &resource["accessKeyDetails"];
    let id = text(details.get("accessKeyId"))
        .map(|k| k.trim().to_string())
        .filter(|k| !k.is_empty())?;
    let mut out = Resource {
        kind: ResourceKind::AccessKey,
        id,
        ..Resource::unknown()
    };
    access_key_attributes(details, &mut out.attributes);
    Some(out)
}

/// `user_name`, `principal_id` and `user_type` of GuardDuty's `accessKeyDetails`: whose key it is
/// (an IAM user, an assumed role, root), as the remediate policy reads it.
pub(super) fn access_key_attributes(details: &Value, attributes: &mut Map<String, Value>) {
    for (from, to) in [
        ("userName", "user_name"),
        ("principalId", "principal_id"),
        ("userType", "user_type"),
    ] {
        if let Some(v) = text(details.get(from)) {
            attributes.insert(to.into(), json!(v));
        }
    }
}

/// The task of an ECS runtime finding (`ecsClusterDetails.taskDetails`, GuardDuty API reference,
/// EcsTaskDetails), with its cluster, so that `ecs.stop_task` can name both.
fn ecs_task(resource: &Value) -> Option<Resource> {
    let cluster = &resource["ecsClusterDetails"];
    let task = &cluster["taskDetails"];
    let arn = text(task.get("arn"))
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())?;
    let mut out = Resource {
        kind: ResourceKind::EcsTask,
        id: arn,
        ..Resource::unknown()
    };
    (out.tags, out.protected) = tags_in(&[task]);
    let cluster_name = text(cluster.get("arn")).or_else(|| text(cluster.get("name")));
    for (value, name) in [
        (cluster_name, "cluster"),
        (text(task.get("definitionArn")), "definition_arn"),
        (text(task.get("launchType")), "launch_type"),
        (text(task.get("group")), "group"),
    ] {
        if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
            out.attributes.insert(name.into(), json!(v));
        }
    }
    Some(out)
}

/// One resource of an attack sequence (`ResourceV2`): `uid` is an ARN or id, `resourceType`
/// one of `EC2_INSTANCE`, `S3_BUCKET`, `S3_OBJECT`, `ACCESS_KEY`, `EKS_CLUSTER`, ...
fn sequence_resource(entry: &Value) -> Option<Resource> {
    let uid = text(entry.get("uid"))
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())?;
    let name_after = |marker: &str| uid.rsplit_once(marker).map_or(uid.as_str(), |(_, n)| n).to_string();
    let (kind, id) = match text(entry.get("resourceType"))
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase()
        .as_str()
    {
        "EC2_INSTANCE" => (ResourceKind::Instance, name_after("instance/")),
        "S3_BUCKET" => (ResourceKind::S3Bucket, name_after(":::")),
        "S3_OBJECT" => (ResourceKind::S3Object, uid.clone()),
        "ACCESS_KEY" => (ResourceKind::AccessKey, name_after(":")),
        "EKS_CLUSTER" => (ResourceKind::EksCluster, name_after("cluster/")),
        other => (ResourceKind::Other(other.to_string()), uid.clone()),
    };
    let mut resource = Resource {
        kind,
        id,
        account: text(entry.get("accountId")).unwrap_or_default(),
        region: text(entry.get("region")).unwrap_or_default(),
        ..Resource::unknown()
    };
    (resource.tags, resource.protected) = tags_in(&[entry]);
    resource.attributes.insert("uid".into(), json!(uid));
    if let Some(name) = text(entry.get("name")) {
        resource.attributes.insert("name".into(), json!(name));
    }
    let ec2 = &entry["data"]["ec2Instance"];
    for (from, to) in [
        ("instanceState", "state"),
        ("availabilityZone", "availability_zone"),
        ("imageId", "image_id"),
    ] {
        if let Some(v) = text(ec2.get(from)) {
            resource.attributes.insert(to.into(), json!(v));
        }
    }
    if let Some(enis) = ec2.get("ec2NetworkInterfaceUids").filter(|v| v.is_array()) {
        resource.attributes.insert("network_interfaces".into(), enis.clone());
    }
    Some(resource)
}

/// An actor's session (`Actor.session.uid`, an `ASIA…` session key): temporary credentials of
/// the role that `issuer` names.
fn actor_session(actor: &Value) -> Option<Resource> {
    let session = &actor["session"];
    let uid = text(session.get("uid"))
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())?;
    let mut attributes = Map::new();
    attributes.insert("credential_type".into(), json!("session"));
    if let Some(issuer) = text(session.get("issuer")) {
        attributes.insert("session_issuer".into(), json!(issuer));
    }
    if let Some(actor_id) = text(actor.get("id")) {
        attributes.insert("actor_id".into(), json!(actor_id));
    }
    Some(Resource {
        kind: ResourceKind::AccessKey,
        id: uid,
        attributes,
        ..Resource::unknown()
    })
}

/// The indicators of an attack sequence: each endpoint's address and domain, each actor's
/// session key and user, and the addresses and domains of `sequenceIndicators`
/// (`MALICIOUS_IP`, `MALICIOUS_DOMAIN`, ...). As (kind, value, field, role).
pub(super) fn sequence_indicators(finding: &Value) -> Vec<(IndicatorKind, Value, String, &'static str)> {
    let base = "service.detection.sequence";
    let sequence = &finding["service"]["detection"]["sequence"];
    let mut out = Vec::new();
    let mut add = |kind, value: Option<&Value>, field: String, role| {
        if let Some(value) = value.filter(|v| !v.is_null()) {
            out.push((kind, value.clone(), field, role));
        }
    };
    for (i, endpoint) in sequence["endpoints"].as_array().into_iter().flatten().enumerate() {
        add(
            IndicatorKind::Ip,
            endpoint.get("ip"),
            format!("{base}.endpoints[{i}].ip"),
            "remote",
        );
        add(
            IndicatorKind::Domain,
            endpoint.get("domain"),
            format!("{base}.endpoints[{i}].domain"),
            "remote",
        );
    }
    for (i, actor) in sequence["actors"].as_array().into_iter().flatten().enumerate() {
        let session = actor["session"].get("uid");
        add(
            IndicatorKind::AccessKey,
            session,
            format!("{base}.actors[{i}].session.uid"),
            "actor",
        );
        add(
            IndicatorKind::User,
            actor["user"].get("name"),
            format!("{base}.actors[{i}].user.name"),
            "actor",
        );
    }
    for (i, indicator) in sequence["sequenceIndicators"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let key = text(indicator.get("key")).unwrap_or_default().to_ascii_uppercase();
        let kind = if key.ends_with("_IP") || key.contains("IP_ADDRESS") {
            IndicatorKind::Ip
        } else if key.ends_with("_DOMAIN") || key.contains("DOMAIN") {
            IndicatorKind::Domain
        } else {
            continue;
        };
        add(
            kind,
            indicator.get("values"),
            format!("{base}.sequenceIndicators[{i}].values"),
            "remote",
        );
    }
    out
}
