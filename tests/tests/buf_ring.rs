//! Provided-buffer rings against the kernel: ops pick buffers from the ring,
//! completions name them, claimed buffers go back to the kernel when
//! dropped, and an empty ring makes ops fail with ENOBUFS.

use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::time::Duration;
use uring::RecvFlags;
use uring_tests::push_lent;

use uring::ops::{Read, Recv};
use uring::{BufferGroup, Cqe, Error, MAX_BUF_RING_BUFFERS, Ring};
use uring_tests::{incremental_buf_ring, reap_one};

fn ring_or_skip() -> Option<Ring> {
    let mut ring = Ring::new(16).unwrap();
    // Probe for buffer rings (5.19) with a throwaway group.
    match ring.register_buf_ring(BufferGroup::new(999), 1, 1) {
        Ok(probe) => drop(probe),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            eprintln!("skipped: the kernel lacks provided-buffer rings: {e}");
            return None;
        }
        Err(e) => panic!("register_buf_ring: {e}"),
    }
    Some(ring)
}

#[test]
fn recvs_pick_buffers_and_claimed_ones_come_back() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let pool = ring.register_buf_ring(BufferGroup::new(1), 4, 64).unwrap();
    assert_eq!((pool.count(), pool.buf_len(), pool.lent()), (4, 64, 0));
    let mut seen = Vec::new();
    // Five times the ring's size: only recycling keeps it going.
    for i in 0..20u8 {
        let msg = [b'a' + i; 3];
        tx.write_all(&msg).unwrap();
        push_lent!(ring, Recv::new(&rx, pool.select()).user_data(u64::from(i))).unwrap();
        let cqe = reap_one(&mut ring);
        assert_eq!((cqe.user_data(), cqe.res()), (u64::from(i), 3));
        // SAFETY: the kernel posted `cqe` for this recv, which selected from
        // the pool's group on this ring.
        let buf = unsafe { pool.claim_unchecked(&cqe) }.unwrap();
        assert_eq!(&buf[..], &msg);
        assert_eq!(buf.capacity(), 64);
        assert_eq!(pool.lent(), 1);
        seen.push(buf.bid());
    }
    assert_eq!(pool.lent(), 0);
    // The kernel takes buffers in ring order: 0, 1, 2, 3, then the
    // recycled ones in the order they came back.
    assert_eq!(&seen[..4], [0, 1, 2, 3]);
    assert!(seen.iter().all(|&b| b < 4));
}

#[test]
fn an_empty_ring_fails_ops_with_enobufs_until_a_buffer_comes_back() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let pool = ring.register_buf_ring(BufferGroup::new(2), 2, 16).unwrap();
    let mut held = Vec::new();
    for i in 0..2u64 {
        tx.write_all(b"x").unwrap();
        push_lent!(ring, Recv::new(&rx, pool.select()).user_data(i)).unwrap();
        let cqe = reap_one(&mut ring);
        assert_eq!(cqe.res(), 1);
        // SAFETY: a completion of this recv, selecting from the pool.
        held.push(unsafe { pool.claim_unchecked(&cqe) }.unwrap());
    }
    tx.write_all(b"y").unwrap();
    push_lent!(ring, Recv::new(&rx, pool.select()).user_data(9)).unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!(cqe.res(), -libc::ENOBUFS);
    assert_eq!(cqe.buffer_id(), None);
    // One buffer back, and the data still waiting is received.
    let back = held.remove(0).bid();
    drop(held);
    push_lent!(ring, Recv::new(&rx, pool.select()).user_data(10)).unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!(cqe.res(), 1);
    // SAFETY: a completion of this recv, selecting from the pool.
    let buf = unsafe { pool.claim_unchecked(&cqe) }.unwrap();
    assert_eq!(&buf[..], b"y");
    assert_eq!(buf.bid(), back, "the first buffer given back is next");
}

#[test]
fn claims_that_cannot_be_right_are_errors() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let pool = ring.register_buf_ring(BufferGroup::new(3), 2, 8).unwrap();
    tx.write_all(b"abc").unwrap();
    push_lent!(ring, Recv::new(&rx, pool.select()).user_data(1)).unwrap();
    let cqe = reap_one(&mut ring);
    // SAFETY: a completion of this recv, selecting from the pool.
    let buf = unsafe { pool.claim_unchecked(&cqe) }.unwrap();
    // SAFETY: as above; the second claim of the same completion is refused
    // before anything is lent.
    let again = unsafe { pool.claim_unchecked(&cqe) };
    assert!(matches!(again, Err(Error::InvalidArgument(_))), "{again:?}");
    drop(buf);
    let no_buffer = Cqe::default();
    // SAFETY: the completion names no buffer; nothing is lent.
    assert!(unsafe { pool.claim_unchecked(&no_buffer) }.is_err());
    let mut raw = uring::sys::io_uring_cqe {
        flags: uring::sys::IORING_CQE_F_BUFFER | (7 << uring::sys::IORING_CQE_BUFFER_SHIFT),
        ..Default::default()
    };
    raw.res = 1;
    // SAFETY: buffer 7 is not one of the pool's two; nothing is lent.
    assert!(unsafe { pool.claim_unchecked(&Cqe::from(raw)) }.is_err());
}

