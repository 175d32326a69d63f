//! Provided-buffer rings whose descriptor ring the kernel allocates
//! (`IOU_PBUF_RING_MMAP`, 6.4), plain and incremental, and the kernel's
//! head of any buffer group (`IORING_REGISTER_PBUF_STATUS`, 6.8): ops
//! select buffers through the mapped descriptors, claimed buffers come
//! back, two groups map their own rings, a group id the mmap offset cannot
//! hold is refused, and dropping a ring under an op that took a buffer
//! leaves the op faulting instead of writing into reused memory.

use std::io::Write as _;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::Instant;

use uring::ops::{Read, Recv};
use uring::sys::fault::{self, Call};
use uring::{BufRing, BufferGroup, Error, Ring, SqeFlags, sys};
use uring_tests::{PATIENCE, mmap_buf_ring, push_lent, reap_one, require_kernel};

/// Waits until the kernel's head of `pool` reaches `head`: an op in flight
/// took a buffer. Panics after [`PATIENCE`].
fn wait_for_head(pool: &BufRing, head: u16) {
    let deadline = Instant::now() + PATIENCE;
    while pool.head().unwrap() != head {
        assert!(Instant::now() < deadline, "the kernel took no buffer");
        std::thread::yield_now();
    }
}

/// A receive and a file read select buffers of a ring the kernel
/// allocated: the completions name buffers of the ring, in ring order, and
/// the bytes are in the buffers claimed.
#[test]
fn a_kernel_allocated_ring_fills_the_buffers_ops_select() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = mmap_buf_ring(&mut ring, 1, 4, 32, false) else {
        return;
    };
    assert_eq!((pool.count(), pool.buf_len(), pool.lent()), (4, 32, 0));
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"through the kernel's ring").unwrap();
    let got = ring.scope(|s| {
        s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!((cqe.res(), cqe.buffer_id()), (25, Some(0)), "{cqe:?}");
        let buf = pool.claim(&mut cqe).unwrap();
        assert_eq!(buf.capacity(), 32);
        (buf.bid(), buf.to_vec())
    });
    assert_eq!(got, (0, b"through the kernel's ring".to_vec()));
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(b"0123456789abcdefghijklmnopqrstuvwxyz0123456789")
        .unwrap();
    push_lent!(
        ring,
        Read::new(&file, pool.select()).offset(10).user_data(2)
    )
    .unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.res(), cqe.buffer_id()), (32, Some(1)), "{cqe:?}");
    // SAFETY: the kernel posted `cqe` for this read, which selected from
    // the pool's group on this ring.
    let buf = unsafe { pool.claim_unchecked(&cqe) }.unwrap();
    assert_eq!(&buf[..], b"abcdefghijklmnopqrstuvwxyz012345");
}

/// Ten times as many receives as the ring has buffers: only buffers given
/// back through the kernel's descriptors keep it going; the kernel's head
/// counts every buffer it took.
#[test]
fn kernel_allocated_buffers_come_back_for_many_more_ops_than_the_ring_holds() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = mmap_buf_ring(&mut ring, 2, 4, 16, false) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut seen = Vec::new();
    ring.scope(|s| {
        for i in 0..40u8 {
            let msg = [i; 5];
            tx.write_all(&msg).unwrap();
            s.push(Recv::new(&rx, pool.select()).user_data(u64::from(i)))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            assert_eq!((cqe.user_data(), cqe.res()), (u64::from(i), 5));
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!(&buf[..], &msg);
            assert_eq!(pool.lent(), 1);
            seen.push(buf.bid());
        }
    });
    assert_eq!(pool.lent(), 0);
    assert_eq!(&seen[..4], [0, 1, 2, 3]);
    assert!(seen.iter().all(|&b| b < 4), "{seen:?}");
    if uring_tests::has_pbuf_status() {
        assert_eq!(pool.head().unwrap(), 40);
        assert_eq!(pool.available().unwrap(), 4);
    }
}

