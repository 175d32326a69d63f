//! `uring::net`'s Unix-domain sockets over the reactor: streams over paths
//! and abstract names, descriptors passed along a stream, datagrams with
//! their senders' addresses, deadlines, bad addresses, and tokio's traits.

use std::future::Future as _;
use std::io::{Read as _, Write as _};
use std::os::fd::AsRawFd;
use std::os::linux::net::SocketAddrExt as _;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uring::BufferGroup;
use uring::SockAddr;
use uring::net::{UnixDatagram, UnixListener, UnixStream};
use uring::reactor::{IoBuf, Reactor};

/// A name no other test (or test run) uses, for abstract addresses.
fn unique(tag: &str) -> Vec<u8> {
    format!(
        "uring-test-{tag}-{}-{:?}",
        std::process::id(),
        Instant::now()
    )
    .into_bytes()
}

/// An echo over a path: what the client writes comes back, both ends know
/// their addresses, and a second connection through `incoming` works too.
#[test]
fn a_stream_over_a_path_echoes_and_knows_its_addresses() {
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("echo.sock");
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = UnixListener::bind(&h, &path).unwrap();
    assert_eq!(
        listener.local_addr().unwrap().as_pathname(),
        Some(path.as_path())
    );
    h.spawn(async move {
        let mut incoming = listener.incoming();
        for _ in 0..2 {
            let conn = incoming.next().await.unwrap().unwrap();
            // A connecting socket that bound nothing is unnamed.
            assert!(conn.peer_addr().unwrap().is_unnamed());
            loop {
                let (n, buf) = conn.read(Vec::with_capacity(4096)).await;
                if n.unwrap() == 0 {
                    break;
                }
                let (r, _) = conn.write_all(buf).await;
                r.unwrap();
            }
        }
    });
    let h2 = h.clone();
    let p2 = path.clone();
    let echoed = reactor
        .run_until(async move {
            let mut out = Vec::new();
            for round in 0..2u8 {
                let client = UnixStream::connect(&h2, &p2).await.unwrap();
                assert_eq!(
                    client.peer_addr().unwrap().as_pathname(),
                    Some(p2.as_path())
                );
                let msg: Vec<u8> = (0..100_000u32).map(|i| (i as u8) ^ round).collect();
                let (r, msg) = client.write_all(msg).await;
                r.unwrap();
                client.shutdown(std::net::Shutdown::Write).await.unwrap();
                let mut back = Vec::new();
                loop {
                    let (n, buf) = client.read(vec![0; 8192]).await;
                    let n = n.unwrap();
                    if n == 0 {
                        break;
                    }
                    back.extend_from_slice(&buf[..n]);
                }
                assert_eq!(back, msg, "round {round}");
                out.push(back.len());
            }
            out
        })
        .unwrap();
    assert_eq!(echoed, [100_000, 100_000]);
}

/// A listener on an abstract name (no file): a client reaches it by name,
/// and a std client can too.
#[test]
fn a_stream_over_an_abstract_name() {
    let _watch = uring_tests::watchdog();
    let name = unique("abstract");
    let std_addr = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = UnixListener::bind_addr(&h, &SockAddr::from(&std_addr)).unwrap();
    assert_eq!(
        listener.local_addr().unwrap().as_abstract_name(),
        Some(&name[..])
    );
    let name2 = name.clone();
    let got = reactor
        .run_until(async move {
            let std_client = uring_tests::peer_thread(move || {
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(&name2).unwrap();
                let mut s = std::os::unix::net::UnixStream::connect_addr(&addr).unwrap();
                s.write_all(b"from std").unwrap();
            });
            let conn = listener.accept().await.unwrap();
            let (n, buf) = conn.read(vec![0; 64]).await;
            std_client.join().unwrap();
            let first = buf[..n.unwrap()].to_vec();
            let client = UnixStream::connect_addr(&h, SockAddr::from(&std_addr))
                .await
                .unwrap();
            let server = listener.accept().await.unwrap();
            let (r, _) = client.write_all(b"from uring".to_vec()).await;
            r.unwrap();
            let (n, buf) = server.read(vec![0; 64]).await;
            (first, buf[..n.unwrap()].to_vec())
        })
        .unwrap();
    assert_eq!(got.0, b"from std");
    assert_eq!(got.1, b"from uring");
}

