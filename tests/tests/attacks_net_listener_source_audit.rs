//! `uring::net`'s listeners, accepted connections, connects, half-closes
//! and datagrams, and hyper serving over them through the `tokio` feature,
//! checked from safe code against what Linux 6.18 does with the ops the
//! library queues:
//!
//! - `io_accept_prep` (io_uring/net.c) reads `RLIMIT_NOFILE` once, when
//!   the SQE is prepared, and `io_accept` allocates each descriptor under
//!   that number (`__get_unused_fd_flags(.., accept->nofile)`): an armed
//!   stream of connections keeps the limit of its arming, and a full table
//!   ends the multishot accept with `-EMFILE` before `do_accept` takes the
//!   connection off the queue. `Incoming` arms a new accept at each next
//!   item: an `EMFILE` per `next`, promptly, one accept in flight at most,
//!   and every waiting connection accepted once a slot is free;
//! - the completions of a multishot accept posted before its stream was
//!   dropped, read only after (the reactor's orphaned multishot slot makes
//!   and drops each item): every socket the kernel accepted is closed once
//!   (counted in `/proc/self/fd`, in a process of the test's own), and
//!   what it did not accept stays queued for the next accept;
//! - `io_connect`: a non-blocking `__sys_connect_file`, `-EINPROGRESS`
//!   turned into a poll and a second connect whose `-EISCONN` (or error)
//!   gives `sock_error`: every destination fails with the errno std's
//!   blocking `connect(2)` gets (`tcp_v4_connect` / `tcp_v6_connect` for
//!   broadcast, multicast, unscoped link-local; `ECONNREFUSED` from the
//!   RST), succeeds where it succeeds, and leaks no socket; a connect to an
//!   address nobody answers, bounded by a timer and dropped, leaves no
//!   socket in `SYN_SENT`;
//! - `io_sendmsg` / `io_recvmsg` of datagrams (`msg_name`, `MSG_TRUNC`):
//!   sends fail with `sendto(2)`'s errno for every destination, and
//!   receives give what `recvfrom(2)` gives: the byte count cut to the
//!   buffer (the truncation is not reported, by either), zero-length
//!   datagrams, IPv4 senders of a dual-stack socket as mapped addresses;
//! - `io_shutdown` of the write side while a receive waits on the socket
//!   (`inet_shutdown` leaves the read side alone): the peer sees its end,
//!   answers, and the receive gets the answer, then the end;
//! - hyper's HTTP/1.1 server (`uring_examples::net::serve_http`, hyper
//!   over `TokioIo<TcpStream>`): pipelined requests on one connection
//!   answered in order, through one receive per read and through buffer
//!   rings of small buffers that run dry; requests whose headers and body
//!   span many ring buffers; `Connection: close` ending in the server's
//!   `poll_shutdown` (a FIN, after the last response); clients that send
//!   half a request and then end the stream, reset it, or pause: the
//!   server's socket is closed (its inode leaves `/proc/self/fd`) or, for
//!   the pause, the request completes; the server goes on serving.
//!
//! Each test asserts what really happened: errnos compared with std's on
//! the same destination, descriptor counts, peers accepted once each, the
//! bytes on the wire and the HTTP responses in order.

use std::collections::HashSet;
use std::future::Future;
use std::io::{self, BufRead as _, BufReader, Read as _, Write as _};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uring::BufferGroup;
use uring::net::{TcpListener, TcpStream, UdpSocket};
use uring::reactor::Reactor;
use uring::reactor::ops::Timeout;
use uring_tests::net::{any, drive, peer};
use uring_tests::{pattern, run_for, watchdog};

fn errno<T>(r: &io::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(io::Error::raw_os_error)
}

/// Sets this process's (soft) descriptor limit to `limit`.
fn set_nofile(limit: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit(2) writes the struct, alive for the call.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    lim.rlim_cur = limit;
    // SAFETY: setrlimit(2) reads the struct, alive for the call; the
    // process is this test's alone (a child of its own).
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    assert_eq!(rc, 0, "setrlimit: {}", io::Error::last_os_error());
}

/// The lowest descriptor number not open now.
fn lowest_free() -> i32 {
    let f = std::fs::File::open("/dev/null").unwrap();
    f.as_raw_fd()
}

/// Whether `c` reads the end of its stream (or a reset) within `bound`;
/// false if it is still open, with nothing to read, at the bound.
fn ends_within(c: &mut std::net::TcpStream, bound: Duration) -> bool {
    c.set_read_timeout(Some(bound)).unwrap();
    let mut b = [0u8; 16];
    match c.read(&mut b) {
        Ok(0) => true,
        Ok(n) => panic!("{n} unexpected bytes"),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            false
        }
        Err(_) => true,
    }
}

// ---------------------------------------------------------------------------
// Accepts under a full descriptor table, and dropped with completions queued
// ---------------------------------------------------------------------------

