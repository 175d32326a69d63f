//! `uring::net` over the reactor: TCP and UDP on loopback, deadlines, many
//! connections through a small ring, and tokio's traits on a tokio
//! runtime.

use std::cell::Cell;
use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uring::BufferGroup;
use uring::Ring;
use uring::net::{TcpListener, TcpStream, UdpSocket};
use uring::reactor::{IoBuf, Reactor};

use uring_tests::skip;

fn any() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[test]
fn tcp_echo_through_owned_buffers_and_a_buffer_ring() {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let group = reactor
        .register_buf_ring(BufferGroup::new(7), 8, 4096)
        .unwrap();
    let listener = TcpListener::bind(&h, any()).unwrap();
    let addr = listener.local_addr().unwrap();
    // The server echoes what it receives, the received buffers sent as
    // they are.
    h.spawn(async move {
        let conn = listener.accept().await.unwrap();
        assert_eq!(conn.peer_addr().unwrap().ip(), addr.ip());
        while let Some(buf) = conn.recv_ring(group).await.unwrap() {
            let (r, _buf) = conn.write_all(buf).await;
            r.unwrap();
        }
    });
    let h2 = h.clone();
    let total = reactor
        .run_until(async move {
            let client = TcpStream::connect(&h2, addr).await.unwrap();
            client.set_nodelay(true).unwrap();
            let mut total = 0;
            let mut back = Vec::with_capacity(70_000);
            for i in 0..20usize {
                let msg: Vec<u8> = (0..(i * 3001) % 65536 + 1).map(|j| (i + j) as u8).collect();
                let (r, msg) = client.write_all(msg).await;
                r.unwrap();
                back.clear();
                while back.len() < msg.len() {
                    let (n, buf) = client.read(vec![0; 8192]).await;
                    let n = n.unwrap();
                    assert!(n > 0);
                    back.extend_from_slice(&buf[..n]);
                }
                assert_eq!(back, msg);
                total += msg.len();
            }
            client.shutdown(std::net::Shutdown::Write).await.unwrap();
            let (n, _) = client.read(vec![0; 16]).await;
            assert_eq!(n.unwrap(), 0, "the server closed after our end");
            total
        })
        .unwrap();
    assert!(total > 500_000);
    reactor.run().unwrap();
}

#[test]
fn read_and_write_deadlines() {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = std::net::TcpListener::bind(any()).unwrap();
    let addr = listener.local_addr().unwrap();
    let (elapsed, err) = reactor
        .run_until(async move {
            let mut client = TcpStream::connect(&h, addr).await.unwrap();
            let (_server, _) = listener.accept().unwrap();
            let start = Instant::now();
            client.set_read_deadline(Some(start + Duration::from_millis(100)));
            let (r, buf) = client.read(vec![0; 8]).await;
            assert_eq!(buf.len(), 8, "the buffer comes back");
            let err = r.unwrap_err();
            let elapsed = start.elapsed();
            // A past deadline fails at once, without an op.
            let (r, _) = client.read(vec![0; 8]).await;
            assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
            // Taking the deadline away: reads work again.
            client.set_deadline(None);
            (elapsed, err)
        })
        .unwrap();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut, "{err}");
    assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[test]
