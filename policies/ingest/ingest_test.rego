package soar.ingest_test

import data.soar.ingest

gd(overrides) := {
	"source": "guardduty",
	"alert": object.union({
		"id": "guardduty/111122223333/us-east-1/f1", "type": "UnauthorizedAccess:EC2/TorClient",
		"severity": 8, "severity_label": "high", "sample": false, "archived": false,
		"account": "111122223333", "resource": {"kind": "Instance", "id": "i-1", "account": "111122223333", "tags": {}},
	}, overrides),
	"raw": {},
	"context": {"phase": "ingest"},
}

test_accepts_a_real_finding if {
	d := ingest.decision with input as gd({})
	d.accept == true
	"guardduty" in d.labels
	"severity:high" in d.labels
	"family:UnauthorizedAccess" in d.labels
}

test_suppresses_sample_findings_with_reason if {
	d := ingest.decision with input as gd({"sample": true})
	d.accept == false
	contains(d.reason, "sample finding")
}

test_suppresses_archived_findings if {
	d := ingest.decision with input as gd({"archived": true})
	d.accept == false
	contains(d.reason, "archived")
}

test_sample_and_archived_give_both_reasons if {
	d := ingest.decision with input as gd({"archived": true, "sample": true})
	contains(d.reason, "archived")
	contains(d.reason, "sample")
}

test_configured_types_are_suppressed if {
	d := ingest.decision with input as gd({}) with data.soar.config.ingest.suppressed_types as ["UnauthorizedAccess:EC2/TorClient"]
	d.accept == false
	contains(d.reason, "suppressed_types")
}

test_cross_account_label if {
	d := ingest.decision with input as gd({"resource": {"kind": "Instance", "id": "i-1", "account": "444455556666", "tags": {}}})
	"cross-account" in d.labels
}

generic_input := {
	"source": "falco",
	"alert": null,
	"raw": {
		"source": "falco", "id": "evt-42", "rule": "Terminal shell in container", "priority": "high",
		"resource": {"type": "Container", "id": "c-9"}, "observables": [{"type": "ip", "value": "198.51.100.9"}],
	},
	"context": {"phase": "ingest"},
}

test_maps_the_generic_schema if {
	d := ingest.decision with input as generic_input
	d.accept == true
	d.alert.id == "evt-42"
	d.alert.type == "Terminal shell in container"
	d.alert.severity == "high"
	d.alert.resource == {"kind": "Container", "id": "c-9", "tags": {}}
	d.alert.indicators == [{"type": "ip", "value": "198.51.100.9"}]
}

test_maps_generic_alerts_inside_eventbridge if {
	d := ingest.decision with input as {
		"source": "acme.edr", "alert": null, "context": {},
		"raw": {"source": "acme.edr", "account": "111122223333", "region": "eu-west-1", "detail-type": "Detection",
		        "detail": {"id": "d-1", "type": "Ransomware", "severity": 9}},
	}
	d.alert.id == "d-1"
	d.alert.account == "111122223333"
	d.alert.region == "eu-west-1"
}

test_generic_test_alerts_are_suppressed if {
	d := ingest.decision with input as object.union(generic_input, {"raw": {"id": "t", "type": "x", "test": true}})
	d.accept == false
	contains(d.reason, "test alert")
	d.alert.id == "t"
}

test_generic_alert_without_id_still_decides if {
	d := ingest.decision with input as {"source": "falco", "alert": null, "raw": {"rule": "x"}, "context": {}}
	d.accept == true
	d.alert.id == null
}

test_generic_test_flag_in_any_writing_is_a_test_alert if {
	every flag in ["True", " TRUE ", 1, "yes", [false, true]] {
		d := ingest.decision with input as object.union(generic_input, {"raw": {"id": "t", "type": "x", "test": flag}})
		d.accept == false
		contains(d.reason, "test alert")
	}
}

test_generic_test_flag_false_is_a_real_alert if {
	every flag in [false, "false", " False ", 0, "no"] {
		d := ingest.decision with input as object.union(generic_input, {"raw": {"id": "t", "type": "x", "test": flag}})
		d.accept == true
	}
}

# --- Findings soar normalised from other routes -----------------------------------------------------

hub(overrides) := object.union(gd(overrides), {"source": "securityhub"})

test_a_security_hub_finding_is_accepted_as_normalised if {
	d := ingest.decision with input as hub({"type": "Software and Configuration Checks/Vulnerabilities/CVE", "severity_label": "critical"})
	d.accept == true
	d.reason == "securityhub finding accepted"
	"severity:critical" in d.labels
	not d.alert
}

test_a_closed_security_hub_finding_is_suppressed_naming_security_hub if {
	d := ingest.decision with input as hub({"archived": true})
	d.accept == false
	contains(d.reason, "closed it in Security Hub")
}

scan(status, type) := gd({
	"type": type, "severity": 0, "severity_label": "informational",
	"resource": {"kind": "S3Object", "id": "arn:aws:s3:::uploads/a.zip", "account": "111122223333", "tags": {}, "attributes": {"scan_result_status": status}},
})

test_a_clean_malware_scan_is_suppressed_with_its_reason if {
	d := ingest.decision with input as scan("NO_THREATS_FOUND", "MalwareScan:S3Object/NO_THREATS_FOUND")
	d.accept == false
	contains(d.reason, "found no threats")
	"scan:NO_THREATS_FOUND" in d.labels
}

test_other_scan_results_go_on_for_a_person if {
	d := ingest.decision with input as scan("UNSUPPORTED", "MalwareScan:S3Object/UNSUPPORTED")
	d.accept == true
	"scan:UNSUPPORTED" in d.labels
	found := ingest.decision with input as scan("THREATS_FOUND", "Object:S3/MaliciousFile")
	found.accept == true
	"family:Object" in found.labels
}
