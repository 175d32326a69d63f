//! `uring::net`'s connected sockets (`TcpStream`, `UnixStream`,
//! `UdpSocket`, `UnixDatagram`; not the listeners' accepts), attacked where
//! the other net suites stop short: the peer address a connected stream
//! reports against the one the kernel connected it to (connects to the
//! unspecified address, IPv6 addresses with a scope id or flow label the
//! kernel drops); IPv6 link-local scope ids out through `send_to` and
//! `connect` and back through `recv_from`, `local_addr` and `peer_addr`;
//! `write_all` cut by its write deadline or by a peer's reset after a
//! prefix went out (what the peer got, and what the caller is told);
//! owned-buffer receives of every kind racing their read deadline; a
//! `RecvStream` and a task's receive on the shared descriptor outliving
//! the stream they came from; TCP options set, clamped and refused on a
//! socket of another family; deadlines at the last `Instant` there is;
//! descriptor passing past its deadlines; abstract Unix names at their
//! edges (embedded NULs, 107 bytes, the empty name); a write shutdown
//! while a write of that half waits; UDP datagrams at and past the largest
//! size and cut by short buffers.
//!
//! Read against Linux 6.18: `net/ipv4/tcp_ipv4.c` (`tcp_v4_connect`, whose
//! route turns the unspecified destination into the loopback address the
//! socket is then connected to), `net/ipv6/tcp_ipv6.c` (`tcp_v6_connect`:
//! `::` becomes `::1`, a scope id is kept only for addresses that need
//! one), `net/ipv6/af_inet6.c` (`inet6_getname`: flow label 0 without
//! `IPV6_FLOWINFO_SEND`, scope id from `ipv6_iface_scope_id`),
//! `net/ipv6/udp.c` (`udpv6_recvmsg` writes the sender's scope id),
//! `io_uring/net.c` (`io_send` retries a short stream send and counts
//! `done_io`; `io_sendrecv_fail` turns a cancel after a partial send into
//! that count), `net/ipv4/tcp.c` (`tcp_sendmsg_locked` fails with `EPIPE`
//! once the send side is shut), `net/unix/af_unix.c` (`unix_bind`,
//! `unix_getname`, `unix_dgram_recvmsg`'s sender name, `unix_shutdown`),
//! `net/core/scm.c`, `net/ipv4/udp.c` (`udp_sendmsg`'s `EMSGSIZE`,
//! `udp_recvmsg`'s `MSG_TRUNC`).
//!
//! Every test is safe code against the running kernel and checks what the
//! kernel did: bytes received (in order, once), errno values against std's
//! on twin sockets, addresses against `getpeername(2)` read through std,
//! descriptors counted by inode in `/proc/self/fd`. Tests marked
//! `#[ignore = "DEFECT: ..."]` show a defect of the library and fail when
//! run.

use std::cell::RefCell;
use std::future::Future;
use std::io::{self, Read as _, Write as _};
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::linux::net::SocketAddrExt as _;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::{Duration, Instant};

use uring::SockAddr;
use uring::net::{TcpStream, UdpSocket, UnixDatagram, UnixStream};
use uring::reactor::ops::{Recv, Timeout};
use uring::reactor::{Handle, IoBuf, Reactor};
use uring_tests::net::peer::{self, Peer};
use uring_tests::net::{any, assert_group_whole, group_or_skip};
use uring_tests::{pattern, poll_once, run_for, set_int_option, skip, under_valgrind, watchdog};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn errno<T>(r: &io::Result<T>) -> Option<i32> {
    r.as_ref().err().and_then(io::Error::raw_os_error)
}

/// The peer address the kernel holds for the socket `fd`
/// (`getpeername(2)`, through std on a duplicate).
fn kernel_peer(fd: BorrowedFd<'_>) -> io::Result<SocketAddr> {
    std::net::TcpStream::from(fd.try_clone_to_owned()?).peer_addr()
}

/// An `int` option of `fd`, read with std's `getsockopt` through a
/// `TcpStream` over a duplicate: `TCP_NODELAY` via `nodelay`, the others
/// by comparing against values set.
fn nodelay_of(fd: BorrowedFd<'_>) -> bool {
    std::net::TcpStream::from(fd.try_clone_to_owned().unwrap())
        .nodelay()
        .unwrap()
}

/// An `int` socket option of `fd` (`getsockopt(2)`), read through
/// `/proc`-free means: `SO_KEEPALIVE`, `TCP_KEEPIDLE`, `TCP_KEEPINTVL`.
fn int_option(fd: BorrowedFd<'_>, level: i32, name: i32) -> i32 {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `value` and the
    // length into `len`, both on the stack for the call; `fd` is borrowed
    // open for it.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "getsockopt: {}", io::Error::last_os_error());
    value
}

/// Awaits `ms` milliseconds on the reactor of `h`.
async fn nap(h: &Handle, ms: u64) {
    let (r, ()) = h.op(Timeout::new(Duration::from_millis(ms))).await;
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ETIME));
}

/// A name no other test (or run) uses.
fn unique(what: &str) -> Vec<u8> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "uring-net-gaps-{}-{}-{what}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
    .into_bytes()
}

/// The inode of the file `fd` names.
fn inode(fd: impl AsFd) -> u64 {
    peer::inode(fd)
}

/// How many descriptors of this process name the file of inode `ino`.
fn copies(ino: u64) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            std::fs::metadata(e.path()).is_ok_and(|m| {
                use std::os::unix::fs::MetadataExt as _;
                m.ino() == ino
            })
        })
        .count()
}

