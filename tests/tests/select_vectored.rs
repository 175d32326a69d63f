//! A vectored read (`ReadVSelect`) and a single-shot message receive
//! (`RecvMsgSelect`) that take their buffer from a provided-buffer ring:
//! the bytes land in the buffer the completion names, which a scope claims;
//! the iovec's length caps the transfer while its base is never used; the
//! message header still receives the sender's address and the ancillary
//! data; an empty group fails the op with `ENOBUFS`.

use std::io::IoSliceMut;
use std::mem;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};

use uring::ops::{ReadVSelect, RecvMsgSelect};
use uring::{BufRing, MsgHdrMut, Ring, SockAddrBuf};
use uring_tests::{plain_buf_ring, set_int_option};

/// A ring and a provided-buffer ring of `count` buffers of `len` bytes
/// under `group`, or `None` (with a skip message) before 5.19.
fn ring_and_pool(group: u16, count: u16, len: u32) -> Option<(Ring, BufRing)> {
    let mut ring = Ring::new(8).unwrap();
    let pool = plain_buf_ring(&mut ring, group, count, len)?;
    Some((ring, pool))
}

/// An iovec whose base is `base` and length `len`.
fn iovec(base: *mut u8, len: usize) -> libc::iovec {
    libc::iovec {
        iov_base: base.cast(),
        iov_len: len,
    }
}

/// Two UDP sockets on 127.0.0.1: the sender and the receiver.
fn udp_pair() -> (UdpSocket, UdpSocket) {
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    (tx, rx)
}

/// What a read in a scope gave: its result, the buffer its completion
/// names, the id of the buffer claimed, and the claimed bytes.
type Claimed = (i32, Option<u16>, u16, Vec<u8>);

/// The ancillary records of `control` as `(level, type, data)`.
fn records(control: &[u8]) -> Vec<(i32, i32, Vec<u8>)> {
    let header = mem::size_of::<libc::cmsghdr>();
    let mut out = Vec::new();
    let mut at = 0;
    while control.len() - at >= header {
        // SAFETY: `header` bytes from `at` are in the slice; the read is
        // unaligned.
        let cmsg: libc::cmsghdr = unsafe {
            control
                .as_ptr()
                .add(at)
                .cast::<libc::cmsghdr>()
                .read_unaligned()
        };
        // `cmsg_len` is a `size_t` on glibc and a `socklen_t` on musl.
        #[allow(clippy::unnecessary_cast)]
        let len = cmsg.cmsg_len as usize;
        assert!(len >= header && len <= control.len() - at, "a whole record");
        out.push((
            cmsg.cmsg_level,
            cmsg.cmsg_type,
            control[at + header..at + len].to_vec(),
        ));
        at += len.next_multiple_of(mem::size_of::<usize>());
    }
    out
}

/// A read capped by the iovec's length takes that many bytes into the
/// buffer the kernel picks, which the completion names and the scope
/// claims; a length of 0, or one past the buffer's, reads a whole buffer.
/// The iovec's base, pointing at a buffer of the test, is never written.
#[test]
fn a_vectored_read_fills_a_picked_buffer_up_to_the_iovec_length() {
    let _watch = uring_tests::watchdog();
    let Some((mut ring, pool)) = ring_and_pool(30, 4, 16) else {
        return;
    };
    let file = uring_tests::file_of(b"0123456789abcdefghijklmnopqrstuvwxyz");
    let mut canary = [0xaau8; 64];
    let short = iovec(canary.as_mut_ptr(), 5);
    let whole = iovec(std::ptr::null_mut(), 0);
    let past = iovec(canary.as_mut_ptr(), 1000);
    let got = ring.scope(|s| -> uring::Result<Vec<Claimed>> {
        let mut got = Vec::new();
        for (ud, cap, offset) in [(1u64, &short, 2u64), (2, &whole, 0), (3, &past, 20)] {
            s.push(
                ReadVSelect::new(&file, cap, pool.group())
                    .offset(offset)
                    .user_data(ud),
            )?;
            s.submit_and_wait(1)?;
            let mut cqe = s.completions().next().expect("a completion");
            assert_eq!(cqe.user_data(), ud);
            let (res, bid) = (cqe.res(), cqe.buffer_id());
            let buf = pool.claim(&mut cqe)?;
            assert_eq!(buf.capacity(), 16);
            got.push((res, bid, buf.bid(), buf.to_vec()));
        }
        Ok(got)
    });
    let got = got.unwrap();
    assert_eq!(got[0].0, 5, "the iovec's length caps the read: {got:?}");
    assert_eq!(got[0].3, b"23456");
    assert_eq!(got[1].0, 16, "a length of 0 reads a whole buffer");
    assert_eq!(got[1].3, b"0123456789abcdef");
    assert_eq!(got[2].0, 16, "a length past the buffer reads a whole one");
    assert_eq!(got[2].3, b"klmnopqrstuvwxyz");
    for (res, bid, claimed, _) in &got {
        assert_eq!(*bid, Some(*claimed), "the completion names the buffer");
        assert!(*res > 0 && *claimed < 4);
    }
    assert_eq!(pool.lent(), 0);
    assert!(
        canary.iter().all(|&b| b == 0xaa),
        "nothing was written through the iovec's base"
    );
}

