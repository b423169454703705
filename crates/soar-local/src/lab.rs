//! A small lab for local runs and tests: a VPC with one "compromised" web instance, created on a
//! local endpoint (moto). Never point this at a real account: it creates resources.

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{BlockDeviceMapping, EbsBlockDevice, Filter, ResourceType, Tag, TagSpecification};
use soar_aws::sdk::SdkConfig;

/// What the lab created.
#[derive(Debug, Clone)]
pub struct LabInstance {
    pub vpc_id: String,
    pub subnet_id: String,
    pub security_group_id: String,
    pub instance_id: String,
    pub network_interface_id: String,
    pub private_ip: String,
}

fn lab_error<E: std::fmt::Debug>(op: &str, e: aws_sdk_ec2::error::SdkError<E>) -> String {
    format!("EC2 {op} (lab): {e:?}")
}

/// Creates the VPC, subnet, a web security group and a running instance with a data volume.
/// `tags` are put on the instance (`soar:protected=true` makes a protected one).
pub async fn create_instance(config: &SdkConfig, name: &str, tags: &[(&str, &str)]) -> Result<LabInstance, String> {
    let client = Client::new(config);
    let vpc = client
        .create_vpc()
        .cidr_block("10.20.0.0/16")
        .send()
        .await
        .map_err(|e| lab_error("CreateVpc", e))?;
    let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).unwrap_or_default().to_string();
    let subnet = client
        .create_subnet()
        .vpc_id(&vpc_id)
        .cidr_block("10.20.1.0/24")
        .send()
        .await
        .map_err(|e| lab_error("CreateSubnet", e))?;
    let subnet_id = subnet
        .subnet()
        .and_then(|s| s.subnet_id())
        .unwrap_or_default()
        .to_string();
    let group = client
        .create_security_group()
        .group_name(format!("{name}-web"))
        .description("web servers")
        .vpc_id(&vpc_id)
        .send()
        .await
        .map_err(|e| lab_error("CreateSecurityGroup", e))?;
    let security_group_id = group.group_id().unwrap_or_default().to_string();
    let images = client
        .describe_images()
        .filters(Filter::builder().name("architecture").values("x86_64").build())
        .send()
        .await
        .map_err(|e| lab_error("DescribeImages", e))?;
    let image = images
        .images()
        .first()
        .and_then(|i| i.image_id())
        .ok_or("the endpoint offers no AMI")?
        .to_string();
    let mut instance_tags = TagSpecification::builder()
        .resource_type(ResourceType::Instance)
        .tags(Tag::builder().key("Name").value(name).build());
    for (k, v) in tags {
        instance_tags = instance_tags.tags(Tag::builder().key(*k).value(*v).build());
    }
    let run = client
        .run_instances()
        .image_id(image)
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .subnet_id(&subnet_id)
        .security_group_ids(&security_group_id)
        .block_device_mappings(
            BlockDeviceMapping::builder()
                .device_name("/dev/sdf")
                .ebs(EbsBlockDevice::builder().volume_size(8).build())
                .build(),
        )
        .tag_specifications(instance_tags.build())
        .send()
        .await
        .map_err(|e| lab_error("RunInstances", e))?;
    let instance = run.instances().first().ok_or("RunInstances returned no instance")?;
    let eni = instance
        .network_interfaces()
        .first()
        .ok_or("the instance has no network interface")?;
    Ok(LabInstance {
        vpc_id,
        subnet_id,
        security_group_id,
        instance_id: instance.instance_id().unwrap_or_default().to_string(),
        network_interface_id: eni.network_interface_id().unwrap_or_default().to_string(),
        private_ip: instance.private_ip_address().unwrap_or_default().to_string(),
    })
}

/// The security groups on an ENI now.
pub async fn eni_groups(config: &SdkConfig, eni: &str) -> Result<Vec<(String, String)>, String> {
    let out = Client::new(config)
        .describe_network_interfaces()
        .network_interface_ids(eni)
        .send()
        .await
        .map_err(|e| lab_error("DescribeNetworkInterfaces", e))?;
    Ok(out
        .network_interfaces()
        .iter()
        .flat_map(|n| n.groups())
        .map(|g| {
            (
                g.group_id().unwrap_or_default().to_string(),
                g.group_name().unwrap_or_default().to_string(),
            )
        })
        .collect())
}

/// Snapshots tagged with `soar:alert-id = alert_id`.
pub async fn snapshots_for(config: &SdkConfig, alert_id: &str) -> Result<Vec<String>, String> {
    let out = Client::new(config)
        .describe_snapshots()
        .filters(Filter::builder().name("tag:soar:alert-id").values(alert_id).build())
        .send()
        .await
        .map_err(|e| lab_error("DescribeSnapshots", e))?;
    Ok(out
        .snapshots()
        .iter()
        .filter_map(|s| s.snapshot_id().map(String::from))
        .collect())
}

/// What a lab finding says.
#[derive(Debug, Clone)]
pub struct LabFinding<'a> {
    pub account: &'a str,
    pub region: &'a str,
    pub id: &'a str,
    pub finding_type: &'a str,
    pub severity: f64,
    /// The outbound connection's remote address.
    pub remote_ip: &'a str,
    pub sample: bool,
}

/// A GuardDuty finding about a lab instance, in an EventBridge envelope as the rule delivers it.
pub fn guardduty_event(instance: &LabInstance, finding: &LabFinding) -> serde_json::Value {
    let LabFinding {
        account,
        region,
        id: finding_id,
        finding_type,
        severity,
        remote_ip,
        sample,
    } = finding.clone();
    let now = soar_core::time::now();
    serde_json::json!({
        "version": "0",
        "id": format!("event-{finding_id}"),
        "detail-type": "GuardDuty Finding",
        "source": "aws.guardduty",
        "account": account,
        "time": now,
        "region": region,
        "resources": [],
        "detail": {
            "schemaVersion": "2.0",
            "accountId": account,
            "region": region,
            "partition": "aws",
            "id": finding_id,
            "arn": format!("arn:aws:guardduty:{region}:{account}:detector/lab/finding/{finding_id}"),
            "type": finding_type,
            "resource": {
                "resourceType": "Instance",
                "instanceDetails": {
                    "instanceId": instance.instance_id,
                    "networkInterfaces": [{
                        "networkInterfaceId": instance.network_interface_id,
                        "privateIpAddress": instance.private_ip,
                        "subnetId": instance.subnet_id,
                        "vpcId": instance.vpc_id,
                        "securityGroups": [{"groupId": instance.security_group_id}]
                    }],
                    "tags": [],
                    "instanceState": "running"
                }
            },
            "service": {
                "serviceName": "guardduty",
                "detectorId": "lab",
                "action": {
                    "actionType": "NETWORK_CONNECTION",
                    "networkConnectionAction": {
                        "connectionDirection": "OUTBOUND",
                        "remoteIpDetails": {"ipAddressV4": remote_ip},
                        "protocol": "TCP",
                        "blocked": false
                    }
                },
                "resourceRole": "SOURCE",
                "additionalInfo": {"sample": sample},
                "eventFirstSeen": now,
                "eventLastSeen": now,
                "archived": false,
                "count": 1
            },
            "severity": severity,
            "createdAt": now,
            "updatedAt": now,
            "title": format!("{finding_type} on {}", instance.instance_id),
            "description": format!("{finding_type} on {}", instance.instance_id)
        }
    })
}
