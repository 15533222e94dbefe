//! The distortion report from known stamps: a proxy that holds every byte from the mock for a
//! known time shows up as transit, for every strategy, streamed or not, and not as the
//! request's way in, the mock's lateness or the harness's part.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use asyncbench::model::strategy::Strategy;
use mock_server::{MockServer, Profile};

use crate::util::config_for_target;

/// A TCP proxy on 127.0.0.1 in front of `upstream` that passes requests at once and delivers
/// each piece of every answer `delay` after it came (pieces keep their order and spacing). Up
/// to 1024 connections; each ends when either side closes. Returns its address.
fn delaying_proxy(upstream: std::net::SocketAddr, delay: Duration) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming().take(1024) {
            let Ok(client) = client else { continue };
            let Ok(server) = TcpStream::connect(upstream) else {
                continue;
            };
            // As real proxies do (nginx's tcp_nodelay): without it a request's body waits behind
            // its head for the mock's delayed ACK, and the mock starts (and writes) that late.
            let _ = (client.set_nodelay(true), server.set_nodelay(true));
            let (mut c_read, mut s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            // Requests: straight through.
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut c_read, &mut s_write);
                let _ = s_write.shutdown(std::net::Shutdown::Write);
            });
            // Answers: each piece held `delay` from when it was read.
            let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
            let mut s_read = server;
            std::thread::spawn(move || {
                let mut buf = [0u8; 64 * 1024];
                while let Ok(n) = s_read.read(&mut buf) {
                    if n == 0 || tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                        break;
                    }
                }
            });
            let mut c_write = client;
            std::thread::spawn(move || {
                for (at, piece) in rx {
                    std::thread::sleep((at + delay).saturating_duration_since(Instant::now()));
                    if c_write.write_all(&piece).is_err() {
                        break;
                    }
                }
                let _ = c_write.shutdown(std::net::Shutdown::Both);
            });
        }
    });
    addr
}

/// Every strategy, whole answers and streams, through a proxy holding answers 40 ms: the
/// transit's median is at least the 40 ms; the mock's lateness and the harness's part stay
/// below it (the delay is not blamed on them); and the stamps were read for every answer.
#[test]
fn a_delay_on_the_way_shows_as_transit_for_every_strategy() {
    let delay = Duration::from_millis(40);
    let ms = Duration::from_millis;
    let mock = MockServer::start(Profile {
        latency: mock_server::LatencySpec::Fixed(ms(5)),
        ttft: mock_server::LatencySpec::Fixed(ms(5)),
        itl: mock_server::LatencySpec::Fixed(ms(2)),
        stamps: true,
        seed: Some(1),
        ..Profile::default()
    })
    .unwrap();
    let proxy = delaying_proxy(mock.addr(), delay);
    for stream in [false, true] {
        let mut cfg = config_for_target(&Strategy::ALL, 8, format!("http://{proxy}/v1"));
        cfg.workload.stream = stream;
        cfg.workload.max_tokens = 4;
        let report = asyncbench::compare(&cfg).unwrap();
        assert_eq!(report.strategies.len(), Strategy::ALL.len());
        for s in &report.strategies {
            let what = format!("{} (stream {stream})", s.id);
            assert_eq!(s.accounted, "8/8", "{what}");
            let d = s.distortion.unwrap_or_else(|| panic!("{what}: no distortion"));
            let (request, late, transit, harness) = (
                d.request_ms
                    .unwrap_or_else(|| panic!("{what}: no head stamp read")),
                d.mock_late_ms.unwrap_or_else(|| panic!("{what}: no stamps read")),
                d.transit_ms.unwrap(),
                d.harness_ms.unwrap(),
            );
            // A whole answer has one stamp; a stream one per event (role, 4 tokens, finish,
            // usage, [DONE]).
            let per_answer = if stream { 8 } else { 1 };
            assert_eq!(transit.count, 8 * per_answer, "{what}");
            assert_eq!(late.count, transit.count, "{what}");
            assert_eq!((harness.count, request.count), (8, 8), "{what}");
            assert!(transit.p50 >= 40.0, "{what}: transit {transit:?}");
            assert!(
                late.p99 < transit.p50,
                "{what}: mock late {late:?}, transit {transit:?}"
            );
            assert!(
                harness.p99 < transit.p50,
                "{what}: harness {harness:?}, transit {transit:?}"
            );
            // The proxy passes requests at once: their way in is not the answers' delay.
            assert!(
                request.p50 < transit.p50,
                "{what}: request {request:?}, transit {transit:?}"
            );
        }
    }
}

/// A request is counted when it finishes, not when the next one is due: an open loop at 2/s
/// of 50 ms answers leaves the driver waiting 450 ms between turns, and each answer's record
/// must not wait with it. For every strategy, the harness's part stays below the latency (the
/// async runners folded finished requests only at the next turn: 450 ms here).
#[test]
fn a_finished_request_is_counted_before_the_next_turn() {
    let ms = Duration::from_millis;
    let mut cfg = crate::util::config(&Strategy::ALL, 4, Profile::fixed(ms(50)));
    cfg.load = asyncbench::model::plan::Load::Open {
        rate: 2.0,
        arrival: asyncbench::model::plan::Arrival::Constant,
        seed: 1,
    };
    let report = asyncbench::compare(&cfg).unwrap();
    for s in &report.strategies {
        let harness = s.distortion.and_then(|d| d.harness_ms).unwrap();
        let latency = s.latency_ms.unwrap();
        assert_eq!((s.accounted.as_str(), harness.count), ("4/4", 4), "{}", s.id);
        assert!(
            harness.max < latency.p50,
            "{}: harness {harness:?}, latency {latency:?}",
            s.id
        );
    }
}
