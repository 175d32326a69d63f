//! The library's code that needs no kernel, driven from its public API with
//! adversarial input, so that Miri can run it (`tests/scripts/miri.sh`):
//! walks of ancillary data (`ControlMessages`) over truncated headers,
//! lengths shorter than a header or past the bytes, huge lengths and
//! misaligned or empty buffers, and the typed readers of each record; the
//! headers of multishot receives (`RecvMsgOut`) and the addresses in them;
//! the control room of a `MsgHdrMut`; socket addresses (`SockAddr`,
//! `SockAddrBuf`); timespecs; completions read from a local CQ array and
//! the transmit timestamps they carry; SQEs written into local slots; and
//! the reactor's owned buffers (`IoBuf`). Each test also runs natively.
//!
//! Bad input must come back as `None`, an empty walk or an error, never a
//! panic, and no read may leave the bytes given: a walk's records lie
//! whole within them.

use std::io::{IoSlice, IoSliceMut};
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::ops::Bound;
use std::os::linux::net::SocketAddrExt as _;
use std::os::unix::net::SocketAddr as UnixAddr;
use std::time::{Duration, Instant, SystemTime};

use uring::reactor::{IoBuf, IoBufMut};
use uring::sys::{self, io_uring_cqe, io_uring_cqe32, io_uring_sqe, io_uring_sqe128};
use uring::{
    ControlMessage, ControlMessages, ControlMessagesBuf, Cqe, Cqe16, Cqe32, CqeMixed, CqeSize,
    MsgHdr, MsgHdrMut, MsgLayout, RecvMsgOut, SockAddr, SockAddrBuf, Sqe64, Sqe128, SqeSize,
    Timespec, TimestampType,
};

/// The bytes of a `struct cmsghdr`.
const HEADER: usize = mem::size_of::<libc::cmsghdr>();

/// Where a record's data starts (`CMSG_LEN(0)`).
fn data_at() -> usize {
    // SAFETY: CMSG_LEN is arithmetic.
    unsafe { libc::CMSG_LEN(0) as usize }
}

/// `CMSG_ALIGN`.
fn cmsg_align(len: usize) -> Option<usize> {
    len.checked_next_multiple_of(mem::size_of::<usize>())
}

/// Bytes at a known alignment, so that a slice of them starts exactly as
/// misaligned as a test asks.
#[repr(C, align(16))]
struct Aligned([u8; 512]);

impl Aligned {
    fn new() -> Box<Aligned> {
        Box::new(Aligned([0; 512]))
    }

    /// `bytes` copied to offset `shift` (from a 16-aligned start), as a
    /// slice of their length.
    fn place(&mut self, shift: usize, bytes: &[u8]) -> &mut [u8] {
        let room = &mut self.0[shift..shift + bytes.len()];
        room.copy_from_slice(bytes);
        room
    }
}

/// Writes a `cmsghdr` at `at`: `len`, `level`, `kind`.
fn put_header(bytes: &mut [u8], at: usize, len: usize, level: i32, kind: i32) {
    let word = mem::size_of::<usize>();
    bytes[at..at + word].copy_from_slice(&len.to_ne_bytes());
    bytes[at + word..at + word + 4].copy_from_slice(&level.to_ne_bytes());
    bytes[at + word + 4..at + word + 8].copy_from_slice(&kind.to_ne_bytes());
}

/// Calls every typed reader of `m`, checking what it may say from the
/// record's level, type and length alone.
fn read_every_way(m: &ControlMessage<'_>) {
    let len = m.data().len();
    let is = |level, kind| m.level() == level && m.kind() == kind;
    match m.fds() {
        Some(fds) => {
            assert!(is(libc::SOL_SOCKET, libc::SCM_RIGHTS));
            assert_eq!(fds.len(), len / 4);
            assert_eq!(fds.count(), len / 4);
        }
        None => assert!(!is(libc::SOL_SOCKET, libc::SCM_RIGHTS)),
    }
    let creds = m.credentials();
    assert_eq!(
        creds.is_some(),
        is(libc::SOL_SOCKET, libc::SCM_CREDENTIALS) && len >= 12
    );
    let stamp = m.timestamp();
    if stamp.is_some() {
        let is_time = is(libc::SOL_SOCKET, libc::SCM_TIMESTAMP)
            || is(libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS);
        assert!(is_time && len >= 16, "a timestamp of {len} bytes");
    }
    if m.ip_ttl().is_some() {
        assert!(is(libc::SOL_IP, libc::IP_TTL) && len >= 4);
    }
    assert_eq!(
        m.ip_pktinfo().is_some(),
        is(libc::SOL_IP, libc::IP_PKTINFO) && len >= 12
    );
}

/// Walks `control`, asserting that every record lies whole within it,
/// right after the one before (at its length rounded up to the word size),
/// with a header whose length covers exactly its data; reads each every
/// way. Returns how many records there were.
fn walk(control: &[u8]) -> usize {
    let base = control.as_ptr() as usize;
    let records = ControlMessages::new(control);
    let (_, upper) = records.size_hint();
    let mut at = 0;
    let mut n = 0;
    let mut walked = records.clone();
    for m in walked.by_ref() {
        let start = m.data().as_ptr() as usize - base;
        assert_eq!(start, at + data_at(), "records are consecutive");
        assert!(start + m.data().len() <= control.len(), "inside the bytes");
        let len = usize::from_ne_bytes(control[at..at + 8].try_into().unwrap());
        assert_eq!(len, data_at() + m.data().len(), "the header's length");
        read_every_way(&m);
        at += cmsg_align(len).unwrap();
        n += 1;
    }
    assert!(walked.next().is_none(), "the walk stays ended");
    assert!(n <= upper.unwrap(), "{n} records, size_hint {upper:?}");
    n
}

// ----------------------------------------------------------------------
// Ancillary data walked from bytes
// ----------------------------------------------------------------------

