//! Attacks on the ops that make descriptors or registered-file slots, and
//! on the ops whose kernel output lands in memory they borrow.
//!
//! Each test drives the library with safe code only (unsafe appears only to
//! set up, such as making an epoll instance, or to inspect what the kernel
//! did, each with a `// SAFETY:` comment) and asserts
//! the safe outcome: no slot replaced that the op did not hold, no
//! descriptor owned that the kernel did not make for that very op, no
//! kernel write outside what an op borrowed.

use std::io::{Read as _, Seek as _, Write as _};
use std::net::UdpSocket;
use std::os::fd::AsFd;
use std::time::Duration;

use uring::ops::{
    Accept, CancelFd, Close, EpollWait, FilesUpdate, FixedFdInstall, FutexWait, FutexWake, Nop,
    OpenAt, Pipe, SetSockOpt, Socket, WaitId, Write,
};
use uring::{
    DirectSlot, Error, FileUpdates, FilesAt, PushErrorKind, Ring, SockOpt, SyncCancel, WaitIdTarget,
};
use uring_tests::{PATIENCE, complete, require_op};

/// The bytes of `file` from its start.
fn contents(file: &mut std::fs::File) -> Vec<u8> {
    let mut out = Vec::new();
    file.rewind().unwrap();
    file.read_to_end(&mut out).unwrap();
    out
}

/// `Pipe` given one slot held exclusively (`DirectSlot::at`) installs its
/// write end in the next slot too: the kernel replaces a slot the op never
/// named, here one that another `FixedMut` (from `get_many_mut`) holds
/// exclusively meanwhile. The safe outcome: slot 1 still holds the file
/// registered there, and a write through it lands in that file.
#[test]
fn a_direct_pipe_at_one_slot_replaces_no_other_slot() {
    let _watch = uring_tests::watchdog();
    let _serial = serial();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Pipe<'static>>(&ring) {
        return;
    }
    let a = tempfile::tempfile().unwrap();
    let mut b = tempfile::tempfile().unwrap();
    let mut files = ring.register_files(&[a.as_fd(), b.as_fd()]).unwrap();
    let mut fds = [-1; 2];
    {
        // Slot 1 is held exclusively, by `slot1`, while the pipe runs.
        let [slot0, slot1] = files.get_many_mut([0, 1]).unwrap();
        let cqe = complete(
            &mut ring,
            Pipe::new(&mut fds)
                .pipe_flags(0)
                .direct(DirectSlot::at(slot0)),
        );
        // Refused: the handle holds slot 0 alone.
        assert_eq!(
            cqe.res(),
            -libc::EINVAL,
            "{cqe:?} (slot {} held)",
            slot1.index()
        );
    }
    // Slot 1 was never named: a write through it must reach `b`.
    let cqe = complete(&mut ring, Write::new(files.get(1).unwrap(), b"mine"));
    assert_eq!(cqe.res(), 4, "{cqe:?}");
    assert_eq!(
        contents(&mut b),
        b"mine",
        "slot 1 no longer holds its file: the pipe replaced it (fds {fds:?})"
    );
    // A handle that holds the whole table (`get_mut`) holds the next slot
    // too: the pipe's ends go to slots 0 and 1.
    let cqe = complete(
        &mut ring,
        Pipe::new(&mut fds)
            .pipe_flags(0)
            .direct(DirectSlot::at(files.get_mut(0).unwrap())),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(fds, [0, 1]);
    let cqe = complete(&mut ring, Write::new(files.get(1).unwrap(), b"pipe"));
    assert_eq!(cqe.res(), 4, "{cqe:?}");
    assert_eq!(
        contents(&mut b),
        b"mine",
        "slot 1 is the pipe's write end now"
    );
}

