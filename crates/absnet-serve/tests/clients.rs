//! Slow, greedy and half-closing clients, spoken to over raw TCP: none of them can hold the
//! service, and each gets the status that names what it did.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use absnet_serve::Limits;
use common::*;

/// Everything the server sends until it closes the connection (or `wait` passes).
fn answer(stream: &mut TcpStream, wait: Duration) -> String {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut text = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&text).into_owned()
}

fn status(text: &str) -> &str {
    text.split(' ').nth(1).unwrap_or("none")
}

fn connect(server: &Server) -> TcpStream {
    TcpStream::connect(server.addr).unwrap()
}

/// A connection on which a POST declares 1,000 bytes and sends 10 of them.
fn ten_of_a_thousand_bytes(server: &Server) -> TcpStream {
    let mut stream = connect(server);
    stream
        .write_all(
            b"POST /v1/saliency HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n0123456789",
        )
        .unwrap();
    stream
}

#[test]
fn a_client_sending_its_headers_slowly_is_cut_off_at_the_header_deadline() {
    let limits = Limits {
        header_timeout: Duration::from_secs(1),
        ..limits()
    };
    let server = Server::start(batching(), limits);
    let mut slow = connect(&server);
    let start = Instant::now();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        .unwrap();
    // One more header byte every 200 ms: each keeps the connection busy, none completes it.
    let mut closed = false;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(200));
        if slow.write_all(b"x").is_err() {
            closed = true;
            break;
        }
        slow.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        let read = slow.read(&mut byte);
        slow.set_nonblocking(false).unwrap();
        if read.is_ok() {
            closed = true;
            break;
        }
    }
    assert!(
        closed,
        "the slow client still held its connection after 20 s"
    );
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    // Meanwhile and after, others are served.
    let (code, _) = get(&server.url("/healthz"));
    assert_eq!(code, 200);
}

#[test]
fn connections_past_the_cap_are_refused_at_once_and_the_cap_frees_up() {
    let limits = Limits {
        max_connections: 3,
        header_timeout: Duration::from_secs(30),
        ..limits()
    };
    let server = Server::start(batching(), limits);
    let idle: Vec<TcpStream> = (0..3).map(|_| connect(&server)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut extra = connect(&server);
    let refused = answer(&mut extra, Duration::from_secs(5));
    assert_eq!(status(&refused), "503", "{refused}");
    assert!(
        refused.to_lowercase().contains("retry-after: 1"),
        "{refused}"
    );
    drop(idle);
    std::thread::sleep(Duration::from_millis(300));
    let (code, body) = get(&server.url("/healthz"));
    assert_eq!((code, body.as_str()), (200, "ok\n"));
}

#[test]
fn a_body_that_stops_arriving_gets_408() {
    let limits = Limits {
        body_timeout: Duration::from_secs(1),
        ..limits()
    };
    let server = Server::start(batching(), limits);
    let mut stream = ten_of_a_thousand_bytes(&server);
    let text = answer(&mut stream, Duration::from_secs(10));
    assert_eq!(status(&text), "408", "{text}");
    assert!(text.contains("did not arrive within 1 s"), "{text}");
}

#[test]
fn a_body_shorter_than_its_length_is_400_not_413() {
    let server = Server::start(batching(), limits());
    let mut stream = ten_of_a_thousand_bytes(&server);
    stream.shutdown(Shutdown::Write).unwrap();
    let text = answer(&mut stream, Duration::from_secs(10));
    assert_eq!(status(&text), "400", "{text}");
    assert!(text.contains("could not be read whole"), "{text}");
}

#[test]
fn a_complete_request_from_a_half_closed_client_is_answered() {
    let server = Server::start(batching(), limits());
    let mut stream = connect(&server);
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let text = answer(&mut stream, Duration::from_secs(10));
    assert_eq!(status(&text), "200", "{text}");
    assert!(text.ends_with("ok\n"), "{text}");
}

#[test]
fn a_client_that_sends_a_large_body_before_reading_gets_its_413() {
    let limits = Limits {
        max_body_bytes: 1 << 20,
        ..limits()
    };
    let server = Server::start(batching(), limits);
    let mut stream = connect(&server);
    let body = vec![0u8; 5 << 20];
    let head = format!(
        "POST /v1/saliency HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    // As Python's urllib does: the whole request first, then the answer.
    stream.write_all(head.as_bytes()).unwrap();
    stream
        .write_all(&body)
        .expect("the server read the body rather than closing on the client");
    let text = answer(&mut stream, Duration::from_secs(10));
    assert_eq!(status(&text), "413", "{text}");
    assert!(text.contains("over the limit of 1048576 bytes"), "{text}");
}

/// Resident memory of this process (the service runs in it), in MiB.
fn resident_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib / 1024
}

#[test]
fn slow_fast_and_aborted_clients_together_each_get_a_valid_answer_in_bounded_memory() {
    let limits = Limits {
        header_timeout: Duration::from_secs(2),
        body_timeout: Duration::from_secs(2),
        ..limits()
    };
    let server = Server::start(batching(), limits);
    let photo = std::fs::read(repo().join("samples/coffee.png")).unwrap();
    // Warm up, then measure.
    assert_eq!(post(&server.url("/v1/saliency"), &photo).0, 200);
    let before = resident_mib();
    std::thread::scope(|scope| {
        let server = &server;
        let photo = &photo;
        let mut fast = Vec::new();
        for _ in 0..4 {
            fast.push(scope.spawn(move || {
                (0..4)
                    .map(|_| post(&server.url("/v1/saliency"), photo).0)
                    .collect::<Vec<_>>()
            }));
        }
        for round in 0..3 {
            for _ in 0..8 {
                // Slow: headers that never end.
                scope.spawn(move || {
                    let mut slow = connect(server);
                    let _ = slow.write_all(b"POST /v1/saliency HTTP/1.1\r\nhost: x\r\n");
                    answer(&mut slow, Duration::from_secs(10))
                });
                // Aborted: half a body, then gone.
                scope.spawn(move || {
                    let mut gone = connect(server);
                    let head = format!(
                        "POST /v1/saliency HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n",
                        photo.len()
                    );
                    let _ = gone.write_all(head.as_bytes());
                    let _ = gone.write_all(&photo[..photo.len() / 2]);
                });
                // Stalled: half a body, then silence until the body deadline.
                scope.spawn(move || {
                    let mut stalled = connect(server);
                    let head = format!(
                        "POST /v1/crop HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n",
                        photo.len()
                    );
                    let _ = stalled.write_all(head.as_bytes());
                    let _ = stalled.write_all(&photo[..photo.len() / 2]);
                    let text = answer(&mut stalled, Duration::from_secs(10));
                    assert_eq!(status(&text), "408", "round {round}: {text}");
                });
            }
        }
        for client in fast {
            assert_eq!(client.join().unwrap(), vec![200; 4]);
        }
    });
    let (code, body) = get(&server.url("/healthz"));
    assert_eq!((code, body.as_str()), (200, "ok\n"));
    let grown = resident_mib().saturating_sub(before);
    assert!(grown < 400, "resident memory grew by {grown} MiB");
}