#[test]
fn walks_of_empty_truncated_and_malformed_headers_yield_only_whole_records() {
    let mut aligned = Aligned::new();
    for shift in 0..8 {
        // Nothing, and every length short of a header.
        let mut one = [0u8; 64];
        put_header(&mut one, 0, HEADER + 4, libc::SOL_SOCKET, libc::SCM_RIGHTS);
        for cut in 0..HEADER {
            let bytes = aligned.place(shift, &one[..cut]);
            assert_eq!(walk(bytes), 0, "{cut} bytes at shift {shift}");
        }
        // Lengths shorter than a header, past the bytes, and huge.
        for len in [
            0,
            1,
            HEADER - 1,
            64 + 1,
            isize::MAX as usize,
            usize::MAX / 2 + 1,
            usize::MAX - 7,
            usize::MAX - 1,
            usize::MAX,
        ] {
            put_header(&mut one, 0, len, libc::SOL_SOCKET, libc::SCM_RIGHTS);
            let bytes = aligned.place(shift, &one);
            assert_eq!(walk(bytes), 0, "a first length of {len}");
            assert!(ControlMessages::new(bytes).next().is_none());
        }
        // A header alone, and a length that runs to the last byte: whole.
        put_header(&mut one, 0, HEADER, 1, 2);
        assert_eq!(walk(aligned.place(shift, &one[..HEADER])), 1);
        put_header(&mut one, 0, 64, 1, 2);
        assert_eq!(walk(aligned.place(shift, &one)), 1);
        // A length that is no word multiple: the next record is at it,
        // rounded up.
        let mut two = [0u8; 64];
        put_header(&mut two, 0, HEADER + 1, 1, 2);
        put_header(&mut two, 24, HEADER + 3, 3, 4);
        let bytes = aligned.place(shift, &two[..24 + HEADER + 3]);
        assert_eq!(walk(bytes), 2);
        let got: Vec<_> = ControlMessages::new(bytes)
            .map(|m| (m.level(), m.kind(), m.data().len()))
            .collect();
        assert_eq!(got, [(1, 2, 1), (3, 4, 3)]);
        // The same second record cut by the end of the bytes, and with
        // lengths that end the walk after the first.
        assert_eq!(walk(aligned.place(shift, &two[..24 + HEADER + 2])), 1);
        for len in [0, HEADER - 1, 64 - 24 + 1, usize::MAX] {
            put_header(&mut two, 24, len, 3, 4);
            assert_eq!(
                walk(aligned.place(shift, &two)),
                1,
                "a second length of {len}"
            );
        }
        // A first record whose padding reaches past the end: the walk
        // ends after it.
        let mut last = [0u8; 21];
        put_header(&mut last, 0, 21, 1, 2);
        assert_eq!(walk(aligned.place(shift, &last)), 1);
    }
    assert_eq!(walk(&[]), 0);
}

#[test]
fn typed_readers_of_records_of_every_length_never_panic() {
    let kinds = [
        (libc::SOL_SOCKET, libc::SCM_RIGHTS),
        (libc::SOL_SOCKET, libc::SCM_CREDENTIALS),
        (libc::SOL_SOCKET, libc::SCM_TIMESTAMP),
        (libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS),
        (libc::SOL_IP, libc::IP_TTL),
        (libc::SOL_IP, libc::IP_PKTINFO),
        (libc::SOL_IP, libc::SCM_RIGHTS),
    ];
    let mut aligned = Aligned::new();
    for (level, kind) in kinds {
        for len in 0..=40usize {
            for fill in [0x00u8, 0xff] {
                let mut buf = ControlMessagesBuf::new();
                buf.push(level, kind, &vec![fill; len]);
                for shift in [0, 3] {
                    let bytes = aligned.place(shift, buf.as_bytes());
                    assert_eq!(walk(bytes), 1);
                    let m = ControlMessages::new(bytes).next().unwrap();
                    assert_eq!((m.level(), m.kind(), m.data().len()), (level, kind, len));
                }
            }
        }
    }
    // An `SCM_RIGHTS` record's numbers in order; a partial last one left
    // out.
    let mut buf = ControlMessagesBuf::new();
    let data = [5i32.to_ne_bytes(), (-1i32).to_ne_bytes(), [9, 9, 9, 0]].concat();
    buf.push(libc::SOL_SOCKET, libc::SCM_RIGHTS, &data[..11]);
    let fds: Vec<_> = buf.iter().next().unwrap().fds().unwrap().collect();
    assert_eq!(fds, [5, -1]);
    // A TTL past a byte, or negative, is none.
    for (ttl, want) in [(0, Some(0)), (255, Some(255)), (256, None), (-1, None)] {
        let mut buf = ControlMessagesBuf::new();
        buf.push(libc::SOL_IP, libc::IP_TTL, &i32::to_ne_bytes(ttl));
        assert_eq!(buf.iter().next().unwrap().ip_ttl(), want, "TTL {ttl}");
    }
}

