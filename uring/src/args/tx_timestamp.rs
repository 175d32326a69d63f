//! What the completions of a [`TxTimestamp`](crate::ops::TxTimestamp)
//! carry: one transmit timestamp of a socket each, in a 32-byte CQE.

use crate::entries::BigCqe;
use crate::sys;
use std::fmt;
use std::time::{Duration, SystemTime};

/// The point of a packet's way out at which a transmit timestamp was taken
/// (`SCM_TSTAMP_*` of `linux/errqueue.h`, the `ee_info` of the error-queue
/// record). Kernels may add types: any number is kept as it came.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimestampType(u32);

impl TimestampType {
    /// `SCM_TSTAMP_SND`: the packet was handed to the device
    /// (`SOF_TIMESTAMPING_TX_SOFTWARE`), or the device sent it
    /// (`SOF_TIMESTAMPING_TX_HARDWARE`).
    pub const SND: TimestampType = TimestampType(sys::SCM_TSTAMP_SND);
    /// `SCM_TSTAMP_SCHED`: the packet entered the packet scheduler
    /// (`SOF_TIMESTAMPING_TX_SCHED`).
    pub const SCHED: TimestampType = TimestampType(sys::SCM_TSTAMP_SCHED);
    /// `SCM_TSTAMP_ACK`: the peer acknowledged the data, on TCP
    /// (`SOF_TIMESTAMPING_TX_ACK`).
    pub const ACK: TimestampType = TimestampType(sys::SCM_TSTAMP_ACK);
    /// `SCM_TSTAMP_COMPLETION`: the device reported the transmission
    /// complete (`SOF_TIMESTAMPING_TX_COMPLETION`, 6.15).
    pub const COMPLETION: TimestampType = TimestampType(sys::SCM_TSTAMP_COMPLETION);

    /// The type numbered `tstype`.
    pub const fn new(tstype: u32) -> TimestampType {
        TimestampType(tstype)
    }

    /// The number.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Debug for TimestampType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TimestampType::SND => f.write_str("SCM_TSTAMP_SND"),
            TimestampType::SCHED => f.write_str("SCM_TSTAMP_SCHED"),
            TimestampType::ACK => f.write_str("SCM_TSTAMP_ACK"),
            TimestampType::COMPLETION => f.write_str("SCM_TSTAMP_COMPLETION"),
            TimestampType(n) => f.debug_tuple("TimestampType").field(&n).finish(),
        }
    }
}

/// One transmit timestamp, as a completion of
/// [`TxTimestamp`](crate::ops::TxTimestamp) carries it
/// ([`BigCqe::tx_timestamp`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TxTimestampCqe {
    key: u32,
    tstype: TimestampType,
    hardware: bool,
    time: Duration,
}

impl TxTimestampCqe {
    /// The timestamp's key (`ee_data` of the error-queue record, the
    /// CQE's `res`): with `SOF_TIMESTAMPING_OPT_ID`, the socket's counter
    /// when the data was sent, counting datagrams on a datagram socket and
    /// bytes on a stream one, from 0 when the option was set (a `u32` that
    /// wraps; as `res`, keys from 2^31 on read negative).
    pub const fn key(&self) -> u32 {
        self.key
    }

    /// Where on the packet's way out the timestamp was taken.
    pub const fn tstype(&self) -> TimestampType {
        self.tstype
    }

    /// Whether the device took it (`IORING_CQE_F_TSTAMP_HW`), on its own
    /// clock, rather than the kernel, on `CLOCK_REALTIME`.
    pub const fn is_hardware(&self) -> bool {
        self.hardware
    }

    /// The time (`struct io_timespec` in the CQE's extra words): since the
    /// Unix epoch on `CLOCK_REALTIME` for a software timestamp, on the
    /// device's clock for a hardware one.
    pub const fn time(&self) -> Duration {
        self.time
    }

    /// The time of a software timestamp as a [`SystemTime`]; `None` for a
    /// hardware one, or one past what a `SystemTime` holds.
    pub fn system_time(&self) -> Option<SystemTime> {
        if self.hardware {
            return None;
        }
        SystemTime::UNIX_EPOCH.checked_add(self.time)
    }

    /// The timestamp a completion with `res`, `flags` and extra words
    /// `words` carries, if it is one: flagged `IORING_CQE_F_MORE` (the op's
    /// last completion, an error or `-ECANCELED`, is not), with the
    /// nanoseconds below a second.
    fn decode(res: i32, flags: u32, words: [u64; 2]) -> Option<TxTimestampCqe> {
        if flags & sys::IORING_CQE_F_MORE == 0 {
            return None;
        }
        let [sec, nsec] = words;
        let nsec = u32::try_from(nsec).ok().filter(|&n| n < 1_000_000_000)?;
        Some(TxTimestampCqe {
            key: res as u32,
            tstype: TimestampType(flags >> sys::IORING_TIMESTAMP_TYPE_SHIFT),
            hardware: flags & sys::IORING_CQE_F_TSTAMP_HW != 0,
            time: Duration::new(sec, nsec),
        })
    }
}