/// `FilesUpdate` at one slot held exclusively (`FilesAt::from(FixedMut)`)
/// replaces as many slots as it has descriptors, while `get_many_mut` lets
/// another `FixedMut` hold the next slot at the same time: the update
/// replaces a slot that another handle holds exclusively. The safe
/// outcome: the kernel replaces no slot but the one the update holds.
#[test]
fn an_update_at_one_held_slot_replaces_no_slot_held_by_another() {
    let _watch = uring_tests::watchdog();
    let _serial = serial();
    let mut ring = Ring::new(8).unwrap();
    let a = tempfile::tempfile().unwrap();
    let b = tempfile::tempfile().unwrap();
    let c = tempfile::tempfile().unwrap();
    let d = tempfile::tempfile().unwrap();
    let mut files = ring.register_files(&[a.as_fd(), b.as_fd()]).unwrap();
    let [slot0, slot1] = files.get_many_mut([0, 1]).unwrap();
    let mut updates = FileUpdates::new(&[Some(c.as_fd()), Some(d.as_fd())]);
    let cqe = complete(
        &mut ring,
        FilesUpdate::new(&mut updates, FilesAt::from(slot0)),
    );
    // `slot1` is still held, exclusively, by this code.
    let held = slot1.index();
    assert_eq!(
        cqe.res(),
        -libc::EINVAL,
        "the update held slot 0 only, and should replace nothing, not slot {held}"
    );
    // A handle from `get_mut` holds the whole table: the same update
    // replaces both slots.
    let mut updates = FileUpdates::new(&[Some(c.as_fd()), Some(d.as_fd())]);
    let cqe = complete(
        &mut ring,
        FilesUpdate::new(&mut updates, FilesAt::from(files.get_mut(0).unwrap())),
    );
    assert_eq!(cqe.res(), 2, "{cqe:?}");
}

/// `SO_ATTACH_FILTER` (asm-generic and x86): a classic BPF program, given
/// as a `struct sock_fprog` that points to it.
const SO_ATTACH_FILTER: i32 = 26;
/// `SO_ATTACH_BPF`: an eBPF program, given as its descriptor's number.
const SO_ATTACH_BPF: i32 = 50;

/// A UDP receiver on loopback and a sender connected to it.
fn udp_pair() -> (UdpSocket, UdpSocket) {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx.local_addr().unwrap()).unwrap();
    (rx, tx)
}

/// Whether a datagram sent now reaches `rx`.
fn datagram_arrives(rx: &UdpSocket, tx: &UdpSocket) -> bool {
    tx.send(b"ping").unwrap();
    let mut buf = [0u8; 8];
    rx.recv(&mut buf).is_ok()
}

/// `SetSockOpt` takes a `SockOpt`, and safe code names only the options
/// whose value the kernel reads as plain data: none of them reads a filter
/// program through an address in the value (`SO_ATTACH_FILTER`,
/// `SO_ATTACH_REUSEPORT_CBPF`) or attaches the program behind a descriptor
/// number (`SO_ATTACH_BPF`, `SO_ATTACH_REUSEPORT_EBPF`); those need the
/// `unsafe` `SockOpt::new` (the ui case `setsockopt_raw_option` shows that
/// safe code cannot name them). Each plain option of the socket level is
/// set on a UDP socket, and datagrams still arrive.
#[test]
fn safe_socket_options_are_plain_data() {
    let _watch = uring_tests::watchdog();
    let _serial = serial();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SetSockOpt<'static>>(&ring) {
        return;
    }
    let attach = [
        SO_ATTACH_FILTER,
        SO_ATTACH_BPF,
        libc::SO_ATTACH_REUSEPORT_CBPF,
        libc::SO_ATTACH_REUSEPORT_EBPF,
    ];
    for opt in SockOpt::PLAIN {
        assert!(
            !(opt.level() == libc::SOL_SOCKET && attach.contains(&opt.name())),
            "{opt:?} is among the safe options"
        );
    }
    let (rx, tx) = udp_pair();
    let on = 1i32.to_ne_bytes();
    for opt in [
        SockOpt::SO_REUSEADDR,
        SockOpt::SO_BROADCAST,
        SockOpt::SO_TIMESTAMP,
    ] {
        let cqe = complete(&mut ring, SetSockOpt::new(&rx, opt, &on[..]));
        assert_eq!(cqe.res(), 0, "{opt:?}: {cqe:?}");
    }
    assert!(datagram_arrives(&rx, &tx));
}

