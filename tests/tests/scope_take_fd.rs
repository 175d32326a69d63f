//! `ScopeCqe::take_fd`: the descriptor an accept, a socket, an open or an
//! install makes, handed out safely by the scope that pushed the op, once
//! per completion; and never a number that the kernel did not install for
//! one of the scope's ops: a direct descriptor's slot, a NOP's injected
//! result, a message, a failure, the completion of an op pushed outside
//! the scope, or one carrying an earlier scope's tag.

use std::collections::BTreeSet;
use std::ffi::CStr;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use uring::ops::{Accept, FixedFdInstall, MsgRing, Nop, OpenAt, OpenAt2, Read, Socket, Write};
use uring::{
    AcceptFlags, Builder, Cqe32, DirectSlot, Fd, Features, PushErrorKind, Ring, Scope, Sqe64, sys,
};
use uring_tests::{PATIENCE, cpath, fd_is_open, require_kernel, require_op, watchdog};

/// What one completion of a scope gave.
#[derive(Debug)]
struct Got {
    user_data: u64,
    res: i32,
    flags: u32,
    scope_op: bool,
    fd: Option<OwnedFd>,
}

impl Got {
    /// The descriptor, asserting there is one.
    fn fd(self) -> OwnedFd {
        let Got { fd, .. } = self;
        fd.expect("a descriptor")
    }
}

/// Submits, and waits until `n` completions have come ([`PATIENCE`] at
/// most for each); from each, takes the descriptor twice: the second take
/// must give nothing, and a descriptor taken must be the number the
/// completion carries.
fn take_n(s: &mut Scope<'_, '_>, n: usize) -> Vec<Got> {
    s.submit().unwrap();
    let mut got = Vec::new();
    while got.len() < n {
        s.wait_timeout(1, PATIENCE)
            .unwrap_or_else(|e| panic!("{e} after {got:?}"));
        for mut cqe in s.completions() {
            let fd = cqe.take_fd();
            assert!(cqe.take_fd().is_none(), "a second take: {cqe:?}");
            if let Some(fd) = &fd {
                assert_eq!(fd.as_raw_fd(), cqe.res(), "{cqe:?}");
            }
            got.push(Got {
                user_data: cqe.user_data(),
                res: cqe.res(),
                flags: cqe.flags(),
                scope_op: cqe.is_scope_op(),
                fd,
            });
        }
    }
    assert_eq!(got.len(), n, "more completions than expected: {got:?}");
    got
}