#[test]
fn timestamps_at_the_edges_of_system_time_are_times_or_none() {
    let epoch = SystemTime::UNIX_EPOCH;
    // What a timestamp of `secs` and `nanos` is, computed apart.
    let expect = |secs: i64, nanos: i64| -> Option<SystemTime> {
        let nanos = u32::try_from(nanos).ok().filter(|&n| n < 1_000_000_000)?;
        if secs >= 0 {
            epoch.checked_add(Duration::new(secs as u64, nanos))
        } else {
            epoch
                .checked_sub(Duration::from_secs(secs.unsigned_abs()))?
                .checked_add(Duration::from_nanos(nanos.into()))
        }
    };
    let stamp = |kind: i32, a: i64, b: i64| -> Option<SystemTime> {
        let mut buf = ControlMessagesBuf::new();
        buf.push(
            libc::SOL_SOCKET,
            kind,
            &[a.to_ne_bytes(), b.to_ne_bytes()].concat(),
        );
        buf.iter().next().unwrap().timestamp()
    };
    let seconds = [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX];
    let nanos = [
        i64::MIN,
        -1,
        0,
        1,
        999_999_999,
        1_000_000_000,
        i64::from(u32::MAX),
        i64::MAX,
    ];
    for &s in &seconds {
        for &n in &nanos {
            assert_eq!(
                stamp(libc::SCM_TIMESTAMPNS, s, n),
                expect(s, n),
                "{s} s {n} ns"
            );
            // A `timeval`'s microseconds, a thousand times fewer.
            let us_expect = n.checked_mul(1000).and_then(|ns| expect(s, ns));
            assert_eq!(stamp(libc::SCM_TIMESTAMP, s, n), us_expect, "{s} s {n} us");
        }
    }
    assert_eq!(
        stamp(libc::SCM_TIMESTAMP, 5, 999_999),
        Some(epoch + Duration::new(5, 999_999_000))
    );
    assert_eq!(stamp(libc::SCM_TIMESTAMP, 5, 1_000_000), None);
    // Another type at the socket level, or another level, is none.
    assert_eq!(stamp(libc::SCM_CREDENTIALS, 5, 0), None);
    let mut buf = ControlMessagesBuf::new();
    buf.push(libc::SOL_IP, libc::SCM_TIMESTAMPNS, &[0; 16]);
    assert_eq!(buf.iter().next().unwrap().timestamp(), None);
}

#[test]
fn a_seeded_walk_of_random_bytes_with_planted_lengths_stays_inside() {
    let mut rng = uring_tests::Rng(0x2545_f491_4f6c_dd1d);
    let mut aligned = Aligned::new();
    let mut bytes = [0u8; 96];
    let mut walked = 0;
    for round in 0..300 {
        for b in bytes.iter_mut() {
            *b = rng.next_u64() as u8;
        }
        let len = (rng.next_u64() % 97) as usize;
        // Plant lengths where the walk looks for them, mostly at least a
        // header, some of them short, past the end or huge.
        let mut at = 0;
        while round % 3 != 0 && at + HEADER <= len {
            let pick = rng.next_u64() % 16;
            let l = match pick {
                0 => usize::MAX - (rng.next_u64() % 8) as usize,
                1 => (rng.next_u64() % HEADER as u64) as usize,
                2 => len - at + 1 + (rng.next_u64() % 8) as usize,
                _ => HEADER + (rng.next_u64() % 24) as usize,
            };
            put_header(
                &mut bytes,
                at,
                l,
                libc::SOL_SOCKET,
                [
                    libc::SCM_RIGHTS,
                    libc::SCM_CREDENTIALS,
                    libc::SCM_TIMESTAMPNS,
                ][round % 3],
            );
            match cmsg_align(l.max(1)) {
                Some(next) if next < len => at += next,
                _ => break,
            }
        }
        let shift = (rng.next_u64() % 8) as usize;
        walked += walk(aligned.place(shift, &bytes[..len]));
    }
    assert!(walked > 100, "{walked} records");
}

#[test]
fn built_records_walk_back_at_every_alignment_and_refuse_descriptors() {
    let mut buf = ControlMessagesBuf::new();
    for len in 0..=17u8 {
        let data: Vec<u8> = (0..len).collect();
        buf.push(i32::from(len), -i32::from(len), &data);
    }
    let mut aligned = Aligned::new();
    for shift in 0..8 {
        let bytes = aligned.place(shift, buf.as_bytes());
        assert_eq!(walk(bytes), 18);
        for (i, m) in ControlMessages::new(bytes).enumerate() {
            let expected: Vec<u8> = (0..i as u8).collect();
            assert_eq!(
                (m.level(), m.kind(), m.data()),
                (i as i32, -(i as i32), &expected[..])
            );
        }
    }
    assert!(!format!("{buf:?}").is_empty());
    assert!(!format!("{:?}", buf.iter()).is_empty());
    assert_eq!(ControlMessagesBuf::new().as_bytes(), &[] as &[u8]);

    // A message refuses descriptors however they are placed, and records
    // the kernel would refuse as malformed end the walk (the kernel then
    // fails the send with EINVAL, reading nothing after them).
    let iov = [IoSlice::new(b"x")];
    let mut plain = ControlMessagesBuf::new();
    plain.push(libc::SOL_SOCKET, libc::SCM_CREDENTIALS, &[0; 12]);
    let mut rights = plain.clone();
    rights.push(libc::SOL_SOCKET, libc::SCM_RIGHTS, &0i32.to_ne_bytes());
    for shift in 0..8 {
        let bytes = aligned.place(shift, plain.as_bytes());
        assert!(MsgHdr::new(&iov).control(bytes).is_ok());
        let bytes = aligned.place(shift, rights.as_bytes());
        assert!(MsgHdr::new(&iov).control(bytes).is_err());
    }
    let mut short = [0u8; 24];
    put_header(
        &mut short,
        0,
        HEADER - 1,
        libc::SOL_SOCKET,
        libc::SCM_RIGHTS,
    );
    assert!(MsgHdr::new(&iov).control(&short).is_ok());
    assert!(MsgHdr::new(&iov).control(&[]).is_ok());
    assert!(MsgHdr::new(&iov).control(&short[..HEADER - 1]).is_ok());
}

// ----------------------------------------------------------------------
// Multishot receive headers, and the addresses in them
// ----------------------------------------------------------------------

/// A `recvmsg_out` header of these four words.
fn recvmsg_out(words: [u32; 4]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_ne_bytes()).collect()
}

