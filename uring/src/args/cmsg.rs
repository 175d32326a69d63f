//! Ancillary data (`cmsg` records): walking what a receive wrote, and
//! building what a send carries.

use std::fmt;
use std::iter::FusedIterator;
use std::mem;
use std::os::fd::RawFd;
use std::time::{Duration, SystemTime};

/// The bytes of a `struct cmsghdr` as the kernel lays it out: a `size_t`
/// length, then the level and the type, two `int`s.
const HEADER: usize = mem::size_of::<usize>() + 2 * mem::size_of::<i32>();

/// `CMSG_ALIGN`: records, and the data within them, start at multiples of
/// the word size.
fn align(len: usize) -> Option<usize> {
    len.checked_next_multiple_of(mem::size_of::<usize>())
}

/// Where a record's data starts (`CMSG_DATA`, `CMSG_LEN(0)`).
const DATA_AT: usize = HEADER.next_multiple_of(mem::size_of::<usize>());

/// The ancillary records of received ancillary data, walked as the kernel
/// and `CMSG_NXTHDR` walk them: each record a header and its data, the next
/// one at its length rounded up to the word size. The walk stops at the
/// first record that is not whole: fewer bytes left than a header, a length
/// shorter than the header, or one running past the end of the bytes.
///
/// Built from any bytes ([`ControlMessages::new`]), from the ancillary data
/// of a multishot receive ([`RecvMsgOut::control_messages`]), or from what
/// a one-shot `RecvMsg` wrote ([`MsgHdrMut::control_messages`]). The bytes
/// need no alignment.
///
/// A record the kernel cut short for want of room (the message's flags then
/// hold `MSG_CTRUNC`) is still a whole record: its length says how much of
/// its data the kernel wrote.
///
/// [`RecvMsgOut::control_messages`]: crate::RecvMsgOut::control_messages
/// [`MsgHdrMut::control_messages`]: crate::MsgHdrMut::control_messages
#[derive(Clone)]
pub struct ControlMessages<'a> {
    rest: &'a [u8],
}

impl<'a> ControlMessages<'a> {
    /// The records of `control`, ancillary data laid out as the kernel
    /// writes it (`msg_control` of `recvmsg(2)`, up to `msg_controllen`).
    pub fn new(control: &'a [u8]) -> ControlMessages<'a> {
        ControlMessages { rest: control }
    }
}

impl<'a> Iterator for ControlMessages<'a> {
    type Item = ControlMessage<'a>;

    fn next(&mut self) -> Option<ControlMessage<'a>> {
        let rest = mem::take(&mut self.rest);
        let (len, level, kind) = read_header(rest)?;
        if len < HEADER || len > rest.len() {
            return None;
        }
        // `DATA_AT` is `HEADER` rounded up, and no more than `len` but on a
        // platform whose header is not a word multiple; `get` keeps that
        // case from panicking.
        let data = rest.get(DATA_AT.min(len)..len)?;
        self.rest = align(len).and_then(|next| rest.get(next..)).unwrap_or(&[]);
        Some(ControlMessage { level, kind, data })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.rest.len() / HEADER))
    }
}

impl FusedIterator for ControlMessages<'_> {}

impl fmt::Debug for ControlMessages<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// `(cmsg_len, cmsg_level, cmsg_type)` of the header at the start of
/// `bytes`, read byte by byte; `None` if fewer bytes than a header.
fn read_header(bytes: &[u8]) -> Option<(usize, i32, i32)> {
    let header = bytes.get(..HEADER)?;
    let (len, tail) = header.split_at(mem::size_of::<usize>());
    let len = usize::from_ne_bytes(len.try_into().ok()?);
    let level = i32::from_ne_bytes(tail[..4].try_into().ok()?);
    let kind = i32::from_ne_bytes(tail[4..].try_into().ok()?);
    Some((len, level, kind))
}

/// One ancillary record: its level (`cmsg_level`: `SOL_SOCKET`, `SOL_IP`,
/// ...), its type (`cmsg_type`: `SCM_RIGHTS`, `IP_TTL`, ...) and its data.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ControlMessage<'a> {
    level: i32,
    kind: i32,
    data: &'a [u8],
}

impl<'a> ControlMessage<'a> {
    /// The protocol level (`cmsg_level`).
    pub fn level(&self) -> i32 {
        self.level
    }

    /// The type within the level (`cmsg_type`).
    pub fn kind(&self) -> i32 {
        self.kind
    }

