//! Rings of 128-byte SQEs, 32-byte CQEs and mixed CQEs against the kernel:
//! every op still works, big CQEs carry their extra words, and the 80-byte
//! command reaches the driver.

use std::io::Write as _;
use std::os::unix::fs::FileExt as _;
use std::time::Duration;

use uring::ops::{Nop, Read, Timeout, UringCmd80, UringCmd80Fixed, Write};
use uring::{
    Builder, Cmd80, Cqe16, Cqe32, CqeMixed, CqeSize, Ring, Sqe64, Sqe128, SqeSize, UringCmdOp,
};
use uring_tests::{pattern, require_kernel, skip};

/// Pushes `n` NOPs from `first` on through a ring of any sizes, submits,
/// and returns their `(user_data, res)` in completion order.
fn nops<S: SqeSize, C: CqeSize>(ring: &mut Ring<S, C>, first: u64, n: u64) -> Vec<(u64, i32)> {
    for i in first..first + n {
        ring.push(Nop::new().user_data(i)).unwrap();
    }
    ring.submit_and_wait(n as u32).unwrap();
    ring.completions()
        .map(|c| (c.as_ref().user_data(), c.as_ref().res()))
        .collect()
}

fn expect(first: u64, n: u64) -> Vec<(u64, i32)> {
    (first..first + n).map(|i| (i, 0)).collect()
}

/// Around a ring of these sizes several times, plus a read and a write
/// through a file: ops that name memory land where the kernel reads them.
fn exercise<S: SqeSize, C: CqeSize>(mut ring: Ring<S, C>) {
    for round in 0..6 {
        assert_eq!(nops(&mut ring, round * 8, 8), expect(round * 8, 8));
    }
    let mut file = tempfile::tempfile().unwrap();
    let data = pattern(3000, 9);
    file.write_all(&data).unwrap();
    let mut back = vec![0u8; 1000];
    let out = pattern(500, 77);
    // SAFETY: the buffers and the file outlive the ops, reaped below.
    unsafe {
        ring.push_unchecked(Read::new(&file, &mut back[..]).offset(1000).user_data(1))
            .unwrap();
        ring.push_unchecked(Write::new(&file, &out[..]).offset(5000).user_data(2))
            .unwrap();
    }
    ring.submit_and_wait(2).unwrap();
    let mut got: Vec<_> = ring
        .completions()
        .map(|c| (c.as_ref().user_data(), c.as_ref().res()))
        .collect();
    got.sort();
    assert_eq!(got, [(1, 1000), (2, 500)]);
    assert_eq!(back, data[1000..2000]);
    let mut check = [0u8; 500];
    file.read_exact_at(&mut check, 5000).unwrap();
    assert_eq!(check[..], out[..]);
    // A chain with a link timeout: three SQEs in a row, wrapping too.
    for i in 0..5 {
        ring.push(
            Timeout::new(Duration::from_millis(1))
                .user_data(100 + i)
                .timeout_with(Duration::from_secs(10), 200 + i),
        )
        .unwrap();
        ring.submit_and_wait(2).unwrap();
        let mut got: Vec<_> = ring
            .completions()
            .map(|c| (c.as_ref().user_data(), c.as_ref().res()))
            .collect();
        got.sort();
        assert_eq!(got, [(100 + i, -libc::ETIME), (200 + i, -libc::ECANCELED)]);
    }
}

#[test]
fn every_combination_of_sizes_runs_ops() {
    let _watch = uring_tests::watchdog();
    exercise(Builder::new().build_sized::<Sqe128, Cqe32>(8).unwrap());
    exercise(Builder::new().build_sized::<Sqe128, Cqe16>(8).unwrap());
    exercise(Builder::new().build_sized::<Sqe64, Cqe32>(8).unwrap());
    exercise(Builder::new().build_sized::<Sqe64, Cqe16>(8).unwrap());
    if require_kernel(6, 18, "IORING_SETUP_CQE_MIXED") {
        exercise(Builder::new().build_sized::<Sqe128, CqeMixed>(8).unwrap());
    }
}

