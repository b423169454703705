# Evaluate: is this a real incident, a false positive, or does a human need to decide?
# Input: the document (alert, enrichments) and context. Unknown finding types are never dropped:
# they end as `undetermined` so someone looks at them.
package soar.evaluate

import data.soar.lib

cfg := lib.config.evaluate

alert := input.alert

family := split(alert.type, ":")[0]

guardduty if alert.source == "guardduty"

# Families only GuardDuty raises: another tool naming its alert `AttackSequence:...` claims nothing.
guardduty_only_families := {"AttackSequence", "Object"}

known_type if {
	family in cfg.known_families
	not family in guardduty_only_families
}

known_type if {
	family in cfg.known_families
	guardduty
}

attack_sequence if {
	family == "AttackSequence"
	guardduty
}

# Root credentials are never a false positive: nothing about the root user is routine.
root_user if {
	alert.resource.kind == "AccessKey"
	lower(object.get(alert.resource.attributes, "user_type", "")) == "root"
}

# An authorised scanner: an address (IPv6 in any spelling) or a CIDR that contains it.
scanner(ip) if {
	some entry in cfg.authorized_scanner_ips
	net.cidr_contains(as_cidr(entry), ip)
}

as_cidr(entry) := entry if contains(entry, "/")
else := sprintf("%s/128", [entry]) if contains(entry, ":")
else := sprintf("%s/32", [entry])

# The self-applied testing tag: anyone who can tag a resource can apply it.
benign_tagged if alert.resource.tags[cfg.benign_tag] == "true"

remote_ips contains ind.value if {
	some ind in alert.indicators
	ind.type == "ip"
	ind.role == "remote"
}

# --- Signals --------------------------------------------------------------------------------------

incident_reasons contains sprintf("%s finding of severity %v (threshold %v)", [alert.severity_label, alert.severity, cfg.incident_min_severity]) if {
	known_type
	alert.severity >= cfg.incident_min_severity
}

incident_reasons contains "an indicator is on a threat list" if {
	known_type
	lib.intel_hit(input.enrichments)
	alert.severity >= 4
}

incident_reasons contains "GuardDuty correlated an attack sequence" if attack_sequence

benign_reasons contains sprintf("remote address %s is an authorised scanner", [ip]) if {
	some ip in remote_ips
	scanner(ip)
}

# Below high severity only: a tag never silences a high-severity finding (see `verdict`).
benign_reasons contains sprintf("resource is tagged %s=true", [cfg.benign_tag]) if {
	benign_tagged
	alert.severity < 7
}

benign_reasons contains "low severity with no corroborating threat intelligence" if {
	known_type
	alert.severity < 4
	not lib.intel_hit(input.enrichments)
}

# --- Verdict ---------------------------------------------------------------------------------------

verdict := "undetermined" if {
	not known_type
} else := "undetermined" if {
	tagged_high
} else := "false_positive" if {
	count(benign_reasons) > 0
	not attack_sequence
	not root_user
} else := "incident" if {
	count(incident_reasons) > 0
} else := "undetermined"

reasons := [sprintf("finding type %s is not covered by any evaluate rule: needs a human", [alert.type])] if {
	not known_type
} else := [sprintf("resource is tagged %s=true, but a tag anyone can set never silences a %s finding: a person confirms", [cfg.benign_tag, alert.severity_label])] if {
	tagged_high
} else := sort([r | some r in benign_reasons]) if {
	verdict == "false_positive"
} else := sort([r | some r in incident_reasons]) if {
	verdict == "incident"
} else := [sprintf("%s finding without corroboration: review", [alert.severity_label])]

# A high-severity finding on a resource tagged for testing: neither contained nor silenced.
tagged_high if {
	benign_tagged
	alert.severity >= 7
	not attack_sequence
}

# A threat-list hit raises a medium finding to high.
severity := "high" if {
	verdict == "incident"
	alert.severity_label in {"low", "medium"}
	lib.intel_hit(input.enrichments)
} else := alert.severity_label

page if {
	verdict == "incident"
	alert.severity >= cfg.page_min_severity
}

page if {
	verdict == "incident"
	attack_sequence
}

verdict_decision := {
	"verdict": verdict,
	"severity": severity,
	"reasons": reasons,
	"page": page,
} if page else := {
	"verdict": verdict,
	"severity": severity,
	"reasons": reasons,
	"page": false,
}

# The incident, when the alert has one (see incident.rego); else the alert is answered alone.
decision := object.union(verdict_decision, {"incident": grouping}) if {
	grouping := incident
} else := verdict_decision