    /// The record's data: `cmsg_len` less the header, without the padding
    /// that follows.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    fn is(&self, level: i32, kind: i32) -> bool {
        self.level == level && self.kind == kind
    }

    /// The descriptors of an `SCM_RIGHTS` record; `None` for any other.
    ///
    /// Receiving them installed them as new descriptors of this process:
    /// the receiver owns them, and must close them (or take each once with
    /// `OwnedFd::from_raw_fd`). The numbers are only read here, never
    /// closed, so walking the records again yields them again; a bytes
    /// slice is no proof of ownership, which is why they come raw. (An
    /// `SCM_PIDFD` record, received with `SO_PASSPIDFD` set (6.5), carries
    /// a new descriptor too, its data one `int`; or, where the kernel could
    /// not make one (a full descriptor table), the negative errno in its
    /// place, which is no descriptor.)
    pub fn fds(&self) -> Option<ScmRights<'a>> {
        self.is(libc::SOL_SOCKET, libc::SCM_RIGHTS)
            .then(|| ScmRights {
                data: self.data.chunks_exact(mem::size_of::<RawFd>()),
            })
    }

    /// The sender's process id, user id and group id of an
    /// `SCM_CREDENTIALS` record (received on a Unix socket with
    /// `SO_PASSCRED` set); `None` for any other, or one too short.
    pub fn credentials(&self) -> Option<libc::ucred> {
        if !self.is(libc::SOL_SOCKET, libc::SCM_CREDENTIALS) {
            return None;
        }
        Some(libc::ucred {
            pid: self.int_at(0)?,
            uid: self.int_at(4)? as u32,
            gid: self.int_at(8)? as u32,
        })
    }

    /// The time the packet arrived, of an `SCM_TIMESTAMP` record (a
    /// `timeval`, with `SO_TIMESTAMP` set) or an `SCM_TIMESTAMPNS` record
    /// (a `timespec`, with `SO_TIMESTAMPNS` set); `None` for any other, one
    /// too short, or one whose fraction of a second is out of range.
    /// (Records of the options with 64-bit times on every target,
    /// `SO_TIMESTAMP_NEW` and `SO_TIMESTAMPNS_NEW`, are left to
    /// [`data`](Self::data).)
    pub fn timestamp(&self) -> Option<SystemTime> {
        if self.level != libc::SOL_SOCKET {
            return None;
        }
        // `time_t`, `suseconds_t` and `c_long` are `i64` on 64-bit targets.
        #[allow(clippy::unnecessary_cast)]
        let (secs, nanos) = if self.kind == libc::SCM_TIMESTAMP {
            let tv: libc::timeval = self.read()?;
            (tv.tv_sec as i64, (tv.tv_usec as i64).checked_mul(1000)?)
        } else if self.kind == libc::SCM_TIMESTAMPNS {
            let ts: libc::timespec = self.read()?;
            (ts.tv_sec as i64, ts.tv_nsec as i64)
        } else {
            return None;
        };
        let nanos = u32::try_from(nanos).ok().filter(|&n| n < 1_000_000_000)?;
        if secs >= 0 {
            SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs as u64, nanos))
        } else {
            SystemTime::UNIX_EPOCH
                .checked_sub(Duration::from_secs(secs.unsigned_abs()))?
                .checked_add(Duration::from_nanos(nanos.into()))
        }
    }

    /// The time to live of the IPv4 packet, of an `IP_TTL` record
    /// (received with `IP_RECVTTL` set); `None` for any other.
    pub fn ip_ttl(&self) -> Option<u8> {
        if !self.is(libc::SOL_IP, libc::IP_TTL) {
            return None;
        }
        u8::try_from(self.int_at(0)?).ok()
    }

    /// The interface and addresses of the IPv4 packet, of an `IP_PKTINFO`
    /// record (received with `IP_PKTINFO` set); `None` for any other.
    pub fn ip_pktinfo(&self) -> Option<libc::in_pktinfo> {
        if !self.is(libc::SOL_IP, libc::IP_PKTINFO) {
            return None;
        }
        let addr = |at| self.word_at(at).map(|s_addr| libc::in_addr { s_addr });
        Some(libc::in_pktinfo {
            ipi_ifindex: self.int_at(0)?,
            ipi_spec_dst: addr(4)?,
            ipi_addr: addr(8)?,
        })
    }

    /// The 4 bytes of the data at `at`, as they lie.
    fn word_at(&self, at: usize) -> Option<u32> {
        let bytes = self.data.get(at..at.checked_add(4)?)?;
        Some(u32::from_ne_bytes(bytes.try_into().ok()?))
    }

    fn int_at(&self, at: usize) -> Option<i32> {
        self.word_at(at).map(|w| w as i32)
    }

    /// The data read as a `T`; `None` if it is shorter.
    fn read<T: Integers>(&self) -> Option<T> {
        if self.data.len() < mem::size_of::<T>() {
            return None;
        }
        // SAFETY: the data holds at least a `T` (checked just above), read
        // unaligned; `T` is made of integers only (`Integers`), so any bytes
        // are a valid `T`.
        Some(unsafe { self.data.as_ptr().cast::<T>().read_unaligned() })
    }
}