fn ten_thousand_connections_through_a_64_entry_ring() {
    const CONNS: usize = 10_000;
    if !uring_tests::raise_nofile(2 * CONNS as u64 + 1000) {
        return skip("RLIMIT_NOFILE cannot be raised to 21000");
    }
    let reactor = Reactor::from_ring(Ring::new(64).unwrap()).unwrap();
    let h = reactor.handle();
    let listener = TcpListener::bind(&h, any()).unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Rc::new(Cell::new(0usize));
    let echoed = Rc::new(Cell::new(0usize));
    let (hs, a) = (h.clone(), accepted.clone());
    h.spawn(async move {
        let mut incoming = listener.incoming();
        while a.get() < CONNS {
            let conn = incoming.next().await.unwrap().unwrap();
            a.set(a.get() + 1);
            hs.spawn(async move {
                let (n, buf) = conn.read(vec![0; 8]).await;
                let n = n.unwrap();
                let (r, _) = conn.write_all(buf.slice(..n)).await;
                r.unwrap();
                let (n, _) = conn.read(vec![0; 8]).await;
                assert_eq!(n.unwrap(), 0);
            });
        }
    });
    for i in 0..CONNS {
        let (h, e) = (h.clone(), echoed.clone());
        h.clone().spawn(async move {
            let conn = TcpStream::connect(&h, addr).await.unwrap();
            let msg = (i as u64).to_le_bytes().to_vec();
            let (r, msg) = conn.write_all(msg).await;
            r.unwrap();
            let (n, back) = conn.read(vec![0; 8]).await;
            assert_eq!(n.unwrap(), 8);
            assert_eq!(back, msg);
            e.set(e.get() + 1);
        });
    }
    let start = Instant::now();
    reactor.run().unwrap();
    assert_eq!(accepted.get(), CONNS);
    assert_eq!(echoed.get(), CONNS, "every connection echoed, none lost");
    assert_eq!(reactor.in_flight(), 0);
    eprintln!("{CONNS} connections in {:?}", start.elapsed());
}

#[test]
fn udp_datagrams() {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let group = reactor
        .register_buf_ring(BufferGroup::new(2), 4, 2048)
        .unwrap();
    let a = UdpSocket::bind(&h, any()).unwrap();
    let b = UdpSocket::bind(&h, any()).unwrap();
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    reactor
        .run_until(async move {
            let (r, _) = a.send_to(b"to b".to_vec(), b_addr).await;
            assert_eq!(r.unwrap(), 4);
            let (r, buf) = b.recv_from(vec![0; 64]).await;
            let (n, from) = r.unwrap();
            assert_eq!((&buf[..n], from), (&b"to b"[..], a_addr));
            assert_eq!(
                b.peer_addr().unwrap_err().raw_os_error(),
                Some(libc::ENOTCONN)
            );
            b.connect(a_addr).unwrap();
            a.connect(b_addr).unwrap();
            assert_eq!(
                (a.peer_addr().unwrap(), b.peer_addr().unwrap()),
                (b_addr, a_addr)
            );
            let (r, _) = b.send(&b"back to a"[..]).await;
            assert_eq!(r.unwrap(), 9);
            let got = a.recv_ring(group).await.unwrap();
            assert_eq!(&got[..], b"back to a");
            // The ring's buffer goes out again as it is.
            let (r, got) = a.send(got).await;
            assert_eq!(r.unwrap(), 9);
            drop(got);
            let (r, buf) = b.recv(Vec::with_capacity(16)).await;
            assert_eq!(r.unwrap(), 9);
            assert_eq!(buf, b"back to a");
        })
        .unwrap();
}

#[test]
fn tokio_drives_the_reactor_and_its_streams_are_async_read_write() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let copied = local.block_on(&runtime, async {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        tokio::task::spawn_local(reactor.into_tokio().unwrap());
        let listener = TcpListener::bind(&h, any()).unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::task::spawn_local(async move {
            let mut conn = listener.accept().await.unwrap();
            let (mut r, mut w) = tokio::io::split(&mut conn);
            let n = tokio::io::copy(&mut r, &mut w).await.unwrap();
            w.shutdown().await.unwrap();
            n
        });
        let client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let (mut cr, mut cw) = client.into_split();
        let sent = data.clone();
        let send = tokio::task::spawn_local(async move {
            cw.write_all(&sent).await.unwrap();
            cw.shutdown().await.unwrap();
        });
        let mut back = Vec::new();
        let n = cr.read_to_end(&mut back).await;
        send.await.unwrap();
        assert_eq!(n.unwrap(), data.len());
        assert_eq!(back, data);
        // A deadline through the traits.
        let listener = TcpListener::bind(&h, any()).unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut conn = listener.accept().await.unwrap();
        let start = Instant::now();
        conn.set_read_deadline(Some(start + Duration::from_millis(50)));
        let err = AsyncReadExt::read(&mut conn, &mut [0u8; 4])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert!(start.elapsed() >= Duration::from_millis(50));
        h.shutdown();
        server.await.unwrap()
    });
    assert_eq!(copied, 1_000_000);
}