/// Descriptors cross a stream: the receiver gets its own, which write into
/// the pipe the sender made; the sender gets its own back.
#[test]
fn descriptors_pass_along_a_stream_pair() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (a, b) = UnixStream::pair(&h).unwrap();
    let (rx, tx) = uring_tests::pipe();
    let sent_fd = tx.as_raw_fd();
    let (sent_back, received) = reactor
        .run_until(async move {
            let (r, _, fds) = a.send_with_fds(b"one fd".to_vec(), vec![tx]).await;
            assert_eq!(r.unwrap(), 6);
            let (r, buf, received) = b.recv_with_fds(vec![0; 16], 4).await;
            assert_eq!(&buf[..r.unwrap()], b"one fd");
            (fds, received)
        })
        .unwrap();
    assert_eq!(sent_back.len(), 1);
    assert_eq!(
        sent_back[0].as_raw_fd(),
        sent_fd,
        "the sender's own comes back"
    );
    assert_eq!(received.len(), 1);
    assert_ne!(
        received[0].as_raw_fd(),
        sent_fd,
        "the receiver holds a copy"
    );
    drop(sent_back);
    let mut writer = std::fs::File::from(received.into_iter().next().unwrap());
    writer.write_all(b"through the copy").unwrap();
    drop(writer);
    let mut got = String::new();
    std::fs::File::from(rx).read_to_string(&mut got).unwrap();
    assert_eq!(got, "through the copy");
}

/// Datagrams between two bound sockets carry their sender's path; one from
/// an unbound socket reads as unnamed; a connected pair sends and receives
/// without addresses; a buffer ring takes a datagram without a copy.
#[test]
fn datagrams_carry_their_senders_address() {
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (dir.path().join("a.sock"), dir.path().join("b.sock"));
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let group = reactor
        .register_buf_ring(BufferGroup::new(3), 4, 1024)
        .unwrap();
    let a = UnixDatagram::bind(&h, &pa).unwrap();
    let b = UnixDatagram::bind(&h, &pb).unwrap();
    let unbound = UnixDatagram::unbound(&h).unwrap();
    let (p, q) = UnixDatagram::pair(&h).unwrap();
    let pb2 = pb.clone();
    let pa2 = pa.clone();
    reactor
        .run_until(async move {
            let (r, _) = a.send_to(b"to b".to_vec(), &pb2).await;
            assert_eq!(r.unwrap(), 4);
            let (r, buf, from) = b.recv_from(vec![0; 32]).await;
            assert_eq!(&buf[..r.unwrap()], b"to b");
            assert_eq!(from.unwrap().as_pathname(), Some(pa2.as_path()));
            let (r, _) = unbound.send_to(b"anon".to_vec(), &pb2).await;
            r.unwrap();
            let (r, buf, from) = b.recv_from(vec![0; 32]).await;
            assert_eq!(&buf[..r.unwrap()], b"anon");
            assert!(from.unwrap().is_unnamed());
            // Connected: plain sends and receives, in datagrams.
            b.connect(&pa2).unwrap();
            assert_eq!(b.peer_addr().unwrap().as_pathname(), Some(pa2.as_path()));
            let (r, _) = b.send(b"first".to_vec()).await;
            r.unwrap();
            let (r, _) = b.send(b"second".to_vec()).await;
            r.unwrap();
            let (r, buf) = a.recv(vec![0; 32]).await;
            assert_eq!(&buf[..r.unwrap()], b"first");
            let got = a.recv_ring(group).await.unwrap().unwrap();
            assert_eq!(&got[..], b"second");
            let (r, _) = p.send(b"paired".to_vec()).await;
            r.unwrap();
            let (r, buf) = q.recv(vec![0; 32]).await;
            assert_eq!(&buf[..r.unwrap()], b"paired");
        })
        .unwrap();
}

/// Bad addresses are errors, not panics: a path too long for `sun_path`, a
/// NUL in a path, a path nothing listens on, a path already bound.
#[test]
fn bad_paths_are_errors() {
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let long = dir.path().join("x".repeat(200));
    let err = UnixListener::bind(&h, &long).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
    let err = SockAddr::unix("a\0b").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
    // The longest path that fits (107 bytes and its NUL) is accepted.
    assert!(SockAddr::unix("/".repeat(107)).is_ok());
    assert!(SockAddr::unix("/".repeat(108)).is_err());
    let taken = dir.path().join("taken.sock");
    let _first = UnixListener::bind(&h, &taken).unwrap();
    let err = UnixListener::bind(&h, &taken).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EADDRINUSE), "{err}");
    let missing = dir.path().join("missing.sock");
    let h2 = h.clone();
    let (connect, send) = reactor
        .run_until(async move {
            let connect = UnixStream::connect(&h2, &missing).await.unwrap_err();
            let d = UnixDatagram::unbound(&h2).unwrap();
            let (r, buf) = d.send_to(b"x".to_vec(), &long).await;
            assert_eq!(buf, b"x", "the buffer comes back");
            (connect, r.unwrap_err())
        })
        .unwrap();
    assert_eq!(connect.raw_os_error(), Some(libc::ENOENT), "{connect}");
    assert_eq!(send.kind(), std::io::ErrorKind::InvalidInput, "{send}");
}

