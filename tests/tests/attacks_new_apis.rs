//! Attacks on the newest APIs, in safe code:
//!
//! - resource tags (`register_files_tagged`, `SlotUpdate::Tagged`,
//!   `register_buffers_tagged`, `update_buffers_tagged`): completions whose
//!   `user_data` the program chose, posted by the kernel whenever a tagged
//!   file or buffer stops being used, must never settle a scope op, be
//!   claimed from a buffer ring, or reach a reactor's op;
//! - waits to a deadline (`WaitArgs::deadline`, `IORING_ENTER_ABS_TIMER`)
//!   at the extremes of `Instant`, with timeouts, minimum waits, signal
//!   masks, SQPOLL rings, registered ring descriptors, the boot-time clock,
//!   scopes and a CQ set aside, and inside a time namespace;
//! - the reactor's `ReadV`, `WriteV`, `AcceptFrom`, `SendWithFds` and
//!   `RecvWithFds`: memory and descriptors kept until the last completion
//!   (canaries), futures dropped, detached and forgotten, deadlines, no and
//!   too many buffers, spare capacity, and no descriptor leaked, closed
//!   twice or owned twice however the kernel delivers (or drops) them.
//!
//! Descriptors are checked by the file they name (a pipe's inode, counted
//! in `/proc/self/fd`), never by counting every descriptor of the process:
//! the other tests of this file run in parallel threads.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::{IoSliceMut, Read as _, Write as _};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use uring::ops::{Close, FilesUpdate, MsgRingFd, Nop, OpenAt, Read, Recv, Socket, Timeout};
use uring::reactor::ops::{AcceptFrom, MAX_FDS, ReadV, RecvWithFds, SendWithFds, WriteV};
use uring::reactor::{IoBuf, IoBufMut, Reactor, SharedFd};
use uring::{
    Clock, DirectSlot, Error, Features, FileUpdates, FilesAt, Ring, RingSlot, SlotUpdate, WaitArgs,
};
use uring_tests::{PATIENCE, pipe, poll_once, require_features, run_for, skip};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A ring of `entries` whose kernel has resource tags (5.13); `None`, with
/// a skip message, otherwise.
fn tagged_ring(entries: u32) -> Option<Ring> {
    let ring = Ring::builder().cq_entries(512).build(entries).unwrap();
    require_features(&ring, Features::RSRC_TAGS, "resource tags").then_some(ring)
}

/// Runs one op in a scope and returns its result, with the completions
/// that came meanwhile and were not the scope's (`(user_data, res)`).
fn complete_among<'r, S>(ring: &'r mut Ring, op: S) -> (i32, Vec<(u64, i32)>)
where
    S: uring::Submission + uring::Scoped + 'r,
{
    ring.scope(|s| {
        if s.push(op).is_err() {
            panic!("the submission queue is full");
        }
        s.submit().unwrap();
        let mut foreign = Vec::new();
        let end = Instant::now() + PATIENCE;
        while Instant::now() < end {
            let _ = s.wait_timeout(1, Duration::from_millis(20));
            let mut res = None;
            for c in s.completions() {
                if c.is_scope_op() {
                    res = Some(c.res());
                } else {
                    foreign.push((c.user_data(), c.res()));
                }
            }
            if let Some(res) = res {
                return (res, foreign);
            }
        }
        panic!("no completion after {PATIENCE:?}");
    })
}

/// Whether a scope of `ring` begun now tags every op (it does once anything
/// but the scope's own ops may post into the ring).
fn scope_tags_every_op(ring: &mut Ring) -> bool {
    ring.scope(|s| s.tags_every_op())
}

/// The inode of the file `fd` names.
fn inode(fd: BorrowedFd<'_>) -> u64 {
    // SAFETY: all-zero bytes are a valid `stat`.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is open (borrowed), `st` is writable.
    let rc = unsafe { libc::fstat(fd.as_raw_fd(), &mut st) };
    assert_eq!(rc, 0, "fstat: {}", std::io::Error::last_os_error());
    st.st_ino
}

/// How many descriptors of this process name the pipe of inode `ino`.
fn pipe_refs(ino: u64) -> usize {
    let want = format!("pipe:[{ino}]");
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter(|e| {
            std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy() == want.as_str())
        })
        .count()
}

/// The descriptors of this process that are pidfds.
fn pidfds() -> BTreeSet<RawFd> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return BTreeSet::new();
    };
    dir.filter_map(|e| e.ok())
        .filter(|e| {
            std::fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().contains("pidfd"))
        })
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// Makes `fd` non-blocking.
fn nonblocking(fd: BorrowedFd<'_>) {
    // SAFETY: F_GETFL and F_SETFL change only the flags of a descriptor the
    // caller borrows.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        assert!(flags >= 0);
        assert_eq!(
            libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK),
            0
        );
    }
}

/// Writes to `stream` (non-blocking) until its buffer is full; returns how
/// many bytes went in.
fn fill(stream: &mut UnixStream) -> usize {
    stream.set_nonblocking(true).unwrap();
    let chunk = [0x11u8; 4096];
    let mut total = 0;
    loop {
        match stream.write(&chunk) {
            Ok(n) => total += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("filling the socket: {e}"),
        }
    }
    stream.set_nonblocking(false).unwrap();
    total
}

/// Reads everything `stream` holds now (non-blocking) and returns it.
fn take_all(stream: &mut UnixStream) -> Vec<u8> {
    stream.set_nonblocking(true).unwrap();
    let mut out = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("draining the socket: {e}"),
        }
    }
    stream.set_nonblocking(false).unwrap();
    out
}

/// Runs test `name` of this binary in a new process
/// ([`uring_tests::child_command`]), with `pre` run between fork and exec;
/// the child's output, or `None` (with a skip message) if the process
/// could not start. Panics if the child's test failed.
fn run_child(
    name: &str,
    pre: impl FnMut() -> std::io::Result<()> + Send + Sync + 'static,
) -> Option<String> {
    use std::os::unix::process::CommandExt;
    let mut cmd = uring_tests::child_command(name);
    // SAFETY: `pre` makes only async-signal-safe system calls on memory
    // allocated before the fork (see each caller).
    unsafe {
        cmd.pre_exec(pre);
    }
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) => {
            skip(format_args!("cannot start the child process: {e}"));
            return None;
        }
    };
    let text = uring_tests::child_output(&out);
    for line in text.lines().filter(|l| l.starts_with("skipped:")) {
        eprintln!("{line}");
    }
    Some(text)
}

// ---------------------------------------------------------------------------
// 1. Resource tags
// ---------------------------------------------------------------------------

/// Empty tables, lengths that do not match, slots outside the table, tables
/// of another ring, tags on empty slots: each an error value, no panic, and
/// no completion the kernel did not owe. Tags of 0 post nothing; tags with
/// the top bit set, or all bits, are posted as they are, once.
#[test]
fn tag_registrations_with_bad_arguments_fail_as_values() {
    let _watch = uring_tests::watchdog();
    // The memory outlives the rings (declared first, dropped last).
    let mut a = vec![0u8; 4096];
    let mut b = vec![0u8; 4096];
    let Some(mut ring) = tagged_ring(8) else {
        return;
    };
    let mut other = Ring::new(4).unwrap();
    let (rx, _tx) = pipe();

    // Files.
    let e = ring.register_files_tagged(&[]).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    let mut files = ring
        .register_files_tagged(&[
            (rx.as_fd(), 0),
            (rx.as_fd(), u64::MAX),
            (rx.as_fd(), 1 << 63),
        ])
        .unwrap();
    assert_eq!(files.len(), 3);
    let again = ring.register_files_tagged(&[(rx.as_fd(), 5)]).unwrap_err();
    assert_eq!(again.raw_os_error(), Some(libc::EBUSY), "{again:?}");
    for (offset, n) in [(2u32, 2usize), (3, 1), (u32::MAX, 1), (u32::MAX, 2)] {
        let updates = vec![SlotUpdate::Tagged(rx.as_fd(), 9); n];
        let e = ring
            .update_file_slots(&mut files, offset, &updates)
            .unwrap_err();
        assert!(
            matches!(e, Error::InvalidArgument(_)),
            "{offset} {n}: {e:?}"
        );
        let plain = vec![SlotUpdate::Set(rx.as_fd()); n];
        let e = ring
            .update_file_slots(&mut files, offset, &plain)
            .unwrap_err();
        assert!(
            matches!(e, Error::InvalidArgument(_)),
            "{offset} {n}: {e:?}"
        );
    }
    // More files than the process may open, and than a table holds.
    for n in [20_001usize, (1 << 20) + 1] {
        let many = vec![(rx.as_fd(), 1u64); n];
        let e = other.register_files_tagged(&many).unwrap_err();
        assert!(e.raw_os_error().is_some(), "{n}: {e:?}");
    }
    assert!(uring_tests::drain_until_quiet(&mut other, 0, Duration::from_millis(10)).is_empty());
    // A table of another ring.
    let mut foreign = other.register_files(&[rx.as_fd()]).unwrap();
    let e = ring
        .update_file_slots(&mut foreign, 0, &[SlotUpdate::Tagged(rx.as_fd(), 4)])
        .unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    assert!(
        uring_tests::drain_until_quiet(&mut ring, 0, Duration::from_millis(30)).is_empty(),
        "refused updates post nothing"
    );
    // Keep, empty, and a tag of 0: nothing tagged goes, nothing is posted.
    let n = ring
        .update_file_slots(
            &mut files,
            0,
            &[
                SlotUpdate::Tagged(rx.as_fd(), 0),
                SlotUpdate::Keep,
                SlotUpdate::Keep,
            ],
        )
        .unwrap();
    assert_eq!(n, 3);
    assert!(uring_tests::drain_until_quiet(&mut ring, 0, Duration::from_millis(30)).is_empty());
    // The unregistration posts the two tags, verbatim, once each.
    ring.unregister_files(files).unwrap();
    let mut got = uring_tests::drain_until_quiet(&mut ring, 2, Duration::from_millis(30));
    got.sort_unstable();
    assert_eq!(got, [(1 << 63, 0), (u64::MAX, 0)]);

    // Buffers.
    // SAFETY: an empty list registers nothing.
    let e = unsafe { ring.register_buffers_tagged(&[], &[]) }.unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    for tags in [&[][..], &[1, 2][..]] {
        // SAFETY: refused before any system call (the lengths differ):
        // nothing of `a` is registered.
        let e =
            unsafe { ring.register_buffers_tagged(&[IoSliceMut::new(&mut a)], tags) }.unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{tags:?}: {e:?}");
    }
    let table = ring.register_buffers_sparse(2).unwrap();
    // A tag on an empty slot: the kernel refuses it.
    // SAFETY: no memory is registered (an empty slot).
    let e = unsafe { ring.update_buffers_tagged(&table, 0, &[None], &[5]) }.unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL), "{e:?}");
    // Lengths that differ, a slot past the table, a table of another ring.
    // SAFETY: each is refused before any system call.
    unsafe {
        let e = ring
            .update_buffers_tagged(&table, 0, &[Some(IoSliceMut::new(&mut a)), None], &[7])
            .unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        let e = ring
            .update_buffers_tagged(&table, 2, &[Some(IoSliceMut::new(&mut a))], &[7])
            .unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        let e = ring
            .update_buffers_tagged(&table, u32::MAX, &[Some(IoSliceMut::new(&mut a))], &[7])
            .unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
        let other_table = other.register_buffers_sparse(1).unwrap();
        let e = ring
            .update_buffers_tagged(&other_table, 0, &[Some(IoSliceMut::new(&mut a))], &[7])
            .unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    }
    assert!(uring_tests::drain_until_quiet(&mut ring, 0, Duration::from_millis(30)).is_empty());
    // `a` untagged in slot 0, then `b` tagged over it: nothing posted;
    // emptied, `b`'s tag is posted once.
    // SAFETY: `a` and `b` outlive the ring and nothing uses them meanwhile
    // (no fixed-buffer op is pushed).
    unsafe {
        assert_eq!(
            ring.update_buffers(&table, 0, &[Some(IoSliceMut::new(&mut a))])
                .unwrap(),
            1
        );
        assert_eq!(
            ring.update_buffers_tagged(&table, 0, &[Some(IoSliceMut::new(&mut b))], &[1 << 63 | 9])
                .unwrap(),
            1
        );
    }
    assert!(uring_tests::drain_until_quiet(&mut ring, 0, Duration::from_millis(30)).is_empty());
    // SAFETY: no memory registered.
    let n = unsafe { ring.update_buffers_tagged(&table, 0, &[None], &[0]) }.unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        uring_tests::drain_until_quiet(&mut ring, 1, Duration::from_millis(30)),
        [(1 << 63 | 9, 0)]
    );
    drop(ring);
    drop(other);
    drop((a, b));
}

