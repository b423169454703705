# Helpers shared by every phase: classification of indicators and resources.
package soar.lib

config := data.soar.config

# Address ranges that are never public, whatever the configuration says (mirrors the Rust egress guard).
always_internal_cidrs := [
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
	"172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7", "fe80::/10",
]

always_internal_suffixes := ["internal", "local", "localhost", "home.arpa"]

internal_ip(ip) if {
	some cidr in array.concat(always_internal_cidrs, object.get(config, "internal_cidrs", []))
	net.cidr_contains(cidr, ip)
}

under_domain(name, suffix) if lower(name) == lower(suffix)

under_domain(name, suffix) if endswith(lower(name), concat("", [".", lower(suffix)]))

internal_domain(name) if {
	some suffix in array.concat(always_internal_suffixes, object.get(config, "internal_domains", []))
	under_domain(trim_suffix(name, "."), suffix)
}

# An indicator that must stay inside the organisation.
is_internal(ind) if {
	ind.type == "ip"
	internal_ip(ind.value)
}

is_internal(ind) if {
	ind.type == "domain"
	internal_domain(ind.value)
}

is_internal(ind) if {
	ind.type == "email"
	parts := split(ind.value, "@")
	internal_domain(parts[count(parts) - 1])
}

is_internal(ind) if {
	ind.type == "hash"
	lower(ind.value) in {lower(h) | some h in object.get(config, "internal_hashes", [])}
}

# Key ids and user names are the organisation's own identifiers.
is_internal(ind) if ind.type in {"access_key", "user"}

# The resource is off limits: tagged in the finding, or marked protected by the inventory.
protected(alert, enrichments) if alert.resource.tags[config.protected_tag] == "true"

protected(alert, enrichments) if {
	some e in enrichments
	e.provider == "inventory"
	e.data.protected == true
}

# A threat-intelligence hit on an indicator the alert carries.
intel_hit(enrichments) if {
	some e in enrichments
	e.provider != "inventory"
	e.status == "found"
	e.data.malicious == true
}
