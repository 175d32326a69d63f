//! Attacks on the op fields the kernel reads as addresses or as numbers of
//! descriptors, registered slots and rings, where the address or number
//! comes from inside bytes the op lends, or from an integer argument,
//! rather than from a borrow the op's type carries.
//!
//! Each attack uses safe code only: `unsafe` appears only to set up (open
//! a socket to probe the kernel, register buffers) or inspect, each with a `// SAFETY:`
//! comment. A test asserts the safe outcome. The first three failed before
//! the fixes that came with them (socket commands checked to reach a
//! socket, `Socket` limited to the families std makes, control records
//! allow-listed); the others are attacks the library (or the kernel, for
//! what the library lets through) defends against.

use std::fs::File;
use std::io::{IoSlice, Write as _};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixDatagram;

use uring::ops::{GetSockOpt, ReadFixed, Recv, RecvZc, Send, Socket, SocketInq};
use uring::{DirectSlot, MsgHdr, Ring, SockOpt};
use uring_tests::{PATIENCE, complete, require_op, skip};

/// Runs one op in a scope and returns its completion, or `None` when the
/// library refuses to push it (the safe outcome of some attacks).
fn try_complete<'r, S>(ring: &'r mut Ring, op: S) -> Option<uring::Cqe>
where
    S: uring::Submission + uring::Scoped + 'r,
{
    ring.scope(|s| {
        if let Err(e) = s.push(op) {
            eprintln!("the library refused the op: {e:?}");
            return None;
        }
        s.submit().expect("submit");
        s.wait_timeout(1, PATIENCE)
            .unwrap_or_else(|e| panic!("no completion after {PATIENCE:?}: {e}"));
        let cqe = s.completions().next().expect("a completion");
        assert!(cqe.is_scope_op(), "another op's completion: {cqe:?}");
        Some(cqe.cqe())
    })
}

/// The socket commands (`SocketInq`, `GetSockOpt`, `SetSockOpt`, ...) take
/// a `SocketFd`, made from an `AsSocket` type so that their command number
/// reaches only the socket layer. But `AsSocket` is implemented for std's
/// socket types, which safe code makes from any `OwnedFd`
/// (`UnixDatagram::from(OwnedFd::from(file))`): the command then goes to
/// whatever driver the file has. Here `/dev/null`'s driver answers
/// `SOCKET_URING_OP_SIOCINQ` with 0, "no bytes waiting". The safe outcome:
/// the command never reaches a file that is not a socket (refused, or
/// failed before any driver runs).
#[test]
fn a_socket_command_reaches_only_a_socket() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<SocketInq<'static>>(&ring) {
        return;
    }
    let fake = UnixDatagram::from(OwnedFd::from(File::open("/dev/null").unwrap()));
    let Some(cqe) = try_complete(&mut ring, SocketInq::new(&fake)) else {
        return;
    };
    assert!(
        cqe.res() < 0,
        "a socket command on /dev/null completed with {} from the null driver",
        cqe.res()
    );
    // And the option read goes to the null driver too, which answers 0
    // without touching the value.
    let mut value = [0xa5u8; 4];
    let cqe = try_complete(
        &mut ring,
        GetSockOpt::new(&fake, SockOpt::SO_TYPE, &mut value[..]),
    )
    .expect("pushed once, pushed twice");
    assert!(
        cqe.res() < 0,
        "a getsockopt on /dev/null completed with {} from the null driver",
        cqe.res()
    );
}

const NETNSA_FD: u16 = 3;
const RTM_NEWNSID: u16 = 88;

/// `Socket` takes any domain, and a direct socket is a `Fixed` that safe
/// code sends and receives through: a netlink socket among them. Netlink
/// messages name descriptors by number inside their bytes (`NETNSA_FD`,
/// `IFLA_NET_NS_FD`, `IFLA_XDP_FD` attaches the BPF program behind a
/// number, as `SO_ATTACH_BPF` does). Here a `Send` of an `RTM_GETNSID`
/// request names the descriptor of a `/proc/self/ns/net` file that no op
/// borrows, and the kernel resolves it (its reply is `RTM_NEWNSID`). The
/// safe outcome: no socket of a family whose payload names descriptors or
/// addresses is made from safe code, or the kernel resolves nothing.
#[test]
fn a_netlink_message_resolves_no_descriptor_it_does_not_borrow() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<Socket<'static>>(&ring) {
        return;
    }
    let files = ring.register_files_sparse(4).unwrap();
    // Owned here, lent to no op: only its number travels in the message.
    let netns = File::open("/proc/self/ns/net").unwrap();
    let made = try_complete(
        &mut ring,
        Socket::new(libc::AF_NETLINK, libc::SOCK_RAW)
            .protocol(libc::NETLINK_ROUTE)
            .direct(DirectSlot::ALLOC),
    );
    let slot = match made {
        None => return,
        // Refused: safe code makes sockets of the families std makes.
        Some(cqe) if cqe.res() == -libc::EAFNOSUPPORT => return,
        Some(cqe) => {
            assert!(cqe.res() >= 0, "{cqe:?}");
            cqe.res() as u32
        }
    };
    let socket = files.get(slot).unwrap();

    // nlmsghdr, rtgenmsg (padded to 4), then one attribute: NETNSA_FD.
    let mut msg = Vec::new();
    msg.extend_from_slice(&28u32.to_ne_bytes());
    msg.extend_from_slice(&libc::RTM_GETNSID.to_ne_bytes());
    msg.extend_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, 0]);
    msg.extend_from_slice(&8u16.to_ne_bytes());
    msg.extend_from_slice(&NETNSA_FD.to_ne_bytes());
    msg.extend_from_slice(&(netns.as_raw_fd() as u32).to_ne_bytes());
    assert_eq!(msg.len(), 28);

    let sent = complete(&mut ring, Send::new(socket, &msg[..]));
    assert_eq!(sent.res(), 28, "{sent:?}");
    let mut reply = [0u8; 256];
    let got = complete(&mut ring, Recv::new(socket, &mut reply[..]));
    assert!(got.res() >= 16, "{got:?}");
    let kind = u16::from_ne_bytes([reply[4], reply[5]]);
    assert_ne!(
        kind,
        RTM_NEWNSID,
        "the kernel resolved descriptor {} (a network namespace) named by a number inside the bytes a Send lent",
        netns.as_raw_fd()
    );
}

