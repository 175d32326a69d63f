//! The transmit-timestamp socket command (`SOCKET_URING_OP_TX_TIMESTAMP`,
//! the typed `TxTimestamp`) against the kernel: it arms itself as a
//! multishot poll of the socket's error queue, posts one 32-byte CQE per
//! timestamp (key, type, time), leaves records that carry the packet on
//! the queue, ends with `-ECANCELED` when cancelled, and is refused on a
//! ring of 16-byte CQEs and on files that are not sockets.

use std::io::{Read as _, Write as _};
use std::mem;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::time::SystemTime;

use uring::ops::{Cancel, Nop, TxTimestamp, UringCmd};
use uring::{
    AsSocket, BigCqe, Builder, Cqe32, CqeMixed, CqeSize, Ring, Sqe64, TimestampType,
    TxTimestampCqe, UringCmdOp, sys,
};
use uring_tests::{PATIENCE, pipe, require_kernel, set_int_option};

/// The user data of the timestamp command in every test.
const STAMPS: u64 = 43;
/// The user data of the cancel that ends it.
const CANCEL: u64 = 44;

/// `SO_TIMESTAMPING` flags every test sets: software timestamps, keyed by
/// a counter, queued without the packet.
const BASE: u32 = libc::SOF_TIMESTAMPING_SOFTWARE
    | libc::SOF_TIMESTAMPING_OPT_ID
    | libc::SOF_TIMESTAMPING_OPT_TSONLY;

/// Whether the running kernel has the command; says why not when not.
fn have_command() -> bool {
    require_kernel(6, 17, "SOCKET_URING_OP_TX_TIMESTAMP")
}

/// A UDP socket on loopback connected to another, and that other.
fn udp_pair() -> (UdpSocket, UdpSocket) {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    tx.connect(rx.local_addr().unwrap()).unwrap();
    (tx, rx)
}

/// Sets `SO_TIMESTAMPING` on `socket` to `flags`.
fn timestamping(socket: &impl AsFd, flags: u32) {
    set_int_option(
        socket,
        libc::SOL_SOCKET,
        libc::SO_TIMESTAMPING,
        flags as i32,
    )
    .unwrap();
}

/// Pushes the typed command for `socket` with user data [`STAMPS`] and
/// submits it.
fn arm<C: CqeSize>(ring: &mut Ring<Sqe64, C>, socket: &impl AsSocket) {
    // SAFETY: every test declares the socket before the ring, so the ring
    // (and the kernel's use of the command) goes first, and reads the
    // command's last completion, after a cancel, before either is dropped.
    unsafe { ring.push_unchecked(TxTimestamp::new(socket).user_data(STAMPS)) }.unwrap();
    ring.submit().unwrap();
}

/// Sends `n` datagrams of 10 bytes on `tx` with plain `send(2)`.
fn send(tx: &UdpSocket, n: usize) {
    for i in 0..n {
        assert_eq!(tx.send(&[i as u8; 10]).unwrap(), 10);
    }
}

/// A UDP pair whose sender timestamps with `flags`, and a ring of
/// `entries` with 32-byte CQEs on which the command is armed for it. The
/// ring is the first field: it drops (and the kernel stops using the
/// command) before the sockets.
struct Armed {
    ring: Ring<Sqe64, Cqe32>,
    tx: UdpSocket,
    _rx: UdpSocket,
}

fn armed_udp(flags: u32, entries: u32) -> Armed {
    let (tx, rx) = udp_pair();
    timestamping(&tx, flags);
    let mut ring = Builder::new().build_sized::<Sqe64, Cqe32>(entries).unwrap();
    arm(&mut ring, &tx);
    Armed { ring, tx, _rx: rx }
}

/// Cancels the command and checks that it ended: `-ECANCELED` without
/// `IORING_CQE_F_MORE`, and the cancel's own 0.
fn assert_cancel_ends_it<C: CqeSize<Cqe = BigCqe>>(ring: &mut Ring<Sqe64, C>) {
    assert_eq!(
        cancel(ring),
        [(STAMPS, -libc::ECANCELED, false), (CANCEL, 0, false)]
    );
}