#[test]
fn bad_sizes_and_a_taken_group_are_refused() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    for (count, len) in [(0, 16), (4, 0), (MAX_BUF_RING_BUFFERS + 1, 16)] {
        let got = ring.register_buf_ring(BufferGroup::new(4), count, len);
        assert!(
            matches!(got, Err(Error::InvalidArgument(_))),
            "count {count}, len {len}: {got:?}"
        );
    }
    let _pool = ring.register_buf_ring(BufferGroup::new(4), 4, 16).unwrap();
    let again = ring.register_buf_ring(BufferGroup::new(4), 4, 16);
    assert_eq!(
        again.map(drop).unwrap_err().raw_os_error(),
        Some(libc::EEXIST)
    );
}

#[test]
fn a_dropped_ring_leaves_the_group_empty() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let pool = ring.register_buf_ring(BufferGroup::new(5), 4, 16).unwrap();
    drop(pool);
    tx.write_all(b"z").unwrap();
    push_lent!(
        ring,
        Recv::new(&rx, BufferGroup::new(5).select(16)).user_data(1)
    )
    .unwrap();
    assert_eq!(reap_one(&mut ring).res(), -libc::ENOBUFS);
    // The group can be registered again.
    let pool = ring.register_buf_ring(BufferGroup::new(5), 2, 16).unwrap();
    push_lent!(ring, Recv::new(&rx, pool.select()).user_data(2)).unwrap();
    let cqe = reap_one(&mut ring);
    // SAFETY: a completion of this recv, selecting from the pool.
    assert_eq!(&unsafe { pool.claim_unchecked(&cqe) }.unwrap()[..], b"z");
}

#[test]
fn a_multishot_recv_fills_one_buffer_per_message() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    let pool = ring.register_buf_ring(BufferGroup::new(6), 8, 32).unwrap();
    push_lent!(
        ring,
        Recv::new(&server, pool.select())
            .recv_flags(RecvFlags::MULTISHOT)
            .user_data(7),
    )
    .unwrap();
    ring.submit().unwrap();
    let mut got = Vec::new();
    for i in 0..5u8 {
        client.write_all(&[b'0' + i; 4]).unwrap();
        ring.wait_timeout(1, Duration::from_secs(5)).unwrap();
        for cqe in ring.completions() {
            assert_eq!(cqe.user_data(), 7);
            assert!(cqe.has_more(), "{cqe:?}");
            // SAFETY: a completion of the multishot recv, selecting from
            // the pool.
            let buf = unsafe { pool.claim_unchecked(&cqe) }.unwrap();
            got.extend_from_slice(&buf);
        }
    }
    assert_eq!(got, b"00001111222233334444");
}

#[test]
fn a_file_read_selects_from_the_ring() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(b"from a file").unwrap();
    let pool = ring.register_buf_ring(BufferGroup::new(8), 2, 4).unwrap();
    push_lent!(ring, Read::new(&file, pool.select()).offset(5).user_data(1)).unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!(cqe.res(), 4, "a buffer of 4 bytes bounds the read");
    // SAFETY: a completion of this read, selecting from the pool.
    let buf = unsafe { pool.claim_unchecked(&cqe) }.unwrap();
    assert_eq!(&buf[..], b"a fi");
}

#[test]
fn a_recv_waiting_when_the_ring_goes_finds_no_buffer() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let pool = ring.register_buf_ring(BufferGroup::new(9), 2, 16).unwrap();
    push_lent!(ring, Recv::new(&rx, pool.select()).user_data(1)).unwrap();
    ring.submit().unwrap();
    // The recv waits for data; it has not picked a buffer yet.
    drop(pool);
    tx.write_all(b"late").unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.user_data(), cqe.res()), (1, -libc::ENOBUFS));
}

#[test]
fn scope_completions_claim_their_buffers_safely() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let small = ring.register_buf_ring(BufferGroup::new(20), 2, 8).unwrap();
    let large = ring.register_buf_ring(BufferGroup::new(21), 2, 64).unwrap();
    let mut other = Ring::new(4).unwrap();
    let elsewhere = other.register_buf_ring(BufferGroup::new(20), 2, 8).unwrap();
    // A foreign op that selects from `small`, completed before the scope.
    tx.write_all(b"before").unwrap();
    push_lent!(ring, Recv::new(&rx, small.select()).user_data(1)).unwrap();
    ring.submit_and_wait(1).unwrap();

    let texts = ring.scope(|s| -> uring::Result<Vec<Vec<u8>>> {
        let mut texts = Vec::new();
        let mut foreign = s.completions().next().unwrap();
        assert!(!foreign.is_scope_op());
        assert!(foreign.buffer_id().is_some());
        // Not known to be the kernel's: refused, nothing lent.
        assert!(small.claim(&mut foreign).is_err());
        assert_eq!(small.lent(), 0);
        // SAFETY: it is the kernel's completion of the recv above, which
        // selected from `small` on this ring.
        drop(unsafe { small.claim_unchecked(&foreign) }.unwrap());

        tx.write_all(b"in scope").unwrap();
        s.push(Recv::new(&rx, large.select()).user_data(2))?;
        s.submit_and_wait(1)?;
        let mut cqe = s.completions().next().unwrap();
        assert!(cqe.is_scope_op());
        assert_eq!(cqe.user_data(), 2);
        // Another group, or the same group of another ring: refused.
        assert!(small.claim(&mut cqe).is_err());
        assert!(elsewhere.claim(&mut cqe).is_err());
        let buf = large.claim(&mut cqe)?;
        texts.push(buf.to_vec());
        // Once per completion.
        assert!(large.claim(&mut cqe).is_err());
        drop(buf);

        // An op that selects no buffer has none to claim.
        s.push(uring::ops::Nop::new().user_data(3))?;
        s.submit_and_wait(1)?;
        let mut nop = s.completions().next().unwrap();
        assert!(nop.is_scope_op());
        assert!(large.claim(&mut nop).is_err());
        Ok(texts)
    });
    assert_eq!(texts.unwrap(), [b"in scope".to_vec()]);
    assert_eq!((small.lent(), large.lent()), (0, 0));
}

