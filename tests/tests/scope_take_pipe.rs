//! `ScopeCqe::take_pipe`: the two ends of a pipe a scope's `Pipe` made
//! over the first eight bytes of a buffer given with `push_owned`, handed
//! out once with the completion that brings the buffer back; and never
//! numbers the kernel did not write there for that op: a pipe elsewhere,
//! direct descriptors, a failure, numbers the program wrote itself, a pipe
//! in a chain, a buffer taken first.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use uring::ops::{Nop, Pipe};
use uring::{PipeSlots, Ring, Scope, ScopeCqe, sys};
use uring_tests::{fd_is_open, in_own_process, require_kernel};

/// Whether the kernel has `IORING_OP_PIPE` (6.16); prints why not.
fn have_pipe() -> bool {
    require_kernel(6, 16, "IORING_OP_PIPE")
}

/// Pushes a `Pipe` over the first eight bytes of an owned buffer of `len`
/// bytes, with `user_data`.
fn push_pipe(s: &mut Scope<'_, '_>, len: usize, user_data: u64) {
    s.push_owned(vec![0xA5; len], |buf, sq| {
        let fds: &mut [u8; 8] = buf.first_chunk_mut().unwrap();
        sq.push(Pipe::new(fds).user_data(user_data))
    })
    .unwrap();
}

/// Submits and reads one completion.
fn one<'s>(s: &mut Scope<'s, '_>) -> ScopeCqe<'s> {
    s.submit_and_wait(1).unwrap();
    s.completions().next().expect("a completion")
}

/// The numbers of the two ends a `Pipe` wrote to `bytes`.
fn numbers(bytes: &[u8]) -> (RawFd, RawFd) {
    (
        RawFd::from_ne_bytes(bytes[..4].try_into().unwrap()),
        RawFd::from_ne_bytes(bytes[4..8].try_into().unwrap()),
    )
}

/// Takes ownership of two numbers a test knows to be a pipe's ends that
/// nothing else owns (read from a buffer the kernel wrote them to).
fn adopt(fds: (RawFd, RawFd)) -> (OwnedFd, OwnedFd) {
    assert!(fd_is_open(fds.0) && fds.0 != fds.1);
    // SAFETY: the kernel made both ends for this test's op and only wrote
    // their numbers to its buffer: nothing else owns them.
    unsafe { (OwnedFd::from_raw_fd(fds.0), OwnedFd::from_raw_fd(fds.1)) }
}

/// Writes through `tx` and reads it back through `rx`: the two are the
/// ends of one pipe.
fn assert_one_pipe(rx: OwnedFd, tx: OwnedFd, what: &str) {
    let (mut rx, mut tx) = (File::from(rx), File::from(tx));
    tx.write_all(what.as_bytes()).unwrap();
    drop(tx);
    let mut got = String::new();
    rx.read_to_string(&mut got).unwrap();
    assert_eq!(got, what);
}

#[test]
fn a_pipe_over_an_owned_buffer_gives_both_ends_once() {
    if !have_pipe() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    ring.scope(|s| {
        push_pipe(s, 8, 1);
        let mut cqe = one(s);
        assert_eq!((cqe.user_data(), cqe.res()), (1, 0));
        let (rx, tx) = cqe.take_pipe().expect("the pipe's ends");
        assert!(cqe.take_pipe().is_none(), "a second take");
        assert!(cqe.take_buf().is_none(), "the buffer went with the ends");
        assert!(cqe.take_fd().is_none());
        // The default flags: both ends close on exec.
        for fd in [&rx, &tx] {
            // SAFETY: F_GETFD on a descriptor this test owns.
            let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
            assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        }
        assert_one_pipe(rx, tx, "through the pipe");
    });
}

#[test]
fn many_pipes_at_once_give_distinct_working_ends() {
    if !have_pipe() {
        return;
    }
    let mut ring = Ring::new(64).unwrap();
    ring.scope(|s| {
        for i in 0..40 {
            // Buffers longer than eight bytes too.
            push_pipe(s, 8 + i % 3 * 4, i as u64);
        }
        s.submit_and_wait(40).unwrap();
        let mut seen = BTreeSet::new();
        let mut ends = Vec::new();
        for mut cqe in s.completions() {
            assert_eq!(cqe.res(), 0, "{cqe:?}");
            let (rx, tx) = cqe.take_pipe().expect("the ends");
            assert!(seen.insert(rx.as_raw_fd()) && seen.insert(tx.as_raw_fd()));
            ends.push((cqe.user_data(), rx, tx));
        }
        assert_eq!(ends.len(), 40);
        for (ud, rx, tx) in ends {
            assert_one_pipe(rx, tx, &format!("pipe {ud}"));
        }
    });
}

