//! Attacks on the ring level from safe code: other ways to name a ring
//! (its mappings reopened through `/proc/self/map_files`, its descriptor
//! as the target of another ring's ops), completions forged from another
//! thread with every flag a message can carry, protection information in
//! scopes, selections that name a group of another ring, completions
//! forgotten after they were handed out, and buffer rings the kernel
//! allocates living across resizes and past their ring.
//!
//! Each test checks what the kernel really did: results, errno, the bytes
//! of every buffer lent (canaries), and the completions each ring shows.

use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use uring::ops::{MsgRing, Nop, OpenAt, PollAdd, Read, Recv, Write};
use uring::sys;
use uring::{Fd, Features, IntegrityFlags, PiAttr, PollEvents, PushErrorKind, Ring, ScopeCqe};
use uring_tests::{PATIENCE, next_scope_cqe, pattern, require_features, watchdog};

/// The inode number of the ring's file, as `/proc/self/fdinfo` shows it.
fn ring_inode(ring: &Ring) -> u64 {
    let path = format!("/proc/self/fdinfo/{}", ring.as_raw_fd());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .find_map(|l| l.strip_prefix("ino:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no ino in {path}:\n{text}"))
}

/// The `/proc/self/map_files` entries of every mapping of the file with
/// inode `ino` (a ring's queues, SQEs and kernel-allocated buffer rings).
fn map_files_of(ino: u64) -> Vec<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    maps.lines()
        .filter(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            fields.len() >= 6 && fields[4].parse() == Ok(ino) && fields[5].contains("io_uring")
        })
        .map(|l| {
            format!(
                "/proc/self/map_files/{}",
                l.split_whitespace().next().unwrap()
            )
        })
        .collect()
}

/// SAFETY.md, invariant 4 and section 11: a ring is named only through a
/// borrow of it, and the kernel refuses to open its descriptor again
/// through `/proc/self/fd`. `/proc/self/map_files` is another way back to
/// the file behind a mapping, and a ring's queues, its SQEs and a buffer
/// ring the kernel allocates are all mappings of the ring's own file. Had
/// opening one of those given a descriptor the kernel takes as a ring,
/// safe code could post `MSG_RING` completions into a ring that believes
/// itself clean (nothing but its scopes' ops posts into it), and a fast
/// scope would count a forged untagged completion as the end of a read
/// still in flight. So: every mapping of the ring reopens with `ENXIO`
/// (from `std::fs::File::open` and from an `OpenAt` op alike); an `O_PATH`
/// handle to it, the most the process gets, is no ring to `MSG_RING`
/// (`EBADF`), to a poll, nor to `/proc/self/fd` (`ENXIO` again); and
/// afterwards the ring got no completion, still counts as clean, and a read
/// in its fast scope keeps its canary until the scope's cancel ends it.
#[test]
fn a_ring_s_mappings_reopened_through_map_files_name_no_ring() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(_pool) = uring_tests::mmap_buf_ring(&mut ring, 1, 2, 64, false) else {
        return;
    };
    let ino = ring_inode(&ring);
    let paths = map_files_of(ino);
    assert!(
        paths.len() >= 3,
        "the ring's queues, SQEs and buffer ring are mapped from its file: {paths:?}"
    );
    match std::fs::read_link(&paths[0]) {
        Ok(link) => assert_eq!(link.to_str(), Some("anon_inode:[io_uring]")),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EPERM | libc::EACCES)) => {
            uring_tests::skip(format!("/proc/self/map_files is not readable here: {e}"));
            return;
        }
        Err(e) => panic!("readlink {}: {e}", paths[0]),
    }
    let mut other = Ring::new(8).unwrap();
    for path in &paths {
        let opened = std::fs::File::open(path);
        assert_eq!(
            opened.as_ref().map_err(|e| e.raw_os_error()).err(),
            Some(Some(libc::ENXIO)),
            "{path} opened: {opened:?}"
        );
        let cpath = std::ffi::CString::new(path.as_str()).unwrap();
        let res = other.scope(|s| {
            s.push(
                OpenAt::new(Fd::CWD, &cpath)
                    .open_flags(libc::O_RDWR | libc::O_CLOEXEC)
                    .user_data(1),
            )
            .unwrap();
            let mut cqe = next_scope_cqe(s);
            assert!(
                cqe.take_fd().is_none(),
                "{path}: a descriptor from a failure"
            );
            cqe.res()
        });
        assert_eq!(res, -libc::ENXIO, "{path} opened by the kernel for an op");
        let handle = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
            .open(path)
            .unwrap_or_else(|e| panic!("O_PATH {path}: {e}"));
        let again = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(format!("/proc/self/fd/{}", handle.as_raw_fd()));
        assert_eq!(
            again.as_ref().map_err(|e| e.raw_os_error()).err(),
            Some(Some(libc::ENXIO)),
            "{path} through its O_PATH handle: {again:?}"
        );
        let got = other.scope(|s| {
            s.push(MsgRing::new(&handle, 0, 0x1234).user_data(2))
                .unwrap();
            s.push(
                MsgRing::new(&handle, 5, (1 << 63) | 0x55)
                    .cqe_flags(sys::IORING_CQE_F_MORE)
                    .user_data(3),
            )
            .unwrap();
            s.push(PollAdd::new(&handle, PollEvents::IN).user_data(4))
                .unwrap();
            let mut got = uring_tests::scope_reap(s, 3);
            got.sort_by_key(|c| c.user_data());
            uring_tests::pairs(&got)
        });
        assert_eq!(
            got,
            [(2, -libc::EBADF), (3, -libc::EBADF), (4, -libc::EBADF)],
            "{path}: an O_PATH handle is no ring and no file to poll"
        );
    }
    // Nothing reached the ring, which is still one that only its scopes'
    // ops post into.
    assert_eq!(ring.ready(), 0);
    let (rx, tx) = uring_tests::pipe();
    let mut buf = [0xC3u8; 16];
    let (fast, res) = ring.scope(|s| {
        let fast = !s.tags_every_op();
        s.push(Read::new(&rx, &mut buf[..]).user_data(9)).unwrap();
        s.submit().unwrap();
        let _ = s.wait_timeout(1, Duration::from_millis(20));
        let seen: Vec<u64> = s.completions().map(|c| c.user_data()).collect();
        assert!(
            seen.is_empty(),
            "completions with no data written: {seen:?}"
        );
        assert_eq!(s.in_flight(), 1, "the read is still the kernel's");
        (fast, s.in_flight())
    });
    assert!(fast, "opening the ring's mappings lent the ring to no one");
    assert_eq!(res, 1);
    let mut tx = std::fs::File::from(tx);
    tx.write_all(b"late").unwrap();
    thread::sleep(Duration::from_millis(20));
    assert_eq!(buf, [0xC3; 16], "the read was cancelled with its scope");
    assert!(uring_tests::stray(&mut ring).is_empty());
}

