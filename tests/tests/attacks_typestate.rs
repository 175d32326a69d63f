//! Attacks on the typestate and op-declaration layer: the SQE flags byte
//! (`IOSQE_IO_LINK`, `IOSQE_IO_HARDLINK`, `IOSQE_FIXED_FILE`,
//! `IOSQE_BUFFER_SELECT`), link-timeout positions, and what a user crate
//! can do with an op table of its own (`uring::ops!`) beyond the fields its
//! `unsafe struct` entries vouch for.
//!
//! Every attack is safe code. `unsafe` appears only in the `unsafe struct`
//! of an op entry (the user vouching for the fields it maps, all of which
//! are fields the kernel ignores for the opcode or fills with the value it
//! expects) and to inspect SQEs, each with a `// SAFETY:` comment. Each
//! test asserts the safe outcome. The three on arguments named `link` and
//! `slot` failed before the generated code bound every argument to a name
//! of its own. What no longer compiles (a user op's `common` flags set by
//! hand, a `const` field that returns, safe impls of the chain traits, a
//! link timeout op without `#[after_link]`) is in the ui cases
//! `user_op_common_flags_by_hand`, `user_op_const_that_returns`,
//! `chain_traits_are_unsafe` and `user_link_timeout_without_after_link`.

use std::time::Duration;

use uring::ops::{LinkTimeout, Nop};
use uring::sys::{self, io_uring_sqe};
use uring::{Ring, SqeFlags};
use uring_tests::submit_and_reap;

/// The SQE flag bits a caller never sets: they follow from the op's type.
const TYPE_OWNED: u8 =
    sys::IOSQE_FIXED_FILE | sys::IOSQE_IO_LINK | sys::IOSQE_IO_HARDLINK | sys::IOSQE_BUFFER_SELECT;

/// A stand-in for a user's own `write` helper: any trait in scope whose
/// method is called `write` and takes `self`. (Never called: the generated
/// code no longer resolves its slot's `write` through an argument named
/// `slot`, which is what `an_argument_named_slot_still_writes_the_sqe`
/// checks with this trait in scope.)
#[allow(dead_code)]
trait Swallow {
    /// Does nothing with `sqe`.
    fn write(self, sqe: io_uring_sqe);
}

impl Swallow for u32 {
    fn write(self, sqe: io_uring_sqe) {
        let _ = sqe;
    }
}

// The user crate's own op table. Each entry maps only fields the kernel
// ignores for a plain NOP (`len`, `buf_index`) or reads as the plain number
// it is given (`len` as an injected result), so every vouch is true.
uring::ops! {
    /// A NOP and nothing else.
    #[since = "5.1"]
    unsafe struct PlainNop = NOP {}

    /// A NOP with an ignored byte, in `len`, under the argument name `link`.
    #[since = "5.1"]
    unsafe struct NamedLink = NOP {
        link: u8 => len,
    }

    /// A NOP that fails with `result`, with an ignored byte in `buf_index`
    /// under the argument name `link`.
    #[since = "6.10"]
    unsafe struct FailingNamedLink = NOP {
        link: u8 => buf_index,
        result: i32 => len,
        const nop_flags = sys::IORING_NOP_INJECT_RESULT,
    }

    /// A NOP with an ignored number, in `len`, under the argument name
    /// `slot`.
    #[since = "5.1"]
    unsafe struct NamedSlot = NOP {
        slot: u32 => len,
    }

}

/// The SQEs the ring holds for the next submit.
fn pending(ring: &mut Ring) -> Vec<io_uring_sqe> {
    ring.pending_sqes().collect()
}

/// Whether any SQE of `sqes` is a `LINK_TIMEOUT` that does not come right
/// after an SQE flagged `IOSQE_IO_LINK` or `IOSQE_IO_HARDLINK`, or that
/// follows another link timeout.
fn misplaced_link_timeout(sqes: &[io_uring_sqe]) -> bool {
    sqes.iter().enumerate().any(|(i, sqe)| {
        sqe.opcode == sys::IORING_OP_LINK_TIMEOUT
            && (i == 0
                || sqes[i - 1].flags & (sys::IOSQE_IO_LINK | sys::IOSQE_IO_HARDLINK) == 0
                || sqes[i - 1].opcode == sys::IORING_OP_LINK_TIMEOUT)
    })
}

// ---------------------------------------------------------------------
// Holes.
// ---------------------------------------------------------------------

/// `Entry::prepare` takes the chain's link flag as a parameter named
/// `link`, and destructures the op's arguments into bindings of their own
/// names before it writes `flags: common.flags | link`. An argument named
/// `link` (required, so not caught as a setter that would clash with
/// `.link()`) shadows the parameter: its value, which the entry vouched
/// only for `len`, becomes the SQE's flag bits. Pushed alone with
/// `IOSQE_IO_LINK`, it leaves a dangling link; in a chain, the real link
/// flag is lost.
#[test]
fn an_argument_named_link_sets_no_sqe_flag() {
    let mut ring = Ring::new(8).unwrap();
    ring.push(NamedLink::new(sys::IOSQE_IO_LINK | sys::IOSQE_FIXED_FILE).user_data(1))
        .unwrap();
    ring.push(NamedLink::new(0).user_data(2).link(Nop::new().user_data(3)))
        .unwrap();
    let sqes = pending(&mut ring);
    assert_eq!(sqes.len(), 3);
    assert_eq!(
        sqes[0].flags & TYPE_OWNED,
        0,
        "the last SQE of a push carries flag bits {:#x}",
        sqes[0].flags
    );
    assert_eq!(
        sqes[1].flags & sys::IOSQE_IO_LINK,
        sys::IOSQE_IO_LINK,
        "the head of a chain lost its link flag"
    );
}

