//! Reading inputs for `soar run` and `soar diff`: a file, a folder of them (every file below it,
//! in path order, hidden ones skipped), or `-` for standard input. A file may be gzip-compressed
//! (GuardDuty's export of findings to S3 is gzip JSON lines) and holds one JSON document or
//! NDJSON, one document per line.
//!
//! An NDJSON file is streamed: a first pass checks its bounds and that every line is a document of
//! its own, a second hands out one line at a time, so memory does not grow with the file. Any
//! other file (one document, pretty-printed documents one after another, NDJSON with a broken
//! line) and standard input are read whole, within the same bounds.

use flate2::read::MultiGzDecoder;
use std::io::{BufRead, BufReader, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The most bytes one input file may expand to: far beyond a day of exported findings, and a
/// bound on a gzip bomb.
const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// The most inputs (lines) one file may hold: a day of a busy organisation's exported
/// findings fits; eight million `{}` lines in 23 KB of gzip do not.
const MAX_UNITS: usize = 100_000;

/// A file's units, read as they are consumed; an `Err` is a unit that could not be read (the file
/// changed or broke between the two passes), named.
pub(crate) type Units = Box<dyn Iterator<Item = Result<RawInput, String>>>;

/// One file's name and its units, or why it could not be read.
pub(crate) type FileUnits = (String, Result<Units, String>);

/// One unit to parse: where it came from and its bytes, a range of a shared text (a whole file
/// read at once holds its text once for all of its units).
pub(crate) struct RawInput {
    pub label: String,
    text: Arc<Vec<u8>>,
    range: Range<usize>,
}

impl RawInput {
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.text[self.range.clone()]
    }

    /// The unit `part` of `text` (a sub-slice of it).
    fn of(label: String, text: &Arc<Vec<u8>>, part: &[u8]) -> RawInput {
        let start = part.as_ptr() as usize - text.as_ptr() as usize;
        RawInput {
            label,
            text: text.clone(),
            range: start..start + part.len(),
        }
    }

    /// A unit that is all of `bytes` (one streamed line).
    fn owned(label: String, bytes: Vec<u8>) -> RawInput {
        let range = 0..bytes.len();
        RawInput {
            label,
            text: Arc::new(bytes),
            range,
        }
    }
}

/// The units in `path`, or the first file or unit that cannot be read.
pub(crate) fn read(path: &Path) -> Result<Vec<RawInput>, String> {
    let mut out = Vec::new();
    for (_, units) in read_each(path) {
        for unit in units? {
            out.push(unit?);
        }
    }
    Ok(out)
}

/// The units in `path`, a result per file with the file's name: an unreadable file is one
/// `Err` naming it, beside the readable others. Files are read one at a time, as the iterator
/// is consumed: a folder's files are never all in memory at once, nor an NDJSON file's lines.
pub(crate) fn read_each(path: &Path) -> Box<dyn Iterator<Item = FileUnits>> {
    let label = path.display().to_string();
    if path.as_os_str() == "-" {
        // Standard input cannot be read twice: it is read whole.
        let mut buf = Vec::new();
        let units = std::io::stdin()
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(|e| format!("cannot read standard input: {e}"))
            .and_then(|_| units(label.clone(), buf))
            .map(all_of);
        return Box::new(std::iter::once((label, units)));
    }
    if path.is_dir() {
        return match files_below(path) {
            Ok(files) if files.is_empty() => Box::new(std::iter::once((
                label.clone(),
                Err(format!("{label}: no input files in this folder")),
            ))),
            Ok(files) => Box::new(files.into_iter().map(move |file| match file {
                Ok(file) => (file.display().to_string(), read_file(&file)),
                Err(e) => (label.clone(), Err(e)),
            })),
            Err(e) => Box::new(std::iter::once((label, Err(e)))),
        };
    }
    Box::new(std::iter::once((label.clone(), read_file(path))))
}

fn all_of(units: Vec<RawInput>) -> Units {
    Box::new(units.into_iter().map(Ok))
}

/// A file's units: streamed line by line when it is NDJSON, otherwise read whole. Only a regular
/// file is read twice; a pipe (`soar run <(zcat export.gz)`, `/dev/stdin`) is read whole, once.
fn read_file(path: &Path) -> Result<Units, String> {
    let label = path.display().to_string();
    let regular = std::fs::metadata(path).is_ok_and(|m| m.is_file());
    let streamed = match regular {
        true => {
            let (reader, gzip) = open(path, &label)?;
            survey(&label, reader, gzip)?
        }
        false => None,
    };
    if let Some(trim) = streamed {
        return Ok(Box::new(StreamedLines {
            trim,
            reader: open(path, &label)?.0,
            label,
            line: Vec::new(),
            number: 0,
            units: 0,
        }));
    }
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {label}: {e}"))?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {label}: {e}"))?;
    units(label, bytes).map(all_of)
}

