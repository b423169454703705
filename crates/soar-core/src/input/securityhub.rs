//! AWS Security Hub findings in the AWS Security Finding Format (ASFF): the EventBridge event
//! `Security Hub Findings - Imported` (one alert per entry of `detail.findings`), the
//! `{"Findings": [...]}` of GetFindings and exports, and a bare ASFF finding. Format: AWS
//! Security Hub User Guide, "AWS Security Finding Format (ASFF)" and "EventBridge event formats
//! for Security Hub".
//!
//! A GuardDuty finding arriving this way is the same alert as its native event: the id is
//! `guardduty/<account>/<region>/<finding id>` (the finding id ends the ASFF `Id`, GuardDuty's
//! finding ARN), the type is GuardDuty's (`UnauthorizedAccess:EC2-TorClient` in `Types` is
//! `UnauthorizedAccess:EC2/TorClient`), and the severity is GuardDuty's own (`Severity.Product`).
//! With both routes on, the second delivery is a duplicate.
//!
//! Findings of other products (Inspector, Macie, IAM Access Analyzer, Config, third parties)
//! become alerts with source `securityhub`, their ASFF `Id`, their first `Types` entry as the
//! type, the severity of `Severity.Label` (`Normalized` / 10 within the label's band), and their
//! first resource; the README lists the mapping.

use super::error::InputError;
use super::fields::{severity_value, tags_in, text};
use super::incoming::Incoming;
use crate::alert::{Alert, Indicator, IndicatorKind, Resource, ResourceKind, severity_label};
use serde_json::{Map, Value, json};

/// The ASFF `SchemaVersion` every finding carries.
const SCHEMA_VERSION: &str = "2018-10-08";

/// The findings of a Security Hub payload, each with its field (`detail.findings[1]`), or
/// `None` when `payload` is not one.
pub(super) fn findings(payload: &Value) -> Option<Vec<(String, Result<Incoming, InputError>)>> {
    let (field, list) = if is_event(payload) {
        ("detail.findings", payload["detail"].get("findings"))
    } else if let Some(list) = payload
        .get("Findings")
        .filter(|f| f.as_array().is_some_and(|a| a.iter().any(is_finding)))
    {
        ("Findings", Some(list))
    } else if is_finding(payload) {
        return Some(vec![(String::new(), alert_from_finding(payload).map(boxed))]);
    } else {
        return None;
    };
    let Some(Value::Array(list)) = list else {
        let error = InputError::missing(field, "a Security Hub event carries its findings as a list");
        return Some(vec![(String::new(), Err(error))]);
    };
    if list.is_empty() {
        let error = InputError::invalid(field, "the list of findings is empty");
        return Some(vec![(String::new(), Err(error))]);
    }
    Some(
        list.iter()
            .enumerate()
            .map(|(i, finding)| {
                let at = format!("{field}[{i}]");
                // A Security Hub event holds ASFF findings only; an export may mix ASFF and
                // native findings, each entry read as what it is.
                let result = if field == "detail.findings" || is_finding(finding) {
                    alert_from_finding(finding).map(boxed)
                } else {
                    super::shape::recognise(finding.clone())
                };
                (at.clone(), result.map_err(|e| e.within(&at)))
            })
            .collect(),
    )
}

fn boxed(alert: Alert) -> Incoming {
    Incoming::Normalised(Box::new(alert))
}

/// An EventBridge event from Security Hub with ASFF findings (`Security Hub Findings -
/// Imported`, `- Custom Action`, `- Custom Action`). Not the OCSF events of the newer Security
/// Hub (`Findings Imported V2`): those go on as another tool's alert, which the ingest policy
/// maps or, unmapped, escalates to a person (README, "What soar accepts").
fn is_event(payload: &Value) -> bool {
    let source = payload.get("source").and_then(Value::as_str);
    let detail_type = payload.get("detail-type").and_then(Value::as_str).unwrap_or_default();
    let ocsf = detail_type.ends_with("V2") || payload.pointer("/detail/findings/0/finding_info").is_some();
    (source == Some("aws.securityhub") || detail_type.starts_with("Security Hub Findings"))
        && payload["detail"].get("findings").is_some()
        && !ocsf
}