/// SAFETY.md, invariant 4 and 5: a [`uring::RingTarget`] lets another
/// thread post into a ring whose scope is running, which is why such a
/// scope takes no op. What a message carries is the sender's to choose:
/// any `user_data` (tag-shaped ones with bit 63 set among them), any
/// result (descriptor numbers the process has open), and through
/// `IORING_MSG_RING_FLAGS_PASS` any completion flags: `F_BUFFER` with a
/// buffer id the ring's buffer ring really has, `F_MORE`, `F_BUF_MORE`,
/// `F_NOTIF`, `F_SKIP`, `F_32`. Sent from another thread while the scope waits, each comes
/// out of the scope once, as it was sent, and lends nothing: it is no
/// scope op's, names no buffer a claim hands out (plain or bundle), no
/// descriptor (`take_fd`, `take_pipe`) and no owned buffer; and after the
/// scope the buffer ring still has every buffer, the descriptors named
/// stay open, and a receive in the next scope claims the kernel's bytes.
#[test]
fn forged_completions_from_another_thread_lend_nothing_to_a_targeted_scope() {
    let _watch = watchdog();
    let mut ring = Ring::new(16).unwrap();
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 3, 4, 64) else {
        return;
    };
    let (keep_rx, keep_tx) = uring_tests::pipe();
    let open_fd = keep_rx.as_raw_fd();
    let forged: Vec<(i32, u64, u32)> = vec![
        (5, (1 << 63) | 1, sys::IORING_CQE_F_BUFFER),
        (
            7,
            (1 << 63) | (2 << 32) | 1,
            sys::IORING_CQE_F_BUFFER | (1 << 16) | sys::IORING_CQE_F_MORE,
        ),
        (
            64,
            (1 << 63) | 3,
            sys::IORING_CQE_F_BUFFER | (2 << 16) | sys::IORING_CQE_F_BUF_MORE,
        ),
        (200, 1 << 63, sys::IORING_CQE_F_BUFFER | (3 << 16)),
        (0, u64::MAX, sys::IORING_CQE_F_NOTIF),
        (open_fd, 0, 0),
        (open_fd, (1 << 63) | 5, sys::IORING_CQE_F_MORE),
        (0, 42, sys::IORING_CQE_F_BUFFER),
        // Padding and a big entry's flag, on a plain ring (whose CQ of 32
        // these messages do not wrap): each still one completion.
        (9, (1 << 63) | 6, sys::IORING_CQE_F_SKIP),
        (
            10,
            (1 << 63) | 7,
            sys::IORING_CQE_F_32 | sys::IORING_CQE_F_BUFFER | (1 << 16),
        ),
    ];
    let posted: Vec<(i32, u64)> = vec![(open_fd, 1 << 63), (1, (1 << 63) | 0xFFFF_FFFF)];
    let target = ring.msg_target().unwrap();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let (sent_tx, sent_rx) = mpsc::channel::<()>();
    let sender_forged = forged.clone();
    let sender_posted = posted.clone();
    let sender = thread::spawn(move || {
        go_rx.recv().unwrap();
        let mut from = Ring::new(16).unwrap();
        let results = from.scope(|s| {
            for (i, &(res, user_data, flags)) in sender_forged.iter().enumerate() {
                s.push(
                    MsgRing::new(&target, res, user_data)
                        .cqe_flags(flags)
                        .user_data(i as u64),
                )
                .unwrap();
            }
            uring_tests::pairs(&uring_tests::scope_reap(s, sender_forged.len()))
        });
        for &(res, user_data) in &sender_posted {
            target.post(res, user_data).unwrap();
        }
        sent_tx.send(()).unwrap();
        drop(target);
        results
    });
    let seen = ring.scope(|s| {
        let refused = s
            .push(Nop::new().user_data(1))
            .expect_err("a targeted scope");
        assert_eq!(refused.kind(), PushErrorKind::Targeted);
        go_tx.send(()).unwrap();
        sent_rx.recv().unwrap();
        let want = forged.len() + posted.len();
        let mut seen = Vec::new();
        while seen.len() < want {
            s.wait_timeout(1, PATIENCE).unwrap();
            for mut cqe in s.completions() {
                assert!(!cqe.is_scope_op(), "a forged completion: {:?}", cqe.cqe());
                assert!(cqe.take_fd().is_none(), "{:?}", cqe.cqe());
                assert!(cqe.take_pipe().is_none(), "{:?}", cqe.cqe());
                assert!(cqe.take_buf().is_none(), "{:?}", cqe.cqe());
                assert!(pool.claim(&mut cqe).is_err(), "{:?}", cqe.cqe());
                assert!(pool.claim_bundle(&mut cqe).is_err(), "{:?}", cqe.cqe());
                seen.push((cqe.res(), cqe.user_data(), cqe.flags()));
            }
        }
        assert_eq!(s.in_flight(), 0);
        seen
    });
    let sent = sender.join().unwrap();
    assert_eq!(sent.len(), forged.len());
    assert!(sent.iter().all(|&(_, res)| res == 0), "sends: {sent:?}");
    let mut want: Vec<(i32, u64, u32)> = forged.clone();
    want.extend(posted.iter().map(|&(res, user_data)| (res, user_data, 0)));
    assert_eq!(seen, want, "each forged completion once, as sent, in order");
    assert!(uring_tests::stray(&mut ring).is_empty());
    assert!(uring_tests::fd_is_open(open_fd), "a number a message named");
    drop(keep_tx);
    assert_eq!(pool.available().unwrap(), 4, "the kernel has every buffer");
    // With the target gone, a receive in a later scope (which tags every
    // op) claims what the kernel wrote.
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"the kernel's own").unwrap();
    let got = ring.scope(|s| {
        assert!(s.tags_every_op());
        s.push(Recv::new(&rx, pool.select()).user_data(8)).unwrap();
        let mut cqe = next_scope_cqe(s);
        assert_eq!(cqe.user_data(), 8);
        let buf = pool.claim(&mut cqe).unwrap();
        assert_eq!(Some(buf.bid()), cqe.buffer_id());
        buf.to_vec()
    });
    assert_eq!(got, b"the kernel's own");
    assert_eq!(pool.available().unwrap(), 4);
}