/// A link-local IPv6 address of an interface of this machine, with its
/// interface index, from `/proc/net/if_inet6` (scope 0x20).
fn link_local() -> Option<(Ipv6Addr, u32)> {
    let table = std::fs::read_to_string("/proc/net/if_inet6").ok()?;
    for line in table.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() < 6 || cols[3] != "20" || cols[5] == "lo" {
            continue;
        }
        let hex = cols[0];
        let mut octets = [0u8; 16];
        for (i, o) in octets.iter_mut().enumerate() {
            *o = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        let index = u32::from_str_radix(cols[1], 16).ok()?;
        // Tentative (0x40) or failed (0x08) addresses cannot be bound.
        let flags = u32::from_str_radix(cols[4], 16).ok()?;
        if flags & 0x48 != 0 {
            continue;
        }
        return Some((Ipv6Addr::from(octets), index));
    }
    None
}

// ---------------------------------------------------------------------------
// Addresses
// ---------------------------------------------------------------------------

/// `TcpStream::connect` keeps the address it was given as the stream's
/// `peer_addr` (Go's `RemoteAddr`). The kernel connects to another one in
/// three cases read in `tcp_v4_connect` / `tcp_v6_connect` and
/// `inet6_getname`: the unspecified address `0.0.0.0` (the route makes it
/// 127.0.0.1) and `::` (made `::1`), and an IPv6 address with a scope id
/// it does not need or a flow label (reported as 0 without
/// `IPV6_FLOWINFO_SEND`). Go's `Dial` reports `getpeername(2)`'s address,
/// and so does the accepted side's `local_addr`. Here the stream's
/// `peer_addr` is compared with the kernel's for each.
#[test]
fn a_connected_stream_s_peer_addr_is_the_one_the_kernel_connected_to() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let l4 = std::net::TcpListener::bind(any()).unwrap();
    let p4 = l4.local_addr().unwrap().port();
    let l6 = match std::net::TcpListener::bind("[::1]:0") {
        Ok(l) => Some(l),
        Err(e) => {
            eprintln!("no IPv6 loopback ({e}): IPv4 cases only");
            None
        }
    };
    let mut cases: Vec<(SocketAddr, &std::net::TcpListener)> = vec![
        (format!("127.0.0.1:{p4}").parse().unwrap(), &l4),
        (format!("0.0.0.0:{p4}").parse().unwrap(), &l4),
    ];
    if let Some(l6) = &l6 {
        let p6 = l6.local_addr().unwrap().port();
        cases.push((format!("[::1]:{p6}").parse().unwrap(), l6));
        cases.push((format!("[::]:{p6}").parse().unwrap(), l6));
        // ::1 needs no scope: the kernel keeps neither it nor the label.
        let scoped = SocketAddrV6::new(Ipv6Addr::LOCALHOST, p6, 0x0001_2345, 1);
        cases.push((SocketAddr::V6(scoped), l6));
    }
    let mut wrong = Vec::new();
    for (dest, listener) in cases {
        let stream = reactor
            .run_until(TcpStream::connect(&h, dest))
            .unwrap()
            .unwrap_or_else(|e| panic!("connect to {dest}: {e}"));
        let (accepted, from) = listener.accept().unwrap();
        let kernel = kernel_peer(stream.as_fd()).unwrap();
        assert_eq!(
            kernel,
            accepted.local_addr().unwrap(),
            "{dest}: the kernel's two views"
        );
        assert_eq!(
            from,
            stream.local_addr().unwrap(),
            "{dest}: the accepted peer"
        );
        let ours = stream.peer_addr().unwrap();
        if ours != kernel {
            wrong.push(format!(
                "connect({dest}): peer_addr {ours}, the kernel's {kernel}"
            ));
        }
        // Bytes flow either way: the connection is the kernel's.
        let (r, _) = reactor.run_until(stream.write_all(b"hi".to_vec())).unwrap();
        r.unwrap();
        let mut got = [0u8; 2];
        (&accepted).read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hi");
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// IPv6 link-local addresses need their scope id (the interface index):
/// `SockAddr::from` must carry it to `bind`, `sendmsg` and `connect`, and
/// `recv_from`, `local_addr` and `peer_addr` must read it back
/// (`udpv6_recvmsg` and `inet6_getname` write `ipv6_iface_scope_id`). A
/// send without it fails as std's does (`EINVAL`).
#[test]
fn ipv6_link_local_scope_ids_go_out_and_come_back() {
    let _watch = watchdog();
    let Some((ll, index)) = link_local() else {
        return skip("no link-local IPv6 address on any interface");
    };
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let at = SocketAddr::V6(SocketAddrV6::new(ll, 0, 0, index));
    let a = match UdpSocket::bind(&h, at) {
        Ok(s) => s,
        Err(e) => return skip(format_args!("binding {at}: {e}")),
    };
    let b = UdpSocket::bind(&h, at).unwrap();
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    for addr in [a_addr, b_addr] {
        match addr {
            SocketAddr::V6(v6) => {
                assert_eq!((*v6.ip(), v6.scope_id()), (ll, index), "{addr}")
            }
            SocketAddr::V4(_) => panic!("{addr}"),
        }
    }
    let (r, _) = reactor
        .run_until(a.send_to(b"scoped".to_vec(), b_addr))
        .unwrap();
    assert_eq!(r.unwrap(), 6);
    let (r, buf) = reactor.run_until(b.recv_from(vec![0u8; 16])).unwrap();
    let (n, from) = r.unwrap();
    assert_eq!(&buf[..n], b"scoped");
    assert_eq!(from, a_addr, "the sender, with its scope id");

    // Without the scope id: from a socket bound to the scoped address,
    // the bound interface stands in for it; from one bound to `::`, the
    // route decides (`EINVAL` where none leads there). Each as std's twin
    // gets.
    let unscoped = SocketAddr::V6(SocketAddrV6::new(ll, b_addr.port(), 0, 0));
    let unspecified: SocketAddr = "[::]:0".parse().unwrap();
    let wild = UdpSocket::bind(&h, unspecified).unwrap();
    let mut arrived = 0;
    for (ours, bound) in [(&a, at), (&wild, unspecified)] {
        let twin = std::net::UdpSocket::bind(bound).unwrap();
        let want = twin.send_to(b"x", unscoped);
        let (got, buf) = reactor
            .run_until(ours.send_to(b"x".to_vec(), unscoped))
            .unwrap();
        assert_eq!(buf, b"x");
        assert_eq!(
            got.as_ref().ok(),
            want.as_ref().ok(),
            "{bound}: {got:?} vs std's {want:?}"
        );
        assert_eq!(errno(&got), errno(&want), "{bound}: {got:?} vs {want:?}");
        if bound == at {
            assert_eq!(got.unwrap(), 1, "from the scoped socket");
        }
        arrived += 2 * usize::from(want.is_ok());
    }
    // What went out unscoped arrived, each from a scoped name.
    for _ in 0..arrived {
        let (r, buf) = reactor.run_until(b.recv_from(vec![0u8; 4])).unwrap();
        let (n, from) = r.unwrap();
        assert_eq!(&buf[..n], b"x");
        match from {
            SocketAddr::V6(v6) => assert_eq!(v6.scope_id(), index, "{from}"),
            SocketAddr::V4(_) => panic!("{from}"),
        }
    }

    // A connected UDP socket: its peer, scoped.
    a.connect(b_addr).unwrap();
    assert_eq!(a.peer_addr().unwrap(), b_addr);
    let (r, _) = reactor.run_until(a.send(b"conn".to_vec())).unwrap();
    assert_eq!(r.unwrap(), 4);
    let (r, buf) = reactor.run_until(b.recv_from(vec![0u8; 16])).unwrap();
    let (n, from) = r.unwrap();
    assert_eq!((&buf[..n], from), (&b"conn"[..], a_addr));

    // TCP to a scoped listener.
    let listener = std::net::TcpListener::bind(at).unwrap();
    let laddr = listener.local_addr().unwrap();
    let stream = reactor
        .run_until(TcpStream::connect(&h, laddr))
        .unwrap()
        .unwrap();
    let (accepted, from) = listener.accept().unwrap();
    assert_eq!(stream.peer_addr().unwrap(), laddr);
    assert_eq!(kernel_peer(stream.as_fd()).unwrap(), laddr);
    assert_eq!(stream.local_addr().unwrap(), from);
    match from {
        SocketAddr::V6(v6) => assert_eq!(v6.scope_id(), index, "{from}"),
        SocketAddr::V4(_) => panic!("{from}"),
    }
    let (r, _) = reactor
        .run_until(stream.write_all(b"over tcp".to_vec()))
        .unwrap();
    r.unwrap();
    let mut got = [0u8; 8];
    (&accepted).read_exact(&mut got).unwrap();
    assert_eq!(&got, b"over tcp");
}

// ---------------------------------------------------------------------------
// write_all and its errors
// ---------------------------------------------------------------------------

/// `write_all` of 16 MiB to a peer that reads nothing, under a write
/// deadline 150 ms away: the first send moves what the socket takes
/// (`io_send` counts it in `done_io`), the link timeout cancels it and
/// `io_sendrecv_fail` turns the cancel into that count; the next send
/// fails at once with the deadline passed. `write_all` reports `TimedOut`
/// alone, and the peer, read to the end, got a prefix of the buffer,
/// whole and in order, of more than 0 bytes: bytes the caller is not told
/// were sent. Then `write_all` to a peer that reads 256 KiB and resets:
/// `ECONNRESET` or `EPIPE`, the buffer back whole, and the peer got at
/// least those 256 KiB.
#[test]
fn write_all_cut_after_a_prefix_reports_the_error_alone() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let data = pattern(16 << 20, 7);

    let (mut stream, mut peer) = peer::tcp(&h);
    stream.set_write_deadline(Some(Instant::now() + Duration::from_millis(150)));
    let start = Instant::now();
    let (r, buf) = reactor.run_until(stream.write_all(data.clone())).unwrap();
    assert_eq!(
        r.as_ref().err().map(io::Error::kind),
        Some(io::ErrorKind::TimedOut),
        "{r:?}"
    );
    assert!(start.elapsed() >= Duration::from_millis(140));
    assert_eq!(buf.len(), data.len(), "the buffer back whole");
    assert_eq!(reactor.in_flight(), 0);
    drop(stream);
    let got = peer::drain_to_end(&reactor, &mut peer, Duration::from_secs(20));
    assert!(
        !got.is_empty() && got.len() < data.len(),
        "the peer got {} of {} bytes",
        got.len(),
        data.len()
    );
    assert!(got[..] == data[..got.len()], "a prefix, in order");
    eprintln!("write_all timed out after {} bytes went out", got.len());

    let (stream, peer) = peer::tcp(&h);
    let reader = std::thread::spawn(move || {
        let mut peer = peer;
        let mut first = vec![0u8; 256 << 10];
        peer.read_exact(&mut first).unwrap();
        uring_tests::reset_on_close(&peer);
        drop(peer);
        first
    });
    let (r, buf) = reactor.run_until(stream.write_all(data.clone())).unwrap();
    let first = reader.join().unwrap();
    assert_eq!(first[..], data[..first.len()], "the peer's prefix");
    assert!(
        matches!(errno(&r), Some(libc::ECONNRESET | libc::EPIPE)),
        "{r:?}"
    );
    assert_eq!(buf.len(), data.len());
    assert_eq!(reactor.in_flight(), 0);
}

