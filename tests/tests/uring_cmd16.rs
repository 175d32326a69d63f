//! `UringCmd16`: a driver command (`URING_CMD`) whose 16-byte command area
//! (`sqe->cmd`, the last 16 bytes of a 64-byte SQE) reaches the driver.
//!
//! Files whose driver has no commands refuse it (`/dev/null` runs any
//! command, doing nothing); a TCP socket runs its queue commands, which
//! read nothing of the area; a block device's discard, which takes its
//! length from the area's first 8 bytes (`sqe->addr3`), discards as many
//! bytes as those bytes say, on rings of 64- and 128-byte SQEs alike.

use std::fs::File;
use std::io::Write as _;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::fs::FileExt as _;
use std::os::unix::net::UnixStream;

use uring::ops::{UringCmd, UringCmd16};
use uring::{Cmd16, Cqe16, Ring, Sqe128, UringCmdOp, sys};
use uring_tests::{
    PATIENCE, aligned_blocks, block_bytes, by_user_data, complete, pattern, push_lent,
    require_kernel, require_op, submit_and_reap,
};

/// `SOCKET_URING_OP_SIOCINQ`: the bytes a socket has to read.
// SAFETY: the socket command reads no memory and no other SQE field.
const SIOCINQ: UringCmdOp = unsafe { UringCmdOp::new(sys::SOCKET_URING_OP_SIOCINQ) };
/// `SOCKET_URING_OP_SIOCOUTQ`: the bytes a socket has yet to send.
// SAFETY: as above.
const SIOCOUTQ: UringCmdOp = unsafe { UringCmdOp::new(sys::SOCKET_URING_OP_SIOCOUTQ) };
/// A number no driver of the files below gives a meaning.
// SAFETY: the files it is sent to (a regular file, a pipe, a socket) have
// no command of this number: they refuse it; `/dev/null` does nothing with
// any command.
const UNKNOWN: UringCmdOp = unsafe { UringCmdOp::new(0x7777) };

/// A command area of 16 recognisable bytes, for a command that reads none
/// of them.
fn junk_area<'a>() -> Cmd16<'a> {
    // SAFETY: sent only with commands (and to files) that read nothing
    // of the area, or refuse it before any driver sees it.
    unsafe { Cmd16::from_bytes(std::array::from_fn(|i| 0xe0 | i as u8)) }
}

/// Ring of the default sizes, or `None` (with a skip) where the kernel has
/// no `URING_CMD`.
fn ring() -> Option<Ring> {
    let ring = Ring::new(8).unwrap();
    require_op::<UringCmd16<'_>>(&ring).then_some(ring)
}

/// A regular file (here on ext4 or tmpfs) and a pipe have no driver
/// commands: the command fails with `EOPNOTSUPP`; `/dev/null` takes every
/// command and does nothing (Linux 6.18 gives it a `uring_cmd` that
/// completes with 0). Through a descriptor and through a registered file
/// alike, whatever the area holds.
#[test]
fn files_without_commands_refuse_it_and_dev_null_takes_any() {
    let Some(mut ring) = ring() else { return };
    let null = File::open("/dev/null").unwrap();
    let file = tempfile::tempfile().unwrap();
    let (pipe_r, _pipe_w) = uring_tests::pipe();
    let files = ring
        .register_files(&[null.as_fd(), file.as_fd(), pipe_r.as_fd()])
        .unwrap();
    for (user_data, target) in [(1, null.as_fd()), (2, file.as_fd()), (3, pipe_r.as_fd())] {
        push_lent!(
            ring,
            UringCmd16::new(target, UNKNOWN, junk_area()).user_data(user_data)
        )
        .unwrap();
    }
    for slot in 0..3 {
        push_lent!(
            ring,
            UringCmd16::new(files.get(slot).unwrap(), SIOCINQ, junk_area())
                .user_data(10 + u64::from(slot))
        )
        .unwrap();
    }
    let cqes = submit_and_reap(&mut ring, 6);
    let by = by_user_data(&cqes);
    for user_data in [1, 10] {
        assert_eq!(by[&user_data].res(), 0, "/dev/null: {cqes:?}");
    }
    for user_data in [2, 3, 11, 12] {
        assert_eq!(
            by[&user_data].res(),
            -libc::EOPNOTSUPP,
            "no driver commands ({user_data}): {cqes:?}"
        );
    }
}

