//! Properties of every op of the table, from the builders the `ops!` macro
//! generates with the `arbitrary-ops` feature (`uring::op::arbitrary`): no
//! test here names an op, so an op added to the table is tested as soon as
//! it is declared.
//!
//! Each case builds the op from arbitrary numbers, flags, durations and
//! buffer lengths, over descriptors, paths, registered files and buffers
//! and provided-buffer groups of a context made for the case (files in a
//! temporary directory, pipes and sockets with data waiting, an eventfd, an
//! epoll set, a child process, a second ring), and pushes it alone or in a
//! chain (`link`, `hard_link`, a link timeout), in a scope or with
//! `push_unchecked`, often with other arbitrary ops in the same batch, on a
//! ring of 1 to 64 entries set up one of many ways (SQPOLL, single issuer
//! with deferred task work, `submit_all`, cooperative task work, no SQ
//! array, rings in user memory, IOPOLL, disabled, 128-byte SQEs). Then:
//!
//! - nothing panics, and no case runs past the watchdog's bound;
//! - a push is refused only for a reason that holds (the queue or the
//!   scope is full, the ring is disabled, a registered file of another
//!   ring), and then the op comes back and nothing was written;
//! - every SQE pushed posts its completions as the kernel documents: one
//!   without `IORING_CQE_F_MORE`, after any number with it (multishot ops,
//!   zero-copy sends and their notification), never one after that, never
//!   one for a `user_data` nobody pushed. Ops still waiting after a short
//!   while (reads of empty pipes, timeouts of an hour, futex waits) are
//!   cancelled, and their cancellation is their last completion;
//! - in a scope, every op has settled when its last completion is read;
//! - the ring still works: a NOP goes round, and nothing else comes back.
//!
//! Run more cases with `URING_PROP_CASES=N` (per op), from a given seed
//! with `URING_PROP_SEED=S`, one op with `URING_PROP_OP=Name`; a failing
//! case prints the line that runs it again.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{CStr, CString};
use std::fmt::Debug;
use std::fs::File;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use uring::op::arbitrary::{Base, Context, Gen, Kind, Site, Visit};
use uring::op::{AfterLink, FitsSqe, LinkKind, OpInfo, Prepare};
use uring::ops::{self, Cancel, LinkTimeout, Nop, Timeout};
use uring::sys::{IORING_CQE_F_MORE, IORING_CQE_F_NOTIF};
use uring::{
    BlockDevice, BufferGroup, Builder, Cqe, Cqe16, FixedBuf, FixedBuffers, FixedFiles, FixedMut,
    MadviseRange, Personality, PushErrorKind, Ring, RingSlot, Scope, Scoped, SocketFd, Sqe64,
    Sqe128, SqeFlags, Submission, SyncCancel, UringCmdOp,
};
use uring_tests::prop::{Arena, case_seed, cases, given_seed, note, op_selected, run_case};

/// How long a case waits for its ops before it cancels those still
/// running.
const PATIENCE: Duration = Duration::from_millis(30);

/// How long a case waits, after cancelling, for every last completion.
const CANCEL_PATIENCE: Duration = Duration::from_secs(20);

/// How long a case waits for the notification the kernel may post after a
/// failed linked zero-copy send's last completion.
const LATE_PATIENCE: Duration = Duration::from_millis(100);

/// The seed of a run, unless `URING_PROP_SEED` says otherwise.
const DEFAULT_SEED: u64 = 0x0005_eed0_f0b5;

/// Ops whose bytes lie inside a registered buffer.
const FIXED_BUFFER_OPS: &[&str] = &[
    "ReadFixed",
    "WriteFixed",
    "ReadVFixed",
    "WriteVFixed",
    "SendZcFixed",
    "SendMsgZcFixed",
];

/// The ops that take a block device, which never run here.
const BLOCK_DEVICE_OPS: &[&str] = &["BlockDiscard", "BlockZoneResetAll"];

/// Why the ops of [`BLOCK_DEVICE_OPS`] never run here.
const NO_BLOCK_DEVICE: &str = "the block-device commands are built up to their device and \
     never pushed: the tests lend no block device, which would be a file outside their directory";

/// Ops whose success makes a new descriptor of the process (unless it is a
/// direct one), which the case closes.
const NEW_FD_OPS: &[&str] = &["OpenAt", "OpenAt2", "Accept", "Socket", "FixedFdInstall"];

// --- What a case lends its ops -------------------------------------------

/// A temporary directory with a few files in it: everything a path of a
/// case names lies inside.
struct CaseDir {
    dir: tempfile::TempDir,
    fd: File,
    path: String,
}

impl CaseDir {
    fn new() -> CaseDir {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().to_str().expect("a UTF-8 path").to_string();
        std::fs::write(dir.path().join("f0"), uring_tests::pattern(4096, 1)).unwrap();
        std::fs::write(dir.path().join("f1"), b"one").unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/f2"), b"two").unwrap();
        std::os::unix::fs::symlink(dir.path().join("f0"), dir.path().join("s")).unwrap();
        let fd = File::open(dir.path()).expect("the directory, open");
        CaseDir { dir, fd, path }
    }
}

/// The kinds of descriptor a context hands out. None names a directory but
/// the case's own, and none is `AT_FDCWD`: a relative path resolves inside
/// the case's directory or nowhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FdKind {
    File,
    Dir,
    PipeRead,
    PipeWrite,
    EmptyPipeRead,
    UnixA,
    UnixB,
    Udp,
    Listener,
    Tcp,
    FreshTcp,
    EventFd,
    Epoll,
    MemFd,
    TargetRing,
    PidFd,
}

const ALL_FD_KINDS: &[FdKind] = &[
    FdKind::File,
    FdKind::Dir,
    FdKind::PipeRead,
    FdKind::PipeWrite,
    FdKind::EmptyPipeRead,
    FdKind::UnixA,
    FdKind::UnixB,
    FdKind::Udp,
    FdKind::Listener,
    FdKind::Tcp,
    FdKind::FreshTcp,
    FdKind::EventFd,
    FdKind::Epoll,
    FdKind::MemFd,
    FdKind::TargetRing,
    FdKind::PidFd,
];

/// The kinds that suit an argument, by op and argument name: what makes the
/// op do its work rather than fail at once. Any other kind is handed out
/// too, less often.
fn suited(site: &Site) -> &'static [FdKind] {
    use FdKind::*;
    match (site.op, site.arg) {
        (
            "OpenAt" | "OpenAt2" | "Statx" | "RenameAt" | "UnlinkAt" | "MkdirAt" | "SymlinkAt"
            | "LinkAt",
            _,
        ) => &[Dir],
        ("Accept", _) => &[Listener],
        ("Connect" | "Bind" | "Listen", _) => &[FreshTcp],
        (
            "Send" | "Recv" | "SendMsg" | "RecvMsg" | "SendZc" | "SendMsgZc" | "SendZcFixed"
            | "SendMsgZcFixed" | "RecvMsgMulti" | "Shutdown" | "RecvZc" | "UringCmd" | "UringCmd16"
            | "UringCmd80",
            _,
        ) => &[UnixA, UnixB, Tcp, Udp],
        ("EpollCtl", "target") | ("EpollWait", _) => &[Epoll],
        ("MsgRing", _) => &[TargetRing],
        ("Splice" | "Tee", _) => &[PipeRead, PipeWrite, EmptyPipeRead, File],
        ("ReadMultishot", _) => &[PipeRead, UnixA, EventFd],
        ("WaitId", _) => &[PidFd],
        ("PollAdd", _) => &[PipeRead, PipeWrite, UnixA, EventFd, Epoll],
        _ => &[File, MemFd, PipeRead, PipeWrite, UnixA],
    }
}

/// A child process that exits at once, and a pidfd naming it; reaped
/// when dropped (unless a `WaitId` did it first).
struct Child {
    child: std::process::Child,
    pidfd: OwnedFd,
}

impl Drop for Child {
    fn drop(&mut self) {
        // An error says that a `WaitId` reaped it already.
        let _ = self.child.wait();
    }
}

/// The descriptors of a case, each made the first time it is asked for and
/// kept in the case's arena, so that they outlive the case's rings.
struct Pool<'r> {
    arena: &'r Arena,
    dir: &'r CaseDir,
    pipe: Option<&'r (OwnedFd, OwnedFd)>,
    empty_pipe: Option<&'r (OwnedFd, OwnedFd)>,
    unix: Option<&'r (UnixStream, UnixStream)>,
    udp: Option<&'r (UdpSocket, UdpSocket)>,
    tcp: Option<&'r (TcpListener, TcpStream, TcpStream, TcpStream)>,
    file: Option<&'r File>,
    eventfd: Option<&'r OwnedFd>,
    epoll: Option<&'r OwnedFd>,
    memfd: Option<&'r OwnedFd>,
    child: Option<&'r Child>,
    /// `pidfd_open` failed: no child is made again.
    no_pidfd: bool,
    target: Option<&'r Ring>,
}

/// What `slot` holds, made by `make` the first time.
fn lazily<'r, T>(slot: &mut Option<&'r T>, make: impl FnOnce() -> &'r T) -> &'r T {
    match *slot {
        Some(made) => made,
        None => {
            let made = make();
            *slot = Some(made);
            made
        }
    }
}