/// Which scopes a ring of [`both_kinds`] runs: whether they tag every op.
#[derive(Clone, Copy, Debug)]
struct Kind {
    name: &'static str,
    tags_every_op: bool,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// A ring whose scopes leave plain ops untagged (on a kernel that lets
/// them: 6.3), and one whose scopes tag every op (an op was pushed outside
/// a scope).
fn both_kinds() -> [(Ring, Kind); 2] {
    let fast = Ring::new(16).unwrap();
    let untagging = fast.params().has(Features::REG_REG_RING);
    let mut tagging = Ring::new(16).unwrap();
    tagging.push(Nop::new().user_data(1000)).unwrap();
    tagging.submit_and_wait(1).unwrap();
    assert_eq!(tagging.completions().count(), 1);
    [
        (
            fast,
            Kind {
                name: "a fresh ring's scope",
                tags_every_op: !untagging,
            },
        ),
        (
            tagging,
            Kind {
                name: "a scope that tags every op",
                tags_every_op: true,
            },
        ),
    ]
}

/// Asserts that the scope tags every op as its ring's [`Kind`] says.
fn assert_kind(s: &Scope<'_, '_>, kind: Kind) {
    assert_eq!(s.tags_every_op(), kind.tags_every_op, "{kind}");
}

/// `open_how` with `flags`, no mode, no resolve rules.
fn open_how(flags: i32) -> libc::open_how {
    // SAFETY: all-zero bytes are a valid `open_how`.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = flags as u32 as u64;
    how
}

/// A pipe's two ends, as std files.
fn pipe() -> (File, File) {
    let (r, w) = uring_tests::pipe();
    (File::from(r), File::from(w))
}

/// The accept of a real TCP connection gives the connection's descriptor,
/// once: bytes go both ways through it, and its peer is the client. In a
/// scope that leaves plain ops untagged and in one that tags every op.
#[test]
fn accept_gives_the_connection() {
    let _watch = watchdog();
    for (mut ring, kind) in both_kinds() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (server, mut client) = ring.scope(|s| {
            assert_kind(s, kind);
            s.push(Accept::new(&listener).user_data(1)).unwrap();
            s.submit().unwrap();
            let client = TcpStream::connect(addr).unwrap();
            let mut got = take_n(s, 1);
            let got = got.remove(0);
            assert_eq!((got.user_data, got.scope_op), (1, true), "{kind}");
            assert!(got.res >= 0, "{kind}: {got:?}");
            (TcpStream::from(got.fd()), client)
        });
        let mut server = server;
        assert_eq!(
            server.peer_addr().unwrap(),
            client.local_addr().unwrap(),
            "{kind}"
        );
        server.write_all(b"ping").unwrap();
        let mut four = [0u8; 4];
        client.read_exact(&mut four).unwrap();
        assert_eq!(&four, b"ping", "{kind}");
        client.write_all(b"pong").unwrap();
        server.read_exact(&mut four).unwrap();
        assert_eq!(&four, b"pong", "{kind}");
    }
}

/// A multishot accept's completions each carry a connection of their own:
/// three connections, three distinct descriptors, each the server end of
/// one client. The last completion (cancelled) carries none.
#[test]
fn multishot_accept_gives_one_descriptor_per_connection() {
    let _watch = watchdog();
    if !require_kernel(5, 19, "multishot accept") {
        return;
    }
    for (mut ring, kind) in both_kinds() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (servers, clients) = ring.scope(|s| {
            s.push(
                Accept::new(&listener)
                    .iou_flags(AcceptFlags::MULTISHOT)
                    .user_data(7),
            )
            .unwrap();
            s.submit().unwrap();
            let clients: Vec<TcpStream> =
                (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
            let got = take_n(s, 3);
            let mut servers = Vec::new();
            for g in got {
                assert_eq!((g.user_data, g.scope_op), (7, true), "{kind}: {g:?}");
                assert_ne!(g.flags & sys::IORING_CQE_F_MORE, 0, "{kind}: {g:?}");
                servers.push(TcpStream::from(g.fd()));
            }
            assert_eq!(s.cancel(7).unwrap(), 1, "{kind}");
            let last = take_n(s, 1).remove(0);
            assert_eq!(last.user_data, 7, "{kind}");
            assert_eq!(last.res, -libc::ECANCELED, "{kind}: {last:?}");
            assert!(last.fd.is_none(), "{kind}");
            assert_eq!(last.flags & sys::IORING_CQE_F_MORE, 0, "{kind}");
            (servers, clients)
        });
        let numbers: BTreeSet<RawFd> = servers.iter().map(|s| s.as_raw_fd()).collect();
        assert_eq!(numbers.len(), 3, "{kind}: {numbers:?}");
        let peers: BTreeSet<_> = servers.iter().map(|s| s.peer_addr().unwrap()).collect();
        let ends: BTreeSet<_> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
        assert_eq!(peers, ends, "{kind}");
        for (i, mut server) in servers.into_iter().enumerate() {
            let peer = server.peer_addr().unwrap();
            let mut client = clients
                .iter()
                .find(|c| c.local_addr().unwrap() == peer)
                .unwrap();
            server.write_all(&[i as u8; 3]).unwrap();
            let mut three = [0u8; 3];
            client.read_exact(&mut three).unwrap();
            assert_eq!(three, [i as u8; 3], "{kind}");
        }
    }
}