/// SAFETY.md, invariant 4, claims: a selection ([`uring::BufferSelect`])
/// is only a group id, and the kernel picks from that group of the ring
/// that runs the op. So with buffer rings of the same group on two rings,
/// the first ring dropped (its buffer ring keeps the kernel's ring alive
/// through its own descriptor), an op of the second ring's scope given the
/// first pool's selection fills a buffer of the second pool: only that
/// pool may claim it (once), the first one refuses it as another ring's,
/// and the first pool's buffers stay the kernel's, untouched.
#[test]
fn a_selection_names_the_group_of_the_ring_that_runs_it() {
    let _watch = watchdog();
    let mut first = Ring::new(8).unwrap();
    let Some(pool_a) = uring_tests::plain_buf_ring(&mut first, 5, 2, 32) else {
        return;
    };
    let mut second = Ring::new(8).unwrap();
    let pool_b = uring_tests::plain_buf_ring(&mut second, 5, 2, 32).unwrap();
    drop(first);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"for the second ring").unwrap();
    let (bid, bytes) = second.scope(|s| {
        s.push(Recv::new(&rx, pool_a.select()).user_data(1))
            .unwrap();
        let mut cqe = next_scope_cqe(s);
        assert_eq!(cqe.res(), 19);
        let refused = pool_a.claim(&mut cqe).expect_err("another ring's op");
        assert!(
            matches!(refused, uring::Error::InvalidArgument(_)),
            "{refused}"
        );
        assert!(pool_a.claim_bundle(&mut cqe).is_err());
        let buf = pool_b.claim(&mut cqe).unwrap();
        assert!(pool_b.claim(&mut cqe).is_err(), "claimed twice");
        assert!(pool_b.claim_bundle(&mut cqe).is_err(), "claimed twice");
        (buf.bid(), buf.to_vec())
    });
    assert_eq!(bytes, b"for the second ring");
    assert!(bid < 2);
    assert_eq!(
        pool_b.head().unwrap(),
        1,
        "the second ring's kernel took one"
    );
    assert_eq!(pool_a.head().unwrap(), 0, "the first ring's took none");
    assert_eq!(pool_a.available().unwrap(), 2);
    assert_eq!(pool_a.lent(), 0);
    assert_eq!(pool_b.lent(), 0, "the claim went back when dropped");
    assert!(uring_tests::stray(&mut second).is_empty());
}