#[test]
fn receive_headers_of_short_oversized_and_misaligned_buffers() {
    let head = mem::size_of::<sys::io_uring_recvmsg_out>();
    let layouts = [
        (0, 0),
        (8, 4),
        (16, 32),
        (128, 0),
        (u32::MAX, 0),
        (0, usize::MAX),
        (0, usize::MAX - head),
        (u32::MAX, usize::MAX),
    ];
    let words = [
        [0, 0, 0, 0],
        [u32::MAX; 4],
        [3, 5, 7, 0],
        [200, 200, 200, 200],
    ];
    let mut aligned = Aligned::new();
    for (name_room, control_room) in layouts {
        let layout = MsgLayout::new(name_room, control_room);
        assert_eq!(
            (layout.name_len(), layout.control_len()),
            (name_room, control_room)
        );
        let need = head
            .checked_add(name_room as usize)
            .and_then(|n| n.checked_add(control_room));
        for w in words {
            let mut bytes = recvmsg_out(w);
            bytes.extend((0..96u8).map(|b| b ^ 0x5a));
            for len in 0..bytes.len() {
                for shift in [0, 5] {
                    let buf = aligned.place(shift, &bytes[..len]);
                    let out = RecvMsgOut::parse(buf, &layout);
                    let Some(need) = need.filter(|&need| need <= len) else {
                        assert!(out.is_none(), "{len} bytes for {need:?}");
                        continue;
                    };
                    let out = out.expect("room for the header and the reserved parts");
                    assert_eq!(
                        (
                            out.name_len(),
                            out.control_len(),
                            out.payload_len(),
                            out.flags()
                        ),
                        (w[0], w[1], w[2], w[3])
                    );
                    let name_room = name_room as usize;
                    assert_eq!(out.name().len(), (w[0] as usize).min(name_room));
                    assert_eq!(out.control().len(), (w[1] as usize).min(control_room));
                    assert_eq!(out.payload().len(), (w[2] as usize).min(len - need));
                    let inside = |part: &[u8]| {
                        let at = part.as_ptr() as usize - buf.as_ptr() as usize;
                        assert!(at + part.len() <= buf.len());
                    };
                    inside(out.name());
                    inside(out.control());
                    inside(out.payload());
                    let _ = out.socket_addr();
                    walk(out.control());
                    assert_eq!(
                        out.control_messages().count(),
                        ControlMessages::new(out.control()).count()
                    );
                }
            }
        }
    }
    assert!(RecvMsgOut::parse(&[], &MsgLayout::new(0, 0)).is_none());
    let bytes = recvmsg_out([1, 2, 3, 4]);
    let out = RecvMsgOut::parse(&bytes, &MsgLayout::new(0, 0)).unwrap();
    assert!(!format!("{out:?}").is_empty());
}

#[test]
fn received_names_decode_only_whole_ip_addresses() {
    let v4 = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 1, 2, 3), 4242));
    let v6 = SocketAddr::V6(SocketAddrV6::new(
        Ipv6Addr::new(0xfe80, 0, 0, 0, 1, 2, 3, 4),
        9,
        0x1234_5678,
        7,
    ));
    let raw = |addr: SocketAddr| {
        let addr = SockAddr::from(addr);
        // SAFETY: `as_ptr` points to the storage, of which the first
        // `len()` bytes are the address.
        unsafe { std::slice::from_raw_parts(addr.as_ptr().cast::<u8>(), addr.len() as usize) }
            .to_vec()
    };
    let layout = MsgLayout::new(200, 0);
    let mut aligned = Aligned::new();
    for (addr, whole) in [(v4, 16), (v6, 28)] {
        let name = raw(addr);
        assert_eq!(name.len(), whole);
        let mut padded = name.clone();
        padded.resize(200, 0xee);
        for n in 0..=200usize {
            let mut bytes = recvmsg_out([n as u32, 0, 0, 0]);
            bytes.extend_from_slice(&padded);
            for shift in [0, 3] {
                let buf = aligned.place(shift, &bytes);
                let out = RecvMsgOut::parse(buf, &layout).unwrap();
                assert_eq!(out.name().len(), n);
                let want = (n >= whole).then_some(addr);
                assert_eq!(out.socket_addr(), want, "{addr} in {n} bytes");
            }
        }
    }
    // Families that are not IP, or no name at all.
    for family in [libc::AF_UNSPEC, libc::AF_UNIX, libc::AF_NETLINK, 0xffff] {
        let mut bytes = recvmsg_out([200, 0, 0, 0]);
        bytes.extend_from_slice(&(family as u16).to_ne_bytes());
        bytes.resize(16 + 200, 0x11);
        let out = RecvMsgOut::parse(&bytes, &layout).unwrap();
        assert_eq!(out.socket_addr(), None, "family {family}");
    }
}