/// A socket made through the ring is a working UDP socket of this process.
#[test]
fn socket_gives_a_working_descriptor() {
    let _watch = watchdog();
    for (mut ring, kind) in both_kinds() {
        if !require_op::<Socket<'static>>(&ring) {
            return;
        }
        let fd = ring.scope(|s| {
            assert_kind(s, kind);
            s.push(Socket::new(libc::AF_INET, libc::SOCK_DGRAM).user_data(3))
                .unwrap();
            take_n(s, 1).remove(0).fd()
        });
        let sender = UdpSocket::from(fd);
        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        receiver.set_read_timeout(Some(PATIENCE)).unwrap();
        sender
            .send_to(b"datagram", receiver.local_addr().unwrap())
            .unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = receiver.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"datagram", "{kind}");
        // The socket was bound by its first send, to every address.
        assert_eq!(from.port(), sender.local_addr().unwrap().port(), "{kind}");
    }
}

/// `OpenAt` and `OpenAt2` give descriptors of the file they opened (read
/// through one, written through the other), and `FixedFdInstall` one of the
/// registered file.
#[test]
fn opens_and_installs_give_working_descriptors() {
    for (mut ring, kind) in both_kinds() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"opened through the ring").unwrap();
        let c_path = cpath(&path);
        let got = ring.scope(|s| {
            assert_kind(s, kind);
            s.push(
                OpenAt::new(Fd::CWD, c_path.as_c_str())
                    .open_flags(libc::O_RDONLY | libc::O_CLOEXEC)
                    .user_data(1),
            )
            .unwrap();
            take_n(s, 1).remove(0).fd()
        });
        let mut text = String::new();
        File::from(got).read_to_string(&mut text).unwrap();
        assert_eq!(text, "opened through the ring", "{kind}");

        if require_op::<OpenAt2<'static>>(&ring) {
            let how = open_how(libc::O_WRONLY | libc::O_APPEND | libc::O_CLOEXEC);
            let got = ring.scope(|s| {
                s.push(OpenAt2::new(Fd::CWD, c_path.as_c_str(), &how).user_data(2))
                    .unwrap();
                take_n(s, 1).remove(0).fd()
            });
            File::from(got).write_all(b", twice").unwrap();
            assert_eq!(
                std::fs::read(&path).unwrap(),
                b"opened through the ring, twice",
                "{kind}"
            );
        }

        if require_op::<FixedFdInstall>(&ring) {
            let file = File::open(&path).unwrap();
            let files = ring.register_files(&[file.as_fd()]).unwrap();
            drop(file);
            let got = ring.scope(|s| {
                s.push(FixedFdInstall::new(files.get(0).unwrap()).user_data(3))
                    .unwrap();
                take_n(s, 1).remove(0).fd()
            });
            let mut text = String::new();
            File::from(got).read_to_string(&mut text).unwrap();
            assert_eq!(text, "opened through the ring, twice", "{kind}");
            ring.unregister_files(files).unwrap();
        }
    }
}