/// An incremental ring the kernel allocates: receives take consecutive
/// pieces of the buffer at the head, named with `BUF_MORE`, until the
/// kernel lets go of it and moves on to the next.
#[test]
fn an_incremental_kernel_allocated_ring_hands_out_consecutive_pieces() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = mmap_buf_ring(&mut ring, 3, 2, 32, true) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    ring.scope(|s| {
        let mut held = Vec::new();
        for (i, piece) in [b"0123456789", b"abcdefghij", b"ABCDEFGHIJ"]
            .iter()
            .enumerate()
        {
            tx.write_all(*piece).unwrap();
            s.push(Recv::new(&rx, pool.select()).user_data(i as u64))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            assert_eq!((cqe.res(), cqe.buffer_id()), (10, Some(0)), "{cqe:?}");
            assert_ne!(cqe.flags() & sys::IORING_CQE_F_BUF_MORE, 0, "{cqe:?}");
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!((buf.bid(), buf.offset(), &buf[..]), (0, 10 * i, &piece[..]));
            held.push(buf);
        }
        // Two bytes are left of buffer 0: the kernel lets go of it there.
        tx.write_all(b"xyz").unwrap();
        s.push(Recv::new(&rx, pool.select()).user_data(3)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!((cqe.res(), cqe.buffer_id()), (2, Some(0)), "{cqe:?}");
        assert_eq!(cqe.flags() & sys::IORING_CQE_F_BUF_MORE, 0, "{cqe:?}");
        let last = pool.claim(&mut cqe).unwrap();
        assert_eq!((last.offset(), &last[..]), (30, &b"xy"[..]));
        // The rest goes to buffer 1, from its start.
        s.push(Recv::new(&rx, pool.select()).user_data(4)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!((cqe.res(), cqe.buffer_id()), (1, Some(1)), "{cqe:?}");
        let next = pool.claim(&mut cqe).unwrap();
        assert_eq!((next.offset(), &next[..]), (0, &b"z"[..]));
        drop(next);
        assert_eq!(pool.lent(), 1, "buffer 1 stays with the kernel");
        drop(last);
        held.clear();
        assert_eq!(pool.lent(), 0);
        if uring_tests::has_pbuf_status() {
            // Buffer 0 used up; buffer 1 is still at the head.
            assert_eq!(pool.head().unwrap(), 1);
        }
        // Buffer 0, back in the ring behind buffer 1, is filled again
        // from its start once buffer 1 is used up.
        tx.write_all(&[7; 31]).unwrap();
        s.push(Recv::new(&rx, pool.select()).user_data(5)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!((cqe.res(), cqe.buffer_id()), (31, Some(1)), "{cqe:?}");
        let rest = pool.claim(&mut cqe).unwrap();
        assert_eq!((rest.offset(), rest.len()), (1, 31));
        drop(rest);
        tx.write_all(b"again").unwrap();
        s.push(Recv::new(&rx, pool.select()).user_data(6)).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        assert_eq!((cqe.res(), cqe.buffer_id()), (5, Some(0)), "{cqe:?}");
        let again = pool.claim(&mut cqe).unwrap();
        assert_eq!((again.offset(), &again[..]), (0, &b"again"[..]));
    });
}

/// A receive forced into an io-wq worker takes a buffer of a ring the
/// kernel allocated (its head moves) and waits for data; the ring is
/// dropped. The data then arrives: the receive fails with `EFAULT`, its
/// buffer's addresses having no memory behind them, and memory allocated
/// since is untouched. Plain and incremental.
#[test]
fn dropping_a_kernel_allocated_ring_under_a_receive_that_took_a_buffer_faults() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    for (group, incremental) in [(4, false), (5, true)] {
        let mut ring = Ring::new(8).unwrap();
        let Some(pool) = mmap_buf_ring(&mut ring, group, 1, 4096, incremental) else {
            return;
        };
        let (mut tx, rx) = UnixStream::pair().unwrap();
        let cqe = ring.scope(|s| {
            s.push(
                Recv::new(&rx, pool.select())
                    .flags(SqeFlags::ASYNC)
                    .user_data(1),
            )
            .unwrap();
            s.submit().unwrap();
            wait_for_head(&pool, 1);
            drop(pool);
            // Memory allocated now must not be where the buffer was.
            let fresh: Vec<Vec<u8>> = (0..64).map(|_| vec![0x5a; 4096]).collect();
            tx.write_all(b"after the ring went").unwrap();
            s.wait_timeout(1, PATIENCE).unwrap();
            let cqe = s.completions().next().unwrap().cqe();
            assert!(fresh.iter().all(|v| v.iter().all(|&b| b == 0x5a)));
            cqe
        });
        assert_eq!((cqe.user_data(), cqe.res()), (1, -libc::EFAULT), "{cqe:?}");
        // The group is gone from the kernel.
        assert_eq!(
            ring.buf_ring_head(BufferGroup::new(group))
                .unwrap_err()
                .raw_os_error(),
            Some(libc::ENOENT)
        );
    }
}

/// A receive waiting for data when a ring the kernel allocated is dropped
/// has taken no buffer: it finds the group gone (`ENOBUFS`).
#[test]
fn a_receive_waiting_when_a_kernel_allocated_ring_goes_finds_no_buffer() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = mmap_buf_ring(&mut ring, 6, 2, 16, false) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let cqe = ring.scope(|s| {
        s.push(Recv::new(&rx, pool.select()).user_data(1)).unwrap();
        s.submit().unwrap();
        drop(pool);
        tx.write_all(b"late").unwrap();
        s.wait_timeout(1, PATIENCE).unwrap();
        s.completions().next().unwrap().cqe()
    });
    assert_eq!((cqe.user_data(), cqe.res()), (1, -libc::ENOBUFS));
}

