//! GuardDuty finding → [`Alert`]. Real findings are messy: numbers arrive as strings and strings
//! as numbers, timestamps in three shapes, `action: {}` on runtime findings, resource types soar has
//! never seen. Parse leniently, keep the raw finding, and reject only a finding that cannot be
//! identified (no `id` and no `arn`, or no `type`).

use super::error::InputError;
use super::fields::{named, normal_key, severity_value, tags_in, text};
use crate::alert::{Alert, Indicator, IndicatorKind, Resource, ResourceKind, severity_label};
use crate::json::flag_set;
use crate::time;
use serde_json::Value;

/// Normalises one GuardDuty finding (the `detail` of an EventBridge event).
pub fn alert_from_finding(finding: &Value) -> Result<Alert, InputError> {
    let obj = finding
        .as_object()
        .ok_or_else(|| InputError::invalid("detail", "a GuardDuty finding must be a JSON object"))?;

    for field in ["id", "type", "accountId", "region"] {
        if let Some(Value::Array(values)) = obj.get(field) {
            return Err(InputError::invalid(
                field,
                format!("given {} times with different values; a finding has one", values.len()),
            ));
        }
    }
    let finding_id = text(obj.get("id"))
        .or_else(|| text(obj.get("arn")).and_then(|arn| arn.rsplit_once("/finding/").map(|(_, id)| id.to_string())))
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            InputError::missing(
                "id",
                "a GuardDuty finding needs an `id` (or an `arn` ending in /finding/<id>)",
            )
        })?;
    let kind = text(obj.get("type"))
        .filter(|t| !t.is_empty())
        .ok_or_else(|| InputError::missing("type", "a GuardDuty finding needs its finding `type`"))?;

    let account = text(obj.get("accountId")).unwrap_or_default();
    let region = text(obj.get("region")).unwrap_or_default();
    let severity = severity_value(obj.get("severity"))
        .map_err(|got| InputError::invalid("severity", format!("expected a number from 0 to 10, got {got}")))?;

    let mut resource = resource_from(obj.get("resource"));
    resource.account.clone_from(&account);
    resource.region.clone_from(&region);
    if resource.kind == ResourceKind::AttackSequence && resource.id.is_empty() {
        // The sequence is what the finding is about: named by its own id.
        resource.id = text(finding.pointer("/service/detection/sequence/uid")).unwrap_or_else(|| finding_id.clone());
    }
    let related_resources = super::related::related_resources(finding, &resource);

    let mut indicators = Vec::new();
    collect_indicators(finding, &mut indicators);
    let indicators = crate::canonical::indicators(indicators);

    let arn = text(obj.get("arn"));
    let finding_ref = crate::finding::FindingRef::of_guardduty(arn.as_deref(), &account, &region, &finding_id);
    Ok(Alert {
        id: format!("guardduty/{account}/{region}/{finding_id}"),
        source: "guardduty".into(),
        source_id: finding_id,
        account,
        region,
        title: text(obj.get("title")).unwrap_or_else(|| kind.clone()),
        kind,
        severity,
        severity_label: severity_label(severity).into(),
        description: text(obj.get("description")).unwrap_or_default(),
        resource,
        related_resources,
        indicators,
        created_at: obj.get("createdAt").and_then(time::normalise),
        updated_at: obj.get("updatedAt").and_then(time::normalise),
        sample: is_sample(finding),
        archived: services(finding)
            .into_iter()
            .any(|service| crate::json::flag_in_object(service, &["archived"])),
        labels: Vec::new(),
        finding: finding_ref,
        raw: finding.clone(),
    })
}