/// Ops that make descriptors but fail (`res < 0`) give none: an open of a
/// missing file, an accept on a socket that does not listen, a socket of a
/// protocol its type does not take, and an open cancelled by the failure
/// of the op it is linked after.
#[test]
fn failures_give_none() {
    for (mut ring, kind) in both_kinds() {
        let dir = tempfile::tempdir().unwrap();
        let missing = cpath(&dir.path().join("missing"));
        let unbound = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
        let socket_op = require_op::<Socket<'static>>(&ring);
        let got = ring.scope(|s| {
            assert_kind(s, kind);
            s.push(OpenAt::new(Fd::CWD, missing.as_c_str()).user_data(1))
                .unwrap();
            s.push(Accept::new(&unbound).user_data(2)).unwrap();
            s.push(
                OpenAt::new(Fd::CWD, missing.as_c_str())
                    .user_data(3)
                    .link(OpenAt::new(Fd::CWD, c"/dev/null").user_data(4)),
            )
            .unwrap();
            let mut n = 4;
            if socket_op {
                s.push(
                    Socket::new(libc::AF_INET, libc::SOCK_DGRAM)
                        .protocol(libc::IPPROTO_TCP)
                        .user_data(5),
                )
                .unwrap();
                n += 1;
            }
            take_n(s, n)
        });
        let mut results: Vec<(u64, i32)> = got
            .iter()
            .map(|g| {
                assert!(g.scope_op && g.fd.is_none(), "{kind}: {g:?}");
                (g.user_data, g.res)
            })
            .collect();
        results.sort();
        let mut want = vec![
            (1, -libc::ENOENT),
            (2, -libc::EINVAL),
            (3, -libc::ENOENT),
            (4, -libc::ECANCELED),
        ];
        if socket_op {
            want.push((5, -libc::EPROTONOSUPPORT));
        }
        assert_eq!(results, want, "{kind}");
    }
}

/// A descriptor not taken stays open: dropping the completion closes
/// nothing (the program may still take the number from `res`). Read with
/// `for_each`, the completions give their descriptors as with `next`.
#[test]
fn an_untaken_descriptor_stays_open() {
    for (mut ring, kind) in both_kinds() {
        let (left, taken) = ring.scope(|s| {
            s.push(OpenAt::new(Fd::CWD, c"/dev/null").user_data(1))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            let cqe = s.completions().next().expect("a completion");
            let res = cqe.res();
            assert!(res >= 0, "{kind}: {cqe:?}");
            drop(cqe);
            s.push(OpenAt::new(Fd::CWD, c"/dev/null").user_data(2))
                .unwrap();
            s.push(Nop::new().user_data(3)).unwrap();
            s.submit_and_wait(2).unwrap();
            let mut taken = Vec::new();
            s.completions()
                .for_each(|mut c| taken.push((c.user_data(), c.take_fd())));
            (res, taken)
        });
        assert!(fd_is_open(left), "{kind}: {left} was closed");
        // SAFETY: the open above made `left` for this test, and nothing took
        // it: the dropped completion closed nothing, as just checked.
        drop(unsafe { OwnedFd::from_raw_fd(left) });
        let mut taken = taken;
        taken.sort_by_key(|t| t.0);
        assert_eq!(taken.len(), 2, "{kind}");
        assert!(taken[0].0 == 2 && taken[0].1.is_some(), "{kind}");
        assert!(taken[1].0 == 3 && taken[1].1.is_none(), "{kind}");
    }
}

/// Completions the program never read are the scope's to drop as it ends,
/// and it closes the descriptors they carry: two connections a multishot
/// accept took (the scope then cancels the accept) and an open of a pipe's
/// write end, all left in the CQ when the closure returns. Each client
/// then reads the end of its stream, and the pipe's reader too once the
/// test's own write end is closed: nothing holds them open.
#[test]
fn descriptors_left_unread_when_the_scope_ends_are_closed() {
    let _watch = watchdog();
    if !require_kernel(5, 19, "multishot accept") {
        return;
    }
    for (mut ring, kind) in both_kinds() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (mut reader, writer) = pipe();
        let path = cpath(std::path::Path::new(&format!(
            "/proc/self/fd/{}",
            writer.as_raw_fd()
        )));
        let clients = ring.scope(|s| {
            s.push(
                Accept::new(&listener)
                    .iou_flags(AcceptFlags::MULTISHOT)
                    .user_data(1),
            )
            .unwrap();
            s.push(
                OpenAt::new(Fd::CWD, path.as_c_str())
                    .open_flags(libc::O_WRONLY | libc::O_CLOEXEC)
                    .user_data(2),
            )
            .unwrap();
            s.submit().unwrap();
            let clients: Vec<TcpStream> =
                (0..2).map(|_| TcpStream::connect(addr).unwrap()).collect();
            // Three completions in the CQ, none read.
            s.wait_timeout(3, PATIENCE).unwrap();
            clients
        });
        assert_eq!(ring.completions().count(), 0, "{kind}");
        for mut client in clients {
            client.set_read_timeout(Some(PATIENCE)).unwrap();
            let mut byte = [0u8; 1];
            assert_eq!(
                client.read(&mut byte).unwrap(),
                0,
                "{kind}: the accepted connection was closed"
            );
        }
        drop(writer);
        let mut rest = Vec::new();
        assert_eq!(
            reader.read_to_end(&mut rest).unwrap(),
            0,
            "{kind}: the opened write end was closed"
        );
    }
}