/// A command to a descriptor that is no open file fails with `EBADF`.
#[test]
fn a_closed_descriptor_is_ebadf() {
    let Some(mut ring) = ring() else { return };
    let op = UringCmd16::new(uring_tests::bad_fd(), SIOCINQ, junk_area()).user_data(4);
    push_lent!(ring, op).unwrap();
    let cqe = submit_and_reap(&mut ring, 1)[0];
    assert_eq!((cqe.user_data(), cqe.res()), (4, -libc::EBADF));
}

/// A TCP socket's queue commands (6.7) read nothing of the area: with 16
/// bytes of junk there they answer as `UringCmd` does, with the bytes
/// waiting to be read, and none waiting to be sent by a socket that sent
/// nothing; an unknown socket command fails with `EOPNOTSUPP`, as does
/// `SIOCINQ` on a Unix socket, whose protocol has no `ioctl`. In a scope as
/// outside one.
#[test]
fn socket_queue_commands_ignore_the_area() {
    let Some(mut ring) = ring() else { return };
    if !require_kernel(6, 7, "socket commands") {
        return;
    }
    let (client, server) = uring_tests::tcp_pair();
    (&client).write_all(b"sixteen bytes!!!").unwrap();
    wait_readable(server.as_fd());
    let (unix, _peer) = UnixStream::pair().unwrap();
    push_lent!(
        ring,
        UringCmd16::new(&server, SIOCINQ, junk_area()).user_data(1)
    )
    .unwrap();
    push_lent!(ring, UringCmd::new(&server, SIOCINQ).user_data(2)).unwrap();
    push_lent!(
        ring,
        UringCmd16::new(&server, SIOCOUTQ, junk_area()).user_data(3)
    )
    .unwrap();
    push_lent!(
        ring,
        UringCmd16::new(&server, UNKNOWN, junk_area()).user_data(4)
    )
    .unwrap();
    push_lent!(
        ring,
        UringCmd16::new(&unix, SIOCINQ, junk_area()).user_data(5)
    )
    .unwrap();
    let cqes = submit_and_reap(&mut ring, 5);
    let by = by_user_data(&cqes);
    assert_eq!(by[&1].res(), 16, "SIOCINQ with 16 bytes unread: {cqes:?}");
    assert_eq!(by[&2].res(), 16, "the same without an area: {cqes:?}");
    assert_eq!(by[&3].res(), 0, "SIOCOUTQ, nothing sent: {cqes:?}");
    assert_eq!(by[&4].res(), -libc::EOPNOTSUPP, "unknown: {cqes:?}");
    assert_eq!(by[&5].res(), -libc::EOPNOTSUPP, "a Unix socket: {cqes:?}");

    let cqe = complete(
        &mut ring,
        UringCmd16::new(&server, SIOCINQ, junk_area()).user_data(6),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (6, 16), "in a scope");
}

/// Waits until `fd` is readable.
fn wait_readable(fd: BorrowedFd<'_>) {
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid pollfd.
    let rc = unsafe { libc::poll(&mut pfd, 1, PATIENCE.as_millis() as i32) };
    assert_eq!(rc, 1, "poll: {rc} {}", std::io::Error::last_os_error());
}

// ---------------------------------------------------------------------------
// A command that reads the area: a block device's discard.
// ---------------------------------------------------------------------------

/// The logical block size of the loop device.
const LBA: usize = uring_tests::block::LBA as usize;
/// The size of the loop device.
const LOOP_BYTES: u64 = 1 << 20;

/// `BLOCK_URING_CMD_DISCARD` sent as a raw command: the kernel takes the
/// range's start from `sqe->addr` (0 here: `UringCmd16` leaves it zero)
/// and its length from `sqe->addr3`, the first 8 bytes of the area.
// SAFETY: a discard reads and writes no memory of the program's; it is
// sent only to the test's own loop device, whose blocks it may drop.
const DISCARD: UringCmdOp = unsafe { UringCmdOp::new(sys::BLOCK_URING_CMD_DISCARD) };

/// A discard of the first `len` bytes of the device, the length in the
/// area's first 8 bytes and junk in its last 8 (`__pad2`, which the
/// block driver does not read).
fn discard_area<'a>(len: u64) -> Cmd16<'a> {
    let mut bytes = [0x5a; 16];
    bytes[..8].copy_from_slice(&len.to_ne_bytes());
    // SAFETY: with `DISCARD`, the driver reads the length and no address.
    unsafe { Cmd16::from_bytes(bytes) }
}

