//! The `http` example's server (hyper over `uring::net`, driven by tokio)
//! answers real HTTP/1.1 clients: requests on one keep-alive connection,
//! a 404, and a client that closes; with one receive per read, and with
//! reads through a multishot receive into a buffer ring (as the example
//! runs), among them a ring too small for the clients.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use uring::BufferGroup;
use uring::net::TcpListener;
use uring::reactor::Reactor;
use uring_examples::net::{BODY, runtime, serve_http};

/// Starts the server on a thread of its own; returns its address. With
/// `ring`, connections read through a buffer ring of that many 64-byte
/// buffers (fewer than a request's bytes: a request spans several).
fn start(ring: Option<u16>) -> std::net::SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime().unwrap(), async move {
            let reactor = Reactor::new().unwrap();
            let ring = ring.map(|n| {
                reactor
                    .handle()
                    .register_buf_ring(BufferGroup::new(0), n, 64)
                    .unwrap()
            });
            let listener = TcpListener::bind(&reactor, "127.0.0.1:0".parse().unwrap()).unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            tokio::task::spawn_local(reactor.into_tokio().unwrap());
            serve_http(listener, ring).await;
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

/// Reads one response: the status line, the headers, the body.
fn response(reader: &mut BufReader<TcpStream>) -> (String, Vec<(String, String)>, Vec<u8>) {
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (status.trim_end().to_string(), headers, body)
}

#[test]
fn the_http_example_answers_a_real_client() {
    answers_real_clients(start(None));
}

#[test]
fn the_http_example_answers_a_real_client_reading_through_a_buffer_ring() {
    answers_real_clients(start(Some(256)));
}

/// Two buffers for 20 clients at once: reads that find the ring empty
/// receive the one-shot way, and every client is answered.
#[test]
fn the_http_example_answers_through_a_ring_that_runs_dry() {
    answers_real_clients(start(Some(2)));
}

fn answers_real_clients(addr: std::net::SocketAddr) {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    for _ in 0..3 {
        writer
            .write_all(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
            .unwrap();
        let (status, headers, body) = response(&mut reader);
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(headers.contains(&("content-type".into(), "text/plain".into())));
        assert_eq!(body, BODY);
    }
    writer
        .write_all(b"GET /nothing HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (status, _, body) = response(&mut reader);
    assert_eq!(status, "HTTP/1.1 404 Not Found");
    assert!(body.is_empty());
    // The server closes after `Connection: close`.
    let mut rest = Vec::new();
    assert_eq!(reader.read_to_end(&mut rest).unwrap(), 0);

    // Many clients at once, each with its own connection.
    let clients: Vec<_> = (0..20)
        .map(|_| {
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                    .unwrap();
                let mut all = Vec::new();
                s.read_to_end(&mut all).unwrap();
                all
            })
        })
        .collect();
    for c in clients {
        let all = c.join().unwrap();
        assert!(all.starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert!(all.ends_with(BODY));
    }
}