/// An op pushed over an owned buffer (here the path it opens) gives back
/// both the buffer and the descriptor with its completion.
#[test]
fn an_open_over_an_owned_path_gives_both() {
    for (mut ring, kind) in both_kinds() {
        let (buf, fd) = ring.scope(|s| {
            s.push_owned(b"/dev/null\0".to_vec(), |path, sq| {
                let path = CStr::from_bytes_with_nul(path).unwrap();
                sq.push(OpenAt::new(Fd::CWD, path).user_data(1));
            })
            .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().expect("a completion");
            (cqe.take_buf(), cqe.take_fd())
        });
        assert_eq!(buf.as_deref(), Some(&b"/dev/null\0"[..]), "{kind}");
        let mut file = File::from(fd.expect("a descriptor"));
        assert_eq!(file.read(&mut [0; 4]).unwrap(), 0, "{kind}");
    }
}

/// The ops of a ring of 32-byte CQEs give descriptors as well.
#[test]
fn big_cqes_give_descriptors() {
    let mut ring = Builder::new().build_sized::<Sqe64, Cqe32>(8).unwrap();
    let fd = ring.scope(|s| {
        s.push(OpenAt::new(Fd::CWD, c"/dev/null").user_data(1))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().expect("a completion");
        let fd = cqe.take_fd();
        assert!(cqe.take_fd().is_none());
        fd
    });
    let mut file = File::from(fd.expect("a descriptor"));
    assert_eq!(file.read(&mut [0; 4]).unwrap(), 0);
}