const SOL_RDS: i32 = 276;
const RDS_CMSG_RDMA_ARGS: i32 = 1;

/// `MsgHdr::control` refuses ancillary data that passes descriptors
/// (`SCM_RIGHTS`) and lets every other record through. An RDS socket (which
/// `Socket` makes, as a direct descriptor, from safe code) reads
/// `RDS_CMSG_RDMA_ARGS` records as addresses: `local_vec_addr` points to
/// iovecs whose pages the kernel pins and has the RDMA transfer write after
/// `SendMsg` completed. The safe outcome: a record the kernel reads as
/// addresses is refused as `SCM_RIGHTS` is. (The kernel side needs
/// `CONFIG_RDS`, which this kernel may lack: it is not run here.)
#[test]
fn control_records_that_carry_addresses_are_refused() {
    let header = std::mem::size_of::<libc::cmsghdr>();
    // struct rds_rdma_args: cookie, remote_vec {addr, bytes},
    // local_vec_addr, nr_local, flags, user_token.
    let mut args = [0u64; 7];
    args[1] = 0x1000; // remote address
    args[2] = 4096; // remote length
    args[3] = 0x7000_0000; // local_vec_addr: memory no one lent
    args[4] = 1; // nr_local
    let len = header + std::mem::size_of_val(&args);
    let mut record = vec![0u8; len];
    record[..8].copy_from_slice(&(len as u64).to_ne_bytes());
    record[8..12].copy_from_slice(&SOL_RDS.to_ne_bytes());
    record[12..16].copy_from_slice(&RDS_CMSG_RDMA_ARGS.to_ne_bytes());
    for (i, word) in args.iter().enumerate() {
        record[header + 8 * i..header + 8 * i + 8].copy_from_slice(&word.to_ne_bytes());
    }
    // SAFETY: socket(2) takes integers; the descriptor is closed at once.
    let fd = unsafe { libc::socket(libc::AF_RDS, libc::SOCK_SEQPACKET, 0) };
    if fd < 0 {
        skip(format_args!(
            "the kernel side (an RDS socket) is unavailable: {}; checking the library alone",
            std::io::Error::last_os_error()
        ));
    } else {
        // SAFETY: the descriptor was just made and is owned by no one else.
        unsafe { libc::close(fd) };
    }
    let iov = [IoSlice::new(b"x")];
    assert!(
        MsgHdr::new(&iov).control(&record).is_err(),
        "MsgHdr::control accepted an RDS_CMSG_RDMA_ARGS record naming local_vec_addr {:#x}",
        args[3]
    );
}