/// With every buffer of the group claimed and held, the read fails with
/// `ENOBUFS` and names no buffer; once one comes back, it reads into that
/// one.
#[test]
fn a_vectored_read_from_a_dry_group_fails_with_enobufs() {
    let _watch = uring_tests::watchdog();
    let Some((mut ring, pool)) = ring_and_pool(31, 1, 8) else {
        return;
    };
    let file = uring_tests::file_of(b"abcdefgh");
    let cap = iovec(std::ptr::null_mut(), 8);
    let outcome = ring.scope(|s| -> uring::Result<()> {
        s.push(ReadVSelect::new(&file, &cap, pool.group()).user_data(1))?;
        s.submit_and_wait(1)?;
        let mut cqe = s.completions().next().expect("a completion");
        let held = pool.claim(&mut cqe)?;
        assert_eq!(&held[..], b"abcdefgh");

        s.push(ReadVSelect::new(&file, &cap, pool.group()).user_data(2))?;
        s.submit_and_wait(1)?;
        let cqe = s.completions().next().expect("a completion");
        assert_eq!((cqe.user_data(), cqe.res()), (2, -libc::ENOBUFS));
        assert_eq!(cqe.buffer_id(), None);

        let bid = held.bid();
        drop(held);
        s.push(
            ReadVSelect::new(&file, &cap, pool.group())
                .offset(4)
                .user_data(3),
        )?;
        s.submit_and_wait(1)?;
        let mut cqe = s.completions().next().expect("a completion");
        assert_eq!((cqe.user_data(), cqe.res()), (3, 4));
        assert_eq!(cqe.buffer_id(), Some(bid));
        assert_eq!(&pool.claim(&mut cqe)?[..], b"efgh");
        Ok(())
    });
    outcome.unwrap();
}

/// A datagram received with `RecvMsgSelect` over UDP: the payload lands in
/// the picked buffer, and the header gets the sender's address and the
/// `IP_PKTINFO` record (the datagram's destination), with their lengths
/// and no flag.
#[test]
fn a_message_receive_fills_a_picked_buffer_and_the_header() {
    let _watch = uring_tests::watchdog();
    let Some((mut ring, pool)) = ring_and_pool(32, 2, 64) else {
        return;
    };
    let (tx, rx) = udp_pair();
    set_int_option(&rx, libc::IPPROTO_IP, libc::IP_PKTINFO, 1).unwrap();
    let payload = uring_tests::pattern(40, 3);
    assert_eq!(tx.send_to(&payload, rx.local_addr().unwrap()).unwrap(), 40);

    let mut from = SockAddrBuf::new();
    let mut control = [0u8; 128];
    let mut msg = MsgHdrMut::new(&mut [])
        .from(&mut from)
        .control(&mut control);
    let got = ring.scope(|s| -> uring::Result<Claimed> {
        s.push(RecvMsgSelect::new(&rx, &mut msg, pool.group()).user_data(7))?;
        s.submit_and_wait(1)?;
        let mut cqe = s.completions().next().expect("a completion");
        assert_eq!(cqe.user_data(), 7);
        let (res, bid) = (cqe.res(), cqe.buffer_id());
        let buf = pool.claim(&mut cqe)?;
        Ok((res, bid, buf.bid(), buf.to_vec()))
    });
    let (res, bid, claimed, bytes) = got.unwrap();
    assert_eq!(res, 40);
    assert_eq!(bid, Some(claimed), "the completion names the buffer");
    assert_eq!(bytes, payload);
    assert_eq!(msg.name_len() as usize, mem::size_of::<libc::sockaddr_in>());
    assert_eq!(msg.flags(), 0, "nothing truncated");
    let control_len = msg.control_len();
    assert!(control_len > 0, "ancillary data was received");
    assert_eq!(
        from.socket_addr(),
        Some(tx.local_addr().unwrap()),
        "the sender's address"
    );
    let records = records(&control[..control_len]);
    assert_eq!(records.len(), 1, "{records:?}");
    let (level, kind, data) = &records[0];
    assert_eq!((*level, *kind), (libc::IPPROTO_IP, libc::IP_PKTINFO));
    assert_eq!(data.len(), mem::size_of::<libc::in_pktinfo>());
    // SAFETY: the record's data is an `in_pktinfo` (its length checked
    // above); the read is unaligned.
    let info: libc::in_pktinfo =
        unsafe { data.as_ptr().cast::<libc::in_pktinfo>().read_unaligned() };
    assert_eq!(
        Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr)),
        Ipv4Addr::LOCALHOST,
        "the datagram's destination"
    );
    let SocketAddr::V4(rx_addr) = rx.local_addr().unwrap() else {
        unreachable!("bound on IPv4")
    };
    assert_eq!(*rx_addr.ip(), Ipv4Addr::LOCALHOST);
}