/// The file's text, decompressed when it is gzip (every member), at most one byte past
/// [`MAX_FILE_BYTES`] of it (so that [`survey`] sees a file that is too large); and whether it
/// is gzip.
fn open(path: &Path, label: &str) -> Result<(Box<dyn BufRead>, bool), String> {
    let mut file = BufReader::new(std::fs::File::open(path).map_err(|e| format!("cannot read {label}: {e}"))?);
    let gzip = file
        .fill_buf()
        .map_err(|e| format!("cannot read {label}: {e}"))?
        .starts_with(&[0x1f, 0x8b]);
    // The compressed bytes are bounded as well: gigabytes of empty gzip members expand to nothing.
    let reader: Box<dyn BufRead> = if gzip {
        Box::new(BufReader::new(
            MultiGzDecoder::new(BufReader::new(file.take(MAX_FILE_BYTES + 1))).take(MAX_FILE_BYTES + 1),
        ))
    } else {
        Box::new(file.take(MAX_FILE_BYTES + 1))
    };
    Ok((reader, gzip))
}

/// The first pass over a file: its bounds (an error names the one exceeded, as [`units`] does),
/// and whether it is NDJSON that can be streamed: at least two non-empty lines, each one JSON
/// document on its own. Such a file has the units [`split`] finds in it read whole: each line,
/// cut to its document (`Some(true)`) when the whole text is a sequence of documents, else each
/// line as it is (`Some(false)`: a byte order mark after the first line, or a blank line with
/// white space JSON does not allow, breaks the sequence). Streaming changes only the memory.
fn survey(label: &str, mut reader: Box<dyn BufRead>, gzip: bool) -> Result<Option<bool>, String> {
    let gzip_note = |e: std::io::Error| match gzip {
        true => format!("{label}: not readable as gzip: {e}"),
        false => format!("cannot read {label}: {e}"),
    };
    let (mut line, mut lines, mut bytes, mut every_line_parses) = (Vec::new(), 0usize, 0u64, true);
    let mut one_sequence = true;
    while let Some(read) = next_line(&mut reader, &mut line).map_err(gzip_note)? {
        // Counted as `units` counts: a byte order mark starts the text, not every line.
        let first = bytes == 0;
        let counted = if first { strip_bom(&line) } else { &line[..] };
        bytes += read as u64;
        one_sequence &= first || !line.starts_with(b"\xEF\xBB\xBF");
        if !counted.iter().any(|b| !b.is_ascii_whitespace()) {
            one_sequence &= counted.iter().all(|b| matches!(b, b' ' | b'\t'));
            continue;
        }
        lines += 1;
        if lines > MAX_UNITS {
            return Err(format!("{label}: more than {MAX_UNITS} lines; split the file"));
        }
        every_line_parses = every_line_parses && parses(strip_bom(&line));
    }
    if bytes > MAX_FILE_BYTES {
        let what = if gzip { "expands to more than" } else { "larger than" };
        return Err(format!("{label}: {what} {} MiB", MAX_FILE_BYTES >> 20));
    }
    Ok((every_line_parses && lines >= 2).then_some(one_sequence))
}

/// Reads the next line (ended by `\n`, `\r\n` or a lone `\r`, as [`lines`] splits them) into
/// `line`, without its end; `Ok(Some(bytes read))`, or `Ok(None)` at the end of the text.
fn next_line(reader: &mut dyn BufRead, line: &mut Vec<u8>) -> std::io::Result<Option<usize>> {
    line.clear();
    let mut read = 0;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok((read > 0).then_some(read));
        }
        match buf.iter().position(|b| *b == b'\n' || *b == b'\r') {
            Some(at) => {
                let cr = buf[at] == b'\r';
                line.extend_from_slice(&buf[..at]);
                reader.consume(at + 1);
                read += at + 1;
                if cr && reader.fill_buf()?.first() == Some(&b'\n') {
                    reader.consume(1);
                    read += 1;
                }
                return Ok(Some(read));
            }
            None => {
                let n = buf.len();
                line.extend_from_slice(buf);
                reader.consume(n);
                read += n;
            }
        }
    }
}

