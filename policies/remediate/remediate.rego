# Remediate: which actions on which targets. Input: the document (alert, enrichments, verdict)
# and context {mode}. The Rust side still applies its guard rails (sample, protected, allow-list,
# exactly-once ledger, hourly cap, dry run) to whatever this returns.
package soar.remediate

import data.soar.lib

cfg := lib.config.remediate

alert := input.alert

verdict := input.verdict.verdict

resource := alert.resource

protected if lib.protected(alert, input.enrichments)

# Sample findings and protected resources get no automatic response.
may_act if {
	not alert.sample
	not protected
}

# The instances an incident is answered on: the alert's own instance, and every instance an attack
# sequence names (GuardDuty correlated them into one attack).
instances contains resource.id if {
	resource.kind == "Instance"
	resource.id != ""
}

instances contains r.id if {
	startswith(alert.type, "AttackSequence:")
	some r in related("Instance")
}

# Container and Kubernetes findings name the node or container instance they ran on: contain it.
instances contains r.id if {
	resource.kind in {"Container", "EKSCluster"}
	some r in related("Instance")
}

related(kind) := [r | some r in object.get(alert, "related_resources", []); r.kind == kind; r.id != ""]

# --- EC2 instances ----------------------------------------------------------------------------------

actions contains {
	"type": "ec2.snapshot", "target": {"kind": "Instance", "id": id},
	"params": {"tags": {"soar:alert-id": alert.id}},
	"reason": "preserve disk evidence for forensics",
} if {
	may_act
	verdict == "incident"
	some id in instances
	cfg.snapshot_before_isolation
}

actions contains {
	"type": "ec2.isolate", "target": {"kind": "Instance", "id": id},
	"params": {},
	"reason": sprintf("incident on %s: cut it off the network", [id]),
} if {
	may_act
	verdict == "incident"
	some id in instances
}

actions contains {
	"type": "ec2.tag", "target": {"kind": "Instance", "id": id},
	"params": {"tags": {"soar:incident": alert.id, "soar:verdict": verdict}},
	"reason": "mark the instance for responders",
} if {
	may_act
	verdict == "incident"
	some id in instances
}

# Evidence must survive an attacker's (or an autoscaler's) cleanup.
actions contains {
	"type": "ec2.protect", "target": {"kind": "Instance", "id": id},
	"params": {},
	"reason": "termination and stop protection keep the evidence",
} if {
	may_act
	verdict == "incident"
	some id in instances
}

# Stopping loses memory evidence and breaks service: only for critical incidents, and a human approves.
actions contains {
	"type": "ec2.stop", "target": {"kind": "Instance", "id": id},
	"params": {},
	"requires_approval": cfg.stop_requires_approval,
	"reason": "critical incident: stop the instance once a responder approves",
} if {
	may_act
	verdict == "incident"
	some id in instances
	alert.severity >= cfg.stop_min_severity
}

# Instance-role credentials used elsewhere: take the role off the instance they came from, so they
# are not renewed (reversible: the profile is recorded).
actions contains {
	"type": "ec2.detach_instance_profile", "target": {"kind": "Instance", "id": r.id},
	"params": {},
	"reason": sprintf("credentials of the instance role of %s were used elsewhere: remove the role from the instance", [r.id]),
} if {
	may_act
	verdict == "incident"
	contains(alert.type, "InstanceCredentialExfiltration")
	some r in object.get(alert, "related_resources", [])
	r.kind == "Instance"
	r.id != ""
}

# --- IAM access keys --------------------------------------------------------------------------------

actions contains {
	"type": "iam.deactivate_access_key", "target": {"kind": "AccessKey", "id": resource.id},
	"params": {"user_name": object.get(resource.attributes, "user_name", "")},
	"reason": "incident involving this access key: deactivate it (reversible)",
} if {
	may_act
	verdict == "incident"
	resource.kind == "AccessKey"
	# Only an IAM user's long-term key can be deactivated: a session key (ASIA…) stays valid, and
	# the root user's keys are not an IAM user's.
	startswith(resource.id, "AKIA")
	lower(object.get(resource.attributes, "user_type", "IAMUser")) == "iamuser"
}

# Session credentials (an assumed role, an instance role): revoke every session of the role issued
# before now. The key of the finding, the caller behind an S3 finding, or an attack sequence's actor.
sessions contains {"id": k.id, "role": role_of(k)} if {
	some k in array.concat([resource], related("AccessKey"))
	k.kind == "AccessKey"
	startswith(k.id, "ASIA")
	lower(object.get(k.attributes, "user_type", "AssumedRole")) == "assumedrole"
	role_of(k) != ""
}

role_of(k) := k.attributes.user_name if {
	k.attributes.user_name != ""
} else := regex.replace(k.attributes.session_issuer, `^.*:role/(.*/)?`, "") if {
	contains(k.attributes.session_issuer, ":role/")
} else := ""

actions contains {
	"type": "iam.revoke_role_sessions", "target": {"kind": "AccessKey", "id": s.id},
	"params": {"role_name": s.role},
	"reason": sprintf("session credentials of role %s were misused: deny every session issued before now (reversible)", [s.role]),
} if {
	may_act
	verdict == "incident"
	some s in sessions
}

