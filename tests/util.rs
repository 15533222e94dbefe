//! Test helpers: a small fast config for any strategy, and a wiremock server answering with an
//! exact sequence of responses.

use std::time::Duration;

use asyncbench::RunConfig;
use asyncbench::model::plan::{Load, Stop, Workload};
use asyncbench::model::retry::{RetryPolicy, RetryPreset};
use asyncbench::model::strategy::Strategy;
use asyncbench::{Endpoint, Target};
use mock_server::Profile;

/// A closed-loop config against the embedded mock: `n` requests, concurrency 4, batches of 4
/// with a 10 ms pause, no retries, a 5 s timeout.
/// An open loop of `rate` requests a second at constant gaps.
pub(crate) fn open_loop(rate: f64) -> Load {
    Load::Open {
        rate,
        arrival: asyncbench::model::plan::Arrival::Constant,
        seed: 1,
    }
}

pub(crate) fn config(strategies: &[Strategy], n: u64, profile: Profile) -> RunConfig {
    RunConfig {
        workload: Workload {
            model: "mock-model".into(),
            prompt: "hello".into(),
            max_tokens: 8,
            ..Workload::default()
        },
        strategies: strategies.to_vec(),
        concurrency: 4,
        batch_size: 4,
        pause: Duration::from_millis(10),
        retry: RetryPolicy::preset(RetryPreset::None),
        timeout: Duration::from_secs(5),
        stop: Stop::Count(n),
        load: Load::Closed,
        seed: 7,
        endpoint: Endpoint::embedded(Profile {
            seed: Some(profile.seed.unwrap_or(1)),
            ..profile
        }),
        quiet: true,
        ..RunConfig::default()
    }
}

/// The same config pointed at an external base URL.
pub(crate) fn config_for_target(strategies: &[Strategy], n: u64, base_url: String) -> RunConfig {
    let mut cfg = config(strategies, n, Profile::default());
    cfg.endpoint = Endpoint::External(Target::external(base_url));
    cfg
}

/// A retry policy with short waits for tests: `attempts` in all, 10 ms doubling, every 5xx and
/// 429 retried, Retry-After honoured up to 5 s.
pub(crate) fn fast_retry(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        name: "test".into(),
        attempts,
        initial: Duration::from_millis(10),
        factor: 2.0,
        max_delay: Duration::from_millis(50),
        first_exponent: 0,
        jitter: asyncbench::model::retry::Jitter::None,
        statuses: vec![429],
        retry_server_errors: true,
        retry_transport: true,
        retry_after_cap: Some(Duration::from_secs(5)),
        obey_should_retry: true,
        retry_after_clamp: false,
    }
}

/// A chat completion body as the real API sends it.
pub(crate) fn completion_json() -> serde_json::Value {
    serde_json::json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi", "refusal": null}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    })
}

/// The asyncbench binary, ready for arguments.
pub(crate) fn bin() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_asyncbench"));
    // One round unless a test asks for more: the counts the tests check are per round.
    c.env("ASYNCBENCH_ROUNDS", "1");
    c
}

/// Runs the binary with `args` and `--out` in a fresh folder; returns the exit code, stderr and
/// the folder (kept alive by the returned guard).
pub(crate) fn run_out(args: &[&str]) -> (Option<i32>, String, tempfile::TempDir) {
    let (o, tmp) = run_in_out(args);
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        tmp,
    )
}

/// The same, returning the whole output (stdout too).
pub(crate) fn run_in_out(args: &[&str]) -> (std::process::Output, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let o = bin()
        .args(args)
        .arg("--out")
        .arg(tmp.path().join("out"))
        .output()
        .unwrap();
    (o, tmp)
}

/// Starts the binary with piped stdout and stderr.
pub(crate) fn spawn(args: &[&str]) -> std::process::Child {
    bin()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Sends a signal to a child process.
pub(crate) fn signal(child: &std::process::Child, sig: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, sig).unwrap();
}

