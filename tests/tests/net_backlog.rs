//! A listener's backlog of connections the kernel accepted for accepts
//! that were given up, met by an accept already waiting in the kernel:
//! the accept is woken and takes the kept connection at once, rather than
//! wait for another one (which may never come). The sequence, on one
//! thread: an accept (or a stream of accepts) is submitted; a client
//! connects, so that the kernel accepts for it; the accept is dropped
//! before the reactor reads that completion (its cancel finds nothing);
//! a second accept is queued while the backlog is still empty; then the
//! reactor reads the first completion and keeps its socket. TCP and Unix
//! listeners, one-shot accepts and streams of accepts.

use std::future::Future;
use std::io::{Read as _, Write as _};
use std::pin::Pin;
use std::time::Duration;

use uring::net::{TcpListener, UnixListener};
use uring::reactor::{Handle, Reactor};
use uring_tests::{poll_once, watchdog};

/// The accept `second` makes must give the connection the dropped first
/// accept got, within a generous bound: the client writes a byte, which
/// the accepted stream's peer reads back.
fn kept_connection_reaches_a_waiting_accept<L, C>(
    bind: impl FnOnce(&Handle) -> (L, C),
    first: impl Fn(&L) -> Pin<Box<dyn Future<Output = std::io::Result<()>> + '_>>,
    second: impl Fn(&L) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<u8>>> + '_>>,
    connect: impl FnOnce(&C) -> Box<dyn std::io::Write>,
) {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (listener, addr) = bind(&h);
    let mut a1 = first(&listener);
    assert!(poll_once(&mut a1).is_pending());
    reactor.submit().unwrap();
    let mut client = connect(&addr);
    client.write_all(b"k").unwrap();
    // Dropped with its completion unread: the cancel (submitted at once)
    // finds the accept done; its socket reaches the backlog when the
    // reactor reads the completion.
    drop(a1);
    let mut a2 = second(&listener);
    assert!(poll_once(&mut a2).is_pending(), "nothing kept yet");
    let got = reactor
        .run_until(h.timeout(Duration::from_secs(5), a2))
        .unwrap()
        .expect("the waiting accept did not take the kept connection")
        .unwrap();
    assert_eq!(got, b"k");
    drop(client);
}

#[test]
fn a_tcp_accept_waiting_in_the_kernel_takes_a_kept_connection() {
    kept_connection_reaches_a_waiting_accept(
        |h| {
            let l = TcpListener::bind(h, "127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = l.local_addr().unwrap();
            (l, addr)
        },
        |l| Box::pin(async move { l.accept().await.map(drop) }),
        |l| {
            Box::pin(async move {
                let s = l.accept().await?;
                // Zeroed, so that memcheck (which sees no write the kernel
                // makes through the ring) takes the bytes for initialised.
                let (res, buf) = s.read(vec![0u8; 8]).await;
                res.map(|n| buf[..n].to_vec())
            })
        },
        |addr| Box::new(std::net::TcpStream::connect(addr).unwrap()),
    );
}

#[test]
fn a_tcp_stream_of_accepts_waiting_in_the_kernel_takes_a_kept_connection() {
    kept_connection_reaches_a_waiting_accept(
        |h| {
            let l = TcpListener::bind(h, "127.0.0.1:0".parse().unwrap()).unwrap();
            let addr = l.local_addr().unwrap();
            (l, addr)
        },
        |l| {
            Box::pin(async move {
                let mut incoming = l.incoming();
                incoming.next().await.unwrap().map(drop)
            })
        },
        |l| {
            Box::pin(async move {
                let mut incoming = l.incoming();
                let s = incoming.next().await.unwrap()?;
                // Zeroed, so that memcheck (which sees no write the kernel
                // makes through the ring) takes the bytes for initialised.
                let (res, buf) = s.read(vec![0u8; 8]).await;
                res.map(|n| buf[..n].to_vec())
            })
        },
        |addr| Box::new(std::net::TcpStream::connect(addr).unwrap()),
    );
}

#[test]
fn a_unix_accept_waiting_in_the_kernel_takes_a_kept_connection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sock");
    kept_connection_reaches_a_waiting_accept(
        |h| (UnixListener::bind(h, &path).unwrap(), path.clone()),
        |l| Box::pin(async move { l.accept().await.map(drop) }),
        |l| {
            Box::pin(async move {
                let s = l.accept().await?;
                // Zeroed, so that memcheck (which sees no write the kernel
                // makes through the ring) takes the bytes for initialised.
                let (res, buf) = s.read(vec![0u8; 8]).await;
                res.map(|n| buf[..n].to_vec())
            })
        },
        |path| Box::new(std::os::unix::net::UnixStream::connect(path).unwrap()),
    );
}

/// Many accepts raced against a timeout that drops them, with clients
/// connecting throughout: every client's connection is accepted once, by
/// some accept, however the drops fell (none waits for a connection that
/// was kept).
#[test]
fn accepts_dropped_by_timeouts_lose_no_connection() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = TcpListener::bind(&h, "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut clients = Vec::new();
    let mut got = Vec::new();
    for i in 0..40u8 {
        if i % 2 == 0 {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.write_all(&[i]).unwrap();
            clients.push((i, c));
        }
        // A short timeout drops some accepts after the kernel accepted.
        let r = reactor
            .run_until(h.timeout(Duration::from_micros(50), listener.accept()))
            .unwrap();
        if let Ok(Ok(s)) = r {
            got.push(s);
        }
    }
    while got.len() < clients.len() {
        let s = reactor
            .run_until(h.timeout(Duration::from_secs(5), listener.accept()))
            .unwrap()
            .expect("a connection was lost")
            .unwrap();
        got.push(s);
    }
    let mut seen = Vec::new();
    for s in &got {
        let (res, buf) = reactor.run_until(s.read(vec![0u8; 1])).unwrap();
        assert_eq!(res.unwrap(), 1);
        seen.push(buf[0]);
    }
    seen.sort_unstable();
    let want: Vec<u8> = clients.iter().map(|(i, _)| *i).collect();
    assert_eq!(seen, want);
    // Nothing more is kept: a last accept waits.
    let last = reactor
        .run_until(h.timeout(Duration::from_millis(50), listener.accept()))
        .unwrap();
    assert!(last.is_err(), "an extra connection came out");
    for (_, mut c) in clients {
        let mut b = [0u8; 1];
        c.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        let _ = c.read(&mut b);
    }
}