/// Whether the finding is a sample: `service.additionalInfo.sample`, or the same flag inside
/// `additionalInfo.value`, which newer findings carry as a JSON string and some tools forward as
/// an object, a list, or JSON inside JSON. Read the safe way ([`flag_set`]): `1`, `"TRUE"`, a
/// key spelled `Sample `, one `true` among repeated keys, or a `"sample": true` in a `value`
/// that is not valid JSON all make a sample. Only these places count: other fields of the
/// finding can carry text an attacker chose.
pub(crate) fn is_sample(finding: &Value) -> bool {
    if crate::json::flag_in(finding, &["sample"]) {
        return true;
    }
    services(finding)
        .into_iter()
        .flat_map(|service| named(service, "additionalInfo"))
        .any(|info| value_says_sample(info, 0))
}

/// The `service` blocks of a finding: the key in any case and spacing, given once or more.
fn services(finding: &Value) -> Vec<&serde_json::Map<String, Value>> {
    crate::json::objects(finding)
        .into_iter()
        .flat_map(|f| named(f, "service"))
        .flat_map(crate::json::objects)
        .collect()
}

/// `sample` set in `additionalInfo` or its `value`: an object, a list of them, JSON text (JSON
/// inside JSON included), or a `value` inside one. The depth bound is for safety: JSON nests at
/// most 128 levels, and every level here is one of them.
pub(super) fn value_says_sample(value: &Value, depth: u8) -> bool {
    if depth > 128 {
        return true;
    }
    match value {
        Value::Object(object) => object.iter().any(|(k, v)| {
            let key = normal_key(k);
            (key.eq_ignore_ascii_case("sample") && flag_set(Some(v)))
                || (key.eq_ignore_ascii_case("value") && value_says_sample(v, depth + 1))
        }),
        Value::Array(items) => items.iter().any(|v| value_says_sample(v, depth + 1)),
        Value::String(text) => {
            let bytes = text.as_bytes();
            let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            match crate::json::from_slice_keeping_duplicates(bytes) {
                Ok(parsed) => value_says_sample(&parsed, depth + 1),
                Err(_) => says_sample(text),
            }
        }
        _ => false,
    }
}

/// Text that is not JSON but gives `sample` a value that does not clearly say no
/// (`{'sample': true}`, `{"sample": "on",}`): unclear, so the safe side.
fn says_sample(text: &str) -> bool {
    let squeezed: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}'))
        .collect::<String>()
        .to_ascii_lowercase();
    squeezed.match_indices("sample").any(|(at, _)| {
        let after = &squeezed[at + "sample".len()..];
        let Some(value) = after.strip_prefix(':').or_else(|| after.strip_prefix('=')) else {
            return false;
        };
        let token: String = value
            .chars()
            .take_while(|c| !matches!(c, ',' | '}' | ';' | '&'))
            .collect();
        !crate::json::says_no(token.trim_matches(|c| matches!(c, '[' | ']')))
    })
}

