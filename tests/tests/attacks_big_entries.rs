//! Attacks on scopes over rings of big entries (128-byte SQEs, 32-byte
//! CQEs), in safe code: a panic with reads in flight, batches and
//! completion iterators forgotten, and ops that carry, as their own
//! `user_data`, a tag read from `/proc/self/fdinfo`. Each must leave the
//! borrowed buffers untouched once the scope has returned.

use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};

use uring::ops::{Nop, Read};
use uring::{Builder, Cqe16, Cqe32, Ring, Sqe64, Sqe128, SqeSize, UniformCqe};
use uring_tests::assert_nothing_writes_after;

const CANARY: u8 = 0xC7;

/// Runs `attack` on a ring of every size a scope takes.
fn on_every_size(attack: fn(&mut dyn FnMut() -> Box<dyn AnyRing>)) {
    attack(&mut || Box::new(Builder::new().build_sized::<Sqe128, Cqe32>(8).unwrap()));
    attack(&mut || Box::new(Builder::new().build_sized::<Sqe64, Cqe32>(8).unwrap()));
    attack(&mut || Box::new(Builder::new().build_sized::<Sqe128, Cqe16>(8).unwrap()));
}

/// The attacks, over a ring of any size a scope takes.
trait AnyRing {
    /// A scope with a read into each buffer in flight that panics; the
    /// panic comes out of the scope once the reads are done.
    fn panic_with_reads(&mut self, rx: &[UnixStream], bufs: &mut [[u8; 16]]) -> bool;
    /// A scope whose batch, holding a read per buffer, and whose
    /// completion iterator are forgotten; returns the ops in flight after.
    fn forget_batch_and_iterator(&mut self, rx: &[UnixStream], bufs: &mut [[u8; 16]]) -> u32;
    /// A scope with a read in flight, and NOPs pushed with the read's tag
    /// (read from fdinfo) as their `user_data`: returns what the NOPs'
    /// completions carried, and what the scope had in flight after them.
    fn nops_carrying_a_live_tag(&mut self, rx: &UnixStream, buf: &mut [u8; 16]) -> (Vec<u64>, u32);
    /// Pushes an op outside a scope, so that later scopes tag every op.
    fn tag_every_op(&mut self);
    /// The ring's descriptor number, for fdinfo.
    fn raw_fd(&self) -> i32;
}

impl<S: SqeSize, C: UniformCqe> AnyRing for Ring<S, C> {
    fn panic_with_reads(&mut self, rx: &[UnixStream], bufs: &mut [[u8; 16]]) -> bool {
        catch_unwind(AssertUnwindSafe(|| {
            self.scope(|s| {
                for (i, (rx, buf)) in rx.iter().zip(bufs.iter_mut()).enumerate() {
                    s.push(Read::new(rx, &mut buf[..]).user_data(i as u64))
                        .unwrap();
                }
                s.submit().unwrap();
                panic!("a panic with reads in flight");
            })
        }))
        .is_err()
    }

    fn forget_batch_and_iterator(&mut self, rx: &[UnixStream], bufs: &mut [[u8; 16]]) -> u32 {
        self.scope(|s| {
            let mut sq = s.submission();
            for (i, (rx, buf)) in rx.iter().zip(bufs.iter_mut()).enumerate() {
                sq.push(Read::new(rx, &mut buf[..]).user_data(i as u64))
                    .unwrap();
            }
            sq.push(Nop::new().user_data(99)).unwrap();
            std::mem::forget(sq);
            s.submit_and_wait(1).unwrap();
            let mut completions = s.completions();
            let nop = completions.next().expect("the NOP's completion");
            assert_eq!(nop.as_ref().user_data(), 99);
            drop(nop);
            std::mem::forget(completions);
            s.in_flight()
        })
    }

    fn nops_carrying_a_live_tag(&mut self, rx: &UnixStream, buf: &mut [u8; 16]) -> (Vec<u64>, u32) {
        let fd = self.raw_fd();
        self.scope(|s| {
            s.push(Read::new(rx, &mut buf[..]).user_data(1)).unwrap();
            s.push(Nop::new().user_data(2)).unwrap();
            s.submit_and_wait(1).unwrap();
            // The NOP's completion waits in the CQ: fdinfo shows what it
            // carries, its tag if the scope tags every op.
            let seen = fdinfo_words(fd);
            assert!(!seen.is_empty(), "fdinfo shows the NOP's completion");
            assert_eq!(s.completions().count(), 1);
            // Its neighbours in slot and generation, the read's tag among
            // them when tagged: as the user_data of ops of the scope.
            let leaked = seen
                .iter()
                .copied()
                .find(|&w| w >> 63 == 1)
                .unwrap_or(seen[0]);
            let planted: Vec<u64> = (0..4u64)
                .flat_map(|g| (0..2u64).map(move |slot| leaked ^ (g << 32 | slot)))
                .collect();
            for &user_data in &planted {
                s.push(Nop::new().user_data(user_data)).unwrap();
            }
            let mut carried = Vec::new();
            while carried.len() < planted.len() {
                s.submit_and_wait(1).unwrap();
                for c in s.completions() {
                    carried.push(c.as_ref().user_data());
                }
            }
            carried.sort_unstable();
            let mut want = planted.clone();
            want.sort_unstable();
            assert_eq!(carried, want, "each NOP comes back as pushed");
            (seen, s.in_flight())
        })
    }