/// Every way a tag can reach the kernel makes the ring's later scopes tag
/// every op (they can no longer count untagged completions as their own);
/// the untagged registrations, tags of 0, and a clone from an untagged
/// ring leave them counting.
#[test]
fn every_way_to_register_a_tag_makes_scopes_tag_every_op() {
    let _watch = uring_tests::watchdog();
    let mut mem = [vec![0u8; 4096], vec![0u8; 4096]];
    let Some(probe) = tagged_ring(4) else {
        return;
    };
    if !require_features(&probe, Features::REG_REG_RING, "scopes that count (6.3)") {
        return;
    }
    drop(probe);
    let (rx, _tx) = pipe();
    let fresh = || Ring::new(4).unwrap();

    let mut ring = fresh();
    assert!(!scope_tags_every_op(&mut ring), "a fresh ring counts");
    let mut files = ring.register_files(&[rx.as_fd(), rx.as_fd()]).unwrap();
    assert!(!scope_tags_every_op(&mut ring), "untagged files");
    ring.update_file_slots(
        &mut files,
        0,
        &[SlotUpdate::Set(rx.as_fd()), SlotUpdate::Empty],
    )
    .unwrap();
    ring.update_file_slots(&mut files, 0, &[SlotUpdate::Tagged(rx.as_fd(), 0)])
        .unwrap();
    assert!(!scope_tags_every_op(&mut ring), "tags of 0 post nothing");
    ring.update_file_slots(&mut files, 1, &[SlotUpdate::Tagged(rx.as_fd(), 3)])
        .unwrap();
    assert!(scope_tags_every_op(&mut ring), "a tag by update_file_slots");

    let mut ring = fresh();
    let _ = ring
        .register_files_tagged(&[(rx.as_fd(), 0), (rx.as_fd(), 0)])
        .unwrap();
    assert!(!scope_tags_every_op(&mut ring), "tags of 0 only");
    let mut ring = fresh();
    let _ = ring
        .register_files_tagged(&[(rx.as_fd(), 0), (rx.as_fd(), 1 << 63)])
        .unwrap();
    assert!(
        scope_tags_every_op(&mut ring),
        "a tag by register_files_tagged"
    );

    // A registration the kernel refuses (a table is there already) posts
    // nothing; the ring may tag or not, but no completion comes.
    let mut ring = fresh();
    let _files = ring.register_files(&[rx.as_fd()]).unwrap();
    assert!(ring.register_files_tagged(&[(rx.as_fd(), 77)]).is_err());
    assert!(uring_tests::drain_until_quiet(&mut ring, 0, Duration::from_millis(30)).is_empty());

    // Buffers, registered and updated with tags.
    let mut ring = fresh();
    // SAFETY: `mem` outlives every ring of this test, and no fixed-buffer
    // op uses it.
    unsafe {
        let _ = ring
            .register_buffers_tagged(&[IoSliceMut::new(&mut mem[0])], &[0])
            .unwrap();
    }
    assert!(!scope_tags_every_op(&mut ring), "a buffer tag of 0");
    let mut ring = fresh();
    // SAFETY: as above.
    let source_table = unsafe {
        ring.register_buffers_tagged(&[IoSliceMut::new(&mut mem[0])], &[41])
            .unwrap()
    };
    assert!(scope_tags_every_op(&mut ring), "register_buffers_tagged");
    let mut tagged_source = ring;
    let mut ring = fresh();
    let table = ring.register_buffers_sparse(2).unwrap();
    // SAFETY: as above.
    unsafe {
        ring.update_buffers(&table, 0, &[Some(IoSliceMut::new(&mut mem[1]))])
            .unwrap();
    }
    assert!(!scope_tags_every_op(&mut ring), "untagged update_buffers");
    // SAFETY: as above.
    unsafe {
        ring.update_buffers_tagged(&table, 1, &[Some(IoSliceMut::new(&mut mem[1]))], &[42])
            .unwrap();
    }
    assert!(scope_tags_every_op(&mut ring), "update_buffers_tagged");

    // Clones (6.12): from a tagged ring the clone tags; from an untagged one
    // it counts. The kernel gives the clone's slots no tag of their own.
    let mut untagged_source = fresh();
    // SAFETY: as above.
    let plain_table = unsafe {
        untagged_source
            .register_buffers(&[IoSliceMut::new(&mut mem[1])])
            .unwrap()
    };
    let mut clone = fresh();
    // SAFETY: as above, for both rings.
    match unsafe { clone.clone_buffers(&untagged_source, &plain_table, 0, 1) } {
        Ok(cloned) => {
            assert!(
                !scope_tags_every_op(&mut clone),
                "a clone of untagged buffers"
            );
            clone.unregister_buffers(cloned).unwrap();
            let mut clone = fresh();
            // SAFETY: as above.
            let cloned =
                unsafe { clone.clone_buffers(&tagged_source, &source_table, 0, 1) }.unwrap();
            assert!(scope_tags_every_op(&mut clone), "a clone of tagged buffers");
            clone.unregister_buffers(cloned).unwrap();
            assert!(
                uring_tests::drain_until_quiet(&mut clone, 0, Duration::from_millis(30)).is_empty(),
                "the clone's slot carries no tag"
            );
            tagged_source.unregister_buffers(source_table).unwrap();
            assert_eq!(
                uring_tests::drain_until_quiet(&mut tagged_source, 1, Duration::from_millis(30)),
                [(41, 0)],
                "the source's tag, on the source, once"
            );
            assert!(
                uring_tests::drain_until_quiet(&mut clone, 0, Duration::from_millis(30)).is_empty()
            );
        }
        Err(e) => skip(format_args!("no buffer clones (6.12): {e}")),
    }
    drop((ring, tagged_source, untagged_source, clone));
    drop(mem);
}

/// A tag speaks for the ring that registered it: the source's tag comes
/// once the source lets go of the buffer, while a clone of it (which
/// carries no tag, and holds the pages on its own) still reads and writes
/// the memory; the clone's own unregistration posts nothing. So the
/// memory of a cloned buffer outlives its tag, as `register_buffers_tagged`
/// and `clone_buffers` say.
#[test]
fn a_cloned_buffer_s_tag_speaks_for_its_own_ring_only() {
    let _watch = uring_tests::watchdog();
    let mut mem = vec![0u8; 4096];
    let Some(mut source) = tagged_ring(4) else {
        return;
    };
    let mut clone = Ring::new(4).unwrap();
    // SAFETY: `mem` outlives both rings (declared first, dropped last), and
    // only the read below, which the test waits for, uses it.
    let table =
        unsafe { source.register_buffers_tagged(&[IoSliceMut::new(&mut mem)], &[77]) }.unwrap();
    // SAFETY: as above.
    let cloned = match unsafe { clone.clone_buffers(&source, &table, 0, 1) } {
        Ok(cloned) => cloned,
        Err(e) => {
            skip(format_args!("no buffer clones (6.12): {e}"));
            return;
        }
    };
    source.unregister_buffers(table).unwrap();
    assert_eq!(
        uring_tests::drain_until_quiet(&mut source, 1, uring_tests::PATIENCE),
        [(77, 0)],
        "the source's tag, once the source let go"
    );
    // The clone still has the memory registered: a fixed read through it
    // writes there.
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(b"clone").unwrap();
    let cqe = uring_tests::complete(
        &mut clone,
        uring::ops::ReadFixed::new(&file, &mut mem[..5], cloned.get(0).unwrap()).offset(0),
    );
    assert_eq!(cqe.res(), 5, "{cqe:?}");
    assert_eq!(&mem[..5], b"clone");
    clone.unregister_buffers(cloned).unwrap();
    assert!(
        uring_tests::drain_until_quiet(&mut clone, 0, Duration::from_millis(30)).is_empty(),
        "a clone carries no tag"
    );
    assert!(uring_tests::drain_until_quiet(&mut source, 0, Duration::from_millis(30)).is_empty());
    drop((source, clone));
    drop(mem);
}

/// Candidate `user_data` values near leaked scope tags: the tags
/// themselves, other counts and slots under the same key, their
/// complements, and values with and without the top bit.
fn near_tags(leaked: &[u64]) -> Vec<u64> {
    let mut out = BTreeSet::new();
    for &t in leaked {
        out.insert(t);
        out.insert(!t);
        out.insert(t & !(1 << 63));
        for k in 1..=24u64 {
            out.insert(t ^ (k << 32));
            out.insert(t.wrapping_add(k << 32));
        }
        for s in 1..=8u64 {
            out.insert(t ^ s);
        }
    }
    out.insert(u64::MAX);
    out.insert(1 << 63);
    out.remove(&0);
    out.into_iter().collect()
}

/// Tags read from `/proc/self/fdinfo` in one scope, and every value near
/// them, registered as resource tags and posted in the middle of the next
/// scope (a `FilesUpdate` op replaces the whole tagged table): none settles
/// the receive the scope lent a buffer to, none comes out as the scope's.
#[test]
fn tags_chosen_from_leaked_scope_tags_settle_nothing() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = tagged_ring(16) else {
        return;
    };
    let (rx, _tx) = pipe();
    let fd = ring.as_raw_fd();
    // Tags from the start: every scope of this ring tags its ops.
    let mut files = ring.register_files_tagged(&[(rx.as_fd(), 3)]).unwrap();
    let (mut near, far) = UnixStream::pair().unwrap();
    let mut buf = [0xa5u8; 32];
    let mut other = [0u8; 4];
    // Scope 1: the tags of two receives and a NOP, as anyone can read them.
    // (The kernel shows CQEs, and SQEs it has been given: the receives are
    // cancelled so that their tags show in their completions.)
    let leaked = ring.scope(|s| {
        assert!(s.tags_every_op());
        s.push(Recv::new(&far, &mut buf[..]).user_data(1)).unwrap();
        s.push(Recv::new(&far, &mut other[..]).user_data(2))
            .unwrap();
        s.push(Nop::new().user_data(3)).unwrap();
        s.submit().unwrap();
        s.cancel(1).unwrap();
        s.cancel(2).unwrap();
        s.submit().unwrap();
        let end = Instant::now() + PATIENCE;
        while s.ready() < 5 && Instant::now() < end {
            let _ = s.wait_timeout(5, Duration::from_millis(20));
        }
        let shown = uring_tests::fdinfo_user_data(fd);
        let got: BTreeSet<_> = s
            .completions()
            .filter(|c| c.is_scope_op())
            .map(|c| c.user_data())
            .collect();
        assert_eq!(got, BTreeSet::from([1, 2, 3]));
        shown
    });
    assert!(leaked.len() >= 3, "fdinfo shows the SQEs: {leaked:?}");
    assert!(leaked.iter().all(|&t| t & (1 << 63) != 0), "{leaked:?}");
    let tags = near_tags(&leaked);
    let n = tags.len().min(400);
    let tags = &tags[..n];
    ring.unregister_files(files).unwrap();
    let _ = uring_tests::drain_until_quiet(&mut ring, 1, Duration::from_millis(30));
    let pairs: Vec<(BorrowedFd<'_>, u64)> = tags.iter().map(|&t| (rx.as_fd(), t)).collect();
    files = ring.register_files_tagged(&pairs).unwrap();
    let fds: Vec<Option<BorrowedFd<'_>>> = (0..n).map(|_| Some(rx.as_fd())).collect();
    let mut updates = FileUpdates::new(&fds);
    let mut posted = Vec::new();
    ring.scope(|s| {
        s.push(Recv::new(&far, &mut buf[..]).user_data(1)).unwrap();
        s.push(
            FilesUpdate::new(&mut updates, FilesAt::from(files.get_mut(0).unwrap())).user_data(2),
        )
        .unwrap();
        s.submit().unwrap();
        let end = Instant::now() + PATIENCE;
        let mut update = None;
        while (update.is_none() || posted.len() < n) && Instant::now() < end {
            let _ = s.wait_timeout(1, Duration::from_millis(20));
            for c in s.completions() {
                if c.is_scope_op() {
                    assert_eq!(c.user_data(), 2, "only the update completes: {:?}", c.cqe());
                    update = Some(c.res());
                } else {
                    assert_eq!(c.res(), 0, "{:?}", c.cqe());
                    posted.push(c.user_data());
                }
            }
        }
        assert_eq!(update, Some(n as i32), "the update replaced every slot");
        assert_eq!(s.in_flight(), 1, "the receive is still in flight");
        near.write_all(b"real").unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let got: Vec<_> = s
            .completions()
            .map(|c| (c.user_data(), c.res(), c.is_scope_op()))
            .collect();
        assert_eq!(got, [(1, 4, true)]);
    });
    posted.sort_unstable();
    let mut want = tags.to_vec();
    want.sort_unstable();
    assert_eq!(posted, want, "each tag posted once");
    assert_eq!(&buf[..4], b"real");
    assert_eq!(buf[4..], [0xa5; 28]);
    // The files the op installed carry no tag.
    ring.unregister_files(files).unwrap();
    assert!(uring_tests::drain_until_quiet(&mut ring, 0, Duration::from_millis(30)).is_empty());
}