fn resource_from(resource: Option<&Value>) -> Resource {
    let Some(resource) = resource.filter(|r| r.is_object()) else {
        return Resource::unknown();
    };
    let type_name = text(resource.get("resourceType")).unwrap_or_else(|| "Unknown".into());
    let kind = ResourceKind::from_name(&type_name);
    let mut out = Resource {
        kind: kind.clone(),
        ..Resource::unknown()
    };
    let attrs = &mut out.attributes;

    // IAM findings can carry instance details too; the resource type says which one is the target.
    match kind {
        ResourceKind::Instance => {
            let details = &resource["instanceDetails"];
            out.id = text(details.get("instanceId")).unwrap_or_default();
            // Tags of every `instanceDetails` (the key in any case, given once or more).
            let all_details: Vec<&Value> = crate::json::objects(resource)
                .into_iter()
                .flat_map(|r| named(r, "instanceDetails"))
                .collect();
            (out.tags, out.protected) = tags_in(&all_details);
            super::instance::instance_attributes(details, attrs);
        }
        ResourceKind::AccessKey => {
            let details = &resource["accessKeyDetails"];
            out.id = text(details.get("accessKeyId")).unwrap_or_default();
            super::related::access_key_attributes(details, attrs);
        }
        ResourceKind::S3Bucket => {
            let buckets = resource["s3BucketDetails"].as_array().cloned().unwrap_or_default();
            out.id = buckets.first().and_then(|b| text(b.get("name"))).unwrap_or_default();
            (out.tags, out.protected) = tags_in(&buckets.first().into_iter().collect::<Vec<_>>());
            let names: Vec<Value> = buckets
                .iter()
                .filter_map(|b| text(b.get("name")))
                .map(Value::String)
                .collect();
            attrs.insert("buckets".into(), Value::Array(names));
        }
        ResourceKind::S3Object => s3_object(resource, &mut out),
        ResourceKind::EksCluster => {
            named_in(resource, "eksClusterDetails", &["name"], &mut out);
            kubernetes_workload(resource, &mut out);
        }
        ResourceKind::Container => {
            named_in(resource, "ecsClusterDetails", &["name"], &mut out);
            if out.id.is_empty() {
                out.id = text(resource["containerDetails"].get("id")).unwrap_or_default();
            }
        }
        ResourceKind::Lambda => {
            named_in(resource, "lambdaDetails", &["functionName"], &mut out);
            if let Some(arn) = text(resource["lambdaDetails"].get("functionArn")) {
                out.attributes.insert("function_arn".into(), Value::String(arn));
            }
        }
        ResourceKind::RdsDbInstance => named_in(resource, "rdsDbInstanceDetails", &["dbInstanceIdentifier"], &mut out),
        ResourceKind::Other(ref name) if name == "RDSLimitlessDB" => named_in(
            resource,
            "rdsLimitlessDbDetails",
            &["dbShardGroupIdentifier", "dbClusterIdentifier"],
            &mut out,
        ),
        ResourceKind::AttackSequence | ResourceKind::EcsTask | ResourceKind::Finding | ResourceKind::Other(_) => {}
    }
    // `"i-0abc "` is the instance `i-0abc`: an inventory lookup with the space would miss it.
    out.id = out.id.trim().to_string();
    out
}

/// What an EKS finding says of the Kubernetes side (GuardDuty API reference, KubernetesDetails):
/// `namespace`, `workload_name`, `workload_type` (`pods`, `deployments`, ...), `kubernetes_user`
/// (the caller of a Kubernetes audit finding): what a responder's `kubectl` commands name.
fn kubernetes_workload(resource: &Value, out: &mut Resource) {
    let k8s = &resource["kubernetesDetails"];
    for (value, name) in [
        (k8s["kubernetesWorkloadDetails"].get("namespace"), "namespace"),
        (k8s["kubernetesWorkloadDetails"].get("name"), "workload_name"),
        (k8s["kubernetesWorkloadDetails"].get("type"), "workload_type"),
        (k8s["kubernetesUserDetails"].get("username"), "kubernetes_user"),
    ] {
        if let Some(v) = text(value).filter(|v| !v.trim().is_empty()) {
            out.attributes.insert(name.into(), Value::String(v));
        }
    }
}

/// The id from the first of `fields` in the `block` of `resource`, and the tags of the block.
fn named_in(resource: &Value, block: &str, fields: &[&str], out: &mut Resource) {
    let details = &resource[block];
    out.id = fields.iter().find_map(|f| text(details.get(*f))).unwrap_or_default();
    (out.tags, out.protected) = tags_in(&[details]);
}

/// Malware Protection for S3: the bucket, with the scanned object inside it (GuardDuty API
/// reference, S3ObjectDetail).
fn s3_object(resource: &Value, out: &mut Resource) {
    let bucket = resource["s3BucketDetails"].get(0).cloned().unwrap_or(Value::Null);
    let object = bucket["s3ObjectDetails"].get(0).cloned().unwrap_or(Value::Null);
    let name = text(bucket.get("name")).unwrap_or_default();
    out.id = text(object.get("objectArn"))
        .or_else(|| text(object.get("key")).map(|key| format!("arn:aws:s3:::{name}/{key}")))
        .unwrap_or_default();
    (out.tags, out.protected) = tags_in(&[&bucket]);
    for (from, to) in [("key", "object_key"), ("versionId", "version_id"), ("eTag", "etag")] {
        if let Some(v) = text(object.get(from)) {
            out.attributes.insert(to.into(), Value::String(v));
        }
    }
    out.attributes.insert("bucket_name".into(), Value::String(name));
}

