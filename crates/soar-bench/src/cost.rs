//! What the functions would cost on Lambda, from what `make bench` measured: the deployed binaries'
//! sizes and architecture, each function's duration per invocation and the memory the template
//! gives it.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Lambda's published on-demand price for arm64 (Graviton) functions in US East (N. Virginia),
/// first pricing tier (the first 7.5 billion GB-seconds a month): aws.amazon.com/lambda/pricing,
/// as read on 2026-11-30. Free tier and savings plans are left out.
pub const ARM64_PRICE: Price = Price {
    architecture: "arm64",
    region: "us-east-1",
    per_gb_second_usd: 0.000_013_333_4,
    per_million_requests_usd: 0.20,
    as_of: "2026-11-30",
};

/// A Lambda price: duration per GB-second (memory configured × billed seconds, 1 ms granularity)
/// and requests per million invocations.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Price {
    pub architecture: &'static str,
    pub region: &'static str,
    pub per_gb_second_usd: f64,
    pub per_million_requests_usd: f64,
    pub as_of: &'static str,
}

/// One function's share of the cost of a million alerts.
#[derive(Debug, Clone, Serialize)]
pub struct FunctionCost {
    pub function: String,
    /// `MemorySize` in infra/template.yaml, MB.
    pub memory_mb: u32,
    /// Measured mean duration of one invocation (a batch of `batch_size` alerts), ms.
    pub ms_per_invocation: f64,
    pub batch_size: usize,
    /// Duration and request charges for a million alerts through this function, USD.
    pub usd_per_million_alerts: f64,
}

/// `MemorySize` of each function in the template, found under the function's `CodeUri`
/// (`../target/lambda/<function>/`).
///
/// # Errors
/// A function whose `CodeUri` or `MemorySize` the template does not have, named.
pub fn memory_sizes(template: &str, functions: &[&str]) -> Result<BTreeMap<String, u32>, String> {
    let lines: Vec<&str> = template.lines().collect();
    functions
        .iter()
        .map(|function| {
            let code_uri = format!("target/lambda/{function}/");
            let start = lines
                .iter()
                .position(|l| l.trim_start().starts_with("CodeUri:") && l.contains(&code_uri))
                .ok_or_else(|| format!("infra/template.yaml: no function with CodeUri {code_uri}"))?;
            // The properties of one function: up to the next resource (a key at two spaces'
            // indent) or top-level section.
            let next_key = |l: &&&str| {
                let head = l.split('#').next().unwrap_or_default().trim_end();
                let indent = head.len() - head.trim_start().len();
                !head.is_empty() && indent <= 2 && head.ends_with(':')
            };
            let memory = lines[start..]
                .iter()
                .skip(1)
                .take_while(|l| !next_key(l))
                .find_map(|l| l.trim().strip_prefix("MemorySize:"))
                .and_then(|v| v.trim().parse::<u32>().ok())
                .ok_or_else(|| format!("infra/template.yaml: no numeric MemorySize for {function}"))?;
            Ok((function.to_string(), memory))
        })
        .collect()
}

/// The cost of a million alerts through one function: every alert in a full batch, each batch
/// one invocation billed for `ms_per_invocation` (rounded up to the millisecond) at `memory_mb`.
pub fn per_million_alerts(
    function: &str,
    memory_mb: u32,
    ms_per_invocation: f64,
    batch_size: usize,
    price: &Price,
) -> FunctionCost {
    let invocations = 1e6 / batch_size.max(1) as f64;
    let gb_seconds = invocations * f64::from(memory_mb) / 1024.0 * ms_per_invocation.ceil() / 1e3;
    FunctionCost {
        function: function.into(),
        memory_mb,
        ms_per_invocation,
        batch_size,
        usd_per_million_alerts: gb_seconds * price.per_gb_second_usd
            + invocations / 1e6 * price.per_million_requests_usd,
    }
}

/// The instruction set of an ELF executable (its `e_machine`): "arm64", "x86_64" or `None`.
pub fn elf_architecture(path: &Path) -> Option<&'static str> {
    use std::io::Read;
    let mut header = [0u8; 20];
    std::fs::File::open(path).ok()?.read_exact(&mut header).ok()?;
    if &header[..4] != b"\x7fELF" || header[5] != 1 {
        return None;
    }
    match u16::from_le_bytes([header[18], header[19]]) {
        0xB7 => Some("arm64"),
        0x3E => Some("x86_64"),
        _ => None,
    }
}

/// The deployable artifacts `make build` leaves (`target/lambda/<function>/bootstrap`), with
/// their architecture and size in bytes, when every function has one.
pub fn lambda_artifacts(target: &Path, functions: &[&str]) -> Option<(&'static str, BTreeMap<String, u64>)> {
    let mut architecture = None;
    let mut sizes = BTreeMap::new();
    for function in functions {
        let bootstrap = target.join("lambda").join(function).join("bootstrap");
        let arch = elf_architecture(&bootstrap)?;
        if architecture.is_some_and(|a| a != arch) {
            return None;
        }
        architecture = Some(arch);
        sizes.insert(function.to_string(), std::fs::metadata(&bootstrap).ok()?.len());
    }
    Some((architecture?, sizes))
}

#[cfg(test)]
mod tests {
    // Test code: a failed unwrap is the test failing, with its message.
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_template_gives_every_function_its_memory() {
        let template =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml")).unwrap();
        let sizes = memory_sizes(&template, &["ingest", "enrich", "evaluate", "remediate"]).unwrap();
        assert!(sizes.values().all(|mb| (128..=10_240).contains(mb)), "{sizes:?}");
        let err = memory_sizes(&template, &["nonesuch"]).unwrap_err();
        assert!(err.contains("target/lambda/nonesuch/"), "{err}");
        for cut in ["  G:\n", "  G:  # the next one\n", "Outputs:\n"] {
            let text =
                format!("  F:\n    Properties:\n      CodeUri: ../target/lambda/f/\n{cut}      MemorySize: 512\n");
            assert!(
                memory_sizes(&text, &["f"]).unwrap_err().contains("MemorySize for f"),
                "{cut}"
            );
        }
    }

    /// 1,000 invocations of 100 ms at 1 GB are 100 GB-s, and a thousand requests.
    #[test]
    fn cost_is_gb_seconds_and_requests() {
        let cost = per_million_alerts("f", 1024, 99.2, 1000, &ARM64_PRICE);
        let expected = 100.0 * ARM64_PRICE.per_gb_second_usd + 0.001 * ARM64_PRICE.per_million_requests_usd;
        assert!((cost.usd_per_million_alerts - expected).abs() < 1e-12, "{cost:?}");
    }

    #[test]
    fn elf_headers_name_their_architecture() {
        let dir = tempfile::tempdir().unwrap();
        let mut header = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
        header.resize(18, 0);
        for (machine, arch) in [(0xB7u16, Some("arm64")), (0x3E, Some("x86_64")), (0x28, None)] {
            let path = dir.path().join("bin");
            std::fs::write(&path, [&header[..], &machine.to_le_bytes()[..], &[0; 40][..]].concat()).unwrap();
            assert_eq!(elf_architecture(&path), arch);
        }
        std::fs::write(dir.path().join("script"), "#!/bin/sh\n").unwrap();
        assert_eq!(elf_architecture(&dir.path().join("script")), None);
    }
}
