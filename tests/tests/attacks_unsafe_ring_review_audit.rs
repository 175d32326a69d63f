//! A review of the `unsafe` blocks and `unsafe impl`s of the ring layer's
//! core (queues, entries, chains, buffer rings, mappings, ring memory,
//! scopes, registration, waits, submission), each `// SAFETY:` claim
//! checked against the code around it and the safe paths that reach it;
//! attacked here where the existing suites stop short: the copy of the CQ
//! that a scope sets aside (`VirtualCq`) on a ring of 32-byte CQEs, whose
//! readers clear the extra words of every slot they hand back
//! (`Cqe32::clear_read`, reached from `Cq::publish_head`), read one at a
//! time while completions join the copy behind them, through its growth
//! from a moved head and through laps of its buffer.
//! (`completions.rs` drives the copy's growth and wrap on 16-byte CQEs,
//! where nothing is cleared; no suite reads 32-byte completions from it.)
//!
//! Read against Linux 6.18: `io_uring/io_uring.c` (`io_fill_cqe_aux` and
//! `io_nop` with `IORING_NOP_CQE32`, which write the two extra words of a
//! 32-byte CQE; `io_cqe_cache_refill`, `io_cqring_overflow_flush`, which
//! hold completions back while the CQ is full and post them as it
//! empties), `io_uring/nop.c` and `include/uapi/linux/io_uring.h`
//! (`struct io_uring_cqe`'s `big_cqe[]`).
//!
//! Every test is safe code against the running kernel and checks what the
//! kernel posted: which completions come, once each, in which order, with
//! which extra words.
//!
//! # The blocks reviewed (file:line at the time of the review: verdict)
//!
//! `uring/src/cqueue.rs`
//! - 135, 143 (`to_bits`/`from_bits` transmutes), 150, 157 (`Cqe` views of
//!   `io_uring_cqe`): sound, 16 plain bytes, `repr(transparent)`.
//! - 205 `Cq::new`, 231 `flags`, 238 `tail`, 389 `published_head`, 419
//!   `overflow`: sound, offsets from the kernel, pointers into the live
//!   mapping (or the copy's `ends`).
//! - 308, 347 `skip_padding`/`scan_to` reads, 363 `read_slot`, 442 `run_to`,
//!   458 `read_at`, 470 `read`, 482 `write`: sound, positions between the
//!   head and an acquire-loaded tail; `run_to` clamps a tail before the
//!   head.
//! - 399-408 `publish_head` with `CLEARS_READ`: the claim "the slots from
//!   the head handed back to ours were read" was broken on the copy after
//!   it grew: `absorb` re-laid the copies from position 0 and pointed the
//!   view at head 0 (`view(0)`) but left the copy's published head
//!   (`ends[0]`) at the old numbering; the next hand-back cleared from
//!   that stale head to the new one, round the whole copy: unread 32-byte
//!   completions lost their extra words (memory stayed in bounds, the data
//!   was lost). `view(head)` now publishes `head` with the view (the two
//!   tests below).
//! - 545, 559, 566 `VirtualCq::view`/`tail`/`slot`, 597, 609, 613 growth
//!   and copies: sound for memory (boxed slices held by raw pointers, old
//!   buffer freed after the view moved), see above for the head.
//! - 640 `Drop for VirtualCq`: sound, each leaked box freed once.
//! - 700-881 `Completions::next`, `fold_walk`, `walk` and its `Unwind`
//!   guard: sound; the head moves before `f` runs, the guard hands back
//!   exactly what `f` was given on a panic (driven by
//!   `attacks_panics_gaps_audit.rs`, `completions.rs`, `attacks_recent.rs`).
//! - 894-1032: unit tests' fakes.
//!
//! `uring/src/squeue.rs`
//! - 110, 117 `Cursor::run`/`tail`: sound, `next <= run_end` inside the array.
//! - 128-180 `Sq::new`: sound, identity SQ array written once.
//! - 202, 251, 262, 278, 308, 318, 344, 350 head/tail/flags/dropped
//!   atomics: sound, in the SQ mapping; tail stored with release.
//! - 364-377 `write_wrapping`: sound; a panic in `write` leaves the tail
//!   unmoved (callers' `prepare_all` writes every slot; pushes of safe code
//!   build their SQEs before the call, nothing user-defined runs inside).
//! - 407-447 `VacantSqe`: sound; zeroed at hand-out, a forgotten one
//!   leaves the slot free (driven by `next_sqe.rs`).
//! - 499-654 `push`/`push_gated`/`push_linked_gated`: sound; room checked
//!   against a re-read head before any write, gate sees only written,
//!   unpublished slots; a forgotten batch loses only unsubmitted ring
//!   pushes (documented), a scope's batch syncs at each push.
//! - 687, 693 `gate_wrapped`: sound, masked, written, unpublished.
//! - 792-1003: unit tests' fakes.
//!
//! `uring/src/entries.rs`
//! - 75-100 `Sqe64::write` (four 16-byte words), 113-121 `Sqe128::write`
//!   (zeroes the 64 extra bytes): sound, every union member spans its
//!   union (SAFETY.md 12).
//! - 207-236 `Cqe16`/`Cqe32` reads and `clear_read`: sound for bounds
//!   (masked, `n` capped at the array); `clear_read`'s range is its
//!   callers' word, broken by the copy above.
//! - 251-282 `CqeMixed::read`: sound, reads the next slot of an entry the
//!   kernel published whole (forged `F_32`/`F_SKIP` driven by
//!   `attacks_forged_completions_gaps_audit.rs`).
//!
//! `uring/src/chain.rs` 122-504: the `Prepare`/`Submission`/`Scoped`/...
//! impls of `Link` and `Either` forward their parts' (sound); those of
//! `Linked` hold only under a bound nothing satisfies (sound).
//!
//! `uring/src/buf_ring.rs`
//! - 164 `Send for BufRing`: sound, `Buf` borrows it.
//! - 516, 564 `claim`/`claim_bundle`: sound under the scope's vouching and
//!   the `claimed` mark (heavily driven by the buffer-ring suites).
//! - 614-726 the `_unchecked` forms: caller's contract.
//! - 890 `buffer`, 913-934 `provide`: sound; a buffer is provided only when
//!   no `Buf` of it lives and the kernel let go of it; the tail is the
//!   first descriptor's `resv`.
//! - 1060-1112 `fcntl`, PBUF status/unregister calls: sound.
//! - 1171, 1175 `Send`/`Sync` for `Buf` under an unimplementable bound:
//!   sound. 1203, 1210 `Deref`/`DerefMut`: sound, bytes lent once.
//!
//! `uring/src/buf_ring_raw.rs` 107, 109 (`Send`/`Sync`), 286-330 (`add`,
//! `advance`): sound for what safe code reaches (`add` is `unsafe`).
//!
//! `uring/src/mmap.rs` 18, 63, 81, 93: sound (own mapping; `retire` keeps
//! the addresses reserved).
//!
//! `uring/src/wait.rs` 183 (slot pointer below `slots`), 345 (write of a
//! slot; its signal mask lives in `set`, a vector never grown after
//! registration), 413 (`sysconf`): sound. `submit.rs` 59: sound.
//!
//! `uring/src/ring/mod.rs` 126 `Send for Ring`: sound as argued (a scope
//! retracts SQEs an `EEXIST` enter refused: `attacks_threads_gaps_audit.rs`).
//! 412 `push_raw`, 474 `pending_sqes` (between head and tail), 708, 776
//! `close`: sound.
//!
//! `uring/src/ring/memory.rs` 88 setup, 157 `from_fd` (unsafe, contract),
//! 455 zeroing given memory, 740 adopted head/tail, 762 queues, 871, 926,
//! 955, 988, 1005: sound; a resize publishes the head first, so a forgotten
//! iterator's completions are not copied twice.
//!
//! `uring/src/ring/msg_target.rs` 102 (message SQE naming no memory), 118
//! (`Fd::borrow_raw` of the target's own duplicate): sound.
//!
//! `uring/src/scope/mod.rs` 347, 366 `settle_cq` (reads and rewrites the
//! foreign completions before the head it then hands back), 491, 499
//! `retract_scope` (no SQ thread, or a dead one), 1065, 1077 closing
//! descriptors of completions nobody read: sound; 366's hand-back reaches
//! the same stale copy head on a 32-byte CQ.
//!
//! `uring/src/scope/push.rs` 33-181 (`push_tagged`, `build_over`'s
//! higher-ranked slice, `unkeep_*`), 313, 397, 446 (union reads of plain
//! integers), 556, 569 (`OwnedPush`): sound.
//!
//! `uring/src/scope/completions.rs` 291, 350 (`take_fd`/`take_pipe`, taken
//! once), 424, 441, 444 (`ReturnedBuf`): sound.
//!
//! `uring/src/scope/table.rs` 132, 135 (`KeptClaim` `Send`/`Sync`: dropped
//! only on the thread that kept it), 153-182 (lifetime erasure undone
//! before the scope ends), 638-1267 (`owned_entry` indices the table
//! itself wrote, union reads): sound.
//!
//! `uring/src/register/buffers.rs` 67-404: `unsafe` registrations, the
//! caller's contract. `register/control.rs` 101, 135 (union reads), 421,
//! 427 (`cpu_set_t`): sound. `register/mod.rs` 77, 279: sound.
//! `register/files.rs`, `register/napi.rs`, `scope/key.rs`: no `unsafe`.