fn owned(fd: RawFd, what: &str) -> OwnedFd {
    assert!(fd >= 0, "{what}: {}", std::io::Error::last_os_error());
    // SAFETY: the call just made returned this descriptor, which nothing
    // else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

impl<'r> Pool<'r> {
    fn new(arena: &'r Arena, dir: &'r CaseDir) -> Pool<'r> {
        Pool {
            arena,
            dir,
            pipe: None,
            empty_pipe: None,
            unix: None,
            udp: None,
            tcp: None,
            file: None,
            eventfd: None,
            epoll: None,
            memfd: None,
            child: None,
            no_pidfd: false,
            target: None,
        }
    }

    fn pipe(&mut self) -> &'r (OwnedFd, OwnedFd) {
        let arena = self.arena;
        lazily(&mut self.pipe, || {
            let (r, w) = uring_tests::pipe();
            File::from(w.try_clone().unwrap())
                .write_all(&uring_tests::pattern(8192, 2))
                .unwrap();
            arena.keep((r, w))
        })
    }

    fn empty_pipe(&mut self) -> &'r (OwnedFd, OwnedFd) {
        let arena = self.arena;
        lazily(&mut self.empty_pipe, || arena.keep(uring_tests::pipe()))
    }

    fn unix(&mut self) -> &'r (UnixStream, UnixStream) {
        let arena = self.arena;
        lazily(&mut self.unix, || {
            let (mut a, mut b) = UnixStream::pair().unwrap();
            a.write_all(&uring_tests::pattern(4096, 3)).unwrap();
            b.write_all(&uring_tests::pattern(4096, 4)).unwrap();
            arena.keep((a, b))
        })
    }

    fn udp(&mut self) -> &'r UdpSocket {
        let arena = self.arena;
        &self
            .udp
            .get_or_insert_with(|| {
                let a = UdpSocket::bind("127.0.0.1:0").unwrap();
                let b = UdpSocket::bind("127.0.0.1:0").unwrap();
                a.connect(b.local_addr().unwrap()).unwrap();
                b.send_to(b"datagram", a.local_addr().unwrap()).unwrap();
                arena.keep((a, b))
            })
            .0
    }

    /// Reads what waits on every socket of the case, and takes the
    /// connections waiting on its listener: a zero-copy send's
    /// notification comes only once the bytes it sent are let go, which a
    /// peer that never reads never does.
    fn unblock(&self) {
        let mut sockets: Vec<RawFd> = Vec::new();
        if let Some((a, b)) = self.unix {
            sockets.extend([a.as_raw_fd(), b.as_raw_fd()]);
        }
        if let Some((a, b)) = self.udp {
            sockets.extend([a.as_raw_fd(), b.as_raw_fd()]);
        }
        if let Some((listener, client, server, waiting)) = self.tcp {
            sockets.extend([client.as_raw_fd(), server.as_raw_fd(), waiting.as_raw_fd()]);
            let _ = listener.set_nonblocking(true);
            while let Ok((mut accepted, _)) = listener.accept() {
                let _ = accepted.set_nonblocking(true);
                let mut sink = [0u8; 65536];
                while matches!(std::io::Read::read(&mut accepted, &mut sink), Ok(n) if n > 0) {}
            }
        }
        let mut sink = vec![0u8; 1 << 16];
        for fd in sockets {
            // SAFETY: `fd` is a socket of the case, open while the pool
            // is; `sink` is writable for its length.
            while unsafe {
                libc::recv(fd, sink.as_mut_ptr().cast(), sink.len(), libc::MSG_DONTWAIT)
            } > 0
            {}
        }
    }

    /// A listener with a connection waiting, and a connected pair with data
    /// waiting on both sides.
    fn tcp(&mut self) -> &'r (TcpListener, TcpStream, TcpStream, TcpStream) {
        let arena = self.arena;
        lazily(&mut self.tcp, || {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let mut client = TcpStream::connect(addr).unwrap();
            let (mut server, _) = listener.accept().unwrap();
            client.write_all(b"from the client").unwrap();
            server.write_all(b"from the server").unwrap();
            let waiting = TcpStream::connect(addr).unwrap();
            arena.keep((listener, client, server, waiting))
        })
    }

    fn file(&mut self) -> &'r File {
        let arena = self.arena;
        let path = self.dir.dir.path().join("f0");
        lazily(&mut self.file, || {
            arena.keep(
                File::options()
                    .read(true)
                    .write(true)
                    .open(path)
                    .expect("f0, open"),
            )
        })
    }

    fn eventfd(&mut self) -> &'r OwnedFd {
        let arena = self.arena;
        lazily(&mut self.eventfd, || {
            // SAFETY: eventfd takes plain integers.
            arena.keep(owned(
                unsafe { libc::eventfd(1, libc::EFD_CLOEXEC) },
                "eventfd",
            ))
        })
    }

    fn epoll(&mut self) -> &'r OwnedFd {
        if let Some(epoll) = self.epoll {
            return epoll;
        }
        let ready = self.eventfd().as_raw_fd();
        // SAFETY: epoll_create1 takes a plain integer.
        let epoll = owned(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) }, "epoll");
        let mut event = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: 1,
        };
        // SAFETY: both descriptors are open; `event` is a valid event.
        let rc =
            unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, ready, &mut event) };
        assert_eq!(rc, 0, "epoll_ctl: {}", std::io::Error::last_os_error());
        let epoll = self.arena.keep(epoll);
        self.epoll = Some(epoll);
        epoll
    }

    fn memfd(&mut self) -> &'r OwnedFd {
        let arena = self.arena;
        lazily(&mut self.memfd, || {
            // SAFETY: the name is a NUL-terminated string.
            let fd = unsafe { libc::memfd_create(c"prop".as_ptr(), libc::MFD_CLOEXEC) };
            let fd = owned(fd, "memfd_create");
            File::from(fd.try_clone().unwrap())
                .write_all(&uring_tests::pattern(4096, 5))
                .unwrap();
            arena.keep(fd)
        })
    }

    /// A child that exits at once and its pidfd; `None` where pidfds
    /// cannot be had (valgrind knows no `pidfd_open`).
    fn child(&mut self) -> Option<&'r Child> {
        if self.child.is_none() && !self.no_pidfd {
            let mut child = std::process::Command::new("true")
                .spawn()
                .expect("spawn `true`");
            // SAFETY: pidfd_open takes a pid and flags.
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id(), 0) };
            if fd < 0 {
                let _ = child.wait();
                self.no_pidfd = true;
            } else {
                let pidfd = owned(fd as RawFd, "pidfd_open");
                self.child = Some(self.arena.keep(Child { child, pidfd }));
            }
        }
        self.child
    }

    /// The ring `MsgRing` and `MsgRingFd` post to (made with its table by
    /// [`context`]).
    fn target(&mut self) -> &'r Ring {
        let arena = self.arena;
        lazily(&mut self.target, || {
            arena.keep(Ring::new(4).expect("a target ring"))
        })
    }

    /// A descriptor of `kind`, borrowed for the case; `None` for a ring,
    /// which lends out no `BorrowedFd`.
    fn borrowed(&mut self, kind: FdKind) -> Option<BorrowedFd<'r>> {
        Some(match kind {
            FdKind::File => self.file().as_fd(),
            FdKind::Dir => self.dir.fd.as_fd(),
            FdKind::PipeRead => self.pipe().0.as_fd(),
            FdKind::PipeWrite => self.pipe().1.as_fd(),
            FdKind::EmptyPipeRead => self.empty_pipe().0.as_fd(),
            FdKind::UnixA => self.unix().0.as_fd(),
            FdKind::UnixB => self.unix().1.as_fd(),
            FdKind::Udp => self.udp().as_fd(),
            FdKind::Listener => self.tcp().0.as_fd(),
            FdKind::Tcp => self.tcp().1.as_fd(),
            FdKind::FreshTcp => {
                let socket = uring_tests::socket(libc::AF_INET, libc::SOCK_STREAM).unwrap();
                let socket: &'r OwnedFd = self.arena.keep(socket);
                socket.as_fd()
            }
            FdKind::EventFd => self.eventfd().as_fd(),
            FdKind::Epoll => self.epoll().as_fd(),
            FdKind::MemFd => self.memfd().as_fd(),
            FdKind::PidFd => match self.child() {
                Some(child) => child.pidfd.as_fd(),
                None => self.file().as_fd(),
            },
            FdKind::TargetRing => return None,
        })
    }

    fn fd(&mut self, kind: FdKind) -> uring::Fd<'r> {
        match kind {
            FdKind::TargetRing => uring::Fd::from(self.target()),
            other => uring::Fd::new(self.borrowed(other).expect("not a ring")),
        }
    }

    /// A kind for `site`: one that suits it, mostly.
    fn pick(&mut self, site: &Site, g: &mut Gen) -> FdKind {
        let kinds = if g.chance(3, 4) {
            suited(site)
        } else {
            ALL_FD_KINDS
        };
        g.pick(kinds).unwrap_or(FdKind::File)
    }
}

// --- The context ----------------------------------------------------------

/// How a case's fixed-file table is lent: shared (`Fixed`s), or slots held
/// exclusively (`FixedMut`s, to close or replace).
enum Table<'r> {
    None,
    Shared(&'r FixedFiles),
    Exclusive(Vec<FixedMut<'r>>),
}

/// What the context handed out for one op, which the case needs
/// afterwards.
#[derive(Default, Debug)]
struct Handed {
    /// A registered file of another ring: the push must be refused.
    foreign: bool,
    /// A direct descriptor was asked for: results are slots, not files.
    direct: bool,
    /// Where the op writes two new descriptors.
    new_fds: Option<*mut [RawFd; 2]>,
    /// The `user_data` a poll update names, and the one it gives.
    rename: (Option<u64>, Option<u64>),
}

/// The context of a case: its pool of descriptors, its registrations, and
/// what it handed out for the op being built.
struct Cx<'r> {
    arena: &'r Arena,
    pool: Pool<'r>,
    table: Table<'r>,
    buffers: Option<&'r FixedBuffers>,
    /// The unused rest of each registered buffer.
    buffer_rest: Vec<&'r mut [u8]>,
    groups: Vec<BufferGroup>,
    /// The target ring's table: shared (a `Fixed` of it is foreign here) or
    /// slots held exclusively (for `RingSlot::at`).
    target_table: Table<'r>,
    /// Whether ops may be handed a `Fixed` of the target ring's table (in a
    /// scope, which refuses them).
    foreign_files: bool,
    madvise: Option<&'r mut [u8]>,
    /// `user_data` of the case's ops, for the ops that name another.
    known: Vec<u64>,
    op: Option<&'static OpInfo>,
    /// The registered buffer the current op's bytes come from.
    buffer: Option<usize>,
    /// The value the last futex word was given.
    futex: Option<u64>,
    handed: Handed,
    /// The personality registered with the ring, if any.
    personality: Option<Personality>,
}

impl<'r> Cx<'r> {
    fn begin_group(&mut self) {
        self.handed = Handed::default();
    }

    fn end_group(&mut self) -> Handed {
        std::mem::take(&mut self.handed)
    }

    /// A path inside the case's directory, absolute or relative to it, or
    /// a bad one; never `..`, never outside.
    fn path(&mut self, g: &mut Gen) -> String {
        let dir = self.pool.dir.path.clone();
        let names = ["f0", "f1", "d", "d/f2", "s", "d/new", "new"];
        let name = g.pick(&names).unwrap_or("f0");
        match g.below(8) {
            0..=2 => format!("{dir}/{name}"),
            3 => format!("{dir}/n{}", g.below(1000)),
            4 => name.to_string(),
            5 => String::new(),
            6 => format!("{dir}/{}", "x".repeat(300)),
            _ => format!("{dir}/{}", "y/".repeat(2100)),
        }
    }

    /// An attribute name: a user attribute, a few other namespaces, bad
    /// ones.
    fn xattr_name(g: &mut Gen) -> String {
        match g.below(6) {
            0..=2 => format!("user.k{}", g.below(4)),
            3 => "trusted.t".into(),
            4 => String::new(),
            _ => format!("user.{}", "z".repeat(300)),
        }
    }
}