/// Each op that replaces or empties a tagged slot makes the kernel post its
/// tag once, as a completion that is not the scope's: a `Close` of the
/// slot, a direct `OpenAt` and a direct `Socket` at the slot, a
/// `FilesUpdate` at it. Direct descriptors the kernel puts in free slots
/// carry no tag. Meanwhile a receive of the same scope stays lent its
/// buffer until its data comes.
#[test]
fn ops_that_replace_a_tagged_slot_post_its_tag_once_outside_the_scope() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = tagged_ring(16) else {
        return;
    };
    let (rx, _tx) = pipe();
    let mut files = ring
        .register_files_tagged(&[
            (rx.as_fd(), 11),
            (rx.as_fd(), 12),
            (rx.as_fd(), 13),
            (rx.as_fd(), 14),
            (rx.as_fd(), 1 << 63 | 15),
        ])
        .unwrap();
    let (mut near, far) = UnixStream::pair().unwrap();
    let mut buf = [0x5au8; 16];
    let mut seen = BTreeSet::new();
    ring.scope(|s| {
        let [c0, c1, c2] = files.get_many_mut([0, 1, 2]).unwrap();
        s.push(Recv::new(&far, &mut buf[..]).user_data(100))
            .unwrap();
        s.push(Close::new(c0).user_data(1)).unwrap();
        s.push(
            OpenAt::new(uring::Fd::CWD, c"/dev/null")
                .open_flags(libc::O_RDONLY)
                .direct(DirectSlot::at(c1))
                .user_data(2),
        )
        .unwrap();
        s.push(
            Socket::new(libc::AF_UNIX, libc::SOCK_DGRAM)
                .direct(DirectSlot::at(c2))
                .user_data(3),
        )
        .unwrap();
        s.submit().unwrap();
        let end = Instant::now() + PATIENCE;
        while seen.len() < 6 && Instant::now() < end {
            let _ = s.wait_timeout(1, Duration::from_millis(20));
            for c in s.completions() {
                assert!(
                    seen.insert((c.user_data(), c.res(), c.is_scope_op())),
                    "twice: {:?}",
                    c.cqe()
                );
            }
        }
        assert_eq!(s.in_flight(), 1, "the receive is in flight: {seen:?}");
    });
    // The receive was cancelled at the scope's end.
    assert_eq!(buf, [0x5a; 16]);
    assert_eq!(
        seen,
        BTreeSet::from([
            (1, 0, true),
            (2, 0, true),
            (3, 0, true),
            (11, 0, false),
            (12, 0, false),
            (13, 0, false),
        ])
    );
    // A FilesUpdate at slot 3, then slots emptied and filled by the kernel
    // (`ALLOC`): the new files carry no tag.
    let (other, _o) = pipe();
    let mut updates = FileUpdates::new(&[Some(other.as_fd())]);
    let (res, foreign) = complete_among(
        &mut ring,
        FilesUpdate::new(&mut updates, FilesAt::from(files.get_mut(3).unwrap())),
    );
    assert_eq!(res, 1);
    let mut foreign = foreign;
    foreign.extend(uring_tests::drain_until_quiet(
        &mut ring,
        0,
        Duration::from_millis(30),
    ));
    assert_eq!(foreign, [(14, 0)]);
    let cqe = uring_tests::complete(&mut ring, Close::new(files.get_mut(3).unwrap()));
    assert_eq!(cqe.res(), 0);
    let cqe = uring_tests::complete(
        &mut ring,
        Socket::new(libc::AF_UNIX, libc::SOCK_DGRAM).direct(DirectSlot::ALLOC),
    );
    assert!(cqe.res() >= 0 && cqe.res() < 5, "{cqe:?}");
    let slot = cqe.res() as u32;
    assert!(uring_tests::drain_until_quiet(&mut ring, 0, Duration::from_millis(30)).is_empty());
    let cqe = uring_tests::complete(&mut ring, Close::new(files.get_mut(slot).unwrap()));
    assert_eq!(cqe.res(), 0);
    assert!(
        uring_tests::drain_until_quiet(&mut ring, 0, Duration::from_millis(30)).is_empty(),
        "an allocated slot has no tag"
    );
    // A direct pipe at slot 3 takes slots 3 and 4 (6.16): slot 4's tag.
    if uring_tests::require_op::<uring::ops::Pipe<'static>>(&ring) {
        let mut fds = [-1; 2];
        let (res, mut foreign) = complete_among(
            &mut ring,
            uring::ops::Pipe::new(&mut fds)
                .pipe_flags(0)
                .direct(DirectSlot::at(files.get_mut(3).unwrap())),
        );
        assert_eq!(res, 0);
        foreign.extend(uring_tests::drain_until_quiet(
            &mut ring,
            0,
            Duration::from_millis(30),
        ));
        assert_eq!(foreign, [(1 << 63 | 15, 0)]);
        ring.unregister_files(files).unwrap();
        assert!(uring_tests::drain_until_quiet(&mut ring, 0, Duration::from_millis(30)).is_empty());
    } else {
        ring.unregister_files(files).unwrap();
        assert_eq!(
            uring_tests::drain_until_quiet(&mut ring, 1, Duration::from_millis(30)),
            [(1 << 63 | 15, 0)]
        );
    }
    drop(near.write_all(b"late"));
}

/// A file message into a tagged slot of another ring replaces it: the
/// receiving ring gets the slot's tag and the message, once each; the
/// sender's tagged slot keeps its file (no tag posted there), and the slot
/// the file went to carries no tag.
#[test]
fn a_file_message_into_a_tagged_slot_posts_the_receiver_s_tag_once() {
    let _watch = uring_tests::watchdog();
    let Some(mut sender) = tagged_ring(4) else {
        return;
    };
    if !uring_tests::require_op::<MsgRingFd<'static>>(&sender) {
        return;
    }
    let Some(mut receiver) = tagged_ring(4) else {
        return;
    };
    let (rx, _tx) = pipe();
    let (other, _o) = pipe();
    let source = sender.register_files_tagged(&[(rx.as_fd(), 31)]).unwrap();
    let mut table = receiver
        .register_files_tagged(&[(other.as_fd(), 21), (other.as_fd(), 22)])
        .unwrap();
    let dest = RingSlot::at(&receiver, table.get_mut(1).unwrap()).unwrap();
    let cqe = uring_tests::complete(
        &mut sender,
        MsgRingFd::new(dest, source.get(0).unwrap(), 9).user_data(5),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    let mut got = uring_tests::drain_until_quiet(&mut receiver, 2, Duration::from_millis(30));
    got.sort_unstable();
    assert_eq!(got, [(9, 0), (22, 0)]);
    assert!(uring_tests::drain_until_quiet(&mut sender, 0, Duration::from_millis(30)).is_empty());
    // The slot now holds the sender's pipe, untagged: unregistering posts
    // the one tag left (21).
    assert!(scope_tags_every_op(&mut receiver));
    receiver.unregister_files(table).unwrap();
    assert_eq!(
        uring_tests::drain_until_quiet(&mut receiver, 1, Duration::from_millis(30)),
        [(21, 0)]
    );
    sender.unregister_files(source).unwrap();
    assert_eq!(
        uring_tests::drain_until_quiet(&mut sender, 1, Duration::from_millis(30)),
        [(31, 0)]
    );
}

/// A tag's completion, posted in the middle of a scope that receives into
/// a buffer ring, is never claimed: `claim` refuses it (it is not the
/// scope's), and refuses the close's too (it selected nothing); the
/// receive's completion is claimed, with the bytes sent.
#[test]
fn tag_completions_are_never_claimed_from_a_buffer_ring() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = tagged_ring(8) else {
        return;
    };
    let (rx, _tx) = pipe();
    let mut files = ring
        .register_files_tagged(&[(rx.as_fd(), 1 << 63 | 1), (rx.as_fd(), 2)])
        .unwrap();
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 7, 4, 64) else {
        return;
    };
    let (mut near, far) = UnixStream::pair().unwrap();
    ring.scope(|s| {
        let [c0, c1] = files.get_many_mut([0, 1]).unwrap();
        s.push(Recv::new(&far, pool.select()).user_data(1)).unwrap();
        s.push(Close::new(c0).user_data(2)).unwrap();
        s.push(Close::new(c1).user_data(3)).unwrap();
        s.submit().unwrap();
        let mut foreign = BTreeSet::new();
        let mut closes = 0;
        let end = Instant::now() + PATIENCE;
        while (foreign.len() < 2 || closes < 2) && Instant::now() < end {
            let _ = s.wait_timeout(1, Duration::from_millis(20));
            for mut c in s.completions() {
                assert!(pool.claim(&mut c).is_err(), "claimed {:?}", c.cqe());
                if c.is_scope_op() {
                    closes += 1;
                } else {
                    foreign.insert(c.user_data());
                }
            }
        }
        assert_eq!(foreign, BTreeSet::from([1 << 63 | 1, 2]));
        assert_eq!(pool.lent(), 0);
        near.write_all(b"pooled").unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let mut n = 0;
        for mut c in s.completions() {
            assert_eq!(c.user_data(), 1);
            let buf = pool.claim(&mut c).unwrap();
            assert_eq!(&buf[..], b"pooled");
            n += 1;
        }
        assert_eq!(n, 1);
    });
}

