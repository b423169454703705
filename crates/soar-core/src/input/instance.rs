//! GuardDuty's `instanceDetails`, read into a resource's attributes: the network (VPC, subnet,
//! security groups, ENIs), state, image, instance profile and launch time. Shared by the
//! finding's primary resource and the instance behind a finding about something else.

use super::fields::text;
use crate::time;
use serde_json::{Map, Value, json};

/// `details` (an `instanceDetails` object) into `attrs`.
pub(super) fn instance_attributes(details: &Value, attrs: &mut Map<String, Value>) {
    let enis = details["networkInterfaces"].as_array().cloned().unwrap_or_default();
    let mut groups: Vec<Value> = enis
        .iter()
        .flat_map(|eni| eni["securityGroups"].as_array().cloned().unwrap_or_default())
        .filter_map(|g| text(g.get("groupId")).map(Value::String))
        .collect();
    groups.dedup();
    let eni_ids: Vec<Value> = enis
        .iter()
        .filter_map(|eni| text(eni.get("networkInterfaceId")).map(Value::String))
        .collect();
    if let Some(first) = enis.first() {
        for (from, to) in [("vpcId", "vpc_id"), ("subnetId", "subnet_id")] {
            if let Some(v) = text(first.get(from)) {
                attrs.insert(to.into(), Value::String(v));
            }
        }
    }
    attrs.insert("security_groups".into(), Value::Array(groups));
    attrs.insert("network_interfaces".into(), Value::Array(eni_ids));
    for (from, to) in [
        ("instanceState", "state"),
        ("availabilityZone", "availability_zone"),
        ("imageId", "image_id"),
    ] {
        if let Some(v) = text(details.get(from)) {
            attrs.insert(to.into(), Value::String(v));
        }
    }
    if let Some(arn) = text(details["iamInstanceProfile"].get("arn")) {
        attrs.insert("instance_profile".into(), Value::String(arn));
    }
    if let Some(launch) = details.get("launchTime").and_then(time::normalise) {
        attrs.insert("launch_time".into(), json!(launch));
    }
}