/// An ASFF finding: its schema version and the fields that identify it.
fn is_finding(value: &Value) -> bool {
    value.get("SchemaVersion").and_then(Value::as_str) == Some(SCHEMA_VERSION)
        && value.get("Id").is_some()
        && (value.get("ProductArn").is_some() || value.get("AwsAccountId").is_some())
}

/// One ASFF finding as an alert. Errors name the field (`Id`, `Types`).
pub fn alert_from_finding(finding: &Value) -> Result<Alert, InputError> {
    let obj = finding
        .as_object()
        .ok_or_else(|| InputError::invalid("", "an ASFF finding must be a JSON object"))?;
    let id = text(obj.get("Id"))
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| InputError::missing("Id", "an ASFF finding needs its `Id`"))?;
    let account = text(obj.get("AwsAccountId")).unwrap_or_default();
    let region = text(obj.get("Region"))
        .or_else(|| text(finding.pointer("/Resources/0/Region")))
        .unwrap_or_default();
    let identity = Identity::of(finding, &id, &account, &region)?;
    let finding_ref = crate::finding::FindingRef::of_asff(
        (&id, finding.get("ProductArn").and_then(Value::as_str)),
        (&account, &region, &identity.source_id),
        identity.source == "guardduty",
        (
            // A status soar wrote is its own verdict, not a person's triage.
            text(finding.pointer("/Workflow/Status")).filter(|_| !soar_wrote_workflow(finding)),
            text(finding.get("VerificationState")),
        ),
    );
    let (resource, related_resources) = resources(finding, &account, &region);
    let Identity {
        alert_id,
        source,
        source_id,
        kind,
        severity,
    } = identity;
    Ok(Alert {
        id: alert_id,
        source: source.into(),
        source_id,
        title: text(obj.get("Title")).unwrap_or_else(|| kind.clone()),
        description: text(obj.get("Description")).unwrap_or_default(),
        severity_label: severity_label(severity).into(),
        kind,
        severity,
        resource,
        related_resources,
        indicators: crate::canonical::indicators(indicators(finding)),
        created_at: obj.get("CreatedAt").and_then(crate::time::normalise),
        updated_at: obj.get("UpdatedAt").and_then(crate::time::normalise),
        sample: is_sample(finding),
        archived: is_closed(finding),
        labels: Vec::new(),
        finding: finding_ref,
        raw: finding.clone(),
        account,
        region,
    })
}

/// Who the alert is, by the product that wrote the finding: a GuardDuty finding is the alert
/// of its native event; another product's keeps its ASFF `Id`.
struct Identity {
    alert_id: String,
    source: &'static str,
    source_id: String,
    kind: String,
    severity: f64,
}

impl Identity {
    fn of(finding: &Value, id: &str, account: &str, region: &str) -> Result<Identity, InputError> {
        let types: Vec<String> = finding["Types"]
            .as_array()
            .map(|t| t.iter().filter_map(|v| text(Some(v))).collect())
            .unwrap_or_default();
        match Product::of(finding) {
            Product::GuardDuty => {
                let finding_id = id.rsplit_once("/finding/").map_or(id, |(_, f)| f).to_string();
                let kind = types.iter().find_map(|t| guardduty_type(t)).ok_or_else(|| {
                    let hint =
                        "a GuardDuty finding in ASFF names its finding type in `Types` (`.../Purpose:Resource-Family`)";
                    if types.is_empty() {
                        InputError::missing("Types", hint)
                    } else {
                        InputError::invalid("Types", hint)
                    }
                })?;
                let severity = guardduty_severity(finding).map_err(|(field, got)| {
                    InputError::invalid(
                        field,
                        format!("expected GuardDuty's 0-10 or an ASFF severity label, got {got}"),
                    )
                })?;
                Ok(Identity {
                    alert_id: format!("guardduty/{account}/{region}/{finding_id}"),
                    source: "guardduty",
                    source_id: finding_id,
                    kind,
                    severity,
                })
            }
            Product::Other => {
                let kind = types.first().cloned().ok_or_else(|| {
                    InputError::missing("Types", "an ASFF finding needs at least one type in `Types`")
                })?;
                let severity = label_severity(finding).map_err(|got| {
                    InputError::invalid("Severity.Label", format!("expected an ASFF severity label, got {got}"))
                })?;
                Ok(Identity {
                    alert_id: format!("securityhub/{account}/{region}/{id}"),
                    source: "securityhub",
                    source_id: id.to_string(),
                    kind,
                    severity,
                })
            }
        }
    }
}

