//! Descriptors crossing the ring, attacked where the existing suites stop
//! short: completions of direct descriptors that a scope drops unread (their
//! result is a slot, which may equal the number of a descriptor the program
//! owns, or 0, standard input's number); a descriptor taken from a
//! completion while the iterator that handed it out is forgotten, and a
//! scope that unwinds with one taken and one unread; file messages sent
//! into one table from four threads at once; installs and file messages
//! under a registered personality; direct accepts and sockets asked for
//! `SOCK_CLOEXEC`; and a file message whose source slot is empty.
//!
//! Read against Linux 6.18: `io_uring/msg_ring.c` (`io_msg_ring_prep`,
//! which refuses a personality; `io_msg_grab_file`, `io_msg_send_fd`,
//! `io_msg_install_complete`, which posts the slot as the target's result),
//! `io_uring/filetable.c` (`__io_fixed_fd_install`, `io_file_bitmap_get`),
//! `io_uring/openclose.c` (`io_install_fixed_fd_prep`, which refuses
//! `REQ_F_CREDS` with `EPERM`; `io_openat_prep`), `io_uring/net.c`
//! (`io_accept_prep`, `io_socket_prep`: `SOCK_CLOEXEC` with a slot is
//! `EINVAL`) and `io_uring/rsrc.c` (`io_sqe_files_register`).
//!
//! Every test is safe code against the running kernel and checks what the
//! kernel did (results, errnos, which file each slot and each descriptor
//! reaches, by inode or bytes, which completions came and how often).

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::mpsc;

use uring::ops::{Accept, FixedFdInstall, MsgRingFd, OpenAt, Read, Socket};
use uring::{DirectSlot, Fd, FixedFiles, Ring, RingSlot};
use uring_tests::{PATIENCE, complete, require_kernel, require_op, skip, watchdog};

/// The `(device, inode)` of what the descriptor numbered `fd` names now, or
/// `None` when no descriptor has that number.
fn identity(fd: RawFd) -> Option<(u64, u64)> {
    std::fs::metadata(format!("/proc/self/fd/{fd}"))
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// The `(device, inode)` of an open file.
fn identity_of(file: &File) -> (u64, u64) {
    let m = file.metadata().unwrap();
    (m.dev(), m.ino())
}

/// What a read of up to eight bytes at offset 0 through slot `index` of
/// `table` finds: the bytes, or the errno the kernel gave.
fn read_slot(ring: &mut Ring, table: &FixedFiles, index: u32) -> Result<Vec<u8>, i32> {
    let mut buf = [0u8; 8];
    let cqe = complete(ring, Read::new(table.get(index).unwrap(), &mut buf));
    match usize::try_from(cqe.res()) {
        Ok(n) => Ok(buf[..n].to_vec()),
        Err(_) => Err(-cqe.res()),
    }
}

/// A temporary file holding `bytes`.
fn file_with(bytes: &[u8]) -> File {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(bytes).unwrap();
    file
}

/// The path `/proc/self/fd/N` of `fd`, which an open turns into a new
/// descriptor of the same file.
fn proc_path(fd: RawFd) -> std::ffi::CString {
    std::ffi::CString::new(format!("/proc/self/fd/{fd}")).unwrap()
}

/// Reads `reader` to its end on a thread of its own; `Some(bytes)` if the
/// end came within [`PATIENCE`], `None` if a write end still held it open.
fn read_to_end_within(mut reader: File) -> Option<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut got = Vec::new();
        let _ = reader.read_to_end(&mut got);
        let _ = tx.send(got);
    });
    rx.recv_timeout(PATIENCE).ok()
}

// ---------------------------------------------------------------------
// Completions a scope drops unread.