/// Defended: `GetSockOpt` names its option by a `SockOpt`, and no option
/// safe code can name reads an address inside its value or counts its
/// length in other units: `TCP_ZEROCOPY_RECEIVE` (which maps pages at
/// `address` and copies to `copybuf_address`) and `SO_GET_FILTER` (which
/// counts the length in 8-byte filter instructions) are reached only with
/// the `unsafe` `SockOpt::new` (`tests/ui/fail/getsockopt_raw_option.rs`).
/// Every option that is, read into a value with bytes after it on TCP, UDP,
/// Unix, MPTCP, raw, packet and netlink sockets, writes inside the value: the kernel's io_uring
/// getsockopt takes `SOL_SOCKET` alone and refuses the rest, touching
/// nothing.
#[test]
fn getsockopt_names_no_option_that_reads_past_its_value() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<GetSockOpt<'static>>(&ring) {
        return;
    }
    const TCP_ZEROCOPY_RECEIVE: i32 = 35;
    for option in SockOpt::PLAIN {
        let pair = (option.level(), option.name());
        assert_ne!(pair, (libc::IPPROTO_TCP, TCP_ZEROCOPY_RECEIVE));
        assert_ne!(pair, (libc::SOL_SOCKET, libc::SO_GET_FILTER));
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (_peer, _) = listener.accept().unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let (unix, _unix_peer) = std::os::unix::net::UnixStream::pair().unwrap();
    read_every_plain_option(&mut ring, &stream);
    read_every_plain_option(&mut ring, &udp);
    read_every_plain_option(&mut ring, &unix);
    // Sockets of other families, whose `SOL_SOCKET` options may take other
    // paths (MPTCP answers them itself), made by the system call: safe code
    // is handed such sockets by whoever made them.
    let families = [
        (
            "MPTCP",
            libc::AF_INET,
            libc::SOCK_STREAM,
            libc::IPPROTO_MPTCP,
        ),
        ("raw", libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_UDP),
        ("packet", libc::AF_PACKET, libc::SOCK_DGRAM, 0),
        (
            "netlink",
            libc::AF_NETLINK,
            libc::SOCK_RAW,
            libc::NETLINK_ROUTE,
        ),
    ];
    for (name, domain, kind, protocol) in families {
        let fd = match uring_tests::socket_with(domain, kind, protocol) {
            Ok(fd) => fd,
            Err(e) => {
                skip(format_args!("no {name} socket here: {e}"));
                continue;
            }
        };
        // (A `UdpSocket` stands for any socket: only its descriptor is
        // lent.)
        let socket = std::net::UdpSocket::from(fd);
        read_every_plain_option(&mut ring, &socket);
    }
}

/// Reads every option of `SockOpt::PLAIN` of `socket` into values of
/// several lengths, each followed by canary bytes, and checks that the
/// kernel wrote inside the value.
fn read_every_plain_option<S: uring::AsSocket>(ring: &mut Ring, socket: &S) {
    for &option in SockOpt::PLAIN {
        for len in [0usize, 1, 4, 8, 16, 64] {
            let mut value = vec![0xa5u8; len + 32];
            let cqe = complete(ring, GetSockOpt::new(socket, option, &mut value[..len]));
            assert!(cqe.res() <= len as i32, "{option:?} into {len}: {cqe:?}");
            assert!(
                value[len..].iter().all(|&b| b == 0xa5),
                "{option:?} into {len} bytes wrote past them: {cqe:?}"
            );
        }
    }
}

/// Defended: `RecvZc` names a zero-copy receive queue by a plain index,
/// and the kernel writes into that queue's registered area. The library
/// registers no queue, so no index names one: the kernel refuses every
/// index (`EINVAL`).
#[test]
fn a_zero_copy_receive_names_no_queue() {
    let _watch = uring_tests::watchdog();
    let mut ring = Ring::new(8).unwrap();
    if !require_op::<RecvZc>(&ring) {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stream = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut peer, _) = listener.accept().unwrap();
    peer.write_all(b"data").unwrap();
    for ifq in [0, 1, u32::MAX] {
        let cqe = complete(&mut ring, RecvZc::new(&stream, ifq));
        assert_eq!(cqe.res(), -libc::EINVAL, "queue {ifq}: {cqe:?}");
    }
}

/// Defended: a `FixedBuf` is a plain index, not tied to its ring. Given one
/// of ring A, and bytes inside A's registered buffer, a `ReadFixed` pushed
/// to ring B is checked by the kernel against B's buffer at that index: the
/// bytes lie outside it, so it fails (`EFAULT`) and writes nothing.
#[test]
fn a_fixed_buffer_of_another_ring_reaches_nothing() {
    let _watch = uring_tests::watchdog();
    // Declared before the rings: dropped after them, so after the kernel
    // let go of the registrations.
    let mut region_a = vec![0x11u8; 4096];
    let mut region_b = vec![0x22u8; 4096];
    let mut a = Ring::new(4).unwrap();
    let mut b = Ring::new(4).unwrap();
    // SAFETY: both regions outlive the rings (declared first) and are used
    // by no fixed-buffer op but the one below, which borrows its bytes.
    let buffers_a = unsafe {
        a.register_buffers(&[std::io::IoSliceMut::new(&mut region_a[..])])
            .unwrap()
    };
    // SAFETY: as above.
    let _buffers_b = unsafe {
        b.register_buffers(&[std::io::IoSliceMut::new(&mut region_b[..])])
            .unwrap()
    };
    let index = buffers_a.get(0).unwrap();
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&[0xeeu8; 512]).unwrap();
    let cqe = complete(
        &mut b,
        ReadFixed::new(file.as_fd(), &mut region_a[..512], index),
    );
    assert_eq!(cqe.res(), -libc::EFAULT, "{cqe:?}");
    assert!(region_a.iter().all(|&x| x == 0x11));
    assert!(region_b.iter().all(|&x| x == 0x22));
    drop(a);
    drop(b);
}