impl<'r> Context<'r> for Cx<'r> {
    fn begin_op(&mut self, info: &'static OpInfo) {
        self.op = Some(info);
        self.buffer = None;
        self.futex = None;
    }

    fn keep<T: 'r>(&mut self, value: T) -> &'r mut T {
        self.arena.keep(value)
    }

    fn number(&mut self, site: &Site, g: &mut Gen) -> Option<u64> {
        Some(match (site.op, site.arg) {
            (_, "target_user_data") => {
                let ud = match g.below(4) {
                    0 => g.next_u64(),
                    _ => g.pick(&self.known).unwrap_or(0),
                };
                self.handed.rename.0 = Some(ud);
                ud
            }
            (_, "new_user_data") => {
                let ud = RENAMED | g.below(1 << 16);
                self.handed.rename.1 = Some(ud);
                ud
            }
            (_, "direct") => {
                let choice = g.below(4);
                // 0 and 1 are a regular descriptor (see `DirectSlot`).
                self.handed.direct = choice >= 2;
                choice
            }
            // A timespec, in nanoseconds: mostly short, so that most
            // timeouts fire within the case's patience.
            (_, "timeout") if g.chance(3, 4) => g.below(20_000_000),
            // Space and lengths the kernel would allocate for real: no
            // more than a MiB, or far too much.
            ("Fallocate", "len" | "offset") | ("Ftruncate", "len") => match g.below(4) {
                0 => u64::MAX - g.below(2),
                _ => g.below(1 << 20),
            },
            ("Splice" | "Tee", "len") => g.below(1 << 17),
            // Advice that changes nothing outside the region: not
            // `MADV_HWPOISON` or `MADV_SOFT_OFFLINE`, which act on the
            // machine's memory.
            ("Madvise", "advice") => match g.below(4) {
                0 => 1000 + g.below(1000),
                _ => g.below(26),
            },
            // A futex value: the word's own half of the time (the op then
            // waits, until cancelled), any other otherwise.
            ("FutexWait" | "FutexWaitv", "futex" | "futexes") if self.futex.is_none() => {
                let value = g.edge(32);
                self.futex = Some(value);
                value
            }
            ("FutexWait" | "FutexWaitv", "value" | "futexes") => {
                let word = self.futex.take().unwrap_or(0);
                if g.bool() { word } else { g.edge(32) }
            }
            ("WaitId", "options") => match g.below(3) {
                0 => g.edge(32),
                1 => (libc::WEXITED | libc::WNOHANG) as u64,
                _ => libc::WEXITED as u64,
            },
            ("Socket", "domain") => match g.below(3) {
                0 => g.edge(32),
                _ => g
                    .pick(&[libc::AF_UNIX, libc::AF_INET, libc::AF_INET6])
                    .unwrap_or(libc::AF_UNIX) as u64,
            },
            ("Socket", "socket_type") => match g.below(3) {
                0 => g.edge(32),
                _ => g
                    .pick(&[libc::SOCK_STREAM, libc::SOCK_DGRAM, libc::SOCK_SEQPACKET])
                    .unwrap_or(libc::SOCK_STREAM) as u64,
            },
            ("EpollCtl", "op") if g.bool() => g.range(1, 3),
            _ => return None,
        })
    }

    fn bytes(&mut self, site: &Site, len: usize) -> &'r mut [u8] {
        if FIXED_BUFFER_OPS.contains(&site.op) && !self.buffer_rest.is_empty() {
            let index = *self
                .buffer
                .get_or_insert(site.op.len() % self.buffer_rest.len());
            let rest = std::mem::take(&mut self.buffer_rest[index]);
            if len <= rest.len() {
                let (head, tail) = rest.split_at_mut(len);
                self.buffer_rest[index] = tail;
                return head;
            }
            self.buffer_rest[index] = rest;
        }
        self.arena
            .keep(uring_tests::pattern(len, len as u8))
            .as_mut_slice()
    }

    fn c_str(&mut self, site: &Site, g: &mut Gen) -> &'r CStr {
        let text = if site.arg == "name" && site.op.contains("Xattr") {
            Cx::xattr_name(g)
        } else {
            self.path(g)
        };
        let text = CString::new(text).expect("no NUL inside");
        self.arena.keep(text).as_c_str()
    }

    fn fd(&mut self, site: &Site, g: &mut Gen) -> Option<uring::Fd<'r>> {
        let kind = self.pool.pick(site, g);
        Some(self.pool.fd(kind))
    }

    fn file(&mut self, site: &Site, g: &mut Gen) -> Option<BorrowedFd<'r>> {
        match self.pool.pick(site, g) {
            FdKind::TargetRing => self.pool.borrowed(FdKind::File),
            kind => self.pool.borrowed(kind),
        }
    }

    fn owned_fd(&mut self, site: &Site, g: &mut Gen) -> Option<OwnedFd> {
        let kind = match self.pool.pick(site, g) {
            FdKind::TargetRing => FdKind::File,
            kind => kind,
        };
        self.pool.borrowed(kind)?.try_clone_to_owned().ok()
    }

    fn fixed(&mut self, _: &Site, g: &mut Gen) -> Option<uring::Fixed<'r>> {
        // A foreign file is refused by the scope; `push_unchecked` takes the
        // caller's word that there is none.
        if self.foreign_files
            && g.chance(1, 16)
            && let Table::Shared(foreign) = &self.target_table
        {
            self.handed.foreign = true;
            return foreign.get(g.below(u64::from(foreign.len())) as u32).ok();
        }
        match &self.table {
            Table::Shared(table) => table.get(g.below(u64::from(table.len())) as u32).ok(),
            _ => None,
        }
    }

    fn fixed_mut(&mut self, _: &Site, g: &mut Gen) -> Option<FixedMut<'r>> {
        match &mut self.table {
            Table::Exclusive(slots) if !slots.is_empty() => {
                let i = g.below(slots.len() as u64) as usize;
                Some(slots.swap_remove(i))
            }
            _ => None,
        }
    }

    fn fixed_buf(&mut self, _: &Site, g: &mut Gen) -> Option<FixedBuf> {
        let buffers = self.buffers?;
        let index = match self.buffer {
            Some(index) if g.chance(7, 8) => index as u32,
            _ => g.below(u64::from(buffers.len())) as u32,
        };
        buffers.get(index).ok()
    }

    fn group(&mut self, _: &Site, g: &mut Gen) -> Option<BufferGroup> {
        g.pick(&self.groups)
    }

    fn sock_addr(&mut self, site: &Site, g: &mut Gen) -> Option<SocketAddr> {
        let listener = self.pool.tcp().0.local_addr().ok()?;
        let udp = self.pool.udp().local_addr().ok()?;
        let choices = [
            listener,
            udp,
            // Nobody listens on port 1 of this machine.
            "127.0.0.1:1".parse().ok()?,
            "127.0.0.1:0".parse().ok()?,
            "[::1]:0".parse().ok()?,
            SocketAddr::new("0.0.0.0".parse().ok()?, listener.port()),
        ];
        let _ = site;
        g.pick(&choices)
    }

    fn socket(&mut self, _: &Site, g: &mut Gen) -> Option<SocketFd<'r>> {
        Some(match g.below(5) {
            0 => SocketFd::from(&self.pool.unix().0),
            1 => SocketFd::from(&self.pool.unix().1),
            2 => SocketFd::from(&self.pool.tcp().1),
            3 => SocketFd::from(&self.pool.tcp().0),
            _ => SocketFd::from(self.pool.udp()),
        })
    }

    /// None: a block device to command would be a file outside the case's
    /// directory (a loop device over a file of the case is one too), so
    /// the ops of [`BLOCK_DEVICE_OPS`] are built only up to their device,
    /// and their coverage is reported as skipped.
    fn block_device(&mut self, _: &Site, _: &mut Gen) -> Option<BlockDevice<'r>> {
        None
    }

    fn ring_slot(&mut self, _: &Site, g: &mut Gen) -> Option<RingSlot<'r>> {
        let target = self.pool.target();
        if let Table::Exclusive(slots) = &mut self.target_table
            && !slots.is_empty()
            && g.bool()
        {
            let slot = slots.swap_remove(g.below(slots.len() as u64) as usize);
            return RingSlot::at(target, slot).ok();
        }
        Some(RingSlot::alloc(target))
    }

    fn uring_cmd_op(&mut self, site: &Site, g: &mut Gen) -> Option<UringCmdOp> {
        let op = match g.below(3) {
            0 => g.edge(32) as u32,
            _ => g.below(8) as u32,
        };
        let _ = site;
        // SAFETY: the context hands out regular files, pipes, sockets, an
        // eventfd, an epoll set, a memfd, a pidfd and rings, and registered
        // files among those: none has a driver command but the sockets',
        // which, with every other field of the SQE zero, name no memory
        // (the option commands find a null value and length).
        Some(unsafe { UringCmdOp::new(op) })
    }

    fn madvise_range(&mut self, _: &Site, g: &mut Gen) -> Option<MadviseRange> {
        let region = self.madvise.as_deref_mut()?;
        let page = 4096;
        let len = region.len();
        let start = (g.below((len / page) as u64) as usize) * page;
        let offset = if g.chance(1, 8) { 1 } else { 0 };
        let span = g.range(0, (len - start - offset) as u64);
        // SAFETY: the range lies inside the case's scratch region, a
        // mapping of its own that holds no Rust value and that nothing
        // reads: any advice about it (zeroing it, freeing its pages) harms
        // nothing. Advice that acts beyond the process is never drawn.
        Some(unsafe { MadviseRange::new(region.as_mut_ptr().add(start + offset), span) })
    }

    fn new_fds(&mut self, _: &Site) -> &'r mut [RawFd; 2] {
        let fds = self.arena.keep([-1; 2]);
        self.handed.new_fds = Some(fds as *mut [RawFd; 2]);
        fds
    }
}

/// `user_data` a poll update gives: none of the case's own.
const RENAMED: u64 = 0xfeed << 48;

// --- Pushing ---------------------------------------------------------------

/// Why a push did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// The ring or scope refused it.
    Kind(PushErrorKind),
    /// The op cannot go where this case pushes (a scope, a ring of the
    /// other SQE size).
    NotHere,
}

/// Where a case pushes: a scope, or a ring with `push_unchecked`.
trait Sink<'r> {
    fn push<X>(&mut self, x: X) -> Result<(), Refused>
    where
        X: Submission<Sqe64> + Submission<Sqe128> + Scoped + Debug + 'r;
    fn push_retaining<X>(&mut self, x: X) -> Result<(), Refused>
    where
        X: Submission<Sqe64> + Submission<Sqe128> + Debug + 'r;
    fn push_sqe128<X>(&mut self, x: X) -> Result<(), Refused>
    where
        X: Submission<Sqe128> + Scoped + Debug + 'r;
    /// Free SQ slots, and free slots of the scope's table.
    fn room(&mut self) -> (u32, u32);
}

/// What a case does differently on a ring of each SQE size: an op that
/// fits either size goes onto both, one that needs 128 bytes only onto a
/// ring of 128-byte SQEs.
trait Size: uring::SqeSize {
    /// Pushes `x` in scope `s`.
    fn scope_push<'scope, X>(s: &mut Scope<'scope, '_, Self>, x: X) -> Result<(), Refused>
    where
        X: Submission<Sqe64> + Submission<Sqe128> + Scoped + 'scope;
    /// Pushes `x`, which needs a 128-byte SQE, in scope `s`.
    fn scope_push_sqe128<'scope, X>(s: &mut Scope<'scope, '_, Self>, x: X) -> Result<(), Refused>
    where
        X: Submission<Sqe128> + Scoped + 'scope;
    /// Pushes `x` with `push_unchecked`.
    ///
    /// # Safety
    ///
    /// As for [`Ring::push_unchecked`].
    unsafe fn push_unchecked<X>(ring: &mut Ring<Self>, x: X) -> Result<(), Refused>
    where
        X: Submission<Sqe64> + Submission<Sqe128>;
    /// Pushes `x`, which needs a 128-byte SQE, with `push_unchecked`.
    ///
    /// # Safety
    ///
    /// As for [`Ring::push_unchecked`].
    unsafe fn push_unchecked_sqe128<X>(ring: &mut Ring<Self>, x: X) -> Result<(), Refused>
    where
        X: Submission<Sqe128>;
}

impl Size for Sqe64 {
    fn scope_push<'scope, X>(s: &mut Scope<'scope, '_, Self>, x: X) -> Result<(), Refused>
    where
        X: Submission<Sqe64> + Submission<Sqe128> + Scoped + 'scope,
    {
        s.push(x).map_err(|e| Refused::Kind(e.kind()))
    }
    fn scope_push_sqe128<'scope, X>(_: &mut Scope<'scope, '_, Self>, _: X) -> Result<(), Refused>
    where
        X: Submission<Sqe128> + Scoped + 'scope,
    {
        Err(Refused::NotHere)
    }
    unsafe fn push_unchecked<X>(ring: &mut Ring<Self>, x: X) -> Result<(), Refused>
    where
        X: Submission<Sqe64> + Submission<Sqe128>,
    {
        // SAFETY: forwarded from the caller.
        unsafe { ring.push_unchecked(x) }.map_err(|e| Refused::Kind(e.kind()))
    }
    unsafe fn push_unchecked_sqe128<X>(_: &mut Ring<Self>, _: X) -> Result<(), Refused>
    where
        X: Submission<Sqe128>,
    {
        Err(Refused::NotHere)
    }
}