/// A write shutdown while a `write_all` of the same stream waits for room
/// (the peer reads nothing) in another task: the shutdown succeeds at
/// once, the waiting send is woken (`tcp_sendmsg_locked` / the Unix
/// sender then see `SEND_SHUTDOWN`) and `write_all` ends with `EPIPE`, no
/// `SIGPIPE` raised; the peer reads a prefix of the buffer, in order, then
/// the end of the stream.
#[test]
fn a_write_shutdown_ends_a_write_all_waiting_in_another_task() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let data = pattern(8 << 20, 9);
    for family in ["tcp", "unix"] {
        let (stream, mut peer): (Rc<dyn Shut>, Peer) = match family {
            "tcp" => {
                let (s, p) = peer::tcp(&h);
                (Rc::new(s), p)
            }
            _ => {
                let (s, p) = peer::unix(&h);
                (Rc::new(s), p)
            }
        };
        let ended = Rc::new(RefCell::new(None));
        let (s, e, d) = (stream.clone(), ended.clone(), data.clone());
        h.spawn(async move {
            let r = s.write_all_of(d).await;
            *e.borrow_mut() = Some(r);
        });
        reactor
            .run_until(async {
                nap(&h, 50).await;
                assert!(ended.borrow().is_none(), "{family}: the write waits");
                stream.shut_write().await.unwrap();
                for _ in 0..300 {
                    if ended.borrow().is_some() {
                        break;
                    }
                    nap(&h, 10).await;
                }
            })
            .unwrap();
        let r = ended.borrow_mut().take().expect("the write ended");
        assert_eq!(errno(&r), Some(libc::EPIPE), "{family}: {r:?}");
        let got = peer::drain_to_end(&reactor, &mut peer, Duration::from_secs(20));
        assert!(
            got.len() < data.len() && got[..] == data[..got.len()],
            "{family}: the peer got {} bytes, not a prefix",
            got.len()
        );
        drop(stream);
        assert_eq!(reactor.in_flight(), 0, "{family}");
    }
}