/// Reads completions until `n` of them came, or the command's last one.
fn reap<C: CqeSize<Cqe = BigCqe>>(ring: &mut Ring<Sqe64, C>, n: usize) -> Vec<BigCqe> {
    let mut got = Vec::new();
    while got.len() < n {
        ring.wait_timeout(1, PATIENCE)
            .unwrap_or_else(|e| panic!("{e} after {got:?}"));
        got.extend(ring.completions());
        if got.iter().any(|c| !c.has_more()) {
            break;
        }
    }
    got
}

/// Cancels the command and returns `(user_data, res, more)` of the
/// cancel's completion and the command's last, sorted.
fn cancel<C: CqeSize<Cqe = BigCqe>>(ring: &mut Ring<Sqe64, C>) -> Vec<(u64, i32, bool)> {
    ring.push(Cancel::new(STAMPS).user_data(CANCEL)).unwrap();
    ring.submit().unwrap();
    let mut end: Vec<(u64, i32, bool)> = reap_all(ring, 2)
        .iter()
        .map(|c| (c.user_data(), c.res(), c.has_more()))
        .collect();
    end.sort_unstable();
    end
}

/// Reads completions until `n` came.
fn reap_all<C: CqeSize<Cqe = BigCqe>>(ring: &mut Ring<Sqe64, C>, n: usize) -> Vec<BigCqe> {
    let mut got = Vec::new();
    while got.len() < n {
        ring.wait_timeout(1, PATIENCE)
            .unwrap_or_else(|e| panic!("{e} after {got:?}"));
        got.extend(ring.completions());
    }
    got
}

/// The timestamps of `cqes`, each checked to be the command's, flagged
/// MORE, and a big CQE.
fn decode(cqes: &[BigCqe]) -> Vec<TxTimestampCqe> {
    cqes.iter()
        .map(|c| {
            assert_eq!(c.user_data(), STAMPS, "{c:?}");
            assert!(c.has_more(), "a timestamp is flagged MORE: {c:?}");
            assert!(c.is_big(), "{c:?}");
            assert_eq!(c.buffer_id(), None, "{c:?}");
            c.tx_timestamp()
                .unwrap_or_else(|| panic!("not a timestamp: {c:?}"))
        })
        .collect()
}