impl Size for Sqe128 {
    fn scope_push<'scope, X>(s: &mut Scope<'scope, '_, Self>, x: X) -> Result<(), Refused>
    where
        X: Submission<Sqe64> + Submission<Sqe128> + Scoped + 'scope,
    {
        s.push(x).map_err(|e| Refused::Kind(e.kind()))
    }
    fn scope_push_sqe128<'scope, X>(s: &mut Scope<'scope, '_, Self>, x: X) -> Result<(), Refused>
    where
        X: Submission<Sqe128> + Scoped + 'scope,
    {
        s.push(x).map_err(|e| Refused::Kind(e.kind()))
    }
    unsafe fn push_unchecked<X>(ring: &mut Ring<Self>, x: X) -> Result<(), Refused>
    where
        X: Submission<Sqe64> + Submission<Sqe128>,
    {
        // SAFETY: forwarded from the caller.
        unsafe { ring.push_unchecked(x) }.map_err(|e| Refused::Kind(e.kind()))
    }
    unsafe fn push_unchecked_sqe128<X>(ring: &mut Ring<Self>, x: X) -> Result<(), Refused>
    where
        X: Submission<Sqe128>,
    {
        // SAFETY: forwarded from the caller.
        unsafe { ring.push_unchecked(x) }.map_err(|e| Refused::Kind(e.kind()))
    }
}

/// Pushes in a scope, on a ring of either SQE size.
struct ScopeSink<'a, 'scope, 'env, S: Size> {
    s: &'a mut Scope<'scope, 'env, S>,
    capacity: u32,
}

impl<'r: 'scope, 'scope, 'env, S: Size> Sink<'r> for ScopeSink<'_, 'scope, 'env, S> {
    fn push<X>(&mut self, x: X) -> Result<(), Refused>
    where
        X: Submission<Sqe64> + Submission<Sqe128> + Scoped + Debug + 'r,
    {
        S::scope_push(self.s, x)
    }
    fn push_retaining<X>(&mut self, _: X) -> Result<(), Refused>
    where
        X: Submission<Sqe64> + Submission<Sqe128> + Debug + 'r,
    {
        Err(Refused::NotHere)
    }
    fn push_sqe128<X>(&mut self, x: X) -> Result<(), Refused>
    where
        X: Submission<Sqe128> + Scoped + Debug + 'r,
    {
        S::scope_push_sqe128(self.s, x)
    }
    fn room(&mut self) -> (u32, u32) {
        (self.s.space_left(), self.capacity - self.s.in_flight())
    }
}

/// Pushes with `push_unchecked`, on a ring of either SQE size.
struct RingSink<'a, S: Size>(&'a mut Ring<S>);

// SAFETY (of the `push_unchecked` calls below): what the ops borrow lives in
// the case's arena and registrations, which outlive the ring; the case
// reaps every SQE's last completion before the ring goes (`drive`), and if
// it fails first, the arena leaks instead of freeing.
impl<'r, S: Size> Sink<'r> for RingSink<'_, S> {
    fn push<X>(&mut self, x: X) -> Result<(), Refused>
    where
        X: Submission<Sqe64> + Submission<Sqe128> + Scoped + Debug + 'r,
    {
        // SAFETY: see the impl.
        unsafe { S::push_unchecked(self.0, x) }
    }
    fn push_retaining<X>(&mut self, x: X) -> Result<(), Refused>
    where
        X: Submission<Sqe64> + Submission<Sqe128> + Debug + 'r,
    {
        // SAFETY: see the impl; provided buffers stay in the arena, which
        // outlives the ring.
        unsafe { S::push_unchecked(self.0, x) }
    }
    fn push_sqe128<X>(&mut self, x: X) -> Result<(), Refused>
    where
        X: Submission<Sqe128> + Scoped + Debug + 'r,
    {
        // SAFETY: see the impl.
        unsafe { S::push_unchecked_sqe128(self.0, x) }
    }
    fn room(&mut self) -> (u32, u32) {
        (self.0.space_left(), u32::MAX)
    }
}

/// How an op is pushed: alone, or in a chain with NOPs, timeouts and link
/// timeouts around it.
#[derive(Clone, Copy, Debug)]
enum Form {
    Alone,
    /// The op, then a NOP linked after it.
    ThenNop {
        hard: bool,
    },
    /// A NOP (failing, with `fail`), then the op linked after it.
    AfterNop {
        hard: bool,
        fail: bool,
    },
    /// The op, bounded by a link timeout.
    Bounded {
        d: Duration,
    },
    /// The op, then a NOP linked after it and bounded by a link timeout.
    ThenNopBounded {
        hard: bool,
        d: Duration,
    },
    /// For a link timeout: after a NOP.
    TimeoutAfterNop,
    /// For a link timeout: after a timeout of `d`.
    TimeoutAfterTimeout {
        d: Duration,
    },
}

impl Form {
    fn pick(g: &mut Gen, kind: Kind) -> Form {
        let d = |g: &mut Gen| match g.below(4) {
            0 => g.duration(),
            _ => Duration::from_micros(g.below(20_000)),
        };
        if kind == Kind::AfterLink {
            return match g.bool() {
                true => Form::TimeoutAfterNop,
                false => Form::TimeoutAfterTimeout { d: d(g) },
            };
        }
        match g.below(8) {
            0..=2 => Form::Alone,
            3 => Form::ThenNop { hard: g.bool() },
            4 => Form::AfterNop {
                hard: g.bool(),
                fail: g.bool(),
            },
            5 | 6 => Form::Bounded { d: d(g) },
            _ => Form::ThenNopBounded {
                hard: g.bool(),
                d: d(g),
            },
        }
    }

    /// The SQEs of the chain, in order: `0` is the op, `n` the partner
    /// with `user_data` `ud + n`.
    fn sqes(self) -> &'static [(u64, &'static str)] {
        match self {
            Form::Alone => &[(0, "")],
            Form::ThenNop { .. } => &[(0, ""), (1, "linked NOP")],
            Form::AfterNop { .. } => &[(1, "head NOP"), (0, "")],
            Form::Bounded { .. } => &[(0, ""), (1, "link timeout")],
            Form::ThenNopBounded { .. } => &[(0, ""), (1, "linked NOP"), (2, "link timeout")],
            Form::TimeoutAfterNop => &[(1, "head NOP"), (0, "")],
            Form::TimeoutAfterTimeout { .. } => &[(1, "head timeout"), (0, "")],
        }
    }
}

fn link_flag(hard: bool) -> LinkKind {
    if hard { LinkKind::Hard } else { LinkKind::Soft }
}

/// `head` linked to `tail` by `kind`, for ops whose types the generated
/// `.link` methods cannot see through (ops built from arbitrary values).
fn link<H, T>(head: H, tail: T, kind: LinkKind) -> uring::Link<H, T> {
    // SAFETY: the chains this file builds are an op then a NOP, a NOP then
    // an op, an op bounded by a link timeout, and a link timeout after a
    // NOP or a timeout, soft-linked (`Form`: ops of the `AfterLink` kind,
    // the link timeouts, go in no other form): a link timeout only ever
    // right after the op it bounds.
    unsafe { uring::op::link(head, tail, kind) }
}

fn nop(ud: u64, fail: bool) -> Nop {
    let nop = Nop::new().user_data(ud);
    if fail { nop.result(-libc::EIO) } else { nop }
}

fn bound(ud: u64, d: Duration) -> LinkTimeout {
    LinkTimeout::new(d).user_data(ud)
}

/// The visitor that pushes an arbitrary op in its form.
struct Pusher<'a, K> {
    sink: &'a mut K,
    form: Form,
    ud: u64,
}

/// Pushes `$op` in the pusher's form with the sink's method `$push`.
macro_rules! push_in_form {
    ($self:ident, $op:ident, $push:ident) => {{
        let u = $self.ud;
        match $self.form {
            Form::Alone => $self.sink.$push($op),
            Form::ThenNop { hard } => {
                $self
                    .sink
                    .$push(link($op, nop(u + 1, false), link_flag(hard)))
            }
            Form::AfterNop { hard, fail } => {
                $self
                    .sink
                    .$push(link(nop(u + 1, fail), $op, link_flag(hard)))
            }
            Form::Bounded { d } => $self.sink.$push(link($op, bound(u + 1, d), LinkKind::Soft)),
            Form::ThenNopBounded { hard, d } => $self.sink.$push(link(
                link($op, nop(u + 1, false), link_flag(hard)),
                bound(u + 2, d),
                LinkKind::Soft,
            )),
            // Forms of link timeouts: an op of another kind pushed in one
            // goes alone.
            Form::TimeoutAfterNop | Form::TimeoutAfterTimeout { .. } => $self.sink.$push($op),
        }
    }};
}

impl<'r, K: Sink<'r>> Visit<'r> for Pusher<'_, K> {
    type Output = Result<(), Refused>;