/// `filetable.c` / `openclose.c`: a direct open completes with the slot the
/// kernel picked (`__io_fixed_fd_install` returns it), or with 0 at a slot
/// the op named, never with a descriptor. A scope closes the descriptors
/// of the completions it drops unread as it ends; it must not take a
/// direct result for one. Here the allocation range is the one slot whose
/// index is the number of a file the test owns, and a direct open at a
/// held slot completes with 0 (standard input's number): both completions
/// are left in the CQ when the closure returns. Afterwards the test's file
/// is still open under its number (same inode), descriptor 0 names what it
/// named before, and the two slots hold `/dev/zero`.
#[test]
fn unread_direct_results_close_no_descriptor_their_numbers_name() {
    let _watch = watchdog();
    if !require_kernel(6, 0, "allocation ranges") {
        return;
    }
    let keep = file_with(b"kept");
    let k = keep.as_raw_fd();
    let k_slot = u32::try_from(k).unwrap();
    let stdin_before = identity(0);
    let mut ring = Ring::new(8).unwrap();
    let mut table = ring.register_files_sparse(k_slot + 2).unwrap();
    ring.set_file_alloc_range(&table, k_slot, 1).unwrap();
    let left = ring.scope(|s| {
        s.push(
            OpenAt::new(Fd::CWD, c"/dev/zero")
                .open_flags(libc::O_RDONLY)
                .direct(DirectSlot::ALLOC)
                .user_data(1),
        )
        .unwrap();
        s.push(
            OpenAt::new(Fd::CWD, c"/dev/zero")
                .open_flags(libc::O_RDONLY)
                .direct(DirectSlot::at(table.get_mut(k_slot + 1).unwrap()))
                .user_data(2),
        )
        .unwrap();
        s.submit().unwrap();
        s.wait_timeout(2, PATIENCE).unwrap();
        s.ready()
    });
    assert_eq!(left, 2, "both completions were left in the CQ");
    assert_eq!(
        identity(k),
        Some(identity_of(&keep)),
        "descriptor {k}, the test's file, was closed by the scope's end"
    );
    assert_eq!(keep.read_at(&mut [0; 4], 0).unwrap(), 4);
    assert_eq!(identity(0), stdin_before, "descriptor 0 changed");
    assert_eq!(read_slot(&mut ring, &table, k_slot), Ok(vec![0; 8]));
    assert_eq!(read_slot(&mut ring, &table, k_slot + 1), Ok(vec![0; 8]));
    ring.unregister_files(table).unwrap();
}

/// A descriptor taken from a completion whose iterator is then forgotten
/// (`mem::forget`, so its drop never moves the CQ's head) belongs to the
/// program alone: the next iterator does not hand that completion out
/// again (no second `take_fd` of it), and the scope's end, which closes
/// the descriptors of completions still in the CQ, does not count it as
/// unread. Both descriptors are still open afterwards, on the file opened.
#[test]
fn a_taken_descriptor_outlives_a_forgotten_iterator_and_its_scope() {
    let _watch = watchdog();
    let file = file_with(b"payload!");
    let path = proc_path(file.as_raw_fd());
    let mut ring = Ring::new(8).unwrap();
    let (first, rest) = ring.scope(|s| {
        for user_data in [1, 2] {
            s.push(
                OpenAt::new(Fd::CWD, path.as_c_str())
                    .open_flags(libc::O_RDONLY | libc::O_CLOEXEC)
                    .user_data(user_data),
            )
            .unwrap();
        }
        s.submit().unwrap();
        s.wait_timeout(2, PATIENCE).unwrap();
        let mut it = s.completions();
        let mut cqe = it.next().expect("a completion");
        let first = (cqe.user_data(), cqe.take_fd());
        std::mem::forget(it);
        let mut rest = Vec::new();
        s.wait_timeout(1, PATIENCE).unwrap();
        for mut cqe in s.completions() {
            rest.push((cqe.user_data(), cqe.take_fd()));
        }
        (first, rest)
    });
    let (first_data, first_fd) = first;
    let first_fd = first_fd.expect("the first completion's descriptor");
    assert_eq!(rest.len(), 1, "a completion handed out twice: {rest:?}");
    let (rest_data, rest_fd) = rest.into_iter().next().unwrap();
    assert_ne!(rest_data, first_data, "the same completion came twice");
    let rest_fd = rest_fd.expect("the second completion's descriptor");
    assert_ne!(first_fd.as_raw_fd(), rest_fd.as_raw_fd());
    for fd in [first_fd, rest_fd] {
        let n = fd.as_raw_fd();
        assert_eq!(identity(n), Some(identity_of(&file)), "descriptor {n}");
        let opened = File::from(fd);
        let mut buf = [0u8; 8];
        assert_eq!(opened.read_at(&mut buf, 0).unwrap(), 8);
        assert_eq!(&buf, b"payload!");
    }
}

