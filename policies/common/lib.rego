# Helpers shared by every phase: classification of indicators and resources.
package soar.lib

config := data.soar.config

# Address ranges that are never public, whatever the configuration says: the common part of
# IANA's not-globally-reachable ranges. The Rust egress guard has the whole list, reads every
# writing of an address (`0xa.0.0.1`, NAT64, 6to4, ...) and marks what it classifies internal
# as `ind.internal`, which `is_internal` honours first.
always_internal_cidrs := [
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
	"172.16.0.0/12", "192.0.0.0/24", "192.168.0.0/16", "198.18.0.0/15", "224.0.0.0/4", "240.0.0.0/4",
	"::/128", "::1/128", "64:ff9b:1::/48", "100::/64", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
]

always_internal_suffixes := ["internal", "local", "localhost", "invalid", "arpa"]

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

# A single-label name (`intranet`) only resolves inside a network (an address literal such as
# `[IPv6:2001:db8::1]` in an e-mail address is not a name: the Rust guard classifies it).
internal_domain(name) if {
	not contains(trim_suffix(name, "."), ".")
	not startswith(name, "[")
}

# An indicator that must stay inside the organisation: as the Rust egress guard classified it.
is_internal(ind) if ind.internal == true

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

# The resource is off limits: marked by Rust (any protection signal: the finding's tags in any
# case or repeated, or the inventory), tagged in the finding, or marked by the inventory.
protected(alert, enrichments) if alert.resource.protected == true

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

# A flag (sample, test, archived) read the safe way, as the Rust guard rails read it: anything
# but a clear "no" (`false`, `"false"`, `0`, `"no"`, `"off"`, `""`) counts as set, and a key the
# sender repeated (soar keeps every value, as an array) is set when any of its values is.
flag_set(v) if flag_value_set(v)

flag_set(v) if {
	is_array(v)
	some x in v
	flag_value_set(x)
}

flag_set(v) if is_object(v)

flag_value_set(v) if v == true

flag_value_set(v) if {
	is_number(v)
	v != 0
}

flag_value_set(v) if {
	is_string(v)
	not lower(trim_space(v)) in {"false", "no", "off", "0", "n", "f", ""}
}
