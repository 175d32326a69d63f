//! SQEs written by hand into the ring's own slots (`Ring::next_sqe`,
//! go-uring's `NextSQE`, liburing's `io_uring_get_sqe`): a slot joins the
//! queue only when committed, in order with pushed ops, and a slot dropped
//! uncommitted reaches the kernel never.

use std::os::fd::AsRawFd;

use uring::ops::{Nop, Read};
use uring::sys::{self, io_uring_sqe, io_uring_sqe_addr};
use uring::{Ring, Sqe128};
use uring_tests::{pipe, push_lent, submit_and_reap};

/// The bytes of a value, for comparing SQEs whole.
fn bytes_of<T: Copy>(value: &T) -> &[u8] {
    // SAFETY: any initialized `Copy` value's bytes may be read; SQEs have
    // no padding.
    unsafe { std::slice::from_raw_parts((value as *const T).cast(), std::mem::size_of::<T>()) }
}

/// Writes a NOP with `user_data` into the next slot and commits it.
fn commit_nop(ring: &mut Ring, user_data: u64) {
    let mut sqe = ring.next_sqe().expect("a free slot");
    sqe.opcode = sys::IORING_OP_NOP;
    sqe.user_data = user_data;
    // SAFETY: a NOP names no memory.
    unsafe { sqe.commit() };
}

#[test]
fn committed_sqes_complete_in_order_with_pushed_ops() {
    let mut ring = Ring::new(8).unwrap();
    ring.push(Nop::new().user_data(1)).unwrap();
    commit_nop(&mut ring, 2);
    ring.push(Nop::new().user_data(3)).unwrap();
    commit_nop(&mut ring, 4);
    assert_eq!(ring.pending(), 4);
    let got: Vec<(u64, i32)> = submit_and_reap(&mut ring, 4)
        .iter()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(got, [(1, 0), (2, 0), (3, 0), (4, 0)]);
    assert_eq!(ring.dropped(), 0);
}

#[test]
fn a_slot_dropped_uncommitted_never_reaches_the_kernel() {
    let mut ring = Ring::new(4).unwrap();
    {
        let mut sqe = ring.next_sqe().unwrap();
        // An opcode no kernel has: the kernel would fail it (or drop it).
        sqe.opcode = 0xfe;
        sqe.user_data = 66;
    }
    assert_eq!(ring.pending(), 0, "an uncommitted slot is not queued");
    ring.push(Nop::new().user_data(5)).unwrap();
    let cqes = submit_and_reap(&mut ring, 1);
    assert_eq!((cqes[0].user_data(), cqes[0].res()), (5, 0));
    assert!(ring.completions().next().is_none());
    assert_eq!(ring.dropped(), 0);
}

// The slot needs no `Drop` (its being dropped uncommitted is what leaves
// it free), and forgetting it must leave the queue as dropping does.
#[allow(clippy::forget_non_drop)]
#[test]
fn a_forgotten_slot_stays_free() {
    let mut ring = Ring::new(2).unwrap();
    let mut sqe = ring.next_sqe().unwrap();
    sqe.opcode = 0xfe;
    std::mem::forget(sqe);
    assert_eq!(ring.pending(), 0);
    assert_eq!(ring.space_left(), 2);
    commit_nop(&mut ring, 9);
    let cqes = submit_and_reap(&mut ring, 1);
    assert_eq!((cqes[0].user_data(), cqes[0].res()), (9, 0));
}

#[test]
fn every_slot_is_handed_out_zeroed() {
    let mut ring = Ring::new(2).unwrap();
    // Dirty both slots through pushes of ops with many fields set, and
    // leave a hand-written slot dirty too.
    for round in 0..3u64 {
        ring.push(
            Nop::new()
                .user_data(u64::MAX - round)
                .flags(uring::SqeFlags::ASYNC),
        )
        .unwrap();
        {
            let mut sqe = ring.next_sqe().unwrap();
            // SAFETY: all-ones bytes are a valid (if meaningless) SQE.
            unsafe { std::ptr::write_bytes(&mut *sqe as *mut io_uring_sqe, 0xff, 1) };
        }
        {
            let sqe = ring.next_sqe().unwrap();
            assert!(bytes_of(&*sqe).iter().all(|&b| b == 0), "round {round}");
        }
        submit_and_reap(&mut ring, 1);
    }
}

#[test]
fn a_full_queue_hands_out_no_slot_until_submitted() {
    let mut ring = Ring::new(4).unwrap();
    for i in 0..4 {
        commit_nop(&mut ring, i);
    }
    assert!(ring.next_sqe().is_none());
    assert_eq!(ring.pending(), 4);
    submit_and_reap(&mut ring, 4);
    assert!(ring.next_sqe().is_some());
}

#[test]
fn slots_wrap_around_the_sqe_array() {
    let mut ring = Ring::new(4).unwrap();
    let mut next = 0u64;
    // Three per round against four slots: the slots handed out run across
    // the end of the array in most rounds.
    for _ in 0..11 {
        let first = next;
        for _ in 0..3 {
            commit_nop(&mut ring, next);
            next += 1;
        }
        let got: Vec<u64> = submit_and_reap(&mut ring, 3)
            .iter()
            .map(|c| {
                assert_eq!(c.res(), 0);
                c.user_data()
            })
            .collect();
        assert_eq!(got, [first, first + 1, first + 2]);
    }
    assert_eq!(ring.dropped(), 0);
}

