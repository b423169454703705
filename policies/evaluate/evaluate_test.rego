package soar.evaluate_test

import data.soar.evaluate

finding(type, severity, label) := {
	"alert": {
		"source": "guardduty", "type": type, "severity": severity, "severity_label": label,
		"resource": {"kind": "Instance", "id": "i-1", "tags": {}},
		"indicators": [{"type": "ip", "value": "198.51.100.7", "role": "remote", "depth": 0}],
	},
	"enrichments": [],
	"context": {"phase": "evaluate"},
}

threat_hit := [{"provider": "threatlist", "status": "found", "data": {"malicious": true}, "indicator": {"type": "ip", "value": "198.51.100.7"}}]

test_high_severity_tor_client_is_an_incident if {
	d := evaluate.decision with input as finding("UnauthorizedAccess:EC2/TorClient", 8, "high")
	d.verdict == "incident"
	d.severity == "high"
	d.page == true
}

test_high_but_below_page_threshold_does_not_page if {
	d := evaluate.decision with input as finding("Backdoor:EC2/C&CActivity.B", 7, "high")
	d.verdict == "incident"
	d.page == false
}

test_medium_with_threat_hit_is_a_high_incident if {
	d := evaluate.decision with input as object.union(finding("Recon:EC2/PortProbeUnprotectedPort", 5, "medium"), {"enrichments": threat_hit})
	d.verdict == "incident"
	d.severity == "high"
	"an indicator is on a threat list" in d.reasons
}

test_medium_without_corroboration_is_undetermined if {
	d := evaluate.decision with input as finding("Recon:EC2/PortProbeUnprotectedPort", 5, "medium")
	d.verdict == "undetermined"
	d.page == false
}

test_low_without_intel_is_a_false_positive if {
	d := evaluate.decision with input as finding("Recon:EC2/PortProbeUnprotectedPort", 2, "low")
	d.verdict == "false_positive"
}

test_authorized_scanner_is_a_false_positive if {
	d := evaluate.decision with input as finding("Recon:EC2/Portscan", 8, "high")
		with data.soar.config.evaluate.authorized_scanner_ips as ["198.51.100.7"]
	d.verdict == "false_positive"
	contains(d.reasons[0], "authorised scanner")
}

test_authorized_testing_tag_is_a_false_positive_below_high_severity if {
	input_doc := finding("UnauthorizedAccess:EC2/TorClient", 5, "medium")
	d := evaluate.decision with input as object.union(input_doc, {"alert": {"resource": {"tags": {"soar:authorized-testing": "true"}}}})
	d.verdict == "false_positive"
}

test_authorized_testing_tag_never_silences_a_high_finding if {
	input_doc := finding("UnauthorizedAccess:EC2/TorClient", 8, "high")
	d := evaluate.decision with input as object.union(input_doc, {"alert": {"resource": {"tags": {"soar:authorized-testing": "true"}}}})
	d.verdict == "undetermined"
	contains(d.reasons[0], "never silences")
}

test_authorized_scanners_match_cidrs_and_ipv6_spellings if {
	v6 := object.union(finding("Recon:EC2/Portscan", 8, "high"), {"alert": {"indicators": [{"type": "ip", "value": "2001:db8::7", "role": "remote", "depth": 0}]}})
	d := evaluate.decision with input as v6 with data.soar.config.evaluate.authorized_scanner_ips as ["2001:DB8:0:0::7"]
	d.verdict == "false_positive"
	c := evaluate.decision with input as finding("Recon:EC2/Portscan", 8, "high")
		with data.soar.config.evaluate.authorized_scanner_ips as ["198.51.100.0/24", "2001:db8::/32"]
	c.verdict == "false_positive"
	n := evaluate.decision with input as finding("Recon:EC2/Portscan", 8, "high")
		with data.soar.config.evaluate.authorized_scanner_ips as ["2001:db8::7", "203.0.113.0/24"]
	n.verdict == "incident"
}

test_root_credentials_are_never_a_false_positive if {
	root := object.union(finding("Policy:IAMUser/RootCredentialUsage", 2, "low"), {"alert": {"resource": {"kind": "AccessKey", "id": "AKIAROOT", "attributes": {"user_type": "Root"}}}})
	d := evaluate.decision with input as root
	d.verdict == "undetermined"
}

test_only_guardduty_claims_guardduty_only_families if {
	forged := object.union(finding("AttackSequence:IAM/CompromisedCredentials", 9, "critical"), {"alert": {"source": "falco"}})
	d := evaluate.decision with input as forged
	d.verdict == "undetermined"
	d.page == false
}

