//! Random walks over the queue API: pushes of every kind (single ops, chains
//! of any length, batches, raw SQEs) interleaved with submits, waits, peeks,
//! partial advances and partial iteration, on rings of several sizes. After
//! every step the model and the ring must agree: how many SQEs are pending,
//! how many completions are ready, and every user_data completes exactly
//! once, in chain order.

use std::collections::{BTreeMap, HashMap};

use uring::ops::Nop;
use uring::{Cqe, Ring, sys};
use uring_tests::Rng;

/// What the walk expects of the ring.
#[derive(Default)]
struct Model {
    /// user_data -> (chain id, position in the chain).
    pushed: HashMap<u64, (u64, u32)>,
    /// user_data of SQEs pushed and not yet consumed by the kernel.
    pending: u32,
    /// user_data seen complete.
    seen: BTreeMap<u64, i32>,
    /// The position reached per chain, to check chain order.
    chain_pos: HashMap<u64, u32>,
    next_user_data: u64,
    next_chain: u64,
}

impl Model {
    fn take(&mut self, cqe: &Cqe) {
        let ud = cqe.user_data();
        let (chain, pos) = *self
            .pushed
            .get(&ud)
            .unwrap_or_else(|| panic!("a completion for user_data {ud} that was never pushed"));
        assert!(
            self.seen.insert(ud, cqe.res()).is_none(),
            "user_data {ud} completed twice"
        );
        assert_eq!(cqe.res(), 0, "a NOP failed: {cqe:?}");
        let reached = self.chain_pos.entry(chain).or_insert(0);
        assert_eq!(
            *reached, pos,
            "chain {chain} completed out of order at {ud}"
        );
        *reached += 1;
    }
}

/// Pushes a chain of `len` NOPs (a single op when `len` is 1) through the
/// ring or a batch; returns whether it went in.
fn push_chain(ring: &mut Ring, model: &mut Model, len: u32, batch: bool) -> bool {
    let base = model.next_user_data;
    let chain = model.next_chain;
    let nop = |i: u32| Nop::new().user_data(base + u64::from(i));
    let pushed = match (len, batch) {
        (1, false) => ring.push(nop(0)).is_ok(),
        (1, true) => ring.submission().push(nop(0)).is_ok(),
        (2, false) => ring.push(nop(0).link(nop(1))).is_ok(),
        (2, true) => ring.submission().push(nop(0).hard_link(nop(1))).is_ok(),
        (3, false) => ring.push(nop(0).link(nop(1)).link(nop(2))).is_ok(),
        (3, true) => ring
            .submission()
            .push(nop(0).link(nop(1).hard_link(nop(2))))
            .is_ok(),
        (_, false) => ring
            .push(nop(0).link(nop(1)).link(nop(2)).link(nop(3)).link(nop(4)))
            .is_ok(),
        (_, true) => {
            // Raw SQEs: five NOPs, not linked.
            let mut sqe = sys::io_uring_sqe::zeroed();
            let raw: Vec<sys::io_uring_sqe> = (0..5)
                .map(|i| {
                    sqe.user_data = base + i;
                    sqe
                })
                .collect();
            // SAFETY: zeroed SQEs are NOPs, which point to no memory.
            match unsafe { ring.push_raw(&raw) } {
                Ok(()) => {
                    for i in 0..5 {
                        // Unlinked: each is a chain of its own.
                        model.pushed.insert(base + i, (chain + i, 0));
                    }
                    model.next_user_data += 5;
                    model.next_chain += 5;
                    model.pending += 5;
                    return true;
                }
                Err(_) => return false,
            }
        }
    };
    if pushed {
        let len = len.min(5);
        for i in 0..len {
            model.pushed.insert(base + u64::from(i), (chain, i));
        }
        model.next_user_data += u64::from(len);
        model.next_chain += 1;
        model.pending += len;
    }
    pushed
}

fn walk(seed: u64, entries: u32, steps: usize) {
    let mut rng = Rng(seed | 1);
    let mut ring = Ring::new(entries).unwrap();
    let mut model = Model::default();
    let cq = ring.cq_entries();
    for step in 0..steps {
        let context = |what: &str| format!("seed {seed}, ring {entries}, step {step}: {what}");
        // In flight: submitted and not yet reaped. Keep it within the CQ so
        // that nothing ever overflows into the kernel's list.
        let in_flight = (model.pushed.len() - model.seen.len()) as u32;
        match rng.below(10) {
            0..=4 => {
                let len = [1, 1, 2, 3, 5][rng.below(5) as usize];
                if in_flight + len <= cq {
                    let space = ring.space_left();
                    let went = push_chain(&mut ring, &mut model, len, rng.below(2) == 0);
                    assert_eq!(went, space >= len, "{}", context("push vs space"));
                }
            }
            5 => {
                let consumed = ring.submit().unwrap();
                assert_eq!(consumed, model.pending, "{}", context("submit"));
                model.pending = 0;
            }
            6 => {
                let want = rng.below(u64::from(in_flight) + 1) as u32;
                ring.submit_and_wait(want).unwrap();
                model.pending = 0;
                assert!(ring.ready() >= want, "{}", context("submit_and_wait"));
            }
            7 => {
                // Read a few completions, leaving the rest.
                let take = rng.below(6) as usize;
                let got: Vec<Cqe> = ring.completions().take(take).collect();
                for cqe in &got {
                    model.take(cqe);
                }
            }
            8 => {
                let mut batch = [Cqe::default(); 4];
                let n = ring.peek_batch(&mut batch);
                let ready = ring.ready() as usize;
                assert!(n <= 4 && n <= ready, "{}", context("peek_batch"));
                let advance = rng.below(n as u64 + 1) as u32;
                for cqe in &batch[..advance as usize] {
                    model.take(cqe);
                }
                assert_eq!(ring.advance(advance), advance, "{}", context("advance"));
            }
            _ => {
                if let Some(cqe) = ring.peek() {
                    model.take(&cqe);
                    ring.advance(1);
                }
            }
        }
        assert_eq!(ring.pending(), model.pending, "{}", context("pending"));
    }
    // Drain: everything pushed completes exactly once.
    ring.submit().unwrap();
    while model.seen.len() < model.pushed.len() {
        ring.wait(1).unwrap();
        let got: Vec<Cqe> = ring.completions().collect();
        for cqe in &got {
            model.take(cqe);
        }
    }
    assert_eq!(ring.ready(), 0);
    assert_eq!(ring.overflow(), 0);
}

#[test]
fn random_walks_keep_the_ring_and_the_model_in_step() {
    let _watch = uring_tests::watchdog();
    for (i, entries) in [1u32, 2, 4, 8, 16, 64].into_iter().enumerate() {
        for seed in 0..8u64 {
            walk(seed * 7919 + i as u64, entries, 600);
        }
    }
}