#[test]
fn a_message_header_walks_the_control_room_it_was_lent() {
    let mut records = ControlMessagesBuf::new();
    records
        .push(libc::SOL_SOCKET, libc::SCM_CREDENTIALS, &[1; 12])
        .push(libc::SOL_IP, libc::IP_TTL, &64i32.to_ne_bytes());
    let mut aligned = Aligned::new();
    for shift in 0..8 {
        let mut data = [0u8; 4];
        let mut iov = [IoSliceMut::new(&mut data)];
        let room = aligned.place(shift, records.as_bytes());
        let msg = MsgHdrMut::new(&mut iov).control(room);
        // Before a receive, the whole room as it was lent.
        assert_eq!(msg.control_len(), records.as_bytes().len());
        let got: Vec<_> = msg
            .control_messages()
            .map(|m| (m.level(), m.kind()))
            .collect();
        assert_eq!(
            got,
            [
                (libc::SOL_SOCKET, libc::SCM_CREDENTIALS),
                (libc::SOL_IP, libc::IP_TTL)
            ]
        );
        assert_eq!(msg.control_messages().nth(1).unwrap().ip_ttl(), Some(64));
        assert_eq!((msg.name_len(), msg.flags()), (0, 0));
        assert!(!format!("{msg:?}").is_empty());
    }
    // No room, or an empty one, has no records.
    let mut iov: [IoSliceMut<'_>; 0] = [];
    let msg = MsgHdrMut::new(&mut iov);
    assert_eq!(msg.control_messages().count(), 0);
    let mut iov: [IoSliceMut<'_>; 0] = [];
    let msg = MsgHdrMut::new(&mut iov).control(&mut []);
    assert_eq!(msg.control_messages().count(), 0);
    // A room of junk: whatever the walk yields lies inside it.
    let mut junk = [0xffu8; 40];
    let mut iov: [IoSliceMut<'_>; 0] = [];
    let msg = MsgHdrMut::new(&mut iov).control(&mut junk);
    assert_eq!(msg.control_messages().count(), 0);
    // The sender's address room, emptied, the size of any address.
    let mut from = SockAddrBuf::new();
    let mut iov: [IoSliceMut<'_>; 0] = [];
    let name_len = MsgHdrMut::new(&mut iov).from(&mut from).name_len();
    assert_eq!(name_len, mem::size_of::<libc::sockaddr_storage>() as u32);
    assert_eq!(from.socket_addr(), None);
}

// ----------------------------------------------------------------------
// Socket addresses
// ----------------------------------------------------------------------

#[test]
fn ip_addresses_round_trip_and_are_no_unix_addresses() {
    let addrs = [
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::BROADCAST, u16::MAX)),
        SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 1, 0, 0)),
        SocketAddr::V6(SocketAddrV6::new(
            Ipv6Addr::new(
                0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff,
            ),
            u16::MAX,
            u32::MAX,
            u32::MAX,
        )),
    ];
    for addr in addrs {
        let sa = SockAddr::from(addr);
        assert_eq!(sa.as_socket_addr(), Some(addr));
        assert!(sa.as_unix_addr().is_none());
        assert!(!sa.is_empty());
        let whole = if addr.is_ipv4() { 16 } else { 28 };
        assert_eq!(sa.len(), whole);
        assert_eq!(format!("{sa:?}"), format!("SockAddr({addr})"));
        let copy = sa;
        assert_eq!(copy.as_socket_addr(), Some(addr));
    }
}

#[test]
fn unix_addresses_fit_sun_path_or_are_refused() {
    // A path's length with its NUL must fit the 108 bytes of `sun_path`.
    for n in [1usize, 2, 50, 106, 107] {
        let path = "p".repeat(n);
        let sa = SockAddr::unix(&path).expect("a path that fits");
        assert_eq!(sa.len() as usize, 2 + n + 1);
        let back = sa.as_unix_addr().expect("a Unix address");
        assert_eq!(back.as_pathname(), Some(std::path::Path::new(&path)));
        assert_eq!(sa.as_socket_addr(), None);
        assert!(!format!("{sa:?}").is_empty());
    }
    for bad in ["", "a\0b", "\0", &"p".repeat(108), &"p".repeat(4096)] {
        let err = SockAddr::unix(bad).expect_err("no such Unix address");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{bad:?}");
    }
    // std's own addresses, of a path or an abstract name, as long as they
    // can be.
    for n in [1usize, 107] {
        let path = "q".repeat(n);
        let std_addr = UnixAddr::from_pathname(&path).unwrap();
        let sa = SockAddr::from(&std_addr);
        let back = sa.as_unix_addr().unwrap();
        assert_eq!(back.as_pathname(), std_addr.as_pathname());
    }
    for n in [0usize, 1, 50, 107] {
        let name = vec![b'z'; n];
        let std_addr = UnixAddr::from_abstract_name(&name).unwrap();
        let sa = SockAddr::from(&std_addr);
        assert_eq!(sa.len() as usize, 2 + 1 + n);
        let back = sa.as_unix_addr().unwrap();
        assert_eq!(back.as_abstract_name(), Some(&name[..]));
        assert!(back.as_pathname().is_none());
    }
}

#[test]
fn an_address_buffer_without_an_address_reads_as_none() {
    let mut buf = SockAddrBuf::default();
    assert_eq!(buf.socket_addr(), None);
    assert!(buf.unix_addr().is_none(), "family 0 is no Unix address");
    for len in [1, 16, 28, 128, 129, u32::MAX] {
        buf.set_len(len);
        assert_eq!(buf.socket_addr(), None, "{len}");
        assert!(buf.unix_addr().is_none(), "{len}");
    }
    assert!(!format!("{buf:?}").is_empty());
}

/// An address of no bytes is the unnamed Unix address (what an unbound
/// sender's datagram carries). std makes that one only from a socket,
/// which Miri cannot open.
#[test]
#[cfg_attr(
    miri,
    ignore = "opens a socket (std builds the unnamed address only from one)"
)]
fn an_address_of_no_bytes_is_the_unnamed_unix_address() {
    let mut buf = SockAddrBuf::new();
    buf.set_len(0);
    let addr = buf.unix_addr().expect("the unnamed address");
    assert!(addr.is_unnamed());
    assert_eq!(buf.socket_addr(), None);
    let sa = SockAddr::from(&addr);
    assert_eq!(sa.len(), 2);
    assert!(sa.as_unix_addr().expect("a Unix address").is_unnamed());
}

// ----------------------------------------------------------------------
// Time
// ----------------------------------------------------------------------

#[test]
fn timespecs_saturate_and_waits_clamp() {
    let ts = Timespec::new(u64::MAX, u32::MAX);
    assert_eq!((ts.sec(), ts.nsec()), (i64::MAX as u64, 999_999_999));
    let raw = ts.into_raw();
    assert_eq!((raw.tv_sec, raw.tv_nsec), (i64::MAX, 999_999_999));
    assert_eq!(Timespec::from(Duration::MAX), ts);
    let wait = Timespec::for_wait(Duration::MAX);
    assert_eq!(wait, Timespec::from(Timespec::MAX_WAIT));
    assert_eq!(Timespec::default(), Timespec::new(0, 0));
    assert_eq!(format!("{:?}", Timespec::new(1, 5)), "1.000000005s");
    // A deadline in the past is now; one far ahead is a time past now.
    let now = Timespec::monotonic_at(Instant::now());
    let past = Timespec::monotonic_at(Instant::now() - Duration::from_nanos(1));
    let later = Timespec::monotonic_at(Instant::now() + Duration::from_secs(3600));
    assert!(past.nsec() < 1_000_000_000 && now.nsec() < 1_000_000_000);
    assert!(later.sec() >= now.sec() + 3599, "{later:?} after {now:?}");
}