/// Direct descriptors give none: their result is a slot of the ring's
/// table (one the kernel picked), or 0 (a slot chosen), which is no
/// descriptor of the process (0 is standard input's). Opens, `OpenAt2`,
/// sockets, an accept and a multishot accept, all of which succeed.
#[test]
fn direct_descriptors_give_none() {
    let _watch = watchdog();
    if !require_kernel(5, 19, "direct sockets and multishot accept") {
        return;
    }
    for (mut ring, kind) in both_kinds() {
        let mut files = ring.register_files_sparse(8).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let how = open_how(libc::O_RDONLY);
        let openat2 = require_op::<OpenAt2<'static>>(&ring);
        let (got, clients) = ring.scope(|s| {
            assert_kind(s, kind);
            let null = c"/dev/null";
            s.push(
                OpenAt::new(Fd::CWD, null)
                    .open_flags(libc::O_RDONLY)
                    .direct(DirectSlot::ALLOC)
                    .user_data(1),
            )
            .unwrap();
            s.push(
                OpenAt::new(Fd::CWD, null)
                    .open_flags(libc::O_RDONLY)
                    .direct(DirectSlot::at(files.get_mut(7).unwrap()))
                    .user_data(2),
            )
            .unwrap();
            s.push(
                Socket::new(libc::AF_INET, libc::SOCK_DGRAM)
                    .direct(DirectSlot::ALLOC)
                    .user_data(3),
            )
            .unwrap();
            s.push(
                Accept::new(&listener)
                    .direct(DirectSlot::ALLOC)
                    .user_data(4),
            )
            .unwrap();
            let mut n = 4;
            if openat2 {
                s.push(
                    OpenAt2::new(Fd::CWD, null, &how)
                        .direct(DirectSlot::ALLOC)
                        .user_data(5),
                )
                .unwrap();
                n += 1;
            }
            s.submit().unwrap();
            let first = TcpStream::connect(addr).unwrap();
            let mut got = take_n(s, n);
            // Then a multishot accept of direct descriptors: two
            // connections, two completions flagged `F_MORE`.
            s.push(
                Accept::new(&listener)
                    .iou_flags(AcceptFlags::MULTISHOT)
                    .direct(DirectSlot::ALLOC)
                    .user_data(6),
            )
            .unwrap();
            s.submit().unwrap();
            let more = [
                TcpStream::connect(addr).unwrap(),
                TcpStream::connect(addr).unwrap(),
            ];
            got.extend(take_n(s, 2));
            (got, (first, more))
        });
        drop(clients);
        let mut slots = BTreeSet::new();
        for g in &got {
            assert!(g.scope_op, "{kind}: {g:?}");
            assert!(g.fd.is_none(), "{kind}: a direct descriptor gave {g:?}");
            if g.user_data == 2 {
                assert_eq!(g.res, 0, "{kind}: a chosen slot completes with 0");
            } else {
                assert!((0..8).contains(&g.res), "{kind}: a picked slot: {g:?}");
                assert!(slots.insert(g.res), "{kind}: slot {} twice", g.res);
            }
            if g.user_data == 6 {
                assert_ne!(g.flags & sys::IORING_CQE_F_MORE, 0, "{kind}: {g:?}");
            }
        }
        ring.unregister_files(files).unwrap();
    }
}

/// NOPs give none, whatever result they inject (here the number of a
/// descriptor the test owns, and 0), and so do ops that make no
/// descriptor (a write and a read of a pipe). The pipe still works after.
#[test]
fn nops_and_other_ops_give_none() {
    for (mut ring, kind) in both_kinds() {
        let (mut r, mut w) = pipe();
        let number = r.as_raw_fd();
        let inject = require_kernel(6, 10, "NOP results");
        let mut buf = [0u8; 8];
        let got = ring.scope(|s| {
            assert_kind(s, kind);
            s.push(Nop::new().user_data(1)).unwrap();
            s.push(Write::new(&w, b"abc").user_data(2)).unwrap();
            let mut n = 2;
            if inject {
                s.push(Nop::new().result(number).user_data(3)).unwrap();
                s.push(Nop::new().result(0).user_data(4)).unwrap();
                n += 2;
            }
            let mut got = take_n(s, n);
            s.push(Read::new(&r, &mut buf[..]).user_data(5)).unwrap();
            got.extend(take_n(s, 1));
            got
        });
        let mut results: Vec<(u64, i32)> = got
            .iter()
            .map(|g| {
                assert!(g.scope_op && g.fd.is_none(), "{kind}: {g:?}");
                (g.user_data, g.res)
            })
            .collect();
        results.sort();
        let mut want = vec![(1, 0), (2, 3)];
        if inject {
            want.extend([(3, number), (4, 0)]);
        }
        want.push((5, 3));
        assert_eq!(results, want, "{kind}");
        assert_eq!(&buf[..3], b"abc");
        assert!(fd_is_open(number), "{kind}");
        w.write_all(b"still").unwrap();
        let mut five = [0u8; 5];
        r.read_exact(&mut five).unwrap();
        assert_eq!(&five, b"still", "{kind}");
    }
}