/// Writes `blocks` blocks of a pattern at the start of `device`.
fn fill(device: &File, blocks: usize) {
    let mut buf = aligned_blocks((blocks * LBA).div_ceil(4096) * 4096);
    let bytes = &mut block_bytes(&mut buf)[..blocks * LBA];
    bytes.copy_from_slice(&pattern(blocks * LBA, 7));
    for b in bytes.chunks_mut(LBA) {
        b[0] = 0xff;
    }
    device.write_all_at(bytes, 0).unwrap();
}

/// Which of the first `blocks` blocks of `device` read back as zeros.
fn zeroed(device: &File, blocks: usize) -> Vec<bool> {
    let mut buf = aligned_blocks((blocks * LBA).div_ceil(4096) * 4096);
    let bytes = &mut block_bytes(&mut buf)[..blocks * LBA];
    device.read_exact_at(bytes, 0).unwrap();
    bytes
        .chunks(LBA)
        .map(|b| b.iter().all(|&x| x == 0))
        .collect()
}

/// The length in the area reaches the block driver: a discard of 3
/// blocks zeroes blocks 0 to 2 and leaves block 3; one of a length that is
/// not a whole number of blocks, or of length 0, fails with `EINVAL`. Through a descriptor and a
/// registered file, on rings of 64-byte SQEs and of 128-byte SQEs (where
/// the area is the first 16 of the 80 bytes, the rest zero).
#[test]
fn a_block_discard_takes_its_length_from_the_area() {
    let _watch = uring_tests::watchdog();
    let dir = uring_tests::test_dir!();
    let Some(mut ring) = ring() else { return };
    if !require_kernel(6, 12, "block device commands") {
        return;
    }
    let Some((_, device)) = uring_tests::block::loop_device(dir.path(), LOOP_BYTES, libc::O_DIRECT)
    else {
        return;
    };
    let files = ring.register_files(&[device.as_fd()]).unwrap();

    fill(&device, 8);
    let cqe = complete(
        &mut ring,
        UringCmd16::new(&device, DISCARD, discard_area(3 * LBA as u64)).user_data(1),
    );
    assert_eq!((cqe.user_data(), cqe.res()), (1, 0), "{cqe:?}");
    assert_eq!(
        zeroed(&device, 8),
        [true, true, true, false, false, false, false, false],
        "blocks 0 to 2 discarded"
    );

    fill(&device, 8);
    push_lent!(
        ring,
        UringCmd16::new(files.get(0).unwrap(), DISCARD, discard_area(5 * LBA as u64)).user_data(2)
    )
    .unwrap();
    push_lent!(
        ring,
        UringCmd16::new(&device, DISCARD, discard_area(LBA as u64 + 1)).user_data(3)
    )
    .unwrap();
    push_lent!(
        ring,
        UringCmd16::new(&device, DISCARD, discard_area(0)).user_data(4)
    )
    .unwrap();
    let cqes = submit_and_reap(&mut ring, 3);
    let by = by_user_data(&cqes);
    assert_eq!(by[&2].res(), 0, "through a registered file: {cqes:?}");
    assert_eq!(by[&3].res(), -libc::EINVAL, "a part of a block: {cqes:?}");
    assert_eq!(by[&4].res(), -libc::EINVAL, "nothing: {cqes:?}");
    assert_eq!(
        zeroed(&device, 8),
        [true, true, true, true, true, false, false, false],
        "blocks 0 to 4 discarded"
    );

    let mut big = uring::Builder::new()
        .build_sized::<Sqe128, Cqe16>(4)
        .expect("a ring of 128-byte SQEs");
    fill(&device, 8);
    // SAFETY: the device outlives the op, reaped below.
    unsafe {
        big.push_unchecked(
            UringCmd16::new(&device, DISCARD, discard_area(2 * LBA as u64)).user_data(5),
        )
    }
    .unwrap();
    big.submit_and_wait(1).unwrap();
    let cqe = big.completions().next().expect("the discard");
    assert_eq!((cqe.user_data(), cqe.res()), (5, 0), "{cqe:?}");
    assert_eq!(
        zeroed(&device, 8),
        [true, true, false, false, false, false, false, false],
        "blocks 0 and 1 discarded on a ring of 128-byte SQEs"
    );
}
