# Ingest: accept or suppress each alert, with a reason, and map alerts from other tools onto
# soar's fields. Input: {source, alert (a finding soar normalised itself: GuardDuty by any route,
# a Malware Protection scan result, a Security Hub finding; null otherwise), raw, context}.
package soar.ingest

import data.soar.lib

guardduty := input.source == "guardduty"

# soar read the finding itself (`input.alert` is set): no mapping needed.
normalised if is_object(input.alert)

# --- Suppression ---------------------------------------------------------------------------------

suppress contains "sample finding (service.additionalInfo.sample): generated for testing, never acted on" if {
	normalised
	input.alert.sample == true
}

suppress contains sprintf("archived finding: an analyst already closed it in %s", [closed_in]) if {
	normalised
	input.alert.archived == true
}

closed_in := "GuardDuty" if guardduty
else := "Security Hub"

suppress contains sprintf("finding type %s is suppressed by data.soar.config.ingest.suppressed_types", [input.alert.type]) if {
	normalised
	input.alert.type in lib.config.ingest.suppressed_types
}

# GuardDuty Malware Protection scanned an S3 object and found nothing: a record, not an alert.
suppress contains "malware scan of an S3 object found no threats (GuardDuty Malware Protection: NO_THREATS_FOUND)" if {
	normalised
	input.alert.type == "MalwareScan:S3Object/NO_THREATS_FOUND"
}

suppress contains "test alert (the sending tool flagged it `test: true`)" if {
	not normalised
	lib.flag_set(object.get(generic, "test", false))
}

# --- Alerts from other tools --------------------------------------------------------------------
#
# The generic schema (documented in the README): {id, type|rule, severity|priority, title,
# description, account, region, time, resource: {type|kind, id, tags}, indicators|observables:
# [{type, value}], test}. An EventBridge event from another source carries it in `detail`.

generic := input.raw.detail if {
	not normalised
	is_object(input.raw.detail)
} else := input.raw

# The first of several field names a tool may use; null when it uses none (Rust then names the
# missing field in its rejection).
first_of(obj, keys) := value if {
	values := [obj[k] | some k in keys; obj[k] != null]
	count(values) > 0
	value := values[0]
} else := null

mapped_resource := {
	"kind": object.get(r, "kind", object.get(r, "type", "Unknown")),
	"id": object.get(r, "id", ""),
	"tags": object.get(r, "tags", {}),
} if {
	r := generic.resource
	is_object(r)
} else := {"kind": "Unknown", "id": "", "tags": {}}

mapped := {
	"id": first_of(generic, ["id", "alert_id", "uuid"]),
	"type": first_of(generic, ["type", "rule", "name"]),
	"severity": object.get(generic, "severity", object.get(generic, "priority", 0)),
	"title": object.get(generic, "title", object.get(generic, "output", "")),
	"description": object.get(generic, "description", ""),
	"account": object.get(generic, "account", object.get(input.raw, "account", "")),
	"region": object.get(generic, "region", object.get(input.raw, "region", "")),
	"updated_at": object.get(generic, "time", object.get(input.raw, "time", null)),
	"resource": mapped_resource,
	"indicators": object.get(generic, "indicators", object.get(generic, "observables", [])),
	# As the tool wrote it: Rust reads the flag the safe way (`"True"`, `1`, repeated keys).
	"sample": object.get(generic, "test", false),
}

# --- Labels -------------------------------------------------------------------------------------

labels contains input.source

labels contains concat(":", ["severity", input.alert.severity_label]) if normalised

labels contains "cross-account" if {
	normalised
	input.alert.resource.account != ""
	input.alert.account != input.alert.resource.account
}

labels contains concat(":", ["family", split(input.alert.type, ":")[0]]) if guardduty

labels contains concat(":", ["scan", input.alert.resource.attributes.scan_result_status]) if {
	normalised
	is_string(input.alert.resource.attributes.scan_result_status)
}

# --- Decision -----------------------------------------------------------------------------------

sorted_labels := sort([l | some l in labels])

suppressed_because := concat("; ", sort([r | some r in suppress]))

# One rule with ordered branches rather than four definitions: no two can ever disagree, which
# is what lets the bytecode VM decide this phase (it does not check for conflicting values).
decision := {"accept": false, "reason": suppressed_because, "labels": sorted_labels} if {
	count(suppress) > 0
	normalised
} else := {"accept": false, "reason": suppressed_because, "labels": sorted_labels, "alert": mapped} if {
	# A suppressed alert from another tool is still mapped, so it is recorded like any other.
	count(suppress) > 0
} else := {"accept": true, "reason": "GuardDuty finding accepted", "labels": sorted_labels} if {
	guardduty
	normalised
} else := {"accept": true, "reason": sprintf("%s finding accepted", [input.source]), "labels": sorted_labels} if {
	normalised
} else := {
	"accept": true,
	"reason": sprintf("alert from %s mapped by the generic schema", [input.source]),
	"labels": sorted_labels,
	"alert": mapped,
}