/// Messages give none. Posted before the scope (`MsgRing` from another
/// ring, `Ring::post`), with the `user_data` of the scope's own open and
/// the number of a descriptor the test owns as their result, they pass
/// through the scope as another's completions; the open's own completion
/// gives its descriptor.
#[test]
fn messages_posted_before_the_scope_give_none() {
    let _watch = watchdog();
    let mut ring = Ring::new(16).unwrap();
    let mut sender = Ring::new(8).unwrap();
    let (r, _w) = pipe();
    let number = r.as_raw_fd();
    if !require_op::<MsgRing>(&sender) {
        return;
    }
    let cqe = uring_tests::complete(&mut sender, MsgRing::new(&ring, number, 1).user_data(9));
    assert_eq!(cqe.res(), 0, "MSG_RING: {cqe:?}");
    let mut n = 2;
    if uring_tests::kernel_version() >= (6, 13) {
        ring.post(number, 1).unwrap();
        n += 1;
    }
    let got = ring.scope(|s| {
        assert!(s.tags_every_op(), "a ring that took messages");
        s.push(OpenAt::new(Fd::CWD, c"/dev/null").user_data(1))
            .unwrap();
        take_n(s, n)
    });
    let mut fds = 0;
    for g in got {
        assert_eq!(g.user_data, 1, "{g:?}");
        if g.scope_op {
            assert!(g.fd.is_some(), "the open's own: {g:?}");
            fds += 1;
        } else {
            assert_eq!(g.res, number, "{g:?}");
            assert!(g.fd.is_none(), "a message gave {g:?}");
        }
    }
    assert_eq!(fds, 1);
    assert!(fd_is_open(number));
}

/// During a scope, messages reach a ring only through a `RingTarget` made
/// before it, and while one lives the scope takes no op at all
/// (`Targeted`): messages sent into it then, from another ring's scope
/// (`MsgRing`) or from none (`RingTarget::post`), some carrying
/// `user_data` shaped like a tag, give none.
#[test]
fn messages_during_a_targeted_scope_give_none() {
    let _watch = watchdog();
    let mut ring = Ring::new(16).unwrap();
    let mut sender = Ring::new(8).unwrap();
    if !require_op::<MsgRing>(&sender) {
        return;
    }
    let target = ring.msg_target().unwrap();
    let (r, _w) = pipe();
    let number = r.as_raw_fd();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let forged = [1u64, 1 << 63, u64::MAX, (1 << 63) | (0x8000_0001 << 32)];
    let got = ring.scope(|s| {
        let refused = s.push(Accept::new(&listener).user_data(1)).unwrap_err();
        assert_eq!(refused.kind(), PushErrorKind::Targeted);
        let refused = s
            .push(OpenAt::new(Fd::CWD, c"/dev/null").user_data(1))
            .unwrap_err();
        assert_eq!(refused.kind(), PushErrorKind::Targeted);
        sender.scope(|t| {
            for &ud in &forged {
                t.push(MsgRing::new(&target, number, ud).user_data(9))
                    .unwrap();
            }
            let sent = take_n(t, forged.len());
            assert!(
                sent.iter().all(|g| g.res == 0 && g.fd.is_none()),
                "{sent:?}"
            );
        });
        let mut n = forged.len();
        if uring_tests::kernel_version() >= (6, 13) {
            target.post(number, 1 << 63).unwrap();
            n += 1;
        }
        take_n(s, n)
    });
    for g in &got {
        assert!(!g.scope_op, "{g:?}");
        assert_eq!(g.res, number, "{g:?}");
        assert!(g.fd.is_none(), "a message gave {g:?}");
    }
    drop(target);
    assert!(fd_is_open(number));
}