    fn tag_every_op(&mut self) {
        self.push(Nop::new().user_data(7)).unwrap();
        self.submit_and_wait(1).unwrap();
        assert_eq!(self.completions().count(), 1);
    }

    fn raw_fd(&self) -> i32 {
        use std::os::fd::AsRawFd;
        self.as_raw_fd()
    }
}

/// The nonzero words fdinfo shows for the completions in the CQ of the
/// ring `fd`: `user_data` and, on rings of 32-byte CQEs, the extra words.
/// (Linux 6.18 prints the entries of a 32-byte CQ from 16-byte slots, so a
/// completion's `user_data` can show up as another's `extra1`: an attacker
/// reads them all.)
fn fdinfo_words(fd: i32) -> Vec<u64> {
    let text = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
    let mut words = Vec::new();
    for line in text.lines() {
        for field in ["user_data:", "extra1:", "extra2:"] {
            if let Some(rest) = line.split(field).nth(1) {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(w) = digits.parse::<u64>()
                    && w != 0
                {
                    words.push(w);
                }
            }
        }
    }
    words
}

/// Sockets whose reads stay pending, and their writers.
fn pairs(n: usize) -> (Vec<UnixStream>, Vec<UnixStream>) {
    (0..n).map(|_| UnixStream::pair().unwrap()).unzip()
}

#[test]
fn a_panic_with_reads_in_flight_waits_for_them() {
    let _watch = uring_tests::watchdog();
    on_every_size(|make| {
        let mut ring = make();
        let (mut tx, rx) = pairs(3);
        let mut bufs = [[CANARY; 16]; 3];
        assert!(ring.panic_with_reads(&rx, &mut bufs), "the panic came out");
        let mut writers: Vec<&mut UnixStream> = tx.iter_mut().collect();
        let views: Vec<&[u8]> = bufs.iter().map(|b| &b[..]).collect();
        assert_nothing_writes_after(&mut writers, &views, CANARY);
    });
}

#[test]
fn forgotten_batches_and_iterators_hide_no_op() {
    let _watch = uring_tests::watchdog();
    on_every_size(|make| {
        let mut ring = make();
        let (mut tx, rx) = pairs(2);
        let mut bufs = [[CANARY; 16]; 2];
        assert_eq!(
            ring.forget_batch_and_iterator(&rx, &mut bufs),
            2,
            "both reads counted"
        );
        let mut writers: Vec<&mut UnixStream> = tx.iter_mut().collect();
        let views: Vec<&[u8]> = bufs.iter().map(|b| &b[..]).collect();
        assert_nothing_writes_after(&mut writers, &views, CANARY);
    });
}

/// NOPs pushed with `user_data` made from what fdinfo showed for a
/// completed op of the scope (its tag, in a scope that tags every op, and
/// so the tags of its neighbours, a pending read's among them; its own
/// `user_data` in one that does not) come back as they were pushed, and
/// settle nothing: the read stays in flight, and its buffer is untouched
/// after the scope.
#[test]
fn ops_carrying_a_tag_as_user_data_settle_nothing_of_the_scope() {
    let _watch = uring_tests::watchdog();
    on_every_size(|make| {
        for tag_all in [false, true] {
            let mut ring = make();
            if tag_all {
                ring.tag_every_op();
            }
            let (mut tx, rx) = UnixStream::pair().unwrap();
            let mut buf = [CANARY; 16];
            let (seen, in_flight) = ring.nops_carrying_a_live_tag(&rx, &mut buf);
            assert_eq!(
                seen.iter().any(|&u| u >> 63 == 1),
                tag_all,
                "the NOP's completion carries a tag exactly when the scope tags every op: {seen:x?}"
            );
            assert_eq!(in_flight, 1, "the read was not settled by a NOP");
            assert_nothing_writes_after(&mut [&mut tx], &[&buf[..]], CANARY);
        }
    });
}