/// Reads a JSON file.
pub(crate) fn json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Reads one request from `s`, its body included (closing on unread bytes would reset the
/// answer); false when the client went away first.
fn read_request(s: &mut std::net::TcpStream) -> bool {
    request_line(s).is_some()
}

/// [`read_request`], returning the request's first line.
fn request_line(s: &mut std::net::TcpStream) -> Option<String> {
    use std::io::Read;
    let mut req = Vec::new();
    let mut buf = [0u8; 4096];
    let body_at = loop {
        if let Some(i) = req.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    };
    let head = String::from_utf8_lossy(&req[..body_at]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while req.len() < body_at + length {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => req.extend_from_slice(&buf[..n]),
        }
    }
    Some(head.lines().next().unwrap_or_default().to_owned())
}

/// A stand-in for a forward HTTP proxy that answers every request itself with a whole
/// completion (keep-alive, up to 256 connections), a `CONNECT` with its tunnel (to itself):
/// returns its URL and the request lines it was sent, each naming the whole URL (a request sent
/// down a tunnel to `host:80` as `http://host/path … (tunnelled)`).
pub(crate) fn proxy_server() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let lines = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(256) {
            let Ok(mut s) = stream else { continue };
            let lines = lines.clone();
            std::thread::spawn(move || {
                let mut tunnel: Option<String> = None;
                while let Some(line) = request_line(&mut s) {
                    if let Some(to) = line.strip_prefix("connect ") {
                        let host = to.split_whitespace().next().unwrap_or_default();
                        tunnel = Some(host.trim_end_matches(":80").to_owned());
                        lines.lock().unwrap().push(line.clone());
                        if s.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                            .is_err()
                        {
                            return;
                        }
                        continue;
                    }
                    let line = match (&tunnel, line.split_once(" /")) {
                        (Some(host), Some((method, rest))) => {
                            format!("{method} http://{host}/{rest} (tunnelled)")
                        }
                        _ => line,
                    };
                    lines.lock().unwrap().push(line);
                    let body = completion_json().to_string();
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if s.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), seen)
}

/// A tiny HTTP server that answers every request (up to 256 connections, one request each) with
/// a whole completion written in three pieces 20 ms apart: in chunked encoding, or under a
/// `content-length` announced at once. Returns its base URL.
pub(crate) fn pieces_server(chunked: bool) -> String {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(256) {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                if !read_request(&mut s) {
                    return;
                }
                let body = completion_json().to_string().into_bytes();
                let framing = if chunked {
                    "transfer-encoding: chunked".to_string()
                } else {
                    format!("content-length: {}", body.len())
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{framing}\r\nconnection: close\r\n\r\n"
                );
                let third = body.len() / 3;
                for piece in [&body[..third], &body[third..2 * third], &body[2 * third..]] {
                    let _ = s.flush();
                    std::thread::sleep(Duration::from_millis(20));
                    let sent = if chunked {
                        write!(s, "{:x}\r\n", piece.len())
                            .and_then(|()| s.write_all(piece))
                            .and_then(|()| s.write_all(b"\r\n"))
                    } else {
                        s.write_all(piece)
                    };
                    if sent.is_err() {
                        return;
                    }
                }
                if chunked {
                    let _ = s.write_all(b"0\r\n\r\n");
                }
                let _ = s.flush();
            });
        }
    });
    format!("http://{addr}")
}

/// A tiny HTTP server that answers every request (up to 256 connections, one request each) with
/// a whole completion under `extra` headers beside its own. Returns its base URL.
pub(crate) fn head_server(extra: Vec<(String, String)>) -> String {
    answer_server(extra, 0)
}

/// A tiny HTTP server that answers every request (up to 256 connections, one request each) with
/// a completion whose `content-length` says `short` bytes more than it sends before it closes
/// the connection. Returns its base URL.
pub(crate) fn cut_body_server(short: usize) -> String {
    answer_server(Vec::new(), short)
}

/// [`head_server`] and [`cut_body_server`].
fn answer_server(extra: Vec<(String, String)>, short: usize) -> String {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut head = String::new();
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let head = std::sync::Arc::new(head);
    std::thread::spawn(move || {
        for stream in listener.incoming().take(256) {
            let Ok(mut s) = stream else { continue };
            let head = head.clone();
            std::thread::spawn(move || {
                if !read_request(&mut s) {
                    return;
                }
                let body = completion_json().to_string();
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{head}\r\n{body}",
                    body.len() + short
                );
                let _ = s.flush();
            });
        }
    });
    format!("http://{addr}")
}

/// A tiny HTTP server that answers every request with a 200 whose body never ends (a JSON
/// prefix or SSE events, written until the client goes away, 256 MiB are out, or 30 s pass),
/// on up to 64 connections. Returns its base URL.
pub(crate) fn endless_body_server(sse: bool) -> String {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(64) {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                if !read_request(&mut s) {
                    return;
                }
                let kind = if sse {
                    "text/event-stream"
                } else {
                    "application/json"
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\ncontent-type: {kind}\r\nconnection: close\r\n\r\n"
                );
                let chunk: Vec<u8> = if sse {
                    b"data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"x\"}}]}\n\n".repeat(1000)
                } else {
                    let mut c = b"{\"choices\":[{\"message\":{\"content\":\"".to_vec();
                    c.resize(64 * 1024, b'x');
                    c
                };
                let t0 = std::time::Instant::now();
                let mut sent = 0usize;
                while sent < 256 << 20 && t0.elapsed() < Duration::from_secs(30) {
                    if s.write_all(&chunk).is_err() {
                        return;
                    }
                    sent += chunk.len();
                }
            });
        }
    });
    format!("http://{addr}")
}

/// Stops a target once it has received `after` requests (an event, not a sleep: a busy machine
/// only makes the wait longer) and keeps its port bound but not listening, so that no other
/// test's server can take the port and answer in its place: connections to it are refused.
/// Drop the returned socket to free the port.
pub(crate) fn kill_target_after(server: mock_server::MockServer, after: u64) -> socket2::Socket {
    take_port_after(server, after, false)
}