use uring_tests::open_fd_count as open_fds;

/// Serialises the tests of this file: one counts the process's
/// descriptors, which the others open and close.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every argument that names a slot of the registered-file table, not only
/// the target, is refused on another ring: a direct descriptor's slot
/// (`Pipe`, `Socket`, `Accept`, `OpenAt`), the slots of a `FilesUpdate`,
/// the slot a `Close` empties, the slot a `FixedFdInstall` installs, the
/// file a `CancelFd` matches, and a synchronous cancel's file. Nothing is
/// queued, and the slots still work on their own ring.
#[test]
fn every_slot_argument_of_another_ring_is_refused() {
    let _watch = uring_tests::watchdog();
    let _serial = serial();
    let mut a = Ring::new(8).unwrap();
    let mut b = Ring::new(8).unwrap();
    let file = tempfile::tempfile().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut files = a.register_files(&[file.as_fd(), file.as_fd()]).unwrap();
    let space = b.space_left();
    let mut fds = [-1; 2];
    let mut updates = FileUpdates::new(&[Some(file.as_fd())]);
    {
        let [s0, s1] = files.get_many_mut([0, 1]).unwrap();
        b.scope(|s| {
            let e = s
                .push(Pipe::new(&mut fds).pipe_flags(0).direct(DirectSlot::at(s0)))
                .unwrap_err();
            assert_eq!(e.kind(), PushErrorKind::ForeignFile, "Pipe");
            let e = s
                .push(FilesUpdate::new(&mut updates, FilesAt::from(s1)))
                .unwrap_err();
            assert_eq!(e.kind(), PushErrorKind::ForeignFile, "FilesUpdate");
            assert_eq!(s.in_flight(), 0);
        });
    }
    for make in 0..4 {
        let at = DirectSlot::at(files.get_mut(0).unwrap());
        b.scope(|s| {
            let e = match make {
                0 => s
                    .push(Socket::new(libc::AF_INET, libc::SOCK_DGRAM).direct(at))
                    .map_err(|e| e.kind()),
                1 => s
                    .push(Accept::new(&listener).direct(at))
                    .map_err(|e| e.kind()),
                2 => s
                    .push(
                        OpenAt::new(uring::Fd::CWD, c"/dev/null")
                            .open_flags(0)
                            .direct(at),
                    )
                    .map_err(|e| e.kind()),
                _ => s
                    .push(Nop::new().link(Socket::new(libc::AF_INET, libc::SOCK_DGRAM).direct(at)))
                    .map_err(|e| e.kind()),
            };
            assert_eq!(e, Err(PushErrorKind::ForeignFile), "direct op {make}");
        });
    }
    b.scope(|s| {
        let e = s.push(Close::new(files.get_mut(1).unwrap())).unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::ForeignFile, "Close");
    });
    b.scope(|s| {
        let e = s
            .push(FixedFdInstall::new(files.get(0).unwrap()))
            .unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::ForeignFile, "FixedFdInstall");
        let e = s.push(CancelFd::new(files.get(0).unwrap())).unwrap_err();
        assert_eq!(e.kind(), PushErrorKind::ForeignFile, "CancelFd");
        assert_eq!(s.in_flight(), 0);
    });
    let sync = b.cancel_sync(SyncCancel::fd(files.get(0).unwrap()), None);
    assert!(matches!(sync, Err(Error::InvalidArgument(_))), "{sync:?}");
    assert_eq!(b.space_left(), space, "nothing was written");
    assert_eq!(b.pending(), 0);
    // On their own ring both slots still hold the file.
    for index in 0..2 {
        let cqe = complete(&mut a, Write::new(files.get(index).unwrap(), b"x"));
        assert_eq!(cqe.res(), 1, "slot {index}: {cqe:?}");
    }
}