#[test]
fn a_32_byte_cqe_carries_what_the_nop_put_in_it() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "IORING_NOP_CQE32") {
        return;
    }
    let mut ring = Builder::new().build_sized::<Sqe64, Cqe32>(8).unwrap();
    ring.push(Nop::new().user_data(1).big_cqe([0xdead, 0xbeef]))
        .unwrap();
    ring.push(Nop::new().user_data(2)).unwrap();
    ring.submit_and_wait(2).unwrap();
    let got: Vec<_> = ring
        .completions()
        .map(|c| (c.user_data(), c.res(), c.big_cqe(), c.is_big()))
        .collect();
    assert_eq!(got, [(1, 0, [0xdead, 0xbeef], true), (2, 0, [0, 0], true)]);
    // A NOP asking for a big CQE on a ring of 16-byte CQEs fails.
    let mut small = Ring::new(4).unwrap();
    small.push(Nop::new().user_data(3).big_cqe([1, 2])).unwrap();
    small.submit_and_wait(1).unwrap();
    let cqe = small.completions().next().unwrap();
    assert_eq!((cqe.user_data(), cqe.res()), (3, -libc::EINVAL));
}

#[test]
fn a_mixed_cq_hands_out_small_and_big_completions_in_order() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "IORING_SETUP_CQE_MIXED") {
        return;
    }
    let mut ring = Builder::new()
        .cq_entries(8)
        .build_sized::<Sqe64, CqeMixed>(4)
        .unwrap();
    let mut got = Vec::new();
    // Small and big CQEs interleaved, many times around a CQ of 8 slots:
    // big ones that would straddle its end come after padding.
    for round in 0..20u64 {
        let big = round % 3 != 0;
        let ud = round * 2;
        let op = if big {
            Nop::new().user_data(ud).big_cqe([ud, !ud])
        } else {
            Nop::new().user_data(ud)
        };
        ring.push(op).unwrap();
        ring.push(Nop::new().user_data(ud + 1).big_cqe([ud + 1, 7]))
            .unwrap();
        ring.submit_and_wait(2).unwrap();
        for cqe in ring.completions() {
            got.push((cqe.user_data(), cqe.is_big(), cqe.big_cqe()));
        }
    }
    let want: Vec<_> = (0..20u64)
        .flat_map(|round| {
            let ud = round * 2;
            let first = if round % 3 != 0 {
                (ud, true, [ud, !ud])
            } else {
                (ud, false, [0, 0])
            };
            [first, (ud + 1, true, [ud + 1, 7])]
        })
        .collect();
    assert_eq!(got, want);
}

#[test]
fn peek_and_advance_count_completions_on_a_mixed_cq() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "IORING_SETUP_CQE_MIXED") {
        return;
    }
    let mut ring = Builder::new().build_sized::<Sqe64, CqeMixed>(8).unwrap();
    ring.push(Nop::new().user_data(1).big_cqe([5, 6])).unwrap();
    ring.push(Nop::new().user_data(2)).unwrap();
    ring.push(Nop::new().user_data(3).big_cqe([7, 8])).unwrap();
    ring.submit_and_wait(3).unwrap();
    let first = ring.peek().unwrap();
    assert_eq!((first.user_data(), first.big_cqe()), (1, [5, 6]));
    let mut out = [first; 3];
    assert_eq!(ring.peek_batch(&mut out), 3);
    let uds: Vec<_> = out.iter().map(|c| c.user_data()).collect();
    assert_eq!(uds, [1, 2, 3]);
    // Three completions in five slots: advancing two leaves the third.
    assert_eq!(ring.advance(2), 2);
    let rest: Vec<_> = ring
        .completions()
        .map(|c| (c.user_data(), c.big_cqe()))
        .collect();
    assert_eq!(rest, [(3, [7, 8])]);
    assert_eq!(ring.advance(1), 0, "nothing left");
}