// ----------------------------------------------------------------------
// Completions read from a local CQ array
// ----------------------------------------------------------------------

fn raw_cqe(user_data: u64, res: i32, flags: u32) -> io_uring_cqe {
    io_uring_cqe {
        user_data,
        res,
        flags,
    }
}

/// A slot holding the second half of a big CQE.
fn extra(words: [u64; 2]) -> io_uring_cqe {
    raw_cqe(words[0], words[1] as u32 as i32, (words[1] >> 32) as u32)
}

#[test]
fn completions_of_a_mixed_cq_wrap_skip_and_carry_their_extra_words() {
    let big = raw_cqe(2, 6, sys::IORING_CQE_F_32);
    let small = raw_cqe(1, 5, 0);
    let skip = raw_cqe(0, 0, sys::IORING_CQE_F_SKIP);
    let skip_big = raw_cqe(0, 0, sys::IORING_CQE_F_SKIP | sys::IORING_CQE_F_32);
    let words = [u64::MAX, 0x0123_4567_89ab_cdef];
    let cqes = [small, big, extra(words), skip, skip_big, big];
    // SAFETY: every position, masked by 7, is in the 8-slot array below
    // (the CQ's slots are plain integers).
    unsafe {
        let mut ring = [io_uring_cqe::default(); 8];
        ring[..6].copy_from_slice(&cqes);
        ring[6] = extra([7, 8]);
        let (c, n) = CqeMixed::read(ring.as_ptr(), 7, 0);
        let c = c.unwrap();
        assert_eq!(
            (c.user_data(), c.is_big(), c.big_cqe(), n),
            (1, false, [0, 0], 1)
        );
        let (c, n) = CqeMixed::read(ring.as_ptr(), 7, 1);
        assert_eq!((c.unwrap().big_cqe(), n), (words, 2));
        assert_eq!(CqeMixed::read(ring.as_ptr(), 7, 3).1, 1, "padding");
        let (c, n) = CqeMixed::read(ring.as_ptr(), 7, 4);
        assert!(c.is_none());
        assert_eq!(n, 2, "padding flagged big takes two slots");
        // Positions past the array's length wrap by the mask.
        let (c, n) = CqeMixed::read(ring.as_ptr(), 7, 8 * 1000 + 5);
        assert_eq!((c.unwrap().big_cqe(), n), ([7, 8], 2));
        // A big CQE in the last slot ends in the first.
        ring[7] = big;
        ring[0] = extra([9, 10]);
        let (c, _) = CqeMixed::read(ring.as_ptr(), 7, u32::MAX);
        assert_eq!(c.unwrap().big_cqe(), [9, 10]);
        // A one-slot CQ: a big CQE's second half is its own slot.
        let one = [big];
        let (c, n) = CqeMixed::read(one.as_ptr(), 0, 12345);
        let c = c.unwrap();
        assert_eq!(n, 2);
        assert_eq!(c.big_cqe()[0], 2);

        let sixteen = [small; 4];
        let (c, n) = Cqe16::read(sixteen.as_ptr(), 3, u32::MAX);
        assert_eq!((c.unwrap().user_data(), n), (1, 1));
        let thirty_two = [io_uring_cqe32 {
            cqe: small,
            big_cqe: words,
        }; 2];
        let (c, n) = Cqe32::read(thirty_two.as_ptr(), 1, 3);
        let c = c.unwrap();
        assert_eq!((c.is_big(), c.big_cqe(), n), (true, words, 1));
        assert_eq!(c.as_raw().cqe, small);
        assert!(!format!("{c:?}").is_empty());
    }
}

#[test]
fn transmit_timestamps_of_any_words_are_times_or_none() {
    let more = sys::IORING_CQE_F_MORE | sys::IORING_CQE_F_32;
    let decode = |res: i32, flags: u32, words: [u64; 2]| {
        let slots = [raw_cqe(0, res, flags), extra(words)];
        // SAFETY: both positions are in the two-slot array.
        let (c, _) = unsafe { CqeMixed::read(slots.as_ptr(), 1, 0) };
        c.unwrap().tx_timestamp()
    };
    for sec in [0, 1, i64::MAX as u64, u64::MAX] {
        for nsec in [0, 999_999_999, 1_000_000_000, u64::from(u32::MAX), u64::MAX] {
            let ts = decode(-1, more | sys::IORING_CQE_F_TSTAMP_HW, [sec, nsec]);
            if nsec < 1_000_000_000 {
                let ts = ts.expect("a timestamp");
                assert_eq!(ts.time(), Duration::new(sec, nsec as u32));
                assert_eq!(ts.key(), u32::MAX);
                assert!(ts.is_hardware());
                assert_eq!(ts.system_time(), None, "a hardware time");
            } else {
                assert!(ts.is_none(), "{nsec} ns");
            }
            let sw = decode(7, more, [sec, nsec]);
            if let Some(sw) = sw {
                let want = SystemTime::UNIX_EPOCH.checked_add(sw.time());
                assert_eq!(sw.system_time(), want);
                assert_eq!(sw.tstype(), TimestampType::SND);
            }
        }
    }
    // The type is the flags' top bits, whatever their number.
    let flags = more | (u32::MAX << sys::IORING_TIMESTAMP_TYPE_SHIFT);
    let ts = decode(0, flags, [1, 1]).unwrap();
    assert_eq!(
        ts.tstype().get(),
        u32::MAX >> sys::IORING_TIMESTAMP_TYPE_SHIFT
    );
    assert!(!format!("{:?}", ts.tstype()).is_empty());
    // The last completion (no `F_MORE`), and a small CQE, are none.
    assert!(decode(0, sys::IORING_CQE_F_32, [1, 1]).is_none());
    let small = [raw_cqe(0, 0, sys::IORING_CQE_F_MORE)];
    // SAFETY: the one position is in the one-slot array.
    let (c, _) = unsafe { CqeMixed::read(small.as_ptr(), 0, 0) };
    assert!(c.unwrap().tx_timestamp().is_none());
}