/// The rings the protection-information attack runs on: a plain one, and
/// an SQPOLL and a deferred one where this process may have them.
fn pi_rings() -> Vec<(&'static str, Ring)> {
    let mut rings = vec![("plain", Ring::new(16).unwrap())];
    if let Some(ring) = uring_tests::sqpoll_ring(16) {
        rings.push(("sqpoll", ring));
    }
    if let Some(ring) = uring_tests::defer_ring(16) {
        rings.push(("defer_taskrun", ring));
    }
    rings
}

/// SAFETY.md, invariant 1, protection information: `.pi(&mut attr)` lends
/// the kernel an attribute it copies at preparation and a metadata buffer
/// it may fill or read until the op completes. In scopes of plain, SQPOLL
/// (where the SQ thread prepares the op after the push returned) and
/// deferred rings: a read and a write carrying an attribute borrowed from
/// outside the scope; a read over an owned buffer whose metadata is the
/// buffer's own tail (an attribute leaked so that its borrow lasts as long
/// as the owned buffer's); the write of a `then_write_with` pair given an
/// attribute; and a scope that unwinds with attributed ops pushed and not
/// submitted. On files without integrity, each attributed op completes
/// once with `EINVAL`, the read of the pair runs and its write fails, and
/// no data or metadata byte changes, in memory or in the files.
#[test]
fn protection_information_in_scopes_is_lent_only_to_its_op() {
    let _watch = watchdog();
    let probe = Ring::new(4).unwrap();
    if !require_features(&probe, Features::RW_ATTR, "read and write attributes") {
        return;
    }
    drop(probe);
    let source = tempfile::tempfile_in("/var/tmp").unwrap();
    let content = pattern(4096, 3);
    source.write_all_at(&content, 0).unwrap();
    for (name, mut ring) in pi_rings() {
        let out = tempfile::tempfile_in("/var/tmp").unwrap();
        let mut meta_read = [0xA1u8; 64];
        let mut meta_write = [0xA2u8; 64];
        let mut meta_pair = [0xA3u8; 64];
        let mut attr_read = PiAttr::new(&mut meta_read).flags(IntegrityFlags::all());
        let mut attr_write = PiAttr::new(&mut meta_write)
            .flags(IntegrityFlags::GUARD)
            .app_tag(7)
            .seed(9);
        let mut attr_pair = PiAttr::new(&mut meta_pair).flags(IntegrityFlags::REFTAG);
        let mut data = [0x5Au8; 512];
        let mut pair_buf = [0x6Bu8; 512];
        let to_write = [0x7Cu8; 512];
        let (mut got, owned) = ring.scope(|s| {
            s.push(
                Read::new(&source, &mut data[..])
                    .pi(&mut attr_read)
                    .user_data(1),
            )
            .unwrap();
            s.push(
                Write::new(&out, &to_write[..])
                    .pi(&mut attr_write)
                    .write_stream(3)
                    .user_data(2),
            )
            .unwrap();
            s.push_owned(vec![0x4Du8; 576], |buf, sq| {
                let (bytes, meta) = buf.split_at_mut(512);
                let attr: &mut PiAttr<'_> = Box::leak(Box::new(PiAttr::new(meta)));
                sq.push(Read::new(&source, bytes).pi(attr).user_data(3));
            })
            .unwrap();
            s.push(
                Read::new(&source, &mut pair_buf[..])
                    .user_data(4)
                    .then_write_with(&out, |w| w.offset(4096).pi(&mut attr_pair).user_data(5)),
            )
            .unwrap();
            s.submit().unwrap();
            let mut got = Vec::new();
            let mut owned = None;
            while got.len() < 5 {
                s.wait_timeout(1, PATIENCE).unwrap();
                for mut cqe in s.completions() {
                    assert!(cqe.is_scope_op());
                    if let Some(buf) = cqe.take_buf() {
                        owned = Some(buf);
                    }
                    got.push((cqe.user_data(), cqe.res()));
                }
            }
            assert_eq!(s.in_flight(), 0);
            (got, owned)
        });
        got.sort_unstable();
        assert_eq!(
            got,
            [
                (1, -libc::EINVAL),
                (2, -libc::EINVAL),
                (3, -libc::EINVAL),
                (4, 512),
                (5, -libc::EINVAL)
            ],
            "{name}"
        );
        assert_eq!(owned.as_deref(), Some(&[0x4Du8; 576][..]), "{name}: owned");
        assert_eq!(data, [0x5A; 512], "{name}: the attributed read");
        assert_eq!(pair_buf[..], content[..512], "{name}: the pair's read ran");
        // The attributes' borrows of the metadata end with the scope.
        assert_eq!(meta_read, [0xA1; 64], "{name}");
        assert_eq!(meta_write, [0xA2; 64], "{name}");
        assert_eq!(meta_pair, [0xA3; 64], "{name}");
        assert_eq!(out.metadata().unwrap().len(), 0, "{name}: nothing written");
        // A scope that unwinds with attributed ops pushed, not submitted.
        let mut meta = [0xB4u8; 64];
        let mut attr = PiAttr::new(&mut meta);
        let mut data = [0x3Eu8; 512];
        uring_tests::expect_stop(|| {
            ring.scope(|s| {
                s.push(Read::new(&source, &mut data[..]).pi(&mut attr).user_data(6))
                    .unwrap();
                s.push_owned(vec![0x2F; 520], |buf, sq| {
                    let (bytes, meta) = buf.split_at_mut(512);
                    let attr: &mut PiAttr<'_> = Box::leak(Box::new(PiAttr::new(meta)));
                    sq.push(Write::new(&out, bytes).pi(attr).user_data(7));
                })
                .unwrap();
                uring_tests::stop()
            })
        });
        assert_eq!(meta, [0xB4; 64], "{name}: after the unwinding scope");
        assert_eq!(data, [0x3E; 512], "{name}: after the unwinding scope");
        assert_eq!(out.metadata().unwrap().len(), 0, "{name}: nothing written");
        assert!(uring_tests::stray(&mut ring).is_empty(), "{name}");
    }
}