/// Freezes a target once it has received `after` requests, as SIGSTOP would: its port is then
/// held by a socket that listens but never accepts, so connections are made (by the kernel)
/// and nothing is ever answered. Drop the returned socket to free the port.
pub(crate) fn freeze_target_after(server: mock_server::MockServer, after: u64) -> socket2::Socket {
    take_port_after(server, after, true)
}

/// Stops `server` after `after` requests and holds its port: listening (frozen) or not (dead).
fn take_port_after(server: mock_server::MockServer, after: u64, listen: bool) -> socket2::Socket {
    let waited = std::time::Instant::now();
    while server.stats().requests_received < after && waited.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let addr = server.addr();
    drop(server);
    // SO_REUSEADDR: the closed server's connections may still sit in TIME_WAIT on that port.
    let hold = || {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
        s.set_reuse_address(true)?;
        s.bind(&addr.into())?;
        if listen {
            s.listen(1024)?;
        }
        Ok::<_, std::io::Error>(s)
    };
    (0..100)
        .find_map(|_| {
            hold().ok().or_else(|| {
                std::thread::sleep(Duration::from_millis(10));
                None
            })
        })
        .expect("the dead target's port")
}

/// Starts `cmd` (stdout and stderr piped), reads its stderr until a line holding `said` comes
/// (or none comes for `limit`), then sends it SIGINT and waits for it: its output, and its
/// whole stderr as lines (the process's own `stderr` in the output is empty).
pub(crate) fn interrupt_after_line(
    mut cmd: std::process::Command,
    said: &str,
    limit: Duration,
) -> (std::process::Output, String) {
    use std::io::BufRead;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut err = Vec::new();
    while let Ok(line) = rx.recv_timeout(limit) {
        let found = line.contains(said);
        err.push(line);
        if found {
            break;
        }
    }
    signal(&child, rustix::process::Signal::INT);
    let (o, _) = wait(child, Duration::from_secs(30));
    reader.join().unwrap();
    err.extend(rx.try_iter());
    (o, err.join("\n"))
}

/// Waits for a child, failing the test if it outlives `limit`.
pub(crate) fn wait(
    child: std::process::Child,
    limit: std::time::Duration,
) -> (std::process::Output, std::time::Duration) {
    let t = std::time::Instant::now();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(o) => (o.unwrap(), t.elapsed()),
        Err(_) => {
            if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
            }
            panic!("the process outlived {limit:?}");
        }
    }
}

/// Every strategy that can speak `api`: the six built-in ones and the Python clients whose SDK
/// (if any) is that API's.
pub(crate) fn every_strategy_for(api: asyncbench::model::plan::Api) -> Vec<Strategy> {
    Strategy::ALL.into_iter().chain(python_clients_for(api)).collect()
}

/// The shipped Python clients that can speak `api` (an SDK client speaks its own only).
pub(crate) fn python_clients_for(api: asyncbench::model::plan::Api) -> Vec<Strategy> {
    asyncbench::model::strategy::PyClient::ALL
        .into_iter()
        .filter(|p| p.only_api().is_none_or(|a| a == api))
        .map(Strategy::Python)
        .collect()
}

/// Makes sure `clients/python/.venv` has the pinned requirements of the Python clients, creating
/// it on first use (`python3 -m venv`, then `pip install -r clients/python/requirements.txt`), so
/// `cargo test` needs no setup of its own; once per test process.
pub(crate) fn python_clients() {
    static READY: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let ready = READY.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let venv = root.join("clients/python/.venv");
        let python = venv.join("bin/python");
        let probe = "import requests, aiohttp, aiohttp_retry, httpx, openai, anthropic";
        let works = |p: &std::path::Path| {
            std::process::Command::new(p)
                .args(["-c", probe])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if works(&python) {
            return Ok(());
        }
        let run = |cmd: &mut std::process::Command| -> Result<(), String> {
            let o = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
            if o.status.success() {
                Ok(())
            } else {
                Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&o.stderr)))
            }
        };
        if !python.exists() {
            run(std::process::Command::new("python3")
                .arg("-m")
                .arg("venv")
                .arg(&venv))?;
        }
        run(std::process::Command::new(&python)
            .args(["-m", "pip", "install", "-q", "-r"])
            .arg(root.join("clients/python/requirements.txt")))?;
        if works(&python) {
            Ok(())
        } else {
            Err("the packages do not import after pip install".into())
        }
    });
    if let Err(e) = ready {
        panic!("the Python clients' environment could not be made: {e}");
    }
}

/// A run whose one request meets a 429 asking for 40 s, which `--retry anthropic` waits: a
/// long wait before a retry, said as it begins (until a signal cuts it short).
pub(crate) const LONG_RETRY_WAIT: [&str; 13] = [
    "compare",
    "-n",
    "1",
    "--rounds",
    "1",
    "--strategies",
    "async",
    "--rate-429",
    "1",
    "--retry-after",
    "40s",
    "--retry",
    "anthropic",
];