/// A command over a registered buffer (`IORING_URING_CMD_FIXED`) reaches
/// the driver as a plain one does: `/dev/null` completes it with 0, a
/// regular file has no command handler (`EOPNOTSUPP`).
#[test]
fn an_80_byte_command_over_a_registered_buffer_reaches_the_driver() {
    let _watch = uring_tests::watchdog();
    let mut ring = Builder::new().build_sized::<Sqe128, Cqe32>(4).unwrap();
    let mut region = vec![0u8; 4096];
    // SAFETY: `region` outlives the ring, dropped first below.
    let bufs = unsafe { ring.register_buffers(&[std::io::IoSliceMut::new(&mut region[..])]) }
        .expect("a registered buffer");
    let index = bufs.get(0).unwrap();
    let null = std::fs::File::open("/dev/null").unwrap();
    let plain = tempfile::tempfile().unwrap();
    // SAFETY: the command names no memory, and /dev/null runs none.
    let (op, cmd) = unsafe { (UringCmdOp::new(0), || Cmd80::from_bytes([0x5a; 80])) };
    // SAFETY: the files and the buffer outlive the ops, reaped below.
    unsafe {
        ring.push_unchecked(UringCmd80Fixed::new(&null, op, cmd(), index).user_data(9))
            .unwrap();
        ring.push_unchecked(UringCmd80Fixed::new(&plain, op, cmd(), index).user_data(10))
            .unwrap();
    }
    ring.submit_and_wait(2).unwrap();
    let mut got: Vec<_> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    got.sort();
    assert_eq!(got, [(9, 0), (10, -libc::EOPNOTSUPP)]);
    drop(ring);
    drop(region);
}

#[test]
fn an_80_byte_command_reaches_the_driver() {
    let _watch = uring_tests::watchdog();
    let mut ring = Builder::new().build_sized::<Sqe128, Cqe32>(4).unwrap();
    // /dev/null takes any command and completes it with 0; a regular file
    // has no command handler (EOPNOTSUPP). Either way the ring goes on.
    let null = std::fs::File::open("/dev/null").unwrap();
    let plain = tempfile::tempfile().unwrap();
    // SAFETY: the command names no memory, and /dev/null runs none.
    let (op, cmd) = unsafe { (UringCmdOp::new(0), || Cmd80::from_bytes([0x5a; 80])) };
    // SAFETY: the file outlives the op, reaped below.
    unsafe {
        ring.push_unchecked(UringCmd80::new(&null, op, cmd()).user_data(9))
            .unwrap();
        ring.push_unchecked(UringCmd80::new(&plain, op, cmd()).user_data(10))
            .unwrap();
    }
    ring.submit_and_wait(2).unwrap();
    let mut got: Vec<_> = ring
        .completions()
        .map(|c| (c.user_data(), c.res()))
        .collect();
    got.sort();
    assert_eq!(got, [(9, 0), (10, -libc::EOPNOTSUPP)]);
    assert_eq!(nops(&mut ring, 20, 4), expect(20, 4));
    match std::fs::read_dir("/dev")
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("ng"))
    {
        Some(dev) => skip(format_args!(
            "an NVMe generic device ({}) is present, but reading it is left to the nvme example",
            dev.path().display()
        )),
        None => skip("no NVMe generic device (/dev/ngXnY) to send a passthrough read to"),
    }
}

/// `for_each` reads completions of every size once and in order, round the
/// CQ several times (32-byte ones by runs of slots, mixed ones one by one).
#[test]
fn for_each_reads_every_size_of_completion_in_order() {
    fn rounds<S: SqeSize, C: CqeSize>(mut ring: Ring<S, C>) {
        for round in 0..7u64 {
            let n = 1 + round % 8;
            for i in 0..n {
                ring.push(Nop::new().user_data(100 * round + i)).unwrap();
            }
            ring.submit_and_wait(n as u32).unwrap();
            let mut got = Vec::new();
            ring.completions()
                .for_each(|c| got.push((c.as_ref().user_data(), c.as_ref().res())));
            assert_eq!(got, expect(100 * round, n));
            assert_eq!(ring.ready(), 0);
        }
    }
    let _watch = uring_tests::watchdog();
    rounds(Builder::new().build_sized::<Sqe64, Cqe16>(8).unwrap());
    rounds(Builder::new().build_sized::<Sqe64, Cqe32>(8).unwrap());
    if require_kernel(6, 18, "mixed CQEs") {
        rounds(Builder::new().build_sized::<Sqe64, CqeMixed>(8).unwrap());
    }
}