/// The descriptor number a forgotten completion carried still names the
/// file its op opened.
fn names(fd: i32, path: &str) -> bool {
    std::fs::read_link(format!("/proc/self/fd/{fd}")).is_ok_and(|p| p.to_str() == Some(path))
}

/// SAFETY.md, invariant 3 and 5: a completion handed out by a scope is the
/// program's, and `mem::forget` of it must leak what it carries, never
/// free or hand it out twice: the descriptor an `OpenAt` made (which the
/// scope closes only for completions nobody read), the owned buffer of a
/// `push_owned` read, the buffer a receive selected. After the scope the
/// forgotten descriptor is open and still names `/dev/null` (the scope's
/// end closed nothing), a second open in a later scope gets another
/// number, the selected buffer is never given back to the kernel (the next
/// receives take the other buffer, twice), and the read with the owned
/// buffer completed once, with the pipe's bytes.
#[test]
fn forgotten_scope_completions_leak_what_they_carry() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = uring_tests::plain_buf_ring(&mut ring, 9, 2, 16) else {
        return;
    };
    let (rx, tx) = uring_tests::pipe();
    let mut tx = std::fs::File::from(tx);
    tx.write_all(b"owned bytes").unwrap();
    let (mut sock_tx, sock_rx) = UnixStream::pair().unwrap();
    sock_tx.write_all(b"selected").unwrap();
    let (fd, forgotten_bid) = ring.scope(|s| {
        s.push(OpenAt::new(Fd::CWD, c"/dev/null").user_data(1))
            .unwrap();
        let cqe = next_scope_cqe(s);
        let fd = cqe.res();
        assert!(fd >= 0, "open: {fd}");
        std::mem::forget::<ScopeCqe<'_>>(cqe);
        s.push_owned(vec![0u8; 32], |buf, sq| {
            sq.push(Read::new(&rx, buf).user_data(2));
        })
        .unwrap();
        let cqe = next_scope_cqe(s);
        assert_eq!((cqe.user_data(), cqe.res()), (2, 11));
        std::mem::forget(cqe);
        s.push(Recv::new(&sock_rx, pool.select()).user_data(3))
            .unwrap();
        let cqe = next_scope_cqe(s);
        assert_eq!(cqe.res(), 8);
        let bid = cqe.buffer_id().expect("a selected buffer");
        std::mem::forget(cqe);
        // One more open, left unread: the scope's end closes it.
        s.push(OpenAt::new(Fd::CWD, c"/dev/zero").user_data(4))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        (fd, bid)
    });
    assert!(
        names(fd, "/dev/null"),
        "the forgotten descriptor was closed"
    );
    let (fd2, bids) = ring.scope(|s| {
        s.push(OpenAt::new(Fd::CWD, c"/dev/null").user_data(5))
            .unwrap();
        let fd2 = next_scope_cqe(s).take_fd().expect("a descriptor");
        let mut bids = Vec::new();
        for i in 0..2 {
            sock_tx.write_all(b"again").unwrap();
            s.push(Recv::new(&sock_rx, pool.select()).user_data(6 + i))
                .unwrap();
            let mut cqe = next_scope_cqe(s);
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!(&buf[..], b"again");
            bids.push(buf.bid());
        }
        (fd2, bids)
    });
    assert_ne!(
        fd2.as_raw_fd(),
        fd,
        "a number still open was handed out again"
    );
    assert!(names(fd, "/dev/null"));
    let other = 1 - forgotten_bid;
    assert_eq!(bids, [other, other], "the forgotten buffer stayed lent");
    assert_eq!(pool.available().unwrap(), 1);
    // The forgotten descriptor stays open, leaked with its completion.
    assert!(uring_tests::stray(&mut ring).is_empty());
}