/// A C structure whose fields are all integers: any bytes are one.
trait Integers: Copy {}
impl Integers for libc::timeval {}
impl Integers for libc::timespec {}

/// The descriptor numbers of an `SCM_RIGHTS` record
/// ([`ControlMessage::fds`]), in the order the sender passed them.
#[derive(Clone, Debug)]
pub struct ScmRights<'a> {
    data: std::slice::ChunksExact<'a, u8>,
}

impl Iterator for ScmRights<'_> {
    type Item = RawFd;

    fn next(&mut self) -> Option<RawFd> {
        let raw = self.data.next()?;
        Some(RawFd::from_ne_bytes(raw.try_into().ok()?))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.data.size_hint()
    }
}

impl ExactSizeIterator for ScmRights<'_> {}
impl FusedIterator for ScmRights<'_> {}

/// Ancillary data to send, built record by record, each laid out as the
/// kernel reads it (`CMSG_SPACE` bytes apiece: header, data, padding to
/// the word size). Hand [`as_bytes`](ControlMessagesBuf::as_bytes) to
/// [`MsgHdr::control`](crate::MsgHdr::control), or to
/// [`MsgHdr::control_unchecked`](crate::MsgHdr::control_unchecked) for
/// records that pass descriptors.
#[derive(Clone, Default)]
pub struct ControlMessagesBuf {
    bytes: Vec<u8>,
}

impl ControlMessagesBuf {
    /// No records.
    pub fn new() -> ControlMessagesBuf {
        ControlMessagesBuf::default()
    }

    /// Appends a record of `level` and `kind` (`cmsg_level`, `cmsg_type`)
    /// carrying `data`.
    pub fn push(&mut self, level: i32, kind: i32, data: &[u8]) -> &mut ControlMessagesBuf {
        let len = DATA_AT + data.len();
        let start = self.bytes.len();
        // A slice is at most `isize::MAX` bytes: its length, a header and
        // padding fit in a `usize`.
        let space = align(len).unwrap_or(len);
        self.bytes.resize(start + space, 0);
        let record = &mut self.bytes[start..];
        let (head, tail) = record[..HEADER].split_at_mut(mem::size_of::<usize>());
        head.copy_from_slice(&len.to_ne_bytes());
        tail[..4].copy_from_slice(&level.to_ne_bytes());
        tail[4..].copy_from_slice(&kind.to_ne_bytes());
        record[DATA_AT..len].copy_from_slice(data);
        self
    }

    /// The records, ready to send.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The records, walked.
    pub fn iter(&self) -> ControlMessages<'_> {
        ControlMessages::new(&self.bytes)
    }
}