#[test]
fn completion_results_of_any_value() {
    for res in [i32::MIN, -4096, -4095, -516, -515, -512, -1, 0, 1, i32::MAX] {
        let cqe = Cqe::from(raw_cqe(0, res, u32::MAX));
        match cqe.result() {
            Ok(v) => {
                assert!(!(-4095..0).contains(&res));
                assert_eq!(v, res as u32);
            }
            Err(e) => {
                let want = match -res {
                    512..=514 | 516 => libc::EINTR,
                    errno => errno,
                };
                assert_eq!(e.raw_os_error(), Some(want), "res {res}");
            }
        }
        assert_eq!(cqe.buffer_id(), Some(u16::MAX));
        assert!(cqe.has_more() && cqe.sock_nonempty() && cqe.is_notification());
        assert!(!format!("{cqe:?}").is_empty());
    }
    assert_eq!(Cqe::default().buffer_id(), None);
}

// ----------------------------------------------------------------------
// SQEs written into local slots
// ----------------------------------------------------------------------

fn sample_sqe() -> io_uring_sqe {
    io_uring_sqe {
        opcode: sys::IORING_OP_URING_CMD,
        fd: 3,
        user_data: 0x1122_3344_5566_7788,
        len: 9,
        ..io_uring_sqe::zeroed()
    }
}

/// The bytes of a value of plain integers, each one initialised.
fn bytes_of<T: Copy, const N: usize>(value: &T) -> [u8; N] {
    assert_eq!(mem::size_of::<T>(), N);
    // SAFETY: `T` is `N` bytes, every one of them initialised (the
    // callers' SQEs start from `zeroed`, and each union member they set
    // spans its union).
    unsafe { mem::transmute_copy(value) }
}

#[test]
fn sqes_written_into_slots_full_of_junk_leave_nothing_of_it() {
    let cmd: [u8; 80] = std::array::from_fn(|i| i as u8 + 1);
    let want: [u8; 64] = bytes_of(&sample_sqe());
    // A 64-byte slot, between two that must stay untouched.
    let junk: io_uring_sqe = {
        let mut j = io_uring_sqe::zeroed();
        j.user_data = u64::MAX;
        j.opcode = 0xAA;
        j
    };
    for with_cmd in [None, Some(&cmd)] {
        let mut slots = [junk; 3];
        // SAFETY: the middle slot of a local array, valid for writes.
        unsafe { Sqe64::write(&mut slots[1], sample_sqe(), with_cmd) };
        let got: [u8; 64] = bytes_of(&slots[1]);
        match with_cmd {
            None => assert_eq!(got, want),
            Some(cmd) => {
                // Only the command's first 16 bytes fit, from `addr3` on.
                assert_eq!(got[..48], want[..48]);
                assert_eq!(got[48..], cmd[..16]);
            }
        }
        assert_eq!(bytes_of::<_, 64>(&slots[0]), bytes_of::<_, 64>(&junk));
        assert_eq!(bytes_of::<_, 64>(&slots[2]), bytes_of::<_, 64>(&junk));
        assert_eq!(
            Sqe64::sqe(&mut slots[1]),
            &mut slots[1] as *mut io_uring_sqe
        );
    }
    for with_cmd in [None, Some(&cmd)] {
        let mut slot = io_uring_sqe128 {
            sqe: junk,
            ext: [0xAA; 64],
        };
        // SAFETY: a local slot, valid for writes.
        unsafe { Sqe128::write(&mut slot, sample_sqe(), with_cmd) };
        let got: [u8; 128] = bytes_of(&slot);
        assert_eq!(got[..48], want[..48]);
        match with_cmd {
            None => assert!(got[48..64] == want[48..] && got[64..] == [0; 64]),
            Some(cmd) => assert_eq!(got[48..], cmd[..]),
        }
    }
}

/// Every member of each SQE union spans the whole union, so an SQE built
/// in safe code from any of them has every byte initialised: its `Debug`
/// (which reads the widest member of each union) and its copy into a slot
/// (as 128-bit words) read nothing uninitialised.
#[test]
fn sqes_built_from_any_union_member_are_initialised_throughout() {
    let sqes = [
        io_uring_sqe {
            off: sys::io_uring_sqe_off {
                cmd: sys::io_uring_sqe_cmd {
                    cmd_op: 7,
                    __pad1: 0,
                },
            },
            addr: sys::io_uring_sqe_addr {
                sockopt: sys::io_uring_sqe_sockopt {
                    level: 1,
                    optname: 2,
                },
            },
            op_flags: sys::io_uring_sqe_op_flags { poll32_events: 1 },
            buf: sys::io_uring_sqe_buf { buf_group: 3 },
            file: sys::io_uring_sqe_file {
                addr_len: sys::io_uring_sqe_addr_len {
                    addr_len: 16,
                    __pad3: [0],
                },
            },
            ..io_uring_sqe::zeroed()
        },
        io_uring_sqe {
            off: sys::io_uring_sqe_off { addr2: u64::MAX },
            addr: sys::io_uring_sqe_addr { splice_off_in: 5 },
            op_flags: sys::io_uring_sqe_op_flags { rw_flags: -1 },
            file: sys::io_uring_sqe_file { splice_fd_in: -1 },
            addr3: sys::io_uring_sqe_addr3 {
                addr3: sys::io_uring_sqe_addr3_pad {
                    addr3: 9,
                    __pad2: [0],
                },
            },
            ..io_uring_sqe::default()
        },
        io_uring_sqe {
            file: sys::io_uring_sqe_file {
                write_stream: sys::io_uring_sqe_write_stream {
                    write_stream: 4,
                    __pad4: [0; 3],
                },
            },
            ..io_uring_sqe::zeroed()
        },
    ];
    for sqe in sqes {
        assert!(format!("{sqe:?}").contains("op_flags"));
        let mut slot = io_uring_sqe::zeroed();
        // SAFETY: a local slot, valid for writes.
        unsafe { Sqe64::write(&mut slot, sqe, None) };
        assert_eq!(bytes_of::<_, 64>(&slot), bytes_of::<_, 64>(&sqe));
    }
}