/// The finding's resources: the first entry of `Resources` is the one the finding is about
/// (for GuardDuty and most products), the others are related.
fn resources(finding: &Value, account: &str, region: &str) -> (Resource, Vec<Resource>) {
    let mut resources: Vec<Resource> = finding["Resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r.is_object())
        .map(asff_resource)
        .collect();
    for resource in &mut resources {
        resource.account = account.to_string();
        if resource.region.is_empty() {
            resource.region = region.to_string();
        }
    }
    if resources.is_empty() {
        return (Resource::unknown(), resources);
    }
    let primary = resources.remove(0);
    (primary, resources)
}

/// Which product wrote the finding, as far as soar reads it differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Product {
    GuardDuty,
    Other,
}

impl Product {
    /// GuardDuty only by its product ARN, `arn:<partition>:securityhub:<region>::product/aws/guardduty`:
    /// Security Hub sets it from the integration that imported the finding, while `ProductName`
    /// and `Id` are whatever the importer wrote (a custom integration could claim a GuardDuty
    /// finding's id and, as a duplicate, hide the real one).
    fn of(finding: &Value) -> Product {
        let arn = match finding.get("ProductArn") {
            Some(Value::String(arn)) => arn.as_str(),
            _ => return Product::Other,
        };
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let guardduty = matches!(parts.as_slice(), ["arn", partition, "securityhub", region, "", "product/aws/guardduty"]
            if partition.starts_with("aws") && !region.is_empty());
        if guardduty { Product::GuardDuty } else { Product::Other }
    }
}

/// GuardDuty's finding type from an ASFF type such as
/// `TTPs/Command and Control/UnauthorizedAccess:EC2-TorClient`. The namespace prefix varies
/// for one type (it depends on the resource's role), and the `/` after the resource token is
/// written `-` (mostly), `.` (`Policy:S3.BucketBlockPublicAccessDisabled`) or kept
/// (`TTPs/PenTest:IAMUser/KaliLinux`): the type is `Purpose:Resource` (the word before the last
/// `:` and the letters after it) followed by `/` and the rest. Best effort: AWS's table of the
/// two (GuardDuty User Guide, "Integrating with Security Hub") has a few renamed types.
fn guardduty_type(asff_type: &str) -> Option<String> {
    let (before, after) = asff_type.trim().rsplit_once(':')?;
    let purpose = before.rsplit('/').next()?.trim();
    let end = after.find(|c: char| !c.is_ascii_alphanumeric())?;
    let (resource, family) = (&after[..end], &after[end + 1..]);
    let well_formed = !purpose.is_empty()
        && !purpose.contains(' ')
        && !resource.is_empty()
        && !family.is_empty()
        && matches!(after.as_bytes()[end], b'-' | b'.' | b'/');
    well_formed.then(|| format!("{purpose}:{resource}/{family}"))
}

/// GuardDuty's own 0-10 (`Normalized` is not derived from it): the provider's value, which a
/// user's change to the top-level severity leaves alone, then the top-level `Product`, then
/// the label.
/// `Err((field, what was there))`.
fn guardduty_severity(finding: &Value) -> Result<f64, (&'static str, String)> {
    for (pointer, field) in [
        (
            "/FindingProviderFields/Severity/Product",
            "FindingProviderFields.Severity.Product",
        ),
        ("/Severity/Product", "Severity.Product"),
    ] {
        if let Some(value) = finding.pointer(pointer).filter(|v| !v.is_null()) {
            return severity_value(Some(value)).map_err(|got| (field, got));
        }
    }
    label_severity(finding).map_err(|got| ("Severity.Label", got))
}