/// SAFETY.md, invariant 4 and 7: a buffer ring whose descriptors the
/// kernel allocated is mapped from the ring's descriptor, through the
/// buffer ring's own duplicate of it. Resizing the ring swaps its queues
/// (and unmaps the old ones) but must leave that mapping and its group
/// alone; and the `Ring` dropped while a claimed buffer is still held must
/// leave the buffer readable and its return to the kernel (a write to the
/// kernel's descriptor pages) sound. Receives after each resize claim the
/// kernel's bytes in ring order, the kernel's head counts every buffer,
/// and after the ring is gone the held claim still reads its bytes, and
/// giving it back moves the buffer ring's tail as it should.
#[test]
fn a_kernel_allocated_buffer_ring_across_resizes_and_past_its_ring() {
    let _watch = watchdog();
    let Some(mut ring) = uring_tests::resizable_ring(8) else {
        return;
    };
    let Some(pool) = uring_tests::mmap_buf_ring(&mut ring, 6, 2, 32, false) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut held = None;
    for (round, (sq, cq)) in [(16, 64), (4, 8), (32, 32)].into_iter().enumerate() {
        match ring.resize(sq, cq) {
            Ok(()) => {}
            Err(e) if round == 0 => {
                uring_tests::skip(format!("the kernel does not resize this ring: {e}"));
                return;
            }
            Err(e) => panic!("resize to {sq}/{cq}: {e}"),
        }
        let text = format!("round {round}");
        tx.write_all(text.as_bytes()).unwrap();
        let buf = ring.scope(|s| {
            s.push(Recv::new(&rx, pool.select()).user_data(round as u64))
                .unwrap();
            let mut cqe = next_scope_cqe(s);
            pool.claim(&mut cqe).unwrap()
        });
        assert_eq!(&buf[..], text.as_bytes());
        assert_eq!(usize::from(buf.bid()), round % 2, "ring order");
        assert_eq!(pool.head().unwrap(), round as u16 + 1);
        if round == 2 {
            held = Some(buf);
        }
    }
    let held = held.unwrap();
    drop(ring);
    assert_eq!(&held[..], b"round 2");
    assert_eq!(pool.head().unwrap(), 3, "the kernel's ring lives on");
    assert_eq!(pool.available().unwrap(), 1);
    drop(held);
    assert_eq!(pool.available().unwrap(), 2, "given back after the ring");
    assert_eq!(pool.lent(), 0);
}