/// A `Pipe` linked behind an op that fails is cancelled before it runs:
/// the kernel writes nothing into its array and makes no descriptor, so
/// no number appears that nobody owns.
#[test]
fn a_cancelled_pipe_writes_no_descriptor_and_makes_none() {
    let _watch = uring_tests::watchdog();
    let _serial = serial();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Pipe<'static>>(&ring) || !uring_tests::require_kernel(6, 10, "NOP results") {
        return;
    }
    let mut fds = [-7; 2];
    let before = open_fds();
    let results = ring.scope(|s| {
        s.push(
            Nop::new()
                .result(-libc::EINVAL)
                .user_data(1)
                .link(Pipe::new(&mut fds).user_data(2)),
        )
        .unwrap();
        s.submit().unwrap();
        let mut results = Vec::new();
        while results.len() < 2 {
            s.wait_timeout(1, PATIENCE).unwrap();
            results.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        results
    });
    assert_eq!(results, [(1, -libc::EINVAL), (2, -libc::ECANCELED)]);
    assert_eq!(fds, [-7; 2]);
    assert_eq!(open_fds(), before);
}

/// A `WaitId` still waiting when its scope ends is cancelled before the
/// scope returns: when the child exits afterwards, the kernel writes
/// nothing into the `siginfo` the scope had lent (now the program's again).
#[test]
fn a_waitid_cut_short_by_its_scope_writes_nothing_after_it() {
    let _watch = uring_tests::watchdog();
    let _serial = serial();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<WaitId<'static>>(&ring) {
        return;
    }
    let mut child = std::process::Command::new("sleep")
        .arg("0.2")
        .spawn()
        .unwrap();
    // SAFETY: all-zero bytes are a valid `siginfo_t`.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    ring.scope(|s| {
        s.push(WaitId::new(
            WaitIdTarget::pid(child.id() as libc::pid_t),
            libc::WEXITED | libc::WNOWAIT,
            &mut info,
        ))
        .unwrap();
        s.submit().unwrap();
        assert_eq!(s.ready(), 0, "the child is still running");
    });
    // The borrow has ended: mark the memory, and let the child die.
    info.si_signo = 0x5a5a;
    info.si_errno = 0x5a5a;
    info.si_code = 0x5a5a;
    let status = child.wait().unwrap();
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        (info.si_signo, info.si_errno, info.si_code),
        (0x5a5a, 0x5a5a, 0x5a5a),
        "the kernel wrote into the siginfo after the scope returned"
    );
}

/// A `FutexWait` cut short by its scope leaves no waiter on the word: a
/// wake after the scope wakes nobody, so the kernel keeps no reference to
/// memory the scope lent.
#[test]
fn a_futex_wait_cut_short_by_its_scope_leaves_no_waiter() {
    let _watch = uring_tests::watchdog();
    let _serial = serial();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FutexWait<'static>>(&ring) {
        return;
    }
    let word = std::sync::atomic::AtomicU32::new(5);
    ring.scope(|s| {
        s.push(FutexWait::new(&word, 5)).unwrap();
        s.submit().unwrap();
        assert_eq!(s.ready(), 0, "the wait is still pending");
    });
    let cqe = complete(&mut ring, FutexWake::new(&word, 10));
    assert_eq!(cqe.res(), 0, "a waiter outlived its scope: {cqe:?}");
}

/// An `EpollWait` cut short by its scope is cancelled before the scope
/// returns: an event that comes afterwards is not written into the array
/// the scope had lent.
#[test]
fn an_epoll_wait_cut_short_by_its_scope_writes_no_event_after_it() {
    let _watch = uring_tests::watchdog();
    let _serial = serial();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<EpollWait<'static>>(&ring) {
        return;
    }
    let (rx, tx) = uring_tests::pipe();
    let epoll = uring_tests::epoll_watching(rx.as_fd(), 0x1234);
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
    ring.scope(|s| {
        s.push(EpollWait::new(&epoll, &mut events[..])).unwrap();
        s.submit().unwrap();
        assert_eq!(s.ready(), 0, "no event yet");
    });
    for e in &mut events {
        e.u64 = 0x5a5a;
    }
    std::fs::File::from(tx).write_all(b"x").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        events.iter().all(|e| { e.u64 } == 0x5a5a),
        "the kernel wrote an event after the scope returned"
    );
    drop(rx);
}
