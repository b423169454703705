//! A GuardDuty finding for every type of the checked-in list
//! (`tests/fixtures/guardduty/finding-types.tsv`): the native EventBridge `detail`, with the
//! resource block GuardDuty writes for the type's resource type and the action block of its
//! data source, filled with documentation values (RFC 5737 addresses, `111122223333`).

use serde_json::{Value, json};

/// One row of the list.
#[derive(Debug, Clone)]
pub(crate) struct FindingType {
    pub(crate) finding_type: String,
    /// GuardDuty's `resource.resourceType` (`Instance`, `AccessKey`, `S3Bucket`, ...).
    pub(crate) resource_type: String,
    /// The data source or feature (`VPC flow logs`, `Runtime Monitoring`, ...).
    pub(crate) source: String,
    /// The documented default severity label (`Low` ... `Critical`, or `Varies`).
    pub(crate) severity: String,
    /// `active` or `retired`.
    pub(crate) status: String,
    /// Other resource types the type is raised on (Runtime Monitoring: `EKSCluster,ECSCluster`).
    pub(crate) also: Vec<String>,
}

impl FindingType {
    /// GuardDuty's number for the label: the middle of its band (User Guide, "Severity levels").
    pub(crate) fn severity_value(&self) -> f64 {
        match self.severity.to_ascii_lowercase().as_str() {
            "low" => 2.0,
            "medium" => 5.0,
            "high" => 8.0,
            "critical" => 9.0,
            _ => 5.0,
        }
    }
}