/// A reactor made from a ring with tagged files and buffers: a tag posted
/// while the reactor runs (the last op holding a replaced slot ends), and
/// the op's own completion with a `user_data` the program chose, reach no
/// op of the reactor; its vectored read completes once, with real data.
#[test]
fn a_reactor_ignores_tag_completions_of_its_ring() {
    let _watch = uring_tests::watchdog();
    let mut mem = vec![0u8; 4096];
    let Some(mut ring) = tagged_ring(16) else {
        return;
    };
    let (prx, mut ptx) = {
        let (r, w) = pipe();
        (r, std::fs::File::from(w))
    };
    let tags = [1u64, 2, 1 << 63, u64::MAX, 0x8000_0001_0000_0000];
    let pairs: Vec<_> = tags.iter().map(|&t| (prx.as_fd(), t)).collect();
    let mut files = ring.register_files_tagged(&pairs).unwrap();
    // SAFETY: `mem` outlives the ring (declared first), and no fixed-buffer
    // op uses it.
    let _bufs =
        unsafe { ring.register_buffers_tagged(&[IoSliceMut::new(&mut mem)], &[3]) }.unwrap();
    // A poll on slot 0 holds its file; the slot is then emptied, so its tag
    // comes only when the poll ends, under the reactor.
    uring_tests::push_lent!(
        ring,
        uring::ops::PollAdd::new(files.get(0).unwrap(), uring::PollEvents::IN).user_data(2)
    )
    .unwrap();
    ring.submit().unwrap();
    ring.update_file_slots(&mut files, 0, &[SlotUpdate::Empty])
        .unwrap();
    assert!(uring_tests::drain_until_quiet(&mut ring, 0, Duration::from_millis(20)).is_empty());
    let reactor = Reactor::from_ring(ring).unwrap();
    let (mut near, far) = UnixStream::pair().unwrap();
    let far = SharedFd::new(far);
    let mut read = reactor.op(ReadV::new(
        &far,
        vec![Vec::with_capacity(3), Vec::with_capacity(8)],
        u64::MAX,
    ));
    assert!(poll_once(&mut read).is_pending());
    reactor.submit().unwrap();
    // The poll ends: its completion (user_data 2) and slot 0's tag (1).
    ptx.write_all(b"x").unwrap();
    run_for(&reactor, 50);
    assert!(
        poll_once(&mut read).is_pending(),
        "settled by a foreign completion"
    );
    near.write_all(b"abcdefg").unwrap();
    let (result, bufs) = reactor.run_until(read).unwrap();
    assert_eq!(result.unwrap(), 7);
    assert_eq!(bufs[0], b"abc");
    assert_eq!(bufs[1], b"defg");
    assert_eq!(reactor.in_flight(), 0);
    // The poll borrowed the table's handle until its completion, read by
    // the reactor above.
    drop(reactor);
    let _ = &files;
    drop(mem);
}

// ---------------------------------------------------------------------------
// 2. Waits to a deadline
// ---------------------------------------------------------------------------

/// The latest `Instant` there is (from now on, whole seconds).
fn latest_instant() -> Instant {
    let now = Instant::now();
    let (mut lo, mut hi) = (0u64, u64::MAX);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if now.checked_add(Duration::from_secs(mid)).is_some() {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    now + Duration::from_secs(lo)
}

/// The earliest `Instant` there is (from now back, whole seconds).
fn earliest_instant() -> Instant {
    let now = Instant::now();
    let (mut lo, mut hi) = (0u64, u64::MAX);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if now.checked_sub(Duration::from_secs(mid)).is_some() {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    now - Duration::from_secs(lo)
}

/// A ring whose kernel takes waits with arguments (5.11); `None`, with a
/// skip message, otherwise.
fn wait_ring(builder: &uring::Builder<'_>, entries: u32) -> Option<Ring> {
    let ring = builder.build(entries).unwrap();
    require_features(&ring, Features::EXT_ARG, "waits with a deadline").then_some(ring)
}

/// Asserts that `wait` times out, and not before `at_least` (minus a
/// little), nor after [`PATIENCE`].
fn times_out_after(what: &str, at_least: Duration, wait: impl FnOnce() -> uring::Result<()>) {
    let start = Instant::now();
    let r = wait();
    let took = start.elapsed();
    assert!(matches!(r, Err(Error::TimedOut)), "{what}: {r:?}");
    assert!(
        took + Duration::from_millis(15) >= at_least,
        "{what}: ended after {took:?}, before {at_least:?}"
    );
    assert!(took < PATIENCE, "{what}: ended after {took:?}");
}

/// Deadlines at the ends of `Instant` and around now, alone and with
/// timeouts and minimum waits: a past deadline checks what is ready, a far
/// one waits for the completion (never a wrapped time that ends the wait at
/// once), and the earliest end wins. No panic, no error but `TimedOut`.
#[test]
fn deadlines_at_the_ends_of_time_wait_as_they_say() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = wait_ring(&Ring::builder(), 4) else {
        return;
    };
    let soon = || Instant::now() + Duration::from_millis(100);
    // No completion wanted: at once, whatever the deadline.
    for d in [earliest_instant(), Instant::now(), latest_instant()] {
        ring.wait_with(0, &WaitArgs::new().deadline(d)).unwrap();
    }
    // More than the CQ holds: an error value.
    let e = ring
        .wait_with(1 << 20, &WaitArgs::new().deadline(soon()))
        .unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    // Past deadlines: a check, timed out.
    let past = [
        earliest_instant(),
        Instant::now()
            .checked_sub(Duration::from_secs(3600))
            .unwrap_or_else(earliest_instant),
        Instant::now(),
    ];
    for d in past {
        times_out_after("a past deadline", Duration::ZERO, || {
            ring.wait_with(1, &WaitArgs::new().deadline(d))
        });
        times_out_after("a past deadline and a long timeout", Duration::ZERO, || {
            ring.wait_with(
                1,
                &WaitArgs::new()
                    .deadline(d)
                    .timeout(Duration::from_secs(3600)),
            )
        });
    }
    // A past deadline with the completion ready: done.
    ring.push(Nop::new().user_data(1)).unwrap();
    ring.submit().unwrap();
    ring.wait_with(1, &WaitArgs::new().deadline(earliest_instant()))
        .unwrap();
    assert_eq!(
        ring.completions()
            .map(|c| c.user_data())
            .collect::<Vec<_>>(),
        [1]
    );
    // A deadline near now, a timeout of zero or of the longest duration.
    times_out_after("a deadline 100 ms away", Duration::from_millis(100), || {
        ring.wait_with(1, &WaitArgs::new().deadline(soon()))
    });
    times_out_after("a zero timeout", Duration::ZERO, || {
        ring.wait_with(
            1,
            &WaitArgs::new()
                .deadline(latest_instant())
                .timeout(Duration::ZERO),
        )
    });
    times_out_after(
        "a deadline before Duration::MAX",
        Duration::from_millis(100),
        || ring.wait_with(1, &WaitArgs::new().deadline(soon()).timeout(Duration::MAX)),
    );
    times_out_after(
        "a timeout before the last instant",
        Duration::from_millis(60),
        || {
            ring.wait_with(
                1,
                &WaitArgs::new()
                    .deadline(latest_instant())
                    .timeout(Duration::from_millis(60)),
            )
        },
    );
    // The latest instant, and centuries away: the wait ends with the
    // completion (a timeout op of 100 ms), not at once.
    for d in [
        latest_instant(),
        Instant::now() + Duration::from_secs(1 << 40),
    ] {
        // Timed from before the submit, which arms the timeout op.
        let start = Instant::now();
        ring.push(Timeout::new(Duration::from_millis(100)).user_data(7))
            .unwrap();
        ring.submit().unwrap();
        ring.wait_with(1, &WaitArgs::new().deadline(d)).unwrap();
        assert!(
            start.elapsed() >= Duration::from_millis(85),
            "{:?}",
            start.elapsed()
        );
        let got: Vec<_> = ring
            .completions()
            .map(|c| (c.user_data(), c.res()))
            .collect();
        assert_eq!(got, [(7, -libc::ETIME)]);
    }
    // A minimum wait longer than the time to the deadline (6.12).
    if ring.params().has(Features::MIN_TIMEOUT) {
        times_out_after(
            "a minimum wait past the deadline",
            Duration::from_millis(100),
            || {
                ring.wait_with(
                    1,
                    &WaitArgs::new()
                        .deadline(soon())
                        .min_wait(Duration::from_secs(3600)),
                )
            },
        );
        // One completion of the two wanted: the minimum wait ends it, Ok.
        ring.push(Nop::new().user_data(8)).unwrap();
        ring.submit().unwrap();
        let start = Instant::now();
        ring.wait_with(
            2,
            &WaitArgs::new()
                .deadline(Instant::now() + Duration::from_secs(5))
                .min_wait(Duration::from_millis(50)),
        )
        .unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(4),
            "{:?}",
            start.elapsed()
        );
        assert_eq!(ring.completions().count(), 1);
        // A minimum wait and a past deadline, the completion ready.
        ring.push(Nop::new().user_data(9)).unwrap();
        ring.submit().unwrap();
        ring.wait_with(
            1,
            &WaitArgs::new()
                .deadline(earliest_instant())
                .min_wait(Duration::MAX),
        )
        .unwrap();
        assert_eq!(ring.completions().count(), 1);
    }
    assert_eq!(ring.ready(), 0);
}

/// A submit that waits to a deadline counts what it submitted, whether the
/// deadline passed during the wait or before it, on a plain ring and on an
/// SQPOLL ring; with nothing to submit it times out.
#[test]
fn a_submit_to_a_deadline_counts_what_it_submitted() {
    let _watch = uring_tests::watchdog();
    for sqpoll in [false, true] {
        let builder = if sqpoll {
            if !uring_tests::require_sqpoll() {
                continue;
            }
            Ring::builder().sqpoll(Duration::from_millis(10))
        } else {
            Ring::builder()
        };
        let Some(mut ring) = wait_ring(&builder, 8) else {
            return;
        };
        for (deadline, n) in [
            (Instant::now() + Duration::from_millis(50), 3u32),
            (earliest_instant(), 2),
            (Instant::now(), 5),
        ] {
            for i in 0..n {
                ring.push(Nop::new().user_data(u64::from(i))).unwrap();
            }
            let r = ring
                .submit_and_wait_with(8, &WaitArgs::new().deadline(deadline))
                .unwrap();
            // On an SQPOLL ring too: what the call handed the SQ thread,
            // even if the thread took it before the count was read.
            assert_eq!(r, n, "sqpoll {sqpoll}");
            let got =
                uring_tests::drain_until_quiet(&mut ring, n as usize, Duration::from_millis(10));
            assert_eq!(got.len(), n as usize, "sqpoll {sqpoll}: {got:?}");
        }
        times_out_after("nothing to submit", Duration::from_millis(30), || {
            ring.submit_and_wait_with(
                1,
                &WaitArgs::new().deadline(Instant::now() + Duration::from_millis(30)),
            )
            .map(drop)
        });
        // Enough completions come before the deadline: the count, at once.
        for i in 0..4 {
            ring.push(Nop::new().user_data(i)).unwrap();
        }
        let start = Instant::now();
        let r = ring.submit_and_wait_with(4, &WaitArgs::new().deadline(latest_instant()));
        assert_eq!(r.unwrap(), 4);
        assert!(start.elapsed() < PATIENCE);
        assert_eq!(ring.completions().count(), 4);
    }
}

/// Handles `SIGUSR1` with a function that does nothing (no `SA_RESTART`),
/// so that the signal interrupts a wait in the kernel.
fn install_sigusr1() {
    extern "C" fn nothing(_: libc::c_int) {}
    // SAFETY: all-zero bytes are a valid `sigaction`; the handler does
    // nothing, which is async-signal-safe.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = nothing as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()), 0);
    }
}