impl fmt::Debug for ControlMessagesBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ControlMessagesBuf")
            .field(&self.iter())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(control: &[u8]) -> Vec<(i32, i32, Vec<u8>)> {
        ControlMessages::new(control)
            .map(|m| (m.level(), m.kind(), m.data().to_vec()))
            .collect()
    }

    /// A small deterministic generator (xorshift), so that failures repeat.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// Every record the walk returns lies whole within `control`: its data
    /// is a subslice, after a header whose length covers exactly it.
    fn assert_whole(control: &[u8]) -> usize {
        let base = control.as_ptr() as usize;
        let mut at = 0usize;
        let mut n = 0;
        for m in ControlMessages::new(control) {
            let data_at = m.data().as_ptr() as usize - base;
            assert_eq!(data_at, at + DATA_AT, "records are consecutive");
            assert!(data_at + m.data().len() <= control.len());
            let (len, level, kind) = read_header(&control[at..]).unwrap();
            assert_eq!(
                (len, level, kind),
                (DATA_AT + m.data().len(), m.level(), m.kind())
            );
            at += align(len).unwrap();
            n += 1;
        }
        n
    }

    #[test]
    fn the_header_is_libcs_cmsghdr() {
        assert_eq!(HEADER, mem::size_of::<libc::cmsghdr>());
        // SAFETY: CMSG_LEN is arithmetic.
        assert_eq!(DATA_AT, unsafe { libc::CMSG_LEN(0) } as usize);
    }

    #[test]
    fn built_records_are_laid_out_as_cmsg_space_and_walk_back() {
        let mut buf = ControlMessagesBuf::new();
        buf.push(
            libc::SOL_SOCKET,
            libc::SCM_RIGHTS,
            &[1, 0, 0, 0, 2, 0, 0, 0],
        )
        .push(libc::SOL_IP, libc::IP_TTL, &[7, 0, 0, 0])
        .push(1, 2, &[]);
        // SAFETY: CMSG_SPACE is arithmetic.
        let space = |n| unsafe { libc::CMSG_SPACE(n) } as usize;
        assert_eq!(buf.as_bytes().len(), space(8) + space(4) + space(0));
        assert_eq!(
            records(buf.as_bytes()),
            [
                (
                    libc::SOL_SOCKET,
                    libc::SCM_RIGHTS,
                    vec![1, 0, 0, 0, 2, 0, 0, 0]
                ),
                (libc::SOL_IP, libc::IP_TTL, vec![7, 0, 0, 0]),
                (1, 2, vec![]),
            ]
        );
        let all: Vec<_> = buf.iter().collect();
        assert_eq!(all[0].fds().unwrap().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(all[0].fds().unwrap().len(), 2);
        assert!(all[1].fds().is_none());
        assert_eq!(all[1].ip_ttl(), Some(7));
        assert_eq!(all[0].ip_ttl(), None);
        assert_eq!(assert_whole(buf.as_bytes()), 3);
    }

    #[test]
    fn typed_readers_check_level_type_and_length() {
        let ucred = [
            7i32.to_ne_bytes(),
            1000i32.to_ne_bytes(),
            100i32.to_ne_bytes(),
        ]
        .concat();
        let mut buf = ControlMessagesBuf::new();
        buf.push(libc::SOL_SOCKET, libc::SCM_CREDENTIALS, &ucred)
            .push(libc::SOL_SOCKET, libc::SCM_CREDENTIALS, &ucred[..8])
            .push(libc::SOL_IP, libc::SCM_CREDENTIALS, &ucred);
        let got: Vec<_> = buf.iter().map(|m| m.credentials()).collect();
        let c = got[0].unwrap();
        assert_eq!((c.pid, c.uid, c.gid), (7, 1000, 100));
        assert!(got[1].is_none() && got[2].is_none());

        let ts = [5i64.to_ne_bytes(), 250_000_000i64.to_ne_bytes()].concat();
        let bad = [5i64.to_ne_bytes(), 1_000_000_000i64.to_ne_bytes()].concat();
        let before = [(-2i64).to_ne_bytes(), 500_000_000i64.to_ne_bytes()].concat();
        let tv = [5i64.to_ne_bytes(), 250_000i64.to_ne_bytes()].concat();
        let mut buf = ControlMessagesBuf::new();
        buf.push(libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS, &ts)
            .push(libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS, &bad)
            .push(libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS, &ts[..12])
            .push(libc::SOL_SOCKET, libc::SCM_TIMESTAMPNS, &before)
            .push(libc::SOL_SOCKET, libc::SCM_TIMESTAMP, &tv);
        let got: Vec<_> = buf.iter().map(|m| m.timestamp()).collect();
        let at = |s, n| SystemTime::UNIX_EPOCH + Duration::new(s, n);
        assert_eq!(got[0], Some(at(5, 250_000_000)));
        assert_eq!(got[1], None);
        assert_eq!(got[2], None);
        assert_eq!(
            got[3],
            Some(SystemTime::UNIX_EPOCH - Duration::from_millis(1500))
        );
        assert_eq!(got[4], Some(at(5, 250_000_000)));

        let info = [3i32.to_ne_bytes(), [127, 0, 0, 1], [127, 0, 0, 2]].concat();
        let mut buf = ControlMessagesBuf::new();
        buf.push(libc::SOL_IP, libc::IP_PKTINFO, &info)
            .push(libc::SOL_IP, libc::IP_PKTINFO, &info[..11])
            .push(libc::SOL_IP, libc::IP_TTL, &300i32.to_ne_bytes());
        let all: Vec<_> = buf.iter().collect();
        let p = all[0].ip_pktinfo().unwrap();
        assert_eq!(p.ipi_ifindex, 3);
        assert_eq!(p.ipi_spec_dst.s_addr.to_ne_bytes(), [127, 0, 0, 1]);
        assert_eq!(p.ipi_addr.s_addr.to_ne_bytes(), [127, 0, 0, 2]);
        assert!(all[1].ip_pktinfo().is_none());
        assert_eq!(all[2].ip_ttl(), None, "not a TTL");
        // An SCM_RIGHTS record's partial trailing number is left out.
        let mut buf = ControlMessagesBuf::new();
        buf.push(libc::SOL_SOCKET, libc::SCM_RIGHTS, &[9, 0, 0, 0, 1]);
        let fds: Vec<_> = buf.iter().next().unwrap().fds().unwrap().collect();
        assert_eq!(fds, [9]);
    }

    #[test]
    fn malformed_records_end_the_walk() {
        let mut buf = ControlMessagesBuf::new();
        buf.push(1, 1, b"abc").push(2, 2, b"defgh");
        let good = buf.as_bytes().to_vec();
        let first = align(DATA_AT + 3).unwrap();
        let set_len = |bytes: &mut [u8], at: usize, len: usize| {
            bytes[at..at + mem::size_of::<usize>()].copy_from_slice(&len.to_ne_bytes());
        };
        // A second length shorter than a header, zero, past the end, huge.
        for len in [
            0,
            1,
            HEADER - 1,
            good.len() - first + 1,
            usize::MAX,
            usize::MAX - 3,
        ] {
            let mut bad = good.clone();
            set_len(&mut bad, first, len);
            assert_eq!(records(&bad), [(1, 1, b"abc".to_vec())], "second len {len}");
        }
        // A first length that, aligned, overflows.
        let mut bad = good.clone();
        set_len(&mut bad, 0, usize::MAX);
        assert!(records(&bad).is_empty());
        // A length exactly the header: a record without data.
        let mut bad = good.clone();
        set_len(&mut bad, first, HEADER);
        assert_eq!(records(&bad)[1], (2, 2, vec![]));
        // The last record without its padding is whole.
        let unpadded = &good[..first + DATA_AT + 5];
        assert_eq!(records(unpadded).len(), 2);
        assert!(records(&[]).is_empty());
        assert!(records(&good[..HEADER - 1]).is_empty());
    }

    #[test]
    fn every_truncation_returns_only_whole_records() {
        let mut buf = ControlMessagesBuf::new();
        buf.push(libc::SOL_SOCKET, libc::SCM_CREDENTIALS, &[1; 12])
            .push(libc::SOL_SOCKET, libc::SCM_RIGHTS, &[2; 8])
            .push(libc::SOL_IP, libc::IP_TTL, &[3; 4])
            .push(9, 9, &[]);
        let good = buf.as_bytes();
        let full = records(good);
        assert_eq!(full.len(), 4);
        // The end of each record's data (its `cmsg_len` from its start).
        let mut ends = Vec::new();
        let mut at = 0;
        for m in ControlMessages::new(good) {
            ends.push(at + DATA_AT + m.data().len());
            at += align(DATA_AT + m.data().len()).unwrap();
        }
        for cut in 0..=good.len() {
            let whole = ends.iter().filter(|&&end| end <= cut).count();
            assert_eq!(records(&good[..cut]), full[..whole], "cut at {cut}");
            assert_eq!(assert_whole(&good[..cut]), whole);
        }
    }

    #[test]
    fn misaligned_starts_read_the_same() {
        let mut buf = ControlMessagesBuf::new();
        buf.push(4, 5, b"misaligned").push(6, 7, &[8; 3]);
        let want = records(buf.as_bytes());
        let mut shifted = vec![0u8; buf.as_bytes().len() + 8];
        for shift in 1..8 {
            let room = &mut shifted[shift..shift + buf.as_bytes().len()];
            room.copy_from_slice(buf.as_bytes());
            assert_eq!(records(room), want, "shift {shift}");
        }
    }

    #[test]
    fn random_bytes_never_panic_and_yield_only_whole_records() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut bytes = [0u8; 160];
        let mut walked = 0;
        for round in 0..20_000 {
            let len = (rng.next() % 160) as usize;
            for b in bytes.iter_mut() {
                *b = rng.next() as u8;
            }
            // Half the time, plant plausible lengths (mostly at least a
            // header) where the walk looks for them, so that walks go on
            // past the first record.
            let start = ((rng.next() % 8) as usize).min(len);
            let word = mem::size_of::<usize>();
            let mut at = start;
            while round % 2 == 0 && at + word <= len {
                let l = (rng.next() % 64) as usize;
                let l = if l < 56 { HEADER + l } else { l - 56 };
                bytes[at..at + word].copy_from_slice(&l.to_ne_bytes());
                at += align(l.max(1)).unwrap();
            }
            let control = &bytes[start..len];
            walked += assert_whole(control);
            for m in ControlMessages::new(control) {
                let _ = (m.fds().map(|f| f.count()), m.credentials(), m.timestamp());
                let _ = (m.ip_ttl(), m.ip_pktinfo());
            }
        }
        // The planted lengths make many walks go past a record or two.
        assert!(walked > 10_000, "{walked} records");
    }
}