/// Run in a process of its own (the limit is the process's). A stream of
/// connections armed under a high limit keeps it after the limit falls
/// below the lowest free descriptor: its accept hands out a descriptor
/// past the new limit (`io_accept_prep` read the limit when the SQE was
/// prepared), while a one-shot accept prepared after the fall fails with
/// `EMFILE`, the connection left queued. A stream armed under the low
/// limit yields `EMFILE` at each `next`, within two seconds, with never
/// more than one accept in flight (no pile-up, no hang, no end); once the
/// limit rises, the next two items are the two waiting clients, each once,
/// and both echo. At the end the process holds exactly what it held
/// before.
#[test]
fn accepts_under_a_full_descriptor_table_fail_at_each_next_and_lose_no_connection() {
    let name = "accepts_under_a_full_descriptor_table_fail_at_each_next_and_lose_no_connection";
    uring_tests::in_own_process(name, "an accept that never ended", || {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let listener = TcpListener::bind(&h, any()).unwrap();
        let addr = listener.local_addr().unwrap();
        let base = peer::open_fds();
        // Three numbers kept for the clients, each freed right before its
        // `socket(2)` takes it: the table stays full for the accepts.
        let mut kept: Vec<std::fs::File> = (0..3)
            .map(|_| std::fs::File::open("/dev/null").unwrap())
            .collect();
        let low = lowest_free();
        set_nofile(low as u64 + 64);

        // Armed under the high limit, which then falls.
        let mut armed = listener.incoming();
        let mut cx = uring_tests::net::noop_cx();
        assert!(armed.poll_next(&mut cx).is_pending());
        reactor.submit().unwrap();
        run_for(&reactor, 5);
        set_nofile(low as u64);
        drop(kept.pop());
        let mut c1 = std::net::TcpStream::connect(addr).unwrap();
        let s1 = reactor
            .run_until(armed.next())
            .unwrap()
            .unwrap()
            .expect("the stream armed under the old limit accepts");
        assert!(
            s1.as_fd().as_raw_fd() >= low,
            "a descriptor under the new limit ({low}): {}",
            s1.as_fd().as_raw_fd()
        );
        drop(armed);
        run_for(&reactor, 5);
        assert_eq!(reactor.in_flight(), 0, "the dropped stream's accept");

        // Prepared under the low limit: refused, the client left queued.
        drop(kept.pop());
        let c2 = std::net::TcpStream::connect(addr).unwrap();
        let r = reactor.run_until(listener.accept()).unwrap();
        assert_eq!(errno(&r), Some(libc::EMFILE), "{r:?}");
        let mut incoming = listener.incoming();
        for i in 0..12 {
            let item = drive(&reactor, Duration::from_secs(2), || {
                match incoming.poll_next(&mut cx) {
                    Poll::Ready(item) => Some(item),
                    Poll::Pending => None,
                }
            })
            .unwrap_or_else(|| panic!("{i}: no item within 2 s"));
            match item {
                Some(Err(e)) => assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{i}: {e}"),
                Some(Ok(s)) => panic!("{i}: a connection past a full table: {s:?}"),
                None => panic!("{i}: the stream ended on a live reactor"),
            }
            assert!(reactor.in_flight() <= 1, "{i}: accepts pile up");
        }
        drop(kept.pop());
        let c3 = std::net::TcpStream::connect(addr).unwrap();
        set_nofile(low as u64 + 64);
        let mut taken = Vec::new();
        while taken.len() < 2 {
            match reactor.run_until(incoming.next()).unwrap() {
                Some(Ok(s)) => taken.push(s),
                // An error item already queued under the low limit.
                Some(Err(e)) if e.raw_os_error() == Some(libc::EMFILE) => {}
                other => panic!("after the limit rose: {other:?}"),
            }
        }
        drop(incoming);
        run_for(&reactor, 5);
        let ports: HashSet<u16> = taken
            .iter()
            .map(|s| s.peer_addr().unwrap().port())
            .collect();
        let want: HashSet<u16> = [&c2, &c3]
            .iter()
            .map(|c| c.local_addr().unwrap().port())
            .collect();
        assert_eq!(ports, want, "each waiting client once");
        for mut c in [c2, c3] {
            let port = c.local_addr().unwrap().port();
            let s = taken
                .iter()
                .find(|s| s.peer_addr().unwrap().port() == port)
                .unwrap();
            let (r, _) = reactor
                .run_until(s.write_all(port.to_le_bytes().to_vec()))
                .unwrap();
            r.unwrap();
            let mut got = [0u8; 2];
            c.read_exact(&mut got).unwrap();
            assert_eq!(u16::from_le_bytes(got), port);
        }
        c1.write_all(b"s1").unwrap();
        let (r, buf) = reactor.run_until(s1.read(vec![0u8; 4])).unwrap();
        assert_eq!(&buf[..r.unwrap()], b"s1");
        drop((s1, taken, c1));
        run_for(&reactor, 5);
        assert_eq!(reactor.in_flight(), 0);
        assert_eq!(peer::open_fds(), base, "descriptors leaked or closed");
    });
}