/// A header with one buffer: its length caps the receive (a 10-byte
/// datagram gives 4 bytes and `MSG_TRUNC`), the picked buffer gets them,
/// and the header's own buffer is left alone.
#[test]
fn a_message_receive_is_capped_by_the_one_buffer_of_the_header() {
    let _watch = uring_tests::watchdog();
    let Some((mut ring, pool)) = ring_and_pool(33, 2, 64) else {
        return;
    };
    let (tx, rx) = udp_pair();
    assert_eq!(
        tx.send_to(b"0123456789", rx.local_addr().unwrap()).unwrap(),
        10
    );
    let mut scratch = [0xeeu8; 4];
    let mut iov = [IoSliceMut::new(&mut scratch)];
    let mut msg = MsgHdrMut::new(&mut iov);
    let got = ring.scope(|s| -> uring::Result<(i32, Vec<u8>)> {
        s.push(RecvMsgSelect::new(&rx, &mut msg, pool.group()).user_data(1))?;
        s.submit_and_wait(1)?;
        let mut cqe = s.completions().next().expect("a completion");
        let res = cqe.res();
        assert!(cqe.buffer_id().is_some(), "{:?}", *cqe);
        let buf = pool.claim(&mut cqe)?;
        assert_eq!(buf.capacity(), 64);
        Ok((res, buf.to_vec()))
    });
    let (res, bytes) = got.unwrap();
    assert_eq!(res, 4);
    assert_eq!(bytes, b"0123");
    assert_eq!(msg.flags() & libc::MSG_TRUNC, libc::MSG_TRUNC);
    assert_eq!(msg.name_len(), 0, "no room for the address was given");
    assert_eq!(scratch, [0xee; 4], "the header's buffer received nothing");
}

/// A header with two buffers is refused (`EINVAL`) without taking a
/// buffer; with every buffer of the group held, the receive fails with
/// `ENOBUFS`; once one comes back, the datagram lands in it.
#[test]
fn a_message_receive_refuses_two_buffers_and_fails_on_a_dry_group() {
    let _watch = uring_tests::watchdog();
    let Some((mut ring, pool)) = ring_and_pool(34, 1, 32) else {
        return;
    };
    let (tx, rx) = udp_pair();
    let to = rx.local_addr().unwrap();
    let (mut a, mut b) = ([0u8; 4], [0u8; 4]);
    let mut two = [IoSliceMut::new(&mut a), IoSliceMut::new(&mut b)];
    let mut refused = MsgHdrMut::new(&mut two);
    // One header per op: a scope borrows each for the whole scope.
    let [mut second, mut third, mut fourth] = [(); 3].map(|()| MsgHdrMut::new(&mut []));
    let outcome = ring.scope(|s| -> uring::Result<()> {
        s.push(RecvMsgSelect::new(&rx, &mut refused, pool.group()).user_data(1))?;
        s.submit_and_wait(1)?;
        let cqe = s.completions().next().expect("a completion");
        assert_eq!((cqe.user_data(), cqe.res()), (1, -libc::EINVAL));
        assert_eq!(cqe.buffer_id(), None);

        tx.send_to(b"first", to).unwrap();
        s.push(RecvMsgSelect::new(&rx, &mut second, pool.group()).user_data(2))?;
        s.submit_and_wait(1)?;
        let mut cqe = s.completions().next().expect("a completion");
        assert_eq!((cqe.user_data(), cqe.res()), (2, 5));
        let held = pool.claim(&mut cqe)?;
        assert_eq!(&held[..], b"first");

        tx.send_to(b"second", to).unwrap();
        s.push(RecvMsgSelect::new(&rx, &mut third, pool.group()).user_data(3))?;
        s.submit_and_wait(1)?;
        let cqe = s.completions().next().expect("a completion");
        assert_eq!((cqe.user_data(), cqe.res()), (3, -libc::ENOBUFS));
        assert_eq!(cqe.buffer_id(), None);

        let bid = held.bid();
        drop(held);
        s.push(RecvMsgSelect::new(&rx, &mut fourth, pool.group()).user_data(4))?;
        s.submit_and_wait(1)?;
        let mut cqe = s.completions().next().expect("a completion");
        assert_eq!((cqe.user_data(), cqe.res()), (4, 6));
        assert_eq!(cqe.buffer_id(), Some(bid));
        assert_eq!(&pool.claim(&mut cqe)?[..], b"second");
        Ok(())
    });
    outcome.unwrap();
    assert_eq!((a, b), ([0; 4], [0; 4]));
}
