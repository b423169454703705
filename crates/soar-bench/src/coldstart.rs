//! Cold start of a function binary: from process start to its first request for an event on the
//! Lambda runtime API (configuration read, SDK clients built, policy engines compiled, warmed and
//! checked). A minimal runtime API on 127.0.0.1 answers nothing: it only notes the moment.

use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One cold start of `binary`; the process is killed once it asks for its first event.
pub fn measure(binary: &Path, env: &[(&str, String)]) -> Result<Duration, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let deadline = started + Duration::from_secs(10);
    let ready = loop {
        match listener.accept() {
            Ok((mut socket, _)) => {
                let at = started.elapsed();
                let mut buffer = [0u8; 1024];
                let _ = socket.read(&mut buffer);
                break Ok(at);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Ok(Some(status)) = child.try_wait() {
                    let mut stderr = String::new();
                    if let Some(mut pipe) = child.stderr.take() {
                        let _ = pipe.read_to_string(&mut stderr);
                    }
                    break Err(format!(
                        "{} exited ({status}) before asking for an event: {stderr}",
                        binary.display()
                    ));
                }
                if Instant::now() > deadline {
                    break Err(format!("{} did not ask for an event within 10 s", binary.display()));
                }
                std::thread::sleep(Duration::from_micros(50));
            }
            Err(e) => break Err(e.to_string()),
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    ready
}
