//! The forms of the ops beyond their plain one, against the kernel: poll,
//! timeout and link-timeout updates; cancellation by file, by opcode and of
//! all matches; `sendto`, send bundles and sends from provided buffers;
//! multishot `recvmsg` into provided buffers; zero-copy sends from
//! registered buffers; messages that pass completion flags and
//! descriptors; socket and block commands; and how a scope lets ops that
//! name other ops find its own.

use std::io::{Read as _, Write as _};
use std::net::UdpSocket;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use uring::ops::{
    BlockDiscard, Cancel, CancelFd, CancelOp, GetSockName, GetSockOpt, LinkTimeoutUpdate, MsgRing,
    MsgRingFd, Nop, PollAdd, PollRemove, PollUpdate, Read, Recv, RecvMsgMulti, Send,
    SendMsgZcFixed, SendZcFixed, SetSockOpt, SocketInq, SocketOutq, Timeout, TimeoutUpdate,
};
use uring::{
    BlockDevice, BufferGroup, CancelFlags, CancelOpcode, Cqe, MsgHdr, MsgLayout, PollEvents,
    PollFlags, RecvMsgOut, Ring, RingSlot, SendFlags, SockAddr, SockAddrBuf, SockOpt,
};
use uring_tests::{PATIENCE, complete, push_lent, require_kernel, require_op, skip};

fn ud_res(cqes: &[Cqe]) -> Vec<(u64, i32)> {
    let mut v: Vec<(u64, i32)> = cqes.iter().map(|c| (c.user_data(), c.res())).collect();
    v.sort_unstable();
    v
}

/// Waits for `n` completions of the ring (outside a scope).
fn reap(ring: &mut Ring, n: usize) -> Vec<Cqe> {
    let mut out = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    ring.submit().unwrap();
    while out.len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} completions",
            out.len()
        );
        ring.wait_timeout(1, Duration::from_millis(100)).ok();
        out.extend(ring.completions());
    }
    out
}

#[test]
fn a_poll_update_changes_events_and_user_data() {
    let mut ring = Ring::new(8).unwrap();
    if !require_kernel(5, 13, "poll updates") {
        return;
    }
    let (a, mut b) = UnixStream::pair().unwrap();
    // Waits for input that never comes...
    push_lent!(ring, PollAdd::new(&a, PollEvents::IN).user_data(1)).unwrap();
    ring.submit().unwrap();
    // ...until it waits for room to write instead, under a new name.
    ring.push(
        PollUpdate::new(1)
            .events(PollEvents::OUT)
            .new_user_data(2)
            .user_data(3),
    )
    .unwrap();
    let got = ud_res(&reap(&mut ring, 2));
    assert_eq!(got.len(), 2);
    assert_eq!(
        got[0].0, 2,
        "the poll completes under its new user_data: {got:?}"
    );
    assert!(got[0].1 as u32 & PollEvents::OUT.bits() != 0);
    assert_eq!(got[1], (3, 0), "the update succeeded");
    // Nothing left to update.
    ring.push(PollUpdate::new(1).events(PollEvents::IN).user_data(4))
        .unwrap();
    assert_eq!(ud_res(&reap(&mut ring, 1)), [(4, -libc::ENOENT)]);
    b.write_all(b"x").unwrap();
}

#[test]
fn a_timeout_update_moves_the_deadline() {
    let mut ring = Ring::new(8).unwrap();
    if !require_kernel(5, 11, "timeout updates") {
        return;
    }
    let start = Instant::now();
    ring.push(Timeout::new(Duration::from_secs(30)).user_data(1))
        .unwrap();
    ring.push(TimeoutUpdate::new(1, Duration::from_millis(20)).user_data(2))
        .unwrap();
    let got = ud_res(&reap(&mut ring, 2));
    assert_eq!(got, [(1, -libc::ETIME), (2, 0)]);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
    ring.push(TimeoutUpdate::new(1, Duration::from_millis(1)).user_data(3))
        .unwrap();
    assert_eq!(ud_res(&reap(&mut ring, 1)), [(3, -libc::ENOENT)]);
}