#[test]
fn a_multishot_recv_in_a_scope_hands_out_each_buffer() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    let pool = ring.register_buf_ring(BufferGroup::new(22), 4, 16).unwrap();
    let got = ring.scope(|s| -> uring::Result<Vec<u8>> {
        s.push(
            Recv::new(&server, pool.select())
                .recv_flags(RecvFlags::MULTISHOT)
                .user_data(5),
        )?;
        s.submit()?;
        let mut got = Vec::new();
        // More messages than buffers: each is given back before the next.
        for i in 0..10u8 {
            client.write_all(&[b'a' + i; 3]).unwrap();
            s.wait_timeout(1, Duration::from_secs(5))?;
            for mut cqe in s.completions() {
                assert_eq!(cqe.user_data(), 5);
                got.extend_from_slice(&pool.claim(&mut cqe)?);
            }
        }
        assert_eq!(s.in_flight(), 1, "the multishot recv is still armed");
        Ok(got)
        // The scope cancels it on the way out.
    });
    assert_eq!(got.unwrap(), b"aaabbbcccdddeeefffggghhhiiijjj");
    assert_eq!(ring.completions().count(), 0);
}

#[test]
fn an_incremental_ring_hands_out_consecutive_pieces_of_a_buffer() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    let Some(pool) = incremental_buf_ring(&mut ring, 30, 2, 32) else {
        return;
    };
    assert!(pool.is_incremental());
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut held = Vec::new();
    // 32 bytes in pieces of 10, 10, 10: the kernel keeps buffer 0 and says
    // so with BUF_MORE.
    for (i, piece) in [b"0123456789", b"abcdefghij", b"ABCDEFGHIJ"]
        .iter()
        .enumerate()
    {
        tx.write_all(*piece).unwrap();
        push_lent!(ring, Recv::new(&rx, pool.select()).user_data(i as u64)).unwrap();
        let cqe = reap_one(&mut ring);
        assert_eq!((cqe.res(), cqe.buffer_id()), (10, Some(0)), "{cqe:?}");
        assert_ne!(
            cqe.flags() & uring::sys::IORING_CQE_F_BUF_MORE,
            0,
            "{cqe:?}"
        );
        // SAFETY: the kernel's completion of this recv, the only op
        // consuming the group, claimed in order.
        let buf = unsafe { pool.claim_unchecked(&cqe) }.unwrap();
        assert_eq!((buf.bid(), buf.offset(), &buf[..]), (0, 10 * i, &piece[..]));
        held.push(buf);
    }
    // Two bytes are left of buffer 0: the next recv takes them and the
    // kernel lets go of it.
    tx.write_all(b"xyz").unwrap();
    push_lent!(ring, Recv::new(&rx, pool.select()).user_data(3)).unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.res(), cqe.buffer_id()), (2, Some(0)), "{cqe:?}");
    assert_eq!(
        cqe.flags() & uring::sys::IORING_CQE_F_BUF_MORE,
        0,
        "{cqe:?}"
    );
    // SAFETY: as above.
    let last = unsafe { pool.claim_unchecked(&cqe) }.unwrap();
    assert_eq!((last.offset(), &last[..]), (30, &b"xy"[..]));
    // No more completions of buffer 0 until it is provided again.
    // SAFETY: a completion the kernel posted; claiming it twice is what
    // the check refuses.
    assert!(unsafe { pool.claim_unchecked(&cqe) }.is_err());
    assert_eq!(pool.lent(), 1);
    // The rest goes to buffer 1, from its start.
    push_lent!(ring, Recv::new(&rx, pool.select()).user_data(4)).unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.res(), cqe.buffer_id()), (1, Some(1)), "{cqe:?}");
    // SAFETY: as above.
    let next = unsafe { pool.claim_unchecked(&cqe) }.unwrap();
    assert_eq!((next.offset(), &next[..]), (0, &b"z"[..]));
    drop(next);
    assert_eq!(pool.lent(), 1, "buffer 1 stays with the kernel");
    // Buffer 0 goes back once every piece of it is dropped.
    drop(last);
    held.pop();
    assert_eq!(pool.lent(), 1);
    held.clear();
    assert_eq!(pool.lent(), 0);
}