use std::collections::VecDeque;

use uring::ops::Nop;
use uring::{BigCqe, Builder, Cqe32, Features, Ring, Sqe64};
use uring_tests::skip;

/// The extra words the NOP of `user_data` `ud` asks the kernel to post.
fn words(ud: u64) -> [u64; 2] {
    [0xA5A5_0000_0000_0000 | ud, !ud]
}

/// Pushes `n` NOPs from `user_data` `from` on, each with its words.
fn big_nops(ring: &mut Ring<Sqe64, Cqe32>, from: u64, n: u64) {
    for ud in from..from + n {
        ring.push(Nop::new().user_data(ud).big_cqe(words(ud)))
            .unwrap();
    }
}

/// A completion's `user_data` and extra words.
fn shape(c: &BigCqe) -> (u64, [u64; 2]) {
    (c.user_data(), c.big_cqe())
}

/// What the NOPs of `uds` complete with.
fn shapes(uds: impl IntoIterator<Item = u64>) -> Vec<(u64, [u64; 2])> {
    uds.into_iter().map(|u| (u, words(u))).collect()
}

/// A ring of 32-byte CQEs (SQ and CQ of four) whose CQ a scope had to set
/// aside: four NOPs fill the CQ, then a scope's NOP completes into the
/// kernel's overflow list, and the scope's end moves the four into the
/// copy the ring reads first. `None` without `IORING_FEAT_NODROP`.
fn big_ring_reading_a_copy() -> Option<Ring<Sqe64, Cqe32>> {
    let mut ring = Builder::new()
        .cq_entries(4)
        .build_sized::<Sqe64, Cqe32>(4)
        .unwrap();
    assert_eq!(ring.cq_entries(), 4);
    if !ring.params().has(Features::NODROP) {
        skip("no IORING_FEAT_NODROP: no overflow list");
        return None;
    }
    big_nops(&mut ring, 100, 4);
    ring.submit_and_wait(4).unwrap();
    assert_eq!(ring.ready(), 4);
    if ring.peek().is_some_and(|c| c.res() == -libc::EINVAL) {
        skip("NOP takes no extra words (IORING_NOP_CQE32) on this kernel");
        return None;
    }
    ring.scope(|s| {
        s.push(Nop::new().user_data(1)).unwrap();
        s.submit().unwrap();
    });
    assert_eq!(ring.ready(), 4, "the four of the CQ, in the copy");
    Some(ring)
}