/// Ops pushed outside the scope give none, even those that really made a
/// descriptor: an accept written as a raw SQE (`push_raw`) and an open
/// pushed with `push_unchecked`, both completing while the scope reads.
/// The scope's own open gives its descriptor.
#[test]
fn ops_pushed_outside_the_scope_give_none() {
    let _watch = watchdog();
    let mut ring = Ring::new(16).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = uring_tests::raw_sqe(sys::IORING_OP_ACCEPT, listener.as_raw_fd(), 0, 0, 0, 1);
    // SAFETY: an accept that writes no address (`addr` 0) on a listener that
    // outlives the ring's use of it (its completion is read below).
    unsafe { ring.push_raw(&[accept]) }.unwrap();
    // SAFETY: the path is static.
    unsafe { ring.push_unchecked(OpenAt::new(Fd::CWD, c"/dev/null").user_data(2)) }.unwrap();
    ring.submit().unwrap();
    let got = ring.scope(|s| {
        assert!(s.tags_every_op());
        s.push(OpenAt::new(Fd::CWD, c"/dev/null").user_data(3))
            .unwrap();
        s.submit().unwrap();
        let _client = TcpStream::connect(addr).unwrap();
        take_n(s, 3)
    });
    let mut seen = BTreeSet::new();
    for g in got {
        seen.insert(g.user_data);
        if g.user_data == 3 {
            assert!(g.scope_op && g.fd.is_some(), "{g:?}");
            continue;
        }
        assert!(!g.scope_op, "{g:?}");
        assert!(g.fd.is_none(), "an op pushed outside the scope gave {g:?}");
        assert!(g.res >= 0, "{g:?}");
        assert!(fd_is_open(g.res), "{g:?}");
        // SAFETY: the op pushed outside the scope made this descriptor for
        // the test, and nothing took it (the scope gave none).
        drop(unsafe { OwnedFd::from_raw_fd(g.res) });
    }
    assert_eq!(seen, BTreeSet::from([1, 2, 3]));
}

/// An op that makes a descriptor is tagged even in a scope that leaves
/// plain ops untagged, and a completion that carries its tag after its
/// scope has ended (posted by a raw NOP, injecting the number of a
/// descriptor the test owns where the kernel can) gives none in the next
/// scope, whose own open, in the same slot, gives its descriptor.
#[test]
fn a_previous_scopes_tag_gives_none() {
    let mut ring = Ring::new(16).unwrap();
    let fd = ring.as_raw_fd();
    let (r, _w) = pipe();
    let number = r.as_raw_fd();
    let (tag, first) = ring.scope(|s| {
        let untagging = !s.tags_every_op();
        s.push(OpenAt::new(Fd::CWD, c"/dev/null").user_data(1))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let shown = uring_tests::fdinfo_user_data(fd);
        assert_eq!(shown.len(), 1, "{shown:x?}");
        if untagging {
            assert_ne!(shown[0], 1, "the open is tagged");
        }
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(cqe.user_data(), 1);
        (shown[0], cqe.take_fd())
    });
    assert!(first.is_some());
    assert_ne!(tag & (1 << 63), 0, "{tag:x}");
    let inject = require_kernel(6, 10, "NOP results");
    let mut nop = uring_tests::raw_sqe(sys::IORING_OP_NOP, -1, 0, 0, 0, tag);
    if inject {
        nop.len = number as u32;
        nop.op_flags = sys::io_uring_sqe_op_flags {
            nop_flags: sys::IORING_NOP_INJECT_RESULT,
        };
    }
    // SAFETY: a NOP names no memory and no file.
    unsafe { ring.push_raw(&[nop]) }.unwrap();
    ring.submit_and_wait(1).unwrap();
    let got = ring.scope(|s| {
        s.push(OpenAt::new(Fd::CWD, c"/dev/null").user_data(1))
            .unwrap();
        take_n(s, 2)
    });
    let want = if inject { number } else { 0 };
    let mut own = 0;
    for g in got {
        if g.scope_op {
            assert_eq!(g.user_data, 1, "{g:?}");
            assert!(g.fd.is_some(), "{g:?}");
            own += 1;
        } else {
            assert_eq!((g.user_data, g.res), (tag, want), "{g:?}");
            assert!(g.fd.is_none(), "an earlier scope's tag gave {g:?}");
        }
    }
    assert_eq!(own, 1);
    assert!(fd_is_open(number));
}