/// Run in a process of its own. Sixteen clients connect from the
/// reactor's thread while its stream of connections is armed: the accept's
/// task work runs as each `connect(2)` returns, posting sockets the reactor
/// has not read. The stream is then dropped: the reactor reads those
/// completions for an orphaned slot and hands each socket to the
/// listener's backlog. No client reads its end: each is either kept by the
/// listener (its next accepts hand them out, oldest first) or still
/// queued in the kernel, and a plain accept takes it; none is both, none
/// is lost; nothing is left in flight. The listener dropped closes each
/// kept socket once, and afterwards the process holds exactly the
/// descriptors it held before (none leaked, none closed twice: files
/// opened after the drop stay open).
#[test]
fn a_stream_of_connections_dropped_with_accepts_unread_keeps_each_socket_once() {
    let name = "a_stream_of_connections_dropped_with_accepts_unread_keeps_each_socket_once";
    uring_tests::in_own_process(name, "an accept that never ended", || {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let listener = TcpListener::bind(&h, any()).unwrap();
        let addr = listener.local_addr().unwrap();
        let base = peer::open_fds();
        let mut incoming = listener.incoming();
        let mut cx = uring_tests::net::noop_cx();
        assert!(incoming.poll_next(&mut cx).is_pending());
        reactor.submit().unwrap();
        let mut clients: Vec<std::net::TcpStream> = (0..16)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        drop(incoming);
        let canaries: Vec<std::fs::File> = (0..4)
            .map(|_| std::fs::File::open("/dev/null").unwrap())
            .collect();
        run_for(&reactor, 20);
        assert_eq!(reactor.in_flight(), 0, "the dropped stream's accept");
        for c in &canaries {
            assert!(
                uring_tests::fd_is_open(c.as_raw_fd()),
                "a descriptor opened after the drop was closed"
            );
        }
        // What is still queued in the kernel, taken without waiting.
        let dup = std::net::TcpListener::from(listener.as_fd().try_clone_to_owned().unwrap());
        dup.set_nonblocking(true).unwrap();
        let mut later = Vec::new();
        loop {
            match dup.accept() {
                Ok((s, peer)) => later.push((s, peer.port())),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("accept: {e}"),
            }
        }
        for c in &mut clients {
            assert!(
                !ends_within(c, Duration::from_millis(5)),
                "a connection accepted for the dropped stream was closed"
            );
        }
        let later_ports: HashSet<u16> = later.iter().map(|&(_, p)| p).collect();
        let kept = clients.len() - later.len();
        if kept == 0 {
            eprintln!("note: no accept completed before the drop; all were queued");
        }
        assert_eq!(
            peer::open_fds(),
            base + clients.len() + later.len() + canaries.len() + 1 + kept,
            "descriptors leaked or closed"
        );
        // The listener's accepts hand out the kept ones, in the order they
        // connected, and nothing else (the kernel's queue is empty).
        let kept_ports: Vec<u16> = clients
            .iter()
            .map(|c| c.local_addr().unwrap().port())
            .filter(|p| !later_ports.contains(p))
            .collect();
        let handed: Vec<_> = (0..kept / 2)
            .map(|_| reactor.run_until(listener.accept()).unwrap().unwrap())
            .collect();
        let handed_ports: Vec<u16> = handed
            .iter()
            .map(|s| s.peer_addr().unwrap().port())
            .collect();
        assert_eq!(
            handed_ports[..],
            kept_ports[..kept / 2],
            "kept in their order"
        );
        // The rest close with the listener, once each.
        drop(listener);
        for c in &mut clients {
            let port = c.local_addr().unwrap().port();
            if kept_ports[kept / 2..].contains(&port) {
                assert!(
                    ends_within(c, Duration::from_secs(2)),
                    "a kept connection outlived its listener"
                );
            } else {
                assert!(!ends_within(c, Duration::from_millis(5)));
            }
        }
        drop((handed, later, dup, canaries, clients));
        // The listener, counted in `base`, is closed too.
        assert_eq!(
            peer::open_fds(),
            base - 1,
            "descriptors leaked or closed twice"
        );
    });
}

// ---------------------------------------------------------------------------
// Connects
// ---------------------------------------------------------------------------