/// Reads one completion at a time from the copy, with three more posted
/// behind it after each read, `rounds` times. The scope's end left the
/// copy in a buffer of 8 slots, its head at 1 (the scope's own completion
/// came behind the four, and was settled); the third round's three do not
/// fit, and the copy is re-laid from position 0 in a buffer of 16 while
/// the head handed back stands at 4. Returns what is still to be read,
/// in order.
fn grow_the_copy_from_a_moved_head(ring: &mut Ring<Sqe64, Cqe32>, rounds: u32) -> VecDeque<u64> {
    let mut expected: VecDeque<u64> = (100..104).collect();
    let mut next = 200;
    for round in 0..rounds {
        let one: Vec<_> = ring.completions().take(1).map(|c| shape(&c)).collect();
        let want = expected.pop_front().unwrap();
        assert_eq!(one, shapes([want]), "round {round}");
        big_nops(ring, next, 3);
        expected.extend(next..next + 3);
        next += 3;
        ring.submit().unwrap();
        ring.wait(expected.len() as u32).unwrap();
        assert_eq!(ring.ready() as usize, expected.len(), "round {round}");
    }
    expected
}

/// The copy grows (third round) while its published head stands at 4, and
/// its new view reads from 0; the read of one completion in the fourth
/// round hands back head 1, and `Cqe32::clear_read` clears from the
/// published head to 1 (once from 4 to 1: round the whole buffer). The
/// completions still in the copy come out with the words their NOPs asked
/// for.
#[test]
fn a_grown_copy_of_a_32_byte_cq_keeps_the_words_of_unread_completions() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = big_ring_reading_a_copy() else {
        return;
    };
    let expected = grow_the_copy_from_a_moved_head(&mut ring, 4);
    let rest: Vec<_> = ring.completions().map(|c| shape(&c)).collect();
    assert_eq!(rest, shapes(expected));
}

