package soar.lib_test

import data.soar.lib

test_private_ranges_are_internal if {
	lib.is_internal({"type": "ip", "value": "10.1.2.3"})
	lib.is_internal({"type": "ip", "value": "192.168.0.10"})
	lib.is_internal({"type": "ip", "value": "fd00::1"})
}

test_public_ip_is_not_internal if {
	not lib.is_internal({"type": "ip", "value": "198.51.100.7"})
}

test_configured_cidr_is_internal if {
	lib.is_internal({"type": "ip", "value": "203.0.113.5"}) with data.soar.config.internal_cidrs as ["203.0.113.0/24"]
}

test_internal_domain_and_subdomains if {
	lib.is_internal({"type": "domain", "value": "git.corp.example.com"})
	lib.is_internal({"type": "domain", "value": "ip-10-0-0-1.ec2.internal"})
	not lib.is_internal({"type": "domain", "value": "notcorp.example.com"})
}

test_identities_never_leave if {
	lib.is_internal({"type": "access_key", "value": "AKIAEXAMPLE"})
	lib.is_internal({"type": "user", "value": "alice"})
}

test_protected_by_inventory if {
	lib.protected({"resource": {"tags": {}}}, [{"provider": "inventory", "data": {"protected": true}}])
	not lib.protected({"resource": {"tags": {"soar:protected": "false"}}}, [])
}

test_rust_classification_is_honoured if {
	lib.is_internal({"type": "ip", "value": "64:ff9b::a28:709", "internal": true})
	lib.is_internal({"type": "domain", "value": "intranet"})
	lib.is_internal({"type": "domain", "value": "1.0.0.10.in-addr.arpa"})
	not lib.is_internal({"type": "domain", "value": "files.example.net"})
}

test_protected_by_rust_or_tag if {
	lib.protected({"resource": {"tags": {}, "protected": true}}, [])
	lib.protected({"resource": {"tags": {"soar:protected": "true"}}}, [])
	not lib.protected({"resource": {"tags": {}}}, [])
}

test_flags_read_the_safe_way if {
	lib.flag_set(true)
	lib.flag_set("True")
	lib.flag_set(" TRUE ")
	lib.flag_set(1)
	lib.flag_set([false, true])
	lib.flag_set({"x": 1})
	not lib.flag_set(false)
	not lib.flag_set("false")
	not lib.flag_set(0)
	not lib.flag_set("")
	not lib.flag_set([false, "no"])
}