test_unknown_types_are_undetermined_not_dropped if {
	d := evaluate.decision with input as finding("Canary:EC2/Stateless.IntegTest", 9, "critical")
	d.verdict == "undetermined"
	contains(d.reasons[0], "not covered")
	d.page == false
}

test_attack_sequences_are_incidents_and_page if {
	d := evaluate.decision with input as finding("AttackSequence:IAM/CompromisedCredentials", 9, "critical")
	d.verdict == "incident"
	d.page == true
}

test_attack_sequence_on_tagged_resource_still_an_incident if {
	input_doc := finding("AttackSequence:S3/CompromisedData", 9, "critical")
	d := evaluate.decision with input as object.union(input_doc, {"alert": {"resource": {"tags": {"soar:authorized-testing": "true"}}}})
	d.verdict == "incident"
}

# --- Incident grouping ----------------------------------------------------------------------------

test_an_incident_groups_by_instance if {
	d := evaluate.decision with input as object.union(finding("UnauthorizedAccess:EC2/TorClient", 8, "high"), {"alert": {"account": "111122223333"}})
	d.incident == {"key": "111122223333/instance/i-1", "window_minutes": 30}
}

test_the_window_comes_from_the_configuration if {
	d := evaluate.decision with input as object.union(finding("UnauthorizedAccess:EC2/TorClient", 8, "high"), {"alert": {"account": "1"}})
		with data.soar.config.evaluate.incident_window_minutes as 45
	d.incident.window_minutes == 45
}

test_a_credential_finding_groups_with_the_instance_behind_it if {
	f := object.union(finding("UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS", 8, "high"), {"alert": {
		"account": "1",
		"resource": {"kind": "AccessKey", "id": "ASIAEXAMPLE", "attributes": {"user_name": "web-role"}},
		"related_resources": [{"kind": "Instance", "id": "i-9", "tags": {}}],
	}})
	d := evaluate.decision with input as f
	d.incident.key == "1/instance/i-9"
}

test_a_credential_finding_without_an_instance_groups_by_principal if {
	f := object.union(finding("UnauthorizedAccess:IAMUser/MaliciousIPCaller", 8, "high"), {"alert": {
		"account": "1",
		"resource": {"kind": "AccessKey", "id": "AKIAEXAMPLE", "attributes": {"user_name": "alice"}},
	}})
	d := evaluate.decision with input as f
	d.incident.key == "1/principal/alice"
}

test_another_resource_groups_by_its_kind_and_id if {
	f := object.union(finding("Exfiltration:S3/AnomalousBehavior", 8, "high"), {"alert": {
		"account": "1",
		"resource": {"kind": "S3Bucket", "id": "reports"},
	}})
	d := evaluate.decision with input as f
	d.incident.key == "1/s3bucket/reports"
}

test_a_false_positive_is_answered_alone if {
	d := evaluate.decision with input as finding("Recon:EC2/PortProbeUnprotectedPort", 2, "low")
	d.verdict == "false_positive"
	not d.incident
}

test_an_alert_naming_no_resource_is_answered_alone if {
	f := object.union(finding("UnauthorizedAccess:EC2/TorClient", 8, "high"), {"alert": {"resource": {"kind": "Unknown", "id": ""}}})
	d := evaluate.decision with input as f
	not d.incident
}

test_another_tools_alert_groups_apart_from_guardduty if {
	f := object.union(finding("UnauthorizedAccess:EC2/TorClient", 8, "high"), {"alert": {"account": "1", "source": "edr"}})
	d := evaluate.decision with input as f
	d.incident.key == "edr:1/instance/i-1"
}

test_an_attack_sequence_takes_in_the_incidents_of_what_it_names if {
	f := object.union(finding("AttackSequence:EC2/CompromisedInstanceGroup", 9, "critical"), {"alert": {
		"account": "1",
		"resource": {"kind": "AttackSequence", "id": "seq-1", "tags": {}, "attributes": {}},
		"related_resources": [
			{"kind": "Instance", "id": "i-a", "tags": {}, "attributes": {}},
			{"kind": "Instance", "id": "i-b", "tags": {}, "attributes": {}},
			{"kind": "AccessKey", "id": "ASIAEXAMPLE", "tags": {}, "attributes": {"user_name": "app-role"}},
			{"kind": "AccessKey", "id": "ASIAOTHER", "tags": {}, "attributes": {"principal_id": "AROAX:s"}},
		],
	}})
	d := evaluate.decision with input as f
	d.incident.key == "1/instance/i-a"
	d.incident.also == ["1/instance/i-b", "1/principal/AROAX:s", "1/principal/app-role"]
}

test_only_an_attack_sequence_takes_other_keys_in if {
	d := evaluate.decision with input as finding("UnauthorizedAccess:EC2/TorClient", 8, "high")
	not d.incident.also
}
