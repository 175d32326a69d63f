//! Attacks on the ops a program declares itself with `uring::ops!`
//! (`uring-macros`: `parse.rs`, `validate.rs`, `expand/`), and on the
//! public traits and types an op's fields are built from
//! (`uring/src/op/field.rs`, `uring/src/op/mod.rs`, `uring/src/types/`).
//!
//! The macro refuses an entry without `unsafe` (ui case
//! `macro_missing_unsafe`): every op, the library's and a program's, is an
//! `unsafe struct` whose author vouches that each argument lands in the
//! field the kernel reads, that every field the kernel dereferences is fed
//! from a borrow the op carries, that descriptors and slots come from
//! borrows or handles, and that the kernel is done with the op's memory at
//! its last completion. The attacks here keep every one of those vows to
//! the letter and look for what the vows do not cover:
//!
//! - what the macro generates and the library implements for any entry:
//!   `Unborrowed` for an op with no lifetime and no target, the fields of
//!   the generated struct (visible to the declaring module), `#[ring_owned]`
//!   storage, the scope's reading of the SQE a user op writes (tags,
//!   renames of polls, unknown opcodes);
//! - what the kernel does with fields a user op fills from plain integers
//!   that name no address and no descriptor: `sqe->ioprio` of `SEND`
//!   (`IORING_SEND_VECTORIZED`, `io_uring/net.c`: `io_sendmsg_prep` takes
//!   the bit, `io_send_setup` then imports `sqe->addr` as an array of
//!   `sqe->len` iovecs), `sqe->len` of a `READ` or `WRITE` whose address is
//!   the ring-owned timespec (`io_uring/rw.c`: `io_prep_rw` takes `addr` and
//!   `len` as the buffer, used at issue), the rename of a poll
//!   (`io_uring/poll.c`: `io_poll_remove_prep` with
//!   `IORING_POLL_UPDATE_USER_DATA` reads the new `user_data` from
//!   `sqe->off`), an opcode past `IORING_OP_LAST` (`io_init_req` fails it
//!   with `-EINVAL`), and `CLOSE` (`io_uring/openclose.c`: `io_close` closes
//!   `sqe->fd` in the process's table, whoever owns it).
//!
//! Where the vows left a hole, the macro now refuses the entry or the
//! library keeps the value out of reach, and a ui case shows the refusal:
//! `user_op_audit_close_of_a_borrowed_target` (a CLOSE must own its
//! target), `user_op_audit_owned_target_copied_out` and
//! `user_op_audit_owned_target_replaced` (the declaring module can neither
//! copy an owned target out nor put one in),
//! `user_op_audit_ring_owned_on_a_read` and
//! `user_op_audit_ring_owned_on_waitid` (the ring's 16 bytes, valid until
//! the SQE is consumed, are for the timeout ops' timespecs alone) and
//! `user_op_zero_sized_slice` (a slice of zero-sized items borrows no
//! byte). Integer arguments that carry bits making the kernel follow
//! addresses are excluded by the entry's contract, which the last test of
//! the plain integers below shows the reason for.
//!
//! What the macro refuses, and the message it gives, is in the ui cases
//! `user_op_audit_ring_owned_not_a_timespec` (a `#[ring_owned]` argument
//! of another type), `user_op_audit_link_timeout_by_path` (the
//! `#[after_link]` check of an opcode given as a constant's path),
//! `user_op_audit_opcode_constant_by_bare_name` (a constant named by a bare
//! identifier is read as a kernel name) and
//! `user_op_audit_reactor_queues_a_user_op` (a program's op is a ring op,
//! not a reactor op).

use std::fs::File;
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use uring::ops::{Nop, PollAdd};
use uring::{PollEvents, PollFlags, Ring, sys};
use uring_tests::{PATIENCE, fdinfo_user_data, pattern, pipe, require_kernel, submit_and_reap};

/// What a buffer holds before the kernel is given it.
const CANARY: u8 = 0xC5;