# The caller's long-term key behind a finding about something else (an S3 data event).
actions contains {
	"type": "iam.deactivate_access_key", "target": {"kind": "AccessKey", "id": k.id},
	"params": {"user_name": k.attributes.user_name},
	"reason": sprintf("incident involving %s's access key: deactivate it (reversible)", [k.attributes.user_name]),
} if {
	may_act
	verdict == "incident"
	resource.kind != "AccessKey"
	some k in related("AccessKey")
	startswith(k.id, "AKIA")
	lower(object.get(k.attributes, "user_type", "")) == "iamuser"
	object.get(k.attributes, "user_name", "") != ""
}

# --- S3 buckets: every bucket of the finding -------------------------------------------------------

buckets contains resource.id if {
	resource.kind == "S3Bucket"
	resource.id != ""
}

buckets contains r.id if {
	some r in related("S3Bucket")
}

actions contains {
	"type": "s3.block_public_access", "target": {"kind": "S3Bucket", "id": b},
	"params": {},
	"reason": sprintf("incident on bucket %s: block public access to it (reversible; IAM access is unchanged)", [b]),
} if {
	may_act
	verdict == "incident"
	some b in buckets
}

# --- Lambda functions -----------------------------------------------------------------------------

actions contains {
	"type": "lambda.throttle", "target": {"kind": "Lambda", "id": resource.id},
	"params": {},
	"reason": sprintf("incident on function %s: reserved concurrency 0 stops new invocations (reversible)", [resource.id]),
} if {
	may_act
	verdict == "incident"
	resource.kind == "Lambda"
	resource.id != ""
}

# --- Containers and Kubernetes --------------------------------------------------------------------

# Stopping a task loses its memory and writable layer: a person approves it.
actions contains {
	"type": "ecs.stop_task", "target": {"kind": "ECSTask", "id": t.id},
	"params": {},
	"requires_approval": true,
	"reason": "incident in this ECS task: stop it once a responder approves (its memory is lost)",
} if {
	may_act
	verdict == "incident"
	some t in related("ECSTask")
}

root_user if {
	resource.kind == "AccessKey"
	lower(object.get(resource.attributes, "user_type", "")) == "root"
}

# --- People -----------------------------------------------------------------------------------------

notify_message := "protected resource: no automatic action, respond by hand" if protected
else := concat("; ", array.concat(
	["root credentials used: no API call can contain the root user. Sign in as root, delete or rotate its access keys, check its MFA, and review what it did"],
	input.verdict.reasons,
)) if root_user
else := concat("; ", input.verdict.reasons)

# `commands` (below): what no AWS API does safely, as the exact commands a responder runs. Rust
# shows each on its own line and leaves out one holding a control character.

actions contains {
	"type": "notify", "target": {"kind": "Channel", "id": cfg.notify_channel},
	"params": {"message": notify_message, "commands": commands, "page": input.verdict.page},
	"reason": sprintf("%s alert", [verdict]),
} if {
	not alert.sample
	verdict in {"incident", "undetermined"}
}

# --- The verdict where the team looks: Security Hub and GuardDuty ----------------------------------
# The alert's own finding (`alert.finding`, read by the parser from the finding itself: absent for
# an alert from another tool). Rust writes the note or comment from the document; these rules
# decide when. Configuration: `remediate.write_back` in data.json.

write_back := object.get(cfg, "write_back", {})

finding := alert.finding

# In Security Hub: a finding that came through it, or a GuardDuty finding when Security Hub's
# GuardDuty integration is on (then every GuardDuty finding is imported there too).
in_security_hub if finding.via_security_hub

in_security_hub if {
	finding.detector_id
	object.get(write_back, "securityhub_has_guardduty", false)
}

# A false positive is taken out of sight (archived, suppressed, rated not useful) only on grounds
# nobody in the account can give themselves: a tag on the resource (`evaluate.benign_tag`, with
# any value) is such a ground, so a finding about a tagged resource stays in sight for a person.
# Rust hides only GuardDuty's findings, which it confirms with GuardDuty first.
hideable if {
	verdict == "false_positive"
	finding.detector_id
	object.get(resource.tags, lib.config.evaluate.benign_tag, null) == null
}

# An incident has been answered and people told; a false positive needs nobody.
workflow_status := "NOTIFIED" if verdict == "incident"
else := "SUPPRESSED" if hideable

actions contains {
	"type": "securityhub.update_finding", "target": {"kind": "Finding", "id": finding.id},
	"params": {"workflow_status": workflow_status},
	"reason": sprintf("%s: soar's verdict, incident and actions on the finding in Security Hub", [verdict]),
} if {
	may_act
	object.get(write_back, "securityhub", false)
	in_security_hub
}

# A false positive archived in GuardDuty (by the account that manages the finding), so the next
# person does not triage it again; reversible (UnarchiveFindings).
actions contains {
	"type": "guardduty.archive_finding", "target": {"kind": "Finding", "id": finding.id},
	"params": {},
	"reason": "false positive: archived in GuardDuty so nobody triages it again (reversible)",
} if {
	may_act
	hideable
	object.get(write_back, "guardduty_archive_false_positives", false)
}

