//! Peak memory of a function binary while it works through a stream of events: a minimal Lambda
//! runtime API on 127.0.0.1 hands out the events one invocation at a time, acknowledges the
//! answers, and reads the process's high-water mark (`VmHWM`) once the last answer is in.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What one run came to.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub peak_rss_kib: u64,
    pub elapsed: Duration,
    pub invocations: usize,
    /// Invocations the function reported as failed (`/error`).
    pub errors: usize,
    /// Whether every event was answered before the time limit (else the peak is of the part done).
    pub finished: bool,
}

/// Progress of one run, shared by the connection handlers.
#[derive(Default)]
struct Progress {
    next: usize,
    answered: usize,
    errors: usize,
}

/// Runs `binary` until it has answered every event, or until `time_limit`, then stops it.
pub fn run(binary: &Path, env: &[(String, String)], events: &[String], time_limit: Duration) -> Result<Run, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let events: Arc<Vec<String>> = Arc::new(events.to_vec());
    let progress = Arc::new(Mutex::new(Progress::default()));
    {
        // The runtime client may use several connections (one waits for the next event while
        // another posts a response): each gets its own handler.
        let (events, progress) = (events.clone(), progress.clone());
        std::thread::spawn(move || {
            for socket in listener.incoming().flatten() {
                let (events, progress) = (events.clone(), progress.clone());
                std::thread::spawn(move || {
                    let _ = serve(socket, &events, &progress);
                });
            }
        });
    }
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let outcome = wait(&mut child, &progress, events.len(), time_limit);
    let peak = peak_rss_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let (invocations, errors, finished) = outcome?;
    Ok(Run {
        peak_rss_kib: peak.ok_or("cannot read the process's VmHWM")?,
        elapsed: started.elapsed(),
        invocations,
        errors,
        finished,
    })
}

/// `(answered, failed, all answered)` once every event is answered or the time is up.
fn wait(
    child: &mut Child,
    progress: &Mutex<Progress>,
    total: usize,
    time_limit: Duration,
) -> Result<(usize, usize, bool), String> {
    let deadline = Instant::now() + time_limit;
    loop {
        {
            let p = progress.lock().unwrap_or_else(|e| e.into_inner());
            if p.answered >= total {
                return Ok((p.answered, p.errors, true));
            }
            // The local endpoint (moto) is what takes the time: report the part done.
            if Instant::now() > deadline {
                return Ok((p.answered, p.errors, false));
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            let p = progress.lock().unwrap_or_else(|e| e.into_inner());
            return Err(format!(
                "the function exited ({status}) after {} invocations",
                p.answered
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn serve(socket: TcpStream, events: &[String], progress: &Mutex<Progress>) -> Result<(), String> {
    let mut writer = socket.try_clone().map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(socket);
    loop {
        let (method, path, _body) = read_request(&mut reader)?;
        if method == "GET" && path.ends_with("/invocation/next") {
            let index = {
                let mut p = progress.lock().unwrap_or_else(|e| e.into_inner());
                p.next += 1;
                p.next - 1
            };
            let Some(body) = events.get(index) else {
                // No more events: hold the request, as Lambda does between invocations.
                std::thread::sleep(Duration::from_secs(3600));
                return Ok(());
            };
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis()
                + 900_000;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nlambda-runtime-aws-request-id: req-{index}\r\n\
                 lambda-runtime-deadline-ms: {deadline}\r\n\
                 lambda-runtime-invoked-function-arn: arn:aws:lambda:us-east-1:123456789012:function:bench\r\n\
                 content-length: {}\r\n\r\n",
                body.len()
            );
            writer.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
            writer.write_all(body.as_bytes()).map_err(|e| e.to_string())?;
        } else {
            {
                let mut p = progress.lock().unwrap_or_else(|e| e.into_inner());
                if path.ends_with("/error") {
                    p.errors += 1;
                }
                if path.contains("/invocation/") {
                    p.answered += 1;
                }
            }
            let ok = "{\"status\":\"OK\"}";
            let head = format!(
                "HTTP/1.1 202 Accepted\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                ok.len()
            );
            writer.write_all(head.as_bytes()).map_err(|e| e.to_string())?;
            writer.write_all(ok.as_bytes()).map_err(|e| e.to_string())?;
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Result<(String, String, Vec<u8>), String> {
    let mut line = String::new();
    if reader.read_line(&mut line).map_err(|e| format!("runtime API: {e}"))? == 0 {
        return Err("connection closed".into());
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or_default().to_string(),
        parts.next().unwrap_or_default().to_string(),
    );
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).map_err(|e| e.to_string())?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).map_err(|e| e.to_string())?;
    Ok((method, path, body))
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