/// The rows of the list (header and blank lines skipped). Panics naming the line on a row
/// without its five columns: the list is checked in, and a broken row is a broken test.
pub(crate) fn load(tsv: &str) -> Vec<FindingType> {
    tsv.lines()
        .enumerate()
        .skip(1)
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            let cells: Vec<&str> = line.split('\t').map(str::trim).collect();
            assert!(cells.len() >= 5, "finding-types.tsv line {}: {line:?}", n + 1);
            FindingType {
                finding_type: cells[0].into(),
                resource_type: cells[1].into(),
                source: cells[2].into(),
                severity: cells[3].into(),
                status: cells[4].into(),
                also: cells
                    .get(5)
                    .map(|a| {
                        a.split(',')
                            .map(str::trim)
                            .filter(|t| !t.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

/// The finding GuardDuty would send for `row`, its id derived from the type.
pub(crate) fn finding(row: &FindingType) -> Value {
    let id: String = row
        .finding_type
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let mut service = json!({
        "serviceName": "guardduty", "detectorId": "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0",
        "archived": false, "count": 1, "resourceRole": "TARGET", "additionalInfo": {},
        "eventFirstSeen": "2026-11-20T09:00:00.000Z", "eventLastSeen": "2026-11-20T09:05:00.000Z",
        "action": action(row),
    });
    extend_service(row, &mut service);
    json!({
        "schemaVersion": "2.0", "accountId": "111122223333", "region": "eu-west-1", "partition": "aws",
        "id": id,
        "arn": format!("arn:aws:guardduty:eu-west-1:111122223333:detector/d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0/finding/{id}"),
        "type": row.finding_type,
        "resource": resource(row),
        "service": service,
        "severity": row.severity_value(),
        "createdAt": "2026-11-20T09:05:00.000Z",
        "updatedAt": "2026-11-20T09:05:00.000Z",
        "title": row.finding_type,
        "description": format!("Generated from the finding-type list: {} ({}).", row.finding_type, row.source),
    })
}

fn instance_details() -> Value {
    json!({
        "instanceId": "i-0a1b2c3d4e5f60718", "instanceType": "t3.medium", "instanceState": "running",
        "availabilityZone": "eu-west-1a", "imageId": "ami-0aaaaaaaaaaaaaaa1",
        "iamInstanceProfile": {"arn": "arn:aws:iam::111122223333:instance-profile/app", "id": "AIPAEXAMPLE"},
        "networkInterfaces": [{"networkInterfaceId": "eni-0123456789abcdef0", "privateIpAddress": "10.20.1.15",
            "subnetId": "subnet-0aa1bb2cc3dd4ee5f", "vpcId": "vpc-0f1e2d3c4b5a69788",
            "securityGroups": [{"groupId": "sg-0123456789abcdef0", "groupName": "app"}]}],
        "tags": [{"key": "Name", "value": "app-1"}]
    })
}

/// The `resource` block for the row's resource type (GuardDuty API reference, `Resource`).
fn resource(row: &FindingType) -> Value {
    let instance_credentials = row.finding_type.contains("InstanceCredentialExfiltration");
    match row.resource_type.as_str() {
        "Instance" => json!({"resourceType": "Instance", "instanceDetails": instance_details()}),
        "AccessKey" if instance_credentials => json!({"resourceType": "AccessKey",
            "accessKeyDetails": {"accessKeyId": "ASIAEXAMPLESESSION01", "principalId": "AROAEXAMPLE:i-0a1b2c3d4e5f60718",
                                 "userName": "app-role", "userType": "AssumedRole"},
            "instanceDetails": instance_details()}),
        "AccessKey" => json!({"resourceType": "AccessKey",
            "accessKeyDetails": {"accessKeyId": "AKIAEXAMPLEUSERKEY01", "principalId": "AIDAEXAMPLEUSER01",
                                 "userName": "alice", "userType": "IAMUser"}}),
        "S3Bucket" => json!({"resourceType": "S3Bucket",
            "accessKeyDetails": {"accessKeyId": "AKIAEXAMPLEUSERKEY01", "userName": "alice", "userType": "IAMUser"},
            "s3BucketDetails": [{"name": "example-data", "arn": "arn:aws:s3:::example-data", "type": "Destination",
                                 "tags": [{"key": "team", "value": "data"}]}]}),
        "S3Object" => json!({"resourceType": "S3Object",
            "s3BucketDetails": [{"name": "example-uploads", "arn": "arn:aws:s3:::example-uploads",
                "s3ObjectDetails": [{"objectArn": "arn:aws:s3:::example-uploads/in/invoice.zip", "key": "in/invoice.zip",
                    "eTag": "0123456789abcdef", "versionId": "v1",
                    "hash": "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"}]}]}),
        "EKSCluster" => json!({"resourceType": "EKSCluster",
            "eksClusterDetails": {"name": "prod-cluster", "arn": "arn:aws:eks:eu-west-1:111122223333:cluster/prod-cluster",
                                  "vpcId": "vpc-0f1e2d3c4b5a69788", "status": "ACTIVE", "tags": []},
            "kubernetesDetails": {"kubernetesUserDetails": {"username": "system:serviceaccount:default:app"},
                "kubernetesWorkloadDetails": {"name": "app", "type": "pods", "namespace": "default"}},
            "instanceDetails": instance_details()}),
        "ECSCluster" | "Container" => json!({"resourceType": row.resource_type,
            "ecsClusterDetails": {"name": "prod-ecs", "arn": "arn:aws:ecs:eu-west-1:111122223333:cluster/prod-ecs",
                "taskDetails": {"arn": "arn:aws:ecs:eu-west-1:111122223333:task/prod-ecs/0123", "definitionArn": "arn:aws:ecs:eu-west-1:111122223333:task-definition/app:1"}},
            "containerDetails": {"id": "0123456789ab", "name": "app", "image": "example/app:1"},
            "instanceDetails": instance_details()}),
        "Lambda" => json!({"resourceType": "Lambda",
            "lambdaDetails": {"functionName": "payments", "functionArn": "arn:aws:lambda:eu-west-1:111122223333:function:payments",
                              "tags": []}}),
        "RDSDBInstance" | "RDSLimitlessDB" => json!({"resourceType": row.resource_type,
            "rdsDbInstanceDetails": {"dbInstanceIdentifier": "orders-db", "engine": "aurora-postgresql",
                                     "dbClusterIdentifier": "orders", "tags": []},
            "rdsLimitlessDbDetails": {"dbShardGroupIdentifier": "orders-shards", "dbClusterIdentifier": "orders"},
            "rdsDbUserDetails": {"user": "app_user", "application": "psql", "database": "orders", "authMethod": "PASSWORD"}}),
        "AttackSequence" => json!({"resourceType": "AttackSequence"}),
        other => json!({"resourceType": other}),
    }
}

/// The `service.action` block of the row's data source.
fn action(row: &FindingType) -> Value {
    let remote = json!({"ipAddressV4": "198.51.100.23", "organization": {"asn": "64496", "asnOrg": "Example Hosting"},
                        "country": {"countryName": "Exampleland"}});
    let source = row.source.to_ascii_lowercase();
    let family = row.finding_type.split(':').next().unwrap_or_default();
    if source.contains("dns") || row.finding_type.ends_with("!DNS") {
        return json!({"actionType": "DNS_REQUEST", "dnsRequestAction": {"domain": "malicious.example.net", "protocol": "UDP", "blocked": false}});
    }
    if source.contains("eks audit") || source.contains("kubernetes") {
        return json!({"actionType": "KUBERNETES_API_CALL", "kubernetesApiCallAction": {"requestUri": "/api/v1/namespaces/default/pods",
            "verb": "create", "sourceIps": ["198.51.100.23"], "remoteIpDetails": remote}});
    }
    if source.contains("rds") {
        return json!({"actionType": "RDS_LOGIN_ATTEMPT", "rdsLoginAttemptAction": {"remoteIpDetails": remote,
            "loginAttributes": [{"user": "app_user", "application": "psql", "failedLoginAttempts": 30, "successfulLoginAttempts": 1}]}});
    }
    if source.contains("cloudtrail") {
        return json!({"actionType": "AWS_API_CALL", "awsApiCallAction": {"api": "ListBuckets", "serviceName": "s3.amazonaws.com",
            "callerType": "Remote IP", "remoteIpDetails": remote}});
    }
    if row.finding_type.starts_with("Recon:EC2/Port") || family == "Recon" && source.contains("flow") {
        return json!({"actionType": "PORT_PROBE", "portProbeAction": {"blocked": false, "portProbeDetails": [
            {"localPortDetails": {"port": 22, "portName": "SSH"}, "remoteIpDetails": remote}]}});
    }
    if source.contains("flow") || source.contains("lambda") {
        return json!({"actionType": "NETWORK_CONNECTION", "networkConnectionAction": {"connectionDirection": "OUTBOUND",
            "remoteIpDetails": remote, "remotePortDetails": {"port": 443, "portName": "HTTPS"}, "protocol": "TCP", "blocked": false}});
    }
    // Runtime and malware findings carry their evidence elsewhere (`runtimeDetails`, the scan).
    if source.contains("runtime") || source.contains("malware") || row.resource_type == "AttackSequence" {
        return json!({});
    }
    // Everything else GuardDuty learns from API calls (custom detection rules, AI Protection's
    // model invocations).
    json!({"actionType": "AWS_API_CALL", "awsApiCallAction": {"api": "InvokeModel", "serviceName": "bedrock.amazonaws.com",
        "callerType": "Remote IP", "remoteIpDetails": remote}})
}

/// What the data source adds besides the action: the process of a runtime finding, the scan
/// of a malware finding, the sequence of an attack sequence.
fn extend_service(row: &FindingType, service: &mut Value) {
    let source = row.source.to_ascii_lowercase();
    if source.contains("runtime") {
        service["featureName"] = json!("RuntimeMonitoring");
        service["runtimeDetails"] = json!({"process": {"name": "xmrig", "executablePath": "/tmp/xmrig",
            "executableSha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "pid": 4242}});
    }
    if source.contains("malware protection") && !source.contains("for s3") {
        service["featureName"] = json!("EbsMalwareProtection");
        service["ebsVolumeScanDetails"] = json!({"scanId": "scan-1", "scanDetections": {"threatDetectedByName": {"threatNames": [
            {"name": "EICAR-Test-File", "severity": "MEDIUM", "filePaths": [{"filePath": "/tmp/eicar.com",
                "hash": "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"}]}]}}});
    }
    if row.resource_type == "AttackSequence" {
        service["featureName"] = json!("Correlation");
        service["detection"] = json!({"sequence": {
            "uid": "seq-1", "description": "Generated attack sequence.",
            "actors": [{"id": "actor-1", "session": {"uid": "ASIAEXAMPLESESSION01", "issuer": "arn:aws:iam::111122223333:role/app-role"}}],
            "resources": [{"uid": "arn:aws:ec2:eu-west-1:111122223333:instance/i-0a1b2c3d4e5f60718", "resourceType": "EC2_INSTANCE",
                           "accountId": "111122223333", "region": "eu-west-1", "tags": []}],
            "endpoints": [{"id": "198.51.100.23", "ip": "198.51.100.23"}],
            "signals": [{"uid": "sig-1", "type": "FINDING", "name": "UnauthorizedAccess:EC2/TorClient", "severity": 8}],
            "sequenceIndicators": [{"key": "MALICIOUS_IP", "values": ["198.51.100.23"]}]}});
    }
}