#[test]
fn the_buffer_taken_first_leaves_the_numbers_to_the_program() {
    if !have_pipe() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    ring.scope(|s| {
        push_pipe(s, 8, 1);
        let mut cqe = one(s);
        let buf = cqe.take_buf().expect("the buffer");
        assert!(
            cqe.take_pipe().is_none(),
            "the numbers left with the buffer"
        );
        let (rx, tx) = adopt(numbers(&buf));
        assert_one_pipe(rx, tx, "numbers read by hand");
    });
}

#[test]
fn a_pipe_elsewhere_gives_none() {
    if !have_pipe() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let mut mine = [-1 as RawFd; 2];
    let mut other = [-1 as RawFd; 2];
    let (keep_rx, keep_tx) = std::io::pipe().unwrap();
    ring.scope(|s| {
        // A pipe into a borrowed array.
        s.push(Pipe::new(&mut mine).user_data(1)).unwrap();
        let mut cqe = one(s);
        assert_eq!(cqe.res(), 0);
        assert!(cqe.take_pipe().is_none(), "a borrowed array");
        // A pipe into an owned buffer, past its first byte.
        s.push_owned(vec![0; 12], |buf, sq| {
            let fds: &mut [u8; 8] = buf[1..].first_chunk_mut().unwrap();
            sq.push(Pipe::new(fds).user_data(2))
        })
        .unwrap();
        let mut cqe = one(s);
        assert_eq!(cqe.res(), 0);
        assert!(cqe.take_pipe().is_none(), "not the buffer's first bytes");
        let buf = cqe.take_buf().expect("the buffer");
        let (rx, tx) = adopt(numbers(&buf[1..]));
        assert_one_pipe(rx, tx, "at an offset");
        // A pipe into a borrowed array, pushed over an owned buffer into
        // which the program wrote numbers of its own.
        let mut forged = Vec::new();
        forged.extend_from_slice(&keep_rx.as_raw_fd().to_ne_bytes());
        forged.extend_from_slice(&keep_tx.as_raw_fd().to_ne_bytes());
        s.push_owned(forged, |_, sq| sq.push(Pipe::new(&mut other).user_data(3)))
            .unwrap();
        let mut cqe = one(s);
        assert_eq!(cqe.res(), 0);
        assert!(cqe.take_pipe().is_none(), "forged numbers");
    });
    let (rx, tx) = adopt((other[0], other[1]));
    assert_one_pipe(rx, tx, "the other array");
    // The program's own pipe was not handed out: it still works.
    let (mut keep_rx, mut keep_tx) = (keep_rx, keep_tx);
    keep_tx.write_all(b"mine").unwrap();
    let mut four = [0u8; 4];
    keep_rx.read_exact(&mut four).unwrap();
    assert_eq!(&four, b"mine");
    let (rx, tx) = adopt((mine[0], mine[1]));
    assert_one_pipe(rx, tx, "the borrowed array");
}

#[test]
fn numbers_written_by_other_ops_give_none() {
    if !have_pipe() {
        return;
    }
    let (keep_rx, keep_tx) = std::io::pipe().unwrap();
    let mut forged = Vec::new();
    forged.extend_from_slice(&keep_rx.as_raw_fd().to_ne_bytes());
    forged.extend_from_slice(&keep_tx.as_raw_fd().to_ne_bytes());
    let mut ring = Ring::new(8).unwrap();
    ring.scope(|s| {
        // A NOP over a buffer holding a pipe's numbers.
        s.push_owned(forged.clone(), |_, sq| sq.push(Nop::new().user_data(1)))
            .unwrap();
        let mut cqe = one(s);
        assert_eq!(cqe.res(), 0);
        assert!(cqe.take_pipe().is_none(), "a NOP");
        assert_eq!(cqe.take_buf().as_deref(), Some(&forged[..]));
    });
    assert!(fd_is_open(keep_rx.as_raw_fd()) && fd_is_open(keep_tx.as_raw_fd()));
}