/// A wait to a deadline interrupted again and again by a signal the
/// thread lets through resumes to the same deadline: it ends at it, not
/// before and not a signal's worth of restarts later. The same wait with a
/// mask of its own ends at the first signal with `EINTR`, as `ppoll` does.
#[test]
fn a_deadline_holds_across_signals_and_a_masked_wait_ends_at_one() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = wait_ring(&Ring::builder(), 4) else {
        return;
    };
    install_sigusr1();
    // SAFETY: all-zero bytes are a valid `sigset_t`, emptied by sigemptyset.
    let mut open: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `open` is a valid set.
    unsafe { libc::sigemptyset(&mut open) };
    for masked in [false, true] {
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() };
        let stop = Arc::new(AtomicBool::new(false));
        let signaller = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    // SAFETY: `me` is the test's thread, alive until this
                    // thread is joined.
                    unsafe { libc::pthread_kill(me, libc::SIGUSR1) };
                    std::thread::sleep(Duration::from_millis(15));
                }
            })
        };
        let args = WaitArgs::new().deadline(Instant::now() + Duration::from_millis(400));
        if masked {
            let start = Instant::now();
            let r = ring.wait_with(1, &args.sigmask(&open));
            assert_eq!(
                r.as_ref().err().and_then(Error::raw_os_error),
                Some(libc::EINTR),
                "a masked wait under signals: {r:?}"
            );
            assert!(
                start.elapsed() < Duration::from_millis(400),
                "ended by the first signal, not the deadline"
            );
        } else {
            times_out_after("a wait under signals", Duration::from_millis(400), || {
                ring.wait_with(1, &args)
            });
        }
        stop.store(true, Ordering::Relaxed);
        signaller.join().unwrap();
    }
}

/// Deadlines on a ring whose descriptor is registered, on the boot-time
/// clock (6.12), and from a thread other than the one that registered the
/// descriptor: each times out at its deadline and ends with a completion
/// that comes before it.
#[test]
fn deadlines_on_registered_descriptors_and_the_boot_time_clock() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = wait_ring(&Ring::builder(), 4) else {
        return;
    };
    ring.register_ring_fd().unwrap();
    if ring.register_clock(Clock::Boottime).is_err() {
        skip("no IORING_REGISTER_CLOCK (6.12)");
    }
    times_out_after(
        "registered fd, boot-time clock",
        Duration::from_millis(80),
        || {
            ring.wait_with(
                1,
                &WaitArgs::new().deadline(Instant::now() + Duration::from_millis(80)),
            )
        },
    );
    ring.push(Timeout::new(Duration::from_millis(30)).user_data(3))
        .unwrap();
    ring.submit_and_wait_with(
        1,
        &WaitArgs::new().deadline(Instant::now() + Duration::from_secs(5)),
    )
    .unwrap();
    assert_eq!(ring.completions().count(), 1);
    // From another thread (which uses the descriptor, not the index).
    let ring = std::thread::spawn(move || {
        times_out_after("another thread", Duration::from_millis(80), || {
            ring.wait_with(
                1,
                &WaitArgs::new().deadline(Instant::now() + Duration::from_millis(80)),
            )
        });
        ring.push(Timeout::new(Duration::from_millis(30)).user_data(4))
            .unwrap();
        let n = ring
            .submit_and_wait_with(
                1,
                &WaitArgs::new().deadline(Instant::now() + Duration::from_secs(5)),
            )
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(ring.completions().count(), 1);
        ring
    })
    .join()
    .unwrap();
    drop(ring);
}

/// A deadline inside a scope: the scope's receive is still in flight after
/// the wait times out, and a later wait to a deadline gets its completion.
/// Then a CQ the scope's end set aside (full of completions that were not
/// the scope's): waits to deadlines read them back once, in order, and
/// time out once they are read.
#[test]
fn deadlines_in_a_scope_and_over_a_cq_set_aside() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = wait_ring(&Ring::builder(), 4) else {
        return;
    };
    let (mut near, far) = UnixStream::pair().unwrap();
    let mut buf = [0u8; 8];
    ring.scope(|s| {
        s.push(Recv::new(&far, &mut buf[..]).user_data(1)).unwrap();
        s.submit().unwrap();
        let start = Instant::now();
        let r = s.wait_with(
            1,
            &WaitArgs::new().deadline(start + Duration::from_millis(60)),
        );
        assert!(matches!(r, Err(Error::TimedOut)), "{r:?}");
        assert!(start.elapsed() >= Duration::from_millis(45));
        assert_eq!(s.in_flight(), 1);
        assert_eq!(s.completions().count(), 0);
        near.write_all(b"scoped").unwrap();
        s.wait_with(1, &WaitArgs::new().deadline(Instant::now() + PATIENCE))
            .unwrap();
        let got: Vec<_> = s
            .completions()
            .map(|c| (c.user_data(), c.res(), c.is_scope_op()))
            .collect();
        assert_eq!(got, [(1, 6, true)]);
        assert_eq!(s.in_flight(), 0);
    });
    assert_eq!(&buf[..6], b"scoped");

    // 12 NOPs of the ring's own on a CQ of 8: the rest wait in the overflow
    // list; the scope's read completes behind them.
    let entries = ring.cq_entries() as u64;
    let total = entries + 4;
    for i in 0..total {
        if ring.push(Nop::new().user_data(1000 + i)).is_err() {
            ring.submit().unwrap();
            ring.push(Nop::new().user_data(1000 + i)).unwrap();
        }
    }
    ring.submit().unwrap();
    near.write_all(b"behind").unwrap();
    let mut behind = [0u8; 8];
    ring.scope(|s| {
        s.push(Read::new(&far, &mut behind[..]).user_data(1))
            .unwrap();
        s.submit().unwrap();
    });
    let mut got = Vec::new();
    let end = Instant::now() + PATIENCE;
    while (got.len() as u64) < total && Instant::now() < end {
        let want = ((total - got.len() as u64).min(entries)) as u32;
        let _ = ring.wait_with(
            want,
            &WaitArgs::new().deadline(Instant::now() + Duration::from_millis(50)),
        );
        got.extend(ring.completions().map(|c| c.user_data()));
    }
    assert_eq!(
        got,
        (1000..1000 + total).collect::<Vec<_>>(),
        "once, in order"
    );
    times_out_after("nothing left", Duration::from_millis(40), || {
        ring.wait_with(
            1,
            &WaitArgs::new().deadline(Instant::now() + Duration::from_millis(40)),
        )
    });
    assert!(&behind[..6] == b"behind" || behind == [0; 8], "{behind:?}");
}

/// Inside a time namespace whose clocks run 10 s behind the host's, a wait
/// to a deadline a second away ends after about a second, and so does a
/// reactor op whose deadline is a second away: the deadline is an `Instant`,
/// read on the namespace's clock.
///
/// Linux 6.18 reads the absolute time of `IORING_ENTER_ABS_TIMER` and of
/// `IORING_TIMEOUT_ABS` on the host's clock: when uring gave it absolute
/// times here, the wait ended at once with `TimedOut` and the op at once
/// with `ECANCELED`, a second early. (The kernel takes relative times
/// right, which uring now passes in such a namespace.)
#[test]
fn deadlines_hold_inside_a_time_namespace() {
    let _watch = uring_tests::watchdog();
    let name = "deadlines_hold_inside_a_time_namespace";
    if uring_tests::in_child(name) {
        timens_checks();
        return;
    }
    // (`None`: the child could not start, and the test is skipped.)
    let _ = run_child(name, || {
        // SAFETY: this closure runs between fork and exec.
        unsafe { uring_tests::time_namespace_10s_behind() }
    });
}

/// The checks of [`deadlines_hold_inside_a_time_namespace`], in the
/// namespace.
fn timens_checks() {
    let second = Duration::from_secs(1);
    let fine = |took: Duration| took >= Duration::from_millis(900) && took < PATIENCE;
    let mut failures = Vec::new();
    for (boottime, sqpoll) in [(false, false), (true, false), (false, true)] {
        let builder = if sqpoll {
            Ring::builder().sqpoll(Duration::from_millis(10))
        } else {
            Ring::builder()
        };
        let Some(mut ring) = wait_ring(&builder, 4) else {
            return;
        };
        if boottime && ring.register_clock(Clock::Boottime).is_err() {
            skip("no IORING_REGISTER_CLOCK (6.12)");
            continue;
        }
        let start = Instant::now();
        let r = ring.wait_with(1, &WaitArgs::new().deadline(start + second));
        let took = start.elapsed();
        assert!(matches!(r, Err(Error::TimedOut)), "{r:?}");
        if !fine(took) {
            failures.push(format!(
                "a wait to a deadline 1 s away (boottime {boottime}, sqpoll {sqpoll}) ended after {took:?}"
            ));
        }
        // The same wait with the time left as a timeout holds.
        let start = Instant::now();
        let r = ring.wait_with(1, &WaitArgs::new().timeout(second));
        assert!(matches!(r, Err(Error::TimedOut)), "{r:?}");
        assert!(fine(start.elapsed()), "a timeout: {:?}", start.elapsed());
    }
    let reactor = Reactor::new().unwrap();
    let (_near, far) = UnixStream::pair().unwrap();
    let far = SharedFd::new(far);
    let start = Instant::now();
    let (r, _) = reactor
        .run_until(reactor.op_with_deadline(
            uring::reactor::ops::Recv::new(&far, vec![0u8; 4]),
            start + second,
        ))
        .unwrap();
    let took = start.elapsed();
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
    if !fine(took) {
        failures.push(format!(
            "a reactor receive with a deadline 1 s away was cancelled after {took:?}"
        ));
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

// ---------------------------------------------------------------------------
// 3. The reactor's vectored, accepting and descriptor-passing ops
// ---------------------------------------------------------------------------

/// An owned buffer that logs its bytes when it is dropped: the reactor may
/// drop it only once the kernel is done with it.
struct Canary {
    bytes: Vec<u8>,
    log: Rc<RefCell<Vec<Vec<u8>>>>,
}

impl Canary {
    fn new(len: usize, fill: u8, log: &Rc<RefCell<Vec<Vec<u8>>>>) -> Canary {
        Canary {
            bytes: vec![fill; len],
            log: log.clone(),
        }
    }
}

impl Drop for Canary {
    fn drop(&mut self) {
        self.log.borrow_mut().push(std::mem::take(&mut self.bytes));
    }
}

// SAFETY: forwards to the vector, whose heap bytes do not move with the
// `Canary` and change only through `&mut`.
unsafe impl IoBuf for Canary {
    fn stable_ptr(&self) -> *const u8 {
        self.bytes.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.bytes.len()
    }
}

// SAFETY: as for `IoBuf`; every byte is initialised from the start.
unsafe impl IoBufMut for Canary {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.bytes.as_mut_ptr()
    }
    fn bytes_total(&self) -> usize {
        self.bytes.len()
    }
    unsafe fn set_init(&mut self, _: usize) {}
}

/// A vectored read's buffers outlive a dropped future until the cancelled
/// op's completion, come back unwritten, and the socket loses no byte; a
/// detached read fills them and frees them at its completion; a forgotten
/// one never frees them while the kernel may write.
#[test]
fn vectored_reads_keep_their_buffers_until_the_last_completion() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let (mut near, far) = UnixStream::pair().unwrap();
    let far = SharedFd::new(far);
    let log = Rc::new(RefCell::new(Vec::new()));
    let bufs = || {
        vec![
            Canary::new(3, 0xc1, &log),
            Canary::new(0, 0xc2, &log),
            Canary::new(5, 0xc3, &log),
        ]
    };
    // Dropped: cancelled, dropped at the cancelled completion.
    let mut read = reactor.op(ReadV::new(&far, bufs(), u64::MAX));
    assert!(poll_once(&mut read).is_pending());
    reactor.submit().unwrap();
    drop(read);
    assert!(log.borrow().is_empty(), "freed while in flight");
    run_for(&reactor, 30);
    assert_eq!(
        *log.borrow(),
        [vec![0xc1; 3], vec![], vec![0xc3; 5]],
        "dropped after the cancel, unwritten"
    );
    log.borrow_mut().clear();
    near.write_all(b"12345678").unwrap();
    let (r, back) = reactor
        .run_until(reactor.op(ReadV::new(&far, vec![vec![0u8; 8]], u64::MAX)))
        .unwrap();
    assert_eq!(r.unwrap(), 8);
    assert_eq!(back[0], b"12345678", "no byte lost");
    // Detached: runs to its end, then dropped, filled.
    let read = reactor.op(ReadV::new(&far, bufs(), u64::MAX));
    reactor.submit().unwrap();
    read.detach();
    run_for(&reactor, 20);
    assert!(log.borrow().is_empty(), "freed while in flight");
    near.write_all(b"abcdefgh").unwrap();
    run_for(&reactor, 30);
    assert_eq!(
        *log.borrow(),
        [b"abc".to_vec(), vec![], b"defgh".to_vec()],
        "filled in turn, then dropped"
    );
    log.borrow_mut().clear();
    // Forgotten: the kernel's completion comes, the memory is never freed
    // before it (nor, here, after: it stays with the reactor).
    let read = reactor.op(ReadV::new(&far, bufs(), u64::MAX));
    reactor.submit().unwrap();
    std::mem::forget(read);
    run_for(&reactor, 20);
    assert!(log.borrow().is_empty());
    near.write_all(b"ABCDEFGH").unwrap();
    run_for(&reactor, 30);
    let logged = log.borrow().clone();
    assert!(
        logged.is_empty() || logged == [b"ABC".to_vec(), vec![], b"DEFGH".to_vec()],
        "{logged:?}"
    );
    drop(reactor);
}