/// SAFETY.md, invariant 4 and 5: another ring's scope may name a ring
/// through `&Ring` (`Fd::from(&ring)`), which marks it as lent for good.
/// Ops that would read, write or poll the ring's descriptor as a file
/// touch none of its completions: a read and a write fail and leave their
/// buffers alone, a poll sees the ring readable while it holds a
/// completion, and afterwards the ring holds that completion alone, and
/// its scopes tag every op (so a message the other ring posted with a
/// `user_data` shaped like a tag passes for none of theirs).
#[test]
fn a_ring_s_descriptor_as_the_file_of_another_ring_s_ops() {
    let _watch = watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(Nop::new().user_data(77)).unwrap();
    ring.submit_and_wait(1).unwrap();
    let mut other = Ring::new(8).unwrap();
    let mut into = [0xD1u8; 32];
    let from = [0xD2u8; 32];
    let got = other.scope(|s| {
        let fd = Fd::from(&ring);
        s.push(Read::new(fd, &mut into[..]).user_data(1)).unwrap();
        s.push(Write::new(fd, &from[..]).user_data(2)).unwrap();
        s.push(PollAdd::new(fd, PollEvents::IN).user_data(3))
            .unwrap();
        s.push(MsgRing::new(fd, 0, (1 << 63) | 1).user_data(4))
            .unwrap();
        let mut got = uring_tests::scope_reap(s, 4);
        got.sort_by_key(|c| c.user_data());
        uring_tests::pairs(&got)
    });
    assert_eq!(got[0].0, 1);
    assert!(got[0].1 < 0, "a read of a ring: {got:?}");
    assert_eq!(got[1].0, 2);
    assert!(got[1].1 < 0, "a write to a ring: {got:?}");
    assert_eq!(got[2], (3, libc::POLLIN as i32), "{got:?}");
    assert_eq!(got[3], (4, 0));
    assert_eq!(into, [0xD1; 32]);
    assert_eq!(
        uring_tests::stray(&mut ring),
        [(77, 0), ((1 << 63) | 1, 0)],
        "the ring's own completion and the message"
    );
    let (rx, tx) = uring_tests::pipe();
    let mut tx = std::fs::File::from(tx);
    let mut buf = [0u8; 8];
    let res = ring.scope(|s| {
        assert!(s.tags_every_op(), "a ring lent as a file tags every op");
        s.push(Read::new(&rx, &mut buf[..]).user_data(1)).unwrap();
        s.submit().unwrap();
        tx.write_all(b"the read").unwrap();
        let cqe = next_scope_cqe(s);
        (cqe.user_data(), cqe.res())
    });
    assert_eq!(res, (1, 8));
    assert_eq!(&buf, b"the read");
}

/// SAFETY.md, invariant 4 (`RingTarget`) and the promise of no lost or
/// repeated completion: the pattern `RingTarget`'s documentation gives
/// for two rings on two threads that hold each other's target. Each
/// thread runs one scope on its own ring (which takes no op while the
/// other thread holds its target) and, for 200 rounds, posts a message
/// into the other ring with `post` and waits for the other's message of
/// the same round. Every message comes out of the receiving scope once,
/// in order, as no op of the scope; neither scope has an op in flight;
/// and both CQs are empty at the end.
#[test]
fn two_scopes_posting_into_each_other_lose_and_repeat_nothing() {
    let _watch = watchdog();
    const ROUNDS: u64 = 200;
    let mut left = Ring::new(8).unwrap();
    let mut right = Ring::new(8).unwrap();
    let (Ok(to_left), Ok(to_right)) = (left.msg_target(), right.msg_target()) else {
        panic!("targets");
    };
    if let Err(e) = to_left.post(0, 0) {
        uring_tests::skip(format!("no IORING_REGISTER_SEND_MSG_RING (6.13): {e}"));
        return;
    }
    assert_eq!(uring_tests::stray(&mut left), [(0, 0)]);
    let run = |ring: &mut Ring, other: uring::RingTarget, side: u64| -> Vec<(u64, i32)> {
        ring.scope(|s| {
            let refused = s.push(Nop::new()).expect_err("a targeted scope");
            assert_eq!(refused.kind(), PushErrorKind::Targeted);
            let mut seen = Vec::new();
            for round in 0..ROUNDS {
                other
                    .post(round as i32, (side << 62) | (1 << 61) | round)
                    .unwrap();
                while seen.len() as u64 <= round {
                    s.wait_timeout(1, PATIENCE).unwrap();
                    for cqe in s.completions() {
                        assert!(!cqe.is_scope_op());
                        seen.push((cqe.user_data(), cqe.res()));
                    }
                }
            }
            assert_eq!(s.in_flight(), 0);
            seen
        })
    };
    let (seen_left, seen_right) = thread::scope(|ts| {
        let l = ts.spawn(|| run(&mut left, to_right, 1));
        let r = ts.spawn(|| run(&mut right, to_left, 2));
        (l.join().unwrap(), r.join().unwrap())
    });
    let from = |side: u64| -> Vec<(u64, i32)> {
        (0..ROUNDS)
            .map(|round| ((side << 62) | (1 << 61) | round, round as i32))
            .collect()
    };
    assert_eq!(seen_left, from(2), "the left ring got the right's messages");
    assert_eq!(
        seen_right,
        from(1),
        "the right ring got the left's messages"
    );
    assert!(uring_tests::stray(&mut left).is_empty());
    assert!(uring_tests::stray(&mut right).is_empty());
    // Both targets are gone: scopes take ops again, tagging every one.
    let res = left.scope(|s| {
        assert!(s.tags_every_op());
        s.push(Nop::new().user_data(5)).unwrap();
        let cqe = next_scope_cqe(s);
        (cqe.user_data(), cqe.res())
    });
    assert_eq!(res, (5, 0));
}