/// Where GuardDuty puts observables, by action type and resource.
const REMOTE_IP_PATHS: &[&str] = &[
    "/service/action/networkConnectionAction/remoteIpDetails",
    "/service/action/awsApiCallAction/remoteIpDetails",
    "/service/action/kubernetesApiCallAction/remoteIpDetails",
    "/service/action/rdsLoginAttemptAction/remoteIpDetails",
];

fn collect_indicators(finding: &Value, out: &mut Vec<Indicator>) {
    let mut found = Found(out);
    remote_indicators(finding, &mut found);
    resource_indicators(finding, &mut found);
    malware_indicators(finding, &mut found);
    for (kind, value, field, role) in super::related::sequence_indicators(finding) {
        found.push(kind, Some(&value), field, role);
    }
}

/// The indicators found so far, each (kind, value) once.
struct Found<'a>(&'a mut Vec<Indicator>);

impl Found<'_> {
    /// Every value of `field` (a field given twice with different values, see crate::json, yields
    /// every value: an indicator never vanishes because its key was repeated).
    fn push(&mut self, kind: IndicatorKind, field: Option<&Value>, path: String, role: &str) {
        let values = match field {
            Some(Value::Array(values)) => values.iter().filter_map(|v| text(Some(v))).collect(),
            other => text(other).into_iter().collect::<Vec<_>>(),
        };
        for value in values {
            let value = value.trim().to_string();
            if !value.is_empty() && !self.0.iter().any(|i| i.kind == kind && i.value == value) {
                self.0.push(Indicator::new(kind, value, path.clone(), role));
            }
        }
    }
}

/// `/a/b` as `a.b`, the way the trace names a field.
fn dotted(pointer: &str) -> String {
    pointer.trim_start_matches('/').replace('/', ".")
}

/// Remote addresses and domains of the finding's action.
fn remote_indicators(finding: &Value, found: &mut Found<'_>) {
    for base in REMOTE_IP_PATHS {
        if let Some(details) = finding.pointer(base) {
            for field in ["ipAddressV4", "ipAddressV6"] {
                found.push(
                    IndicatorKind::Ip,
                    details.get(field),
                    format!("{}.{field}", dotted(base)),
                    "remote",
                );
            }
        }
    }
    if let Some(probes) = finding
        .pointer("/service/action/portProbeAction/portProbeDetails")
        .and_then(Value::as_array)
    {
        for (i, probe) in probes.iter().enumerate() {
            for field in ["ipAddressV4", "ipAddressV6"] {
                found.push(
                    IndicatorKind::Ip,
                    probe["remoteIpDetails"].get(field),
                    format!("service.action.portProbeAction.portProbeDetails[{i}].remoteIpDetails.{field}"),
                    "remote",
                );
            }
        }
    }
    // Kubernetes API calls name their callers' addresses in `sourceIps` too.
    found.push(
        IndicatorKind::Ip,
        finding.pointer("/service/action/kubernetesApiCallAction/sourceIps"),
        "service.action.kubernetesApiCallAction.sourceIps".into(),
        "remote",
    );
    for path in [
        "/service/action/dnsRequestAction/domain",
        "/service/action/awsApiCallAction/domainDetails/domain",
    ] {
        found.push(IndicatorKind::Domain, finding.pointer(path), dotted(path), "remote");
    }
}