#[test]
fn an_empty_receive_leaves_an_incremental_buffer_with_the_kernel() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    let Some(pool) = incremental_buf_ring(&mut ring, 31, 1, 16) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    tx.write_all(b"four").unwrap();
    push_lent!(ring, Recv::new(&rx, pool.select()).user_data(1)).unwrap();
    let cqe = reap_one(&mut ring);
    // SAFETY: the kernel's completion of the only op on the group.
    let first = unsafe { pool.claim_unchecked(&cqe) }.unwrap();
    assert_eq!(&first[..], b"four");
    drop(first);
    // End of stream: a completion of no bytes.
    drop(tx);
    push_lent!(ring, Recv::new(&rx, pool.select()).user_data(2)).unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    if cqe.buffer_id().is_some() {
        // SAFETY: as above.
        let empty = unsafe { pool.claim_unchecked(&cqe) }.unwrap();
        assert_eq!((empty.offset(), empty.len()), (4, 0));
    }
    // The buffer is still the kernel's, once: the next data lands after
    // the first four bytes, and the ring does not hold it twice.
    let (mut tx2, rx2) = UnixStream::pair().unwrap();
    tx2.write_all(b"more").unwrap();
    push_lent!(ring, Recv::new(&rx2, pool.select()).user_data(3)).unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.res(), cqe.buffer_id()), (4, Some(0)), "{cqe:?}");
    // SAFETY: as above.
    let more = unsafe { pool.claim_unchecked(&cqe) }.unwrap();
    assert_eq!((more.offset(), &more[..]), (4, &b"more"[..]));
}

#[test]
fn a_scope_runs_the_ops_of_an_incremental_group_one_at_a_time() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    let Some(pool) = incremental_buf_ring(&mut ring, 32, 2, 8) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let (mut tx2, rx2) = UnixStream::pair().unwrap();
    let got = ring.scope(|s| -> uring::Result<Vec<(u64, i32, Vec<u8>)>> {
        s.push(Recv::new(&rx, pool.select()).user_data(1))?;
        // A second op on the group while the first waits: refused.
        s.push(Recv::new(&rx2, pool.select()).user_data(2))?;
        s.submit()?;
        let mut got = Vec::new();
        s.wait(1)?;
        let mut cqe = s.completions().next().unwrap();
        assert_eq!((cqe.user_data(), cqe.res()), (2, -libc::EBUSY));
        assert!(pool.claim(&mut cqe).is_err(), "no buffer to claim");
        tx.write_all(b"one").unwrap();
        s.wait(1)?;
        let mut cqe = s.completions().next().unwrap();
        got.push((cqe.user_data(), cqe.res(), pool.claim(&mut cqe)?.to_vec()));
        // The first has completed: the group is free again.
        tx2.write_all(b"two").unwrap();
        s.push(Recv::new(&rx2, pool.select()).user_data(3))?;
        s.submit()?;
        s.wait(1)?;
        let mut cqe = s.completions().next().unwrap();
        let buf = pool.claim(&mut cqe)?;
        assert_eq!(buf.offset(), 3, "the second piece of buffer 0");
        got.push((cqe.user_data(), cqe.res(), buf.to_vec()));
        Ok(got)
    });
    assert_eq!(
        got.unwrap(),
        [(1, 3, b"one".to_vec()), (3, 3, b"two".to_vec())]
    );
}

#[test]
fn a_multishot_recv_streams_through_an_incremental_ring() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    let Some(pool) = incremental_buf_ring(&mut ring, 33, 2, 16) else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    let got = ring.scope(|s| -> uring::Result<Vec<u8>> {
        s.push(
            Recv::new(&server, pool.select())
                .recv_flags(RecvFlags::MULTISHOT)
                .user_data(5),
        )?;
        s.submit()?;
        let mut got = Vec::new();
        // 20 messages of 5 bytes over 2 buffers of 16: pieces of buffers,
        // each buffer reused once its pieces are dropped.
        for i in 0..20u8 {
            client.write_all(&[b'a' + i; 5]).unwrap();
            s.wait_timeout(1, Duration::from_secs(5))?;
            for mut cqe in s.completions() {
                assert_eq!(cqe.user_data(), 5, "{cqe:?}");
                assert!(cqe.res() > 0, "{cqe:?}");
                got.extend_from_slice(&pool.claim(&mut cqe)?);
            }
        }
        Ok(got)
    });
    let expected: Vec<u8> = (0..20u8).flat_map(|i| [b'a' + i; 5]).collect();
    assert_eq!(got.unwrap(), expected);
    assert_eq!(pool.lent(), 0);
}