/// The keys of the records on `socket`'s error queue, read with
/// `recvmsg(2)` and `MSG_ERRQUEUE` until it is empty, and whether each
/// carried the packet's bytes.
fn error_queue(socket: &impl AsRawFd) -> Vec<(u32, bool)> {
    let mut records = Vec::new();
    loop {
        let mut payload = [0u8; 64];
        let mut control = [0u64; 64];
        let mut iov = libc::iovec {
            iov_base: payload.as_mut_ptr().cast(),
            iov_len: payload.len(),
        };
        // SAFETY: all-zero bytes are a valid `msghdr` (null pointers, zero
        // lengths).
        let mut msg: libc::msghdr = unsafe { mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = mem::size_of_val(&control);
        // SAFETY: the descriptor is open; `msg` names a buffer and a
        // control area that live across the call.
        let n = unsafe {
            libc::recvmsg(
                socket.as_raw_fd(),
                &mut msg,
                libc::MSG_ERRQUEUE | libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "{e}");
            return records;
        }
        let mut key = None;
        // SAFETY: `msg` was filled in by the kernel: its control length
        // says how much of `control` holds records.
        let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
        while !cmsg.is_null() {
            // SAFETY: a record header inside `control`, as CMSG_NXTHDR
            // returns them.
            let (level, kind) = unsafe { ((*cmsg).cmsg_level, (*cmsg).cmsg_type) };
            if level == libc::SOL_IP && kind == libc::IP_RECVERR {
                // SAFETY: an IP_RECVERR record holds a `sock_extended_err`,
                // possibly unaligned in the control area.
                let err: libc::sock_extended_err = unsafe {
                    libc::CMSG_DATA(cmsg)
                        .cast::<libc::sock_extended_err>()
                        .read_unaligned()
                };
                assert_eq!(err.ee_errno, libc::ENOMSG as u32);
                assert_eq!(err.ee_origin, libc::SO_EE_ORIGIN_TIMESTAMPING);
                key = Some(err.ee_data);
            }
            // SAFETY: as for CMSG_FIRSTHDR.
            cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
        }
        records.push((key.expect("an IP_RECVERR record"), n > 0));
    }
}

#[test]
fn udp_software_timestamps_come_keyed_in_order_and_the_cancel_ends_them() {
    let _watch = uring_tests::watchdog();
    if !have_command() {
        return;
    }
    const N: usize = 8;
    let Armed {
        mut ring, ref tx, ..
    } = armed_udp(BASE | libc::SOF_TIMESTAMPING_TX_SOFTWARE, 16);
    // Armed on an empty queue: nothing yet.
    assert_eq!(ring.completions().count(), 0);
    let before = SystemTime::now();
    send(tx, N);
    let after = SystemTime::now();
    let stamps = decode(&reap(&mut ring, N));
    let keys: Vec<u32> = stamps.iter().map(|t| t.key()).collect();
    assert_eq!(keys, (0..N as u32).collect::<Vec<_>>());
    for t in &stamps {
        assert_eq!(t.tstype(), TimestampType::SND, "{t:?}");
        assert!(!t.is_hardware(), "{t:?}");
        let at = t.system_time().unwrap();
        assert!(
            before <= at && at <= after,
            "{t:?} not in {before:?}..{after:?}"
        );
    }
    // The command took them off the queue.
    assert_eq!(error_queue(tx), []);
    // It stays armed: more sends, more timestamps, the keys counting on.
    send(tx, 2);
    let more = decode(&reap(&mut ring, 2));
    let keys: Vec<u32> = more.iter().map(|t| t.key()).collect();
    assert_eq!(keys, [N as u32, N as u32 + 1]);
    assert_cancel_ends_it(&mut ring);
}

#[test]
fn the_last_completion_decodes_as_no_timestamp() {
    let _watch = uring_tests::watchdog();
    if !have_command() {
        return;
    }
    let Armed { mut ring, .. } = armed_udp(BASE | libc::SOF_TIMESTAMPING_TX_SOFTWARE, 8);
    ring.push(Cancel::new(STAMPS).user_data(CANCEL)).unwrap();
    ring.submit().unwrap();
    let end = reap_all(&mut ring, 2);
    let last = end.iter().find(|c| c.user_data() == STAMPS).unwrap();
    assert_eq!((last.res(), last.has_more()), (-libc::ECANCELED, false));
    assert_eq!(last.tx_timestamp(), None);
}

#[test]
fn sched_and_snd_timestamps_come_per_datagram() {
    let _watch = uring_tests::watchdog();
    if !have_command() {
        return;
    }
    const N: usize = 4;
    let Armed {
        mut ring, ref tx, ..
    } = armed_udp(
        BASE | libc::SOF_TIMESTAMPING_TX_SOFTWARE | libc::SOF_TIMESTAMPING_TX_SCHED,
        16,
    );
    send(tx, N);
    let got: Vec<(u32, TimestampType)> = decode(&reap(&mut ring, 2 * N))
        .iter()
        .map(|t| (t.key(), t.tstype()))
        .collect();
    // Each datagram meets the scheduler before the device: in queue order.
    let want: Vec<(u32, TimestampType)> = (0..N as u32)
        .flat_map(|k| [(k, TimestampType::SCHED), (k, TimestampType::SND)])
        .collect();
    assert_eq!(got, want);
    assert_cancel_ends_it(&mut ring);
}

#[test]
fn tcp_timestamps_are_keyed_by_the_last_byte_of_each_write() {
    let _watch = uring_tests::watchdog();
    if !have_command() {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let tx = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut rx, _) = listener.accept().unwrap();
    tx.set_nodelay(true).unwrap();
    timestamping(
        &tx,
        BASE | libc::SOF_TIMESTAMPING_TX_SOFTWARE | libc::SOF_TIMESTAMPING_TX_ACK,
    );
    let mut ring = Builder::new().build_sized::<Sqe64, Cqe32>(16).unwrap();
    arm(&mut ring, &tx);
    let before = SystemTime::now();
    for i in 0..2u8 {
        assert_eq!((&tx).write(&[i; 10]).unwrap(), 10);
        let mut back = [0u8; 10];
        rx.read_exact(&mut back).unwrap();
    }
    let stamps = decode(&reap(&mut ring, 4));
    let after = SystemTime::now();
    let mut got: Vec<(u32, TimestampType)> = stamps.iter().map(|t| (t.key(), t.tstype())).collect();
    got.sort_unstable_by_key(|&(key, tstype)| (key, tstype.get()));
    // A stream's key counts bytes: each write's is its last byte's offset.
    assert_eq!(
        got,
        [
            (9, TimestampType::SND),
            (9, TimestampType::ACK),
            (19, TimestampType::SND),
            (19, TimestampType::ACK),
        ]
    );
    for t in &stamps {
        assert!(!t.is_hardware(), "{t:?}");
        let at = t.system_time().unwrap();
        assert!(
            before <= at && at <= after,
            "{t:?} not in {before:?}..{after:?}"
        );
    }
    assert_cancel_ends_it(&mut ring);
}

#[test]
fn records_that_carry_the_packet_stay_on_the_error_queue() {
    let _watch = uring_tests::watchdog();
    if !have_command() {
        return;
    }
    // Without OPT_TSONLY each record carries the datagram.
    let Armed {
        mut ring, ref tx, ..
    } = armed_udp(
        (BASE & !libc::SOF_TIMESTAMPING_OPT_TSONLY) | libc::SOF_TIMESTAMPING_TX_SOFTWARE,
        16,
    );
    send(tx, 3);
    // Then records without it (the OPT_ID counter goes on): the command
    // walks the whole queue, skips the first three and posts these.
    timestamping(tx, BASE | libc::SOF_TIMESTAMPING_TX_SOFTWARE);
    send(tx, 2);
    let keys: Vec<u32> = decode(&reap(&mut ring, 2))
        .iter()
        .map(|t| t.key())
        .collect();
    assert_eq!(keys, [3, 4]);
    assert_eq!(error_queue(tx), [(0, true), (1, true), (2, true)]);
    assert_cancel_ends_it(&mut ring);
}

#[test]
fn a_mixed_ring_gets_each_timestamp_as_a_big_cqe() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "IORING_SETUP_CQE_MIXED") {
        return;
    }
    let (tx, _rx) = udp_pair();
    timestamping(&tx, BASE | libc::SOF_TIMESTAMPING_TX_SOFTWARE);
    let mut ring = Builder::new().build_sized::<Sqe64, CqeMixed>(8).unwrap();
    arm(&mut ring, &tx);
    send(&tx, 2);
    let cqes = reap(&mut ring, 2);
    for c in &cqes {
        assert!(c.flags() & sys::IORING_CQE_F_32 != 0, "{c:?}");
    }
    let got: Vec<(u32, TimestampType)> = decode(&cqes)
        .iter()
        .map(|t| (t.key(), t.tstype()))
        .collect();
    assert_eq!(got, [(0, TimestampType::SND), (1, TimestampType::SND)]);
    // The cancel's own completion is a 16-byte one among them.
    ring.push(Cancel::new(STAMPS).user_data(CANCEL)).unwrap();
    ring.submit().unwrap();
    let mut end: Vec<(u64, i32, bool)> = reap_all(&mut ring, 2)
        .iter()
        .map(|c| (c.user_data(), c.res(), c.is_big()))
        .collect();
    end.sort_unstable();
    assert_eq!(end, [(STAMPS, -libc::ECANCELED, false), (CANCEL, 0, false)]);
}