/// `Severity.Label` as soar's 0-10 severity: `Normalized` / 10 when it lies in the label's band,
/// else the band's lower bound (INFORMATIONAL 0, LOW 1, MEDIUM 4, HIGH 7, CRITICAL 9).
/// `Err` carries what was there instead.
fn label_severity(finding: &Value) -> Result<f64, String> {
    let severity = &finding["Severity"];
    let label = text(severity.get("Label"))
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase();
    let (low, high) = match label.as_str() {
        "INFORMATIONAL" => (0.0, 0.0),
        "LOW" => (1.0, 3.9),
        "MEDIUM" => (4.0, 6.9),
        "HIGH" => (7.0, 8.9),
        "CRITICAL" => (9.0, 10.0),
        // Older findings give only `Normalized` (0-100).
        "" => {
            return severity_value(
                severity
                    .get("Normalized")
                    .and_then(Value::as_f64)
                    .map(|n| json!(n / 10.0))
                    .as_ref(),
            )
            .map_err(|_| severity.to_string());
        }
        other => return Err(other.to_string()),
    };
    let normalized = severity.get("Normalized").and_then(Value::as_f64).map(|n| n / 10.0);
    Ok(normalized.filter(|n| (low..=high).contains(n)).unwrap_or(low))
}

/// A sample finding: the top-level `Sample`, GuardDuty's `additionalInfo/sample` in
/// `ProductFields` (`aws/guardduty/service/additionalInfo/sample`), or, in older findings, an
/// `additionalInfo` holding `{"sample":true}` as JSON text. Read the safe way: a key in any
/// case, any value that is not a clear no.
fn is_sample(finding: &Value) -> bool {
    let in_product_fields = finding["ProductFields"].as_object().is_some_and(|fields| {
        fields.iter().any(|(key, value)| {
            let full = key.trim().to_ascii_lowercase();
            (last_segment(key) == "sample" && crate::json::flag_set(Some(value)))
                || ((full.ends_with("additionalinfo") || full.ends_with("additionalinfo/value"))
                    && super::guardduty::value_says_sample(value, 0))
        })
    });
    in_product_fields || crate::json::flag_in(finding, &["sample"])
}

/// The last `/` segment of a `ProductFields` key, lower case (`aws/guardduty/service/archived`
/// and the older `archived` alike).
fn last_segment(key: &str) -> String {
    key.rsplit('/').next().unwrap_or(key).trim().to_ascii_lowercase()
}

/// Whether the finding's last note is soar's (`Note.UpdatedBy` `soar`, as soar's write-back
/// signs it): then its workflow status is soar's verdict, not a person's closure or triage, and
/// a later update of the finding is evaluated again. Anyone can write that name: the side it
/// errs on is evaluating a finding, never ignoring one.
pub(crate) fn soar_wrote_workflow(finding: &Value) -> bool {
    text(finding.pointer("/Note/UpdatedBy")).is_some_and(|by| by.trim() == crate::finding::UPDATED_BY)
}

/// Closed by a person or its product: `RecordState` ARCHIVED, workflow SUPPRESSED or RESOLVED
/// (unless soar wrote that status itself: see [`soar_wrote_workflow`]), or GuardDuty's own
/// `archived` in `ProductFields`. Like an archived GuardDuty finding, nothing is done about it.
fn is_closed(finding: &Value) -> bool {
    // Every value of a key (a key given twice keeps both, see crate::json), in any object of a
    // block given twice: one that says closed is enough.
    let says = |object: &Value, key: &str, values: &[&str]| {
        crate::json::objects(object)
            .into_iter()
            .flat_map(|o| super::fields::named(o, key))
            .any(|v| {
                let texts: Vec<String> = match v {
                    Value::Array(items) => items.iter().filter_map(|i| text(Some(i))).collect(),
                    other => text(Some(other)).into_iter().collect(),
                };
                texts
                    .iter()
                    .any(|t| values.iter().any(|x| t.trim().eq_ignore_ascii_case(x)))
            })
    };
    says(finding, "RecordState", &["ARCHIVED"])
        || (says(&finding["Workflow"], "Status", &["SUPPRESSED", "RESOLVED"]) && !soar_wrote_workflow(finding))
        || says(finding, "WorkflowState", &["ARCHIVED", "RESOLVED", "DEFERRED"])
        || finding["ProductFields"].as_object().is_some_and(|fields| {
            fields
                .iter()
                .any(|(key, value)| last_segment(key) == "archived" && crate::json::flag_set(Some(value)))
        })
}