/// A vectored write blocked on a full socket, its future dropped: its
/// buffers stay until the cancelled op's completion, and none of their
/// bytes reach the peer. One detached: its bytes arrive whole, after the
/// filler, and its buffers are freed after.
#[test]
fn vectored_writes_keep_their_buffers_until_the_last_completion() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let (mut near, far) = UnixStream::pair().unwrap();
    let mut far_w = far.try_clone().unwrap();
    let far = SharedFd::new(far);
    let log = Rc::new(RefCell::new(Vec::new()));
    let filled = fill(&mut far_w);
    let mut write = reactor.op(WriteV::new(
        &far,
        vec![Canary::new(7, 0xd1, &log), Canary::new(9, 0xd2, &log)],
        u64::MAX,
    ));
    assert!(poll_once(&mut write).is_pending());
    reactor.submit().unwrap();
    run_for(&reactor, 20);
    assert!(poll_once(&mut write).is_pending(), "the socket is full");
    drop(write);
    assert!(log.borrow().is_empty(), "freed while in flight");
    run_for(&reactor, 30);
    assert_eq!(log.borrow().len(), 2, "dropped after the cancel");
    log.borrow_mut().clear();
    let got = take_all(&mut near);
    assert_eq!(got.len(), filled, "the filler, and nothing of the write");
    assert!(got.iter().all(|&b| b == 0x11));
    // Detached over a full socket: its bytes go once the peer reads.
    let filled = fill(&mut far_w);
    let write = reactor.op(WriteV::new(
        &far,
        vec![Canary::new(7, 0xd1, &log), Canary::new(9, 0xd2, &log)],
        u64::MAX,
    ));
    reactor.submit().unwrap();
    write.detach();
    run_for(&reactor, 20);
    assert!(log.borrow().is_empty());
    let mut got = take_all(&mut near);
    let end = Instant::now() + PATIENCE;
    while got.len() < filled + 16 && Instant::now() < end {
        run_for(&reactor, 10);
        got.extend(take_all(&mut near));
    }
    assert_eq!(got.len(), filled + 16);
    assert_eq!(got[filled..filled + 7], [0xd1; 7]);
    assert_eq!(got[filled + 7..], [0xd2; 9]);
    run_for(&reactor, 10);
    assert_eq!(log.borrow().len(), 2);
}

/// No buffers, zero-length buffers, exactly 1024 and more than 1024
/// (`UIO_MAXIOV`): the kernel's answer, each buffer back, none marked
/// filled by a failed op.
#[test]
fn vectored_ops_with_no_or_too_many_buffers() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let mut file = tempfile::tempfile().unwrap();
    let data = uring_tests::pattern(4096, 3);
    file.write_all(&data).unwrap();
    let fd = SharedFd::new(file);
    let (r, bufs) = reactor
        .run_until(reactor.op(ReadV::new(&fd, Vec::<Vec<u8>>::new(), 0)))
        .unwrap();
    assert_eq!(r.unwrap(), 0);
    assert!(bufs.is_empty());
    let (r, bufs) = reactor
        .run_until(reactor.op(WriteV::new(&fd, Vec::<Vec<u8>>::new(), 0)))
        .unwrap();
    assert_eq!(r.unwrap(), 0);
    assert!(bufs.is_empty());
    // Only empty buffers.
    let (r, bufs) = reactor
        .run_until(reactor.op(ReadV::new(&fd, vec![Vec::new(), Vec::new()], 0)))
        .unwrap();
    assert_eq!(r.unwrap(), 0);
    assert!(bufs.iter().all(|b| b.is_empty()));
    for count in [1024usize, 1025, 4096, 70_000] {
        let bufs: Vec<Vec<u8>> = (0..count).map(|_| Vec::with_capacity(1)).collect();
        let room: usize = bufs.iter().map(|b| b.capacity()).sum();
        let (r, bufs) = reactor
            .run_until(reactor.op(ReadV::new(&fd, bufs, 0)))
            .unwrap();
        assert_eq!(bufs.len(), count, "every buffer back");
        if count <= 1024 {
            let n = r.unwrap() as usize;
            assert_eq!(n, room.min(4096));
            let got: Vec<u8> = bufs.concat();
            assert_eq!(got, data[..n]);
        } else {
            assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EINVAL), "{count}");
            assert!(bufs.iter().all(|b| b.is_empty()), "nothing marked filled");
        }
        let bufs: Vec<Vec<u8>> = (0..count).map(|i| vec![i as u8]).collect();
        let (r, back) = reactor
            .run_until(reactor.op(WriteV::new(&fd, bufs, 8192)))
            .unwrap();
        assert_eq!(back.len(), count);
        if count <= 1024 {
            assert_eq!(r.unwrap() as usize, count);
        } else {
            assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EINVAL), "{count}");
        }
    }
}

/// What a vectored read marks filled is what the kernel wrote: spare
/// capacity past the bytes read stays unmarked, a vector longer than what
/// it received keeps its length (its old bytes past the new ones), boxed
/// slices keep theirs; a read cut by its deadline marks nothing.
#[test]
fn vectored_reads_mark_only_what_the_kernel_wrote() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(b"0123456789").unwrap();
    let fd = SharedFd::new(file);
    let mut long = Vec::with_capacity(64);
    long.extend_from_slice(&[0xee; 20]);
    let mut short = Vec::with_capacity(64);
    short.extend_from_slice(&[0xdd; 2]);
    let (r, bufs) = reactor
        .run_until(reactor.op(ReadV::new(&fd, vec![long, Vec::with_capacity(4)], 4)))
        .unwrap();
    assert_eq!(r.unwrap(), 6);
    assert_eq!(bufs[0].len(), 20, "its length, not shortened");
    assert_eq!(&bufs[0][..6], b"456789");
    assert_eq!(bufs[0][6..], [0xee; 14], "the old bytes");
    assert!(bufs[1].is_empty(), "nothing reached the second");
    let (r, bufs) = reactor
        .run_until(reactor.op(ReadV::new(&fd, vec![short, Vec::with_capacity(100)], 0)))
        .unwrap();
    let n = r.unwrap() as usize;
    assert_eq!(n, 10);
    let cap = bufs[0].capacity();
    assert_eq!(bufs[0].len(), n.min(cap));
    assert_eq!(&bufs[0][..], &b"0123456789"[..n.min(cap)]);
    assert_eq!(bufs[1].len(), n.saturating_sub(cap));
    let (r, bufs) = reactor
        .run_until(reactor.op(ReadV::new(
            &fd,
            vec![
                vec![7u8; 3].into_boxed_slice(),
                Box::default(),
                vec![7u8; 9].into_boxed_slice(),
            ],
            0,
        )))
        .unwrap();
    assert_eq!(r.unwrap(), 10);
    assert_eq!(&bufs[0][..], b"012");
    assert_eq!(&bufs[2][..], b"3456789\x07\x07");
    // Cut by a deadline: nothing marked.
    let (_w, rx) = {
        let (r, w) = pipe();
        (w, r)
    };
    let rx = SharedFd::new(rx);
    for deadline in [
        Instant::now() + Duration::from_millis(30),
        earliest_instant(),
    ] {
        let mut partly = Vec::with_capacity(16);
        partly.push(1u8);
        let (r, bufs) = reactor
            .run_until(reactor.op_with_deadline(
                ReadV::new(&rx, vec![partly, Vec::with_capacity(16)], u64::MAX),
                deadline,
            ))
            .unwrap();
        assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
        assert_eq!(bufs[0], [1]);
        assert!(bufs[1].is_empty());
    }
}

/// An accept whose future is dropped after the kernel completed it closes
/// the socket it made (the peer reads the end); one dropped before
/// cancels; a deadline in the past and a socket that cannot accept give no
/// socket; an IPv6 peer's address comes back.
#[test]
fn accepts_with_addresses_release_what_they_made() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let at = listener.local_addr().unwrap();
    let fd = SharedFd::new(listener);
    let mut client = std::net::TcpStream::connect(at).unwrap();
    let mut accept = reactor.op(AcceptFrom::new(&fd));
    assert!(poll_once(&mut accept).is_pending());
    reactor.submit().unwrap();
    run_for(&reactor, 30);
    drop(accept);
    client.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(
        client.read(&mut byte).unwrap(),
        0,
        "the accepted socket was closed"
    );
    // Dropped before any connection: cancelled; the next connection goes to
    // the next accept.
    let mut accept = reactor.op(AcceptFrom::new(&fd));
    assert!(poll_once(&mut accept).is_pending());
    reactor.submit().unwrap();
    drop(accept);
    run_for(&reactor, 20);
    let client = std::net::TcpStream::connect(at).unwrap();
    let (r, got) = reactor.run_until(reactor.op(AcceptFrom::new(&fd))).unwrap();
    let (sock, peer) = got.expect("a socket");
    assert_eq!(sock.as_raw_fd() as u32, r.unwrap());
    assert_eq!(peer, Some(client.local_addr().unwrap()));
    // A past deadline, nothing pending: cancelled, no socket.
    let (r, got) = reactor
        .run_until(reactor.op_with_deadline(AcceptFrom::new(&fd), earliest_instant()))
        .unwrap();
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
    assert!(got.is_none());
    // A datagram socket does not accept.
    let udp = SharedFd::new(std::net::UdpSocket::bind("127.0.0.1:0").unwrap());
    let (r, got) = reactor
        .run_until(reactor.op(AcceptFrom::new(&udp)))
        .unwrap();
    assert!(r.is_err());
    assert!(got.is_none());
    // IPv6.
    if let Ok(l6) = std::net::TcpListener::bind("[::1]:0") {
        let at6 = l6.local_addr().unwrap();
        let fd6 = SharedFd::new(l6);
        let c6 = std::net::TcpStream::connect(at6).unwrap();
        let (r, got) = reactor
            .run_until(reactor.op(AcceptFrom::new(&fd6)))
            .unwrap();
        assert!(r.is_ok());
        assert_eq!(got.expect("a socket").1, Some(c6.local_addr().unwrap()));
    } else {
        skip("no IPv6 loopback");
    }
}

/// `n` pipes: (read end, write end, inode).
fn pipes(n: usize) -> Vec<(OwnedFd, OwnedFd, u64)> {
    (0..n)
        .map(|_| {
            let (r, w) = pipe();
            let ino = inode(r.as_fd());
            (r, w, ino)
        })
        .collect()
}