/// The two stream types, for one loop.
trait Shut {
    fn write_all_of(&self, data: Vec<u8>) -> Pin<Box<dyn Future<Output = io::Result<()>> + '_>>;
    fn shut_write(&self) -> Pin<Box<dyn Future<Output = io::Result<()>> + '_>>;
}

impl Shut for TcpStream {
    fn write_all_of(&self, data: Vec<u8>) -> Pin<Box<dyn Future<Output = io::Result<()>> + '_>> {
        Box::pin(async move { self.write_all(data).await.0 })
    }
    fn shut_write(&self) -> Pin<Box<dyn Future<Output = io::Result<()>> + '_>> {
        Box::pin(self.shutdown(std::net::Shutdown::Write))
    }
}

impl Shut for UnixStream {
    fn write_all_of(&self, data: Vec<u8>) -> Pin<Box<dyn Future<Output = io::Result<()>> + '_>> {
        Box::pin(async move { self.write_all(data).await.0 })
    }
    fn shut_write(&self) -> Pin<Box<dyn Future<Output = io::Result<()>> + '_>> {
        Box::pin(self.shutdown(std::net::Shutdown::Write))
    }
}

// ---------------------------------------------------------------------------
// Owned-buffer receives racing their deadline
// ---------------------------------------------------------------------------

/// The sockets whose owned-buffer receive races its deadline.
trait Receiver {
    fn read_by(&mut self, deadline: Option<Instant>);
    /// One receive into a fresh 64-byte buffer: the bytes.
    fn receive(&self) -> Pin<Box<dyn Future<Output = io::Result<Vec<u8>>> + '_>>;
}

impl Receiver for TcpStream {
    fn read_by(&mut self, deadline: Option<Instant>) {
        self.set_read_deadline(deadline);
    }
    fn receive(&self) -> Pin<Box<dyn Future<Output = io::Result<Vec<u8>>> + '_>> {
        Box::pin(async move {
            let (r, mut buf) = self.read(vec![0u8; 64]).await;
            buf.truncate(r?);
            Ok(buf)
        })
    }
}

impl Receiver for UnixStream {
    fn read_by(&mut self, deadline: Option<Instant>) {
        self.set_read_deadline(deadline);
    }
    fn receive(&self) -> Pin<Box<dyn Future<Output = io::Result<Vec<u8>>> + '_>> {
        Box::pin(async move {
            let (r, buf) = self.read(Vec::with_capacity(64)).await;
            let n = r?;
            assert_eq!(buf.len(), n, "a Vec's length is the count");
            Ok(buf)
        })
    }
}

/// A UDP socket and the address its sender has.
struct Udp(UdpSocket, SocketAddr);

impl Receiver for Udp {
    fn read_by(&mut self, deadline: Option<Instant>) {
        self.0.set_read_deadline(deadline);
    }
    fn receive(&self) -> Pin<Box<dyn Future<Output = io::Result<Vec<u8>>> + '_>> {
        Box::pin(async move {
            let (r, mut buf) = self.0.recv_from(vec![0u8; 64]).await;
            let (n, from) = r?;
            assert_eq!(from, self.1, "the sender");
            buf.truncate(n);
            Ok(buf)
        })
    }
}

impl Receiver for UnixDatagram {
    fn read_by(&mut self, deadline: Option<Instant>) {
        self.set_read_deadline(deadline);
    }
    fn receive(&self) -> Pin<Box<dyn Future<Output = io::Result<Vec<u8>>> + '_>> {
        Box::pin(async move {
            let (r, mut buf, from) = self.recv_from(vec![0u8; 64]).await;
            let n = r?;
            assert!(from.is_some_and(|f| f.is_unnamed()), "the pair's sender");
            buf.truncate(n);
            Ok(buf)
        })
    }
}