#[test]
fn pending_sqes_show_the_committed_sqe_byte_for_byte() {
    let mut ring = Ring::new(4).unwrap();
    let mut expected = io_uring_sqe {
        opcode: sys::IORING_OP_NOP,
        flags: sys::IOSQE_ASYNC,
        fd: -1,
        len: 17,
        user_data: 0xdead_beef,
        personality: 0,
        ..Default::default()
    };
    expected.addr = io_uring_sqe_addr { addr: 0x1234 };
    let mut sqe = ring.next_sqe().unwrap();
    *sqe = expected;
    // SAFETY: a NOP reads none of the fields set; the address is never
    // dereferenced.
    unsafe { sqe.commit() };
    let pending: Vec<io_uring_sqe> = ring.pending_sqes().collect();
    assert_eq!(pending.len(), 1);
    assert_eq!(bytes_of(&pending[0]), bytes_of(&expected));
    let cqes = submit_and_reap(&mut ring, 1);
    assert_eq!((cqes[0].user_data(), cqes[0].res()), (0xdead_beef, 0));
}

#[test]
fn a_hand_written_read_fills_its_buffer() {
    let (rx, tx) = pipe();
    let sent = b"written by hand";
    assert_eq!(
        raw_write(tx.as_raw_fd(), sent),
        sent.len() as isize,
        "the pipe takes the bytes"
    );
    let mut buf = [0u8; 64];
    let mut ring = Ring::new(4).unwrap();
    let mut sqe = ring.next_sqe().unwrap();
    sqe.opcode = sys::IORING_OP_READ;
    sqe.fd = rx.as_raw_fd();
    sqe.addr = io_uring_sqe_addr {
        addr: buf.as_mut_ptr() as u64,
    };
    sqe.len = buf.len() as u32;
    sqe.off.off = u64::MAX; // the pipe's own position
    sqe.user_data = 11;
    // SAFETY: `buf` and `rx` outlive the op, whose completion is reaped
    // below before either is touched.
    unsafe { sqe.commit() };
    let cqes = submit_and_reap(&mut ring, 1);
    assert_eq!(cqes[0].user_data(), 11);
    assert_eq!(cqes[0].res(), sent.len() as i32);
    assert_eq!(&buf[..sent.len()], sent);
}

#[test]
fn a_link_flag_written_by_hand_links_to_the_next_push() {
    let mut ring = Ring::new(4).unwrap();
    let mut buf = [0u8; 8];
    let mut sqe = ring.next_sqe().unwrap();
    sqe.opcode = sys::IORING_OP_READ;
    sqe.fd = -1; // fails with EBADF, which breaks the link
    sqe.addr = io_uring_sqe_addr {
        addr: buf.as_mut_ptr() as u64,
    };
    sqe.len = buf.len() as u32;
    sqe.flags = sys::IOSQE_IO_LINK;
    sqe.user_data = 1;
    // SAFETY: no descriptor -1 exists, so nothing is read; `buf` outlives
    // the op anyway.
    unsafe { sqe.commit() };
    ring.push(Nop::new().user_data(2)).unwrap();
    let got: Vec<(u64, i32)> = submit_and_reap(&mut ring, 2)
        .iter()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    assert_eq!(got, [(1, -libc::EBADF), (2, -libc::ECANCELED)]);
}

#[test]
fn a_push_after_an_uncommitted_slot_takes_that_slot() {
    let (rx, tx) = pipe();
    raw_write(tx.as_raw_fd(), b"abc");
    let mut buf = [0u8; 3];
    let mut ring = Ring::new(2).unwrap();
    assert!(ring.next_sqe().is_some(), "a slot, dropped uncommitted");
    push_lent!(ring, Read::new(&rx, &mut buf[..]).user_data(4)).unwrap();
    assert_eq!(ring.pending(), 1);
    let cqes = submit_and_reap(&mut ring, 1);
    assert_eq!((cqes[0].user_data(), cqes[0].res()), (4, 3));
    assert_eq!(&buf, b"abc");
}

#[test]
fn big_sqe_rings_hand_out_128_byte_slots() {
    let mut ring: Ring<Sqe128> = Ring::builder().build_sized(4).unwrap();
    {
        // Dirty the slot's second half, then give the slot back.
        let mut sqe = ring.next_sqe().unwrap();
        sqe.ext = [0xaa; 64];
    }
    let mut sqe = ring.next_sqe().unwrap();
    assert_eq!(std::mem::size_of_val(&*sqe), 128);
    assert!(bytes_of(&*sqe).iter().all(|&b| b == 0));
    sqe.sqe.opcode = sys::IORING_OP_NOP;
    sqe.sqe.user_data = 21;
    // SAFETY: a NOP names no memory.
    unsafe { sqe.commit() };
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completions().next().expect("the NOP's completion");
    assert_eq!((cqe.user_data(), cqe.res()), (21, 0));
}

#[test]
fn a_scope_runs_after_committed_sqes() {
    let mut ring = Ring::new(8).unwrap();
    commit_nop(&mut ring, 100);
    let cqes = submit_and_reap(&mut ring, 1);
    assert_eq!((cqes[0].user_data(), cqes[0].res()), (100, 0));
    let mut buf = [0u8; 4];
    let (rx, tx) = pipe();
    raw_write(tx.as_raw_fd(), b"wxyz");
    let cqe = uring_tests::complete(&mut ring, Read::new(&rx, &mut buf[..]).user_data(7));
    assert_eq!(cqe.res(), 4);
    assert_eq!(&buf, b"wxyz");
}

/// `write(2)` of `bytes` to `fd`; its return value.
fn raw_write(fd: i32, bytes: &[u8]) -> isize {
    // SAFETY: `bytes` is valid for reads of its length.
    unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) }
}