/// Run in a process of its own. `TcpStream::connect` to each destination
/// ends as std's blocking `connect(2)` does: a port nobody listens on
/// (IPv4, IPv6, the unspecified addresses, port 0) with `ECONNREFUSED`,
/// the broadcast and a multicast address, an unscoped IPv6 multicast with
/// `ENETUNREACH`, an unscoped link-local IPv6 address with `EINVAL`, and an
/// IPv4-mapped IPv6 address of a live IPv4 listener with a connection,
/// which carries bytes. The errno is compared with std's on the same
/// destination, not written down. No socket of a failed connect is left.
#[test]
fn connects_end_as_std_s_connect_does_on_every_destination() {
    let name = "connects_end_as_std_s_connect_does_on_every_destination";
    uring_tests::in_own_process(name, "a connect that never ended", || {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let closed = {
            let l = std::net::TcpListener::bind(any()).unwrap();
            l.local_addr().unwrap().port()
        };
        let live = std::net::TcpListener::bind(any()).unwrap();
        let live_port = live.local_addr().unwrap().port();
        let dests: Vec<(String, bool)> = vec![
            (format!("127.0.0.1:{closed}"), false),
            ("127.0.0.1:0".into(), false),
            (format!("0.0.0.0:{closed}"), false),
            (format!("[::1]:{closed}"), false),
            (format!("[::]:{closed}"), false),
            ("255.255.255.255:80".into(), false),
            ("224.0.0.1:80".into(), false),
            ("[ff02::1]:80".into(), false),
            ("[fe80::1]:80".into(), false),
            (format!("[::ffff:127.0.0.1]:{live_port}"), true),
            (format!("127.0.0.1:{live_port}"), true),
        ];
        let base = peer::open_fds();
        for (dest, connects) in &dests {
            let dest: SocketAddr = dest.parse().unwrap();
            let std_result = std::net::TcpStream::connect(dest);
            let std_errno = errno(&std_result);
            if let Ok(s) = std_result {
                drop(live.accept().unwrap());
                drop(s);
            }
            let ours = reactor.run_until(TcpStream::connect(&h, dest)).unwrap();
            assert_eq!(errno(&ours), std_errno, "{dest}: {ours:?}");
            assert_eq!(ours.is_ok(), *connects, "{dest}: {ours:?}");
            if let Ok(s) = ours {
                let (mut peer, _) = live.accept().unwrap();
                let (r, _) = reactor.run_until(s.write_all(b"over".to_vec())).unwrap();
                r.unwrap();
                let mut got = [0u8; 4];
                peer.read_exact(&mut got).unwrap();
                assert_eq!(&got, b"over", "{dest}");
                assert_eq!(s.peer_addr().unwrap().port(), live_port, "{dest}");
            } else {
                let kind = ours.as_ref().unwrap_err().kind();
                let std_kind = std::net::TcpStream::connect(dest).unwrap_err().kind();
                assert_eq!(kind, std_kind, "{dest}: the error's kind");
            }
            run_for(&reactor, 2);
            assert_eq!(reactor.in_flight(), 0, "{dest}");
            assert_eq!(peer::open_fds(), base, "{dest}: a socket left open");
        }
    });
}

/// The connections of this process in `SYN_SENT` to port `port` of
/// 127.0.0.1 (from `/proc/net/tcp`).
fn syn_sent_to(port: u16) -> usize {
    let rem = format!("0100007F:{port:04X}");
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.len() > 3 && cols[2] == rem && cols[3] == "02"
        })
        .count()
}

/// Run in a process of its own. A listener whose accept queue is full
/// (a backlog of 0, one client queued) drops every SYN: a connect to it
/// is never answered. std's `connect_timeout` of 300 ms times out; ours,
/// raced against a timer of the same length, is still waiting at the
/// bound, its SYN unanswered (one connection in `SYN_SENT` to the port);
/// dropped, it is cancelled, its socket closed (none in `SYN_SENT`,
/// nothing in flight, the process's descriptors as before), and the
/// listener, once its queue is emptied, gets no connection from it.
#[test]
fn a_connect_nobody_answers_bounded_by_a_timer_and_dropped_leaves_no_socket() {
    let name = "a_connect_nobody_answers_bounded_by_a_timer_and_dropped_leaves_no_socket";
    uring_tests::in_own_process(name, "a connect that never ended", || {
        let reactor = Reactor::new().unwrap();
        let h = reactor.handle();
        let listener = std::net::TcpListener::bind(any()).unwrap();
        // SAFETY: listen(2) again on a listening socket the test owns only
        // changes its backlog.
        assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
        let dest = listener.local_addr().unwrap();
        let queued = std::net::TcpStream::connect(dest).unwrap();
        let bound = Duration::from_millis(300);
        let base = peer::open_fds();
        let std_result = std::net::TcpStream::connect_timeout(&dest, bound);
        assert_eq!(
            std_result.as_ref().map_err(io::Error::kind).err(),
            Some(io::ErrorKind::TimedOut),
            "std's connect: {std_result:?}"
        );
        assert_eq!(syn_sent_to(dest.port()), 0, "std's timed-out socket");
        let mut connect = Box::pin(TcpStream::connect(&h, dest));
        let mut timer = h.op(Timeout::new(bound));
        let outcome = reactor
            .run_until(std::future::poll_fn(|cx| {
                if let Poll::Ready(r) = connect.as_mut().poll(cx) {
                    return Poll::Ready(Some(r));
                }
                if Pin::new(&mut timer).poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                Poll::Pending
            }))
            .unwrap();
        assert!(outcome.is_none(), "the connect ended: {outcome:?}");
        assert_eq!(syn_sent_to(dest.port()), 1, "the connect's SYN waits");
        drop(connect);
        drive(&reactor, Duration::from_secs(5), || {
            (h.in_flight() == 0).then_some(())
        })
        .expect("the cancelled connect ends");
        assert_eq!(
            syn_sent_to(dest.port()),
            0,
            "the cancelled connect's socket is open"
        );
        assert_eq!(peer::open_fds(), base, "a socket left open");
        // The queue emptied: only the client queued before is there.
        listener.set_nonblocking(true).unwrap();
        let (first, from) = listener.accept().unwrap();
        assert_eq!(from, queued.local_addr().unwrap());
        drop(first);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            listener.accept().map(|(_, a)| a).map_err(|e| e.kind()),
            Err(io::ErrorKind::WouldBlock),
            "a connection from the cancelled connect"
        );
    });
}