/// Whether the pipe `rx` reads its end now: no write end is left open
/// anywhere. (Non-blocking: `false` when a write end is open.)
fn at_eof(rx: &OwnedFd) -> bool {
    nonblocking(rx.as_fd());
    let mut f = std::fs::File::from(rx.try_clone().unwrap());
    let mut b = [0u8; 16];
    matches!(f.read(&mut b), Ok(0))
}

/// Sending descriptors where they cannot go: over TCP, over UDP, into a
/// pipe, more than `SCM_MAX_FD`, to a peer that is gone. Each fails with
/// the kernel's error and gives back every descriptor, open, with its
/// number; none reaches anyone.
#[test]
fn descriptors_that_cannot_be_sent_come_back_open() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (_tcp_peer, _) = listener.accept().unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.connect(udp.local_addr().unwrap()).unwrap();
    let (_, pipe_w) = pipe();
    let (gone_a, gone_b) = UnixStream::pair().unwrap();
    drop(gone_b);
    let cases: Vec<(&str, SharedFd, usize, i32)> = vec![
        ("tcp", SharedFd::new(tcp), 2, libc::EINVAL),
        ("udp", SharedFd::new(udp), 2, libc::EINVAL),
        ("pipe", SharedFd::new(pipe_w), 2, libc::ENOTSOCK),
        ("gone", SharedFd::new(gone_a), 2, libc::EPIPE),
    ];
    for (what, target, n, errno) in cases {
        let ps = pipes(n);
        let sent: Vec<OwnedFd> = ps.iter().map(|(_, w, _)| w.try_clone().unwrap()).collect();
        let numbers: Vec<RawFd> = sent.iter().map(|f| f.as_raw_fd()).collect();
        let (r, (buf, back)) = reactor
            .run_until(reactor.op(SendWithFds::new(&target, b"fds".to_vec(), sent)))
            .unwrap();
        match r {
            // TCP and UDP take `SCM_RIGHTS` for a Unix socket's record, and
            // ignore it (`__sock_cmsg_send`): the bytes go, the
            // descriptors stay.
            Ok(3) if what == "tcp" || what == "udp" => {}
            r => assert_eq!(r.map_err(|e| e.raw_os_error()), Err(Some(errno)), "{what}"),
        }
        assert_eq!(buf, b"fds");
        assert_eq!(
            back.iter().map(|f| f.as_raw_fd()).collect::<Vec<_>>(),
            numbers,
            "{what}: the same descriptors back"
        );
        for (f, (_, _, ino)) in back.iter().zip(&ps) {
            assert_eq!(inode(f.as_fd()), *ino, "{what}: still the pipe");
        }
        drop(back);
        for (_, _, ino) in &ps {
            assert_eq!(
                pipe_refs(*ino),
                2,
                "{what}: the two ends of the test, no copy"
            );
        }
    }
    // No descriptors at all: a plain send, and the receiver gets none.
    let (a, b) = UnixStream::pair().unwrap();
    let (a, b) = (SharedFd::new(a), SharedFd::new(b));
    let (r, (_, back)) = reactor
        .run_until(reactor.op(SendWithFds::new(&a, b"none".to_vec(), Vec::new())))
        .unwrap();
    assert_eq!(r.unwrap(), 4);
    assert!(back.is_empty());
    let (r, (buf, got)) = reactor
        .run_until(reactor.op(RecvWithFds::new(&b, Vec::with_capacity(8), 4)))
        .unwrap();
    assert_eq!(r.unwrap(), 4);
    assert_eq!(buf, b"none");
    assert!(got.is_empty());
    // More than SCM_MAX_FD over a Unix socket: refused, all back; exactly
    // that many: all arrive.
    let ps = pipes(MAX_FDS + 1);
    let sent: Vec<OwnedFd> = ps.iter().map(|(_, w, _)| w.try_clone().unwrap()).collect();
    let (r, (_, back)) = reactor
        .run_until(reactor.op(SendWithFds::new(&a, b"many".to_vec(), sent)))
        .unwrap();
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EINVAL));
    assert_eq!(back.len(), MAX_FDS + 1);
    drop(back);
    let sent: Vec<OwnedFd> = ps[..MAX_FDS]
        .iter()
        .map(|(_, w, _)| w.try_clone().unwrap())
        .collect();
    let (r, (_, back)) = reactor
        .run_until(reactor.op(SendWithFds::new(&a, b"max".to_vec(), sent)))
        .unwrap();
    assert_eq!(r.unwrap(), 3);
    drop(back);
    let (r, (buf, got)) = reactor
        .run_until(reactor.op(RecvWithFds::new(&b, Vec::with_capacity(8), usize::MAX)))
        .unwrap();
    assert_eq!(r.unwrap(), 3);
    assert_eq!(buf, b"max");
    assert_eq!(got.len(), MAX_FDS);
    for (f, (_, _, ino)) in got.iter().zip(&ps) {
        assert_eq!(inode(f.as_fd()), *ino, "in order");
    }
    drop(got);
    for (_, _, ino) in &ps {
        assert_eq!(pipe_refs(*ino), 2);
    }
}

/// More descriptors than room: the receiver owns those the kernel
/// installed (in order, each once, none a number it already had), and the
/// kernel closed the rest: no descriptor of the process names their
/// pipes, which read their end once the received ones are dropped.
#[test]
fn descriptors_past_the_room_leave_nothing_behind() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    let (a, b) = (SharedFd::new(a), SharedFd::new(b));
    for room in [0usize, 1, 2, 3, 7] {
        let ps = pipes(10);
        let sent: Vec<OwnedFd> = ps.iter().map(|(_, w, _)| w.try_clone().unwrap()).collect();
        let (r, (_, back)) = reactor
            .run_until(reactor.op(SendWithFds::new(&a, vec![room as u8], sent)))
            .unwrap();
        assert_eq!(r.unwrap(), 1);
        drop(back);
        let mine: BTreeSet<RawFd> = ps
            .iter()
            .flat_map(|(r, w, _)| [r.as_raw_fd(), w.as_raw_fd()])
            .collect();
        let (r, (buf, got)) = reactor
            .run_until(reactor.op(RecvWithFds::new(&b, Vec::with_capacity(4), room)))
            .unwrap();
        assert_eq!(r.unwrap(), 1);
        assert_eq!(buf, [room as u8]);
        // The room is rounded up to whole 8-byte words.
        let fits = (((16 + 4 * room).div_ceil(8) * 8) - 16) / 4;
        assert_eq!(got.len(), fits.min(10), "room {room}");
        let numbers: BTreeSet<RawFd> = got.iter().map(|f| f.as_raw_fd()).collect();
        assert_eq!(numbers.len(), got.len(), "each number once");
        assert!(numbers.is_disjoint(&mine), "a number the test owned");
        for (i, (_, _, ino)) in ps.iter().enumerate() {
            if i < got.len() {
                assert_eq!(inode(got[i].as_fd()), *ino, "in order");
            }
        }
        // Only the test's write ends, the received ones: the kernel closed
        // the rest.
        for (i, (_, _, ino)) in ps.iter().enumerate() {
            let expect = 2 + usize::from(i < got.len());
            assert_eq!(pipe_refs(*ino), expect, "room {room}, pipe {i}");
        }
        drop(got);
        for (i, (rx, w, _)) in ps.into_iter().enumerate() {
            drop(w);
            assert!(at_eof(&rx), "room {room}: pipe {i} still has a writer");
        }
    }
}

/// The peer sends credentials with its descriptors (`SCM_CREDENTIALS` and
/// two `SCM_RIGHTS` records in one message), to a receiver that asked for
/// credentials (`SO_PASSCRED`), with room for 0 to `MAX_FDS` descriptors:
/// the credentials record comes first, in room the op adds for it, and the
/// kernel merges the two `SCM_RIGHTS` records and installs what fits after it;
/// the receiver owns exactly those, in order, and no pipe is left with a
/// writer the test cannot name. (A receiver asking for `SO_PASSPIDFD`:
/// [`a_pidfd_record_leaves_no_descriptor_behind`].)
#[test]
fn credentials_and_rights_in_one_message() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    uring_tests::set_int_option(b.as_fd(), libc::SOL_SOCKET, libc::SO_PASSCRED, 1).unwrap();
    let b = SharedFd::new(b);
    for room in [0usize, 2, 8, 16, MAX_FDS] {
        let ps = pipes(4);
        send_creds_and_rights(&a, &[&ps[0].1, &ps[1].1], &[&ps[2].1, &ps[3].1]);
        let (r, (buf, got)) = reactor
            .run_until(reactor.op(RecvWithFds::new(&b, Vec::with_capacity(8), room)))
            .unwrap();
        assert_eq!(r.unwrap(), 2, "room {room}");
        assert_eq!(buf, b"cr");
        // The credentials get room of their own: the descriptors' room
        // (rounded up to whole 8-byte words) is theirs alone.
        let bytes = (16 + 4 * room.min(MAX_FDS)).div_ceil(8) * 8;
        let fits = (bytes - 16) / 4;
        assert_eq!(got.len(), fits.min(4), "room {room}");
        for (i, (_, _, ino)) in ps.iter().enumerate() {
            if i < got.len() {
                assert_eq!(inode(got[i].as_fd()), *ino, "in order");
            }
            assert_eq!(
                pipe_refs(*ino),
                2 + usize::from(i < got.len()),
                "room {room}"
            );
        }
    }
}

/// Sends `b"cr"` on `a` with one `SCM_CREDENTIALS` record (the sender's
/// own) and two `SCM_RIGHTS` records, with `sendmsg(2)`.
fn send_creds_and_rights(a: &UnixStream, first: &[&OwnedFd], second: &[&OwnedFd]) {
    let header = std::mem::size_of::<libc::cmsghdr>();
    let space = |n: usize| (header + n).div_ceil(8) * 8;
    let cred_len = std::mem::size_of::<libc::ucred>();
    let total = space(cred_len) + space(4 * first.len()) + space(4 * second.len());
    let mut control = vec![0u64; total / 8];
    let base = control.as_mut_ptr().cast::<u8>();
    // SAFETY: the test writes three records inside `control` (sized for
    // them, 8-aligned), then hands the kernel a header over its own locals.
    unsafe {
        let mut at = base;
        let cred = libc::ucred {
            pid: libc::getpid(),
            uid: libc::getuid(),
            gid: libc::getgid(),
        };
        at.cast::<libc::cmsghdr>().write(libc::cmsghdr {
            cmsg_len: (header + cred_len) as _,
            cmsg_level: libc::SOL_SOCKET,
            cmsg_type: libc::SCM_CREDENTIALS,
        });
        at.add(header).cast::<libc::ucred>().write_unaligned(cred);
        at = at.add(space(cred_len));
        for fds in [first, second] {
            at.cast::<libc::cmsghdr>().write(libc::cmsghdr {
                cmsg_len: (header + 4 * fds.len()) as _,
                cmsg_level: libc::SOL_SOCKET,
                cmsg_type: libc::SCM_RIGHTS,
            });
            for (i, f) in fds.iter().enumerate() {
                at.add(header + 4 * i)
                    .cast::<i32>()
                    .write_unaligned(f.as_raw_fd());
            }
            at = at.add(space(4 * fds.len()));
        }
        let mut data = *b"cr";
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast(),
            iov_len: 2,
        };
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = base.cast();
        msg.msg_controllen = total as _;
        let n = libc::sendmsg(a.as_raw_fd(), &msg, 0);
        assert_eq!(n, 2, "sendmsg: {}", std::io::Error::last_os_error());
    }
}