#[test]
fn a_ring_of_16_byte_cqes_is_refused() {
    let _watch = uring_tests::watchdog();
    if !have_command() {
        return;
    }
    let (tx, _rx) = udp_pair();
    timestamping(&tx, BASE | libc::SOF_TIMESTAMPING_TX_SOFTWARE);
    let mut ring = Ring::new(4).unwrap();
    // SAFETY: the socket is declared before the ring and outlives the
    // command's one completion, read below.
    unsafe { ring.push_unchecked(TxTimestamp::new(&tx).user_data(STAMPS)) }.unwrap();
    ring.submit_and_wait(1).unwrap();
    let got: Vec<(u64, i32, bool)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res(), c.has_more()))
        .collect();
    assert_eq!(got, [(STAMPS, -libc::EINVAL, false)]);
    // Refused before it armed: the sends' timestamps stay queued.
    send(&tx, 1);
    assert_eq!(error_queue(&tx), [(0, false)]);
}

#[test]
fn a_file_that_is_not_a_socket_is_refused() {
    let _watch = uring_tests::watchdog();
    if !have_command() {
        return;
    }
    let (read_end, _write_end) = pipe();
    // A socket type made from a pipe: the typed command checks the file
    // and names no descriptor (-1), which the kernel refuses.
    let fake = UdpSocket::from(read_end);
    let mut ring = Builder::new().build_sized::<Sqe64, Cqe32>(4).unwrap();
    // SAFETY: the pipe is declared before the ring and outlives the
    // commands' completions, read below.
    unsafe { ring.push_unchecked(TxTimestamp::new(&fake).user_data(1)) }.unwrap();
    // The raw command, on the pipe itself: the pipe has no command
    // handler at all.
    // SAFETY: on a file with no command handler the command number reaches
    // no driver.
    let cmd = unsafe { UringCmdOp::new(sys::SOCKET_URING_OP_TX_TIMESTAMP) };
    // SAFETY: as above.
    unsafe { ring.push_unchecked(UringCmd::new(&fake, cmd).user_data(2)) }.unwrap();
    ring.submit_and_wait(2).unwrap();
    let mut got: Vec<(u64, i32, bool)> = ring
        .completions()
        .map(|c| (c.user_data(), c.res(), c.has_more()))
        .collect();
    got.sort_unstable();
    assert_eq!(
        got,
        [(1, -libc::EBADF, false), (2, -libc::EOPNOTSUPP, false)]
    );
}