actions contains {
	"type": "guardduty.feedback", "target": {"kind": "Finding", "id": finding.id},
	"params": {"feedback": "NOT_USEFUL"},
	"reason": "false positive: GuardDuty told the finding was not useful",
} if {
	may_act
	hideable
	object.get(write_back, "guardduty_feedback", false)
}

# Contain first, then preserve and mark, then the slow or human steps; the verdict is written back
# last, so that its note lists what was done.
order := {
	"ec2.isolate": 0, "iam.deactivate_access_key": 0, "iam.revoke_role_sessions": 0, "ec2.detach_instance_profile": 0,
	"s3.block_public_access": 0, "lambda.throttle": 0,
	"ec2.snapshot": 1, "ec2.protect": 1, "ec2.tag": 2, "ec2.stop": 3, "ecs.stop_task": 3, "notify": 4,
	"guardduty.feedback": 5, "guardduty.archive_finding": 5, "securityhub.update_finding": 5,
}

decision := {"actions": [a | some rank in numbers.range(0, 5); some a in actions; order[a.type] == rank]}

# --- Commands for people ---------------------------------------------------------------------------
# The commands a responder runs for what no AWS API contains safely (a Kubernetes workload, a
# database user, a file in a bucket), written into the notification from the finding's own names.
# Values from a finding are attacker-influenced: a value with characters outside the set a shell
# passes through unquoted is never pasted into a command (the placeholder says to look it up).

# A value starts with a letter or digit (never `-`: `--server=…` would be read as an option).
safe(v) := v if {
	is_string(v)
	regex.match(`^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,252}$`, v)
} else := "<see the finding: unusual characters>"

attr(name) := safe(resource.attributes[name]) if resource.attributes[name] != ""

# Kubernetes: quarantine the workload's pods with a deny-all NetworkPolicy on a label, keep the
# evidence, and find what the caller may do (Kubernetes API, not AWS's: kubectl).
eks_commands := array.concat(
	[
		sprintf("aws eks update-kubeconfig --name %s --region %s", [safe(resource.id), safe(alert.region)]),
	],
	array.concat(workload_commands, user_commands),
)

deny_all := `{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"soar-quarantine"},"spec":{"podSelector":{"matchLabels":{"soar-quarantine":"true"}},"policyTypes":["Ingress","Egress"]}}`

workload_commands := [
	sprintf("kubectl -n %s get %s %s -o yaml > evidence-%s.yaml", [attr("namespace"), attr("workload_type"), attr("workload_name"), attr("workload_name")]),
	sprintf("kubectl -n %s label pod %s soar-quarantine=true --overwrite   # for a deployment: label each of its pods (kubectl -n %s get pods -o wide)", [attr("namespace"), attr("workload_name"), attr("namespace")]),
	sprintf("echo '%s' | kubectl -n %s apply -f -", [deny_all, attr("namespace")]),
] if {
	attr("namespace")
	attr("workload_name")
	attr("workload_type")
} else := []

user_commands := [
	sprintf("kubectl auth can-i --list --as %s", [attr("kubernetes_user")]),
	sprintf("kubectl get rolebindings,clusterrolebindings -A -o wide | grep -F %s   # then delete the bindings it should not have", [attr("kubernetes_user")]),
] if attr("kubernetes_user") else := []

# ECS: the task's evidence before a responder approves its stop.
ecs_commands := [sprintf("aws ecs describe-tasks --cluster %s --tasks %s --region %s > evidence-task.json", [safe(t.attributes.cluster), safe(t.id), safe(alert.region)]) |
	some t in related("ECSTask")
	t.attributes.cluster
]

# RDS: the database user is contained in the engine; the instance's public reachability in RDS.
rds_commands := array.concat(
	[sprintf("aws rds modify-db-instance --db-instance-identifier %s --no-publicly-accessible --apply-immediately --region %s   # if it need not be public", [safe(resource.id), safe(alert.region)])],
	[sprintf(`PostgreSQL: ALTER ROLE "%s" NOLOGIN;  MySQL: ALTER USER '%s'@'%%' ACCOUNT LOCK;   # then rotate its password`, [safe(u.id), safe(u.id)]) |
		some u in related("RDSDBUser")
	],
)

# Malware Protection for S3: the object, kept for analysis and out of reach of readers.
object_commands := [
	sprintf("aws s3api get-object-attributes --bucket %s --key %s --object-attributes ETag ObjectSize", [attr("bucket_name"), attr("object_key")]),
	sprintf("aws s3api put-object-tagging --bucket %s --key %s --tagging 'TagSet=[{Key=soar-quarantine,Value=true}]'   # and deny s3:GetObject on that tag in the bucket policy, or move the object to a quarantine bucket", [attr("bucket_name"), attr("object_key")]),
] if {
	attr("bucket_name")
	attr("object_key")
} else := []

commands := eks_commands if resource.kind == "EKSCluster"
else := ecs_commands if resource.kind == "Container"
else := rds_commands if resource.kind == "RDSDBInstance"
else := object_commands if resource.kind == "S3Object"
else := []