/// Two rings the kernel allocates, and one the library does, on one ring:
/// each group's ops get that group's buffers (their length bounds the
/// receive, their bytes are claimed from that pool), and the kernel's head
/// of each moves only for its own ops.
#[test]
fn two_kernel_allocated_groups_map_their_own_rings() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(small) = mmap_buf_ring(&mut ring, 10, 2, 8, false) else {
        return;
    };
    let Some(large) = mmap_buf_ring(&mut ring, 2047, 4, 64, false) else {
        return;
    };
    let mid = ring.register_buf_ring(BufferGroup::new(11), 2, 24).unwrap();
    assert!(!mid.is_mmap());
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut received = Vec::new();
    ring.scope(|s| {
        for (i, pool) in [&large, &small, &mid, &large, &small].iter().enumerate() {
            tx.write_all(&[i as u8; 40]).unwrap();
            s.push(Recv::new(&rx, pool.select()).user_data(i as u64))
                .unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            let want = 40.min(pool.buf_len()) as i32;
            assert_eq!(cqe.res(), want, "{cqe:?}");
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!(
                (buf.capacity(), buf.len()),
                (pool.buf_len() as usize, want as usize)
            );
            received.push((pool.group().id(), buf.bid(), buf.to_vec()));
            // A stream: drain what the buffer could not take.
            let mut rest = vec![0; 40 - want as usize];
            std::io::Read::read_exact(&mut &rx, &mut rest).unwrap();
        }
    });
    let expect = |i: u8, group: u16, bid: u16, len: usize| (group, bid, vec![i; len]);
    assert_eq!(
        received,
        [
            expect(0, 2047, 0, 40),
            expect(1, 10, 0, 8),
            expect(2, 11, 0, 24),
            expect(3, 2047, 1, 40),
            expect(4, 10, 1, 8),
        ]
    );
    if uring_tests::has_pbuf_status() {
        for (group, head) in [(10, 2), (2047, 2), (11, 1)] {
            assert_eq!(ring.buf_ring_head(BufferGroup::new(group)).unwrap(), head);
        }
    }
}

/// The mmap offset holds 11 bits of a group's id: a ring the kernel would
/// allocate for group 2048 or above is refused before the kernel sees it
/// (the offset of group 0x800a names group 10's ring, which it would map),
/// and the group stays free; the library's own rings take any id.
#[test]
fn group_ids_the_mmap_offset_cannot_hold_are_refused() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(ten) = mmap_buf_ring(&mut ring, 10, 1, 8, false) else {
        return;
    };
    for id in [2048, 0x800a, u16::MAX] {
        let refused = ring.register_buf_ring_mmap(BufferGroup::new(id), 1, 8);
        assert!(
            matches!(refused, Err(Error::InvalidArgument(_))),
            "{id:#x}: {refused:?}"
        );
        let refused = ring.register_buf_ring_incremental_mmap(BufferGroup::new(id), 1, 8);
        assert!(
            matches!(refused, Err(Error::InvalidArgument(_))),
            "{id:#x}: {refused:?}"
        );
    }
    // What the kernel maps at group 0x800a's offset is group 10's ring.
    let offset = sys::IORING_OFF_PBUF_RING | (0x800a_i64 << sys::IORING_OFF_PBUF_SHIFT);
    // SAFETY: a fresh shared mapping of a page of the ring, chosen by the
    // kernel; only read below, and unmapped before the ring goes.
    let alias = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ,
            libc::MAP_SHARED,
            ring.as_raw_fd(),
            offset,
        )
    };
    assert_ne!(
        alias,
        libc::MAP_FAILED,
        "{}",
        std::io::Error::last_os_error()
    );
    // The tail (the first descriptor's last two bytes): ring 10's one
    // buffer, provided.
    // SAFETY: the mapping is a page long; the tail is its bytes 14..16.
    let tail = unsafe { std::ptr::read_volatile(alias.cast::<u8>().add(14).cast::<u16>()) };
    assert_eq!(tail, 1);
    // SAFETY: the mapping made above, no longer read.
    assert_eq!(unsafe { libc::munmap(alias, 4096) }, 0);
    drop(ten);
    // Free: the library's ring takes the id.
    let pool = ring
        .register_buf_ring(BufferGroup::new(0x800a), 1, 8)
        .unwrap();
    assert!(!pool.is_mmap());
}