#[test]
fn a_link_timeout_update_moves_the_bound_of_its_op() {
    let mut ring = Ring::new(8).unwrap();
    if !require_kernel(5, 15, "link timeout updates") {
        return;
    }
    let (rx, _tx) = uring_tests::pipe();
    let mut buf = [0u8; 4];
    let start = Instant::now();
    let got = ring.scope(|s| {
        s.push(
            Read::new(&rx, &mut buf[..])
                .user_data(1)
                .timeout_with(Duration::from_secs(30), 2),
        )
        .unwrap();
        s.submit().unwrap();
        s.push(LinkTimeoutUpdate::new(2, Duration::from_millis(20)).user_data(3))
            .unwrap();
        let mut got = Vec::new();
        while s.in_flight() > 0 {
            s.submit_and_wait(1).unwrap();
            got.extend(s.completions().map(|c| c.cqe()));
        }
        got
    });
    assert_eq!(
        ud_res(&got),
        [(1, -libc::ECANCELED), (2, -libc::ETIME), (3, 0)],
        "the scope found the link timeout by the user_data it was given"
    );
    assert!(start.elapsed() < Duration::from_secs(10));
}

#[test]
fn cancel_by_file_raw_and_fixed_and_all_of_them() {
    let mut ring = Ring::new(16).unwrap();
    if !require_kernel(5, 19, "cancel by file") {
        return;
    }
    let (rx, _tx) = uring_tests::pipe();
    let (rx2, _tx2) = uring_tests::pipe();
    let files = ring.register_files(&[rx2.as_fd()]).unwrap();
    let fixed = files.get(0).unwrap();
    let mut bufs = [[0u8; 4]; 4];
    let got = ring.scope(|s| {
        let [b0, b1, b2, b3] = &mut bufs;
        s.push(Read::new(&rx, &mut b0[..]).user_data(1)).unwrap();
        s.push(Read::new(&rx, &mut b1[..]).user_data(2)).unwrap();
        s.push(Read::new(fixed, &mut b2[..]).user_data(3)).unwrap();
        s.push(Read::new(fixed, &mut b3[..]).user_data(4)).unwrap();
        s.submit().unwrap();
        s.push(
            CancelFd::new(&rx)
                .cancel_flags(CancelFlags::ALL)
                .user_data(10),
        )
        .unwrap();
        s.push(CancelFd::new(fixed).user_data(11)).unwrap();
        s.submit().unwrap();
        let mut got = Vec::new();
        while got.len() < 5 {
            s.wait_timeout(1, PATIENCE).unwrap();
            got.extend(s.completions().map(|c| c.cqe()));
        }
        got
    });
    let got = ud_res(&got);
    assert!(
        got.contains(&(10, 2)),
        "ALL cancelled both reads of the pipe: {got:?}"
    );
    assert!(
        got.contains(&(11, 0)),
        "one read of the fixed pipe: {got:?}"
    );
    assert!(got.contains(&(1, -libc::ECANCELED)) && got.contains(&(2, -libc::ECANCELED)));
    let fixed_cancelled = got
        .iter()
        .filter(|(ud, res)| (3..=4).contains(ud) && *res == -libc::ECANCELED)
        .count();
    assert_eq!(fixed_cancelled, 1, "{got:?}");
}

#[test]
fn cancel_by_opcode_cancels_every_op_of_it() {
    let mut ring = Ring::new(16).unwrap();
    if !require_kernel(6, 6, "cancel by opcode") {
        return;
    }
    let (a, _b) = UnixStream::pair().unwrap();
    let (c, _d) = UnixStream::pair().unwrap();
    let got = ring.scope(|s| {
        s.push(PollAdd::new(&a, PollEvents::IN).user_data(1))
            .unwrap();
        s.push(PollAdd::new(&c, PollEvents::IN).user_data(2))
            .unwrap();
        s.push(Timeout::new(Duration::from_secs(30)).user_data(3))
            .unwrap();
        s.submit().unwrap();
        s.push(
            CancelOp::new(CancelOpcode::of::<PollAdd>())
                .cancel_flags(CancelFlags::ALL)
                .user_data(9),
        )
        .unwrap();
        s.submit().unwrap();
        let mut got = Vec::new();
        while got.len() < 3 {
            s.wait_timeout(1, PATIENCE).unwrap();
            got.extend(s.completions().map(|c| c.cqe()));
        }
        got
    });
    assert_eq!(
        ud_res(&got),
        [(1, -libc::ECANCELED), (2, -libc::ECANCELED), (9, 2)],
        "both polls, not the timeout (which the scope cancels as it ends)"
    );
}