/// The ring sizes a resize is asked for, at and around every edge.
const RESIZE_EDGES: [u32; 10] = [
    0,
    1,
    3,
    4096,
    sys::IORING_MAX_ENTRIES,
    sys::IORING_MAX_ENTRIES + 1,
    sys::IORING_MAX_CQ_ENTRIES,
    sys::IORING_MAX_CQ_ENTRIES + 1,
    1 << 31,
    u32::MAX,
];

/// Asks `ring` for the memory of a resize to every pair of edge sizes and,
/// where it is given, resizes into a region of one page (too small but for
/// the smallest rings): never a panic, and a ring that still runs a NOP in
/// a scope afterwards. Returns how many pairs had a size.
fn resize_edges<S: uring::SqeSize, C: uring::UniformCqe>(
    ring: &mut Ring<S, C>,
    name: &str,
) -> usize {
    let mut sized = 0;
    for sq in RESIZE_EDGES {
        for cq in RESIZE_EDGES {
            let size = ring.resize_memory_size(sq, cq);
            if let Ok(size) = size {
                sized += 1;
                assert!(size > 0, "{name}: {sq}/{cq}");
            }
            if sq > 4096 || cq > 4096 || sq == 0 || cq == 0 {
                let region = uring::RingRegion::anonymous(4096).unwrap();
                let resized = ring.resize_in(sq, cq, region);
                assert!(resized.is_err(), "{name}: {sq}/{cq} into one page");
            }
        }
    }
    let res = ring.scope(|s| {
        s.push(Nop::new().user_data(3)).unwrap();
        s.submit_and_wait(1).unwrap();
        let cqe = s.completions().next().expect("the NOP").cqe();
        (cqe.as_ref().user_data(), cqe.as_ref().res())
    });
    assert_eq!(res, (3, 0), "{name}");
    sized
}

/// Bad input at the ring level: `resize_memory_size` and `resize_in` with
/// sizes of 0, 1, odd numbers, the kernel's maxima and one past them,
/// 2^31 and `u32::MAX`, on rings in the library's memory of 64- and
/// 128-byte SQEs, 16- and 32-byte CQEs, with and without an SQ array,
/// and on a ring in the kernel's memory (which `resize_in` refuses). No
/// size overflows into a panic or a small region (a resize into one page
/// is refused for every size too large for it), and each ring runs a
/// scope's NOP after.
#[test]
fn resize_sizes_at_every_edge_are_errors_never_panics() {
    let _watch = watchdog();
    if !uring_tests::require_kernel(6, 13, "resizing a ring") {
        return;
    }
    let base = || Ring::builder().single_issuer().defer_taskrun().no_mmap();
    let Ok(mut plain) = base().build(8) else {
        uring_tests::skip("no deferred rings in the library's memory");
        return;
    };
    assert!(resize_edges(&mut plain, "64/16") > 0);
    let mut big = base()
        .build_sized::<uring::Sqe128, uring::Cqe32>(8)
        .unwrap();
    assert!(resize_edges(&mut big, "128/32") > 0);
    let mut no_array = base().no_sqarray().build(8).unwrap();
    assert!(resize_edges(&mut no_array, "no SQ array") > 0);
    let mut kernel_memory = uring_tests::defer_ring(8).unwrap();
    let region = uring::RingRegion::anonymous(1 << 20).unwrap();
    assert!(matches!(
        kernel_memory.resize_in(16, 32, region),
        Err(uring::Error::InvalidArgument(_))
    ));
    for sq in RESIZE_EDGES {
        for cq in RESIZE_EDGES {
            let _ = kernel_memory.resize_memory_size(sq, cq);
        }
    }
    kernel_memory.push(Nop::new().user_data(1)).unwrap();
    assert_eq!(uring_tests::submit_and_reap(&mut kernel_memory, 1).len(), 1);
}