/// 200 receives of `sock`, each with a deadline 10 to 220 µs away while
/// `send` delivers one 3-byte message: each gives bytes or `TimedOut`
/// (never another error), and what a timed-out receive left is received
/// next, so that the bytes received are the bytes sent, once each, in
/// order. Returns how many timed out.
fn race<R: Receiver>(
    reactor: &Reactor,
    sock: &mut R,
    send: &mut dyn FnMut(&[u8]),
    what: &str,
) -> u32 {
    let mut sent = Vec::new();
    let mut got = Vec::new();
    let mut timed_out = 0;
    for i in 0..200u32 {
        sock.read_by(Some(
            Instant::now() + Duration::from_micros(10 + 30 * u64::from(i % 8)),
        ));
        let msg = [(i % 251) as u8, (i / 251) as u8, 0xA5];
        let r = {
            let mut recv = sock.receive();
            let first = poll_once(&mut recv);
            reactor.submit().unwrap();
            let us = 40 * u64::from(i % 7);
            if us > 0 {
                std::thread::sleep(Duration::from_micros(us));
            }
            send(&msg);
            match first {
                Poll::Ready(r) => r,
                Poll::Pending => reactor.run_until(recv).unwrap(),
            }
        };
        sent.extend_from_slice(&msg);
        match r {
            Ok(bytes) => {
                assert!(!bytes.is_empty(), "{what} {i}: an empty receive");
                got.extend_from_slice(&bytes);
            }
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{what} {i}: {e:?}");
                timed_out += 1;
            }
        }
        sock.read_by(None);
        while got.len() < sent.len() {
            let bytes = reactor.run_until(sock.receive()).unwrap().unwrap();
            got.extend_from_slice(&bytes);
        }
        assert_eq!(got.len(), sent.len(), "{what} {i}: more than was sent");
    }
    assert!(got == sent, "{what}: the bytes across the deadlines");
    timed_out
}

/// `race` over owned-buffer receives of each kind: TCP and Unix stream
/// reads, UDP and Unix datagram `recv_from`. A receive cut by its deadline
/// took nothing (the link timeout cancels it off the socket's poll before
/// it copies, `ECANCELED`); one that copied completes with its count.
#[test]
fn owned_buffer_receives_racing_their_deadline_lose_and_repeat_no_byte() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let mut timed_out = 0;

    let (mut tcp, mut tcp_peer) = peer::tcp(&h);
    timed_out += race(
        &reactor,
        &mut tcp,
        &mut |m| tcp_peer.write_all(m).unwrap(),
        "tcp",
    );
    let (mut unix, mut unix_peer) = peer::unix(&h);
    timed_out += race(
        &reactor,
        &mut unix,
        &mut |m| unix_peer.write_all(m).unwrap(),
        "unix stream",
    );
    let sender = std::net::UdpSocket::bind(any()).unwrap();
    let mut udp = Udp(
        UdpSocket::bind(&h, any()).unwrap(),
        sender.local_addr().unwrap(),
    );
    let to = udp.0.local_addr().unwrap();
    timed_out += race(
        &reactor,
        &mut udp,
        &mut |m| assert_eq!(sender.send_to(m, to).unwrap(), 3),
        "udp",
    );
    let (mine, theirs) = std::os::unix::net::UnixDatagram::pair().unwrap();
    let mut dgram = UnixDatagram::from_std(&h, mine);
    timed_out += race(
        &reactor,
        &mut dgram,
        &mut |m| assert_eq!(theirs.send(m).unwrap(), 3),
        "unix datagram",
    );
    eprintln!("{timed_out} of 800 receives timed out");
    if !under_valgrind() {
        assert!(
            timed_out > 0 && timed_out < 800,
            "the deadlines raced nothing: {timed_out}"
        );
    }
    assert_eq!(reactor.in_flight(), 0);
}

// ---------------------------------------------------------------------------
// Streams dropped under what still uses their socket
// ---------------------------------------------------------------------------