/// The second pass over an NDJSON file: each non-empty line without the white space around its
/// document (as [`split`] cuts it), labelled with its number.
struct StreamedLines {
    reader: Box<dyn BufRead>,
    label: String,
    line: Vec<u8>,
    number: usize,
    /// Units handed out: a file that grew since the first pass still stops at [`MAX_UNITS`].
    units: usize,
    /// Cut each line to its document (see [`survey`]).
    trim: bool,
}

impl Iterator for StreamedLines {
    type Item = Result<RawInput, String>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match next_line(self.reader.as_mut(), &mut self.line) {
                Ok(Some(_)) => self.number += 1,
                Ok(None) => return None,
                Err(e) => {
                    // The file changed or broke since the first pass: named once, then the end.
                    self.reader = Box::new(std::io::empty());
                    return Some(Err(format!("{}:{}: cannot read: {e}", self.label, self.number + 1)));
                }
            }
            let text = strip_bom(&self.line);
            if !text.iter().any(|b| !b.is_ascii_whitespace()) {
                continue;
            }
            let text = if self.trim { text.trim_ascii() } else { text };
            self.units += 1;
            if self.units > MAX_UNITS {
                self.reader = Box::new(std::io::empty());
                return Some(Err(format!(
                    "{}: more than {MAX_UNITS} lines (it grew while it was read); the rest is not read",
                    self.label
                )));
            }
            let label = format!("{}:{}", self.label, self.number);
            return Some(Ok(RawInput::owned(label, text.to_vec())));
        }
    }
}

/// Every regular file below `dir`, sorted by path; names starting with `.` are skipped.
fn files_below(dir: &Path) -> Result<Vec<Result<PathBuf, String>>, String> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if folder == dir => return Err(format!("cannot read {}: {e}", folder.display())),
            // A folder below that cannot be read is reported beside the files that can.
            Err(e) => {
                out.push(Err(format!("cannot read {}: {e}", folder.display())));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    out.push(Err(format!("cannot read {}: {e}", folder.display())));
                    continue;
                }
            };
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => pending.push(path),
                // A link to a file is read; a link to a folder is not followed (it may loop).
                Ok(kind) if kind.is_file() || (kind.is_symlink() && path.is_file()) => out.push(Ok(path)),
                Ok(_) => {}
                Err(e) => out.push(Err(format!("cannot read {}: {e}", path.display()))),
            }
        }
    }
    out.sort_by(|a, b| match (a, b) {
        (Ok(a), Ok(b)) => a.cmp(b),
        (Err(a), Err(b)) => a.cmp(b),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
    });
    Ok(out)
}

/// A file's units: decompressed when it is gzip, then one document or one per line.
fn units(label: String, bytes: Vec<u8>) -> Result<Vec<RawInput>, String> {
    let bytes = if bytes.starts_with(&[0x1f, 0x8b]) {
        gunzip(&label, &bytes)?
    } else if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!("{label}: larger than {} MiB", MAX_FILE_BYTES >> 20));
    } else {
        bytes
    };
    let lines = lines(strip_bom(&bytes))
        .filter(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
        .take(MAX_UNITS + 1)
        .count();
    if lines > MAX_UNITS {
        return Err(format!("{label}: more than {MAX_UNITS} lines; split the file"));
    }
    Ok(split(&label, bytes))
}

fn gunzip(label: &str, bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    // Every gzip member (concatenated files are one stream), at most MAX_FILE_BYTES of them.
    MultiGzDecoder::new(bytes)
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("{label}: not readable as gzip: {e}"))?;
    if out.len() as u64 > MAX_FILE_BYTES {
        return Err(format!("{label}: expands to more than {} MiB", MAX_FILE_BYTES >> 20));
    }
    Ok(out)
}

/// One document, NDJSON, or documents one after another. The text is read as a sequence of
/// JSON values: when it is one, it is one unit (a pretty-printed finding); when every value
/// parses, each is a unit (NDJSON, or pretty-printed documents concatenated). Otherwise, when any
/// line parses alone, each non-empty line is a unit (a broken line, the first included, fails
/// alone); otherwise it is one broken document (its error names what is wrong once, not once per
/// line). Lines end in `\n`, `\r\n` or `\r`; a UTF-8 byte order mark before the text or a line
/// is not part of it.
fn split(label: &str, bytes: Vec<u8>) -> Vec<RawInput> {
    let text = Arc::new(bytes);
    let whole = strip_bom(&text);
    if let Some(values) = values(whole) {
        if values.len() == 1 {
            return vec![RawInput::of(label.to_string(), &text, whole)];
        }
        // Line numbers counted on from the previous value, not from the top each time (a file
        // of 10,000 findings would be read 10,000 times over).
        let mut at = (0, 1);
        return values
            .into_iter()
            .map(|(start, end)| {
                let line = at.1 + line_of(&whole[at.0..start], start - at.0) - 1;
                at = (start, line);
                RawInput::of(format!("{label}:{line}"), &text, &whole[start..end])
            })
            .collect();
    }
    let lines: Vec<(usize, &[u8])> = lines(whole)
        .enumerate()
        .map(|(n, line)| (n, strip_bom(line)))
        .filter(|(_, line)| line.iter().any(|b| !b.is_ascii_whitespace()))
        .collect();
    if lines.len() < 2 || !lines.iter().any(|(_, line)| parses(line)) {
        return vec![RawInput::of(label.to_string(), &text, &text)];
    }
    lines
        .into_iter()
        .map(|(n, line)| RawInput::of(format!("{label}:{}", n + 1), &text, line))
        .collect()
}