    fn op<O>(self, op: O, _: &'static OpInfo) -> Self::Output
    where
        O: Submission<Sqe64>
            + Submission<Sqe128>
            + FitsSqe<Sqe64>
            + FitsSqe<Sqe128>
            + Scoped
            + Debug
            + 'r,
    {
        push_in_form!(self, op, push)
    }

    fn retaining<O>(self, op: O, _: &'static OpInfo) -> Self::Output
    where
        O: Submission<Sqe64> + Submission<Sqe128> + FitsSqe<Sqe64> + FitsSqe<Sqe128> + Debug + 'r,
    {
        push_in_form!(self, op, push_retaining)
    }

    fn sqe128<O>(self, op: O, _: &'static OpInfo) -> Self::Output
    where
        O: Submission<Sqe128> + FitsSqe<Sqe128> + Scoped + Debug + 'r,
    {
        push_in_form!(self, op, push_sqe128)
    }

    fn after_link<O>(self, op: O, _: &'static OpInfo) -> Self::Output
    where
        O: AfterLink + Prepare + FitsSqe<Sqe64> + FitsSqe<Sqe128> + Scoped + Debug + 'r,
    {
        let u = self.ud;
        match self.form {
            Form::TimeoutAfterTimeout { d } => {
                self.sink
                    .push(link(Timeout::new(d).user_data(u + 1), op, LinkKind::Soft))
            }
            _ => self.sink.push(link(nop(u + 1, false), op, LinkKind::Soft)),
        }
    }
}

// --- Completions -----------------------------------------------------------

/// One SQE a case pushed, and what came back for it.
#[derive(Debug)]
struct Sqe {
    what: String,
    /// Flagged `CQE_SKIP_SUCCESS` outside a scope: a success posts nothing.
    skip: bool,
    /// May post nothing at all (a NOP linked after a failed SQE flagged
    /// `CQE_SKIP_SUCCESS`), or its completion.
    silent: bool,
    /// A zero-copy send linked after another SQE, outside a scope: when
    /// its link fails it, Linux 6.18 posts a notification after a last
    /// completion that says none will come (a scope takes that in).
    late_notification: bool,
    /// `(res, flags)` of each completion, in order.
    cqes: Vec<(i32, u32)>,
    /// Its last completion came (or, for `skip`, it is known to be done).
    done: bool,
}

/// The SQEs of a case and their completions.
#[derive(Default, Debug)]
struct Tracker {
    sqes: BTreeMap<u64, Sqe>,
    /// `user_data` a poll update gave, to the one it replaced.
    renames: HashMap<u64, u64>,
    next_cancel: u64,
    /// The NOPs hard-linked after SQEs flagged `CQE_SKIP_SUCCESS`, each
    /// with the SQE it follows: once the NOP completes, that SQE is done,
    /// silently or not (the kernel posts a head's completion before it
    /// starts what is linked after it).
    witnesses: HashMap<u64, u64>,
    /// Whether an SQE of the case is flagged `IO_DRAIN`.
    drained: bool,
}

/// `user_data` of the cancels a case pushes itself.
const CANCEL_UD: u64 = 0xcace1 << 40;

impl Tracker {
    fn expect(&mut self, ud: u64, what: String, skip: bool) {
        let earlier = self.sqes.insert(
            ud,
            Sqe {
                what,
                skip,
                silent: false,
                late_notification: false,
                cqes: Vec::new(),
                done: false,
            },
        );
        assert!(earlier.is_none(), "user_data {ud} pushed twice");
    }

    fn take(&mut self, cqe: &Cqe) -> Result<(), String> {
        note(format!("completion {cqe:?}"));
        let mut ud = cqe.user_data();
        if !self.sqes.contains_key(&ud)
            && let Some(&old) = self.renames.get(&ud)
        {
            ud = old;
        }
        let Some(sqe) = self.sqes.get_mut(&ud) else {
            return Err(format!("a completion nobody pushed: {cqe:?}"));
        };
        let late = sqe.late_notification
            && cqe.is_notification()
            && !cqe.has_more()
            && sqe
                .cqes
                .last()
                .is_some_and(|&(_, flags)| flags & (IORING_CQE_F_MORE | IORING_CQE_F_NOTIF) == 0);
        if late {
            sqe.cqes.push((cqe.res(), cqe.flags()));
            return Ok(());
        }
        if sqe.done && !((sqe.skip || sqe.silent) && sqe.cqes.is_empty()) {
            return Err(format!(
                "a completion after the last one of {} (user_data {ud}): {cqe:?}; before: {:?}",
                sqe.what, sqe.cqes
            ));
        }
        sqe.cqes.push((cqe.res(), cqe.flags()));
        let more = cqe.flags() & IORING_CQE_F_MORE != 0;
        if cqe.flags() & IORING_CQE_F_NOTIF != 0 && more {
            return Err(format!("a notification that says more will come: {cqe:?}"));
        }
        if !more {
            sqe.done = true;
        }
        if !more
            && let Some(head) = self.witnesses.remove(&ud)
            && let Some(sqe) = self.sqes.get_mut(&head)
        {
            sqe.done = true;
        }
        if !more
            && cqe.res() < 0
            && self.sqes[&ud].skip
            && let Some((&witness, _)) = self.witnesses.iter().find(|&(_, &head)| head == ud)
            && let Some(next) = self.sqes.get_mut(&witness)
        {
            // A failure of an SQE flagged `CQE_SKIP_SUCCESS` posts its own
            // completion and skips those of the SQEs linked after it that
            // the kernel cancels: the NOP may post nothing, or, if it
            // runs after all (a hard link), its completion.
            self.witnesses.remove(&witness);
            next.silent = true;
            next.done = true;
        }
        Ok(())
    }

    fn waiting(&self) -> Vec<u64> {
        self.sqes
            .iter()
            .filter(|(_, s)| !s.done)
            .map(|(&ud, _)| ud)
            .collect()
    }

    /// Whether a zero-copy send linked after another SQE ended with no
    /// `IORING_CQE_F_MORE` and its late notification has not come yet.
    fn late_notifications_due(&self) -> bool {
        self.sqes.values().any(|s| {
            s.late_notification
                && s.cqes.len() == 1
                && s.cqes[0].1 & (IORING_CQE_F_MORE | IORING_CQE_F_NOTIF) == 0
        })
    }

    /// The checks once every SQE is done.
    fn check(&self) -> Result<(), String> {
        for (ud, sqe) in &self.sqes {
            if sqe.skip {
                // A skipped success posts nothing, a failure its
                // completion; which results fail an op linked to another
                // is the kernel's to say (a short transfer does), so any
                // one last completion, or none, will do.
                continue;
            }
            if sqe.cqes.is_empty() && !sqe.silent {
                return Err(format!("{} (user_data {ud}) never completed", sqe.what));
            }
        }
        Ok(())
    }
}

/// What a case waits on: a scope or a ring.
trait Drive {
    fn submit(&mut self) -> uring::Result<u32>;
    fn wait(&mut self, d: Duration) -> uring::Result<()>;
    /// Waits, for at most `d`, until the CQ is full: the kernel ends a
    /// multishot op whose completion finds no room.
    fn fill(&mut self, d: Duration) -> uring::Result<()>;
    fn reap(&mut self, tracker: &mut Tracker) -> Result<(), String>;
    /// Asks for `ud` to be cancelled.
    fn cancel(&mut self, ud: u64, tracker: &mut Tracker, g: &mut Gen) -> Result<(), String>;
    /// Whether its cancels are SQEs alone, which wait behind drained ops.
    fn cancels_wait_behind_drains(&self) -> bool;
    /// SQEs the kernel has not consumed.
    fn unconsumed(&mut self) -> u32;
}

/// A scope, its capacity, and how its next reap reads completions
/// (`for_each`, which a scope's iterator runs by its own loop, or `for`).
struct ScopeDrive<'a, 'scope, 'env, S: Size>(&'a mut Scope<'scope, 'env, S>, u32, bool);

impl<S: Size> ScopeDrive<'_, '_, '_, S> {
    /// The scope holds every SQE that has not posted its last completion:
    /// one it let go of early would end its borrows while the kernel may
    /// still use them (as an untagged send bundle's first completion,
    /// flagged `F_MORE`, once did).
    fn check_in_flight(&self, tracker: &Tracker) -> Result<(), String> {
        let waiting = tracker.waiting();
        let held = self.0.in_flight() as usize;
        if held < waiting.len() {
            return Err(format!(
                "the scope holds {held} ops, yet {} have not posted their last \
                 completion: {:?}",
                waiting.len(),
                waiting
                    .iter()
                    .map(|ud| (ud, &tracker.sqes[ud]))
                    .collect::<Vec<_>>()
            ));
        }
        Ok(())
    }
}

impl<S: Size> Drive for ScopeDrive<'_, '_, '_, S> {
    fn submit(&mut self) -> uring::Result<u32> {
        self.0.submit()
    }
    fn wait(&mut self, d: Duration) -> uring::Result<()> {
        self.0.wait_timeout(1, d)
    }
    fn fill(&mut self, d: Duration) -> uring::Result<()> {
        self.0.wait_timeout(self.1, d)
    }
    fn reap(&mut self, tracker: &mut Tracker) -> Result<(), String> {
        let take = |tracker: &mut Tracker, cqe: &uring::ScopeCqe<'_>| {
            if !cqe.is_scope_op() {
                return Err(format!("a completion that is not the scope's: {cqe:?}"));
            }
            tracker.take(cqe)
        };
        self.2 = !self.2;
        if self.2 {
            let mut first_error = Ok(());
            self.0.completions().for_each(|cqe| {
                if first_error.is_ok() {
                    first_error = take(tracker, &cqe);
                }
            });
            return first_error.and_then(|()| self.check_in_flight(tracker));
        }
        for cqe in self.0.completions() {
            take(tracker, &cqe)?;
        }
        self.check_in_flight(tracker)
    }
    fn cancel(&mut self, ud: u64, _: &mut Tracker, _: &mut Gen) -> Result<(), String> {
        // A full queue is fine: the next round tries again.
        let _ = self.0.cancel(ud);
        Ok(())
    }
    fn cancels_wait_behind_drains(&self) -> bool {
        true
    }
    fn unconsumed(&mut self) -> u32 {
        0
    }
}

struct RingDrive<'a, S: uring::SqeSize>(&'a mut Ring<S, Cqe16>);

impl<S: uring::SqeSize> Drive for RingDrive<'_, S>
where
    Cancel: Submission<S>,
{
    fn submit(&mut self) -> uring::Result<u32> {
        self.0.submit()
    }
    fn wait(&mut self, d: Duration) -> uring::Result<()> {
        self.0.wait_timeout(1, d)
    }
    fn fill(&mut self, d: Duration) -> uring::Result<()> {
        let entries = self.0.cq_entries();
        self.0.wait_timeout(entries, d)
    }
    fn reap(&mut self, tracker: &mut Tracker) -> Result<(), String> {
        let cqes: Vec<Cqe> = self.0.completions().collect();
        for cqe in &cqes {
            tracker.take(cqe)?;
        }
        Ok(())
    }
    fn cancels_wait_behind_drains(&self) -> bool {
        false
    }
    fn unconsumed(&mut self) -> u32 {
        self.0.pending()
    }
    fn cancel(&mut self, ud: u64, tracker: &mut Tracker, g: &mut Gen) -> Result<(), String> {
        // Synchronous cancellation reaches what waits behind a drained op;
        // a cancel SQE waits there too.
        if g.bool() {
            let result = self.0.cancel_sync(
                SyncCancel::user_data(ud).all(),
                Some(Duration::from_millis(100)),
            );
            note(format!("cancel_sync({ud}): {result:?}"));
            return match result {
                Ok(()) | Err(uring::Error::TimedOut) => Ok(()),
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::EALREADY)) => Ok(()),
                Err(e) => Err(format!("cancel_sync of {ud}: {e}")),
            };
        }
        let cancel_ud = CANCEL_UD + tracker.next_cancel;
        let op = Cancel::new(ud)
            .cancel_flags(uring::CancelFlags::ALL)
            .user_data(cancel_ud);
        if self.0.push(op).is_ok() {
            tracker.next_cancel += 1;
            tracker.expect(cancel_ud, format!("Cancel of {ud}"), false);
        }
        Ok(())
    }
}

/// Submits what was pushed and reads completions until every SQE has
/// posted its last; cancels what still runs after [`PATIENCE`].
fn drive(
    d: &mut impl Drive,
    tracker: &mut Tracker,
    g: &mut Gen,
    unblock: &mut dyn FnMut(),
) -> Result<Driven, String> {
    let submitted = d.submit();
    if let Err(e) = &submitted
        && !matches!(
            e.raw_os_error(),
            Some(libc::EBADFD | libc::EBUSY | libc::EAGAIN)
        )
    {
        return Err(format!("submit: {e}"));
    }
    let start = Instant::now();
    let mut cancelled_at: Option<Instant> = None;
    // Rounds of cancels so far.
    let mut rounds = 0u32;
    loop {
        d.reap(tracker)?;
        let waiting: Vec<u64> = tracker.waiting();
        if waiting.is_empty() {
            if tracker.late_notifications_due() && start.elapsed() < LATE_PATIENCE {
                // Give the notifications the kernel posts late a moment.
                let _ = d.wait(Duration::from_millis(5));
                continue;
            }
            return Ok(Driven::Settled);
        }
        let now = Instant::now();
        let due = match cancelled_at {
            None => now.duration_since(start) >= PATIENCE,
            Some(at) => now.duration_since(at) >= Duration::from_millis(20),
        };
        if due {
            let cancelling = now.duration_since(start).saturating_sub(PATIENCE);
            if cancelled_at.is_some()
                && d.cancels_wait_behind_drains()
                && tracker.drained
                && cancelling > Duration::from_millis(200)
            {
                // A cancel SQE waits behind a drained op that waits for
                // input: the scope's end cancels it, without SQEs.
                return Ok(Driven::LeftToTheScope);
            }
            if cancelled_at.is_some() && cancelling > CANCEL_PATIENCE {
                return Err(format!(
                    "no last completion after cancelling for {CANCEL_PATIENCE:?} \
                     ({} SQEs unconsumed): {:?}",
                    d.unconsumed(),
                    waiting
                        .iter()
                        .map(|ud| (ud, &tracker.sqes[ud]))
                        .collect::<Vec<_>>()
                ));
            }
            note(format!(
                "cancelling {waiting:?} after {:?}",
                start.elapsed()
            ));
            unblock();
            // The case's own cancels are not cancelled: they complete once
            // what they wait behind does.
            for &ud in waiting.iter().filter(|&&ud| ud < CANCEL_UD) {
                d.cancel(ud, tracker, g)?;
            }
            cancelled_at = Some(now);
            rounds += 1;
            submit(d)?;
        }
        // A multishot op the cancels keep missing (on a `defer_taskrun`
        // ring, a multishot timeout between its firing and the task work
        // that re-arms it) posts on and on: after a few rounds, every
        // other wait lets the CQ fill up, which ends it, as a scope's end
        // does.
        let waited = if rounds >= 3 && rounds % 2 == 1 {
            d.fill(Duration::from_millis(5))
        } else {
            d.wait(Duration::from_millis(5))
        };
        match waited {
            Ok(()) | Err(uring::Error::TimedOut) => {}
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EBUSY | libc::EAGAIN | libc::EINTR)
                ) => {}
            Err(e) => return Err(format!("wait: {e}")),
        }
    }
}