// ---------------------------------------------------------------------------
// Datagrams
// ---------------------------------------------------------------------------

/// `send_to` from an IPv4 socket and from a dual-stack IPv6 one to each of
/// a list of destinations (port 0, the broadcast address without
/// `SO_BROADCAST`, multicast, the unspecified address, a class E address,
/// another family, unscoped link-local and multicast IPv6, IPv4 given to
/// the IPv6 socket) ends as std's `send_to` on a twin socket does: the
/// same byte count or the same errno, and the buffer comes back whole.
#[test]
fn datagram_sends_end_as_std_s_send_to_does_on_every_destination() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let v4: SocketAddr = any();
    let v6: SocketAddr = "[::]:0".parse().unwrap();
    let dests = [
        "127.0.0.1:0",
        "255.255.255.255:9",
        "224.0.0.1:9",
        "0.0.0.0:9",
        "240.0.0.1:9",
        "127.0.0.1:9",
        "[::1]:9",
        "[::1]:0",
        "[fe80::1]:9",
        "[ff02::1]:9",
        "[::ffff:127.0.0.1]:9",
        "[::]:9",
    ];
    for bind in [v4, v6] {
        let ours = UdpSocket::bind(&h, bind).unwrap();
        let twin = std::net::UdpSocket::bind(bind).unwrap();
        for dest in dests {
            let dest: SocketAddr = dest.parse().unwrap();
            let data = pattern(32, 3);
            let want = twin.send_to(&data, dest);
            let (got, buf) = reactor.run_until(ours.send_to(data.clone(), dest)).unwrap();
            assert_eq!(buf, data, "{bind} -> {dest}: the buffer");
            match (&want, &got) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{bind} -> {dest}"),
                (Err(a), Err(b)) => assert_eq!(
                    a.raw_os_error(),
                    b.raw_os_error(),
                    "{bind} -> {dest}: {a} / {b}"
                ),
                _ => panic!("{bind} -> {dest}: std {want:?}, ours {got:?}"),
            }
        }
    }
    assert_eq!(reactor.in_flight(), 0);
}

/// A dual-stack IPv6 socket of ours and a std twin receive the same
/// datagrams, each into 8 bytes, from an IPv4 and an IPv6 sender: of 0, 1,
/// 8, 9, 1000 and 65507 bytes. Each receive gives what std's `recv_from`
/// gives: the count (cut to 8, the truncation reported by neither), the
/// sender (IPv4 ones as mapped addresses), the bytes; nothing of a cut
/// datagram is left for the next receive.
#[test]
fn datagram_receives_give_what_std_s_recv_from_gives() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let ours = UdpSocket::bind(&h, "[::]:0".parse().unwrap()).unwrap();
    let twin = std::net::UdpSocket::bind("[::]:0").unwrap();
    let to_ours = |ip: &str| -> SocketAddr {
        format!("{ip}:{}", ours.local_addr().unwrap().port())
            .parse()
            .unwrap()
    };
    let to_twin = |ip: &str| -> SocketAddr {
        format!("{ip}:{}", twin.local_addr().unwrap().port())
            .parse()
            .unwrap()
    };
    let s4 = std::net::UdpSocket::bind(any()).unwrap();
    let s6 = std::net::UdpSocket::bind("[::1]:0").unwrap();
    let sizes = [0usize, 1, 8, 9, 1000, 65507];
    for (sender, ip) in [(&s4, "127.0.0.1"), (&s6, "[::1]")] {
        for &n in &sizes {
            let data = pattern(n, n as u8);
            assert_eq!(sender.send_to(&data, to_ours(ip)).unwrap(), n);
            assert_eq!(sender.send_to(&data, to_twin(ip)).unwrap(), n);
        }
    }
    for (i, _) in sizes.iter().chain(sizes.iter()).enumerate() {
        let mut want = [0x55u8; 8];
        let (wn, wfrom) = twin.recv_from(&mut want).unwrap();
        let (r, got) = reactor
            .run_until(ours.recv_from(Vec::with_capacity(8)))
            .unwrap();
        let (n, from) = r.unwrap();
        assert_eq!(
            (n, from.port(), from.ip()),
            (wn, wfrom.port(), wfrom.ip()),
            "datagram {i}"
        );
        assert_eq!(got, want[..wn], "datagram {i}: the bytes");
    }
    // Nothing is left of the cut ones.
    s4.send_to(b"next", to_ours("127.0.0.1")).unwrap();
    let (r, got) = reactor.run_until(ours.recv_from(vec![0u8; 64])).unwrap();
    assert_eq!(&got[..r.unwrap().0], b"next");
}

// ---------------------------------------------------------------------------
// Half-close with a receive in flight
// ---------------------------------------------------------------------------