impl BigCqe {
    /// The transmit timestamp this completion of a
    /// [`TxTimestamp`](crate::ops::TxTimestamp) carries (6.17): its key,
    /// type, source and time. `None` for the op's last completion (without
    /// `IORING_CQE_F_MORE`: its error, or `-ECANCELED`), for a 16-byte CQE
    /// of a mixed ring, and for extra words that are no time (nanoseconds
    /// of a second or more). The flags and words of other ops' completions
    /// mean other things: ask only the op's own.
    pub fn tx_timestamp(&self) -> Option<TxTimestampCqe> {
        if !self.is_big() {
            return None;
        }
        TxTimestampCqe::decode(self.res(), self.flags(), self.big_cqe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entries::{Cqe32, CqeSize};
    use crate::sys::{io_uring_cqe, io_uring_cqe32};

    /// The completion a ring of 32-byte CQEs reads from a slot holding
    /// these.
    fn big(res: i32, flags: u32, words: [u64; 2]) -> BigCqe {
        let slot = io_uring_cqe32 {
            cqe: io_uring_cqe {
                user_data: 9,
                res,
                flags,
            },
            big_cqe: words,
        };
        // SAFETY: a CQ of one slot, local and initialised; head 0 is in it.
        let (cqe, slots) = unsafe { Cqe32::read(&slot, 0, 0) };
        assert_eq!(slots, 1);
        cqe.unwrap()
    }

    const MORE: u32 = sys::IORING_CQE_F_MORE;

    #[test]
    fn a_software_snd_timestamp_decodes() {
        let flags = MORE | (sys::SCM_TSTAMP_SND << sys::IORING_TIMESTAMP_TYPE_SHIFT);
        let ts = big(7, flags, [1_700_000_000, 123_456_789])
            .tx_timestamp()
            .unwrap();
        assert_eq!(ts.key(), 7);
        assert_eq!(ts.tstype(), TimestampType::SND);
        assert!(!ts.is_hardware());
        assert_eq!(ts.time(), Duration::new(1_700_000_000, 123_456_789));
        assert_eq!(
            ts.system_time(),
            Some(SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789))
        );
    }

    #[test]
    fn the_type_and_hardware_bits_decode() {
        for (tstype, want) in [
            (sys::SCM_TSTAMP_SCHED, TimestampType::SCHED),
            (sys::SCM_TSTAMP_ACK, TimestampType::ACK),
            (sys::SCM_TSTAMP_COMPLETION, TimestampType::COMPLETION),
            (0x7fff, TimestampType::new(0x7fff)),
        ] {
            let flags =
                MORE | sys::IORING_CQE_F_TSTAMP_HW | (tstype << sys::IORING_TIMESTAMP_TYPE_SHIFT);
            let ts = big(0, flags, [5, 6]).tx_timestamp().unwrap();
            assert_eq!(ts.tstype(), want);
            assert_eq!(ts.tstype().get(), tstype);
            assert!(ts.is_hardware());
            assert_eq!(ts.system_time(), None, "a hardware clock is no wall clock");
        }
        assert_eq!(sys::IORING_CQE_F_TSTAMP_HW, 1 << 16);
        assert_eq!(sys::IORING_TIMESTAMP_TYPE_SHIFT, 17);
    }

    #[test]
    fn a_mixed_ring_big_cqe_flag_is_not_part_of_the_type() {
        let flags = MORE | sys::IORING_CQE_F_32 | (sys::SCM_TSTAMP_SCHED << 17);
        let ts = big(3, flags, [1, 2]).tx_timestamp().unwrap();
        assert_eq!((ts.key(), ts.tstype()), (3, TimestampType::SCHED));
        assert!(!ts.is_hardware());
    }

    #[test]
    fn keys_past_i32_max_come_back_whole() {
        let ts = big(-2, MORE, [0, 0]).tx_timestamp().unwrap();
        assert_eq!(ts.key(), u32::MAX - 1);
    }

    #[test]
    fn the_last_completion_is_no_timestamp() {
        assert_eq!(big(-libc::ECANCELED, 0, [0, 0]).tx_timestamp(), None);
        assert_eq!(big(-libc::EINVAL, 0, [0, 0]).tx_timestamp(), None);
        assert_eq!(big(0, 0, [1, 2]).tx_timestamp(), None);
    }

    #[test]
    fn a_small_cqe_or_bad_nanoseconds_are_no_timestamp() {
        assert_eq!(BigCqe::default().tx_timestamp(), None);
        assert_eq!(big(1, MORE, [1, 1_000_000_000]).tx_timestamp(), None);
        assert_eq!(big(1, MORE, [u64::MAX, u64::MAX]).tx_timestamp(), None);
        let edge = big(1, MORE, [u64::MAX, 999_999_999])
            .tx_timestamp()
            .unwrap();
        assert_eq!(edge.time(), Duration::new(u64::MAX, 999_999_999));
        assert_eq!(edge.system_time(), None);
    }

    #[test]
    fn types_print_by_name() {
        assert_eq!(format!("{:?}", TimestampType::ACK), "SCM_TSTAMP_ACK");
        assert_eq!(format!("{:?}", TimestampType::new(9)), "TimestampType(9)");
    }
}