#[test]
fn every_buffer_of_a_ring_is_its_own_memory() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let pool = ring.register_buf_ring(BufferGroup::new(40), 4, 16).unwrap();
    assert_eq!(pool.group(), BufferGroup::new(40));
    assert!(!pool.is_incremental());
    let messages: [&[u8]; 4] = [b"first", b"second!", b"3rd", b"the fourth one"];
    let mut held = Vec::new();
    for (i, msg) in messages.iter().enumerate() {
        tx.write_all(msg).unwrap();
        push_lent!(ring, Recv::new(&rx, pool.select()).user_data(i as u64)).unwrap();
        let cqe = reap_one(&mut ring);
        assert_eq!(cqe.res(), msg.len() as i32, "{cqe:?}");
        // SAFETY: the kernel's completion of this recv, which selected from
        // the pool's group on this ring.
        held.push(unsafe { pool.claim_unchecked(&cqe) }.unwrap());
        assert_eq!(usize::from(pool.lent()), i + 1);
    }
    // All four held at once: each has the bytes its recv wrote.
    let bids: Vec<u16> = held.iter().map(|b| b.bid()).collect();
    assert_eq!(bids, [0, 1, 2, 3]);
    for (buf, msg) in held.iter().zip(messages) {
        assert_eq!((&buf[..], buf.offset(), buf.capacity()), (msg, 0, 16));
    }
    // Writing through one changes no other.
    held[0].fill(b'#');
    assert_eq!(&held[0][..], b"#####");
    for (buf, msg) in held.iter().zip(messages).skip(1) {
        assert_eq!(&buf[..], msg);
    }
    // Given back out of order, each is the kernel's again: four more recvs
    // land in the buffers in the order they came back, each whole.
    let order = [2u16, 0, 3, 1];
    for &bid in &order {
        let at = held.iter().position(|b| b.bid() == bid).unwrap();
        drop(held.remove(at));
    }
    assert_eq!(pool.lent(), 0);
    let mut again = Vec::new();
    for (i, msg) in messages.iter().enumerate() {
        tx.write_all(msg).unwrap();
        push_lent!(ring, Recv::new(&rx, pool.select()).user_data(10 + i as u64)).unwrap();
        let cqe = reap_one(&mut ring);
        // SAFETY: as above.
        again.push(unsafe { pool.claim_unchecked(&cqe) }.unwrap());
    }
    let bids: Vec<u16> = again.iter().map(|b| b.bid()).collect();
    assert_eq!(bids, order);
    for (buf, msg) in again.iter().zip(messages) {
        assert_eq!(&buf[..], msg);
    }
}

#[test]
fn a_scope_completion_claims_once_even_after_its_buffer_came_back() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let pool = ring.register_buf_ring(BufferGroup::new(41), 1, 8).unwrap();
    let out = ring.scope(|s| -> uring::Result<(Vec<u8>, Vec<u8>)> {
        tx.write_all(b"one").unwrap();
        s.push(Recv::new(&rx, pool.select()).user_data(1))?;
        s.submit_and_wait(1)?;
        let mut cqe = s.completions().next().unwrap();
        let first = pool.claim(&mut cqe)?.to_vec();
        // The buffer went back with the drop: the kernel may fill it again,
        // so the old completion must not hand it out a second time.
        assert_eq!(pool.lent(), 0);
        let again = pool.claim(&mut cqe);
        assert!(matches!(again, Err(Error::InvalidArgument(_))), "{again:?}");
        assert_eq!(pool.lent(), 0);
        // The buffer is the kernel's: the next recv fills it.
        tx.write_all(b"two").unwrap();
        s.push(Recv::new(&rx, pool.select()).user_data(2))?;
        s.submit_and_wait(1)?;
        let mut cqe = s.completions().next().unwrap();
        assert_eq!(
            (cqe.user_data(), cqe.res(), cqe.buffer_id()),
            (2, 3, Some(0))
        );
        let second = pool.claim(&mut cqe)?.to_vec();
        Ok((first, second))
    });
    assert_eq!(out.unwrap(), (b"one".to_vec(), b"two".to_vec()));
}

#[test]
fn an_op_refused_for_a_busy_incremental_group_keeps_its_place_in_a_chain() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    let Some(pool) = incremental_buf_ring(&mut ring, 34, 2, 8) else {
        return;
    };
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let (_tx2, rx2) = UnixStream::pair().unwrap();
    let got = ring.scope(|s| -> uring::Result<Vec<(u64, i32)>> {
        // The first op holds the group.
        s.push(Recv::new(&rx, pool.select()).user_data(1))?;
        // Refused alone, then a NOP in the same submission: the NOP runs.
        s.push(Recv::new(&rx2, pool.select()).user_data(2))?;
        s.push(uring::ops::Nop::new().user_data(3))?;
        // Refused at the head of a chain: what is linked after it is
        // cancelled, as after any failure.
        s.push(
            Recv::new(&rx2, pool.select())
                .user_data(4)
                .link(uring::ops::Nop::new().user_data(5)),
        )?;
        s.submit()?;
        let mut got = Vec::new();
        while got.len() < 4 {
            s.wait_timeout(1, Duration::from_secs(5))?;
            got.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        tx.write_all(b"x").unwrap();
        while s.in_flight() > 0 {
            s.wait_timeout(1, Duration::from_secs(5))?;
            for mut cqe in s.completions() {
                assert_eq!(&pool.claim(&mut cqe)?[..], b"x");
                got.push((cqe.user_data(), cqe.res()));
            }
        }
        got.sort_unstable();
        Ok(got)
    });
    assert_eq!(
        got.unwrap(),
        [
            (1, 1),
            (2, -libc::EBUSY),
            (3, 0),
            (4, -libc::EBUSY),
            (5, -libc::ECANCELED)
        ]
    );
}