#[test]
fn ops_that_name_ops_find_the_scope_s_own() {
    let mut ring = Ring::new(16).unwrap();
    let (a, _b) = UnixStream::pair().unwrap();
    let got = ring.scope(|s| {
        s.push(PollAdd::new(&a, PollEvents::IN).user_data(1))
            .unwrap();
        s.push(Timeout::new(Duration::from_secs(30)).user_data(2))
            .unwrap();
        s.push(
            PollAdd::new(&a, PollEvents::IN)
                .poll_flags(PollFlags::MULTI)
                .user_data(3),
        )
        .unwrap();
        s.submit().unwrap();
        s.push(Cancel::new(1).user_data(11)).unwrap();
        s.push(uring::ops::TimeoutRemove::new(2).user_data(12))
            .unwrap();
        s.push(PollRemove::new(3).user_data(13)).unwrap();
        s.push(Cancel::new(99).user_data(14)).unwrap();
        let mut got = Vec::new();
        while s.in_flight() > 0 {
            s.submit_and_wait(1).unwrap();
            got.extend(s.completions().map(|c| c.cqe()));
        }
        got
    });
    assert_eq!(
        ud_res(&got),
        [
            (1, -libc::ECANCELED),
            (2, -libc::ECANCELED),
            (3, -libc::ECANCELED),
            (11, 0),
            (12, 0),
            (13, 0),
            (14, -libc::ENOENT),
        ]
    );
}

/// In a scope, a poll update's new `user_data` renames the scope's poll (the
/// kernel keeps the tag); one that would rename a poll the scope did not
/// push is refused by the kernel (EINVAL), and that poll keeps its name.
#[test]
fn a_poll_update_in_a_scope_renames_only_the_scope_s_polls() {
    let mut ring = Ring::new(16).unwrap();
    if !require_kernel(5, 13, "poll updates") {
        return;
    }
    let (a, mut b) = UnixStream::pair().unwrap();
    // A poll from before the scope.
    push_lent!(ring, PollAdd::new(&a, PollEvents::IN).user_data(100)).unwrap();
    ring.submit().unwrap();
    let (c, mut d) = UnixStream::pair().unwrap();
    let got = ring.scope(|s| {
        s.push(PollAdd::new(&c, PollEvents::IN).user_data(1))
            .unwrap();
        s.submit().unwrap();
        s.push(PollUpdate::new(1).new_user_data(5).user_data(2))
            .unwrap();
        s.push(PollUpdate::new(100).new_user_data(7).user_data(3))
            .unwrap();
        s.submit().unwrap();
        let mut got = Vec::new();
        while got.len() < 2 {
            s.wait_timeout(1, PATIENCE).unwrap();
            got.extend(s.completions().map(|c| c.cqe()));
        }
        d.write_all(b"x").unwrap();
        while s.in_flight() > 0 {
            s.submit_and_wait(1).unwrap();
            got.extend(s.completions().map(|c| c.cqe()));
        }
        got
    });
    let got = ud_res(&got);
    assert_eq!(got[0].0, 2, "{got:?}");
    assert_eq!(got[0].1, 0, "the scope's poll was updated: {got:?}");
    assert_eq!(
        got[1],
        (3, -libc::EINVAL),
        "the foreign poll was not renamed"
    );
    assert_eq!(
        got[2].0, 5,
        "the scope's poll completes under its new name: {got:?}"
    );
    assert!(got[2].1 as u32 & PollEvents::IN.bits() != 0);
    // The foreign poll kept its name.
    b.write_all(b"y").unwrap();
    let cqe = reap(&mut ring, 1)[0];
    assert_eq!(cqe.user_data(), 100);
}