/// The access key and user acting, and the instance's own addresses.
fn resource_indicators(finding: &Value, found: &mut Found<'_>) {
    if let Some(key) = finding.pointer("/resource/accessKeyDetails") {
        found.push(
            IndicatorKind::AccessKey,
            key.get("accessKeyId"),
            "resource.accessKeyDetails.accessKeyId".into(),
            "actor",
        );
        found.push(
            IndicatorKind::User,
            key.get("userName"),
            "resource.accessKeyDetails.userName".into(),
            "actor",
        );
    }
    if let Some(enis) = finding
        .pointer("/resource/instanceDetails/networkInterfaces")
        .and_then(Value::as_array)
    {
        for (i, eni) in enis.iter().enumerate() {
            // `ipv6Addresses` is a list; `privateIpAddresses` a list of {privateIpAddress}.
            for field in ["privateIpAddress", "publicIp", "ipv6Addresses"] {
                found.push(
                    IndicatorKind::Ip,
                    eni.get(field),
                    format!("resource.instanceDetails.networkInterfaces[{i}].{field}"),
                    "local",
                );
            }
            for (j, private) in eni["privateIpAddresses"].as_array().into_iter().flatten().enumerate() {
                found.push(
                    IndicatorKind::Ip,
                    private.get("privateIpAddress"),
                    format!("resource.instanceDetails.networkInterfaces[{i}].privateIpAddresses[{j}].privateIpAddress"),
                    "local",
                );
            }
        }
    }
}