#[test]
fn page_sized_buffers_and_the_largest_count_work() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    // Four buffers of a page each, used in turn: each is its own memory.
    let pool = ring
        .register_buf_ring(BufferGroup::new(42), 4, 4096)
        .unwrap();
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let mut bids = Vec::new();
    for i in 0..4u8 {
        let msg = uring_tests::pattern(4096, i);
        tx.write_all(&msg).unwrap();
        let mut got = Vec::new();
        // A stream may hand the page over in pieces; each piece is a buffer.
        while got.len() < msg.len() {
            push_lent!(ring, Recv::new(&rx, pool.select()).user_data(u64::from(i))).unwrap();
            let cqe = reap_one(&mut ring);
            assert!(cqe.res() > 0, "{cqe:?}");
            // SAFETY: the kernel's completion of this recv, which selected
            // from the pool's group on this ring.
            let buf = unsafe { pool.claim_unchecked(&cqe) }.unwrap();
            got.extend_from_slice(&buf);
            bids.push(buf.bid());
        }
        assert_eq!(got, msg, "message {i}");
    }
    assert_eq!(&bids[..4], [0, 1, 2, 3]);
    drop(pool);
    // The most buffers a ring takes, of one byte each.
    let most = ring
        .register_buf_ring(BufferGroup::new(43), MAX_BUF_RING_BUFFERS, 1)
        .unwrap();
    assert_eq!(most.count(), MAX_BUF_RING_BUFFERS);
    tx.write_all(b"!").unwrap();
    push_lent!(ring, Recv::new(&rx, most.select()).user_data(9)).unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!((cqe.res(), cqe.buffer_id()), (1, Some(0)));
}

#[test]
fn an_op_refused_for_a_busy_incremental_group_keeps_its_hard_links() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    let Some(pool) = incremental_buf_ring(&mut ring, 35, 2, 8) else {
        return;
    };
    let (_tx, rx) = UnixStream::pair().unwrap();
    let (_tx2, rx2) = UnixStream::pair().unwrap();
    let got = ring.scope(|s| -> uring::Result<Vec<(u64, i32)>> {
        // The first op holds the group.
        s.push(Recv::new(&rx, pool.select()).user_data(1))?;
        // A chain held back by a timeout: the refused op in its middle
        // keeps its hard link, so the NOP after it still waits its turn.
        s.push(
            uring::ops::Timeout::new(Duration::from_millis(20))
                .user_data(2)
                .hard_link(Recv::new(&rx2, pool.select()).user_data(3))
                .hard_link(uring::ops::Nop::new().user_data(4)),
        )?;
        s.submit()?;
        let mut got = Vec::new();
        while got.len() < 3 {
            s.wait_timeout(1, Duration::from_secs(5))?;
            got.extend(s.completions().map(|c| (c.user_data(), c.res())));
        }
        assert_eq!(s.cancel(1)?, 1);
        s.submit()?;
        while s.in_flight() > 0 {
            s.wait_timeout(1, Duration::from_secs(5))?;
            assert_eq!(s.completions().count(), 1);
        }
        Ok(got)
    });
    assert_eq!(
        got.unwrap(),
        [(2, -libc::ETIME), (3, -libc::EBUSY), (4, 0)],
        "the chain completes in order"
    );
}

/// A chain that holds a zero-copy send keeps the buffer group of the ops
/// linked after it: the recv behind the send still hands out its buffer.
#[test]
fn a_recv_linked_after_a_zero_copy_send_claims_its_buffer() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let a = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (b, _) = listener.accept().unwrap();
    let pool = ring.register_buf_ring(BufferGroup::new(30), 2, 64).unwrap();
    let data = *b"zero-copy, then a recv";
    let got = ring.scope(|s| -> uring::Result<(Vec<u64>, Vec<u8>)> {
        s.push(
            uring::ops::SendZc::new(&a, &data)
                .user_data(1)
                .link(Recv::new(&b, pool.select()).user_data(2)),
        )?;
        s.submit()?;
        let mut order = Vec::new();
        let mut text = Vec::new();
        while s.in_flight() > 0 {
            s.wait_timeout(1, uring_tests::PATIENCE)?;
            for mut cqe in s.completions() {
                order.push(cqe.user_data());
                if cqe.user_data() == 2 {
                    assert_eq!(cqe.res(), data.len() as i32);
                    text = pool.claim(&mut cqe)?.to_vec();
                }
            }
        }
        Ok((order, text))
    });
    let (order, text) = got.unwrap();
    assert_eq!(order.iter().filter(|&&u| u == 2).count(), 1, "{order:?}");
    assert_eq!(
        order.iter().filter(|&&u| u == 1).count(),
        2,
        "result and notification: {order:?}"
    );
    assert_eq!(text, data);
    assert_eq!(pool.lent(), 0);
}