#[test]
fn sendto_names_the_destination() {
    let mut ring = Ring::new(8).unwrap();
    if !require_kernel(6, 3, "send with a destination") {
        return;
    }
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    b.set_read_timeout(Some(PATIENCE)).unwrap();
    let to = SockAddr::from(b.local_addr().unwrap());
    let cqe = complete(
        &mut ring,
        Send::new(&a, b"to b").dest(Some(&to)).user_data(1),
    );
    assert_eq!(cqe.result().unwrap(), 4);
    let mut got = [0u8; 16];
    let (n, from) = b.recv_from(&mut got).unwrap();
    assert_eq!(&got[..n], b"to b");
    assert_eq!(from, a.local_addr().unwrap());
}

#[test]
fn sends_from_provided_buffers_one_or_a_bundle() {
    let mut ring = Ring::new(8).unwrap();
    if !require_kernel(6, 10, "sends that select buffers") {
        return;
    }
    let (tx, mut rx) = UnixStream::pair().unwrap();
    rx.set_read_timeout(Some(PATIENCE)).unwrap();
    let pool = ring.register_buf_ring(BufferGroup::new(3), 4, 8).unwrap();
    // Fill the buffers with what to send: claim them through reads first.
    let mut writer = tx.try_clone().unwrap();
    let (src, mut feed) = UnixStream::pair().unwrap();
    feed.write_all(b"AAAAAAAABBBBBBBB").unwrap();
    ring.scope(|s| {
        for i in 0..2 {
            s.push(Recv::new(&src, pool.select()).user_data(i)).unwrap();
        }
        let mut left = 2;
        while left > 0 {
            s.submit_and_wait(1).unwrap();
            for mut cqe in s.completions() {
                let buf = pool.claim(&mut cqe).unwrap();
                assert_eq!(buf.len(), 8);
                left -= 1;
                // Dropping the claim gives the buffer back, full.
            }
        }
    });
    let cqe = complete(&mut ring, Send::new(&tx, pool.select()).user_data(1));
    assert_eq!(cqe.result().unwrap(), 8, "one provided buffer: {cqe:?}");
    let cqe = complete(
        &mut ring,
        Send::new(&tx, pool.select())
            .send_flags(SendFlags::BUNDLE)
            .user_data(2),
    );
    let sent = cqe.result().unwrap();
    assert!(sent >= 8, "a bundle: {cqe:?}");
    let mut got = vec![0u8; 8 + sent as usize];
    rx.read_exact(&mut got).unwrap();
    // What the buffers held, in ring order (each 8 bytes of one letter).
    assert!(
        got.chunks(8).all(|c| c.iter().all(|&b| b == c[0])),
        "{got:?}"
    );
    writer.flush().unwrap();
}

#[test]
fn multishot_recvmsg_fills_provided_buffers_with_header_address_and_payload() {
    let mut ring = Ring::new(8).unwrap();
    if !require_kernel(6, 0, "multishot recvmsg") {
        return;
    }
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx1 = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx2 = UdpSocket::bind("127.0.0.1:0").unwrap();
    let pool = ring.register_buf_ring(BufferGroup::new(4), 8, 256).unwrap();
    let layout = MsgLayout::new(std::mem::size_of::<libc::sockaddr_storage>() as u32, 0);
    tx1.send_to(b"first", rx.local_addr().unwrap()).unwrap();
    tx2.send_to(b"second!", rx.local_addr().unwrap()).unwrap();
    let got = ring.scope(|s| {
        s.push(RecvMsgMulti::new(&rx, &layout, pool.group()).user_data(1))
            .unwrap();
        let mut got = Vec::new();
        while got.len() < 2 {
            s.submit_and_wait(1).unwrap();
            for mut cqe in s.completions() {
                assert_eq!(cqe.user_data(), 1);
                assert!(cqe.has_more(), "the receive stays armed: {cqe:?}");
                let buf = pool.claim(&mut cqe).unwrap();
                let msg = RecvMsgOut::parse(&buf, &layout).expect("a whole header");
                got.push((msg.payload().to_vec(), msg.socket_addr()));
            }
        }
        got
        // The scope cancels the receive as it ends.
    });
    assert_eq!(got[0].0, b"first");
    assert_eq!(got[0].1, Some(tx1.local_addr().unwrap()));
    assert_eq!(got[1].0, b"second!");
    assert_eq!(got[1].1, Some(tx2.local_addr().unwrap()));
}