/// One entry of `Resources`.
fn asff_resource(resource: &Value) -> Resource {
    let asff_type = text(resource.get("Type")).unwrap_or_default();
    let id = text(resource.get("Id")).unwrap_or_default();
    let details = &resource["Details"];
    let mut out = Resource {
        region: text(resource.get("Region")).unwrap_or_default(),
        ..Resource::unknown()
    };
    (out.tags, out.protected) = tags_in(&[resource]);
    let attrs = &mut out.attributes;
    (out.kind, out.id) = match asff_type.as_str() {
        "AwsEc2Instance" => {
            instance_attributes(&details["AwsEc2Instance"], attrs);
            (ResourceKind::Instance, after(&id, "instance/"))
        }
        "AwsIamAccessKey" => {
            let key = &details["AwsIamAccessKey"];
            for (from, to) in [
                ("UserName", "user_name"),
                ("PrincipalName", "user_name"),
                ("PrincipalId", "principal_id"),
                ("PrincipalType", "user_type"),
            ] {
                if let Some(v) = text(key.get(from)).filter(|v| !v.is_empty()) {
                    attrs.entry(to.to_string()).or_insert(Value::String(v));
                }
            }
            // `AWS::IAM::AccessKey:ASIA...` as GuardDuty writes it, or the key id itself.
            let key_id =
                text(key.get("AccessKeyId")).unwrap_or_else(|| id.rsplit(':').next().unwrap_or(&id).to_string());
            (ResourceKind::AccessKey, key_id)
        }
        "AwsS3Bucket" => (ResourceKind::S3Bucket, after(&id, ":::")),
        "AwsS3Object" => (ResourceKind::S3Object, id.clone()),
        "AwsEksCluster" => (ResourceKind::EksCluster, after(&id, "cluster/")),
        "AwsLambdaFunction" => (ResourceKind::Lambda, after(&id, "function:")),
        "AwsRdsDbInstance" => {
            let name =
                text(details["AwsRdsDbInstance"].get("DBInstanceIdentifier")).unwrap_or_else(|| after(&id, ":db:"));
            (ResourceKind::RdsDbInstance, name)
        }
        "AwsEcsCluster" | "AwsEcsTask" | "AwsEcsService" | "Container" => (ResourceKind::Container, id.clone()),
        other => (ResourceKind::Other(other.to_string()), id.clone()),
    };
    attrs.insert("asff_type".into(), Value::String(asff_type));
    out.id = out.id.trim().to_string();
    out
}

/// What follows `marker` in an ARN (the name), or the whole id when it has none.
fn after(id: &str, marker: &str) -> String {
    id.rsplit_once(marker)
        .map_or(id, |(_, name)| name)
        .split(['/', ':'])
        .next()
        .unwrap_or(id)
        .to_string()
}

fn instance_attributes(details: &Value, attrs: &mut Map<String, Value>) {
    for (from, to) in [
        ("VpcId", "vpc_id"),
        ("SubnetId", "subnet_id"),
        ("ImageId", "image_id"),
        ("IamInstanceProfileArn", "instance_profile"),
    ] {
        if let Some(v) = text(details.get(from)) {
            attrs.insert(to.into(), Value::String(v));
        }
    }
    if let Some(launch) = details.get("LaunchedAt").and_then(crate::time::normalise) {
        attrs.insert("launch_time".into(), json!(launch));
    }
}