/// The kernel's side of the hole above: the dangling `IOSQE_IO_LINK` of
/// one push links it to the op of the next push, which the kernel then
/// cancels when the first fails, although the two pushes knew nothing of
/// each other (they could be two scopes').
#[test]
fn a_push_never_links_to_the_next_push() {
    let mut ring = Ring::new(8).unwrap();
    if !uring_tests::require_kernel(6, 10, "IORING_NOP_INJECT_RESULT") {
        return;
    }
    ring.push(FailingNamedLink::new(sys::IOSQE_IO_LINK, -libc::EIO).user_data(1))
        .unwrap();
    // Another push, unrelated to the first.
    ring.push(Nop::new().user_data(2)).unwrap();
    let cqes = submit_and_reap(&mut ring, 2);
    let other = cqes.iter().find(|c| c.user_data() == 2).unwrap();
    assert_eq!(
        other.res(),
        0,
        "the next push's NOP was linked to the first push and cancelled"
    );
}

/// An argument named `slot` shadows `prepare`'s SQE slot, so the final
/// `slot.write(sqe)` calls the user's own `write` on the argument (any
/// trait in scope will do) and the reserved slot is never written; the
/// push still moves past it. The SQE published is whatever the slot held
/// before: here an earlier chain's head, with its `IOSQE_IO_LINK` and its
/// `user_data`.
#[test]
fn an_argument_named_slot_still_writes_the_sqe() {
    let mut ring = Ring::new(2).unwrap();
    ring.push(Nop::new().user_data(7).link(Nop::new().user_data(8)))
        .unwrap();
    submit_and_reap(&mut ring, 2);
    ring.push(NamedSlot::new(0).user_data(9)).unwrap();
    let sqes = pending(&mut ring);
    assert_eq!(sqes.len(), 1);
    assert_eq!(
        (sqes[0].user_data, sqes[0].flags),
        (9, 0),
        "the pushed SQE is an old one"
    );
}

/// The chains the typestate allows end without a link flag, whatever their
/// shape: nested chains, chains linked after chains, hard links, link
/// timeouts in the middle and at the end.
#[test]
fn every_chain_ends_without_a_link_flag() {
    let mut ring = Ring::new(64).unwrap();
    let inner = Nop::new()
        .hard_link(Nop::new())
        .timeout(Duration::from_secs(5));
    let chain = Nop::new()
        .link(inner)
        .hard_link(PlainNop::new().link(Nop::new()))
        .link_timeout(LinkTimeout::new(Duration::from_secs(5)));
    ring.push(chain).unwrap();
    ring.push(Nop::new().hard_link(Nop::new().timeout(Duration::from_secs(5))))
        .unwrap();
    let sqes = pending(&mut ring);
    assert_eq!(sqes.len(), 10);
    for end in [6, 9] {
        assert_eq!(sqes[end].flags & TYPE_OWNED, 0, "SQE {end}");
    }
    for (i, sqe) in sqes.iter().enumerate() {
        if i != 6 && i != 9 {
            assert_ne!(
                sqe.flags & (sys::IOSQE_IO_LINK | sys::IOSQE_IO_HARDLINK),
                0,
                "SQE {i} inside a chain"
            );
        }
    }
    assert!(!misplaced_link_timeout(&sqes));
    submit_and_reap(&mut ring, 10);
}

/// A chain longer than the SQ is refused whole, and one that does not fit
/// what is left is refused without writing any of it.
#[test]
fn a_chain_longer_than_the_sq_is_refused_whole() {
    let mut ring = Ring::new(4).unwrap();
    let five = Nop::new()
        .link(Nop::new())
        .link(Nop::new())
        .link(Nop::new())
        .link(Nop::new());
    assert!(ring.push(five).is_err());
    assert_eq!(ring.pending(), 0);
    ring.push(Nop::new().user_data(1).link(Nop::new().user_data(2)))
        .unwrap();
    let three = Nop::new().link(Nop::new()).link(Nop::new());
    assert!(ring.push(three).is_err());
    let sqes = pending(&mut ring);
    assert_eq!(sqes.len(), 2);
    assert_eq!(sqes[1].flags & TYPE_OWNED, 0);
    submit_and_reap(&mut ring, 2);
}

/// `.flags(..)` takes `IntoSqeFlags`, a safe trait a user may implement for
/// its own type; but the only `SqeFlags` safe code can build are the named
/// ones and their unions, so no impl yields a type-owned bit.
#[test]
fn a_user_into_sqe_flags_yields_only_settable_bits() {
    struct Every;
    impl uring::op::IntoSqeFlags for Every {
        fn into_sqe_flags(self) -> SqeFlags {
            SqeFlags::IO_DRAIN
                | SqeFlags::ASYNC
                | SqeFlags::CQE_SKIP_SUCCESS
                | SqeFlags::EMPTY
                | SqeFlags::default()
        }
    }
    let mut ring = Ring::new(4).unwrap();
    ring.push(Nop::new().flags(Every)).unwrap();
    ring.push(PlainNop::new().flags(Every)).unwrap();
    for sqe in pending(&mut ring) {
        assert_eq!(sqe.flags & TYPE_OWNED, 0);
    }
}