#[test]
fn a_big_cqe_without_more_is_no_timestamp() {
    let _watch = uring_tests::watchdog();
    if !require_kernel(6, 18, "IORING_NOP_CQE32") {
        return;
    }
    // A NOP's 32-byte CQE is no timestamp: it lacks MORE.
    let mut ring = Builder::new().build_sized::<Sqe64, Cqe32>(4).unwrap();
    ring.push(Nop::new().user_data(5).big_cqe([1, 2])).unwrap();
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completions().next().unwrap();
    assert_eq!(cqe.big_cqe(), [1, 2]);
    assert_eq!(cqe.tx_timestamp(), None);
}

/// The command in a scope on a ring of 32-byte CQEs, pushed safely (it
/// borrows the socket for the scope): the scope hands out the timestamps
/// as `BigCqe`s with the `user_data` it was pushed with, and its end
/// cancels the command and waits for its last completion, which the ring
/// never shows.
#[test]
fn a_scope_pushes_the_command_safely_and_ends_it() {
    let _watch = uring_tests::watchdog();
    if !have_command() {
        return;
    }
    let (tx, _rx) = udp_pair();
    timestamping(&tx, BASE | libc::SOF_TIMESTAMPING_TX_SOFTWARE);
    let mut ring = Builder::new().build_sized::<Sqe64, Cqe32>(8).unwrap();
    let keys: Vec<u32> = ring.scope(|s| {
        s.push(TxTimestamp::new(&tx).user_data(STAMPS)).unwrap();
        s.submit().unwrap();
        send(&tx, 4);
        let mut keys = Vec::new();
        while keys.len() < 4 {
            s.submit_and_wait(1).unwrap();
            for cqe in s.completions() {
                assert_eq!(cqe.user_data(), STAMPS);
                let stamp = cqe.tx_timestamp().expect("a timestamp");
                assert_eq!(stamp.tstype(), TimestampType::SND);
                keys.push(stamp.key());
            }
        }
        assert_eq!(s.in_flight(), 1, "the command stays armed");
        keys
    });
    assert_eq!(keys, [0, 1, 2, 3]);
    // The scope cancelled the command and took its last completion.
    assert_eq!(ring.ready(), 0);
    send(&tx, 1);
    std::thread::sleep(std::time::Duration::from_millis(20));
    ring.submit().unwrap();
    assert_eq!(ring.ready(), 0, "nothing posts for the ended command");
}