/// Protection information over metadata buffers of any length names the
/// buffer's own bytes: its address and length (a zero-length buffer too),
/// the checks, tag and seed given, and a zero `rsvd`; a `PiRef` made from
/// it points at the attribute the kernel copies.
#[test]
fn protection_information_names_its_buffer_and_nothing_else() {
    use uring::{IntegrityFlags, PiAttr, PiRef};
    for len in [0usize, 1, 8, 520, 4096] {
        let mut meta = vec![0x5Au8; len];
        let at = meta.as_ptr() as u64;
        let mut attr = PiAttr::new(&mut meta[..])
            .flags(IntegrityFlags::all())
            .app_tag(len as u16)
            .seed(u64::MAX - len as u64);
        let raw = *attr.raw();
        assert_eq!(raw.len as usize, len);
        assert_eq!(raw.addr, at);
        assert_eq!(raw.flags, IntegrityFlags::all().bits());
        assert_eq!(
            (raw.app_tag, raw.seed, raw.rsvd),
            (len as u16, u64::MAX - len as u64, 0)
        );
        assert!(format!("{attr:?}").contains("PiAttr"));
        let attr_at = attr.raw() as *const sys::io_uring_attr_pi as usize;
        let held = PiRef::from(&mut attr);
        assert_eq!(format!("{held:?}"), format!("PiRef({attr_at:#x})"));
        assert!(meta.iter().all(|&b| b == 0x5A), "nothing wrote the buffer");
    }
    assert_eq!(format!("{:?}", PiRef::NONE), "PiRef::NONE");
}

// ----------------------------------------------------------------------
// The reactor's owned buffers
// ----------------------------------------------------------------------

#[test]
fn owned_buffer_slices_clamp_any_bounds() {
    let bounds: [(Bound<usize>, Bound<usize>); 9] = [
        (Bound::Unbounded, Bound::Unbounded),
        (Bound::Included(2), Bound::Excluded(4)),
        (Bound::Excluded(usize::MAX), Bound::Unbounded),
        (Bound::Included(usize::MAX), Bound::Included(usize::MAX)),
        (Bound::Unbounded, Bound::Included(usize::MAX)),
        (Bound::Included(4), Bound::Excluded(2)),
        (Bound::Excluded(1), Bound::Included(1)),
        (Bound::Included(5), Bound::Unbounded),
        (Bound::Included(6), Bound::Excluded(usize::MAX)),
    ];
    let data = b"hello";
    for range in bounds {
        // What the range selects of the bytes, clamped to them.
        let begin = match range.0 {
            Bound::Included(n) => n,
            Bound::Excluded(n) => n.saturating_add(1),
            Bound::Unbounded => 0,
        }
        .min(data.len());
        let end = match range.1 {
            Bound::Included(n) => n.saturating_add(1),
            Bound::Excluded(n) => n,
            Bound::Unbounded => data.len(),
        }
        .clamp(begin, data.len());
        let want = &data[begin..end];
        assert_eq!(data.to_vec().slice(range).as_bytes(), want);
        let boxed: Box<[u8]> = data.to_vec().into_boxed_slice();
        let s = boxed.slice(range);
        assert_eq!((s.as_bytes(), s.begin(), s.end()), (want, begin, end));
        assert_eq!(s.into_inner().as_bytes(), data);
        assert_eq!(String::from("hello").slice(range).as_bytes(), want);
        assert_eq!("hello".slice(range).as_bytes(), want);
        assert_eq!(data.slice(range).as_bytes(), want);
        // A slice of a slice stays inside the first.
        let nested = data.to_vec().slice(1..).slice(range);
        assert!(nested.as_bytes().len() <= 4);
        assert_eq!(nested.get_ref().as_bytes(), b"ello");
    }
}

#[test]
fn a_vector_s_spare_capacity_counts_once_written() {
    let mut v: Vec<u8> = Vec::with_capacity(16);
    v.extend_from_slice(b"ab");
    let total = v.bytes_total();
    assert!(total >= 16);
    // As a read does: bytes written from the first, then recorded.
    let p = v.stable_mut_ptr();
    for i in 0..total {
        // SAFETY: `i` is below the capacity, which the vector owns.
        unsafe { p.add(i).write(b'x' + (i % 3) as u8) };
    }
    // SAFETY: the first `total` bytes were just written.
    unsafe { v.set_init(total) };
    assert_eq!(v.len(), total);
    assert_eq!(v.as_bytes()[..3], *b"xyz");
    // A shorter count keeps the length.
    // SAFETY: fewer bytes than are initialised.
    unsafe { v.set_init(1) };
    assert_eq!(v.len(), total);
    let mut b: Box<[u8]> = vec![0u8; 4].into_boxed_slice();
    assert_eq!(b.bytes_total(), 4);
    // SAFETY: a boxed slice's bytes are all initialised.
    unsafe { b.set_init(99) };
    assert_eq!(b.bytes_init(), 4);
}
