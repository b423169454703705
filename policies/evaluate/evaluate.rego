# Evaluate: is this a real incident, a false positive, or does a human need to decide?
# Input: the document (alert, enrichments) and context. Unknown finding types are never dropped:
# they end as `undetermined` so someone looks at them.
package soar.evaluate

import data.soar.lib

cfg := lib.config.evaluate

alert := input.alert

family := split(alert.type, ":")[0]

known_type if family in cfg.known_families

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

incident_reasons contains "GuardDuty correlated an attack sequence" if family == "AttackSequence"

benign_reasons contains sprintf("remote address %s is an authorised scanner", [ip]) if {
	some ip in remote_ips
	ip in cfg.authorized_scanner_ips
}

benign_reasons contains sprintf("resource is tagged %s=true", [cfg.benign_tag]) if {
	alert.resource.tags[cfg.benign_tag] == "true"
}

benign_reasons contains "low severity with no corroborating threat intelligence" if {
	known_type
	alert.severity < 4
	not lib.intel_hit(input.enrichments)
}

# --- Verdict ---------------------------------------------------------------------------------------

verdict := "undetermined" if {
	not known_type
} else := "false_positive" if {
	count(benign_reasons) > 0
	family != "AttackSequence"
} else := "incident" if {
	count(incident_reasons) > 0
} else := "undetermined"

reasons := [sprintf("finding type %s is not covered by any evaluate rule: needs a human", [alert.type])] if {
	not known_type
} else := sort([r | some r in benign_reasons]) if {
	verdict == "false_positive"
} else := sort([r | some r in incident_reasons]) if {
	verdict == "incident"
} else := [sprintf("%s finding without corroboration: review", [alert.severity_label])]

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
	family == "AttackSequence"
}

decision := {
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