// A program's own op table. Each entry keeps its vows as the macro's
// documentation words them: arguments land in the fields the kernel reads
// for the opcode; the one address the kernel takes from a field is a
// borrow the op carries (or the ring-owned copy the grammar offers for
// it); descriptors come from borrowed or owned files; integers are
// integers.
uring::ops! {

    /// Closes a file it owns, as the library's `Close` does.
    #[since = "5.6"]
    unsafe struct CloseOwned = CLOSE {
        target: owned,
    }



    /// A send whose `ioprio` flags (`IORING_RECVSEND_*`) are a plain
    /// number, as the header declares the field.
    #[since = "5.6"]
    unsafe struct SendWithFlags<'a> = SEND {
        target: fd,
        buf: &'a [u8] => addr + len,
        send_flags: u16 = 0 => ioprio,
    }

    /// Renames a poll: `old` and `new` are `user_data` values, numbers the
    /// kernel matches and copies, never dereferences.
    #[since = "5.13"]
    unsafe struct RenamePoll = POLL_REMOVE {
        old: u64 => addr,
        new: u64 => off,
        const len = sys::IORING_POLL_UPDATE_USER_DATA,
        const fd = -1,
    }

    /// `POLL_ADD` by number, its `IORING_POLL_*` flags a plain number.
    #[since = "5.13"]
    unsafe struct PollByNumber = 6 {
        target: fd,
        events: u32 => poll32_events,
        poll_flags: u32 => len,
    }

    /// An opcode no kernel has.
    #[since = "5.1"]
    unsafe struct Unknown = 251 {}


    /// Reads into a borrowed buffer, as the library's `Read` does.
    #[since = "5.6"]
    unsafe struct MyRead<'a> = READ {
        target: fd,
        buf: &'a mut [u8] => addr + len,
    }
}

/// A file in a fresh temporary directory, open for reading and writing.
fn temp_file(dir: &tempfile::TempDir, name: &str) -> File {
    File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.path().join(name))
        .unwrap()
}

/// Opens files until one gets descriptor `number` (the lowest free one,
/// unless another thread took it first), keeping the others open until it
/// returns; `None` if none did.
fn reopen_as(dir: &tempfile::TempDir, number: i32) -> Option<File> {
    let mut others = Vec::new();
    for i in 0..16 {
        let file = temp_file(dir, &format!("intruder{i}"));
        if file.as_raw_fd() == number {
            return Some(file);
        }
        others.push(file);
    }
    None
}

/// Everything `file` holds, from its start.
fn contents(file: &mut File) -> Vec<u8> {
    let mut all = Vec::new();
    file.seek(SeekFrom::Start(0)).unwrap();
    file.read_to_end(&mut all).unwrap();
    all
}

/// `(user_data, res, flags)` of every completion a scope has ready.
fn drain(s: &mut uring::Scope<'_, '_>) -> Vec<(u64, i32, u32)> {
    s.completions()
        .map(|c| (c.user_data(), c.res(), c.flags()))
        .collect()
}

// ---------------------------------------------------------------------
// Descriptors.
// ---------------------------------------------------------------------

/// A program's own CLOSE that owns its target (the form the macro now
/// requires of that opcode; the declaring module can reach neither the
/// descriptor it took nor replace it, see the ui cases above) closes the
/// file it was given, once: the number is free after the completion and
/// the next file opened takes it, whose writes land in it alone.
#[test]
fn an_owned_close_closes_the_file_it_was_given() {
    // In a process of its own: the binary's other tests, on other threads,
    // would take the freed number between the close and the checks.
    uring_tests::in_own_process(
        "an_owned_close_closes_the_file_it_was_given",
        "the close",
        || {
            let dir = tempfile::tempdir().unwrap();
            let file = temp_file(&dir, "given");
            let number = file.as_raw_fd();
            let mut ring = Ring::new(8).unwrap();
            ring.push(CloseOwned::new(file).user_data(1)).unwrap();
            let cqes = submit_and_reap(&mut ring, 1);
            assert_eq!((cqes[0].user_data(), cqes[0].res()), (1, 0));
            assert!(
                !uring_tests::fd_is_open(number),
                "descriptor {number} is still open"
            );
            let Some(mut next) = reopen_as(&dir, number) else {
                panic!("descriptor {number} was reused elsewhere before the test could");
            };
            next.write_all(b"next").unwrap();
            assert_eq!(contents(&mut next), b"next");
        },
    );
}

// ---------------------------------------------------------------------
// Ring-owned storage.
// ---------------------------------------------------------------------

/// A program's own read pushed over an owned buffer (`push_owned`): the
/// closure's borrow is higher-ranked, so the op cannot keep it, and the
/// scope keeps the buffer until the op's last completion. A read of an
/// empty pipe is still in flight when the scope ends: the scope cancels it
/// and hands the buffer back untouched, and bytes written to the pipe
/// after the scope stay in the pipe.
#[test]
fn a_user_read_over_an_owned_buffer_holds_it_to_its_completion() {
    let _watch = uring_tests::watchdog();
    let (r, w) = pipe();
    let mut ring = Ring::new(8).unwrap();
    let back = ring.scope(|s| {
        s.push_owned(vec![CANARY; 32], |buf, sq| {
            sq.push(MyRead::new(&r, buf).user_data(1))
        })
        .unwrap();
        s.submit().unwrap();
        assert_eq!(s.in_flight(), 1);
        s.cancel(1).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().expect("the read");
        assert_eq!((cqe.user_data(), cqe.res()), (1, -libc::ECANCELED));
        cqe.take_buf()
            .expect("the owned buffer, back with the read")
    });
    assert_eq!(back, vec![CANARY; 32]);
    let mut w = File::from(w);
    w.write_all(b"after").unwrap();
    drop(w);
    let mut left = Vec::new();
    File::from(r).read_to_end(&mut left).unwrap();
    assert_eq!(left, b"after", "no read was left in flight");
}