/// A scope whose closure panics ends as any scope does: the completion
/// the program took a descriptor from stays the program's (the write end
/// it opened still writes), and the one left unread in the CQ has its
/// descriptor closed (the other pipe's reader reads its end once the
/// test's own write end goes).
#[test]
fn a_scope_unwinding_closes_the_unread_descriptor_and_keeps_the_taken_one() {
    let _watch = watchdog();
    let (read_a, write_a) = uring_tests::pipe();
    let (read_b, write_b) = uring_tests::pipe();
    let path_a = proc_path(write_a.as_raw_fd());
    let path_b = proc_path(write_b.as_raw_fd());
    let mut ring = Ring::new(8).unwrap();
    let mut taken: Option<OwnedFd> = None;
    let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ring.scope(|s| {
            s.push(
                OpenAt::new(Fd::CWD, path_a.as_c_str())
                    .open_flags(libc::O_WRONLY | libc::O_CLOEXEC)
                    .user_data(1),
            )
            .unwrap();
            s.submit().unwrap();
            s.wait_timeout(1, PATIENCE).unwrap();
            let mut cqe = s.completions().next().expect("the first open");
            assert_eq!(cqe.user_data(), 1);
            taken = cqe.take_fd();
            s.push(
                OpenAt::new(Fd::CWD, path_b.as_c_str())
                    .open_flags(libc::O_WRONLY | libc::O_CLOEXEC)
                    .user_data(2),
            )
            .unwrap();
            s.submit().unwrap();
            s.wait_timeout(1, PATIENCE).unwrap();
            panic!("unwinding with one completion unread");
        })
    }));
    assert!(unwound.is_err());
    let taken = File::from(taken.expect("the taken descriptor"));
    (&taken).write_all(b"A").unwrap();
    drop(taken);
    drop(write_a);
    drop(write_b);
    assert_eq!(
        read_to_end_within(File::from(read_a)).as_deref(),
        Some(&b"A"[..]),
        "the taken descriptor wrote, and nothing else holds pipe A open"
    );
    assert_eq!(
        read_to_end_within(File::from(read_b)).as_deref(),
        Some(&b""[..]),
        "the unread completion's descriptor was left open by the unwinding scope"
    );
}

// ---------------------------------------------------------------------
// File messages.

/// `msg_ring.c` / `filetable.c`: file messages from four rings on four
/// threads, 40 in all, race for the 24 slots of one table, each message
/// asking the target's kernel to pick a free slot (`RingSlot::alloc_in` of
/// a shared `RingTarget`). Exactly 24 succeed, each with a slot of its own
/// (the sender's result), the other 16 fail with `ENFILE`; the target gets
/// one completion per success, with that message's `user_data` and slot,
/// and nothing for a failure; and each slot holds the file of the thread
/// whose message named it.
#[test]
fn file_messages_from_four_threads_fill_each_slot_once() {
    let _watch = watchdog();
    if !require_kernel(6, 0, "file messages into allocated slots") {
        return;
    }
    const THREADS: u64 = 4;
    const EACH: u64 = 10;
    const SLOTS: u32 = 24;
    let mut target = Ring::new(64).unwrap();
    if !require_op::<MsgRingFd<'static>>(&target) {
        return;
    }
    let table = target.register_files_sparse(SLOTS).unwrap();
    let shared = std::sync::Arc::new(target.msg_target().unwrap());
    let start = std::sync::Arc::new(std::sync::Barrier::new(THREADS as usize));
    let senders: Vec<_> = (0..THREADS)
        .map(|t| {
            let shared = std::sync::Arc::clone(&shared);
            let start = std::sync::Arc::clone(&start);
            std::thread::spawn(move || {
                let file = file_with(&[b'a' + t as u8; 8]);
                let mut ring = Ring::new(16).unwrap();
                let source = ring.register_files(&[file.as_fd()]).unwrap();
                start.wait();
                let got = ring.scope(|s| {
                    for i in 0..EACH {
                        let data = t << 8 | i;
                        s.push(
                            MsgRingFd::new(
                                RingSlot::alloc_in(&shared),
                                source.get(0).unwrap(),
                                data,
                            )
                            .user_data(data),
                        )
                        .unwrap();
                    }
                    s.submit().unwrap();
                    let mut got = Vec::new();
                    while got.len() < EACH as usize {
                        s.wait_timeout(1, PATIENCE).unwrap();
                        got.extend(s.completions().map(|c| (c.user_data(), c.res())));
                    }
                    got
                });
                ring.unregister_files(source).unwrap();
                got
            })
        })
        .collect();
    let mut sent = Vec::new();
    for sender in senders {
        sent.extend(sender.join().unwrap());
    }
    drop(shared);
    assert_eq!(sent.len(), (THREADS * EACH) as usize);
    let ok: Vec<(u64, i32)> = sent.iter().copied().filter(|&(_, r)| r >= 0).collect();
    let refused = sent.iter().filter(|&&(_, r)| r == -libc::ENFILE).count();
    assert_eq!(ok.len(), SLOTS as usize, "successes: {sent:?}");
    assert_eq!(ok.len() + refused, sent.len(), "other results: {sent:?}");
    let slots: BTreeSet<i32> = ok.iter().map(|&(_, r)| r).collect();
    assert_eq!(slots.len(), ok.len(), "a slot picked twice: {ok:?}");
    assert!(slots.iter().all(|&s| (0..SLOTS as i32).contains(&s)));

    target.wait_timeout(ok.len() as u32, PATIENCE).unwrap();
    let mut arrived: Vec<(u64, i32)> = target
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    arrived.sort_unstable();
    let mut want = ok.clone();
    want.sort_unstable();
    assert_eq!(arrived, want, "the target's completions");
    assert_eq!(target.completions().count(), 0);
    for &(data, slot) in &ok {
        let thread = (data >> 8) as u8;
        assert_eq!(
            read_slot(&mut target, &table, slot as u32),
            Ok(vec![b'a' + thread; 8]),
            "slot {slot}, sent by thread {thread}"
        );
    }
    target.unregister_files(table).unwrap();
}

