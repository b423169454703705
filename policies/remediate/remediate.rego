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
	some r in object.get(alert, "related_resources", [])
	r.kind == "Instance"
	r.id != ""
}

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

actions contains {
	"type": "notify", "target": {"kind": "Channel", "id": cfg.notify_channel},
	"params": {"message": notify_message, "page": input.verdict.page},
	"reason": sprintf("%s alert", [verdict]),
} if {
	not alert.sample
	verdict in {"incident", "undetermined"}
}

# Contain first, then preserve and mark, then the slow or human steps.
order := {"ec2.isolate": 0, "iam.deactivate_access_key": 0, "ec2.detach_instance_profile": 0, "ec2.snapshot": 1, "ec2.protect": 1, "ec2.tag": 2, "ec2.stop": 3, "notify": 4}

decision := {"actions": [a | some rank in numbers.range(0, 4); some a in actions; order[a.type] == rank]}
