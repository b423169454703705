package soar.enrich_test

import data.soar.enrich

providers := [
	{"name": "threatlist", "locality": "internal", "indicator_kinds": ["ip", "domain", "hash"]},
	{"name": "virustotal", "locality": "external", "indicator_kinds": ["ip", "domain", "hash", "url"]},
]

doc(indicators, depth, remaining) := {
	"alert": {"indicators": indicators},
	"enrichments": [],
	"context": {
		"phase": "enrich", "depth": depth, "max_depth": 1, "providers": providers,
		"budget": {"max_lookups": 25, "used": 25 - remaining, "remaining": remaining},
	},
}

remote(kind, value) := {"type": kind, "value": value, "role": "remote", "depth": 0}

asked(d, provider, value) if {
	some l in d.lookups
	l.provider == provider
	l.indicator.value == value
}

test_public_remote_ip_goes_to_both_providers if {
	d := enrich.decision with input as doc([remote("ip", "198.51.100.7")], 0, 25)
	asked(d, "threatlist", "198.51.100.7")
	asked(d, "virustotal", "198.51.100.7")
}

test_private_ip_stays_internal if {
	d := enrich.decision with input as doc([remote("ip", "10.0.0.5")], 0, 25)
	asked(d, "threatlist", "10.0.0.5")
	not asked(d, "virustotal", "10.0.0.5")
	some w in d.withheld
	w.indicator == "10.0.0.5"
}

test_configured_cidr_stays_internal if {
	d := enrich.decision with input as doc([remote("ip", "203.0.113.9")], 0, 25)
		with data.soar.config.internal_cidrs as ["203.0.113.0/24"]
	not asked(d, "virustotal", "203.0.113.9")
}

test_internal_domain_stays_internal if {
	d := enrich.decision with input as doc([remote("domain", "build.corp.example.com")], 0, 25)
	asked(d, "threatlist", "build.corp.example.com")
	not asked(d, "virustotal", "build.corp.example.com")
}

test_internal_hash_stays_internal if {
	d := enrich.decision with input as doc([remote("hash", "abc123")], 0, 25)
		with data.soar.config.internal_hashes as ["ABC123"]
	not asked(d, "virustotal", "abc123")
}

test_our_own_hosts_never_go_external if {
	d := enrich.decision with input as doc([{"type": "ip", "value": "54.1.2.3", "role": "local", "depth": 0}], 0, 25)
	asked(d, "threatlist", "54.1.2.3")
	not asked(d, "virustotal", "54.1.2.3")
}

test_kinds_a_provider_does_not_handle_are_not_sent if {
	d := enrich.decision with input as doc([remote("url", "https://evil.example/x")], 0, 25)
	not asked(d, "threatlist", "https://evil.example/x")
	asked(d, "virustotal", "https://evil.example/x")
}

test_no_lookups_when_budget_is_spent if {
	d := enrich.decision with input as doc([remote("ip", "198.51.100.7")], 0, 0)
	count(d.lookups) == 0
}

test_recursion_follows_configured_kinds if {
	found := {"type": "domain", "value": "c2.evil.example", "role": "related", "depth": 1}
	d := enrich.decision with input as doc([remote("ip", "198.51.100.7"), found], 1, 20)
	asked(d, "virustotal", "c2.evil.example")
	not asked(d, "virustotal", "198.51.100.7")
}

test_recursion_stops_at_max_depth if {
	deep := {"type": "domain", "value": "deeper.evil.example", "role": "related", "depth": 2}
	d := enrich.decision with input as doc([deep], 2, 20)
	count(d.lookups) == 0
}

test_recursion_skips_other_kinds if {
	found := {"type": "url", "value": "https://evil.example/x", "role": "related", "depth": 1}
	d := enrich.decision with input as doc([found], 1, 20)
	count(d.lookups) == 0
}