/// A stream shuts its write side down (the stream's `shutdown`, and
/// tokio's `AsyncWriteExt::shutdown`) while a receive of its own waits on
/// the socket (a plain `read`, and a read through `AsyncRead`, one-shot
/// or through a buffer ring): the peer reads the request, then its end;
/// its answer, sent after, reaches the waiting receive whole, then the
/// stream's end. Nothing is left in flight.
#[test]
fn a_write_shutdown_under_a_waiting_receive_lets_the_answer_in() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = uring_tests::net::group_or_skip(&h, 77, 8, 64) else {
        return;
    };
    // A plain read in flight, the stream's own shutdown.
    let (s, mut p) = peer::tcp(&h);
    let (r, _) = reactor.run_until(s.write_all(b"request".to_vec())).unwrap();
    r.unwrap();
    let mut read = Box::pin(s.read(Vec::with_capacity(64)));
    assert!(uring_tests::poll_once(&mut read).is_pending());
    reactor
        .run_until(s.shutdown(std::net::Shutdown::Write))
        .unwrap()
        .unwrap();
    let mut req = Vec::new();
    p.read_to_end(&mut req).unwrap();
    assert_eq!(req, b"request");
    p.write_all(b"answer").unwrap();
    drop(p);
    let (r, buf) = reactor.run_until(read).unwrap();
    assert_eq!(&buf[..r.unwrap()], b"answer");
    let (r, _) = reactor.run_until(s.read(vec![0u8; 8])).unwrap();
    assert_eq!(r.unwrap(), 0);
    drop(s);

    // Through AsyncRead, with and without a ring; tokio's shutdown.
    for ring in [None, Some(group)] {
        let (mut s, mut p) = peer::tcp(&h);
        s.set_read_ring(ring);
        let answer = pattern(3000, 9);
        let got = reactor
            .run_until(async {
                AsyncWriteExt::write_all(&mut s, b"request").await.unwrap();
                let mut first = [0u8; 1];
                // A read that waits, polled once, then the shutdown.
                {
                    let mut pending = std::pin::pin!(AsyncReadExt::read(&mut s, &mut first));
                    assert!(
                        std::future::poll_fn(|cx| Poll::Ready(
                            pending.as_mut().poll(cx).is_pending()
                        ))
                        .await
                    );
                }
                AsyncWriteExt::shutdown(&mut s).await.unwrap();
                let mut req = Vec::new();
                p.read_to_end(&mut req).unwrap();
                assert_eq!(req, b"request");
                p.write_all(&answer).unwrap();
                p.shutdown(std::net::Shutdown::Write).unwrap();
                let mut got = Vec::new();
                AsyncReadExt::read_to_end(&mut s, &mut got).await.unwrap();
                got
            })
            .unwrap();
        assert_eq!(got, answer, "ring {ring:?}");
        drop(s);
        run_for(&reactor, 5);
    }
    assert_eq!(reactor.in_flight(), 0);
}

// ---------------------------------------------------------------------------
// hyper over uring::net
// ---------------------------------------------------------------------------