/// A ring set up with `IORING_SETUP_NO_MMAP` (its rings in the program's
/// memory) still takes a buffer ring the kernel allocates, mapped from its
/// descriptor: the kernel allocates that memory whatever the setup (since
/// 6.7; earlier kernels refuse the mapping).
#[test]
fn a_ring_set_up_without_mmap_takes_a_kernel_allocated_buffer_ring() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(
        6,
        7,
        "buffer rings mapped from a ring set up with IORING_SETUP_NO_MMAP",
    ) {
        return;
    }
    let mut ring = Ring::builder().no_mmap().build(8).unwrap();
    let Some(pool) = mmap_buf_ring(&mut ring, 1, 2, 16, false) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    for i in 0..6u8 {
        tx.write_all(&[i; 3]).unwrap();
        let got = ring.scope(|s| {
            s.push(Recv::new(&rx, pool.select())).unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            pool.claim(&mut cqe).unwrap().to_vec()
        });
        assert_eq!(got, [i; 3]);
    }
}

/// A ring without a descriptor has nothing to map the kernel's
/// descriptors from: `EBADF`, and the group stays free.
#[test]
fn a_ring_without_a_descriptor_cannot_map_a_kernel_allocated_ring() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 5, "rings without a descriptor (REGISTERED_FD_ONLY)") {
        return;
    }
    let mut ring = match Ring::builder().registered_fd_only().build(8) {
        Ok(ring) => ring,
        Err(e) => panic!("a ring without a descriptor: {e}"),
    };
    let refused = ring.register_buf_ring_mmap(BufferGroup::new(1), 2, 16);
    assert_eq!(
        refused.map(drop).unwrap_err().raw_os_error(),
        Some(libc::EBADF)
    );
    if uring_tests::has_pbuf_status() {
        assert_eq!(
            ring.buf_ring_head(BufferGroup::new(1))
                .unwrap_err()
                .raw_os_error(),
            Some(libc::ENOENT)
        );
    }
}

/// The mapping of the kernel's descriptors fails: the error is the
/// mapping's, the group is unregistered again (it registers afterwards),
/// and every mapping made is unmapped.
#[test]
fn a_kernel_allocated_ring_that_cannot_be_mapped_leaves_the_group_free() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(probe) = mmap_buf_ring(&mut ring, 7, 2, 16, false) else {
        return;
    };
    drop(probe);
    for errno in [libc::ENOMEM, libc::EAGAIN] {
        fault::reset();
        // The buffers' mapping, then the descriptors'.
        fault::fail_after(Call::Mmap, 1, 1, errno);
        let failed = ring.register_buf_ring_mmap(BufferGroup::new(7), 2, 16);
        match failed {
            Err(Error::Os { call, source }) => {
                assert_eq!((call, source.raw_os_error()), ("mmap", Some(errno)));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(fault::planned(Call::Mmap), 0);
        let (maps, unmaps) = (fault::counts(Call::Mmap), fault::counts(Call::Munmap));
        assert_eq!(maps.made, unmaps.made, "every mapping made is unmapped");
        fault::reset();
        if uring_tests::has_pbuf_status() {
            assert_eq!(
                ring.buf_ring_head(BufferGroup::new(7))
                    .unwrap_err()
                    .raw_os_error(),
                Some(libc::ENOENT)
            );
        }
    }
    let pool = ring
        .register_buf_ring_mmap(BufferGroup::new(7), 2, 16)
        .unwrap();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"mapped").unwrap();
    let got = ring.scope(|s| {
        s.push(Recv::new(&rx, pool.select())).unwrap();
        s.submit_and_wait(1).unwrap();
        let mut cqe = s.completions().next().unwrap();
        pool.claim(&mut cqe).unwrap().to_vec()
    });
    assert_eq!(got, b"mapped");
}