// ---------------------------------------------------------------------
// Plain integers the kernel reads as more than numbers.
// ---------------------------------------------------------------------

/// A `SEND` whose `ioprio` is a plain `u16`, as `io_uring.h` declares it:
/// no address, no descriptor. With `IORING_SEND_VECTORIZED` (6.17), the
/// kernel reads `addr` as an array of `len` iovecs: `len` counts the
/// borrowed slice's bytes, so it reads sixteen times what was lent, and
/// then sends from whatever addresses those bytes name. Here the slice
/// lent is 1024 bytes of a 16 KiB vector; its first iovec names a buffer
/// no op was given, whose bytes come out of the socket. This is why an
/// entry's contract (`ops!`) forbids integer arguments that carry such
/// bits, and why the library's `Send` takes `SendFlags`, which leave it
/// out (ui case `send_raw_ioprio`); the buffer named here is the test's
/// own.
#[test]
fn the_vectorized_send_bit_in_a_plain_ioprio_makes_the_kernel_follow_lent_bytes() {
    if !require_kernel(6, 17, "IORING_SEND_VECTORIZED") {
        return;
    }
    let (tx, mut rx) = UnixStream::pair().unwrap();
    rx.set_read_timeout(Some(PATIENCE)).unwrap();
    // Never lent to any op.
    let unlent = pattern(64, 0x5A);
    let iovec_len = std::mem::size_of::<libc::iovec>();
    let mut vectors = vec![0u8; 1024 * iovec_len];
    vectors[..8].copy_from_slice(&(unlent.as_ptr() as usize).to_ne_bytes());
    vectors[8..16].copy_from_slice(&unlent.len().to_ne_bytes());
    let lent = &vectors[..1024];
    let mut ring = Ring::new(8).unwrap();
    let res = ring.scope(|s| {
        s.push(
            SendWithFlags::new(&tx, lent)
                .send_flags(sys::IORING_SEND_VECTORIZED)
                .user_data(1),
        )
        .unwrap();
        s.submit_and_wait(1).unwrap();
        drain(s)[0].1
    });
    assert_eq!(
        res, 64,
        "the kernel sent the 64 bytes the first iovec names"
    );
    let mut out = [CANARY; 64];
    rx.read_exact(&mut out).unwrap();
    assert_eq!(&out[..], &unlent[..], "bytes of a buffer no op borrowed");
}

// ---------------------------------------------------------------------
// What the scope reads from a user op's SQE.
// ---------------------------------------------------------------------

/// A user's `POLL_REMOVE` that renames an untagged poll of a fast scope to
/// the raw tag of a multishot poll the scope tracks (read from
/// `/proc/self/fdinfo` in that poll's first completion, flagged
/// `IORING_CQE_F_MORE`): had the rename reached the kernel, the one-shot
/// poll's completion, carrying the tag without `F_MORE`, would settle the
/// tracked poll while it stayed armed in the kernel, and its slot would go
/// to the next op. The scope reads the SQE by its opcode, not by the
/// library's types, and refuses the rename (`-EINVAL`): the one-shot poll
/// completes under its own `user_data` and the multishot one stays in
/// flight until the scope's end cancels it.
#[test]
fn a_user_poll_rename_to_a_live_tag_is_refused() {
    let _watch = uring_tests::watchdog();
    let (armed_end, armed_w) = pipe();
    File::from(armed_w).write_all(b"!").unwrap();
    let (poll_end, wake_end) = pipe();
    let mut wake_end = File::from(wake_end);
    let mut ring = Ring::new(8).unwrap();
    let ring_fd = ring.as_raw_fd();
    let left = ring.scope(|s| {
        if s.tags_every_op() {
            uring_tests::skip("the ring's scopes tag every op: no untagged poll to rename");
            return 0;
        }
        s.push(
            PollAdd::new(&armed_end, PollEvents::IN)
                .poll_flags(PollFlags::MULTI)
                .user_data(3),
        )
        .unwrap();
        s.submit_and_wait(1).unwrap();
        let shown = fdinfo_user_data(ring_fd);
        assert_eq!(shown.len(), 1, "{shown:x?}");
        let tag = shown[0];
        assert_eq!(tag >> 63, 1, "a multishot poll is tagged: {tag:#x}");
        let got = drain(s);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, 3);
        assert_ne!(got[0].2 & sys::IORING_CQE_F_MORE, 0, "{got:?}");

        s.push(PollAdd::new(&poll_end, PollEvents::IN).user_data(5))
            .unwrap();
        s.push(RenamePoll::new(5, tag).user_data(6)).unwrap();
        s.submit_and_wait(1).unwrap();
        let got = drain(s);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!((got[0].0, got[0].1), (6, -libc::EINVAL));

        wake_end.write_all(b"p").unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        let got = drain(s);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, 5, "the poll completes under its own user_data");
        assert!(got[0].1 > 0, "{got:?}");
        assert_eq!(got[0].2 & sys::IORING_CQE_F_MORE, 0, "{got:?}");
        s.in_flight()
    });
    if left != 0 {
        assert_eq!(left, 1, "the multishot poll is still in flight");
    }
    let stray: Vec<_> = ring.completions().map(|c| c.user_data()).collect();
    assert!(
        stray.is_empty(),
        "the scope took every completion: {stray:?}"
    );
}