/// The kernel's head counts the buffers it took; the buffers available are
/// those between it and the tail, which grows as claimed buffers go back.
#[test]
fn the_kernel_s_head_counts_the_buffers_it_took() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    if !uring_tests::require_kernel(
        6,
        8,
        "the status of a buffer ring (IORING_REGISTER_PBUF_STATUS)",
    ) {
        return;
    }
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let pool = ring.register_buf_ring(BufferGroup::new(5), 4, 16).unwrap();
    assert_eq!((pool.head().unwrap(), pool.available().unwrap()), (0, 4));
    let mut held = Vec::new();
    for i in 0..3u8 {
        tx.write_all(&[i; 2]).unwrap();
        push_lent!(ring, Recv::new(&rx, pool.select()).user_data(u64::from(i))).unwrap();
        let cqe = reap_one(&mut ring);
        assert_eq!(cqe.res(), 2);
        // SAFETY: a completion of this recv, selecting from the pool.
        held.push(unsafe { pool.claim_unchecked(&cqe) }.unwrap());
        let taken = u16::from(i) + 1;
        assert_eq!(pool.head().unwrap(), taken);
        assert_eq!(pool.available().unwrap(), 4 - taken);
    }
    drop(held);
    // Back in the ring: the tail moved on, the head stays.
    assert_eq!((pool.head().unwrap(), pool.available().unwrap()), (3, 4));
}

/// A receive bundle (6.10) fills consecutive buffers of the ring and names
/// the first: `claim` refuses it and leaves it unclaimed, `claim_bundle`
/// hands out every buffer, in the ring's order (not the ids' order, once
/// buffers came back out of order), with the bytes received, and each
/// buffer goes back to the kernel.
#[test]
fn a_bundle_is_claimed_whole_in_the_ring_s_order() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    if !uring_tests::require_features(&ring, uring::Features::RECVSEND_BUNDLE, "bundles") {
        return;
    }
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let pool = ring.register_buf_ring(BufferGroup::new(31), 4, 16).unwrap();
    let sent: Vec<u8> = (0..40).collect();
    let (order, got) = ring
        .scope(|s| -> uring::Result<(Vec<u16>, Vec<u8>)> {
            // Take buffers 0 and 1 and give them back as 1, then 0: the ring
            // now holds 2, 3, 1, 0.
            let mut held = Vec::new();
            for i in 0..2u8 {
                tx.write_all(&[i]).unwrap();
                s.push(Recv::new(&rx, pool.select()).user_data(u64::from(i)))?;
                s.submit_and_wait(1)?;
                let mut cqe = s.completions().next().expect("a completion");
                held.push(pool.claim(&mut cqe)?);
            }
            assert_eq!(held.iter().map(|b| b.bid()).collect::<Vec<_>>(), [0, 1]);
            held.reverse();
            drop(held);
            tx.write_all(&sent).unwrap();
            s.push(
                Recv::new(&rx, pool.select())
                    .recv_flags(RecvFlags::BUNDLE)
                    .user_data(9),
            )?;
            s.submit_and_wait(1)?;
            let mut cqe = s.completions().next().expect("a completion");
            assert!(
                cqe.res() > 16,
                "the bundle filled more than a buffer: {cqe:?}"
            );
            let refused = pool.claim(&mut cqe);
            assert!(
                matches!(refused, Err(Error::InvalidArgument(ref m)) if m.contains("bundle")),
                "{refused:?}"
            );
            let bufs = pool.claim_bundle(&mut cqe)?;
            assert!(pool.claim_bundle(&mut cqe).is_err(), "claimed once");
            let order = bufs.iter().map(|b| b.bid()).collect();
            let mut got = Vec::new();
            for (i, b) in bufs.iter().enumerate() {
                assert_eq!(b.offset(), 0);
                if i + 1 < bufs.len() {
                    assert_eq!(b.len(), 16, "every buffer but the last is full");
                }
                got.extend_from_slice(b);
            }
            assert_eq!(got.len(), cqe.res() as usize);
            Ok((order, got))
        })
        .unwrap();
    assert_eq!(order, [2, 3, 1][..order.len()], "the ring's order");
    assert_eq!(got, sent[..got.len()], "the bytes received, in order");
    assert_eq!(pool.lent(), 0);
    if uring_tests::require_kernel(6, 8, "the status of a buffer ring") {
        assert_eq!(pool.available().unwrap(), 4, "every buffer came back");
    }
}