/// Remote addresses and domains (from `Network`, `Action`, GuardDuty's `ProductFields` and
/// `ThreatIntelIndicators`), the instance's own addresses, and the access key and user acting.
fn indicators(finding: &Value) -> Vec<Indicator> {
    let mut found = Vec::new();
    let mut push = |kind: IndicatorKind, value: Option<&Value>, seen_in: String, role: &str| {
        let values: Vec<String> = match value {
            Some(Value::Array(items)) => items.iter().filter_map(|v| text(Some(v))).collect(),
            other => text(other).into_iter().collect(),
        };
        for value in values
            .into_iter()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
        {
            if !found.iter().any(|i: &Indicator| i.kind == kind && i.value == value) {
                found.push(Indicator::new(kind, value, seen_in.clone(), role));
            }
        }
    };
    // The remote side of the connection: the destination of outbound traffic, else the source.
    let network = &finding["Network"];
    let outbound = text(network.get("Direction")).is_some_and(|d| d.eq_ignore_ascii_case("OUT"));
    let remote = if outbound { "Destination" } else { "Source" };
    for version in ["V4", "V6"] {
        let field = format!("{remote}Ip{version}");
        push(
            IndicatorKind::Ip,
            network.get(&field),
            format!("Network.{field}"),
            "remote",
        );
    }
    push(
        IndicatorKind::Domain,
        network.get(format!("{remote}Domain")),
        format!("Network.{remote}Domain"),
        "remote",
    );
    action_indicators(finding, &mut push);
    product_field_indicators(finding, &mut push);
    threat_intel_indicators(finding, &mut push);
    resource_indicators(finding, &mut push);
    found
}

type Push<'a> = dyn FnMut(IndicatorKind, Option<&Value>, String, &str) + 'a;

/// `ThreatIntelIndicators`: the values of the kinds soar reads.
fn threat_intel_indicators(finding: &Value, push: &mut Push<'_>) {
    for (i, indicator) in finding["ThreatIntelIndicators"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let kind = match text(indicator.get("Type")).unwrap_or_default().as_str() {
            "IPV4_ADDRESS" | "IPV6_ADDRESS" => IndicatorKind::Ip,
            "DOMAIN" => IndicatorKind::Domain,
            "URL" => IndicatorKind::Url,
            "EMAIL_ADDRESS" => IndicatorKind::Email,
            "HASH_MD5" | "HASH_SHA1" | "HASH_SHA256" | "HASH_SHA512" => IndicatorKind::Hash,
            _ => continue,
        };
        push(
            kind,
            indicator.get("Value"),
            format!("ThreatIntelIndicators[{i}].Value"),
            "remote",
        );
    }
}

/// The instances' own addresses and the access key and user acting, from each resource.
fn resource_indicators(finding: &Value, push: &mut Push<'_>) {
    for (i, resource) in finding["Resources"].as_array().into_iter().flatten().enumerate() {
        let instance = &resource["Details"]["AwsEc2Instance"];
        for field in ["IpV4Addresses", "IpV6Addresses"] {
            let at = format!("Resources[{i}].Details.AwsEc2Instance.{field}");
            push(IndicatorKind::Ip, instance.get(field), at, "local");
        }
        let key = &resource["Details"]["AwsIamAccessKey"];
        if key.is_object() {
            let key_id =
                text(resource.get("Id")).map(|id| Value::String(id.rsplit(':').next().unwrap_or(&id).to_string()));
            push(
                IndicatorKind::AccessKey,
                key_id.as_ref(),
                format!("Resources[{i}].Id"),
                "actor",
            );
            let user = key.get("UserName").or_else(|| key.get("PrincipalName"));
            push(
                IndicatorKind::User,
                user,
                format!("Resources[{i}].Details.AwsIamAccessKey.UserName"),
                "actor",
            );
        }
    }
}

/// ASFF's `Action` block: the remote address of each action type, the domain of a DNS request.
fn action_indicators(finding: &Value, push: &mut Push<'_>) {
    let action = &finding["Action"];
    for block in ["NetworkConnectionAction", "AwsApiCallAction", "PortProbeAction"] {
        let details = &action[block]["RemoteIpDetails"];
        for field in ["IpAddressV4", "IpAddressV6"] {
            push(
                IndicatorKind::Ip,
                details.get(field),
                format!("Action.{block}.RemoteIpDetails.{field}"),
                "remote",
            );
        }
    }
    for (i, probe) in action["PortProbeAction"]["PortProbeDetails"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        for field in ["IpAddressV4", "IpAddressV6"] {
            let at = format!("Action.PortProbeAction.PortProbeDetails[{i}].RemoteIpDetails.{field}");
            push(IndicatorKind::Ip, probe["RemoteIpDetails"].get(field), at, "remote");
        }
    }
    push(
        IndicatorKind::Domain,
        action["DnsRequestAction"].get("Domain"),
        "Action.DnsRequestAction.Domain".into(),
        "remote",
    );
    push(
        IndicatorKind::Domain,
        action["AwsApiCallAction"]["DomainDetails"].get("Domain"),
        "Action.AwsApiCallAction.DomainDetails.Domain".into(),
        "remote",
    );
}