/// `msg_ring.c`: the sender's slot is read when the message is issued
/// (`io_msg_grab_file`); an empty one fails the message with `EBADF`
/// before anything is installed: the target gets no completion, its slot
/// held for the message (`RingSlot::at`) keeps its file, and a free slot
/// stays free.
#[test]
fn a_file_message_from_an_empty_slot_replaces_nothing() {
    let _watch = watchdog();
    let mut sender = Ring::new(8).unwrap();
    if !require_op::<MsgRingFd<'static>>(&sender) {
        return;
    }
    let source = sender.register_files_sparse(2).unwrap();
    let mut target = Ring::new(8).unwrap();
    let old = file_with(b"old file");
    let mut table = target
        .register_file_slots(&[Some(old.as_fd()), None])
        .unwrap();
    {
        let dest = RingSlot::at(&target, table.get_mut(0).unwrap()).unwrap();
        let cqe = complete(&mut sender, MsgRingFd::new(dest, source.get(1).unwrap(), 7));
        assert_eq!(cqe.res(), -libc::EBADF, "{cqe:?}");
    }
    let cqe = complete(
        &mut sender,
        MsgRingFd::new(RingSlot::alloc(&target), source.get(0).unwrap(), 8),
    );
    assert_eq!(cqe.res(), -libc::EBADF, "{cqe:?}");
    assert_eq!(
        target.completions().count(),
        0,
        "the target got a completion"
    );
    assert_eq!(read_slot(&mut target, &table, 0), Ok(b"old file".to_vec()));
    assert_eq!(read_slot(&mut target, &table, 1), Err(libc::EBADF));
    target.unregister_files(table).unwrap();
    sender.unregister_files(source).unwrap();
}

// ---------------------------------------------------------------------
// Refusals at preparation.