/// A multishot receive bundle in a scope: each completion's buffers,
/// claimed and dropped, make the stream of bytes sent, however the kernel
/// split it.
#[test]
fn a_multishot_bundle_streams_every_byte() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    if !uring_tests::require_features(&ring, uring::Features::RECVSEND_BUNDLE, "bundles") {
        return;
    }
    let (mut tx, rx) = UnixStream::pair().unwrap();
    let pool = ring.register_buf_ring(BufferGroup::new(32), 8, 8).unwrap();
    let sent: Vec<u8> = (0..200u8).collect();
    let got = ring
        .scope(|s| -> uring::Result<Vec<u8>> {
            s.push(
                Recv::new(&rx, pool.select())
                    .recv_flags(RecvFlags::MULTISHOT | RecvFlags::BUNDLE)
                    .user_data(3),
            )?;
            s.submit()?;
            let mut got = Vec::new();
            let mut chunks = sent.chunks(25);
            while got.len() < sent.len() {
                if let Some(chunk) = chunks.next() {
                    tx.write_all(chunk).unwrap();
                }
                s.wait_timeout(1, Duration::from_secs(5))?;
                let mut ended = false;
                for mut cqe in s.completions() {
                    if cqe.res() == -libc::ENOBUFS {
                        // The ring ran dry while buffers were out.
                        ended = true;
                        continue;
                    }
                    assert!(cqe.res() > 0, "{cqe:?}");
                    ended |= !cqe.has_more();
                    for buf in pool.claim_bundle(&mut cqe)? {
                        got.extend_from_slice(&buf);
                    }
                }
                if ended {
                    s.push(
                        Recv::new(&rx, pool.select())
                            .recv_flags(RecvFlags::MULTISHOT | RecvFlags::BUNDLE)
                            .user_data(3),
                    )?;
                    s.submit()?;
                }
            }
            Ok(got)
        })
        .unwrap();
    assert_eq!(got, sent);
    assert_eq!(pool.lent(), 0);
}

/// A bundle flagged `MSG_TRUNC` would report a datagram's whole length,
/// more than the buffers it took: a scope makes it fail with `EINVAL`, and
/// the buffers stay with the kernel.
#[test]
fn a_truncating_bundle_in_a_scope_fails_with_einval() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    if !uring_tests::require_features(&ring, uring::Features::RECVSEND_BUNDLE, "bundles") {
        return;
    }
    let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    a.connect(b.local_addr().unwrap()).unwrap();
    a.send(&[9; 40]).unwrap();
    let pool = ring.register_buf_ring(BufferGroup::new(33), 4, 16).unwrap();
    let res = ring.scope(|s| -> uring::Result<i32> {
        s.push(
            Recv::new(&b, pool.select())
                .recv_flags(RecvFlags::BUNDLE)
                .msg_flags(uring::MsgFlags::TRUNC)
                .user_data(1),
        )?;
        s.submit_and_wait(1)?;
        let mut cqe = s.completions().next().expect("a completion");
        assert!(pool.claim_bundle(&mut cqe).is_err(), "{cqe:?}");
        Ok(cqe.res())
    });
    assert_eq!(res.unwrap(), -libc::EINVAL);
    assert_eq!(pool.lent(), 0);
    if uring_tests::require_kernel(6, 8, "the status of a buffer ring") {
        assert_eq!(pool.available().unwrap(), 4);
    }
}

/// A receive flagged `MSG_TRUNC` of a datagram longer than its buffer
/// reports the datagram's whole length: `claim_unchecked` refuses it (it
/// cannot be told from a bundle's), `claim_truncated_unchecked` lends the
/// one buffer with the datagram's first bytes, and the buffer goes back to
/// the ring. A completion within its buffer is claimed by either as usual.
#[test]
fn a_truncated_datagram_s_buffer_is_claimed_by_claim_truncated_unchecked() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = ring_or_skip() else {
        return;
    };
    let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    a.connect(b.local_addr().unwrap()).unwrap();
    let pool = ring.register_buf_ring(BufferGroup::new(34), 4, 16).unwrap();
    let long = uring_tests::pattern(40, 3);
    a.send(&long).unwrap();
    push_lent!(
        ring,
        Recv::new(&b, pool.select())
            .msg_flags(uring::MsgFlags::TRUNC)
            .user_data(1)
    )
    .unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!(cqe.res(), 40, "the datagram's whole length");
    // SAFETY: the kernel posted `cqe` on `ring`, which registered `pool`,
    // for a receive (not a bundle) that selected one buffer from it;
    // nothing else claims it, and a refused claim claims nothing.
    let refused = unsafe { pool.claim_unchecked(&cqe) };
    assert!(matches!(refused, Err(Error::InvalidArgument(_))));
    assert_eq!(pool.lent(), 0);
    // SAFETY: as above, of a receive flagged `MSG_TRUNC`.
    let buf = unsafe { pool.claim_truncated_unchecked(&cqe) }.unwrap();
    assert_eq!(buf[..], long[..16]);
    assert_eq!(pool.lent(), 1);
    drop(buf);
    assert_eq!(pool.lent(), 0);
    // A datagram that fits: the same claim, as `claim_unchecked`'s.
    a.send(&long[..10]).unwrap();
    push_lent!(
        ring,
        Recv::new(&b, pool.select())
            .msg_flags(uring::MsgFlags::TRUNC)
            .user_data(2)
    )
    .unwrap();
    let cqe = reap_one(&mut ring);
    assert_eq!(cqe.res(), 10);
    // SAFETY: as above.
    let buf = unsafe { pool.claim_truncated_unchecked(&cqe) }.unwrap();
    assert_eq!(buf[..], long[..10]);
    drop(buf);
    if uring_tests::require_kernel(6, 8, "the status of a buffer ring") {
        assert_eq!(pool.available().unwrap(), 4, "both buffers back");
    }
}