/// File hashes: the runtime process's executable, the files a malware scan names, and the S3
/// objects Malware Protection for S3 found malicious.
fn malware_indicators(finding: &Value, found: &mut Found<'_>) {
    for (i, bucket) in finding
        .pointer("/resource/s3BucketDetails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        for (j, object) in bucket["s3ObjectDetails"].as_array().into_iter().flatten().enumerate() {
            let field = format!("resource.s3BucketDetails[{i}].s3ObjectDetails[{j}].hash");
            found.push(IndicatorKind::Hash, object.get("hash"), field, "target");
        }
    }
    found.push(
        IndicatorKind::Hash,
        finding.pointer("/service/runtimeDetails/process/executableSha256"),
        "service.runtimeDetails.process.executableSha256".into(),
        "target",
    );
    if let Some(threats) = finding
        .pointer("/service/ebsVolumeScanDetails/scanDetections/threatDetectedByName/threatNames")
        .and_then(Value::as_array)
    {
        for (i, threat) in threats.iter().enumerate() {
            for (j, file) in threat["filePaths"].as_array().into_iter().flatten().enumerate() {
                found.push(
                    IndicatorKind::Hash,
                    file.get("hash"),
                    format!(
                        "service.ebsVolumeScanDetails.scanDetections.threatDetectedByName.threatNames[{i}].filePaths[{j}].hash"
                    ),
                    "target",
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::fields::tags;
    use serde_json::json;

    fn tor_finding() -> Value {
        json!({
            "schemaVersion": "2.0", "accountId": "111122223333", "region": "eu-west-1",
            "id": "abc123", "type": "UnauthorizedAccess:EC2/TorClient", "severity": "8",
            "createdAt": "2024-05-01T10:00:00Z", "updatedAt": 1714557600,
            "title": "EC2 instance talks to Tor",
            "resource": {"resourceType": "Instance", "instanceDetails": {
                "instanceId": "i-0abc", "tags": [{"key": "env", "value": "prod"}],
                "networkInterfaces": [{"networkInterfaceId": "eni-1", "vpcId": "vpc-1", "subnetId": "subnet-1",
                    "privateIpAddress": "10.0.0.5", "publicIp": "54.1.2.3",
                    "securityGroups": [{"groupId": "sg-1"}, {"groupId": "sg-2"}]}]}},
            "service": {"serviceName": "guardduty", "archived": "false", "additionalInfo": {},
                "action": {"actionType": "NETWORK_CONNECTION", "networkConnectionAction": {
                    "remoteIpDetails": {"ipAddressV4": "198.51.100.7", "organization": {"asn": "-1"}}}}}
        })
    }

    #[test]
    fn normalises_a_network_finding() {
        let alert = alert_from_finding(&tor_finding()).unwrap();
        assert_eq!(alert.id, "guardduty/111122223333/eu-west-1/abc123");
        assert_eq!(alert.severity, 8.0);
        assert_eq!(alert.severity_label, "high");
        assert_eq!(alert.resource.kind, ResourceKind::Instance);
        assert_eq!(alert.resource.id, "i-0abc");
        assert_eq!(alert.resource.tags["env"], "prod");
        assert_eq!(alert.resource.attributes["vpc_id"], "vpc-1");
        assert_eq!(alert.resource.attributes["security_groups"], json!(["sg-1", "sg-2"]));
        assert_eq!(alert.updated_at.as_deref(), Some("2024-05-01T10:00:00.000Z"));
        let remote: Vec<_> = alert.indicators.iter().filter(|i| i.role == "remote").collect();
        assert_eq!(remote.len(), 1);
        assert_eq!(remote[0].value, "198.51.100.7");
        assert_eq!(
            remote[0].seen_in,
            "service.action.networkConnectionAction.remoteIpDetails.ipAddressV4"
        );
        assert!(
            alert
                .indicators
                .iter()
                .any(|i| i.value == "10.0.0.5" && i.role == "local")
        );
        assert!(!alert.sample && !alert.archived);
    }

    #[test]
    fn runtime_findings_with_empty_action_and_unknown_resource_parse() {
        let finding = json!({"id": "r1", "type": "Execution:Runtime/NewBinaryExecuted", "severity": 5,
            "resource": {"resourceType": "KubernetesWorkload"}, "service": {"action": {},
            "runtimeDetails": {"process": {"executableSha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}}}});
        let alert = alert_from_finding(&finding).unwrap();
        assert_eq!(alert.resource.kind, ResourceKind::Other("KubernetesWorkload".into()));
        assert_eq!(alert.indicators.len(), 1);
        assert_eq!(alert.indicators[0].kind, IndicatorKind::Hash);
    }

    #[test]
    fn sample_flag_in_either_place() {
        let service = |s: Value| json!({"service": s});
        assert!(is_sample(&service(json!({"additionalInfo": {"sample": true}}))));
        assert!(is_sample(&service(json!({"additionalInfo": {"Sample ": "TRUE"}}))));
        assert!(is_sample(&service(json!({"additionalInfo": {"value": {"sample": 1}}}))));
        assert!(is_sample(&service(
            json!({"additionalInfo": {"value": "[{\"sample\":true}]"}})
        )));
        assert!(is_sample(&service(
            json!({"additionalInfo": {"value": "{'sample': true}"}})
        )));
        assert!(is_sample(&service(
            json!([{"additionalInfo": [{"sample": true}]}, "x"])
        )));
        assert!(is_sample(&service(json!({"additionalInfo": "{\"sample\": true}"}))));
        assert!(is_sample(&service(
            json!({"additionalInfo": {"value": "{\"sample\": \"on\",}"}})
        )));
        assert!(is_sample(&service(
            json!({"additionalInfo": {"value": [[[[[[{"sample": true}]]]]]]}})
        )));
        let mut nested = json!({"sample": true});
        for _ in 0..6 {
            nested = json!({"value": nested.to_string()});
        }
        assert!(is_sample(&service(json!({"additionalInfo": nested}))));
        assert!(is_sample(
            &json!({"Service": {"additionalInfo": {"sa\u{200B}mple": true}}})
        ));
        assert!(!is_sample(&service(
            json!({"additionalInfo": {"value": "{\"sample\": \"no\",}"}})
        )));
        // Text an attacker chose elsewhere in the finding is not a sample flag.
        assert!(!is_sample(&service(
            json!({"additionalInfo": {"userAgent": "{\"sample\": true}"}})
        )));
        assert!(is_sample(&service(
            json!({"additionalInfo": {"value": "{\"sample\":true}", "type": "default"}})
        )));
        assert!(!is_sample(&service(
            json!({"additionalInfo": {"value": "{\"sample\":false}"}})
        )));
        assert!(!is_sample(&json!({})));
    }

    #[test]
    fn any_protection_signal_in_the_tags_wins() {
        let protected = |tags_json: &str| {
            tags(Some(
                &crate::json::from_slice_keeping_duplicates(tags_json.as_bytes()).unwrap(),
            ))
            .1
        };
        for yes in [
            r#"[{"key": "soar:protected", "value": "true"}]"#,
            r#"[{"key": "Name", "value": "web"}, {"key": "soar:protected", "value": "true"}, {"key": "soar:protected", "value": "false"}]"#,
            r#"[{"Key": "SOAR:Protected ", "Value": "yes"}]"#,
            r#"[{"key": "soar:protected", "key": "Name", "value": "true"}]"#,
            r#"[{"key": "Name", "Key": "soar:protected", "value": "true"}]"#,
            r#"[{"key": "soar:protected", "value": "false", "Value": "true"}]"#,
            r#"[{"key": "Name", "value": "web"}, {"soar:protected": "true"}]"#,
            r#"{"soar:protected": "true", "soar:protected": "false"}"#,
            r#"{"soar:protected": ""}"#,
            // Tags that cannot be read protect.
            r#""soar:protected=true""#,
            r#"["soar:protected=true"]"#,
            r#"1"#,
            r#"{"soar:protected": {"value": "true"}}"#,
        ] {
            assert!(protected(yes), "{yes}");
        }
        for no in [
            r#"[{"key": "Name", "value": "web"}]"#,
            r#"{"soar:protected": "false"}"#,
            "null",
            "[]",
            "{}",
        ] {
            assert!(!protected(no), "{no}");
        }
    }

    #[test]
    fn archived_and_tags_are_read_under_any_spelling_of_their_keys() {
        let mut finding = tor_finding();
        finding["Service"] = json!({"archived": true});
        assert!(alert_from_finding(&finding).unwrap().archived);
        let mut finding = tor_finding();
        finding["resource"]["instanceDetails"]["Tags"] = json!([{"Key": "soar:protected", "Value": "true"}]);
        assert!(alert_from_finding(&finding).unwrap().resource.is_protected());
        let mut finding = tor_finding();
        finding["resource"]["InstanceDetails"] = json!({"tags": {"soar:protected": "true"}});
        let alert = alert_from_finding(&finding).unwrap();
        assert!(alert.resource.is_protected());
        assert_eq!(alert.resource.id, "i-0abc", "the id still comes from instanceDetails");
    }

    #[test]
    fn id_falls_back_to_the_arn() {
        let mut finding = tor_finding();
        finding.as_object_mut().unwrap().remove("id");
        finding["arn"] = json!("arn:aws:guardduty:eu-west-1:111122223333:detector/d1/finding/fromarn");
        assert_eq!(alert_from_finding(&finding).unwrap().source_id, "fromarn");
    }

    #[test]
    fn rejections_name_the_field() {
        let mut finding = tor_finding();
        finding.as_object_mut().unwrap().remove("type");
        let err = alert_from_finding(&finding).unwrap_err().to_string();
        assert!(err.contains("`type`"), "{err}");

        let mut finding = tor_finding();
        finding.as_object_mut().unwrap().remove("id");
        let err = alert_from_finding(&finding).unwrap_err().to_string();
        assert!(err.contains("`id`"), "{err}");

        let mut finding = tor_finding();
        finding["severity"] = json!("very bad");
        let err = alert_from_finding(&finding).unwrap_err().to_string();
        assert!(err.contains("`severity`"), "{err}");
    }
}
