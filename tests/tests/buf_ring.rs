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
use uring_tests::reap_one;

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