/// How a case's ops ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Driven {
    /// Every SQE posted its last completion.
    Settled,
    /// In a scope, an op flagged `IO_DRAIN` waits for input, and the
    /// cancels queued behind it cannot start: the scope's end cancels it.
    LeftToTheScope,
}

/// Submits, taking a full CQ or a busy ring as a reason to try later.
fn submit(d: &mut impl Drive) -> Result<(), String> {
    match d.submit() {
        Err(e) if !matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN)) => {
            Err(format!("submit: {e}"))
        }
        _ => Ok(()),
    }
}

// --- Cases -------------------------------------------------------------------

/// How a case's ring is set up.
#[derive(Clone, Debug)]
struct Setup {
    entries: u32,
    builder: Builder<'static>,
    what: &'static str,
    sqe128: bool,
    disabled: bool,
}

impl Setup {
    fn pick(g: &mut Gen, kind: Kind) -> Setup {
        let entries = match g.below(3) {
            0 => g.range(1, 8) as u32,
            1 => g.pick(&[16, 32, 64]).unwrap_or(16),
            _ => g.range(4, 16) as u32,
        };
        let mut builder = Ring::builder();
        if g.chance(1, 4) {
            builder = builder.cq_entries(entries.next_power_of_two() * g.range(1, 8) as u32);
        }
        let (builder, what) = match g.below(12) {
            0 => (
                builder.single_issuer().defer_taskrun(),
                "single issuer, deferred task work",
            ),
            1 => (
                builder.single_issuer().defer_taskrun().taskrun_flag(),
                "single issuer, deferred task work, flagged",
            ),
            2 => (builder.submit_all(), "submit all"),
            3 => (builder.coop_taskrun(), "cooperative task work"),
            4 => (
                builder.coop_taskrun().taskrun_flag(),
                "cooperative, flagged",
            ),
            5 => (
                builder.sqpoll(Duration::from_millis(g.range(1, 20))),
                "SQPOLL",
            ),
            6 => (builder.no_sqarray(), "no SQ array"),
            7 => (builder.no_mmap(), "rings in user memory"),
            8 if g.chance(1, 2) => (builder.iopoll(), "IOPOLL"),
            9 if g.chance(1, 2) => (builder.r_disabled(), "disabled"),
            10 => (builder.clamp(), "clamp"),
            _ => (builder, "plain"),
        };
        let disabled = what == "disabled";
        let sqe128 = kind == Kind::Sqe128 || (kind != Kind::AfterLink && g.chance(1, 8));
        Setup {
            entries,
            builder,
            what,
            sqe128,
            disabled,
        }
    }
}

/// How a case lends its registrations.
struct Regs<'r> {
    table: Table<'r>,
    buffers: Option<&'r FixedBuffers>,
    buffer_rest: Vec<&'r mut [u8]>,
    groups: Vec<BufferGroup>,
    personality: Option<Personality>,
}

/// Registers files, buffers, buffer rings and a personality with `ring`
/// (all of them when `rich`, some of them otherwise).
fn register<'r, S: uring::SqeSize>(
    ring: &mut Ring<S, Cqe16>,
    arena: &'r Arena,
    pool: &mut Pool<'r>,
    g: &mut Gen,
    (rich, shared): (bool, bool),
) -> Regs<'r> {
    let mut regs = Regs {
        table: Table::None,
        buffers: None,
        buffer_rest: Vec::new(),
        groups: vec![BufferGroup::new(9)],
        personality: None,
    };
    if rich || g.bool() {
        let kinds = [
            FdKind::File,
            FdKind::PipeRead,
            FdKind::PipeWrite,
            FdKind::UnixA,
            FdKind::UnixB,
            FdKind::EventFd,
            FdKind::MemFd,
        ];
        let fds: Vec<BorrowedFd<'r>> = kinds.iter().filter_map(|&k| pool.borrowed(k)).collect();
        let table = if g.chance(1, 4) {
            let mut table = ring
                .register_files_sparse(8)
                .expect("register_files_sparse");
            let some: Vec<Option<BorrowedFd<'_>>> = fds
                .iter()
                .take(6)
                .map(|&fd| (!g.chance(1, 4)).then_some(fd))
                .collect();
            ring.update_files(&mut table, 1, &some)
                .expect("update_files");
            table
        } else {
            ring.register_files(&fds).expect("register_files")
        };
        let table = arena.keep(table);
        regs.table = if !shared && g.chance(1, 4) {
            Table::Exclusive(table.get_many_mut([0, 1, 2, 3]).expect("4 slots").into())
        } else {
            Table::Shared(table)
        };
    }
    if rich || g.bool() {
        let a = arena.keep(vec![0u8; 65536]);
        let b = arena.keep(vec![0u8; 8192]);
        let iovecs = [
            std::io::IoSliceMut::new(&mut a[..]),
            std::io::IoSliceMut::new(&mut b[..]),
        ];
        // SAFETY: both regions live in the arena, which outlives the ring
        // (and leaks if the case fails); the case lends each byte to one op
        // at most, and reads none of them itself.
        let buffers = unsafe { ring.register_buffers(&iovecs) }.expect("register_buffers");
        regs.buffers = Some(arena.keep(buffers));
        regs.buffer_rest = vec![a.as_mut_slice(), b.as_mut_slice()];
    }
    if rich || g.bool() {
        let count = [1u16, 3, 5, 7, 9][g.below(5) as usize];
        let len = g.range(1, 4096) as u32;
        let pool_ring = ring
            .register_buf_ring(BufferGroup::new(7), count, len)
            .expect("register_buf_ring");
        arena.keep(pool_ring);
        regs.groups.push(BufferGroup::new(7));
        if g.bool() {
            let incremental = ring
                .register_buf_ring_incremental(BufferGroup::new(8), count, len)
                .expect("register_buf_ring_incremental");
            arena.keep(incremental);
            regs.groups.push(BufferGroup::new(8));
        }
    }
    if rich || g.bool() {
        regs.personality = Some(ring.register_personality().expect("register_personality"));
    }
    regs
}

/// The groups of a case: the op under test, then, in a batch, others.
#[derive(Debug)]
struct Group {
    op: usize,
    form: Form,
    ud: u64,
    flags: SqeFlags,
}

/// Tallies of a run, by op.
#[derive(Default, Debug)]
struct Stats {
    pushed: HashMap<&'static str, u64>,
    completed: HashMap<&'static str, u64>,
    refused: HashMap<&'static str, u64>,
    unavailable: HashMap<&'static str, String>,
    /// Cases, by whether their ring has 128-byte SQEs and where they push.
    cases: HashMap<(bool, Mode), u64>,
    /// Ops pushed in scopes of rings of 128-byte SQEs.
    sqe128_scope_pushed: HashMap<&'static str, u64>,
}

/// Where a case pushes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Mode {
    Scope,
    Unchecked,
}

/// Which cases a test runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Family {
    /// One op per case, mostly alone, in either mode.
    Single,
    /// The op in chains, in either mode.
    Chains,
    /// The op with up to five others, in one batch.
    Batches,
    /// The op in any form, in a scope of a ring of 128-byte SQEs (a
    /// retaining op unchecked on one), on a ring that is not disabled and
    /// has room for any form.
    Scopes128,
}

/// Runs the cases of `family`: `per_op` cases for each op of the table,
/// then checks that every op was built, pushed and completed.
fn run(test: &str, family: Family, per_op: u64, seed: u64) {
    assert_eq!(
        ops::ALL.len(),
        ops::ALL_KINDS.len(),
        "a kind for every op of the table"
    );
    let mut stats = Stats::default();
    let per_op = cases(per_op);
    for (op, info) in ops::ALL.iter().enumerate() {
        if !op_selected(info.name) {
            continue;
        }
        for i in 0..per_op {
            // A seed given in the environment with an op runs as it is (that
            // is how a failing case is run again); without one, it is mixed
            // with each op's index, as the default seed is. (The first case
            // of each op is a rich one, with its registered files shared:
            // see `case`.)
            let mixed =
                |seed: u64| ((seed ^ (op as u64).wrapping_mul(0x100_0000_01b3)) | 1) & !0xf0;
            let base = match (given_seed(), std::env::var_os("URING_PROP_OP")) {
                (Some(given), Some(_)) => given,
                (Some(given), None) => mixed(given),
                (None, _) => mixed(seed),
            };
            let s = case_seed(base, i);
            let what = format!(
                "URING_PROP_SEED={s:#x} URING_PROP_OP={} URING_PROP_CASES=1 \
                 cargo test -p uring-tests --test prop_ops {test}",
                info.name
            );
            run_case(what, || case(s, op, family, &mut stats));
        }
    }
    let never: Vec<&str> = ops::ALL
        .iter()
        .zip(ops::ALL_KINDS)
        .filter(|&(info, &kind)| {
            op_selected(info.name)
                && kind != Kind::Retaining
                && !stats.sqe128_scope_pushed.contains_key(info.name)
        })
        .map(|(info, _)| info.name)
        .collect();
    eprintln!(
        "{test}: cases by (128-byte SQEs, mode): {:?}; {} ops pushed in scopes of \
         128-byte SQEs ({} of the table's); never there: {never:?}",
        stats.cases,
        stats.sqe128_scope_pushed.values().sum::<u64>(),
        stats.sqe128_scope_pushed.len(),
    );
    if given_seed().is_some() && std::env::var_os("URING_PROP_OP").is_some() {
        // A case run again: it may not push its op (it may never have).
        return;
    }
    for info in ops::ALL {
        if !op_selected(info.name) {
            continue;
        }
        let pushed = stats.pushed.get(info.name).copied().unwrap_or(0);
        let completed = stats.completed.get(info.name).copied().unwrap_or(0);
        if pushed == 0 {
            if stats.unavailable.contains_key(info.name) && BLOCK_DEVICE_OPS.contains(&info.name) {
                uring_tests::skip(NO_BLOCK_DEVICE);
                continue;
            }
            panic!(
                "{} was never pushed in {per_op} cases ({family:?}): {:?}",
                info.name,
                stats.unavailable.get(info.name)
            );
        }
        assert!(
            completed > 0,
            "{} was pushed {pushed} times and never completed",
            info.name
        );
    }
}

