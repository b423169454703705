# Approvals: who may answer an action waiting for approval (Slack's buttons, `soar approve`, the
# console all ask this rule before anything changes). Ships in the remediate bundle, with its
# revision.
#
# Input: {"approver": {"id", "name", "via": "slack"|"cli"|"console", "team"}, "answer":
# "approve"|"deny", "action": {"type", "target", "params", ...}, "alert": {"id", "account",
# "region", "type", "severity", "resource"}, "verdict", "incident"}.
# Decision: {"allow": bool, "reasons": [string]}.
#
# data.soar.config.approvers lists who may answer. Each entry names a channel (`via`) and an
# identity: a Slack user `id` (optionally bound to a workspace `team`), or an AWS principal: an
# exact `id` (the caller's ARN, as STS GetCallerIdentity gives it) or any principal of an
# `account`. `actions` (default every action) and `answers` (default approve and deny) narrow it.
package soar.approvals

approvers := object.get(data.soar.config, "approvers", [])

decision := {"allow": true, "reasons": reasons} if {
	count(reasons) > 0
} else := {"allow": false, "reasons": [sprintf(
	"no entry of data.soar.config.approvers lets %s:%s %s %s",
	[input.approver.via, input.approver.id, input.answer, input.action.type],
)]}

reasons contains sprintf("approvers[%d] (%s) lets %s:%s %s %s", [
	i, object.get(entry, "name", "unnamed"), input.approver.via, input.approver.id, input.answer, input.action.type,
]) if {
	some i, entry in approvers
	entry.via == input.approver.via
	identity_matches(entry)
	team_matches(entry)
	input.action.type in object.get(entry, "actions", [input.action.type])
	input.answer in object.get(entry, "answers", ["approve", "deny"])
}

identity_matches(entry) if entry.id == input.approver.id

# An AWS principal ARN (arn:aws:sts::ACCOUNT:assumed-role/...) of the entry's account.
identity_matches(entry) if {
	entry.via in {"cli", "console"}
	parts := split(input.approver.id, ":")
	count(parts) >= 6
	parts[0] == "arn"
	parts[4] == entry.account
}

team_matches(entry) if not entry.team

team_matches(entry) if entry.team == input.approver.team