/// A `RecvStream` holds its socket: the `TcpStream` it came from dropped,
/// it still receives what the peer sends after the drop, and the peer
/// sees no end of stream until the `RecvStream` is dropped too (then it
/// does, and every buffer of the group is free). Likewise a receive a
/// spawned task queued on a `UnixStream`'s shared descriptor gets the
/// bytes sent after the stream was dropped, and the socket closes only
/// once that task let its clone go.
#[test]
fn receives_outliving_their_stream_keep_its_socket_to_the_end() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let Some(group) = group_or_skip(&h, 71, 4, 64) else {
        return;
    };
    let (stream, mut peer) = peer::tcp(&h);
    let mut received = stream.recv_stream(group);
    drop(stream);
    peer.write_all(b"after the drop").unwrap();
    let item = reactor.run_until(received.next()).unwrap();
    match item {
        Some(Ok(Some(buf))) => assert_eq!(&buf[..], b"after the drop"),
        other => panic!("the receive stream after its stream's drop: {other:?}"),
    }
    run_for(&reactor, 20);
    let mut none = Vec::new();
    assert!(
        !peer::drain(&mut peer, &mut none),
        "the socket closed under its receive stream"
    );
    peer.write_all(b"more").unwrap();
    let item = reactor.run_until(received.next()).unwrap();
    assert!(
        matches!(&item, Some(Ok(Some(buf))) if &buf[..] == b"more"),
        "{item:?}"
    );
    drop(item);
    drop(received);
    let rest = peer::drain_to_end(&reactor, &mut peer, Duration::from_secs(5));
    assert!(rest.is_empty());
    assert_eq!(reactor.in_flight(), 0);
    assert_group_whole(&reactor, group, 4, "after the receive stream");

    let (stream, mut peer) = peer::unix(&h);
    let ino = inode(stream.as_fd());
    let got = Rc::new(RefCell::new(None));
    let (fd, g, h2) = (stream.shared_fd().clone(), got.clone(), h.clone());
    h.spawn(async move {
        let (r, buf) = h2.op(Recv::new(&fd, vec![0u8; 32])).await;
        let n = r.unwrap() as usize;
        *g.borrow_mut() = Some(buf[..n].to_vec());
    });
    run_for(&reactor, 10);
    drop(stream);
    assert_eq!(copies(ino), 1, "the task's clone keeps the socket");
    peer.write_all(b"to the task").unwrap();
    let bytes =
        uring_tests::net::drive(&reactor, Duration::from_secs(5), || got.borrow_mut().take())
            .expect("the task's receive ended");
    assert_eq!(bytes, b"to the task");
    let rest = peer::drain_to_end(&reactor, &mut peer, Duration::from_secs(5));
    assert!(rest.is_empty());
    assert_eq!(copies(ino), 0, "the socket closed with the task's clone");
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/// `set_nodelay` and `set_keepalive` as the kernel reads them back:
/// keep-alive idle and interval in whole seconds, at least 1 (0 and
/// 1.999 s are 1 s) and at most 32767 (`MAX_TCP_KEEPIDLE`,
/// `MAX_TCP_KEEPINTVL`: 40 000 s and `Duration::MAX` clamp there rather
/// than fail); `None` switches it off. A `TcpStream` made over a socket of
/// another family (a Unix stream through `std::net::TcpStream::from`)
/// gives the errors the kernel gives for the same options, and no
/// address, never a panic, and still carries bytes.
#[test]
fn tcp_options_read_back_clamp_and_fail_on_another_family() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (stream, _peer) = peer::tcp(&h);
    for on in [true, false, true] {
        stream.set_nodelay(on).unwrap();
        assert_eq!(nodelay_of(stream.as_fd()), on);
    }
    let cases = [
        (Duration::ZERO, 1),
        (Duration::from_millis(1999), 1),
        (Duration::from_secs(7), 7),
        (Duration::from_secs(32767), 32767),
        (Duration::from_secs(40_000), 32767),
        (Duration::MAX, 32767),
    ];
    for (idle, secs) in cases {
        stream.set_keepalive(Some(idle)).unwrap();
        let fd = stream.as_fd();
        assert_eq!(int_option(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE), 1);
        assert_eq!(
            int_option(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE),
            secs,
            "{idle:?}"
        );
        assert_eq!(
            int_option(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL),
            secs,
            "{idle:?}"
        );
        assert_eq!(
            stream.keepalive().unwrap(),
            Some(Duration::from_secs(secs as u64))
        );
    }
    stream.set_keepalive(None).unwrap();
    assert_eq!(
        int_option(stream.as_fd(), libc::SOL_SOCKET, libc::SO_KEEPALIVE),
        0
    );
    assert_eq!(stream.keepalive().unwrap(), None);

    let (mine, mut theirs) = std::os::unix::net::UnixStream::pair().unwrap();
    let twin = mine.try_clone().unwrap();
    let odd = TcpStream::from_std(&h, std::net::TcpStream::from(OwnedFd::from(mine)));
    let want = set_int_option(&twin, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1);
    let got = odd.set_nodelay(true);
    assert!(got.is_err(), "{got:?}");
    assert_eq!(errno(&got), errno(&want), "{got:?} vs {want:?}");
    let want = set_int_option(&twin, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, 5);
    let got = odd.set_keepalive(Some(Duration::from_secs(5)));
    assert!(got.is_err(), "{got:?}");
    assert_eq!(errno(&got), errno(&want), "{got:?} vs {want:?}");
    assert!(odd.local_addr().is_err());
    assert!(odd.peer_addr().is_err());
    theirs.write_all(b"unix").unwrap();
    let (r, buf) = reactor.run_until(odd.read(vec![0u8; 8])).unwrap();
    assert_eq!(&buf[..r.unwrap()], b"unix");
    let (r, _) = reactor.run_until(odd.write_all(b"back".to_vec())).unwrap();
    r.unwrap();
    let mut back = [0u8; 4];
    theirs.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"back");
}

// ---------------------------------------------------------------------------
// Deadlines
// ---------------------------------------------------------------------------

/// The latest `Instant` there is (to the second): far past any clock.
fn last_instant() -> Instant {
    let now = Instant::now();
    let mut step = Duration::from_secs(1 << 62);
    let mut at = now;
    while step >= Duration::from_secs(1) {
        if let Some(later) = at.checked_add(step) {
            at = later;
        }
        step /= 2;
    }
    at
}

/// Deadlines at the last `Instant` (about `i64::MAX` seconds of
/// `CLOCK_MONOTONIC`; the link timeout's absolute time saturates at
/// `tv_sec` `i64::MAX`, which the kernel takes as never): a read, a
/// `recv_from`, a Unix datagram receive and a write all wait past them
/// for their bytes and are never cut; moved into the past, the next op
/// fails at once without taking a byte; cleared, it takes them. A
/// `recv_stream`'s receive ignores a past read deadline, as documented.
#[test]
fn deadlines_at_the_last_instant_never_fire() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let last = last_instant();
    assert!(last > Instant::now() + Duration::from_secs(1 << 60));

    let (mut stream, mut peer) = peer::tcp(&h);
    stream.set_deadline(Some(last));
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(40));
        peer.write_all(b"late").unwrap();
        peer
    });
    let (r, buf) = reactor.run_until(stream.read(vec![0u8; 8])).unwrap();
    assert_eq!(&buf[..r.unwrap()], b"late");
    let mut peer = writer.join().unwrap();
    let (r, _) = reactor.run_until(stream.write_all(b"ok".to_vec())).unwrap();
    r.unwrap();
    let mut two = [0u8; 2];
    peer.read_exact(&mut two).unwrap();
    assert_eq!(&two, b"ok");
    peer.write_all(b"kept").unwrap();
    stream.set_read_deadline(Some(Instant::now() - Duration::from_secs(1)));
    let (r, buf) = reactor.run_until(stream.read(vec![0u8; 8])).unwrap();
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert_eq!(buf, [0u8; 8], "nothing written into the buffer");
    if let Some(group) = group_or_skip(&h, 72, 2, 16) {
        let mut rs = stream.recv_stream(group);
        let item = reactor.run_until(rs.next()).unwrap();
        assert!(
            matches!(&item, Some(Ok(Some(b))) if &b[..] == b"kept"),
            "{item:?}"
        );
        drop(rs);
        run_for(&reactor, 10);
    } else {
        stream.set_read_deadline(None);
        let (r, buf) = reactor.run_until(stream.read(vec![0u8; 8])).unwrap();
        assert_eq!(&buf[..r.unwrap()], b"kept");
    }

    let mut udp = UdpSocket::bind(&h, any()).unwrap();
    let to = udp.local_addr().unwrap();
    udp.set_deadline(Some(last));
    let sender = std::thread::spawn(move || {
        let s = std::net::UdpSocket::bind(any()).unwrap();
        std::thread::sleep(Duration::from_millis(40));
        s.send_to(b"late datagram", to).unwrap();
        s
    });
    let (r, buf) = reactor.run_until(udp.recv_from(vec![0u8; 32])).unwrap();
    let s = sender.join().unwrap();
    let (n, from) = r.unwrap();
    assert_eq!(
        (&buf[..n], from),
        (&b"late datagram"[..], s.local_addr().unwrap())
    );
    let (r, _) = reactor
        .run_until(udp.send_to(b"reply".to_vec(), from))
        .unwrap();
    assert_eq!(r.unwrap(), 5);

    let (mine, theirs) = std::os::unix::net::UnixDatagram::pair().unwrap();
    let mut d = UnixDatagram::from_std(&h, mine);
    d.set_deadline(Some(last));
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(40));
        theirs.send(b"late unix").unwrap();
        theirs
    });
    let (r, buf) = reactor.run_until(d.recv(vec![0u8; 16])).unwrap();
    assert_eq!(&buf[..r.unwrap()], b"late unix");
    let theirs = t.join().unwrap();
    theirs.send(b"stays").unwrap();
    d.set_read_deadline(Some(Instant::now()));
    let (r, _) = reactor.run_until(d.recv(vec![0u8; 16])).unwrap();
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::TimedOut);
    d.set_read_deadline(None);
    let (r, buf) = reactor.run_until(d.recv(vec![0u8; 16])).unwrap();
    assert_eq!(
        &buf[..r.unwrap()],
        b"stays",
        "the datagram a past deadline left"
    );
    assert_eq!(reactor.in_flight(), 0);
}

