# Incident grouping: alerts about the same resource, or by the same principal, within the window
# are one incident, answered once (one page, one containment, follow-ups instead of new pages).
# soar links each alert to the open incident of its key; remediate sees it as `input.incident`.
package soar.evaluate

# Minutes between alerts of one incident (data.soar.config.evaluate.incident_window_minutes).
incident_window := object.get(cfg, "incident_window_minutes", 30)

# A false positive is answered alone: it must neither join nor raise someone's incident.
incident := object.union(
	{"key": concat("", [key_source, incident_key]), "window_minutes": incident_window},
	taken_in,
) if {
	verdict != "false_positive"
	incident_key
}

# An attack sequence takes in the incidents of everything it names: GuardDuty correlated them into
# one attack (its signals are findings about these instances and principals). An incident open
# under one of these keys is absorbed into the sequence's, and the key's later alerts join it.
taken_in := {"also": also_keys} if count(also_keys) > 0 else := {}

also_keys := [concat("", [key_source, k]) | some k in sequence_keys; k != incident_key]

sequence_keys contains sprintf("%s/instance/%s", [alert.account, id]) if {
	alert.resource.kind == "AttackSequence"
	some id in instance_ids
}

sequence_keys contains sprintf("%s/principal/%s", [alert.account, name]) if {
	alert.resource.kind == "AttackSequence"
	some r in object.get(alert, "related_resources", [])
	r.kind == "AccessKey"
	name := principal_of(object.get(r, "attributes", {}))
	name != ""
}

# The principal of a credential, as a credential finding's own key names it.
principal_of(attributes) := attributes.user_name if {
	attributes.user_name != ""
} else := object.get(attributes, "principal_id", "")

# Another tool's alerts group among themselves: a tool that names an instance (or forges a
# GuardDuty-like alert) cannot join, hold open or split a GuardDuty incident.
key_source := "" if guardduty else := sprintf("%s:", [alert.source])

# The instance a finding is about, or the instance behind it (a credential taken from an
# instance, a container on it): everything that happens to one instance is one incident.
incident_key := sprintf("%s/instance/%s", [alert.account, first_instance]) if {
	first_instance
} else := sprintf("%s/principal/%s", [alert.account, alert_principal]) if {
	alert_principal
} else := sprintf("%s/%s/%s", [alert.account, lower(alert.resource.kind), alert.resource.id]) if {
	alert.resource.id != ""
	alert.resource.kind != "AttackSequence"
}

instance_ids := [r.id |
	some r in array.concat([alert.resource], object.get(alert, "related_resources", []))
	r.kind == "Instance"
	r.id != ""
]

first_instance := instance_ids[0]

# The IAM user or role session whose credentials the finding is about.
alert_principal := name if {
	alert.resource.kind == "AccessKey"
	name := object.get(alert.resource.attributes, "user_name", "")
	name != ""
} else := name if {
	alert.resource.kind == "AccessKey"
	name := object.get(alert.resource.attributes, "principal_id", "")
	name != ""
}