/// On a ring set up with `IORING_SETUP_NO_MMAP`, a mapping of the kernel's
/// descriptors refused with `EINVAL` (as kernels before 6.7 refuse it)
/// says why, and the group is unregistered again.
#[test]
fn a_refused_mapping_on_a_no_mmap_ring_says_why() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 5, "rings in the program's memory (IORING_SETUP_NO_MMAP)") {
        return;
    }
    let mut ring = Ring::builder().no_mmap().build(8).unwrap();
    let Some(probe) = mmap_buf_ring(&mut ring, 8, 2, 16, false) else {
        return;
    };
    drop(probe);
    fault::reset();
    // The buffers' mapping, then the descriptors'.
    fault::fail_after(Call::Mmap, 1, 1, libc::EINVAL);
    let refused = ring.register_buf_ring_mmap(BufferGroup::new(8), 2, 16);
    fault::reset();
    let e = refused.map(drop).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    assert!(e.to_string().contains("NO_MMAP"), "{e}");
    // The group is free again.
    drop(
        ring.register_buf_ring_mmap(BufferGroup::new(8), 2, 16)
            .unwrap(),
    );
}

/// The kernel's head of a group, read by id from the ring, is the head the
/// group's `BufRing` reports, as buffers are taken and come back, for a
/// ring the library allocated and one the kernel did.
#[test]
fn the_head_of_a_group_read_by_id_is_its_buf_ring_s() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let Some(kernel) = mmap_buf_ring(&mut ring, 20, 4, 16, false) else {
        return;
    };
    let library = ring.register_buf_ring(BufferGroup::new(21), 4, 16).unwrap();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    for pool in [&kernel, &library] {
        assert_eq!(ring.buf_ring_head(pool.group()).unwrap(), 0);
        let mut held = Vec::new();
        for i in 0..3u8 {
            tx.write_all(&[i; 2]).unwrap();
            push_lent!(ring, Recv::new(&rx, pool.select()).user_data(u64::from(i))).unwrap();
            let cqe = reap_one(&mut ring);
            assert_eq!(cqe.res(), 2, "{cqe:?}");
            // SAFETY: the kernel posted `cqe` for this recv, which selected
            // from the pool's group on this ring.
            held.push(unsafe { pool.claim_unchecked(&cqe) }.unwrap());
            let head = ring.buf_ring_head(pool.group()).unwrap();
            assert_eq!((head, pool.head().unwrap()), (u16::from(i) + 1, head));
        }
        drop(held);
        // Back in the ring: the tail moved on, the head stays.
        assert_eq!(ring.buf_ring_head(pool.group()).unwrap(), 3);
        assert_eq!((pool.head().unwrap(), pool.available().unwrap()), (3, 4));
    }
    // Each group's head moved with its own ops only.
    assert_eq!(ring.buf_ring_head(kernel.group()).unwrap(), 3);
    assert_eq!(ring.buf_ring_head(library.group()).unwrap(), 3);
}