/// `openclose.c`: `io_install_fixed_fd_prep` refuses an install that runs
/// with a registered personality (`REQ_F_CREDS`) with `EPERM`, so that a
/// descriptor is always made with the submitter's own credentials;
/// `msg_ring.c`: `io_msg_ring_prep` refuses any personality with `EINVAL`.
/// Neither makes or passes anything: `take_fd` gives `None`, the target
/// gets no completion and its slot stays empty. Without the personality
/// both succeed (the control).
#[test]
fn installs_and_file_messages_under_a_personality_are_refused() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<FixedFdInstall>(&ring) || !require_op::<MsgRingFd<'static>>(&ring) {
        return;
    }
    let personality = match ring.register_personality() {
        Ok(p) => p,
        Err(e) => return skip(format_args!("no personality: {e}")),
    };
    let file = file_with(b"personal");
    let table = ring.register_files(&[file.as_fd()]).unwrap();
    let mut other = Ring::new(8).unwrap();
    let other_table = other.register_files_sparse(1).unwrap();

    let (refused, control) = ring.scope(|s| {
        let mut got = Vec::new();
        for (user_data, with) in [(1, true), (2, false)] {
            let op = FixedFdInstall::new(table.get(0).unwrap()).user_data(user_data);
            let op = if with {
                op.personality(personality)
            } else {
                op
            };
            s.push(op).unwrap();
            s.submit().unwrap();
            s.wait_timeout(1, PATIENCE).unwrap();
            let mut cqe = s.completions().next().expect("the install");
            got.push((cqe.res(), cqe.take_fd()));
        }
        let mut got = got.into_iter();
        (got.next().unwrap(), got.next().unwrap())
    });
    assert_eq!(refused.0, -libc::EPERM, "an install under a personality");
    assert!(refused.1.is_none());
    let installed = File::from(control.1.expect("the control's descriptor"));
    assert_eq!(identity_of(&installed), identity_of(&file));

    let cqe = complete(
        &mut ring,
        MsgRingFd::new(RingSlot::alloc(&other), table.get(0).unwrap(), 9).personality(personality),
    );
    assert_eq!(cqe.res(), -libc::EINVAL, "a message under a personality");
    assert_eq!(other.completions().count(), 0);
    assert_eq!(read_slot(&mut other, &other_table, 0), Err(libc::EBADF));
    let cqe = complete(
        &mut ring,
        MsgRingFd::new(RingSlot::alloc(&other), table.get(0).unwrap(), 9),
    );
    assert_eq!(cqe.res(), 0, "the control message");
    assert_eq!(
        other
            .completions()
            .map(|c| (c.user_data(), c.res()))
            .collect::<Vec<_>>(),
        [(9, 0)]
    );
    assert_eq!(
        read_slot(&mut other, &other_table, 0),
        Ok(b"personal".to_vec())
    );
    other.unregister_files(other_table).unwrap();
    ring.unregister_files(table).unwrap();
}

/// `net.c`: a direct accept or socket asked for `SOCK_CLOEXEC` is refused
/// at preparation (`io_accept_prep`, `io_socket_prep`: `EINVAL`), as a
/// direct open with `O_CLOEXEC` is (which `OpenAt`'s docs say, and
/// `Accept`'s and `Socket`'s do not). Nothing is replaced: the slot held
/// for the socket keeps its file, the free slot stays free, and the
/// refused accept never waited for a connection. Without the flag the
/// direct socket takes the free slot (the control).
#[test]
fn direct_accepts_and_sockets_asked_for_close_on_exec_replace_nothing() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Socket<'static>>(&ring) {
        return;
    }
    let old = file_with(b"old file");
    let mut table = ring
        .register_file_slots(&[Some(old.as_fd()), None])
        .unwrap();
    let cloexec_dgram = libc::SOCK_DGRAM | libc::SOCK_CLOEXEC;
    let cqe = complete(
        &mut ring,
        Socket::new(libc::AF_INET, cloexec_dgram).direct(DirectSlot::at(table.get_mut(0).unwrap())),
    );
    assert_eq!(cqe.res(), -libc::EINVAL, "a socket at a slot: {cqe:?}");
    let cqe = complete(
        &mut ring,
        Socket::new(libc::AF_INET, cloexec_dgram).direct(DirectSlot::ALLOC),
    );
    assert_eq!(cqe.res(), -libc::EINVAL, "a socket in a free slot: {cqe:?}");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let cqe = complete(
        &mut ring,
        Accept::new(&listener)
            .accept_flags(libc::SOCK_CLOEXEC)
            .direct(DirectSlot::ALLOC),
    );
    assert_eq!(
        cqe.res(),
        -libc::EINVAL,
        "an accept into a free slot: {cqe:?}"
    );
    assert_eq!(read_slot(&mut ring, &table, 0), Ok(b"old file".to_vec()));
    assert_eq!(read_slot(&mut ring, &table, 1), Err(libc::EBADF));
    let cqe = complete(
        &mut ring,
        Socket::new(libc::AF_INET, libc::SOCK_DGRAM).direct(DirectSlot::ALLOC),
    );
    assert_eq!(
        cqe.res(),
        1,
        "the control socket takes the free slot: {cqe:?}"
    );
    ring.unregister_files(table).unwrap();
}