/// One case: the op at `op` of the table (and, in a batch, others), built,
/// pushed, driven to its last completion and checked.
fn case(seed: u64, op: usize, family: Family, stats: &mut Stats) {
    // Most cases register everything; a quarter register some things. A
    // case whose seed has none of the bits 4 to 7 set shares its registered
    // files (ops that take only a `Fixed` need it shared); the others hold
    // them exclusively a quarter of the time.
    let rich = seed & 3 != 0;
    let shared = seed & 0xf0 == 0;
    let mut g = Gen::new(seed);
    let kind = ops::ALL_KINDS[op];
    let setup = if family == Family::Scopes128 {
        loop {
            let mut setup = Setup::pick(&mut g, kind);
            // Room for any form: 3 SQEs, and as many completions.
            if !setup.disabled && setup.entries >= 3 {
                setup.sqe128 = true;
                break setup;
            }
        }
    } else {
        Setup::pick(&mut g, kind)
    };
    let mode = if kind == Kind::Retaining || (family != Family::Scopes128 && g.bool()) {
        Mode::Unchecked
    } else {
        Mode::Scope
    };
    let groups = plan(&mut g, op, family, mode, setup.what == "SQPOLL");
    note(format!(
        "ring: {} entries, {}{}; {mode:?}; groups: {:?}",
        setup.entries,
        setup.what,
        if setup.sqe128 { ", 128-byte SQEs" } else { "" },
        groups
            .iter()
            .map(|group| (ops::ALL[group.op].name, group.form, group.ud, group.flags))
            .collect::<Vec<_>>()
    ));
    *stats.cases.entry((setup.sqe128, mode)).or_default() += 1;

    // Everything the ops borrow lives in the arena, made before the ring and
    // dropped after it.
    let arena = Arena::new();
    let dir = arena.keep(CaseDir::new());
    let pool = Pool::new(&arena, dir);
    let scratch = arena.keep(Mapping::new(1 << 16));
    let case = Case {
        setup: &setup,
        mode,
        groups: &groups,
        flags: (rich, shared),
    };
    if setup.sqe128 {
        let mut ring = setup
            .builder
            .build_sized::<Sqe128, Cqe16>(setup.entries)
            .unwrap_or_else(|e| panic!("a ring of 128-byte SQEs ({}): {e}", setup.what));
        case.run(&mut ring, &arena, pool, scratch, &mut g, stats);
    } else {
        let mut ring = setup
            .builder
            .build(setup.entries)
            .unwrap_or_else(|e| panic!("a ring ({}, {} entries): {e}", setup.what, setup.entries));
        case.run(&mut ring, &arena, pool, scratch, &mut g, stats);
    }
}

/// What a case drew before its ring was built.
struct Case<'c> {
    setup: &'c Setup,
    mode: Mode,
    groups: &'c [Group],
    /// Whether it registers everything, and shares its registered files.
    flags: (bool, bool),
}

impl Case<'_> {
    /// Registers with `ring`, pushes the case's groups (in a scope or
    /// unchecked), drives them to their last completions, checks them, and
    /// checks that the ring still works.
    fn run<'r, S: Size>(
        &self,
        ring: &mut Ring<S, Cqe16>,
        arena: &'r Arena,
        mut pool: Pool<'r>,
        scratch: &'r mut Mapping,
        g: &mut Gen,
        stats: &mut Stats,
    ) where
        Nop: Submission<S>,
        Cancel: Submission<S>,
    {
        let Case {
            setup,
            mode,
            groups,
            flags,
        } = *self;
        let regs = register(ring, arena, &mut pool, g, flags);
        let mut cx = context(arena, pool, regs, scratch, groups, mode, g);
        let mut tracker = Tracker::default();
        let mut driven = Driven::Settled;
        let records = match mode {
            Mode::Scope => {
                let capacity = ring.cq_entries();
                ring.scope(|s| {
                    let records = push_groups(
                        &mut ScopeSink { s, capacity },
                        groups,
                        &mut cx,
                        g,
                        (Mode::Scope, setup.disabled),
                        &mut tracker,
                        stats,
                    );
                    if !setup.disabled {
                        driven = drive(
                            &mut ScopeDrive(s, capacity, false),
                            &mut tracker,
                            g,
                            &mut || cx.pool.unblock(),
                        )
                        .unwrap_or_else(|e| fail(&e));
                    }
                    if driven == Driven::Settled {
                        assert_eq!(
                            s.in_flight(),
                            0,
                            "every op posted its last completion, yet the scope waits: {tracker:?}"
                        );
                    }
                    records
                })
            }
            Mode::Unchecked => {
                let records = push_groups(
                    &mut RingSink(ring),
                    groups,
                    &mut cx,
                    g,
                    (Mode::Unchecked, setup.disabled),
                    &mut tracker,
                    stats,
                );
                if setup.disabled {
                    disabled_submit(ring);
                }
                drive(&mut RingDrive(ring), &mut tracker, g, &mut || {
                    cx.pool.unblock()
                })
                .unwrap_or_else(|e| fail(&e));
                records
            }
        };
        note(format!("driven: {driven:?}"));
        if setup.disabled && mode == Mode::Scope {
            ring.enable().expect("enable");
        }
        if setup.sqe128 && mode == Mode::Scope {
            for &(_, name, _) in &records {
                *stats.sqe128_scope_pushed.entry(name).or_default() += 1;
            }
        }
        finish(&tracker, &records, stats, driven);
        ring_still_works(ring, &mut tracker);
    }
}

/// Zero-copy sends: Linux 6.18 never starts one that a drain defers, nor
/// anything after it (liburing's own prep shows it too), so a case with one
/// drains nothing (see the README).
const ZERO_COPY_SENDS: &[&str] = &[
    "SendZc",
    "SendMsgZc",
    "SendZcFixed",
    "SendMsgZcFixed",
    "SendZcV",
];

/// The groups of a case: the op under test first, then, in a batch, ops
/// drawn from the whole table, each in a form of its own.
fn plan(g: &mut Gen, op: usize, family: Family, mode: Mode, sqpoll: bool) -> Vec<Group> {
    let count = match family {
        Family::Batches => g.range(2, 6),
        _ => 1,
    };
    let ops: Vec<usize> = (0..count)
        .map(|i| match i {
            0 => op,
            _ => g.below(ops::ALL.len() as u64) as usize,
        })
        .collect();
    // No drain on an SQPOLL ring either: an op flagged `IO_DRAIN` that
    // blocks in a worker of the SQ thread (a splice of an empty pipe) can
    // be cancelled neither by a cancel SQE, which waits behind it, nor
    // synchronously, which does not reach the SQ thread's workers (Linux
    // 6.18; see the README).
    let may_drain = !sqpoll
        && !ops
            .iter()
            .any(|&index| ZERO_COPY_SENDS.contains(&ops::ALL[index].name));
    ops.into_iter()
        .zip(0..)
        .map(|(index, i)| {
            let kind = ops::ALL_KINDS[index];
            let form = match family {
                Family::Single if kind != Kind::AfterLink && g.chance(3, 4) => Form::Alone,
                Family::Chains if kind != Kind::AfterLink => loop {
                    let form = Form::pick(g, kind);
                    if !matches!(form, Form::Alone) {
                        break form;
                    }
                },
                _ => Form::pick(g, kind),
            };
            let mut flags = SqeFlags::EMPTY;
            if g.chance(1, 8) {
                flags |= SqeFlags::ASYNC;
            }
            if g.chance(1, 16) && may_drain {
                flags |= SqeFlags::IO_DRAIN;
            }
            // A success flagged `CQE_SKIP_SUCCESS` posts nothing, so outside
            // a scope (which clears the flag) the op is followed by a NOP
            // that says when it is done. (A NOP flagged `IO_DRAIN` cannot:
            // the kernel refuses drains on a ring that has skipped a
            // completion.)
            let witnessed = matches!(form, Form::ThenNop { hard: true });
            if g.chance(1, 8) && (mode == Mode::Scope || witnessed) && kind != Kind::AfterLink {
                flags |= SqeFlags::CQE_SKIP_SUCCESS;
            }
            Group {
                op: index,
                form,
                ud: 1000 + 10 * i,
                flags,
            }
        })
        .collect()
}

/// The context of a case, over its pool and registrations; the target
/// ring's table is lent shared (its `Fixed`s are foreign to the case's
/// ring) or its slots exclusively (for `RingSlot::at`).
fn context<'r>(
    arena: &'r Arena,
    mut pool: Pool<'r>,
    regs: Regs<'r>,
    scratch: &'r mut Mapping,
    groups: &[Group],
    mode: Mode,
    g: &mut Gen,
) -> Cx<'r> {
    let target_ring = arena.keep(Ring::new(4).expect("a target ring"));
    let table = arena.keep(target_ring.register_files_sparse(4).expect("its table"));
    pool.target = Some(target_ring);
    let target_table = if g.bool() {
        Table::Shared(table)
    } else {
        Table::Exclusive(table.get_many_mut([0, 1, 2, 3]).expect("4 slots").into())
    };
    Cx {
        arena,
        pool,
        table: regs.table,
        buffers: regs.buffers,
        buffer_rest: regs.buffer_rest,
        groups: regs.groups,
        target_table,
        foreign_files: mode == Mode::Scope,
        madvise: Some(scratch.bytes()),
        known: groups
            .iter()
            .flat_map(|group| (0..3).map(move |k| group.ud + k))
            .collect(),
        op: None,
        buffer: None,
        futex: None,
        handed: Handed::default(),
        personality: regs.personality,
    }
}

/// Nothing runs on a disabled ring before it is enabled: the submit is
/// refused (`EBADFD`), and the ring enabled.
fn disabled_submit<S: uring::SqeSize>(ring: &mut Ring<S, Cqe16>) {
    match ring.submit() {
        Err(e) if e.raw_os_error() == Some(libc::EBADFD) => {}
        Ok(0) if ring.pending() == 0 => {}
        other => panic!("submit on a disabled ring: {other:?}"),
    }
    ring.enable().expect("enable");
}

fn fail(message: &str) -> ! {
    panic!("{message}")
}

/// A mapping of its own, for `Madvise` to act on.
struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> Mapping {
        // SAFETY: an anonymous private mapping, at an address of the
        // kernel's choosing.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(
            ptr,
            libc::MAP_FAILED,
            "mmap: {}",
            std::io::Error::last_os_error()
        );
        Mapping {
            ptr: ptr.cast(),
            len,
        }
    }

    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: the mapping is `len` bytes, readable and writable, and
        // borrowed exclusively through `self`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// What a case handed out for each op it pushed, by `user_data`.