/// A group registered by raw means, with no `BufRing`: the ring reads its
/// head by id as the kernel takes buffers from it.
#[test]
fn the_head_of_a_group_registered_by_raw_means() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let group = BufferGroup::new(30);
    // A page for a ring of 2 descriptors, and a buffer of 16 bytes, both
    // kept until the group is unregistered below.
    // SAFETY: a fresh private mapping chosen by the kernel.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(page, libc::MAP_FAILED);
    let mut buf = vec![0u8; 16];
    let descs = page.cast::<sys::io_uring_buf>();
    // SAFETY: the page holds two descriptors; the kernel reads none before
    // the tail is published.
    unsafe {
        descs.write(sys::io_uring_buf {
            addr: buf.as_mut_ptr() as u64,
            len: 16,
            bid: 5,
            resv: 0,
        });
        // The tail: one descriptor given.
        (&raw mut (*descs).resv).write_volatile(1);
    }
    let reg = sys::io_uring_buf_reg {
        ring_addr: page as u64,
        ring_entries: 2,
        bgid: group.id(),
        ..Default::default()
    };
    // SAFETY: a valid `io_uring_buf_reg` for the call; the ring's memory
    // and the buffer stay mapped until the group is unregistered below.
    unsafe {
        sys::io_uring_register(
            ring.as_raw_fd(),
            sys::IORING_REGISTER_PBUF_RING,
            (&reg as *const sys::io_uring_buf_reg).cast(),
            1,
        )
    }
    .unwrap();
    assert_eq!(ring.buf_ring_head(group).unwrap(), 0);
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"raw").unwrap();
    push_lent!(ring, Recv::new(&rx, group.select(16)).user_data(1)).unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.res(), cqe.buffer_id()), (3, Some(5)), "{cqe:?}");
    assert_eq!(&buf[..3], b"raw");
    assert_eq!(ring.buf_ring_head(group).unwrap(), 1);
    let unreg = sys::io_uring_buf_reg {
        bgid: group.id(),
        ..Default::default()
    };
    // SAFETY: a valid `io_uring_buf_reg` for the call.
    unsafe {
        sys::io_uring_register(
            ring.as_raw_fd(),
            sys::IORING_UNREGISTER_PBUF_RING,
            (&unreg as *const sys::io_uring_buf_reg).cast(),
            1,
        )
    }
    .unwrap();
    // SAFETY: the mapping made above; the kernel no longer reads it.
    assert_eq!(unsafe { libc::munmap(page, 4096) }, 0);
    drop(buf);
    assert_eq!(
        ring.buf_ring_head(group).unwrap_err().raw_os_error(),
        Some(libc::ENOENT)
    );
}

/// The head of a group that does not exist is `ENOENT`; of a group of
/// buffers given by `IORING_OP_PROVIDE_BUFFERS`, not a ring, `EINVAL`;
/// each error says which.
#[test]
fn the_head_of_a_missing_group_or_of_provided_buffers_is_an_error() {
    let _watch = uring_tests::watchdog();
    if !uring_tests::has_pbuf_status() {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    let missing = ring.buf_ring_head(BufferGroup::new(40)).unwrap_err();
    assert_eq!(missing.raw_os_error(), Some(libc::ENOENT));
    assert!(
        missing.to_string().contains("no buffer group has that id"),
        "{missing}"
    );
    if !uring_tests::require_op::<uring::ops::ProvideBuffers<'static>>(&ring) {
        return;
    }
    let mut region = vec![0u8; 2 * 16];
    // SAFETY: `region` stays allocated and untouched until the ring, which
    // no op selecting from group 41 uses, is dropped below.
    unsafe {
        ring.push_unchecked(
            uring::ops::ProvideBuffers::new(
                uring::BufferPool::new(&mut region, 16),
                BufferGroup::new(41),
            )
            .user_data(1),
        )
    }
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), 0);
    let legacy = ring.buf_ring_head(BufferGroup::new(41)).unwrap_err();
    assert_eq!(legacy.raw_os_error(), Some(libc::EINVAL));
    assert!(legacy.to_string().contains("not a buffer ring"), "{legacy}");
    drop(ring);
    drop(region);
}

/// Registers (`IORING_REGISTER_PBUF_RING`) or unregisters a ring the
/// kernel allocates for `group` on `ring` by raw means.
fn raw_pbuf(ring: &Ring, opcode: u32, group: u16) -> std::io::Result<u32> {
    let reg = sys::io_uring_buf_reg {
        ring_entries: if opcode == sys::IORING_REGISTER_PBUF_RING {
            2
        } else {
            0
        },
        bgid: group,
        flags: if opcode == sys::IORING_REGISTER_PBUF_RING {
            sys::IOU_PBUF_RING_MMAP
        } else {
            0
        },
        ..Default::default()
    };
    // SAFETY: a valid `io_uring_buf_reg` for the call; the kernel allocates
    // the ring's memory.
    unsafe {
        sys::io_uring_register(
            ring.as_raw_fd(),
            opcode,
            (&reg as *const sys::io_uring_buf_reg).cast(),
            1,
        )
    }
}