/// GuardDuty's flattened finding in `ProductFields`: `.../remoteIpDetails/ipAddressV4` (and V6)
/// under any action, and the DNS request's domain.
fn product_field_indicators(finding: &Value, push: &mut Push<'_>) {
    let Some(fields) = finding["ProductFields"].as_object() else {
        return;
    };
    for (key, value) in fields {
        let lower = key.to_ascii_lowercase();
        let at = format!("ProductFields.{key}");
        if lower.contains("remoteipdetails/ipaddressv4") || lower.contains("remoteipdetails/ipaddressv6") {
            push(IndicatorKind::Ip, Some(value), at, "remote");
        } else if lower.ends_with("dnsrequestaction/domain") || lower.ends_with("domaindetails/domain") {
            push(IndicatorKind::Domain, Some(value), at, "remote");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guardduty_types_come_back_from_asff() {
        for (asff, native) in [
            (
                "TTPs/Command and Control/UnauthorizedAccess:EC2-TorClient",
                "UnauthorizedAccess:EC2/TorClient",
            ),
            (
                "TTPs/Command and Control/CryptoCurrency:EC2-BitcoinTool.B!DNS",
                "CryptoCurrency:EC2/BitcoinTool.B!DNS",
            ),
            (
                "Effects/Resource Consumption/UnauthorizedAccess:EC2-TorClient",
                "UnauthorizedAccess:EC2/TorClient",
            ),
            (
                "Software and Configuration Checks/Policy:S3.BucketBlockPublicAccessDisabled",
                "Policy:S3/BucketBlockPublicAccessDisabled",
            ),
            ("TTPs/PenTest:IAMUser/KaliLinux", "PenTest:IAMUser/KaliLinux"),
            (
                "Effects/Data Exfiltration/Exfiltration:S3-AnomalousBehavior",
                "Exfiltration:S3/AnomalousBehavior",
            ),
            (
                "Unusual Behaviors/User/UnauthorizedAccess:IAMUser-InstanceCredentialExfiltration.OutsideAWS",
                "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
            ),
        ] {
            assert_eq!(guardduty_type(asff).as_deref(), Some(native), "{asff}");
        }
        assert_eq!(
            guardduty_type("Software and Configuration Checks/Vulnerabilities/CVE"),
            None
        );
    }

    #[test]
    fn an_ocsf_event_of_the_newer_security_hub_is_not_read_as_asff() {
        let v2 = json!({"detail-type": "Findings Imported V2", "source": "aws.securityhub",
                        "detail": {"findings": [{"class_uid": 2004, "finding_info": {"uid": "arn:aws:guardduty:x"}}]}});
        assert!(findings(&v2).is_none());
    }

    #[test]
    fn errors_name_the_field_that_is_wrong() {
        let base = json!({"SchemaVersion": "2018-10-08", "Id": "arn:aws:guardduty:eu-west-1:1:detector/d/finding/f",
            "ProductArn": "arn:aws:securityhub:eu-west-1::product/aws/guardduty", "AwsAccountId": "1", "Region": "eu-west-1",
            "Types": ["TTPs/Command and Control/UnauthorizedAccess:EC2-TorClient"], "Severity": {"Label": "HIGH"}});
        let error = |patch: Value| {
            let mut finding = base.clone();
            finding
                .as_object_mut()
                .unwrap()
                .extend(patch.as_object().unwrap().clone());
            alert_from_finding(&finding).unwrap_err().to_string()
        };
        assert!(error(json!({"Severity": {"Label": "SEVERE"}})).contains("`Severity.Label`"));
        assert!(
            error(json!({"FindingProviderFields": {"Severity": {"Product": "bad"}}}))
                .contains("`FindingProviderFields.Severity.Product`")
        );
        assert!(error(json!({"Types": ["Unusual Behaviors/Something"]})).contains("field `Types` is invalid"));
        assert!(alert_from_finding(&base).is_ok());
    }

    /// A status soar wrote itself (its note) is its verdict, not a person's closure or triage:
    /// the finding's next update is evaluated again. A person's is left alone.
    #[test]
    fn a_status_soar_wrote_is_not_a_persons_closure() {
        let arn = "arn:aws:guardduty:eu-west-1:111122223333:detector/d/finding/f";
        let finding = |by: &str| {
            json!({"SchemaVersion": "2018-10-08", "Id": arn,
                "ProductArn": "arn:aws:securityhub:eu-west-1::product/aws/guardduty", "AwsAccountId": "111122223333",
                "Region": "eu-west-1", "Types": ["TTPs/Discovery/Recon:EC2-PortProbeUnprotectedPort"],
                "Severity": {"Label": "LOW"}, "Workflow": {"Status": "SUPPRESSED"},
                "Note": {"Text": "x", "UpdatedBy": by, "UpdatedAt": "2026-11-20T09:00:00Z"}})
        };
        let by_soar = alert_from_finding(&finding("soar")).unwrap();
        assert!(!by_soar.archived);
        let own = by_soar.finding.unwrap();
        assert_eq!(own.workflow_status, None, "not a person's triage");
        assert_eq!(own.detector_id.as_deref(), Some("d"));
        let by_alice = alert_from_finding(&finding("alice")).unwrap();
        assert!(by_alice.archived);
        assert_eq!(by_alice.finding.unwrap().workflow_status.as_deref(), Some("SUPPRESSED"));
    }

    #[test]
    fn severity_follows_the_label_within_its_band() {
        let sev = |s: Value| label_severity(&json!({"Severity": s}));
        assert_eq!(sev(json!({"Label": "HIGH", "Normalized": 75})), Ok(7.5));
        assert_eq!(
            sev(json!({"Label": "HIGH", "Normalized": 20})),
            Ok(7.0),
            "the label wins"
        );
        assert_eq!(sev(json!({"Label": "critical"})), Ok(9.0));
        assert_eq!(sev(json!({"Normalized": 40})), Ok(4.0));
        assert!(sev(json!({"Label": "SEVERE"})).is_err());
    }

    #[test]
    fn another_products_finding_keeps_its_id_type_and_resource() {
        let finding = json!({"SchemaVersion": "2018-10-08", "Id": "arn:aws:inspector2:eu-west-1:111122223333:finding/abc",
            "ProductArn": "arn:aws:securityhub:eu-west-1::product/aws/inspector", "AwsAccountId": "111122223333",
            "Region": "eu-west-1", "Types": ["Software and Configuration Checks/Vulnerabilities/CVE"],
            "Severity": {"Label": "CRITICAL", "Normalized": 90}, "Title": "CVE-2026-0001 in openssl",
            "Resources": [{"Type": "AwsEc2Instance", "Id": "arn:aws:ec2:eu-west-1:111122223333:instance/i-0123",
                           "Tags": {"soar:protected": "true"}}],
            "RecordState": "ACTIVE", "Workflow": {"Status": "NEW"}});
        let alert = alert_from_finding(&finding).unwrap();
        assert_eq!(alert.source, "securityhub");
        assert_eq!(
            alert.id,
            "securityhub/111122223333/eu-west-1/arn:aws:inspector2:eu-west-1:111122223333:finding/abc"
        );
        assert_eq!(alert.kind, "Software and Configuration Checks/Vulnerabilities/CVE");
        assert_eq!(alert.severity_label, "critical");
        assert_eq!(
            (alert.resource.kind.clone(), alert.resource.id.as_str()),
            (ResourceKind::Instance, "i-0123")
        );
        assert!(alert.resource.is_protected());
        assert!(!alert.archived && !alert.sample);
        let mut suppressed = finding.clone();
        suppressed["Workflow"]["Status"] = json!("SUPPRESSED");
        assert!(alert_from_finding(&suppressed).unwrap().archived);
    }
}