/// A read with nothing to read ends at its deadline with `TimedOut`, on a
/// stream and on a datagram socket.
#[test]
fn reads_end_at_their_deadlines() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (mut a, _b) = UnixStream::pair(&h).unwrap();
    let (mut d, _e) = UnixDatagram::pair(&h).unwrap();
    let (stream, datagram) = reactor
        .run_until(async move {
            let start = Instant::now();
            a.set_read_deadline(Some(start + Duration::from_millis(50)));
            let (r, _) = a.read(vec![0; 8]).await;
            let stream = (r.unwrap_err().kind(), start.elapsed());
            let start = Instant::now();
            d.set_deadline(Some(start + Duration::from_millis(50)));
            let (r, _, _) = d.recv_from(vec![0; 8]).await;
            (stream, (r.unwrap_err().kind(), start.elapsed()))
        })
        .unwrap();
    for (kind, elapsed) in [stream, datagram] {
        assert_eq!(kind, std::io::ErrorKind::TimedOut);
        assert!(elapsed >= Duration::from_millis(50), "{elapsed:?}");
        assert!(elapsed < uring_tests::PATIENCE, "{elapsed:?}");
    }
}

/// tokio's `AsyncRead` / `AsyncWrite` on a Unix stream: a copy loop on the
/// reactor echoes what a tokio Unix client sends.
#[test]
fn tokio_traits_on_a_unix_stream() {
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokio.sock");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let copied = local.block_on(&runtime, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let listener = UnixListener::bind(&h, &path).unwrap();
        let server = tokio::task::spawn_local(async move {
            let mut conn = listener.accept().await.unwrap();
            let (mut r, mut w) = tokio::io::split(&mut conn);
            let n = tokio::io::copy(&mut r, &mut w).await.unwrap();
            w.shutdown().await.unwrap();
            n
        });
        let client = tokio::net::UnixStream::connect(&path).await.unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let (mut cr, mut cw) = client.into_split();
        let sent = data.clone();
        let send = tokio::task::spawn_local(async move {
            cw.write_all(&sent).await.unwrap();
            cw.shutdown().await.unwrap();
        });
        let mut back = Vec::new();
        cr.read_to_end(&mut back).await.unwrap();
        send.await.unwrap();
        assert_eq!(back, data);
        h.shutdown();
        server.await.unwrap()
    });
    assert_eq!(copied, 300_000);
}

/// A received buffer of a buffer ring goes back out as it is, on a Unix
/// stream as on TCP.
#[test]
fn a_ring_buffer_is_sent_back_without_a_copy() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let group = reactor
        .register_buf_ring(BufferGroup::new(5), 4, 256)
        .unwrap();
    let (a, b) = UnixStream::pair(&h).unwrap();
    let back = reactor
        .run_until(async move {
            let (r, _) = a.write_all(b"bounce".to_vec()).await;
            r.unwrap();
            let got = b.recv_ring(group).await.unwrap().unwrap();
            assert_eq!(got.bytes_init(), 6);
            let (r, _) = b.write_all(got).await;
            r.unwrap();
            let (n, buf) = a.read(vec![0; 16]).await;
            buf[..n.unwrap()].to_vec()
        })
        .unwrap();
    assert_eq!(back, b"bounce");
}

/// Accepts raced (as a biased `tokio::select!` races them) against a timer that wins
/// while clients connect: the connections the kernel accepted for the
/// dropped accepts are kept by the listener and handed out next, so each
/// client's message arrives once, through one accepted stream.
#[test]
fn accepts_dropped_by_a_biased_select_lose_no_connection() {
    let _watch = uring_tests::watchdog();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raced.sock");
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = UnixListener::bind(&h, &path).unwrap();
    const CLIENTS: u8 = 30;
    let client_path = path.clone();
    let clients = std::thread::spawn(move || {
        (0..CLIENTS)
            .map(|i| {
                let mut c = std::os::unix::net::UnixStream::connect(&client_path).unwrap();
                c.write_all(&[i]).unwrap();
                std::thread::sleep(Duration::from_micros(200));
                c
            })
            .collect::<Vec<_>>()
    });
    let seen = reactor
        .run_until(async {
            let mut seen = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(10);
            while seen.len() < usize::from(CLIENTS) && Instant::now() < deadline {
                let mut timer = h.op(uring::reactor::ops::Timeout::new(Duration::from_micros(
                    150,
                )));
                let mut accept = std::pin::pin!(listener.accept());
                // A biased `select!`: the timer first, so that an accept
                // that completed with it is dropped ready.
                let won = std::future::poll_fn(|cx| {
                    if std::pin::Pin::new(&mut timer).poll(cx).is_ready() {
                        return std::task::Poll::Ready(None);
                    }
                    accept.as_mut().poll(cx).map(Some)
                })
                .await;
                if let Some(stream) = won {
                    let mut stream = stream.unwrap();
                    let mut byte = [0u8; 1];
                    stream.read_exact(&mut byte).await.unwrap();
                    seen.push(byte[0]);
                }
            }
            seen
        })
        .unwrap();
    let clients = clients.join().unwrap();
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (0..CLIENTS).collect::<Vec<_>>(),
        "accepted: {seen:?}"
    );
    drop(clients);
}