/// A shared mapping of a page of `ring` at the mmap offset of `group`'s
/// ring, or the error.
fn map_pbuf(ring: &Ring, group: u16) -> std::io::Result<*mut u8> {
    let offset = sys::IORING_OFF_PBUF_RING | (i64::from(group) << sys::IORING_OFF_PBUF_SHIFT);
    // SAFETY: a fresh shared mapping chosen by the kernel, unmapped by the
    // caller.
    let at = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            ring.as_raw_fd(),
            offset,
        )
    };
    if at == libc::MAP_FAILED {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(at.cast())
    }
}

/// What `BufRing`'s drop relies on, as this kernel does it: the pages of a
/// ring the kernel allocated stay the mapping's after the group is
/// unregistered (still holding what was written, not handed to anyone),
/// a new ring of the same group gets other, zeroed pages, and the old
/// group's offset maps nothing once it is gone.
#[test]
fn the_kernel_s_pages_outlive_their_group_only_in_a_mapping_of_them() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(
        6,
        10,
        "buffer ring pages held by their mappings (vm_insert_pages)",
    ) {
        return;
    }
    let ring = Ring::new(8).unwrap();
    raw_pbuf(&ring, sys::IORING_REGISTER_PBUF_RING, 50).unwrap();
    let old = map_pbuf(&ring, 50).unwrap();
    // SAFETY: the mapping is a page long, ours to write (the kernel reads
    // no descriptor past a tail of 0, which stays 0: bytes 14..16).
    unsafe { old.add(100).write_bytes(0xc3, 1000) };
    raw_pbuf(&ring, sys::IORING_UNREGISTER_PBUF_RING, 50).unwrap();
    // The kernel finds no region there (`ENOMEM` from its choice of an
    // address, `EINVAL` from the mapping itself).
    let gone = map_pbuf(&ring, 50).unwrap_err();
    assert!(
        matches!(gone.raw_os_error(), Some(libc::ENOMEM | libc::EINVAL)),
        "the offset of a group that is gone maps nothing: {gone}"
    );
    raw_pbuf(&ring, sys::IORING_REGISTER_PBUF_RING, 50).unwrap();
    let new = map_pbuf(&ring, 50).unwrap();
    // SAFETY: both mappings are a page long and alive.
    let (was, fresh) = unsafe {
        (
            std::slice::from_raw_parts(old, 4096).to_vec(),
            std::slice::from_raw_parts(new, 4096).to_vec(),
        )
    };
    assert!(was[100..1100].iter().all(|&b| b == 0xc3));
    assert!(
        fresh.iter().all(|&b| b == 0),
        "the new ring's pages are zeroed"
    );
    raw_pbuf(&ring, sys::IORING_UNREGISTER_PBUF_RING, 50).unwrap();
    // SAFETY: the mappings made above, no longer used.
    unsafe {
        assert_eq!(libc::munmap(old.cast(), 4096), 0);
        assert_eq!(libc::munmap(new.cast(), 4096), 0);
    }
}

/// The largest ring the kernel allocates (32768 descriptors, 128 pages):
/// every descriptor is reachable through the mapping, the last buffer
/// included.
#[test]
fn the_largest_kernel_allocated_ring_maps_every_descriptor() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    let Some(pool) = mmap_buf_ring(&mut ring, 60, uring::MAX_BUF_RING_BUFFERS, 1, false) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let total = usize::from(uring::MAX_BUF_RING_BUFFERS);
    tx.write_all(&vec![0x42; total]).unwrap();
    ring.scope(|s| {
        let mut held = Vec::with_capacity(total);
        for bid in 0..uring::MAX_BUF_RING_BUFFERS {
            s.push(Recv::new(&rx, pool.select())).unwrap();
            s.submit_and_wait(1).unwrap();
            let mut cqe = s.completions().next().unwrap();
            assert_eq!(cqe.res(), 1, "{cqe:?}");
            // Held: every buffer is taken once, in ring order.
            let buf = pool.claim(&mut cqe).unwrap();
            assert_eq!((buf.bid(), &buf[..]), (bid, &[0x42][..]));
            held.push(buf);
        }
        assert_eq!(pool.lent(), uring::MAX_BUF_RING_BUFFERS);
    });
    assert_eq!(pool.lent(), 0);
}
