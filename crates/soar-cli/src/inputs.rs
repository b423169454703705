//! Reading input files: a file holds one JSON document, or NDJSON (one per line); `-` is stdin.

use std::io::Read;
use std::path::Path;

/// One unit to parse: where it came from and its bytes.
pub(crate) struct RawInput {
    pub label: String,
    pub bytes: Vec<u8>,
}

/// Reads `path` and splits NDJSON. A file whose first non-empty line is a complete JSON value and
/// that has more lines is NDJSON; anything else (pretty-printed JSON included) is one input.
pub(crate) fn read(path: &Path) -> Result<Vec<RawInput>, String> {
    let label = path.display().to_string();
    let bytes = if label == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        buf
    } else {
        std::fs::read(path).map_err(|e| format!("cannot read {label}: {e}"))?
    };
    let lines: Vec<(usize, &[u8])> = bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, l)| l.iter().any(|b| !b.is_ascii_whitespace()))
        .collect();
    let is_ndjson = lines.len() > 1 && serde_json::from_slice::<serde::de::IgnoredAny>(lines[0].1).is_ok();
    if !is_ndjson {
        return Ok(vec![RawInput { label, bytes }]);
    }
    Ok(lines
        .into_iter()
        .map(|(n, line)| RawInput {
            label: format!("{label}:{}", n + 1),
            bytes: line.to_vec(),
        })
        .collect())
}