type Records = Vec<(u64, &'static str, Handed)>;

/// Builds and pushes each group; checks that a refused push had its
/// reason; tells the tracker what was pushed.
fn push_groups<'r, K: Sink<'r>>(
    sink: &mut K,
    groups: &[Group],
    cx: &mut Cx<'r>,
    g: &mut Gen,
    (mode, disabled): (Mode, bool),
    tracker: &mut Tracker,
    stats: &mut Stats,
) -> Records {
    let mut records = Vec::new();
    for group in groups {
        let name = ops::ALL[group.op].name;
        let sqes = group.form.sqes();
        let n = sqes.len() as u32;
        let (space, room) = sink.room();
        let base = Base {
            user_data: group.ud,
            flags: group.flags,
            personality: cx.personality.filter(|_| g.chance(1, 4)),
        };
        cx.begin_group();
        let pusher = Pusher {
            sink: &mut *sink,
            form: group.form,
            ud: group.ud,
        };
        let built = ops::all_arbitrary(group.op, g, cx, base, pusher)
            .unwrap_or_else(|| panic!("no builder at index {} of the list", group.op));
        let handed = cx.end_group();
        note(format!(
            "{name} at {}: {built:?}, handed {handed:?}",
            group.ud
        ));
        let pushed = match built {
            Err(unavailable) => {
                stats.unavailable.insert(name, unavailable.to_string());
                continue;
            }
            Ok(pushed) => pushed,
        };
        match pushed {
            // An op this case cannot push where it pushes (a retaining op in
            // a scope): another case pushes it elsewhere.
            Err(Refused::NotHere) => {}
            Err(Refused::Kind(kind)) => {
                *stats.refused.entry(name).or_default() += 1;
                // Nothing was written: the queue and the scope's table have
                // as much room as before (an SQ thread may have freed more).
                let (space_after, room_after) = sink.room();
                assert!(
                    space_after >= space && room_after == room,
                    "{name} refused with {kind:?}, yet {space} -> {space_after} free, \
                     {room} -> {room_after} room in the scope"
                );
                let why = match kind {
                    PushErrorKind::Disabled => disabled && mode == Mode::Scope,
                    PushErrorKind::ScopeFull => room < n,
                    PushErrorKind::ForeignFile => handed.foreign,
                    PushErrorKind::QueueFull => space < n,
                    _ => false,
                };
                assert!(
                    why,
                    "{name} ({:?}) refused with {kind:?}, which does not hold: {n} SQEs, \
                     {space} free, room for {room} in the scope, foreign file {}, disabled {disabled}",
                    group.form, handed.foreign
                );
            }
            Ok(()) => {
                assert!(
                    !handed.foreign,
                    "{name} was pushed with a registered file of another ring"
                );
                assert!(
                    !(disabled && mode == Mode::Scope),
                    "{name} was pushed in a scope of a disabled ring"
                );
                assert!(
                    space >= n && room >= n,
                    "{name} was pushed ({n} SQEs) with {space} free and room for {room}"
                );
                *stats.pushed.entry(name).or_default() += 1;
                let skip =
                    mode == Mode::Unchecked && group.flags.contains(SqeFlags::CQE_SKIP_SUCCESS);
                for &(k, label) in sqes {
                    let what = if label.is_empty() {
                        format!("{name} {:?}", group.form)
                    } else {
                        format!("{label} of {name}")
                    };
                    tracker.expect(group.ud + k, what, skip && k == 0);
                }
                if skip {
                    tracker.witnesses.insert(group.ud + 1, group.ud);
                }
                if mode == Mode::Unchecked
                    && ZERO_COPY_SENDS.contains(&name)
                    && matches!(group.form, Form::AfterNop { .. })
                    && let Some(sqe) = tracker.sqes.get_mut(&group.ud)
                {
                    sqe.late_notification = true;
                }
                tracker.drained |= group.flags.contains(SqeFlags::IO_DRAIN);
                if let (Some(old), Some(new)) = handed.rename {
                    tracker.renames.insert(new, old);
                }
                records.push((group.ud, name, handed));
            }
        }
    }
    records
}

/// After a case: tallies, checks, and the descriptors its ops made, closed.
fn finish(tracker: &Tracker, records: &Records, stats: &mut Stats, driven: Driven) {
    if driven == Driven::Settled {
        tracker.check().unwrap_or_else(|e| fail(&e));
    }
    for (ud, name, handed) in records {
        let Some(sqe) = tracker.sqes.get(ud) else {
            continue;
        };
        if !sqe.cqes.is_empty() {
            *stats.completed.entry(name).or_default() += 1;
        }
        if ZERO_COPY_SENDS.contains(name) {
            // A zero-copy send that sent (its result says more will come)
            // posts its notification last; one that did not, nothing more
            // (but the notification some failed linked ones get late).
            let notes = sqe
                .cqes
                .iter()
                .filter(|&&(_, f)| f & IORING_CQE_F_NOTIF != 0);
            let notifications = notes.count();
            let sent = sqe
                .cqes
                .first()
                .is_some_and(|&(_, f)| f & IORING_CQE_F_MORE != 0);
            let shape_ok = match (sent, sqe.cqes.len()) {
                (true, 2) => notifications == 1 && sqe.cqes[1].1 & IORING_CQE_F_NOTIF != 0,
                (false, 1) => notifications == 0,
                (false, 2) => sqe.late_notification && notifications == 1,
                (_, 0) => sqe.skip || sqe.silent,
                _ => false,
            };
            assert!(
                shape_ok,
                "{name} (user_data {ud}): a result and a notification, or a failure alone: {:?}",
                sqe.cqes
            );
        }
        if handed.direct {
            continue;
        }
        if NEW_FD_OPS.contains(name) {
            for &(res, flags) in &sqe.cqes {
                if flags & IORING_CQE_F_NOTIF == 0 {
                    close_made(res);
                }
            }
        }
        if let Some(fds) = handed.new_fds
            && sqe.cqes.first().is_some_and(|&(res, _)| res == 0)
        {
            // SAFETY: the array lives in the case's arena, still alive; the
            // op that wrote it has completed.
            for fd in unsafe { *fds } {
                close_made(fd);
            }
        }
    }
}

/// Closes a descriptor an op made for the case (a regular one: the case
/// knows which ops asked for direct ones). The standard streams were open
/// before any op ran, so no op made them: they are never closed here, in
/// case a result was not what the case thinks.
fn close_made(fd: RawFd) {
    if fd > 2 {
        // SAFETY: the op's completion says the kernel made this descriptor
        // for it; nothing else owns it.
        drop(unsafe { OwnedFd::from_raw_fd(fd) });
    }
}

/// The ring goes on working: a NOP goes round, and nothing else is left.
fn ring_still_works<S: uring::SqeSize>(ring: &mut Ring<S, Cqe16>, tracker: &mut Tracker)
where
    Nop: Submission<S>,
{
    const UD: u64 = 0x0e0d;
    let mut nop = Nop::new().user_data(UD);
    loop {
        match ring.push(nop) {
            Ok(()) => break,
            // An SQ thread posts an op's completion before it moves the
            // SQ's head past the op's SQE: right after the case's last
            // completion, the queue may look full for a moment.
            Err(e)
                if e.kind() == uring::PushErrorKind::QueueFull
                    && ring
                        .params()
                        .setup_flags()
                        .contains(uring::SetupFlags::SQPOLL) =>
            {
                nop = e.into_inner();
                ring.wait_for_sq_space()
                    .unwrap_or_else(|e| panic!("room for a NOP after the case: {e}"));
            }
            Err(e) => panic!("a NOP after the case: {e}"),
        }
    }
    // Until the NOP's completion comes: one of the case's that comes late
    // may wake the wait first (and a drain earlier in the case makes the
    // kernel start the NOP only after it).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut cqes: Vec<Cqe> = Vec::new();
    while !cqes.iter().any(|cqe| cqe.user_data() == UD) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        ring.submit_and_wait_timeout(1, left)
            .unwrap_or_else(|e| panic!("the NOP after the case: {e}; so far {cqes:?}"));
        cqes.extend(ring.completions());
    }
    // A notification due late, or the completion of a NOP linked after a
    // failed SQE flagged `CQE_SKIP_SUCCESS` (it may come, or not), is the
    // case's; anything else is not.
    cqes.retain(|cqe| cqe.user_data() == UD || tracker.take(cqe).is_err());
    assert_eq!(
        cqes.iter()
            .map(|c| (c.user_data(), c.res()))
            .collect::<Vec<_>>(),
        [(UD, 0)],
        "after the case, the NOP's completion alone: {cqes:?}"
    );
}

// --- The properties -------------------------------------------------------

/// The builders the macro generates cover the table: one for each op of
/// `ops::ALL`, in its order, and each builds the op it is listed for.
#[test]
fn every_op_of_the_table_has_an_arbitrary_builder() {
    struct Name;
    impl<'r> Visit<'r> for Name {
        type Output = &'static str;
        fn op<O>(self, _: O, info: &'static OpInfo) -> &'static str
        where
            O: Submission<Sqe64>
                + Submission<Sqe128>
                + FitsSqe<Sqe64>
                + FitsSqe<Sqe128>
                + Scoped
                + Debug
                + 'r,
        {
            info.name
        }
        fn retaining<O>(self, _: O, info: &'static OpInfo) -> &'static str
        where
            O: Submission<Sqe64>
                + Submission<Sqe128>
                + FitsSqe<Sqe64>
                + FitsSqe<Sqe128>
                + Debug
                + 'r,
        {
            info.name
        }
        fn sqe128<O>(self, _: O, info: &'static OpInfo) -> &'static str
        where
            O: Submission<Sqe128> + FitsSqe<Sqe128> + Scoped + Debug + 'r,
        {
            info.name
        }
        fn after_link<O>(self, _: O, info: &'static OpInfo) -> &'static str
        where
            O: AfterLink + Prepare + FitsSqe<Sqe64> + FitsSqe<Sqe128> + Scoped + Debug + 'r,
        {
            info.name
        }
    }
    assert_eq!(ops::ALL.len(), ops::ALL_KINDS.len());
    let arena = Arena::new();
    let dir = arena.keep(CaseDir::new());
    let mut pool = Pool::new(&arena, dir);
    let scratch = arena.keep(Mapping::new(1 << 16));
    let mut g = Gen::new(1);
    let mut ring = Ring::new(8).unwrap();
    let regs = register(&mut ring, &arena, &mut pool, &mut g, (true, true));
    let mut cx = context(&arena, pool, regs, scratch, &[], Mode::Unchecked, &mut g);
    let mut seen = Vec::new();
    for (i, info) in ops::ALL.iter().enumerate() {
        // Some arguments are drawn from what the context may lack (a block
        // device): try a few seeds.
        let built = (0..16).find_map(|_| {
            cx.begin_group();
            let result = ops::all_arbitrary(i, &mut g, &mut cx, Base::default(), Name);
            cx.end_group();
            result.expect("a builder at every index").ok()
        });
        match built {
            Some(name) => assert_eq!(name, info.name, "the builder at index {i}"),
            None if BLOCK_DEVICE_OPS.contains(&info.name) => uring_tests::skip(NO_BLOCK_DEVICE),
            None => panic!("{} cannot be built from arbitrary arguments", info.name),
        }
        seen.push(info.name);
    }
    assert!(ops::all_arbitrary(ops::ALL.len(), &mut g, &mut cx, Base::default(), Name).is_none());
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), ops::ALL.len(), "every op once");
}

/// Every op, mostly alone, in a scope or pushed unchecked.
#[test]
fn every_op_alone_completes_once_and_leaves_the_ring_working() {
    run("every_op_alone", Family::Single, 6, DEFAULT_SEED);
}

/// Every op in chains: linked before and after NOPs, soft and hard,
/// bounded by link timeouts.
#[test]
fn every_op_in_chains_completes_once_and_leaves_the_ring_working() {
    run(
        "every_op_in_chains",
        Family::Chains,
        4,
        DEFAULT_SEED ^ 0xc4a1,
    );
}

/// Cases that once failed, run again as they were drawn (with this
/// version of the generator):
/// - a multishot timeout flagged `IO_DRAIN` (through its link's head),
///   whose case's cancel SQEs waited behind the drain for good: each of
///   its completions ended the scope's wait before it timed out, so the
///   scope never cancelled again, and its end never came;
/// - a NOP after a case whose drain makes the kernel start it only after a
///   late completion of the case, which woke the wait for the NOP first;
/// - a multishot timeout on a `defer_taskrun` ring that every cancel of the
///   case missed (it is out of the kernel's list between each firing and
///   the task work that re-arms it): the case's driver now lets the CQ
///   fill up, which ends it.
#[test]
fn cases_found_before_run_again() {
    for (seed, name) in [
        (0xa091_485c_392f_852f_u64, "Timeout"),
        (0xa6bf_c13f_9749_c73e, "Read"),
        (0xa919_a9db_d48f_f8cf, "Timeout"),
    ] {
        let op = ops::ALL
            .iter()
            .position(|info| info.name == name)
            .unwrap_or_else(|| panic!("no op {name}"));
        let mut stats = Stats::default();
        let what = format!("the case of {name} at {seed:#x}");
        run_case(what, || case(seed, op, Family::Batches, &mut stats));
    }
}

/// Every op in a scope of a ring of 128-byte SQEs, in any form (a
/// retaining op, which no scope takes, unchecked on such a ring).
#[test]
fn every_op_in_scopes_of_128_byte_sqes_completes_once_and_leaves_the_ring_working() {
    run(
        "every_op_in_scopes_of_128_byte_sqes",
        Family::Scopes128,
        3,
        DEFAULT_SEED ^ 0x5128,
    );
}

/// Every op in a batch with up to five arbitrary others.
#[test]
fn every_op_in_batches_completes_once_and_leaves_the_ring_working() {
    run(
        "every_op_in_batches",
        Family::Batches,
        3,
        DEFAULT_SEED ^ 0xba7c,
    );
}