/// A user's `POLL_ADD`, declared by its number with its flags a plain
/// `u32`, asks for the multishot form. `MAY_POST_MORE` comes from the
/// opcode, whatever form the entry gives it in, and the scope reads the
/// flags from the SQE the entry wrote: the poll is tagged (its completion
/// shows a tag-shaped `user_data` in fdinfo before the scope reads it),
/// stays in flight through completions flagged `IORING_CQE_F_MORE`, and
/// the scope's end cancels it and takes its last completion.
#[test]
fn a_user_multishot_poll_by_number_is_tracked_to_its_last_completion() {
    let _watch = uring_tests::watchdog();
    let (poll_end, wake_end) = pipe();
    let mut wake_end = File::from(wake_end);
    let mut ring = Ring::new(8).unwrap();
    let ring_fd = ring.as_raw_fd();
    let more = ring.scope(|s| {
        assert!(!s.tags_every_op(), "a clean ring");
        s.push(
            PollByNumber::new(&poll_end, libc::POLLIN as u32, sys::IORING_POLL_ADD_MULTI)
                .user_data(9),
        )
        .unwrap();
        s.submit().unwrap();
        let mut more = 0;
        for round in 0..3 {
            wake_end.write_all(&[round]).unwrap();
            s.wait_timeout(1, PATIENCE).unwrap();
            let shown = fdinfo_user_data(ring_fd);
            assert!(
                !shown.is_empty() && shown.iter().all(|u| u >> 63 == 1),
                "a multishot poll of a fast scope went untagged: {shown:x?}"
            );
            for (user_data, res, flags) in drain(s) {
                assert_eq!(user_data, 9);
                assert!(res > 0, "{res}");
                assert_ne!(flags & sys::IORING_CQE_F_MORE, 0, "a multishot poll's");
                more += 1;
            }
            assert_eq!(s.in_flight(), 1, "the poll is still in flight");
        }
        more
    });
    assert!(more >= 1, "{more} completions flagged F_MORE");
    let left: Vec<_> = ring.completions().map(|c| c.user_data()).collect();
    assert!(left.is_empty(), "the scope took every completion: {left:?}");
}

/// An opcode past every kernel's (`= 251`): the macro takes any `u8`, and
/// the library counts such an op as one that may post more (`MAY_POST_MORE`
/// for an unknown opcode), so a scope tags it. The kernel fails it at
/// `io_init_req` (`-EINVAL`), alone or at the head of a chain; the scope
/// settles it once and ends with nothing in flight, and the safe push
/// (no lifetime, no target: `Unborrowed`) gets the same completion.
#[test]
fn an_unknown_opcode_completes_once_with_einval_alone_and_in_a_chain() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    ring.push(Unknown::new().user_data(1)).unwrap();
    let cqes = submit_and_reap(&mut ring, 1);
    assert_eq!((cqes[0].user_data(), cqes[0].res()), (1, -libc::EINVAL));

    let got = ring.scope(|s| {
        s.push(Unknown::new().user_data(2)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut got = drain(s);
        assert_eq!(s.in_flight(), 0);
        s.push(Unknown::new().user_data(3).link(Nop::new().user_data(4)))
            .unwrap();
        // The kernel may stop the batch at the SQE it cannot read: submit
        // until both are taken.
        let deadline = Instant::now() + PATIENCE;
        while got.len() < 3 && Instant::now() < deadline {
            s.submit().unwrap();
            let _ = s.wait_timeout(1, Duration::from_millis(100));
            got.extend(drain(s));
        }
        assert_eq!(s.in_flight(), 0, "{got:?}");
        got
    });
    let got: Vec<(u64, i32)> = got.iter().map(|&(u, r, _)| (u, r)).collect();
    assert_eq!(
        got,
        [
            (2, -libc::EINVAL),
            (3, -libc::EINVAL),
            (4, -libc::ECANCELED)
        ]
    );
}