#[test]
fn zero_copy_sends_from_a_registered_buffer() {
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SendZcFixed<'_>>(&ring) {
        return;
    }
    // Zero-copy sends take TCP or UDP sockets.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let tx = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut rx, _) = listener.accept().unwrap();
    rx.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut region = vec![0u8; 4096];
    region[..11].copy_from_slice(b"from fixed!");
    let iov = [std::io::IoSliceMut::new(&mut region[..])];
    // SAFETY: `region` stays allocated and untouched but by the sends below
    // until the buffers are unregistered.
    let bufs = unsafe { ring.register_buffers(&iov) }.unwrap();
    let index = bufs.get(0).unwrap();
    let bytes: &[u8] = &region[..];
    let done = ring.scope(|s| {
        s.push(SendZcFixed::new(&tx, &bytes[..11], index).user_data(1))
            .unwrap();
        let mut done = Vec::new();
        while s.in_flight() > 0 {
            s.submit_and_wait(1).unwrap();
            done.extend(s.completions().map(|c| c.cqe()));
        }
        done
    });
    assert_eq!(done[0].res(), 11, "{done:?}");
    assert!(done.last().unwrap().is_notification() || done[0].res() < 0);
    let mut got = [0u8; 11];
    rx.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"from fixed!");

    if require_kernel(6, 15, "zero-copy sendmsg from registered buffers") {
        let parts = [std::io::IoSlice::new(&bytes[5..11])];
        let msg = MsgHdr::new(&parts);
        let done = ring.scope(|s| {
            s.push(SendMsgZcFixed::new(&tx, &msg, index).user_data(2))
                .unwrap();
            let mut done = Vec::new();
            while s.in_flight() > 0 {
                s.submit_and_wait(1).unwrap();
                done.extend(s.completions().map(|c| c.cqe()));
            }
            done
        });
        assert_eq!(done[0].res(), 6, "{done:?}");
        let mut got = [0u8; 6];
        rx.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"fixed!");
    }
    ring.unregister_buffers(bufs).unwrap();
}

#[test]
fn msg_ring_passes_completion_flags() {
    let mut ring = Ring::new(8).unwrap();
    let mut other = Ring::new(8).unwrap();
    if !require_kernel(6, 3, "IORING_MSG_RING_FLAGS_PASS") {
        return;
    }
    let cqe = complete(
        &mut ring,
        MsgRing::new(&other, 5, 55)
            .cqe_flags(0x8000_0000)
            .user_data(1),
    );
    assert_eq!(cqe.res(), 0);
    let got = reap(&mut other, 1)[0];
    assert_eq!(
        (got.user_data(), got.res(), got.flags()),
        (55, 5, 0x8000_0000)
    );
}

