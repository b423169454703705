# Enrich: which indicator goes to which provider, round by round.
# Input: the document so far and context {depth, max_depth, budget {remaining}, providers}.
# The Rust side asks again after each round that linked new indicators (the next round is theirs); it also
# enforces egress, depth and budget on its own, so this policy cannot leak even if it is wrong.
package soar.enrich

import data.soar.lib

providers := {p.name: p | some p in input.context.providers}

# Indicators of this round: the alert's own at depth 0, those found by the last round after that.
round_indicators contains ind if {
	some ind in input.alert.indicators
	object.get(ind, "depth", 0) == input.context.depth
}

# This round's indicators that must stay inside the organisation, classified once (not once
# per provider and rule: the address checks are most of this policy's cost).
internal_indicators contains ind if {
	some ind in round_indicators
	lib.is_internal(ind)
}

# Recursion: only kinds worth following, and never past the configured depth.
recursion_allowed(ind) if object.get(ind, "depth", 0) == 0

recursion_allowed(ind) if {
	ind.depth > 0
	ind.depth <= lib.config.enrich.max_depth
	ind.type in lib.config.enrich.recurse_kinds
}

# Egress: internal providers see everything; external ones only external indicators seen on the
# remote side (never our own hosts, keys or users). `ind` is one of this round's indicators.
may_send(ind, provider) if provider.locality == "internal"

may_send(ind, provider) if {
	provider.locality == "external"
	not ind in internal_indicators
	ind.role in {"remote", "related"}
}

# Why an indicator stays home, for the audit trail.
withheld contains {"indicator": ind.value, "provider": name, "reason": "internal indicator"} if {
	some ind in round_indicators
	some name, p in providers
	ind.type in p.indicator_kinds
	p.locality == "external"
	ind in internal_indicators
}

lookups contains {"provider": name, "indicator": {"type": ind.type, "value": ind.value}} if {
	input.context.budget.remaining > 0
	some ind in round_indicators
	recursion_allowed(ind)
	some name, p in providers
	ind.type in p.indicator_kinds
	may_send(ind, p)
}

decision := {
	"lookups": [l | some l in lookups],
	"withheld": [w | some w in withheld],
}