/// Starts the `http` example's server on a thread of its own (hyper over
/// `uring::net`, driven by tokio): with `ring`, its connections read
/// through a buffer ring of `(count, len)`. Returns its address.
fn start_http(ring: Option<(u16, u32)>) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let local = tokio::task::LocalSet::new();
        let rt = uring_examples::net::runtime().unwrap();
        local.block_on(&rt, async move {
            let reactor = Reactor::new().unwrap();
            let ring = ring.map(|(count, len)| {
                reactor
                    .handle()
                    .register_buf_ring(BufferGroup::new(0), count, len)
                    .unwrap()
            });
            let listener = TcpListener::bind(&reactor, any()).unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            tokio::task::spawn_local(reactor.into_tokio().unwrap());
            uring_examples::net::serve_http(listener, ring).await;
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

/// An HTTP/1.1 response: its status code, its headers (names in lower
/// case), its body.
type Response = (u16, Vec<(String, String)>, Vec<u8>);

/// One HTTP/1.1 response; `None` at the end of the stream before a status
/// line.
fn response(reader: &mut BufReader<std::net::TcpStream>) -> io::Result<Option<Response>> {
    let mut status = String::new();
    if reader.read_line(&mut status)? == 0 {
        return Ok(None);
    }
    let code: u16 = status
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {status:?}"));
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').expect("a header line");
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Some((code, headers, body)))
}

/// A client of `addr` with a read timeout of ten seconds.
fn client(addr: SocketAddr) -> std::net::TcpStream {
    let c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c
}

/// Forty requests written at once on one connection (`GET /` and
/// `GET /missing` in turn, the last with `Connection: close`), to servers
/// that read with one receive per read, through a ring of four 64-byte
/// buffers (dry at once: most reads go the one-shot way), and through a
/// ring of 2 KiB buffers: forty responses in order (200 with the body,
/// 404 empty), the last saying `connection: close`, then the end of the
/// stream: the server's `poll_shutdown` sent its FIN after every byte it
/// reported written, with no reset.
#[test]
fn hyper_answers_pipelined_requests_in_order_then_closes_cleanly() {
    let _watch = watchdog();
    for ring in [None, Some((4u16, 64u32)), Some((64, 2048))] {
        let addr = start_http(ring);
        let mut c = client(addr);
        let mut requests = Vec::new();
        for i in 0..40 {
            let path = if i % 2 == 0 { "/" } else { "/missing" };
            let close = if i == 39 { "Connection: close\r\n" } else { "" };
            write!(
                requests,
                "GET {path} HTTP/1.1\r\nHost: t\r\nX-N: {i}\r\n{close}\r\n"
            )
            .unwrap();
        }
        c.write_all(&requests).unwrap();
        let mut reader = BufReader::new(c);
        for i in 0..40 {
            let (code, headers, body) = response(&mut reader)
                .unwrap_or_else(|e| panic!("ring {ring:?}: response {i}: {e}"))
                .unwrap_or_else(|| panic!("ring {ring:?}: the stream ended before response {i}"));
            if i % 2 == 0 {
                assert_eq!(
                    (code, &body[..]),
                    (200, uring_examples::net::BODY),
                    "ring {ring:?}: {i}"
                );
            } else {
                assert_eq!((code, body.len()), (404, 0), "ring {ring:?}: {i}");
            }
            if i == 39 {
                assert!(
                    headers
                        .iter()
                        .any(|(n, v)| n == "connection" && v.eq_ignore_ascii_case("close")),
                    "ring {ring:?}: {headers:?}"
                );
            }
        }
        let mut rest = Vec::new();
        reader
            .read_to_end(&mut rest)
            .unwrap_or_else(|e| panic!("ring {ring:?}: after the last response: {e}"));
        assert!(
            rest.is_empty(),
            "ring {ring:?}: bytes after the last response"
        );
    }
}

/// Requests whose bytes span many buffers of the server's ring (four
/// 64-byte buffers, and sixteen of 2 KiB): five `GET /` with a 6000-byte
/// header each, written at once, are answered in order (the headers read
/// whole through reads that each take one ring buffer); then a `POST /`
/// with a 100 000-byte body, which the service does not read: its 404
/// comes whole, and the connection then either goes on (hyper drained the
/// body: a `GET /` after it gets its 200) or ends (hyper closed it rather
/// than drain); never a 400, a response to bytes of the body, or a hang.
#[test]
fn hyper_reads_requests_spanning_many_ring_buffers() {
    let _watch = watchdog();
    let pad: String = "p".repeat(6000);
    for ring in [Some((4u16, 64u32)), Some((16, 2048)), None] {
        let addr = start_http(ring);
        let mut c = client(addr);
        let mut requests = Vec::new();
        for i in 0..5 {
            write!(
                requests,
                "GET / HTTP/1.1\r\nHost: t\r\nX-Pad-{i}: {pad}\r\n\r\n"
            )
            .unwrap();
        }
        c.write_all(&requests).unwrap();
        let mut reader = BufReader::new(c.try_clone().unwrap());
        for i in 0..5 {
            let (code, _, body) = response(&mut reader).unwrap().unwrap();
            assert_eq!(
                (code, &body[..]),
                (200, uring_examples::net::BODY),
                "ring {ring:?}: {i}"
            );
        }
        let body = pattern(100_000, 7);
        write!(
            c,
            "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .unwrap();
        // The body may be refused midway (a reset) once hyper closes.
        let _ = c.write_all(&body);
        let (code, _, got) = response(&mut reader)
            .unwrap_or_else(|e| panic!("ring {ring:?}: the POST's response: {e}"))
            .expect("the POST's response");
        assert_eq!((code, got.len()), (404, 0), "ring {ring:?}");
        let again = c.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        match (again, response(&mut reader)) {
            (Ok(()), Ok(Some((code, _, body)))) => {
                assert_eq!(
                    (code, &body[..]),
                    (200, uring_examples::net::BODY),
                    "ring {ring:?}"
                )
            }
            (_, Ok(None)) | (Err(_), _) => {}
            (_, Err(e)) => assert!(
                matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset
                        | io::ErrorKind::BrokenPipe
                        | io::ErrorKind::UnexpectedEof
                ),
                "ring {ring:?}: {e}"
            ),
        }
        // The server goes on.
        let mut c2 = client(addr);
        c2.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        let (code, _, _) = response(&mut BufReader::new(c2)).unwrap().unwrap();
        assert_eq!(code, 200, "ring {ring:?}");
    }
}

/// The inode of the server's socket of the connection from `client` to
/// the server listening at `server` (from `/proc/net/tcp`), once the
/// server has accepted it; `None` if it is not there within five seconds.
fn server_socket(server: SocketAddr, client: SocketAddr) -> Option<u64> {
    let end = Instant::now() + Duration::from_secs(5);
    let (lp, rp) = (
        format!(":{:04X}", server.port()),
        format!(":{:04X}", client.port()),
    );
    loop {
        let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
        for l in table.lines().skip(1) {
            let cols: Vec<&str> = l.split_whitespace().collect();
            if cols.len() > 9 && cols[1].ends_with(&lp) && cols[2].ends_with(&rp) {
                let ino: u64 = cols[9].parse().unwrap();
                if ino != 0 && peer::socket_open(ino) {
                    return Some(ino);
                }
            }
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The bytes queued unsent on the TCP socket of inode `ino` (the
/// `tx_queue` of `/proc/net/tcp`), 0 if it is not there.
fn unsent(ino: u64) -> u64 {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cols| cols.len() > 9 && cols[9] == ino.to_string())
        .and_then(|cols| {
            let tx = cols[4].split(':').next()?;
            u64::from_str_radix(tx, 16).ok()
        })
        .unwrap_or(0)
}

/// Clients of the `http` example's server (one receive per read, and
/// through a ring of four 64-byte buffers) that send half a request, then:
/// end their stream (FIN), reset it (`SO_LINGER` 0), or pause 100 ms and
/// send the rest. The first two get no response and the server closes its
/// socket (its inode leaves this process's descriptors within five
/// seconds: hyper's connection task ended, and dropping the stream closed
/// it); the third gets its 200 and the server's socket stays open while
/// the client's does. Each time, a new client is served after.
#[test]
fn hyper_connections_cut_mid_request_are_closed_and_the_server_goes_on() {
    let _watch = watchdog();
    let half = b"GET / HTTP/1.1\r\nHost: t\r\nX-Half: abc";
    for ring in [None, Some((4u16, 64u32))] {
        let addr = start_http(ring);
        for how in ["fin", "reset", "pause"] {
            let mut c = client(addr);
            c.write_all(half).unwrap();
            let ino = server_socket(addr, c.local_addr().unwrap())
                .unwrap_or_else(|| panic!("{how}, ring {ring:?}: the server's socket"));
            match how {
                "fin" => {
                    c.shutdown(std::net::Shutdown::Write).unwrap();
                    let mut rest = Vec::new();
                    let _ = c.read_to_end(&mut rest);
                    assert!(
                        !rest.starts_with(b"HTTP/1.1 200"),
                        "{how}, ring {ring:?}: a response to half a request"
                    );
                }
                "reset" => {
                    uring_tests::reset_on_close(&c);
                    drop(c);
                }
                _ => {
                    std::thread::sleep(Duration::from_millis(100));
                    assert!(peer::socket_open(ino), "{how}, ring {ring:?}: closed early");
                    c.write_all(b"\r\n\r\n").unwrap();
                    let mut reader = BufReader::new(c.try_clone().unwrap());
                    let (code, _, body) = response(&mut reader).unwrap().unwrap();
                    assert_eq!((code, &body[..]), (200, uring_examples::net::BODY));
                    assert!(peer::socket_open(ino), "{how}, ring {ring:?}: closed");
                    drop(c);
                }
            }
            let end = Instant::now() + Duration::from_secs(5);
            while peer::socket_open(ino) {
                assert!(
                    Instant::now() < end,
                    "{how}, ring {ring:?}: the server's socket stayed open"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
            let mut next = client(addr);
            next.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                .unwrap();
            let (code, _, _) = response(&mut BufReader::new(next)).unwrap().unwrap();
            assert_eq!(code, 200, "{how}, ring {ring:?}: the next client");
        }
    }
}

/// A client pipelines `GET /` requests without reading a response until
/// neither side takes more (the server's sends wait on a full socket,
/// with bytes hyper was told were written; its reads have stopped), then
/// resets the connection. The server's waiting send fails, hyper's
/// connection task ends and drops the stream, whose send in flight (left
/// to its callback) ends on the reset too: the server's socket is closed
/// within five seconds, nothing is sent on afterwards, and a new client
/// is served. With one receive per read, and through a ring of four
/// 64-byte buffers.
#[test]
fn hyper_connection_reset_under_a_waiting_send_is_closed_and_the_server_goes_on() {
    let _watch = watchdog();
    let request = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
    let chunk: Vec<u8> = request
        .iter()
        .copied()
        .cycle()
        .take(request.len() * 1000)
        .collect();
    for ring in [None, Some((4u16, 64u32))] {
        let addr = start_http(ring);
        let mut c = client(addr);
        let ino = {
            c.write_all(request).unwrap();
            let ino = server_socket(addr, c.local_addr().unwrap()).expect("the server's socket");
            c.set_nonblocking(true).unwrap();
            ino
        };
        let mut written = 0usize;
        let mut stalls = 0;
        while stalls < 5 {
            match c.write(&chunk) {
                Ok(n) => {
                    written += n;
                    stalls = 0;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    stalls += 1;
                    std::thread::sleep(Duration::from_millis(40));
                }
                Err(e) => panic!("ring {ring:?}: after {written} bytes: {e}"),
            }
            assert!(
                written < 1 << 30,
                "ring {ring:?}: the server never stops reading"
            );
        }
        assert!(
            peer::socket_open(ino),
            "ring {ring:?}: closed before the reset"
        );
        assert!(
            unsent(ino) > 0,
            "ring {ring:?}: the server's sends do not wait on a full socket"
        );
        uring_tests::reset_on_close(&c);
        drop(c);
        let end = Instant::now() + Duration::from_secs(5);
        while peer::socket_open(ino) {
            assert!(
                Instant::now() < end,
                "ring {ring:?}: the server's socket stayed open after the reset"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut next = client(addr);
        next.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        let (code, _, body) = response(&mut BufReader::new(next)).unwrap().unwrap();
        assert_eq!(
            (code, &body[..]),
            (200, uring_examples::net::BODY),
            "ring {ring:?}"
        );
    }
}