#[test]
fn a_plain_std_client_against_an_incoming_loop() {
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let listener = TcpListener::bind_reuseport(&h, any()).unwrap();
    let addr = listener.local_addr().unwrap();
    let client = std::thread::spawn(move || {
        for i in 0..10u8 {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.write_all(&[i; 3]).unwrap();
            let mut back = [0u8; 3];
            s.read_exact(&mut back).unwrap();
            assert_eq!(back, [i; 3]);
        }
    });
    let hs = h.clone();
    reactor
        .run_until(async move {
            let mut incoming = listener.incoming();
            for _ in 0..10 {
                let conn = incoming.next().await.unwrap().unwrap();
                hs.spawn(async move {
                    let (n, buf) = conn.read(vec![0; 3]).await;
                    let (r, _) = conn.write_all(buf.slice(..n.unwrap())).await;
                    r.unwrap();
                });
            }
        })
        .unwrap();
    reactor.run().unwrap();
    client.join().unwrap();
}

/// tokio asleep in `epoll_wait` while the kernel completes a receive: the
/// completion's task work must wake it, with each setup tokio can drive.
#[test]
fn tokio_asleep_in_epoll_is_woken_by_a_completion() {
    type Setup = (&'static str, fn() -> Reactor);
    let setups: [Setup; 3] = [
        ("Reactor::new", || Reactor::new().unwrap()),
        ("a plain ring", || {
            Reactor::from_ring(Ring::new(8).unwrap()).unwrap()
        }),
        ("coop_taskrun, created on another thread", || {
            let ring = std::thread::spawn(|| {
                Ring::builder()
                    .single_issuer()
                    .coop_taskrun()
                    .taskrun_flag()
                    .r_disabled()
                    .build(8)
                    .unwrap()
            })
            .join()
            .unwrap();
            Reactor::from_ring(ring).unwrap()
        }),
    ];
    for (name, setup) in setups {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        let (got, waited) = local.block_on(&runtime, async {
            let reactor = setup();
            let h = reactor.handle();
            tokio::task::spawn_local(reactor.into_tokio().unwrap());
            let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
            let fd = uring::reactor::SharedFd::new(a);
            // Timed from before the writer starts its 100 ms.
            let start = Instant::now();
            let writer = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                b.write_all(b"late").unwrap();
                b
            });
            let recv = h.op(uring::reactor::ops::Recv::new(&fd, vec![0u8; 8]));
            let (r, buf) = tokio::time::timeout(Duration::from_secs(10), recv)
                .await
                .unwrap_or_else(|_| panic!("{name}: the receive never completed"));
            let waited = start.elapsed();
            drop(writer.join().unwrap());
            h.shutdown();
            (r.map(|n| buf[..n as usize].to_vec()), waited)
        });
        assert_eq!(got.unwrap(), b"late", "{name}");
        assert!(waited >= Duration::from_millis(100), "{name}: {waited:?}");
    }
}

#[test]
fn tokio_refuses_a_ring_with_deferred_task_work() {
    let ring = match Ring::builder().single_issuer().defer_taskrun().build(8) {
        Ok(ring) => ring,
        Err(e) => return skip(format!("defer_taskrun: {e}")),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _entered = runtime.enter();
    let reactor = Reactor::from_ring(ring).unwrap();
    let err = reactor.into_tokio().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("defer_taskrun"), "{err}");
}