/// A receiver that asked for the sender's pidfd (`SO_PASSPIDFD`, 6.5): the
/// kernel installs a pidfd in this process with each message and writes its
/// number in an `SCM_PIDFD` record of the op's own room. `RecvWithFds`
/// hands out only the `SCM_RIGHTS` descriptors and closes the pidfd: none
/// is left open and owned by nobody.
#[test]
fn a_pidfd_record_leaves_no_descriptor_behind() {
    const SO_PASSPIDFD: i32 = 76;
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let (mut a, b) = UnixStream::pair().unwrap();
    if let Err(e) = uring_tests::set_int_option(b.as_fd(), libc::SOL_SOCKET, SO_PASSPIDFD, 1) {
        skip(format_args!("no SO_PASSPIDFD (6.5): {e}"));
        return;
    }
    let b = SharedFd::new(b);
    let before = pidfds();
    a.write_all(b"p").unwrap();
    let (r, (buf, got)) = reactor
        .run_until(reactor.op(RecvWithFds::new(&b, Vec::with_capacity(4), 4)))
        .unwrap();
    assert_eq!(r.unwrap(), 1);
    assert_eq!(buf, b"p");
    let owned: BTreeSet<RawFd> = got.iter().map(|f| f.as_raw_fd()).collect();
    let new: BTreeSet<RawFd> = pidfds().difference(&before).copied().collect();
    // Every new pidfd is one of the descriptors handed out.
    assert!(
        new.is_subset(&owned),
        "pidfds {new:?} installed by the receive, owned by nobody (handed out: {owned:?})"
    );
    assert!(got.is_empty(), "no descriptor was sent: {got:?}");
    // The pidfd has room of its own: two descriptors sent fit in room for
    // two.
    let a = SharedFd::new(a);
    let (r1, w1) = pipe();
    let (r2, w2) = pipe();
    let (r, _) = reactor
        .run_until(reactor.op(SendWithFds::new(&a, b"q".to_vec(), vec![w1, w2])))
        .unwrap();
    assert_eq!(r.unwrap(), 1);
    let (r, (_, got)) = reactor
        .run_until(reactor.op(RecvWithFds::new(&b, Vec::with_capacity(4), 2)))
        .unwrap();
    assert_eq!(r.unwrap(), 1);
    assert_eq!(got.len(), 2, "{got:?}");
    let new: BTreeSet<RawFd> = pidfds().difference(&before).copied().collect();
    assert!(new.is_empty(), "pidfds {new:?} left open");
    drop((r1, r2));
}

/// Futures of descriptor-passing ops dropped at every stage: a send blocked
/// on a full socket keeps its descriptors open until its cancelled
/// completion, then closes them (none reaches the peer); a receive
/// completed but never polled closes what it received when dropped; a
/// receive dropped before any message cancels, and the message (with its
/// descriptors) goes to the next receive.
#[test]
fn dropped_descriptor_futures_release_exactly_what_they_own() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut a_w = a.try_clone().unwrap();
    let (a, b_shared) = (SharedFd::new(a), SharedFd::new(b.try_clone().unwrap()));
    // A send blocked on a full socket, dropped.
    let filled = fill(&mut a_w);
    let ps = pipes(3);
    let sent: Vec<OwnedFd> = ps.iter().map(|(_, w, _)| w.try_clone().unwrap()).collect();
    let mut send = reactor.op(SendWithFds::new(&a, b"blocked".to_vec(), sent));
    assert!(poll_once(&mut send).is_pending());
    reactor.submit().unwrap();
    run_for(&reactor, 20);
    assert!(poll_once(&mut send).is_pending(), "the socket is full");
    drop(send);
    for (_, _, ino) in &ps {
        assert_eq!(pipe_refs(*ino), 3, "closed while the kernel may read them");
    }
    run_for(&reactor, 30);
    for (_, _, ino) in &ps {
        assert_eq!(pipe_refs(*ino), 2, "closed at the cancelled completion");
    }
    let got = take_all(&mut b);
    assert_eq!(got.len(), filled, "nothing of the cancelled send arrived");
    // A receive completed, then dropped unpolled: what it got is closed.
    let (r, (_, back)) = reactor
        .run_until(reactor.op(SendWithFds::new(
            &a,
            b"x".to_vec(),
            ps.iter().map(|(_, w, _)| w.try_clone().unwrap()).collect(),
        )))
        .unwrap();
    assert_eq!(r.unwrap(), 1);
    drop(back);
    let mut recv = reactor.op(RecvWithFds::new(&b_shared, Vec::with_capacity(4), 8));
    assert!(poll_once(&mut recv).is_pending());
    reactor.submit().unwrap();
    run_for(&reactor, 30);
    for (_, _, ino) in &ps {
        assert_eq!(pipe_refs(*ino), 3, "received, held by the reactor");
    }
    drop(recv);
    for (_, _, ino) in &ps {
        assert_eq!(pipe_refs(*ino), 2, "closed with the dropped future");
    }
    // A receive dropped before its message: cancelled; the next one gets
    // the message and its descriptors.
    let mut recv = reactor.op(RecvWithFds::new(&b_shared, Vec::with_capacity(4), 8));
    assert!(poll_once(&mut recv).is_pending());
    reactor.submit().unwrap();
    drop(recv);
    run_for(&reactor, 20);
    let (r, (_, back)) = reactor
        .run_until(reactor.op(SendWithFds::new(
            &a,
            b"y".to_vec(),
            ps.iter().map(|(_, w, _)| w.try_clone().unwrap()).collect(),
        )))
        .unwrap();
    assert_eq!(r.unwrap(), 1);
    drop(back);
    let (r, (buf, got)) = reactor
        .run_until(reactor.op(RecvWithFds::new(&b_shared, Vec::with_capacity(4), 8)))
        .unwrap();
    assert_eq!(r.unwrap(), 1);
    assert_eq!(buf, b"y");
    assert_eq!(got.len(), 3);
    drop(got);
    for (rx, w, ino) in ps {
        assert_eq!(pipe_refs(ino), 2);
        drop(w);
        assert!(at_eof(&rx));
    }
}

/// A send with descriptors whose future is forgotten while the socket is
/// full: its descriptors stay open (the kernel reads their numbers when
/// the send goes), and once the peer makes room they reach it as the same
/// files.
#[test]
fn a_forgotten_send_keeps_its_descriptors_open() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    let mut a_w = a.try_clone().unwrap();
    let (a, b_shared) = (SharedFd::new(a), SharedFd::new(b.try_clone().unwrap()));
    let filled = fill(&mut a_w);
    let ps = pipes(2);
    let sent: Vec<OwnedFd> = ps.iter().map(|(_, w, _)| w.try_clone().unwrap()).collect();
    let send = reactor.op(SendWithFds::new(&a, b"late".to_vec(), sent));
    reactor.submit().unwrap();
    std::mem::forget(send);
    // Opens descriptors meanwhile, which may take freed numbers.
    let decoys = pipes(4);
    run_for(&reactor, 20);
    for (_, _, ino) in &ps {
        assert_eq!(pipe_refs(*ino), 3, "held by the forgotten op");
    }
    // Exactly the filler: a plain read of the message would make the
    // kernel close the descriptors it carries.
    let mut drained = vec![0u8; filled];
    b.read_exact(&mut drained).unwrap();
    assert!(drained.iter().all(|&x| x == 0x11));
    run_for(&reactor, 30);
    let (r, (buf, got)) = reactor
        .run_until(reactor.op(RecvWithFds::new(&b_shared, Vec::with_capacity(8), 4)))
        .unwrap();
    assert_eq!(r.unwrap(), 4);
    assert_eq!(buf, b"late");
    assert_eq!(got.len(), 2);
    for (f, (_, _, ino)) in got.iter().zip(&ps) {
        assert_eq!(inode(f.as_fd()), *ino, "the files sent, not a decoy");
    }
    drop(decoys);
}

/// Receives with descriptors cut by deadlines (in the past, or passing
/// while nothing comes): none gives a descriptor it did not receive, and a
/// message that was not received keeps its descriptors for the next
/// receive. A receive on a pipe gives none.
#[test]
fn receives_with_descriptors_cut_by_deadlines() {
    let _watch = uring_tests::watchdog();
    let reactor = Reactor::new().unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    let (a, b) = (SharedFd::new(a), SharedFd::new(b));
    let (r, (_, got)) = reactor
        .run_until(reactor.op_with_deadline(
            RecvWithFds::new(&b, Vec::with_capacity(4), 4),
            Instant::now() + Duration::from_millis(30),
        ))
        .unwrap();
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
    assert!(got.is_empty());
    let ps = pipes(2);
    let (r, (_, back)) = reactor
        .run_until(reactor.op(SendWithFds::new(
            &a,
            b"z".to_vec(),
            ps.iter().map(|(_, w, _)| w.try_clone().unwrap()).collect(),
        )))
        .unwrap();
    assert_eq!(r.unwrap(), 1);
    drop(back);
    let (r, (_, got)) = reactor
        .run_until(reactor.op_with_deadline(
            RecvWithFds::new(&b, Vec::with_capacity(4), 4),
            earliest_instant(),
        ))
        .unwrap();
    let held = match r {
        Ok(n) => {
            assert_eq!(n, 1);
            assert_eq!(got.len(), 2);
            got
        }
        Err(e) => {
            assert_eq!(e.raw_os_error(), Some(libc::ECANCELED));
            assert!(got.is_empty());
            let (r, (_, got)) = reactor
                .run_until(reactor.op(RecvWithFds::new(&b, Vec::with_capacity(4), 4)))
                .unwrap();
            assert_eq!(r.unwrap(), 1);
            got
        }
    };
    assert_eq!(held.len(), 2);
    for (f, (_, _, ino)) in held.iter().zip(&ps) {
        assert_eq!(inode(f.as_fd()), *ino);
        assert_eq!(pipe_refs(*ino), 3);
    }
    drop(held);
    let (prx, _ptx) = pipe();
    let prx = SharedFd::new(prx);
    let (r, (_, got)) = reactor
        .run_until(reactor.op(RecvWithFds::new(&prx, Vec::with_capacity(4), 4)))
        .unwrap();
    assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::ENOTSOCK));
    assert!(got.is_empty());
}

/// A receiver out of descriptors (`RLIMIT_NOFILE` reached, in a child
/// process): the kernel installs what it can, or nothing, and the receive
/// hands out only those; no panic, and every pipe has only the writers the
/// process can name.
#[test]
fn a_receiver_out_of_descriptors_gets_only_what_was_installed() {
    let _watch = uring_tests::watchdog();
    let name = "a_receiver_out_of_descriptors_gets_only_what_was_installed";
    if !uring_tests::in_child(name) {
        run_child(name, || Ok(()));
        return;
    }
    let reactor = Reactor::new().unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    let (a, b) = (SharedFd::new(a), SharedFd::new(b));
    let ps = pipes(6);
    let sent: Vec<OwnedFd> = ps.iter().map(|(_, w, _)| w.try_clone().unwrap()).collect();
    let (r, (_, back)) = reactor
        .run_until(reactor.op(SendWithFds::new(&a, b"n".to_vec(), sent)))
        .unwrap();
    assert_eq!(r.unwrap(), 1);
    drop(back);
    // The lowest free number, and room for two more descriptors above it.
    let probe = std::fs::File::open("/dev/null").unwrap();
    let next = probe.as_raw_fd();
    drop(probe);
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes `old`, setrlimit reads `limit`; this
    // process is the child, and lowers its own limit only for this receive.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut old), 0);
        let limit = libc::rlimit {
            rlim_cur: (next + 2) as libc::rlim_t,
            rlim_max: old.rlim_max,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
    let out = reactor.run_until(reactor.op(RecvWithFds::new(&b, Vec::with_capacity(4), 8)));
    // SAFETY: as above.
    unsafe {
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &old), 0);
    }
    let (r, (_, got)) = out.unwrap();
    assert_eq!(r.unwrap(), 1);
    assert!(got.len() <= 2, "{got:?}");
    for (i, (_, _, ino)) in ps.iter().enumerate() {
        if i < got.len() {
            assert_eq!(inode(got[i].as_fd()), *ino);
        }
        assert_eq!(pipe_refs(*ino), 2 + usize::from(i < got.len()), "pipe {i}");
    }
}
