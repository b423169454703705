package soar.approvals_test

import data.soar.approvals

cfg := {"approvers": [
	{"name": "on-call", "via": "slack", "team": "T0SOAR", "id": "U0ONCALL"},
	{"name": "junior", "via": "slack", "id": "U0JUNIOR", "actions": ["ec2.isolate"], "answers": ["deny"]},
	{"name": "security account", "via": "cli", "account": "111122223333"},
	{"name": "console", "via": "console", "account": "111122223333"},
]}

ask(approver, answer, action) := {
	"approver": approver, "answer": answer,
	"action": {"type": action, "target": {"kind": "Instance", "id": "i-0abc"}, "params": {}},
	"alert": {"id": "a", "account": "444455556666"},
}

slack(id, team) := {"id": id, "name": id, "via": "slack", "team": team}

test_listed_slack_user_of_the_workspace_may_approve if {
	d := approvals.decision with input as ask(slack("U0ONCALL", "T0SOAR"), "approve", "ec2.stop")
		with data.soar.config as cfg
	d.allow
	count(d.reasons) == 1
}

test_same_user_id_from_another_workspace_may_not if {
	d := approvals.decision with input as ask(slack("U0ONCALL", "T0OTHER"), "approve", "ec2.stop")
		with data.soar.config as cfg
	not d.allow
	contains(d.reasons[0], "no entry")
}

test_unlisted_user_may_not if {
	d := approvals.decision with input as ask(slack("U0STRANGER", "T0SOAR"), "approve", "ec2.stop")
		with data.soar.config as cfg
	not d.allow
}

test_an_entry_narrowed_to_deny_one_action if {
	deny := approvals.decision with input as ask(slack("U0JUNIOR", "T0SOAR"), "deny", "ec2.isolate")
		with data.soar.config as cfg
	deny.allow
	approve := approvals.decision with input as ask(slack("U0JUNIOR", "T0SOAR"), "approve", "ec2.isolate")
		with data.soar.config as cfg
	not approve.allow
	other := approvals.decision with input as ask(slack("U0JUNIOR", "T0SOAR"), "deny", "ec2.stop")
		with data.soar.config as cfg
	not other.allow
}

test_aws_principals_of_the_listed_account if {
	role := {"id": "arn:aws:sts::111122223333:assumed-role/Responder/alice", "name": "alice", "via": "cli"}
	d := approvals.decision with input as ask(role, "approve", "ec2.stop") with data.soar.config as cfg
	d.allow
	other := object.union(role, {"id": "arn:aws:sts::999999999999:assumed-role/Responder/alice"})
	not approvals.decision.allow with input as ask(other, "approve", "ec2.stop") with data.soar.config as cfg
	# A Slack user cannot pass for an account by its id.
	fake := {"id": "arn:aws:sts::111122223333:user/x", "via": "slack", "team": "T0SOAR"}
	not approvals.decision.allow with input as ask(fake, "approve", "ec2.stop") with data.soar.config as cfg
	# Nor a console identity that is no ARN.
	bare := {"id": "111122223333", "via": "console"}
	not approvals.decision.allow with input as ask(bare, "approve", "ec2.stop") with data.soar.config as cfg
}

test_no_approvers_configured_means_no_one if {
	d := approvals.decision with input as ask(slack("U0ONCALL", "T0SOAR"), "approve", "ec2.stop")
		with data.soar.config as {}
	not d.allow
}