/// Descriptors past their deadlines: `send_with_fds` under a write
/// deadline already past fails with `TimedOut` and gives back the very
/// descriptors (same numbers, same files, no copy left anywhere), and the
/// peer gets nothing; `recv_with_fds` under a past read deadline takes
/// neither the bytes nor the descriptors of the message waiting, which
/// the next receive gets whole.
#[test]
fn descriptor_passing_past_its_deadlines_gives_everything_back() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let (mut a, mut b) = UnixStream::pair(&h).unwrap();
    // Read ends alone (a pipe's two ends share its inode).
    let pipes: Vec<OwnedFd> = (0..3).map(|_| uring_tests::pipe().0).collect();
    let inos: Vec<u64> = pipes.iter().map(inode).collect();
    let sent: Vec<OwnedFd> = pipes.iter().map(|r| r.try_clone().unwrap()).collect();
    let numbers: Vec<i32> = sent.iter().map(AsRawFd::as_raw_fd).collect();

    a.set_write_deadline(Some(Instant::now() - Duration::from_millis(1)));
    let (r, buf, back) = reactor
        .run_until(a.send_with_fds(b"late".to_vec(), sent))
        .unwrap();
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert_eq!(buf, b"late");
    assert_eq!(
        back.iter().map(AsRawFd::as_raw_fd).collect::<Vec<_>>(),
        numbers
    );
    assert_eq!(back.iter().map(inode).collect::<Vec<_>>(), inos);
    assert!(inos.iter().all(|&i| copies(i) == 2), "a copy in flight");
    b.set_read_deadline(Some(Instant::now() + Duration::from_millis(30)));
    let (r, _, got) = reactor.run_until(b.recv_with_fds(vec![0u8; 8], 4)).unwrap();
    assert_eq!(
        r.unwrap_err().kind(),
        io::ErrorKind::TimedOut,
        "the peer got something"
    );
    assert!(got.is_empty());

    a.set_write_deadline(None);
    let (r, _, back) = reactor
        .run_until(a.send_with_fds(b"now".to_vec(), back))
        .unwrap();
    assert_eq!(r.unwrap(), 3);
    drop(back);
    b.set_read_deadline(Some(Instant::now() - Duration::from_millis(1)));
    let (r, buf, got) = reactor
        .run_until(b.recv_with_fds(vec![0xEEu8; 8], 4))
        .unwrap();
    assert_eq!(r.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert_eq!(buf, [0xEE; 8]);
    assert!(got.is_empty());
    assert!(
        inos.iter().all(|&i| copies(i) == 1),
        "a descriptor installed by a receive that never ran"
    );
    b.set_read_deadline(None);
    let (r, buf, got) = reactor
        .run_until(b.recv_with_fds(Vec::with_capacity(8), 4))
        .unwrap();
    assert_eq!(r.unwrap(), 3);
    assert_eq!(buf, b"now");
    assert_eq!(got.iter().map(inode).collect::<Vec<_>>(), inos);
    drop(got);
    drop(pipes);
    assert!(inos.iter().all(|&i| copies(i) == 0));
    assert_eq!(reactor.in_flight(), 0);
}

// ---------------------------------------------------------------------------
// Unix datagram names
// ---------------------------------------------------------------------------