/// The byte ranges of the JSON values `text` holds one after another (white space between),
/// or `None` when any of it is not JSON.
fn values(text: &[u8]) -> Option<Vec<(usize, usize)>> {
    let mut stream = serde_json::Deserializer::from_slice(text).into_iter::<serde::de::IgnoredAny>();
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(value) = stream.next() {
        value.ok()?;
        let end = stream.byte_offset();
        let skipped = text[start..end].iter().take_while(|b| b.is_ascii_whitespace()).count();
        out.push((start + skipped, end));
        start = end;
    }
    (!out.is_empty()).then_some(out)
}

/// The line (from 1) that byte `at` of `text` is on.
fn line_of(text: &[u8], at: usize) -> usize {
    let before = &text[..at];
    // `\r\n` is one line end, as is a lone `\r` or `\n`.
    let crlf = before.windows(2).filter(|w| w == b"\r\n").count();
    before.iter().filter(|b| **b == b'\n' || **b == b'\r').count() - crlf + 1
}

/// Lines ended by `\n`, `\r\n` or a lone `\r`.
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = rest
            .iter()
            .position(|b| *b == b'\n' || *b == b'\r')
            .unwrap_or(rest.len());
        let line = &rest[..end];
        rest = match rest.get(end..) {
            Some([b'\r', b'\n', after @ ..]) => after,
            Some([_, after @ ..]) => after,
            _ => &[],
        };
        Some(line)
    })
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