#[test]
fn msg_ring_passes_a_registered_file_to_another_ring() {
    let mut ring = Ring::new(8).unwrap();
    let mut other = Ring::new(8).unwrap();
    if !require_kernel(6, 0, "passing descriptors between rings") {
        return;
    }
    let (rx, tx) = uring_tests::pipe();
    let files = ring.register_files(&[tx.as_fd()]).unwrap();
    let mut target_files = other.register_files_sparse(4).unwrap();
    drop(tx);
    // Into a free slot the target's kernel picks.
    let cqe = complete(
        &mut ring,
        MsgRingFd::new(RingSlot::alloc(&other), files.get(0).unwrap(), 70).user_data(1),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    let got = reap(&mut other, 1)[0];
    assert_eq!(got.user_data(), 70);
    let slot = got.res();
    assert!((0..4).contains(&slot), "the slot picked: {got:?}");
    // Into a chosen slot.
    let chosen = RingSlot::at(&other, target_files.get_mut(3).unwrap()).unwrap();
    let cqe = complete(
        &mut ring,
        MsgRingFd::new(chosen, files.get(0).unwrap(), 71).user_data(2),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    assert_eq!(reap(&mut other, 1)[0].user_data(), 71);
    // The target writes through both.
    for index in [slot as u32, 3] {
        let cqe = complete(
            &mut other,
            uring::ops::Write::new(target_files.get(index).unwrap(), b"z").user_data(3),
        );
        assert_eq!(cqe.res(), 1, "slot {index}");
    }
    let mut got = [0u8; 2];
    std::fs::File::from(rx).read_exact(&mut got).unwrap();
    assert_eq!(&got, b"zz");
    // A slot of another table is refused when the op is made.
    let mut third = Ring::new(2).unwrap();
    let mut third_files = third.register_files_sparse(1).unwrap();
    assert!(RingSlot::at(&other, third_files.get_mut(0).unwrap()).is_err());
}

#[test]
fn socket_commands_read_queues_and_options() {
    let mut ring = Ring::new(8).unwrap();
    if !require_kernel(6, 7, "socket commands") {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    client.write_all(b"12345").unwrap();
    let deadline = Instant::now() + PATIENCE;
    let inq = loop {
        let cqe = complete(&mut ring, SocketInq::new(&server).user_data(1));
        if cqe.res() == 5 || Instant::now() > deadline {
            break cqe.res();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(inq, 5, "unread bytes");
    let cqe = complete(&mut ring, SocketOutq::new(&server).user_data(2));
    assert_eq!(cqe.res(), 0, "nothing unsent");

    let mut value = [0u8; 4];
    let cqe = complete(
        &mut ring,
        GetSockOpt::new(&server, SockOpt::SO_TYPE, &mut value[..]).user_data(3),
    );
    assert_eq!(cqe.res(), 4, "{cqe:?}");
    assert_eq!(i32::from_ne_bytes(value), libc::SOCK_STREAM);

    let on = 1i32.to_ne_bytes();
    let cqe = complete(
        &mut ring,
        SetSockOpt::new(&server, SockOpt::TCP_NODELAY, &on[..]).user_data(4),
    );
    assert_eq!(cqe.res(), 0, "{cqe:?}");
    let mut got = 0i32;
    let mut len = 4 as libc::socklen_t;
    // SAFETY: `got` and `len` are valid for the call.
    let rc = unsafe {
        libc::getsockopt(
            server.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&mut got as *mut i32).cast(),
            &mut len,
        )
    };
    assert_eq!((rc, got), (0, 1), "TCP_NODELAY was set");

    let mut addr = SockAddrBuf::new();
    let cqe = complete(
        &mut ring,
        GetSockName::new(&server, &mut addr).peer(true).user_data(5),
    );
    match cqe.res() {
        0 => assert_eq!(addr.socket_addr(), Some(client.local_addr().unwrap())),
        e if e == -libc::EINVAL || e == -libc::EOPNOTSUPP => {
            skip("this kernel has no GETSOCKNAME socket command");
        }
        e => panic!("getsockname: {e}"),
    }
}

#[test]
fn block_discard_on_a_loop_device() {
    let mut ring = Ring::new(8).unwrap();
    if !require_kernel(6, 12, "block commands") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("disk");
    std::fs::write(&image, vec![0xabu8; 1 << 20]).unwrap();
    let out = std::process::Command::new("losetup")
        .args(["-f", "--show"])
        .arg(&image)
        .output();
    let Some(out) = out.ok().filter(|o| o.status.success()) else {
        skip("cannot attach a loop device (losetup, root)");
        return;
    };
    let dev = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&dev)
            .unwrap();
        let device = BlockDevice::new(&file).unwrap();
        let cqe = complete(&mut ring, BlockDiscard::new(device, 0, 65536).user_data(1));
        assert_eq!(cqe.res(), 0, "discard: {cqe:?}");
        // A file that is not a block device is refused before any op.
        let plain = tempfile::tempfile().unwrap();
        assert!(BlockDevice::new(&plain).is_err());
    }));
    let _ = std::process::Command::new("losetup")
        .args(["-d", &dev])
        .status();
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn a_chain_s_link_timeout_can_carry_a_user_data() {
    let mut ring = Ring::new(8).unwrap();
    ring.push(
        Nop::new()
            .user_data(1)
            .timeout_with(Duration::from_secs(5), 77),
    )
    .unwrap();
    ring.push(
        Nop::new()
            .user_data(2)
            .link(Nop::new().user_data(3))
            .timeout_with(Duration::from_secs(5), 78),
    )
    .unwrap();
    assert_eq!(
        ud_res(&reap(&mut ring, 5)),
        [
            (1, 0),
            (2, 0),
            (3, 0),
            (77, -libc::ECANCELED),
            (78, -libc::ECANCELED)
        ]
    );
}

#[test]
fn a_nop_completes_with_the_result_it_is_given() {
    if !uring_tests::require_kernel(6, 10, "IORING_NOP_INJECT_RESULT") {
        return;
    }
    let mut ring = Ring::new(8).unwrap();
    ring.push(uring::ops::Nop::new().result(42).user_data(1))
        .unwrap();
    // A failing NOP fails the chain it heads.
    ring.push(
        uring::ops::Nop::new()
            .result(-libc::EPERM)
            .user_data(2)
            .link(uring::ops::Nop::new().user_data(3)),
    )
    .unwrap();
    let cqes = uring_tests::submit_and_reap(&mut ring, 3);
    let got: Vec<_> = cqes.iter().map(|c| (c.user_data(), c.res())).collect();
    assert_eq!(got, [(1, 42), (2, -libc::EPERM), (3, -libc::ECANCELED)]);
}

uring::ops! {
    /// A NOP declared as added by a kernel that does not exist yet: a form
    /// whose opcode the kernel has, but not the version.
    #[since = "99.0"]
    pub unsafe struct FutureNop = NOP {
        const fd = -1,
    }
}

#[test]
fn the_probe_answers_for_forms_by_their_version() {
    let ring = Ring::new(2).unwrap();
    let probe = ring.probe().unwrap();
    assert!(probe.supports::<uring::ops::Nop>());
    assert!(probe.is_supported(uring::sys::IORING_OP_NOP));
    assert!(!probe.supports::<FutureNop>(), "opcode known, version not");
    let (major, minor) = uring_tests::kernel_version();
    // Forms sharing an opcode answer by the version that added them.
    let recvmsg_multi = (major, minor) >= (6, 0);
    assert_eq!(
        probe.supports::<uring::ops::RecvMsgMulti<'_>>(),
        recvmsg_multi
    );
    assert_eq!(uring::sys::parse_release("6.18.0-1-amd64"), Some((6, 18)));
    assert_eq!(uring::sys::parse_release("5.19"), Some((5, 19)));
    assert_eq!(uring::sys::parse_release("garbage"), None);
    assert_eq!(uring::sys::kernel_release(), Some((major, minor)));
}

/// The normal-data events of `poll(2)` (`POLLRDNORM`, `POLLWRNORM`), which
/// Linux reports beside `POLLIN` and `POLLOUT`: a poll for them on a pipe
/// completes with them once there is data to read, or room to write; one
/// for the priority bands, which a pipe never has, stays armed.
#[test]
fn polls_for_normal_data_complete_with_those_events() {
    let _watch = uring_tests::watchdog();
    let (r, w) = uring_tests::pipe();
    let mut ring = Ring::new(8).unwrap();
    ring.scope(|s| {
        s.push(uring::ops::PollAdd::new(&w, PollEvents::WRNORM).user_data(1))
            .unwrap();
        s.push(uring::ops::PollAdd::new(&r, PollEvents::RDBAND).user_data(2))
            .unwrap();
        s.submit_and_wait(1).unwrap();
        let got: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, 1);
        let events = PollEvents::from_bits_truncate(got[0].1 as u32);
        assert!(events.contains(PollEvents::WRNORM), "{events:?}");
        assert!(!events.contains(PollEvents::RDBAND), "{events:?}");
        s.push(uring::ops::PollAdd::new(&r, PollEvents::RDNORM).user_data(3))
            .unwrap();
        s.submit().unwrap();
        // SAFETY: one byte from a live buffer to the pipe's write end.
        let n = unsafe { libc::write(w.as_raw_fd(), b"x".as_ptr().cast(), 1) };
        assert_eq!(n, 1);
        s.wait_timeout(1, PATIENCE).unwrap();
        let got: Vec<(u64, i32)> = s.completions().map(|c| (c.user_data(), c.res())).collect();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, 3, "the band poll stays armed: {got:?}");
        let events = PollEvents::from_bits_truncate(got[0].1 as u32);
        assert!(events.contains(PollEvents::RDNORM), "{events:?}");
        // The band poll, still armed, goes with the scope's cancel.
    });
}