/// The same growth, then the copy is peeked whole (every word there) and
/// one completion is passed with `advance`: the others must keep their
/// words.
#[test]
fn advance_over_a_grown_copy_of_a_32_byte_cq_clears_only_what_it_passed() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = big_ring_reading_a_copy() else {
        return;
    };
    let expected = grow_the_copy_from_a_moved_head(&mut ring, 3);
    let mut peeked = vec![BigCqe::default(); expected.len()];
    assert_eq!(ring.peek_batch(&mut peeked), expected.len());
    assert_eq!(
        peeked.iter().map(shape).collect::<Vec<_>>(),
        shapes(expected.iter().copied()),
        "the words are there before any head moves"
    );
    assert_eq!(ring.advance(1), 1);
    let n = ring.peek_batch(&mut peeked);
    assert_eq!(
        peeked[..n].iter().map(shape).collect::<Vec<_>>(),
        shapes(expected.iter().skip(1).copied()),
        "advancing past one completion changed only that one"
    );
}

/// The same copy read three at a time with three posted behind after each
/// read: its positions go round its buffer of 8 slots several times, the
/// published head in step, and every completion comes out once, in order,
/// with its own words; then the ring reads the kernel's CQ again.
#[test]
fn a_copy_of_a_32_byte_cq_that_wraps_its_buffer_keeps_every_word() {
    let _watch = uring_tests::watchdog();
    let Some(mut ring) = big_ring_reading_a_copy() else {
        return;
    };
    let mut expected: VecDeque<u64> = (100..104).collect();
    let mut next = 300;
    for round in 0..8 {
        let got: Vec<_> = ring.completions().take(3).map(|c| shape(&c)).collect();
        let want: Vec<u64> = expected.drain(..expected.len().min(3)).collect();
        assert_eq!(got, shapes(want), "round {round}");
        big_nops(&mut ring, next, 3);
        expected.extend(next..next + 3);
        next += 3;
        ring.submit().unwrap();
        ring.wait(expected.len() as u32).unwrap();
        let mut peeked = vec![BigCqe::default(); expected.len()];
        assert_eq!(
            ring.peek_batch(&mut peeked),
            expected.len(),
            "round {round}"
        );
        assert_eq!(
            peeked.iter().map(shape).collect::<Vec<_>>(),
            shapes(expected.iter().copied()),
            "round {round}"
        );
    }
    let rest: Vec<_> = ring.completions().map(|c| shape(&c)).collect();
    assert_eq!(rest, shapes(expected));
    big_nops(&mut ring, 900, 1);
    ring.submit_and_wait(1).unwrap();
    let back: Vec<_> = ring.completions().map(|c| shape(&c)).collect();
    assert_eq!(back, shapes([900]), "the kernel's CQ again");
}