fn parses(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels_and_texts(units: &[RawInput]) -> Vec<(String, String)> {
        units
            .iter()
            .map(|u| (u.label.clone(), String::from_utf8_lossy(u.bytes()).into_owned()))
            .collect()
    }

    #[test]
    fn ndjson_is_split_whatever_its_first_line_is() {
        let text = b"{broken\r\n{\"a\": 1}\r{\"b\": 2}\n\n\xEF\xBB\xBF{\"c\": 3}".to_vec();
        let units = split("f", text);
        assert_eq!(
            labels_and_texts(&units),
            [
                ("f:1".into(), "{broken".into()),
                ("f:2".into(), "{\"a\": 1}".into()),
                ("f:3".into(), "{\"b\": 2}".into()),
                ("f:5".into(), "{\"c\": 3}".into())
            ]
        );
    }

    #[test]
    fn documents_one_after_another_are_each_a_unit() {
        let text = b"{\n  \"a\": [1,\n 2]\n}\n{\n  \"b\": 2\n}\r\n[3]".to_vec();
        assert_eq!(
            labels_and_texts(&split("f", text)),
            [
                ("f:1".into(), "{\n  \"a\": [1,\n 2]\n}".into()),
                ("f:5".into(), "{\n  \"b\": 2\n}".into()),
                ("f:8".into(), "[3]".into())
            ]
        );
    }

    #[test]
    fn one_document_stays_one_broken_or_not() {
        let pretty = b"\xEF\xBB\xBF{\n  \"a\": 1\n}\n".to_vec();
        assert_eq!(
            labels_and_texts(&split("f", pretty)),
            [("f".into(), "{\n  \"a\": 1\n}\n".into())]
        );
        let broken = b"{\n  \"a\": 1,\n  \"b\": \n}\n".to_vec();
        assert_eq!(
            split("f", broken).len(),
            1,
            "a broken pretty-printed document is one error"
        );
    }

    #[test]
    fn gzip_is_read_and_bounded() {
        use flate2::write::GzEncoder;
        use std::io::Write;
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(b"{\"a\": 1}\n{\"b\": 2}\n").unwrap();
        let units = units("f.jsonl.gz".into(), gz.finish().unwrap()).unwrap();
        assert_eq!(units.len(), 2);
        let err = units_err(b"\x1f\x8bnot gzip");
        assert!(err.contains("not readable as gzip"), "{err}");
    }

    fn units_err(bytes: &[u8]) -> String {
        match units("f".into(), bytes.to_vec()) {
            Err(e) => e,
            Ok(_) => panic!("expected an error"),
        }
    }

    /// Every file `read_file` gives, streamed or not, has the units `split` finds in its whole
    /// text: texts built from NDJSON lines, pretty-printed and broken documents, blank lines,
    /// byte order marks and every line end, plain and gzip.
    #[test]
    fn a_streamed_file_has_the_units_of_the_whole_text() {
        use std::io::Write;
        let pieces: [&[u8]; 10] = [
            b"{\"a\": 1}",
            b" \t{\"e\": 5}  ",
            b"[2, {\"b\": \"x\\ny\"}]",
            b"\xEF\xBB\xBF{\"c\": 3}",
            b"  ",
            b"\x0c",
            b"{broken",
            b"{\n  \"d\": 4\n}",
            b"\"s\"",
            b"7",
        ];
        let ends: [&[u8]; 3] = [b"\n", b"\r\n", b"\r"];
        let dir = tempfile::tempdir().unwrap();
        let (mut seed, mut streamed) = (7u64, 0);
        for case in 0..400 {
            let mut text = Vec::new();
            // Mostly NDJSON lines (the first five pieces), at times a document or a broken line.
            let rich = case % 4 == 0;
            for _ in 0..(case % 9) {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let piece = (seed >> 33) as usize % if rich { pieces.len() } else { 5 };
                text.extend_from_slice(pieces[piece]);
                text.extend_from_slice(ends[(seed >> 40) as usize % ends.len()]);
            }
            let expected = labels_and_texts(&split("f", text.clone()));
            let path = dir.path().join(format!("{case}.json"));
            if case % 3 == 0 {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                gz.write_all(&text).unwrap();
                std::fs::write(&path, gz.finish().unwrap()).unwrap();
            } else {
                std::fs::write(&path, &text).unwrap();
            }
            let (reader, gzip) = open(&path, "f").unwrap();
            streamed += usize::from(survey("f", reader, gzip).unwrap().is_some());
            let got: Vec<RawInput> = read_file(&path).unwrap().map(Result::unwrap).collect();
            let label = path.display().to_string();
            let got: Vec<(String, String)> = labels_and_texts(&got)
                .into_iter()
                .map(|(l, t)| (l.replacen(&label, "f", 1), t))
                .collect();
            assert_eq!(got, expected, "case {case}: {:?}", String::from_utf8_lossy(&text));
        }
        assert!(streamed > 100, "only {streamed} of 400 cases were streamed");
    }

    /// A pipe can be read once: it is read whole, not surveyed and then found empty.
    #[test]
    fn a_pipe_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("findings.jsonl");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let writer = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::write(fifo, "{\"a\": 1}\n{\"b\": 2}\n").unwrap())
        };
        let units: Vec<RawInput> = read_file(&fifo).unwrap().map(Result::unwrap).collect();
        writer.join().unwrap();
        let texts: Vec<String> = labels_and_texts(&units).into_iter().map(|(_, t)| t).collect();
        assert_eq!(texts, ["{\"a\": 1}", "{\"b\": 2}"]);
    }

    #[test]
    fn a_streamed_file_keeps_the_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("many.jsonl");
        std::fs::write(&path, "{}\n".repeat(MAX_UNITS + 1)).unwrap();
        let err = read_file(&path).err().unwrap();
        assert!(err.contains("more than 100000 lines"), "{err}");
        std::fs::write(&path, "{}\n".repeat(MAX_UNITS)).unwrap();
        assert_eq!(read_file(&path).unwrap().count(), MAX_UNITS);
        std::fs::write(&path, b"\x1f\x8bnot gzip\n{}\n").unwrap();
        let err = read_file(&path).err().unwrap();
        assert!(err.contains("not readable as gzip"), "{err}");
    }

    #[test]
    fn a_folder_is_every_file_below_it_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("b/c")).unwrap();
        std::fs::write(dir.path().join("b/c/2.json"), "{\"n\": 2}").unwrap();
        std::fs::write(dir.path().join("a.json"), "{\"n\": 1}").unwrap();
        std::fs::write(dir.path().join(".hidden"), "x").unwrap();
        let read: Vec<String> = read(dir.path())
            .unwrap()
            .into_iter()
            .map(|u| String::from_utf8(u.bytes().to_vec()).unwrap())
            .collect();
        assert_eq!(read, ["{\"n\": 1}", "{\"n\": 2}"]);
    }
}