#[test]
fn direct_descriptors_and_failures_give_none() {
    if !have_pipe() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    if let Err(e) = ring.register_files_sparse(4) {
        uring_tests::skip(format_args!("no sparse file table: {e}"));
        return;
    }
    ring.scope(|s| {
        // Direct descriptors: the kernel writes slot numbers.
        s.push_owned(vec![0; 8], |buf, sq| {
            let fds: &mut [u8; 8] = buf.first_chunk_mut().unwrap();
            sq.push(
                Pipe::new(fds)
                    .pipe_flags(0)
                    .direct(PipeSlots::ALLOC)
                    .user_data(1),
            )
        })
        .unwrap();
        let mut cqe = one(s);
        assert_eq!(cqe.res(), 0, "{cqe:?}");
        assert!(cqe.take_pipe().is_none(), "slots, not descriptors");
        let slots = numbers(&cqe.take_buf().unwrap());
        assert!(
            slots.0 >= 0 && slots.0 < 4 && slots.1 >= 0 && slots.1 < 4,
            "{slots:?}"
        );
        // Flags the kernel refuses.
        s.push_owned(vec![7; 8], |buf, sq| {
            let fds: &mut [u8; 8] = buf.first_chunk_mut().unwrap();
            sq.push(Pipe::new(fds).pipe_flags(-1).user_data(2))
        })
        .unwrap();
        let mut cqe = one(s);
        assert_eq!(cqe.res(), -libc::EINVAL);
        assert!(cqe.take_pipe().is_none(), "a failure");
        assert_eq!(cqe.take_buf(), Some(vec![7; 8]), "untouched");
    });
}

#[test]
fn a_pipe_in_a_chain_over_its_buffer_gives_none() {
    if !have_pipe() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    ring.scope(|s| {
        s.push_owned(vec![0; 8], |buf, sq| {
            let fds: &mut [u8; 8] = buf.first_chunk_mut().unwrap();
            sq.push(Pipe::new(fds).user_data(1).link(Nop::new().user_data(2)))
        })
        .unwrap();
        s.submit_and_wait(2).unwrap();
        let mut got: Vec<ScopeCqe<'_>> = s.completions().collect();
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].user_data(), got[0].res()), (1, 0));
        assert!(got[0].take_pipe().is_none(), "the buffer is not back yet");
        assert!(got[1].take_pipe().is_none(), "not the pipe's completion");
        // The buffer came back with the chain's last completion: the ends
        // are the program's to close.
        let buf = got[1].take_buf().expect("the buffer");
        let (rx, tx) = adopt(numbers(&buf));
        assert_one_pipe(rx, tx, "in a chain");
    });
}

const UNREAD: &str = "pipes_left_unread_when_the_scope_ends_are_closed";

#[test]
fn pipes_left_unread_when_the_scope_ends_are_closed() {
    if !have_pipe() {
        return;
    }
    in_own_process(UNREAD, "pipes left unread", || {
        let mut ring = Ring::new(8).unwrap();
        let before = uring_tests::open_fd_set();
        ring.scope(|s| {
            for i in 0..3 {
                push_pipe(s, 8, i);
            }
            s.submit().unwrap();
            // Three completions in the CQ, none read.
            s.wait_timeout(3, uring_tests::PATIENCE).unwrap();
            assert_eq!(s.ready(), 3);
        });
        assert_eq!(uring_tests::open_fd_set(), before, "every end closed");
        // A pipe whose completion was read but not taken stays open.
        ring.scope(|s| {
            push_pipe(s, 8, 9);
            let cqe = one(s);
            assert_eq!(cqe.res(), 0);
        });
        let new: Vec<RawFd> = uring_tests::open_fd_set()
            .difference(&before)
            .copied()
            .collect();
        assert_eq!(new.len(), 2, "an untaken pipe stays open");
        let (rx, tx) = adopt((new[0], new[1]));
        drop((rx, tx));
        assert_eq!(uring_tests::open_fd_set(), before);
    });
}

#[test]
fn the_sqe_is_the_same_whatever_holds_the_numbers() {
    let mut fds = [0 as RawFd; 2];
    let mut bytes = [0u8; 8];
    let mut ring = Ring::new(4).unwrap();
    // SAFETY: never submitted: the SQEs are only read back.
    unsafe {
        ring.push_unchecked(Pipe::new(&mut fds).user_data(5))
            .unwrap();
        ring.push_unchecked(Pipe::new(&mut bytes).user_data(5))
            .unwrap();
    }
    let sqes: Vec<sys::io_uring_sqe> = ring.pending_sqes().collect();
    let (mut a, mut b) = (sqes[0], sqes[1]);
    // SAFETY: plain integers in a union.
    let (addr_a, addr_b) = unsafe { (a.addr.addr, b.addr.addr) };
    assert_eq!(addr_a, fds.as_ptr() as u64);
    assert_eq!(addr_b, bytes.as_ptr() as u64);
    a.addr.addr = 0;
    b.addr.addr = 0;
    assert_eq!(sqe_bytes(&a), sqe_bytes(&b));
    assert_eq!(a.opcode, sys::IORING_OP_PIPE);
}

/// The 64 bytes of an SQE.
fn sqe_bytes(sqe: &sys::io_uring_sqe) -> [u8; 64] {
    // SAFETY: an SQE is 64 bytes of plain integers, with no padding.
    unsafe { std::mem::transmute_copy(sqe) }
}