/// Abstract names at their edges, as senders and as destinations: one
/// with NUL bytes inside, one with bytes that are not UTF-8, one of 107
/// bytes (all of `sun_path` after the leading NUL), and the empty name
/// (`sun_path` of one NUL: a name of its own, not the unnamed address).
/// Each is reported by `local_addr`, by a receiver's `recv_from` and by a
/// connected socket's `peer_addr` exactly as bound.
#[test]
fn abstract_names_at_their_edges_come_back_as_bound() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let rname = unique("receiver");
    let raddr = std::os::unix::net::SocketAddr::from_abstract_name(&rname).unwrap();
    let receiver = UnixDatagram::bind_addr(&h, &SockAddr::from(&raddr)).unwrap();

    let mut nul = unique("nul");
    nul.extend_from_slice(b"\0in\0side\0");
    let mut odd = unique("odd");
    odd.extend_from_slice(&[0xFF, 0xFE, 0x80]);
    let mut long = unique("long");
    long.resize(107, b'x');
    let names: Vec<Vec<u8>> = vec![nul, odd, long, Vec::new()];
    for name in names {
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
        let sender = match UnixDatagram::bind_addr(&h, &SockAddr::from(&addr)) {
            Ok(s) => s,
            Err(e) if name.is_empty() && e.raw_os_error() == Some(libc::EADDRINUSE) => {
                eprintln!("the empty abstract name is taken: skipped");
                continue;
            }
            Err(e) => panic!("binding {name:?}: {e}"),
        };
        assert_eq!(
            sender.local_addr().unwrap().as_abstract_name(),
            Some(&name[..]),
            "local_addr of {name:?}"
        );
        let (r, _) = reactor
            .run_until(sender.send_to_addr(b"named".to_vec(), SockAddr::from(&raddr)))
            .unwrap();
        assert_eq!(r.unwrap(), 5);
        let (r, buf, from) = reactor.run_until(receiver.recv_from(vec![0u8; 8])).unwrap();
        assert_eq!(&buf[..r.unwrap()], b"named");
        let from = from.expect("a sender address");
        assert!(!from.is_unnamed(), "{name:?}: reported unnamed");
        assert_eq!(from.as_abstract_name(), Some(&name[..]), "{name:?}");
        // Back to the sender by the reported name.
        let (r, _) = reactor
            .run_until(receiver.send_to_addr(b"back".to_vec(), SockAddr::from(&from)))
            .unwrap();
        assert_eq!(r.unwrap(), 4, "{name:?}");
        let (r, buf) = reactor.run_until(sender.recv(vec![0u8; 8])).unwrap();
        assert_eq!(&buf[..r.unwrap()], b"back");
        let c = UnixDatagram::unbound(&h).unwrap();
        c.connect_addr(&SockAddr::from(&addr)).unwrap();
        assert_eq!(
            c.peer_addr().unwrap().as_abstract_name(),
            Some(&name[..]),
            "peer_addr of {name:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// UDP sizes
// ---------------------------------------------------------------------------

/// UDP datagrams at the edges of their size: 65 507 bytes (the most an
/// IPv4 datagram carries) go out and come back whole; one byte more is
/// `EMSGSIZE` (`udp_sendmsg`), as std's twin gets, with the buffer back;
/// a datagram received into a shorter buffer, or a shorter ring buffer,
/// is cut to it (`MSG_TRUNC`, which the count does not show) and the next
/// datagram comes whole; a `send` on an unconnected socket fails as
/// std's does (`EDESTADDRREQ`).
#[test]
fn udp_datagrams_at_and_past_their_largest_size() {
    let _watch = watchdog();
    let reactor = Reactor::new().unwrap();
    let h = reactor.handle();
    let a = UdpSocket::bind(&h, any()).unwrap();
    let b = UdpSocket::bind(&h, any()).unwrap();
    set_int_option(&b, libc::SOL_SOCKET, libc::SO_RCVBUF, 1 << 20).unwrap();
    let to = b.local_addr().unwrap();
    let twin = std::net::UdpSocket::bind(any()).unwrap();

    let most = pattern(65_507, 3);
    let (r, buf) = reactor.run_until(a.send_to(most.clone(), to)).unwrap();
    assert_eq!(r.unwrap(), 65_507);
    assert_eq!(buf, most);
    let (r, buf) = reactor
        .run_until(b.recv_from(Vec::with_capacity(70_000)))
        .unwrap();
    assert_eq!(r.unwrap().0, 65_507);
    assert!(buf == most, "the largest datagram whole");

    let over = pattern(65_508, 4);
    let want = twin.send_to(&over, to);
    let (r, buf) = reactor.run_until(a.send_to(over.clone(), to)).unwrap();
    assert_eq!(errno(&r), Some(libc::EMSGSIZE), "{r:?}");
    assert_eq!(errno(&r), errno(&want));
    assert_eq!(buf, over);

    let want = twin.send(b"nowhere");
    let (r, buf) = reactor.run_until(a.send(b"nowhere".to_vec())).unwrap();
    assert_eq!(errno(&r), Some(libc::EDESTADDRREQ), "{r:?}");
    assert_eq!(errno(&r), errno(&want));
    assert_eq!(buf, b"nowhere");

    let long = pattern(1000, 5);
    for _ in 0..2 {
        let (r, _) = reactor.run_until(a.send_to(long.clone(), to)).unwrap();
        assert_eq!(r.unwrap(), 1000);
    }
    let (r, _) = reactor.run_until(a.send_to(b"whole".to_vec(), to)).unwrap();
    assert_eq!(r.unwrap(), 5);
    let (r, buf) = reactor.run_until(b.recv(vec![0u8; 10])).unwrap();
    assert_eq!(r.unwrap(), 10, "cut to the buffer, not the datagram's 1000");
    assert_eq!(buf, long[..10]);
    b.connect(a.local_addr().unwrap()).unwrap();
    if let Some(group) = group_or_skip(&h, 73, 2, 64) {
        let cut = reactor.run_until(b.recv_ring(group)).unwrap().unwrap();
        assert_eq!(cut.len(), 64, "cut to the ring's buffer");
        assert_eq!(&cut[..], &long[..64]);
        drop(cut);
        let whole = reactor.run_until(b.recv_ring(group)).unwrap().unwrap();
        assert_eq!(&whole[..], b"whole", "the next datagram whole");
        // A ring buffer sent back as it is, sliced.
        let (r, _) = reactor.run_until(b.send(whole.slice(1..4))).unwrap();
        assert_eq!(r.unwrap(), 3);
        let (r, buf) = reactor.run_until(a.recv_from(vec![0u8; 8])).unwrap();
        let (n, from) = r.unwrap();
        assert_eq!((&buf[..n], from), (&b"hol"[..], to));
        assert_group_whole(&reactor, group, 2, "after the cut datagrams");
    }
    assert_eq!(reactor.in_flight(), 0);
}
